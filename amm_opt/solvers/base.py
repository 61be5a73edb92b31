"""The solver base class every backend derives from.

A backend is a frozen dataclass whose fields are its options. It declares the Python modules it
needs (checked with ``importlib.util.find_spec``, so nothing heavy is imported to list backends),
the extra that installs them, and what it provides (a menu, an upper bound, or both).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..errors import BackendUnavailableError, OptionError, UnsupportedProblemError
from ..evaluate import Evaluation, evaluate
from ..menu import Menu
from ..options import Grid, Rule, check_options, grid_setting
from ..problem import Problem
from ..result import Bounds, Result, Status

__all__ = ["Solver", "finishing_seconds", "menu_result", "progress_bar"]


@dataclasses.dataclass(frozen=True)
class Solver(ABC):
    """Base class of backends. Subclasses are frozen dataclasses; their fields are the options."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None
    provides_menu: ClassVar[bool] = True
    provides_upper: ClassVar[bool] = False
    needs_density: ClassVar[bool] = False
    #: Why the backend needs the linear update ``(1 - lambda) c + lambda v`` (None: any rule).
    linear_update_only: ClassVar[str | None] = None
    #: Whether the backend handles a belief ``c`` outside the value box ``V`` (MATH.md §9).
    supports_belief_outside_values: ClassVar[bool] = False
    #: Whether the backend handles an allocation set given as a Polytope (not a box).
    supports_polytope_allocation: ClassVar[bool] = False
    #: What each option may hold (:mod:`amm_opt.options`), checked when the solver is made.
    option_rules: ClassVar[dict[str, Rule]] = {}

    def __post_init__(self) -> None:
        check_options(self, self.option_rules)

    # ------------------------------------------------------------------ availability
    @classmethod
    def missing_modules(cls) -> list[str]:
        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    @classmethod
    def availability(cls) -> tuple[bool, str]:
        """``(usable, why)``; subclasses with licences (MOSEK) refine this."""
        missing = cls.missing_modules()
        if missing:
            hint = f"pip install 'amm-opt[{cls.extra}]'" if cls.extra else "pip install " + \
                " ".join(missing)
            return False, f"missing {', '.join(missing)}: {hint}"
        return True, "installed"

    @classmethod
    def is_available(cls) -> bool:
        return cls.availability()[0]

    @classmethod
    def require_available(cls) -> None:
        usable, why = cls.availability()
        if not usable:
            raise BackendUnavailableError("is not usable here", field=f"backend {cls.name!r}",
                                          value=why, allowed=why)

    # ------------------------------------------------------------------ options
    @classmethod
    def option_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.init]

    @classmethod
    def from_options(cls, **options: Any) -> Solver:
        """Instantiate; unknown option names raise :class:`OptionError` listing the valid ones."""
        valid = cls.option_names()
        unknown = sorted(set(options) - set(valid))
        if unknown:
            raise OptionError("unknown option(s)", field=f"backend {cls.name!r}", value=unknown,
                              allowed=", ".join(valid) if valid else "no options")
        return cls(**options)

    def settings(self) -> dict[str, Any]:
        """The option values, JSON-friendly."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            val = getattr(self, f.name)
            if isinstance(self.option_rules.get(f.name), Grid):
                out[f.name] = grid_setting(val)
            elif isinstance(val, (int, float, str, bool, type(None))):
                out[f.name] = val
            elif isinstance(val, tuple) and all(isinstance(v, str) for v in val):
                out[f.name] = list(val)
            else:
                out[f.name] = repr(val)
        return out

    # ------------------------------------------------------------------ solving
    @classmethod
    def capability_refusal(cls, problem: Problem) -> UnsupportedProblemError | None:
        """The error refusing ``problem`` by the capability flags (None: supported); the auto
        rule can skip a backend with it before making one."""
        if not cls.supports_polytope_allocation and not problem.allocation_is_box:
            return UnsupportedProblemError(
                "supports box allocation sets only, not a polytope",
                field=f"backend {cls.name!r}", value=problem.allocation,
                allowed="backend='rochetnet' for polytope sets, or allocation=(low, high)")
        if not cls.supports_belief_outside_values and not problem.belief_inside_values:
            return UnsupportedProblemError(
                "needs the belief inside the value box", field=f"backend {cls.name!r}",
                value=np.asarray(problem.belief).tolist(),
                allowed=f"belief within {problem.value_low.tolist()} .. "
                        f"{problem.value_high.tolist()}, or backend='rochetnet' or 'separate'")
        return None

    def check_problem(self, problem: Problem) -> None:
        """Raise :class:`UnsupportedProblemError` if this backend cannot handle ``problem``."""
        refusal = self.capability_refusal(problem)
        if refusal is not None:
            raise refusal
        if self.needs_density and not problem.has_density:
            raise UnsupportedProblemError(
                "needs a distribution with a density, but the problem has only samples",
                field=f"backend {self.name!r}", value=problem.values,
                allowed="backend='rochetnet' or 'separate' for sample-only problems")
        if self.linear_update_only and not problem.linear_update:
            raise UnsupportedProblemError(
                f"{self.linear_update_only}: it needs the linear update (1 - lambda) c + lambda v",
                field="update", value=problem.update,
                allowed="update=None with adverse_selection, or backend='rochetnet' for custom "
                        "rules")

    def solve(self, problem: Problem) -> Result:
        """Run the backend on ``problem``: check it, :meth:`compute`, time it.

        Every engine's result leaves here with ``solve_seconds`` set (the wall time of
        :meth:`compute`) and a ``message`` (the status text when the engine gave none).
        """
        self.check_problem(problem)
        start = time.perf_counter()
        result = self.compute(problem)
        if result.menu is not None and result.profit is not None and result.profit < 0:
            result = _no_trade_instead(problem, result)
        seconds = time.perf_counter() - start
        return dataclasses.replace(result, solve_seconds=seconds,
                                   message=result.message or result.status.message)

    @abstractmethod
    def compute(self, problem: Problem) -> Result:
        """The engine itself (``problem`` already checked); callers use :meth:`solve`."""


def finishing_seconds(time_limit: float | None, remaining: float) -> float | None:
    """Seconds a run with ``time_limit`` may still spend on finishing work (polishing) when
    ``remaining`` seconds of it are left (None: no limit).

    A time limit is kept to within ``max(10%, 2 s)``: finishing work gets what is left, but at
    least ``min(10%, max(5%, 1 s))`` of the limit (it may run after the main work used
    everything), which leaves the other half of the allowance for the final evaluation.
    """
    if time_limit is None:
        return None
    t = float(time_limit)
    return max(remaining, min(0.1 * t, max(0.05 * t, 1.0)))


def _no_trade_instead(problem: Problem, result: Result) -> Result:
    """A menu that earns less than no trade is never the answer: offering nothing earns exactly
    0, a better (and exact) lower bound. The engine's menu is described in ``stats``."""
    no_trade = Menu(np.zeros((0, problem.goods)), np.zeros(0))
    ev = evaluate(problem, no_trade)
    rejected = {"profit": result.profit, "stderr": result.bounds.lower_stderr,
                "items": result.menu.size if result.menu is not None else 0,
                "status": result.status.value}
    status = Status.INACCURATE if result.status is Status.OPTIMAL else result.status
    message = (f"the engine's menu earned {result.profit:.6g} < 0, worse than no trade; the "
               f"no-trade menu is returned instead ({result.message or result.status.message})")
    bounds = dataclasses.replace(result.bounds, lower=float(ev.profit), lower_method=ev.method,
                                 lower_stderr=ev.stderr)
    return dataclasses.replace(result, menu=no_trade, profit=float(ev.profit), bounds=bounds,
                               status=status, message=message, evaluation=ev,
                               stats={**result.stats, "rejected_menu": rejected})


