"""What ``solve`` returns: the menu, its evaluated profit, certified bounds and solver status."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .statistical import bound_kind, parse_statistical

if TYPE_CHECKING:
    from .certificates import Certificate
    from .evaluate import Evaluation
    from .menu import Menu

__all__ = ["BRACKET_RTOL", "BRACKET_SIGMAS", "Bounds", "Result", "Status", "bracket_slack",
           "status_from_table"]

# A lower bound exceeds an upper one "beyond round-off" when the difference is more than this
# many standard errors of the lower bound (Monte-Carlo or quadrature; a false alarm from a
# Gaussian error has probability < 1e-4) plus a relative 1e-9: exact evaluation and the engines'
# certified numbers agree to ~1e-15 relative when both are tight (R1, R3), so 1e-9 leaves ample
# room for round-off while any real error (a wrong sign, a missing term) is far larger.
BRACKET_SIGMAS = 4.0
BRACKET_RTOL = 1e-9


def bracket_slack(stderr: float, scale: float) -> float:
    """How far a lower bound with standard error ``stderr`` may exceed an upper bound of size
    ``scale`` before the two contradict each other (the one tolerance of every bracket check)."""
    return BRACKET_SIGMAS * stderr + BRACKET_RTOL * (1.0 + abs(scale))


class Status(enum.Enum):
    """Outcome of a solver run. ``ok`` says whether its numbers can be used as reported."""

    OPTIMAL = "optimal"
    INACCURATE = "inaccurate"
    ITERATION_LIMIT = "iteration_limit"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    FAILED = "failed"

    @property
    def message(self) -> str:
        return _MESSAGES[self]

    @property
    def ok(self) -> bool:
        return self is Status.OPTIMAL

    @property
    def usable(self) -> bool:
        """Whether the result carries valid (if possibly loose) bounds."""
        return self in (Status.OPTIMAL, Status.INACCURATE, Status.ITERATION_LIMIT,
                        Status.TIME_LIMIT)


_MESSAGES = {
    Status.OPTIMAL: "the backend solved its optimisation problem to its tolerance",
    Status.INACCURATE: "the solver stopped with reduced accuracy; certified bounds remain valid",
    Status.ITERATION_LIMIT: "the iteration limit was reached; bounds hold but may be loose",
    Status.TIME_LIMIT: "the time limit was reached; bounds hold but may be loose",
    Status.INFEASIBLE: "the solver reported the problem infeasible (this indicates a bug)",
    Status.FAILED: "the solver failed; no bound from it can be trusted",
}


def status_from_table(raw: Any, table: dict[Any, Status]) -> Status:
    """Map a solver's raw status through ``table``; anything not listed is ``FAILED``."""
    return table.get(raw, Status.FAILED)


