"""The grid LP's running state: the best bounds so far and the reports handed to callbacks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ...certificates.lp import LPCertificate
from ...evaluate import Evaluation
from ...menu import Menu
from ...result import BRACKET_SIGMAS, Bounds

__all__ = ["BestBounds", "GridLPProgress", "pessimistic_profit"]



@dataclass(frozen=True)
class GridLPProgress:
    """One LP solve of :class:`~amm_opt.solvers.grid_lp.GridLP`, as handed to ``callback``.

    Attributes
    ----------
    stage : int
        Refinement stage (0 = the base grid).
    round : int
        Cutting-plane round within the stage.
    points, pairs : int
        LP size: points (each with ``u`` and ``g``) and pair rows.
    lower, upper : float or None
        Best lower bound (evaluated menu) and certified upper bound so far.
    max_violation : float
        Largest convexity violation of this round's solution over all pairs (nan for
        ``pairs="all"``).
    seconds : float
        Time since the start of ``solve``.
    """

    stage: int
    round: int
    points: int
    pairs: int
    lower: float | None
    upper: float | None
    max_violation: float
    seconds: float

    @property
    def relative_gap(self) -> float | None:
        return Bounds(lower=self.lower, upper=self.upper).relative_gap


def pessimistic_profit(ev: Evaluation | None) -> float:
    """A menu's profit for comparisons: Monte-Carlo estimates count a few standard errors
    lower (exact and quadrature values as they are)."""
    if ev is None:
        return -math.inf
    return ev.profit - (BRACKET_SIGMAS * ev.stderr if ev.method in ("qmc", "sample-mean") else 0.0)


@dataclass
class BestBounds:
    """Best numbers so far (every LP solve may improve either side)."""

    upper: float = math.inf
    upper_info: dict[str, Any] = field(default_factory=dict)
    certificate: LPCertificate | None = None
    lower: float = -math.inf
    menu: Menu | None = None
    evaluation: Evaluation | None = None
    lower_source: str = ""
    polish_runs: list[dict[str, Any]] = field(default_factory=list)

    def gap(self) -> float:
        """Relative gap of the best bracket (inf while either side is missing)."""
        if self.menu is None or not math.isfinite(self.upper):
            return math.inf
        rel = Bounds(lower=self.lower, upper=self.upper).relative_gap
        return math.inf if rel is None else rel

    def offer_menu(self, menu: Menu, ev: Evaluation, source: str) -> None:
        """Keep ``menu`` if it beats the best menu so far."""
        if self.menu is None or pessimistic_profit(ev) > pessimistic_profit(self.evaluation):
            self.menu, self.evaluation, self.lower = menu, ev, float(ev.profit)
            self.lower_source = source

    def offer_upper(self, certificate: LPCertificate, info: dict[str, Any]) -> None:
        """Keep ``certificate`` if its bound is below the best so far."""
        if certificate.bound < self.upper:
            self.upper, self.certificate, self.upper_info = certificate.bound, certificate, info