def progress_bar(show: bool | None, **bar: Any) -> Any:
    """A tqdm bar (``bar`` its arguments), or None: ``show`` False, tqdm missing (progress is
    optional), or ``show`` None while stderr is not a terminal."""
    if show is False:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    import sys

    if show is None and not sys.stderr.isatty():
        return None
    return tqdm(leave=False, **bar)


def menu_result(problem: Problem, menu: Menu, backend: str, status: Status,
                stats: dict[str, Any], *, upper: float | None = None,
                upper_method: str = "", message: str = "",
                evaluate_options: dict[str, Any] | None = None,
                evaluation: Evaluation | None = None) -> Result:
    """Evaluate ``menu`` (the lower bound) and package a :class:`Result`; ``evaluation``, when
    given, is ``menu``'s evaluation already made (not repeated)."""
    start = time.perf_counter()
    ev = evaluation if evaluation is not None else \
        evaluate(problem, menu, **(evaluate_options or {}))
    stats = dict(stats)
    stats["evaluate_seconds"] = time.perf_counter() - start
    bounds = Bounds(lower=ev.profit, upper=upper, lower_method=ev.method,
                    upper_method=upper_method, lower_stderr=ev.stderr)
    return Result(menu=menu, profit=ev.profit, bounds=bounds, status=status, backend=backend,
                  message=message, stats=stats, evaluation=ev)