@dataclass(frozen=True)
class Bounds:
    """A bracket on the optimal expected profit.

    Attributes
    ----------
    lower : float or None
        Profit of a feasible menu (exact, quadrature or Monte-Carlo evaluation).
    upper : float or None
        A certified upper bound on the optimum, or None if no upper-bound engine ran.
    lower_method, upper_method : str
        How each number was obtained. A statistical upper bound's method starts with
        :data:`amm_opt.statistical.STATISTICAL_PREFIX` and its level
        (:func:`amm_opt.statistical.statistical_method`); the label travels with the text, so
        files and the automatic step of :func:`amm_opt.solve` keep it.
    lower_stderr : float
        Standard error (Monte-Carlo) or error estimate (quadrature) of ``lower``; 0 when exact.

    Notes
    -----
    :attr:`upper_kind` says whether ``upper`` is **certified** (valid by construction: an LP
    dual certificate, a transport plan) or **statistical** (a one-sided confidence bound that
    fails with probability about ``1 - upper_confidence``).
    """

    lower: float | None = None
    upper: float | None = None
    lower_method: str = ""
    upper_method: str = ""
    lower_stderr: float = 0.0

    @property
    def upper_confidence(self) -> float | None:
        """Confidence level of a statistical upper bound (None for a certified one)."""
        return None if self.upper is None else parse_statistical(self.upper_method)

    @property
    def upper_kind(self) -> str | None:
        """``"certified"``, ``"statistical"``, or None without an upper bound."""
        return bound_kind(self.upper, self.upper_confidence)

    @property
    def certified_upper(self) -> float | None:
        """``upper`` when it is certified, else None."""
        return self.upper if self.upper_kind == "certified" else None

    @property
    def gap(self) -> float | None:
        """``upper - lower`` (None unless both exist)."""
        if self.lower is None or self.upper is None:
            return None
        return self.upper - self.lower

    @property
    def relative_gap(self) -> float | None:
        """``(upper - lower) / |lower|`` (None unless both exist; inf if lower is 0)."""
        gap = self.gap
        if gap is None or self.lower is None:
            return None
        return gap / abs(self.lower) if self.lower != 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {"lower": self.lower, "upper": self.upper, "lower_method": self.lower_method,
                "upper_method": self.upper_method, "lower_stderr": self.lower_stderr,
                "upper_kind": self.upper_kind, "upper_confidence": self.upper_confidence}

    def describe(self) -> str:
        lo = "—" if self.lower is None else f"{self.lower:.8g}"
        hi = "—" if self.upper is None else f"{self.upper:.8g}"
        text = f"lower {lo} ({self.lower_method or 'none'})"
        if self.lower_stderr:
            text += f" ± {self.lower_stderr:.2g}"
        kind = "" if self.upper_kind is None else f"{self.upper_kind}, "
        text += f"; upper {hi} ({kind}{self.upper_method or 'no upper-bound engine run'})"
        rel = self.relative_gap
        if rel is not None:
            text += f"; relative gap {rel:.3g}"
            if self.upper_kind == "statistical":
                text += " (statistical, not certified)"
        return text


@dataclass(frozen=True)
class Result:
    """Outcome of :func:`amm_opt.solve`.

    Attributes
    ----------
    menu : Menu or None
        The menu found (None for bound-only engines).
    profit : float or None
        Evaluated expected profit of ``menu`` (equals ``bounds.lower``).
    bounds : Bounds
        Certified bracket on the optimal profit and how it was obtained.
    status : Status
        Solver status; see :class:`Status`.
    backend : str
        Name of the backend that produced this result.
    message : str
        The engine's own account of how it stopped (solver status text, stop reason).
    solve_seconds : float
        Wall time of the engine's ``solve`` (every engine fills it; nan only for results read
        from files that predate it).
    certificate : LPCertificate, TransportCertificate or None
        The data that proves ``bounds.upper`` (:mod:`amm_opt.certificates`): the LP's duals and
        pair rows, or the transport plan. None when the engine certifies no upper bound.
    stats : dict
        Diagnostics: settings, per-stage timings, histories (nothing here is needed to use the
        result).
    evaluation : Evaluation or None
        Full evaluation of ``menu`` (per-item probabilities and profits).
    """

    menu: Menu | None
    profit: float | None
    bounds: Bounds
    status: Status
    backend: str
    message: str = ""
    solve_seconds: float = math.nan
    certificate: Certificate | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    evaluation: Evaluation | None = None

    def summary(self) -> str:
        """Multi-line human summary: backend, status, menu table and bounds."""
        lines = [f"backend: {self.backend}   status: {self.status.value} ({self.status.message})"]
        if self.message:
            lines.append(f"solver: {self.message}")
        if self.menu is not None:
            ev = self.evaluation
            lines.append(self.menu.table(
                probability=None if ev is None else ev.item_probability,
                profit=None if ev is None else ev.item_profit))
        if self.profit is not None:
            lines.append(f"expected profit: {self.profit:.8g}")
        lines.append("bounds: " + self.bounds.describe())
        return "\n".join(lines)
