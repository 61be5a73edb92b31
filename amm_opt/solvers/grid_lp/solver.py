r"""GridLP: a menu and a certified upper bound from an LP on a mesh of the value box.

The signed measure :math:`\mu` of the profit is placed conservatively on mesh points
:math:`P_i` (positive mass on cell corners, negative mass at barycentres, the atom at :math:`c`);
with a utility :math:`u_i` and a gradient :math:`g_i` at the points,

.. math::

    \overline{\Pi} = \max_{u, g}\; \sum_i m_i u_i \quad \text{s.t.}\quad
    u_j \ge u_i + g_i \cdot (P_j - P_i)\;\; ((i, j) \in \mathcal{E}),\quad
    g_i \in X,\quad 0 \le u_i \le \sigma_X(P_i - c),\quad u_c = 0

is at least the optimal profit for every mesh and every pair set :math:`\mathcal{E}`. The bound
reported is weak duality at the solver's duals (:mod:`.model`), valid whatever the solver's
accuracy. Pairs are added as cutting planes (:mod:`.stages`), cells where the solution bends are
refined, and the LP's tangent planes are the menu (:mod:`.menus`), evaluated exactly and polished.
The derivation is in ``docs/math/grid_lp.md``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ...discretisation import discretize, grid_axes
from ...errors import BackendUnavailableError, OptionError, ResourceLimitError
from ...limits import require_memory
from ...options import Choice, Flag, Function, Grid, Integer, Real, Rule, grid_cells, grid_points
from ...polishing import polish, polish_refusal
from ...problem import Problem
from ...result import Bounds, Result, Status
from ...symmetry import SymmetryGroup, SymmetryRule, resolve_symmetry
from ..base import Solver, finishing_seconds, progress_bar
from .interfaces import CVXPY_SOLVERS, INTERFACES, interface_availability, resolve_interface
from .menus import envelope
from .mesh import Mesh, MeshPoints, dorfler_mark, kink_indicator
from .orbit_stage import MAX_ORBIT_GOODS, MAX_ORBIT_POINTS, OrbitCuttingPlanes, build_orbit_model
from .orbits import check_invariant_grid, grid_subgroup, orbit_points
from .progress import BestBounds, GridLPProgress
from .stages import CuttingPlanes, RunContext, StageModel, StageOutcome, build_stage_model

__all__ = ["GridLP", "GridLPProgress"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_DEFAULT_GRID = {1: 64, 2: 32, 3: 10}
_FALLBACK_GRID = 4


@dataclass(frozen=True)
class GridLP(Solver):
    r"""Certified upper bound and a menu from the grid LP.

    .. math::

        \overline{\Pi} = \max_{u, g} \sum_i m_i u_i \;\;\text{s.t.}\;\;
        u_j \ge u_i + g_i\cdot(P_j - P_i),\; g_i \in X,\; 0 \le u_i \le \sigma_X(P_i - c),\;
        u_c = 0

    Parameters
    ----------
    grid : int, sequence of int, sequence of arrays, or None
        Base grid: cells per axis, per good, or breakpoints per good (see
        :func:`amm_opt.discretisation.discretize`). None: 64 cells for one good, 32 per axis
        for two, 10 for three, 4 beyond.
    pairs : {"cuts", "all"}
        ``"cuts"``: start pairs (below) plus violated pairs found over all pairs (cutting
        planes). ``"all"``: every ordered pair from the start (the full LP; memory grows like
        the square of the points; the benchmark baseline).
    start_pairs : {"delaunay", "knn"}
        Pairs of each stage's first LP (``pairs="cuts"``): both orientations of the edges of
        the points' Delaunay triangulation (2 or 3 goods; elsewhere, or where Qhull cannot
        triangulate, k nearest neighbours), or of the k-nearest-neighbour pairs.
    planes : {"positive", "all"}
        Points with a tangent plane (a gradient and pair rows from them): ``"positive"``, the
        points of positive mass and the belief (the other points keep only a value; the LP
        optimum is the same, see :mod:`~._lp_model`, at a fraction of the size), or every point.
    neighbours : int
        k of the k-nearest-neighbour start pairs.
    carry_pairs : bool
        Seed each refinement stage's LP with the pairs tight at the previous stage's solution
        (off by default: on R2 it made the larger LPs slower than the cuts it saved).
    cut_tol : float
        Violations :math:`u_i + g_i\cdot(P_j - P_i) - u_j` at or below this are accepted.
        (The certified bound never depends on it: any pair set gives a valid bound.)
    max_cuts : int or None
        Pairs added per round (the most violated first); None: the number of points times
        ``cuts_per_point``.
    cuts_per_point : int or None
        Rows added into each violated point per round, from its highest violating planes;
        None: 4 on the LP folded onto symmetry orbits (cold interior-point rounds: fewer,
        larger rounds pay), 1 otherwise.
    max_rounds : int
        Cutting-plane rounds per stage; reaching it with violations left gives
        ``Status.ITERATION_LIMIT`` (bounds remain valid).
    target_gap : float or None
        Stop refining once ``(upper - lower) / lower`` is at most this. Setting it turns on
        adaptive refinement.
    time_limit : float or None
        Seconds for the whole run (LP solves get what is left); reaching it gives
        ``Status.TIME_LIMIT`` with the best bounds found so far. Polishing gets what is left,
        but at least a tenth of the budget.
    max_refinements : int or None
        Adaptive refinement stages; None: unlimited when ``target_gap`` is set, else 0.
    refine_fraction : float
        Dörfler fraction: each stage refines the fewest cells carrying this share of the kink
        indicator.
    max_points : int
        Largest number of LP points: a base grid with more is refused before anything is
        built (:class:`~amm_opt.errors.ResourceLimitError`), and no refinement goes beyond it.
    max_all_pairs : int
        Largest number of pair rows ``pairs="all"`` builds (memory guard).
    lp_solver : {"HIGHS", "CLARABEL", "SCS", "MOSEK"}
        LP solver. HiGHS runs directly (``interface="auto"``); the others through cvxpy.
        MOSEK must be installed and licensed.
    interface : {"auto", "highspy", "scipy", "cvxpy"}
        ``"auto"``: highspy (incremental rows, warm-started dual simplex) for HIGHS when it is
        installed, else SciPy's bundled HiGHS; cvxpy for the other solvers.
    highs_method : {"auto", "simplex", "ipm", "hybrid", "choose", "pdlp"}
        HiGHS algorithm (direct interfaces). ``"hybrid"``: interior point with crossover for
        each stage's first LP, then the dual simplex warm-started for the cutting-plane rounds.
        ``"pdlp"``: HiGHS's first-order primal-dual method (no basis, every round from scratch;
        its approximate duals still give a valid bound, as every variable is bounded).
        ``"auto"``: dual simplex for one or two goods, ``"hybrid"`` beyond.
    polish : bool
        Polish the final menu (cluster items, re-optimise exact profit; goods <= 3).
    evaluate_method : {"auto", "exact", "quadrature", "qmc"}
        Evaluation of the LP menus (the lower bound).
    callback : callable or None
        ``callback(progress)`` after every LP solve with a :class:`GridLPProgress`; returning
        True stops the run (the best bounds so far are returned).
    progress : bool or None
        tqdm progress bar (None: when tqdm is installed and stderr is a terminal).
    verbose : bool
        Solver output.
    symmetry : {"auto", "none"}, SymmetryGroup or dict
        Fold the LP onto orbits of a symmetry group of the problem (:mod:`amm_opt.symmetry`):
        ``"auto"`` detects the largest group (permutations of goods with identical marginals,
        beliefs and allocation intervals; reflections about the belief where marginal and
        allocation interval are symmetric), ``"none"`` solves the full LP, and an explicit
        group (``{"classes": [[0, 1, 2]], "reflect": [False]}``) is checked against the problem
        (a group that is not one is refused). The folded LP has the optimum of the full one on
        the same grid at a fraction of its size; it runs on the base grid only, so with
        refinement (``target_gap``, ``max_refinements``) or ``pairs="all"``, ``"auto"`` solves
        the full LP. ``stats["symmetry"]`` and the certificate record the group and its order.

    Examples
    --------
    >>> from amm_opt import references, solve
    >>> problem, _, best = references.r2_two_goods(0.0)
    >>> res = solve(problem, backend="grid_lp", grid=16)
    >>> round(res.bounds.lower, 7), round(best, 7), round(res.bounds.upper, 6)
    (0.2746005, 0.2746005, 0.28125)
    >>> res.menu.size          # the polished menu: the paper's 9 items
    9
    """

    grid: Any = None
    pairs: str = "cuts"
    start_pairs: str = "delaunay"
    planes: str = "positive"
    neighbours: int = 8
    carry_pairs: bool = False
    cut_tol: float = 1e-9
    max_cuts: int | None = None
    cuts_per_point: int | None = None
    max_rounds: int = 50
    target_gap: float | None = None
    time_limit: float | None = None
    max_refinements: int | None = None
    refine_fraction: float = 0.5
    max_points: int = 200_000
    max_all_pairs: int = 10_000_000
    lp_solver: str = "HIGHS"
    interface: str = "auto"
    highs_method: str = "auto"
    polish: bool = True
    evaluate_method: str = "auto"
    callback: Callable[[GridLPProgress], Any] | None = None
    progress: bool | None = None
    verbose: bool = False
    symmetry: Any = "auto"

    name: ClassVar[str] = "grid_lp"
    description: ClassVar[str] = ("grid LP (HiGHS/cvxpy): a menu and a certified upper bound, "
                                  "cutting planes and adaptive grids")
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = "lp"
    provides_menu: ClassVar[bool] = True
    provides_upper: ClassVar[bool] = True
    needs_density: ClassVar[bool] = True
    linear_update_only: ClassVar[str | None] = "the grid LP is derived for the linear update"
    supports_polytope_allocation: ClassVar[bool] = True
    supports_belief_outside_values: ClassVar[bool] = True

    option_rules: ClassVar[dict[str, Rule]] = {
        "grid": Grid(), "pairs": Choice(("cuts", "all")),
        "start_pairs": Choice(("delaunay", "knn")), "planes": Choice(("positive", "all")),
        "neighbours": Integer(1), "carry_pairs": Flag(), "cut_tol": Real(0, open_low=True),
        "max_cuts": Integer(1, optional=True), "cuts_per_point": Integer(1, optional=True),
        "max_rounds": Integer(1),
        "target_gap": Real(0, open_low=True, optional=True),
        "time_limit": Real(0, open_low=True, optional=True),
        "max_refinements": Integer(0, optional=True),
        "refine_fraction": Real(0, 1, open_low=True, example="0.5"),
        "max_points": Integer(2), "max_all_pairs": Integer(1),
        "lp_solver": Choice(CVXPY_SOLVERS), "interface": Choice(INTERFACES),
        "highs_method": Choice(("auto", "simplex", "ipm", "hybrid", "choose", "pdlp")),
        "polish": Flag(), "evaluate_method": Choice(("auto", "exact", "quadrature", "qmc")),
        "callback": Function("callback(progress)"), "progress": Flag(optional=True),
        "verbose": Flag(), "symmetry": SymmetryRule(),
    }

    # ------------------------------------------------------------------ options
    def __post_init__(self) -> None:
        if isinstance(self.lp_solver, str):
            object.__setattr__(self, "lp_solver", self.lp_solver.upper())
        super().__post_init__()
        if self.interface in ("highspy", "scipy") and self.lp_solver != "HIGHS":
            raise OptionError(f"runs HiGHS only, not {self.lp_solver}", field="interface",
                              value=self.interface, allowed="'cvxpy' or 'auto' for other solvers")

    def _interface(self) -> str:
        interface = resolve_interface(self.interface, self.lp_solver)
        usable, why = interface_availability(interface, self.lp_solver)
        if not usable:
            raise BackendUnavailableError("cannot run here", field="lp_solver",
                                          value=f"{self.lp_solver} via {interface}",
                                          allowed=f"{why}; or lp_solver='HIGHS'")
        return interface

    def _grid(self, problem: Problem) -> Any:
        if self.grid is not None:
            return self.grid
        return _DEFAULT_GRID.get(problem.goods, _FALLBACK_GRID)

    # ------------------------------------------------------------------ solving
    def check_problem(self, problem: Problem) -> None:
        super().check_problem(problem)
        self._check_size(problem)

    def _refinements(self) -> int:
        if self.max_refinements is not None:
            return int(self.max_refinements)
        return 0 if self.target_gap is None else 10**9

    def _group(self, problem: Problem) -> tuple[SymmetryGroup, dict[str, Any]]:
        """The group the LP is folded with (trivial: not folded) and how it was chosen."""
        group = resolve_symmetry(problem, self.symmetry)
        axes = grid_axes(problem, self._grid(problem))
        if isinstance(self.symmetry, str):
            group = grid_subgroup(problem, group, axes)    # "auto": what the grid keeps
        else:
            check_invariant_grid(problem, group, axes)
        record: dict[str, Any] = {"setting": self.symmetry if isinstance(self.symmetry, str)
                                  else "explicit", **group.to_dict(), "folded": False}
        why = None
        if group.is_trivial:
            why = "no symmetry"
        elif self.pairs == "all":
            why = "pairs='all' is the unfolded baseline"
        elif self._refinements() > 0:
            why = "adaptive refinement runs on the full mesh"
        elif problem.goods > MAX_ORBIT_GOODS:
            why = f"folding is implemented for up to {MAX_ORBIT_GOODS} goods"
        if why is not None:
            if not group.is_trivial and not isinstance(self.symmetry, str):
                raise OptionError(f"cannot be used here: {why}", field="symmetry",
                                  value=group.to_dict(), allowed="symmetry='auto' or 'none', "
                                  "or a base-grid run with pairs='cuts'")
            record["why_not_folded"] = why
            return SymmetryGroup.trivial(problem.goods), record
        record["folded"] = True
        return group, record

    def _check_size(self, problem: Problem) -> None:
        """Refuse a base grid beyond ``max_points`` or the memory limit before building it."""
        cells = grid_cells(self._grid(problem), problem.goods)
        vertices, count = grid_points(cells)
        points = vertices + count + 1            # corners, barycentres, the belief
        shape = "x".join(str(c) for c in cells) if len(cells) <= 4 else \
            f"{cells[0]}^{len(cells)}"
        group, _ = self._group(problem)
        if not group.is_trivial:
            # The full tensor-grid measure is built once, then folded: its arrays (2^n corner
            # weights per cell, barycentres, indices) must fit; the LP has about points/order.
            n = problem.goods
            numbers = count * (2 ** n + 4 * n + 8) + vertices * (2 * n + 4)
            require_memory(8.0 * numbers, f"the {shape} grid measure before folding", "grid",
                           "a coarser grid")
            points = -(-points // group.order)
        if points > self.max_points:
            raise ResourceLimitError(
                f"the {shape} grid has {points:.4g} LP points, above max_points = "
                f"{self.max_points}", field="grid", value=self.grid,
                allowed=f"a coarser grid (fewer goods), or max_points >= {points}")
        # Columns u, g per point and bounds, start rows of about (neighbours + 4) per point with
        # n + 2 nonzeros each, and the solver's copies: a generous constant per number.
        n = problem.goods
        numbers = points * ((n + 1) * 6 + (self.neighbours + 4) * (n + 2) * 3)
        require_memory(8.0 * numbers * 4, f"the grid LP on {points:.4g} points", "grid",
                       "a coarser grid")

    def compute(self, problem: Problem) -> Result:
        interface = self._interface()
        start = time.perf_counter()
        deadline = math.inf if self.time_limit is None else start + float(self.time_limit)
        run = RunContext(problem=problem, best=BestBounds(), deadline=deadline, start=start,
                         bar=progress_bar(self.progress, desc="grid_lp", unit="LP"))
        stages: list[dict[str, Any]] = []
        try:
            status, stop_reason = self._stages(run, interface, stages)
        finally:
            if run.bar is not None:
                run.bar.close()
        best = run.best
        if best.menu is None:
            return self._failed(run, stages, status)
        if self.polish:
            self._polish(run)
        if self.target_gap is not None and best.gap() > self.target_gap and \
                status is Status.OPTIMAL and stop_reason in ("max_refinements", "max_points",
                                                             "nothing_to_refine"):
            # The LPs were solved, but the requested precision was not reached.
            status = Status.ITERATION_LIMIT
        return self._result(run, stages, status, stop_reason, interface)

    def _stages(self, run: RunContext, interface: str, stages: list[dict[str, Any]]
                ) -> tuple[Status, str]:
        """Solve stage after stage, refining the mesh between them; ``(status, why stopped)``."""
        refinements = self._refinements()
        group, run.symmetry = self._group(run.problem)
        if not group.is_trivial:
            return self._orbit_stage(run, interface, stages, group)
        mesh = Mesh.from_grid(run.problem, self._grid(run.problem))
        model: StageModel | None = None
        for stage in range(refinements + 1):
            t0 = time.perf_counter()
            mp = MeshPoints.from_measure(discretize(run.problem, mesh.axes)) \
                if stage == 0 and mesh.max_level == 0 else mesh.points()
            run.add_time("discretize", t0)
            if stage > 0 and len(mp.points) > self.max_points:
                return Status.OPTIMAL, "max_points"
            model = build_stage_model(self, run.problem, mp, interface, model, run.deadline)
            outcome = CuttingPlanes(self, model, stage, run, mp.source).solve()
            stages.append(outcome.summary)
            stop = self._stop_after(run, outcome, stage == refinements)
            if stop is not None:
                return stop
            t0 = time.perf_counter()
            mesh, marked = self._refine(mesh, outcome, len(mp.points))
            run.add_time("refine", t0)
            if not marked:
                return Status.OPTIMAL, "nothing_to_refine"
        return Status.OPTIMAL, "converged"

    def _orbit_stage(self, run: RunContext, interface: str, stages: list[dict[str, Any]],
                     group: SymmetryGroup) -> tuple[Status, str]:
        """The base grid's LP folded onto the orbits of ``group`` (:mod:`.orbit_stage`)."""
        t0 = time.perf_counter()
        op = orbit_points(run.problem, discretize(run.problem, self._grid(run.problem)), group)
        run.add_time("discretize", t0)
        if len(op.points) > min(self.max_points, MAX_ORBIT_POINTS):
            raise ResourceLimitError(
                f"the folded LP has {len(op.points)} points, above max_points = "
                f"{min(self.max_points, MAX_ORBIT_POINTS)}", field="grid", value=self.grid,
                allowed="a coarser grid")
        run.symmetry.update(points=len(op.points), full_points=op.full_points,
                            allowance=op.allowance)
        model, codes = build_orbit_model(self, run.problem, op, interface, group, run.deadline)
        outcome = OrbitCuttingPlanes(self, model, 0, run, "orbits", group, op, codes).solve()
        stages.append(outcome.summary)
        stop = self._stop_after(run, outcome, True)
        assert stop is not None
        return stop

    def _stop_after(self, run: RunContext, outcome: StageOutcome, last: bool
                    ) -> tuple[Status, str] | None:
        """Whether to stop after a stage, as ``(status, reason)``; None to refine on."""
        if outcome.status is not Status.OPTIMAL:
            return outcome.status, outcome.reason
        if outcome.reason == "callback":
            return Status.OPTIMAL, "callback"
        if self.target_gap is not None:
            gap = run.best.gap()
            # Polishing raises the lower bound by a small fraction (it fixes prices, not the
            # grid), so it is tried once the gap is within twice the target.
            if self.polish and self.target_gap < gap <= 2 * self.target_gap:
                self._polish(run, quick=True)
            if run.best.gap() <= self.target_gap:
                return Status.OPTIMAL, "target_gap"
        if last:
            return Status.OPTIMAL, "converged" if self.target_gap is None else "max_refinements"
        if time.perf_counter() >= run.deadline:
            return Status.TIME_LIMIT, "time_limit"
        return None

    def _polish(self, run: RunContext, quick: bool = False) -> None:
        """Polish the best menu. ``quick``: prices only, no pruning (the check inside the
        refinement loop); otherwise the full polish, once per menu."""
        best, problem = run.best, run.problem
        done = "repriced" if quick else "polished"
        if best.menu is None or polish_refusal(problem, self.evaluate_method) is not None or \
                best.lower_source.startswith(done) or best.lower_source.startswith("polished"):
            return
        t0 = time.perf_counter()
        limit = finishing_seconds(self.time_limit, run.deadline - time.perf_counter())
        options: dict[str, Any] = {"optimize_allocations": False, "prune_rtol": 0.0,
                                   "max_evaluations": 2000} if quick else {}
        out = polish(problem, best.menu, evaluate_method=self.evaluate_method,
                     time_limit=limit, **options)
        run.add_time("polish", t0)
        best.polish_runs.append({"quick": quick, **out.summary()})
        if out.improved and out.profit > best.lower:
            source = best.lower_source.removeprefix("repriced ")
            best.menu, best.evaluation, best.lower = out.menu, out.evaluation, out.profit
            best.lower_source = f"{done} {source}"

    def _refine(self, mesh: Mesh, outcome: StageOutcome, points: int) -> tuple[Mesh, bool]:
        if outcome.z is None or outcome.data is None:
            return mesh, False
        eta = kink_indicator(mesh, envelope(outcome.data, outcome.z))
        # Each refined cell adds about 2^n barycentres and 3^n - 2^n corner points (fewer where
        # they carry no mass); stop before the point budget is exceeded.
        per_cell = 3 ** mesh.goods
        budget = max(0, (self.max_points - points) // per_cell)
        mark = dorfler_mark(eta, float(self.refine_fraction), budget)
        if not mark.any():
            return mesh, False
        return mesh.refine(mark), True

    # ------------------------------------------------------------------ packaging
    def _stats(self, run: RunContext, stages: list[dict[str, Any]]) -> dict[str, Any]:
        last = stages[-1] if stages else {}
        return {
            "settings": self.settings(),
            "timings": run.timings,
            "stages": stages,
            "refinements": max(0, len(stages) - 1),
            "rounds": sum(len(s["rounds"]) for s in stages),
            "lp_points": last.get("points"),
            "lp_pairs": last.get("pairs"),
            "upper_certificate": run.best.upper_info,
            "lower_source": run.best.lower_source,
            "polish": run.best.polish_runs,
            "symmetry": run.symmetry,
        }

    def _failed(self, run: RunContext, stages: list[dict[str, Any]], status: Status) -> Result:
        best = run.best
        messages = [s.get("reason", "") for s in stages]
        upper = best.upper if math.isfinite(best.upper) else None
        # No LP gave a solution: a time limit stays a time limit, anything else failed.
        final = status if status is Status.TIME_LIMIT else Status.FAILED
        return Result(menu=None, profit=None,
                      bounds=Bounds(upper=upper, upper_method=self._upper_method(best)),
                      status=final, backend=self.name,
                      message="; ".join(m for m in messages if m) or "no LP solution",
                      certificate=best.certificate, stats=self._stats(run, stages))

    @staticmethod
    def _upper_method(best: BestBounds) -> str:
        info = best.upper_info
        if not info:
            return ""
        return (f"grid LP dual (weak duality with variable bounds), {info['points']} points, "
                f"{info['pairs']} pairs, stage {info['stage']}")

    def _result(self, run: RunContext, stages: list[dict[str, Any]], status: Status,
                stop_reason: str, interface: str) -> Result:
        best = run.best
        stats = self._stats(run, stages)
        stats.update(stop_reason=stop_reason, interface=interface, lp_solver=self.lp_solver)
        message = stop_reason if status is Status.OPTIMAL else \
            "; ".join(str(s.get("reason", "")) for s in stages[-1:])
        ev = best.evaluation
        assert best.menu is not None and ev is not None
        bounds = Bounds(lower=float(ev.profit), upper=best.upper, lower_method=ev.method,
                        upper_method=self._upper_method(best), lower_stderr=ev.stderr)
        return Result(menu=best.menu, profit=float(ev.profit), bounds=bounds, status=status,
                      backend=self.name, message=message, certificate=best.certificate,
                      stats=stats, evaluation=ev)
