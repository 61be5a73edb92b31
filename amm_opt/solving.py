"""``solve(problem, backend=...)``: one entry point for every engine."""

from __future__ import annotations

import time
import warnings
from dataclasses import replace
from typing import Any

from .errors import (
    AmmOptError,
    AmmOptWarning,
    InaccurateSolutionWarning,
    OptionError,
    SolverFailedError,
)
from .handoff import hand_off_menu
from .problem import Problem
from .result import Bounds, Result, Status, bracket_slack

__all__ = ["solve"]

# Bound engines whose menu may replace the menu engine's (:mod:`amm_opt.handoff`): the grid LP's
# menu is a menu of the density, evaluated like any other.
_HANDOFF_FROM = ("grid_lp",)



def solve(problem: Problem, backend: Any = None, *, check: bool = True, **options: Any) -> Result:
    r"""Design a menu and/or bound the optimal profit of ``problem``.

    .. math::

        \max_{u \in U} \int_V \big[(1-\lambda)\nabla u(v)\cdot(v-c) - u(v)\big] f(v)\,dv

    Parameters
    ----------
    problem : Problem
    backend : str, Solver or None
        A registered name (case-insensitive; ``amm-opt backends`` lists them), a configured solver
        instance, or None for the automatic choice (:data:`amm_opt.solvers.AUTO_RULE`): the menu
        engine is ``grid_lp`` for a density and at most two goods, else ``rochetnet``, else
        ``separate``; when it certifies no upper bound and the values have a density with at most
        three goods, ``ot_dual`` adds one. Recorded in ``Result.stats['backend_choice']`` and
        explained in ``Result.stats['auto_choice']``; ``**options`` go to the menu engine.
    check : bool
        Verify the menu fits the problem and that ``bounds.lower <= bounds.upper`` within the
        lower bound's error; a violation raises :class:`SolverFailedError`.
    **options
        The backend's options (its dataclass fields); unknown names raise :class:`OptionError`.

    Returns
    -------
    Result
        Inaccurate results warn (:class:`InaccurateSolutionWarning`); failed ones raise.

    Examples
    --------
    >>> from amm_opt import Problem, Uniform, solve
    >>> res = solve(Problem(goods=1, values=Uniform(0, 1), belief=0.5), backend="separate")
    >>> round(res.profit, 9)
    0.125
    """
    from .solvers import make_solver

    if not isinstance(problem, Problem):
        raise OptionError("must be a Problem", field="problem", value=problem,
                          allowed="amm_opt.Problem(...)")
    solver, reason = make_solver(backend, problem, **options)
    result = solver.solve(problem)
    fallbacks: list[dict[str, Any]] = []
    if backend is None and result.menu is None:
        result, solver, reason, fallbacks = _next_menu_engine(problem, result, solver, reason)
    stats = dict(result.stats)
    stats["backend_choice"] = {"backend": solver.name, "reason": reason,
                               "automatic": backend is None}
    if fallbacks:
        stats["backend_choice"]["fallbacks"] = fallbacks
    bounds, upper = result.bounds, None
    if backend is None and result.status.usable:
        bounds, stats["auto_choice"], upper = _auto_upper(problem, solver.name, reason, bounds)
    result = replace(result, bounds=bounds, stats=stats)
    if upper is not None and upper.backend in _HANDOFF_FROM:
        result, handoff = hand_off_menu(problem, result, upper)
        if handoff is not None:
            stats["auto_choice"]["menu_handoff"] = handoff
    if result.status is Status.FAILED or result.status is Status.INFEASIBLE:
        raise SolverFailedError(result.status.message, field=f"backend {solver.name!r}",
                                value=result.message or result.status.value,
                                allowed="see Result.stats; try another lp_solver or backend")
    if result.status is not Status.OPTIMAL:
        warnings.warn(f"{solver.name}: {result.status.message}", InaccurateSolutionWarning,
                      stacklevel=2)
    if check:
        _check(problem, result)
    return result


