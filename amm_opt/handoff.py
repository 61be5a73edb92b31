r"""The automatic rule's menu hand-off: the bound engine's menu, fine-tuned, when it is better.

From four goods the automatic rule learns the menu with RochetNet and certifies the bound with
the grid LP folded on the symmetry group. That LP also yields a menu, the tangent planes of its
solution (:func:`~amm_opt.solvers.grid_lp.orbit_stage.orbit_menu`), and on a fine grid it is
often *better* than the learned one: AMM-4 at grid 32 earns 0.60921 against RochetNet's 0.60862
from 4 000 cold steps. Training RochetNet for a few hundred steps from that menu
(``initial_menu``) smooths what the grid imposed and raised it to 0.60954 in 5 s, the difference
between a 1.04% and a 0.985% certified gap (BENCHMARKS.md, issue 17).

Of the candidates (the menu engine's menu, the bound engine's menu, and the fine-tuned one) the
one of highest estimated profit is kept. Picking the largest of noisy estimates biases that
estimate upwards, so the chosen menu is evaluated again with a fresh QMC seed, and that
independent estimate is the reported lower bound (exact evaluations need no second look).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace
from typing import Any

from .errors import AmmOptError
from .evaluate import evaluate
from .menu import Menu
from .problem import Problem
from .result import Result

__all__ = ["FINE_TUNE_OPTIONS", "fine_tune", "hand_off_menu"]

# RochetNet's schedule from a given menu: a small learning rate keeps the start's structure (the
# default 1e-2 first undoes it), and 300 steps took 5 s on AMM-4 with 82 items.
FINE_TUNE_OPTIONS: dict[str, Any] = {"steps": 300, "lr": 1e-3, "lr_final": 1e-4}
# At least this many trainable items, so that the fine-tune can also add items.
_MIN_MENU_SIZE = 128
# Seed of the re-evaluation of the chosen menu (the candidates were estimated with seed 0).
_FRESH_SEED = 1


def hand_off_menu(problem: Problem, result: Result, upper: Result | None
                  ) -> tuple[Result, dict[str, Any] | None]:
    """``result`` with the best of its menu, ``upper``'s menu and that menu fine-tuned by
    RochetNet (module docstring); the second value records what was tried (None: nothing,
    because ``upper`` brought no menu better than ``result``'s)."""
    if upper is None or upper.menu is None or result.menu is None or \
            upper.bounds.lower is None or result.bounds.lower is None or \
            upper.bounds.lower <= result.bounds.lower:
        return result, None
    start = time.perf_counter()
    candidates: list[tuple[str, Menu, float]] = [
        (result.backend, result.menu, float(result.bounds.lower)),
        (upper.backend, upper.menu, float(upper.bounds.lower))]
    info: dict[str, Any] = {"menus": {}}
    tuned, why = fine_tune(problem, upper.menu)
    if tuned is not None and tuned.bounds.lower is not None:
        candidates.append((f"{upper.backend} menu fine-tuned by rochetnet", tuned.menu,
                           float(tuned.bounds.lower)))
    else:
        info["fine_tune_error"] = why
    for name, _, profit in candidates:
        info["menus"][name] = profit
    name, menu, _ = max(candidates, key=lambda c: c[2])
    info["chosen"] = name
    if name == result.backend:
        info["seconds"] = time.perf_counter() - start
        return result, info
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ev = evaluate(problem, menu, seed=_FRESH_SEED)
    info["seconds"] = time.perf_counter() - start
    info["reported"] = "a fresh evaluation of the chosen menu (seed 1)"
    bounds = replace(result.bounds, lower=ev.profit, lower_method=ev.method,
                     lower_stderr=ev.stderr)
    return replace(result, menu=menu, profit=ev.profit, bounds=bounds, evaluation=ev), info


def fine_tune(problem: Problem, menu: Menu) -> tuple[Result | None, str]:
    """RochetNet from ``menu`` (:data:`FINE_TUNE_OPTIONS`, at least 128 items); ``(None, why)``
    if it cannot run (e.g. torch missing, or more items than RochetNet's ``menu_size`` allows)."""
    from .solvers import make_solver

    try:
        solver, _ = make_solver("rochetnet", problem, initial_menu=menu,
                                menu_size=max(_MIN_MENU_SIZE, menu.size), **FINE_TUNE_OPTIONS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tuned = solver.solve(problem)
    except AmmOptError as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if not tuned.status.usable or tuned.menu is None:
        return None, f"rochetnet finished {tuned.status.value}"
    return tuned, ""
