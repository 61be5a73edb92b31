r"""TypesLP: the exact optimum for finitely many trader types, and statistical upper bounds.

For types :math:`t_i` with weights :math:`w_i` (the distinct rows of ``Samples`` and their
shares),

.. math::

    \mathrm{OPT} = \max_{u, g}\; \sum_i w_i\,\big[g_i\cdot(t_i - c'(t_i)) - u_i\big]
    \;\;\text{s.t.}\;\; u_j \ge u_i + g_i\cdot(t_j - t_i),\; g_i \in X,\; u_i \ge 0,\; u_c = 0

is the design problem itself: its solution is an optimal menu, its dual certifies it
(:mod:`.model`). For a density, :math:`\mathbb{E}[\mathrm{OPT}_m] \ge \Pi^\star` for ``m`` i.i.d.
types in any dimension, so ``K`` independent draws give a one-sided confidence bound
(:mod:`amm_opt.statistical`), labelled statistical. The derivation is in
``docs/math/types_lp.md``.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...distributions import Samples
from ...errors import OptionError, ResourceLimitError
from ...evaluate import evaluate
from ...options import Choice, Flag, Integer, Real, Rule
from ...problem import Problem
from ...result import Bounds, Result, Status
from ...statistical import one_sided_upper, statistical_method
from ..base import Solver, menu_result
from ..grid_lp.interfaces import INTERFACES
from .lp import TypesOutcome, solve_types
from .model import types_menu
from .types import TypeSet, default_draws

__all__ = ["TypesLP"]



@dataclass(frozen=True)
class TypesLP(Solver):
    r"""Exact optimal menus for ``Samples``; statistical upper bounds for densities.

    .. math::

        \max_{u, g} \sum_i w_i\big[g_i\cdot(t_i - c'(t_i)) - u_i\big] \;\;\text{s.t.}\;\;
        u_j \ge u_i + g_i\cdot(t_j - t_i),\; g_i \in X,\; 0 \le u_i \le \sigma_X(t_i - c),\;
        u_c = 0

    **Samples** (all rows, ``subsample=None``): the LP on the distinct rows is solved to
    optimality; ``bounds.lower`` is the menu's exact profit on the samples (ties to the market
    maker), ``bounds.upper`` the LP's certified dual bound (an
    :class:`~amm_opt.certificates.lp.LPCertificate`). **Samples with** ``subsample=m``, or a
    **density**: ``replications`` independent draws of ``m`` types, each LP solved with its
    certified bound; ``bounds.upper`` is the one-sided Student-t bound on their mean at
    ``confidence`` (statistical, labelled so); the first draw's menu is evaluated on the
    problem itself (the full samples, or the density) for ``bounds.lower``.

    Parameters
    ----------
    subsample : int or None
        ``Samples`` only: solve on draws of this many rows (with replacement) instead of all
        of them, giving a statistical bound. Needed when the distinct rows exceed
        ``max_types``.
    draws : int or None
        Densities only: types per draw of the statistical bound (None:
        :func:`~amm_opt.solvers.types_lp.types.default_draws`, a quick bound; the automatic rule
        asks for larger draws).
    replications : int
        Independent draws ``K`` of a statistical bound (at least 2).
    confidence : float
        One-sided level of a statistical bound.
    seed : int
        Seed of the draws.
    pairs : {"cuts", "all"}
        Cutting planes from nearest neighbours, or every ordered pair (the baseline; memory
        grows like the square of the types).
    start_pairs : {"delaunay", "knn"}
        Pairs of the first LP besides those of the belief: both orientations of the edges of
        the types' Delaunay triangulation (2 or 3 goods; elsewhere, or where Qhull cannot
        triangulate, k nearest neighbours), or of the k-nearest-neighbour pairs.
    neighbours : int
        k of the nearest-neighbour start pairs.
    cut_tol : float
        Violations at or below this end the cutting planes (the bound never depends on it).
    max_cuts : int or None
        Pairs added per round (None: the number of types, at least 1000, times
        ``cuts_per_point``).
    cuts_per_point : int
        Rows added into each violated type per round, from its highest violating planes
        (:func:`~amm_opt.solvers.grid_lp.separation.find_cuts`); 4 by default.
    max_rounds : int
        Cutting-plane rounds per LP; reaching it gives ``Status.ITERATION_LIMIT``.
    max_types : int or None
        Largest number of distinct types solved exactly; more are refused before any work
        (:class:`~amm_opt.errors.ResourceLimitError`) unless ``subsample`` is set. None: by
        goods, about the size solved in half an hour on 2 cores
        (:data:`~amm_opt.solvers.types_lp.types.EXACT_MAX_TYPES`: 30 000 types in 1 good,
        8000 in 2, 3000 in 3 to 5); the LP's time grows like the cube of the types.
    max_all_pairs : int
        Largest number of rows ``pairs="all"`` builds.
    time_limit : float or None
        Seconds for the whole run (every LP gets what is left); reaching it gives
        ``Status.TIME_LIMIT`` with valid bounds.
    interface : {"auto", "highspy", "scipy"}
        HiGHS directly (incremental rows, warm-started dual simplex) or SciPy's HiGHS.
    formulation : {"primal", "dual"}
        Solve the LP as stated (dual simplex, a row per pair) or its dual (primal simplex, a
        column per pair and a row per LP column: a smaller basis; highspy only).
    verbose : bool
        Solver output.

    Examples
    --------
    >>> import numpy as np
    >>> from amm_opt import Problem, Samples, solve
    >>> values = np.random.default_rng(0).uniform(size=(200, 2))
    >>> problem = Problem(goods=2, values=Samples(values), belief=0.5)
    >>> res = solve(problem, backend="types_lp")
    >>> res.bounds.upper_kind, bool(res.bounds.relative_gap < 1e-6)
    ('certified', True)
    """

    subsample: int | None = None
    draws: int | None = None
    replications: int = 10
    confidence: float = 0.95
    seed: int = 0
    pairs: str = "cuts"
    start_pairs: str = "delaunay"
    neighbours: int = 8
    cut_tol: float = 1e-9
    max_cuts: int | None = None
    # Four rows per violated type halve the rounds: 2 goods x 4000 types 39 s (13 rounds)
    # against 56 s (22) with one, 5 goods x 1500 70 s (8) against 93 s (15) (BENCHMARKS.md).
    cuts_per_point: int = 4
    max_rounds: int = 200
    max_types: int | None = None
    max_all_pairs: int = 20_000_000
    time_limit: float | None = None
    interface: str = "auto"
    formulation: str = "primal"
    verbose: bool = False

    name: ClassVar[str] = "types_lp"
    supports_polytope_allocation: ClassVar[bool] = True
    supports_belief_outside_values: ClassVar[bool] = True
    description: ClassVar[str] = ("finite-type LP (HiGHS): exact optimal menus for samples, "
                                  "statistical upper bounds for densities in any dimension")
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = "lp"
    provides_menu: ClassVar[bool] = True
    # Certified upper bounds only for Samples (a density gets a statistical one, and only when
    # asked for with draws=): the automatic rule reads certifies_samples.
    provides_upper: ClassVar[bool] = False
    certifies_samples: ClassVar[bool] = True

    option_rules: ClassVar[dict[str, Rule]] = {
        "subsample": Integer(2, optional=True, example="5000"),
        "draws": Integer(2, optional=True, example="1000"),
        "replications": Integer(2, example="20"),
        "confidence": Real(0, 1, open_low=True, open_high=True, example="0.95"),
        "seed": Integer(0), "pairs": Choice(("cuts", "all")),
        "start_pairs": Choice(("delaunay", "knn")), "neighbours": Integer(1),
        "cut_tol": Real(0, open_low=True), "max_cuts": Integer(1, optional=True),
        "cuts_per_point": Integer(1),
        "max_rounds": Integer(1), "max_types": Integer(2, optional=True),
        "max_all_pairs": Integer(1),
        "time_limit": Real(0, open_low=True, optional=True),
        "interface": Choice(tuple(i for i in INTERFACES if i != "cvxpy")),
        "formulation": Choice(("primal", "dual")), "verbose": Flag(),
    }

    # ------------------------------------------------------------------ checks
    def check_problem(self, problem: Problem) -> None:
        super().check_problem(problem)
        if isinstance(problem.distribution, Samples):
            if self.draws is not None:
                raise_option("draws", self.draws, "None for Samples (use subsample=)")
            if self.subsample is None:
                self._check_exact_size(problem.distribution, problem.goods)
        else:
            if self.subsample is not None:
                raise_option("subsample", self.subsample, "None for a density (use draws=)")

    def _check_exact_size(self, dist: Samples, goods: int) -> None:
        from .types import distinct_count, exact_max_types

        values = np.asarray(dist.values)
        if len(values) < 2:
            TypeSet.from_values(values, values[0])          # raises the clear error
        distinct = distinct_count(values)
        limit = exact_max_types(goods) if self.max_types is None else int(self.max_types)
        if distinct > limit:
            default = " (the default for this many goods)" if self.max_types is None else ""
            raise ResourceLimitError(
                f"{distinct} distinct sample types exceed max_types = {limit}{default} for "
                "the exact LP, whose time grows like the cube of the types", field="values",
                value=values.shape,
                allowed=f"subsample=<m> (a statistical bound from draws of m rows), or "
                        f"max_types >= {distinct} (with time_limit= to stop it)")

    def draws_for(self, problem: Problem) -> int:
        """Types per draw of a statistical bound."""
        if isinstance(problem.distribution, Samples):
            assert self.subsample is not None
            return int(self.subsample)
        return default_draws(problem.goods) if self.draws is None else int(self.draws)

    # ------------------------------------------------------------------ solving
    def compute(self, problem: Problem) -> Result:
        start = time.perf_counter()
        deadline = math.inf if self.time_limit is None else start + float(self.time_limit)
        if isinstance(problem.distribution, Samples) and self.subsample is None:
            return self._exact(problem, deadline)
        return self._statistical(problem, deadline)

    def _exact(self, problem: Problem, deadline: float) -> Result:
        dist = problem.distribution
        assert isinstance(dist, Samples)
        types = TypeSet.from_values(np.asarray(dist.values), np.asarray(problem.belief))
        out = solve_types(problem, types, self, deadline)
        stats = {"settings": self.settings(), "mode": "exact",
                 **_lp_stats(out, types)}
        if out.z is None:
            return _bound_only(problem, out, stats)
        menu = types_menu(problem, out.data, out.z)
        result = menu_result(problem, menu, self.name, out.status, stats,
                             upper=out.upper, upper_method=_certified_method(out, types),
                             message=out.reason)
        # On the empirical distribution the sample mean is the exact profit (no sampling
        # error: the samples are the distribution).
        bounds = dataclasses.replace(
            result.bounds, lower_stderr=0.0,
            lower_method=f"exact on the {types.samples} samples (their mean)")
        return dataclasses.replace(result, bounds=bounds, certificate=out.certificate)

    def _statistical(self, problem: Problem, deadline: float) -> Result:
        m, k = self.draws_for(problem), int(self.replications)
        rng = np.random.default_rng(self.seed)
        outcomes: list[TypesOutcome] = []
        uppers: list[float] = []
        first: TypesOutcome | None = None
        status = Status.OPTIMAL
        for _ in range(k):
            values = problem.sample(m, rng)
            types = TypeSet.from_values(values, np.asarray(problem.belief), field="draw")
            out = solve_types(problem, types, self, deadline)
            if out.upper is None or out.status is not Status.OPTIMAL:
                status = out.status if out.status is not Status.OPTIMAL else Status.INACCURATE
            if out.upper is None:
                break
            outcomes.append(out)
            uppers.append(out.upper)
            first = first or out
            if out.status is Status.TIME_LIMIT:
                break
        stats: dict[str, Any] = {
            "settings": self.settings(), "mode": "statistical", "draw_size": m,
            "replications_done": len(uppers),
            "draws": [{"upper": o.upper, "status": o.status.value, "rounds": len(o.rounds),
                       "pairs": o.pairs, "types": o.data.size,
                       "lp_seconds": o.lp_seconds} for o in outcomes]}
        if first is None or first.z is None or len(uppers) < 2:
            status = Status.FAILED if status is Status.OPTIMAL else status
            return Result(menu=None, profit=None, bounds=Bounds(), status=status,
                          backend=self.name,
                          message="fewer than 2 draws finished: no statistical bound", stats=stats)
        bound = one_sided_upper(uppers, self.confidence)
        stats["statistical_bound"] = bound.to_dict()
        menu = types_menu(problem, first.data, first.z)
        ev = evaluate(problem, menu)
        upper = bound.bound
        floor = ev.profit - 4.0 * ev.stderr
        if floor > upper:
            # A feasible menu's profit is (within its error) below the optimum, so raising the
            # bound to it can only make the bound hold more often.
            stats["raised_to_menu_profit"] = {"bound": upper, "menu_floor": floor}
            upper = floor
        what = "the full samples" if isinstance(problem.distribution, Samples) else "the density"
        detail = (f"types_lp, mean + t quantile x s/sqrt(K) of K = {len(uppers)} certified "
                  f"finite-type LP optima on independent draws of m = {m} types from {what}"
                  f" (half-width {bound.half_width:.3g})")
        return menu_result(problem, menu, self.name, status, stats, upper=upper,
                           upper_method=statistical_method(self.confidence, detail),
                           message=f"{len(uppers)} draws of {m} types", evaluation=ev)


def raise_option(name: str, value: Any, allowed: str) -> None:
    """Raise :class:`OptionError` for an option that does not apply to the problem."""
    raise OptionError("does not apply to this problem", field=name, value=value,
                      allowed=allowed)


def _certified_method(out: TypesOutcome, types: TypeSet) -> str:
    return (f"finite-type LP dual bound (certified): {types.types} distinct types of "
            f"{types.samples} samples, {out.pairs} pair rows, {len(out.rounds)} rounds")


def _lp_stats(out: TypesOutcome, types: TypeSet) -> dict[str, Any]:
    return {"types": types.types, "samples": types.samples, "points": out.data.size,
            "pairs": out.pairs, "all_pairs": out.data.size * (out.data.size - 1),
            "rounds": out.rounds, "reason": out.reason,
            "timings": {"lp": out.lp_seconds, "separation": out.separation_seconds,
                        "bound": out.bound_seconds},
            "certificate": None if out.certificate is None else out.certificate.summary()}


def _bound_only(problem: Problem, out: TypesOutcome, stats: dict[str, Any]) -> Result:
    types_method = f"finite-type LP dual bound (certified), {len(out.rounds)} rounds"
    return Result(menu=None, profit=None,
                  bounds=Bounds(upper=out.upper, upper_method=types_method),
                  status=out.status if out.status is not Status.OPTIMAL else Status.INACCURATE,
                  backend="types_lp", message=out.reason or "the LP gave no solution",
                  certificate=out.certificate, stats=stats)