def _next_menu_engine(problem: Problem, result: Result, solver: Any, reason: str
                      ) -> tuple[Result, Any, str, list[dict[str, Any]]]:
    """The automatic choice's engine ended without a menu (e.g. the grid LP's first LP hit its
    time limit): try the next menu engine of the rule, recording why each one was left."""
    from .solvers import make_solver, menu_candidates

    fallbacks: list[dict[str, Any]] = []
    names = [name for name, _, _ in menu_candidates(problem)]
    for name, why, rule_options in menu_candidates(problem)[names.index(solver.name) + 1:] \
            if solver.name in names else []:
        fallbacks.append({"backend": solver.name, "status": result.status.value,
                          "message": result.message, "why": "ended without a menu"})
        warnings.warn(f"{solver.name} ended without a menu ({result.status.value}); the "
                      f"automatic choice falls back to {name}", InaccurateSolutionWarning,
                      stacklevel=3)
        try:
            # only the rule's options: the user's were meant for the first engine
            next_solver, _ = make_solver(name, problem, **rule_options)
        except AmmOptError:
            continue
        next_result = next_solver.solve(problem)
        solver, result, reason = next_solver, next_result, why
        if result.menu is not None:
            break
    return result, solver, reason, fallbacks


def _auto_upper(problem: Problem, menu_backend: str, menu_reason: str,
                bounds: Bounds) -> tuple[Bounds, dict[str, Any], Result | None]:
    """Add the automatic rule's upper bound to ``bounds``; explain every step; the bound
    engine's result (None when no engine gave a bound).

    The candidates of :func:`~amm_opt.solvers.upper_candidates` are tried best first; one that
    fails or ends without a usable bound is recorded (``upper_attempts``) and the next is tried.
    A failing bound engine never costs the user the menu: its error is recorded, not raised.
    """
    from .solvers import AUTO_RULE, upper_candidates

    candidates, why = upper_candidates(problem, menu_backend)
    first = candidates[0] if candidates else (None, {}, why)
    info: dict[str, Any] = {"rule": AUTO_RULE, "menu_backend": menu_backend,
                            "menu_reason": menu_reason, "upper_backend": first[0],
                            "upper_reason": first[2], "upper_options": first[1]}
    if not candidates or bounds.upper is not None:
        return bounds, info, None
    attempts: list[dict[str, Any]] = []
    for name, options, reason in candidates:
        attempt: dict[str, Any] = {"backend": name, "options": options, "reason": reason}
        attempts.append(attempt)
        upper, error = _try_upper(problem, name, options, attempt)
        if upper is not None:
            info.update(upper_backend=name, upper_reason=reason, upper_options=options,
                        upper_seconds=attempt["seconds"], upper_status=attempt["status"])
            if "warnings" in attempt:
                info["upper_warnings"] = attempt["warnings"]
            if len(attempts) > 1:
                info["upper_attempts"] = attempts
            return replace(bounds, upper=upper.bounds.upper,
                           upper_method=f"{name}: {upper.bounds.upper_method}"), info, upper
        attempt["error"] = error
    info["upper_error"] = attempts[0]["error"] if len(attempts) == 1 else \
        "; ".join(f"{a['backend']}: {a['error']}" for a in attempts)
    if len(attempts) > 1:
        info["upper_attempts"] = attempts
    return bounds, info, None


def _try_upper(problem: Problem, name: str, options: dict[str, Any],
               attempt: dict[str, Any]) -> tuple[Result | None, str]:
    """Run one bound engine; ``(result, "")`` with a usable bound, else ``(None, why)``."""
    from .solvers import make_solver

    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            upper_solver, _ = make_solver(name, problem, **options)
            upper = upper_solver.solve(problem)
    except AmmOptError as exc:
        attempt["seconds"] = time.perf_counter() - start
        return None, f"{type(exc).__name__}: {exc}"
    attempt["seconds"] = time.perf_counter() - start
    attempt["status"] = upper.status.value
    if caught:
        attempt["warnings"] = [str(w.message) for w in caught]
    if not upper.status.usable or upper.bounds.upper is None:
        return None, f"{name} finished {upper.status.value} without a usable bound"
    return upper, ""


def _check(problem: Problem, result: Result) -> None:
    if result.menu is not None:
        result.menu.check_fits(problem)
    lo, hi = result.bounds.lower, result.bounds.upper
    if lo is not None and hi is not None:
        slack = bracket_slack(result.bounds.lower_stderr, hi)
        if lo > hi + slack and result.bounds.upper_kind == "statistical":
            # A statistical bound misses with probability up to 1 - its level: not a wrong
            # number of an engine, but the user must see it.
            warnings.warn(f"the evaluated profit {lo:.8g} is above the statistical upper bound "
                          f"{hi:.8g} (level {result.bounds.upper_confidence}): a statistical "
                          "miss; the bound is not certified", AmmOptWarning, stacklevel=3)
        elif lo > hi + slack:
            raise SolverFailedError(
                "the evaluated profit exceeds the certified upper bound: one of them is wrong",
                field=f"backend {result.backend!r}", value={"lower": lo, "upper": hi},
                allowed="lower <= upper; please report this with the problem")
