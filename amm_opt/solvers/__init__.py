"""Registry of backends and the automatic choice rule.

Adding a backend = one module under ``amm_opt/solvers`` + one entry in ``_ENTRIES``. Modules are
imported only when a backend is looked up, and they import their heavy dependencies (cvxpy, POT,
torch) lazily inside ``solve``.
"""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import OptionError, UnknownBackendError
from ..problem import Problem
from .base import Solver

__all__ = ["AUTO_RULE", "SOLVERS", "Solver", "available_backends", "choose_backend",
           "choose_upper_backend", "get_solver_class", "make_solver"]

# name -> "module:Class" (order = listing order in `amm-opt backends`)
_ENTRIES: dict[str, str] = {
    "separate": "amm_opt.solvers.separate:Separate",
    "rochetnet": "amm_opt.solvers.rochetnet:RochetNet",
    "ot_dual": "amm_opt.solvers.ot_dual:OTDual",
    "grid_lp": "amm_opt.solvers.grid_lp:GridLP",
}

SOLVERS: tuple[str, ...] = tuple(_ENTRIES)


def get_solver_class(name: str) -> type[Solver]:
    """The solver class registered under ``name`` (case-insensitive)."""
    if not isinstance(name, str):
        raise UnknownBackendError("must be a backend name or a solver instance", field="backend",
                                  value=name, allowed=", ".join(_ENTRIES))
    key = name.strip().lower().replace("-", "_")
    target = _ENTRIES.get(key)
    if target is None:
        raise UnknownBackendError("is not a known backend", field="backend", value=name,
                                  allowed=", ".join(_ENTRIES))
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def available_backends() -> dict[str, tuple[bool, str]]:
    """``{name: (usable, reason or install hint)}`` for every registered backend."""
    return {name: get_solver_class(name).availability() for name in _ENTRIES}


# Automatic choice for ``solve(problem, backend=None)``. The README's backend table states the
# same rule; tests/test_validation.py checks each branch.
AUTO_RULE = (
    "menu engine: grid_lp when the values have a density and goods <= 2 (a menu and a certified "
    "upper bound); otherwise rochetnet (sample-only values or more goods: it learns a menu from "
    "samples); otherwise separate (each good at its optimal bid-ask, always available). "
    "Upper bound: when the menu engine certifies none and the values have a density with "
    "goods <= 3, ot_dual adds its transport bound (grid 64 per axis for 1-2 goods, 24 for 3 goods, "
    "a few seconds); the bracket is then checked (lower <= upper).")
_GRID_LP_MAX_GOODS = 2
_OT_MAX_GOODS = 3
# Grid per axis of the automatic transport bound: 64^2 takes ~1 s and is within ~2% on R2;
# 24^3 takes a few seconds on 3 goods (32^3 already ~10x longer), where the bound is loose.
_OT_AUTO_GRID = {1: 64, 2: 64, 3: 24}


def _usable() -> set[str]:
    return {name for name, (ok, _) in available_backends().items() if ok}


def choose_backend(problem: Problem) -> tuple[str, str]:
    """Pick the menu engine for ``problem`` by :data:`AUTO_RULE`; returns ``(name, reason)``."""
    usable = _usable()
    if problem.has_density and problem.goods <= _GRID_LP_MAX_GOODS and "grid_lp" in usable:
        return "grid_lp", (f"density available and goods = {problem.goods} <= "
                           f"{_GRID_LP_MAX_GOODS}: the grid LP gives a menu and a certified bound")
    if "rochetnet" in usable:
        if not problem.has_density:
            why = "sample-only values (grids need a density)"
        elif problem.goods > _GRID_LP_MAX_GOODS:
            why = f"{problem.goods} goods (grids do not scale past {_GRID_LP_MAX_GOODS})"
        else:
            why = "the grid LP is not installed"
        return "rochetnet", f"{why}: RochetNet learns a menu"
    return "separate", ("no engine for joint menus is usable here (install amm-opt[lp] or "
                        "amm-opt[torch]); selling each good separately always works")


def choose_upper_backend(problem: Problem, menu_backend: str
                         ) -> tuple[str | None, dict[str, Any], str]:
    """The engine that adds an upper bound to ``menu_backend``'s result, by :data:`AUTO_RULE`.

    Returns ``(name or None, options, reason)``.
    """
    cls = get_solver_class(menu_backend)
    if cls.provides_upper:
        return None, {}, f"{menu_backend} certifies its own upper bound"
    if not problem.has_density:
        return None, {}, "no upper bound: transport bounds need a density, the values are samples"
    if problem.goods > _OT_MAX_GOODS:
        return None, {}, (f"no upper bound: {problem.goods} goods > {_OT_MAX_GOODS}, grids "
                          "do not scale")
    if "ot_dual" not in _usable():
        return None, {}, "no upper bound: ot_dual is not installed (pip install 'amm-opt[ot]')"
    grid = _OT_AUTO_GRID[problem.goods]
    return "ot_dual", {"grid": grid}, (f"{menu_backend} gives no upper bound; ot_dual adds the "
                                       f"transport bound on a {grid}-per-axis grid")


def make_solver(backend: str | Solver | None, problem: Problem,
                **options: Any) -> tuple[Solver, str]:
    """Resolve ``backend`` (name, instance or None) to a configured solver and a choice reason."""
    if isinstance(backend, Solver):
        if options:
            raise OptionError("options cannot be combined with a configured solver instance",
                              field="options", value=sorted(options),
                              allowed="set them on the instance instead")
        solver, reason = backend, "given as an instance"
    else:
        if backend is None:
            name, reason = choose_backend(problem)
        else:
            name, reason = str(backend), "requested by name"
        cls = get_solver_class(name)
        cls.require_available()
        solver = cls.from_options(**options)
    solver.check_problem(problem)
    return solver, reason

