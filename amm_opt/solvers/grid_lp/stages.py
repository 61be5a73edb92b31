r"""One refinement stage of the grid LP: build its LP, then solve it with cutting planes.

A stage's LP starts from a few pair rows per point (Delaunay or nearest-neighbour pairs among the
plane points, each point's nearest plane points, and, from the second stage on, the plane that was
highest at each point in the previous stage's solution). After every solve the most violated
pairs over *all* ordered pairs are found from the envelope of the solution's tangent planes and
appended; HiGHS re-solves from its previous basis. Every solve gives a certified bound (weak
duality at its duals) and a menu (its tangent planes), whatever the set of rows.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ...certificates.lp import LPCertificate
from ...errors import AmmOptWarning, UnsupportedProblemError
from ...evaluate import evaluate
from ...problem import Problem
from ...result import Status
from .interfaces import LPSolution, make_interface
from .menus import highest_plane, lp_menu
from .mesh import MeshPoints
from .model import (
    LPData,
    all_pairs,
    allocation_fields,
    certified_bound,
    key_pairs,
    pair_keys,
    start_pairs,
)
from .progress import BestBounds, GridLPProgress
from .separation import Cuts, find_cuts

__all__ = ["CuttingPlanes", "RunContext", "StageModel", "StageOptions", "StageOutcome",
           "build_stage_model", "lp_round"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Rows into each point without a plane of its own, from its nearest plane points, in a stage's
# first LP.
PLANE_NEIGHBOURS = 2
# highs_method="auto": the dual simplex up to this many goods, "hybrid" beyond (see
# BENCHMARKS.md, grid LP, three goods).
SIMPLEX_MAX_GOODS = 2
# Rows with slack above -this at the last solution of a stage are carried to the next stage.
TIGHT_TOL = 1e-9
# A warm re-solve is abandoned (and redone cold) after this many cold-solve times of the stage,
# but never before this many seconds: on refined meshes the dual simplex occasionally stalls
# after cuts are appended, where a cold solve is quick.
WARM_COLD_RATIO = 3.0
WARM_MIN_SECONDS = 5.0


class StageOptions(Protocol):
    """The :class:`~amm_opt.solvers.grid_lp.GridLP` options a stage reads."""

    pairs: str
    start_pairs: str
    planes: str
    neighbours: int
    carry_pairs: bool
    cut_tol: float
    max_cuts: int | None
    cuts_per_point: int | None
    max_rounds: int
    max_all_pairs: int
    lp_solver: str
    highs_method: str
    evaluate_method: str
    callback: Callable[[GridLPProgress], Any] | None
    verbose: bool


@dataclass
class StageModel:
    """The LP of the current stage: data, solver interface, sorted keys of its pair rows, and
    its last solution."""

    data: LPData
    lp: Any
    keys: IntArray
    z: FloatArray | None = None


@dataclass
class StageOutcome:
    """How a stage ended: its summary (for ``stats``), status, reason and last solution."""

    summary: dict[str, Any]
    status: Status = Status.OPTIMAL
    reason: str = ""
    data: LPData | None = None
    z: FloatArray | None = None


@dataclass
class RunContext:
    """What every stage of one ``solve`` shares: the problem, the best bounds, the clock."""

    problem: Problem
    best: BestBounds
    deadline: float
    start: float
    bar: Any = None
    symmetry: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=lambda: {
        "discretize": 0.0, "lp": 0.0, "separation": 0.0, "bound": 0.0, "evaluate": 0.0,
        "refine": 0.0, "polish": 0.0})

    def add_time(self, what: str, since: float) -> None:
        self.timings[what] += time.perf_counter() - since


# ------------------------------------------------------------------------------ building
def build_stage_model(options: StageOptions, problem: Problem, mp: MeshPoints, interface: str,
                      previous: StageModel | None, deadline: float = math.inf) -> StageModel:
    """The LP of a stage on the stage's points, with its start rows (see the module docstring;
    with ``carry_pairs`` also the previous stage's tight rows; fewer past ``deadline``)."""
    data = LPData.build(problem, mp, options.planes)
    method = options.highs_method
    if method == "auto":
        method = "simplex" if problem.goods <= SIMPLEX_MAX_GOODS else "hybrid"
    lp = make_interface(interface, data, options.lp_solver, method, options.verbose)
    if options.pairs == "all":
        rows = len(data.planes) * (data.size - 1)
        if rows > options.max_all_pairs:
            raise UnsupportedProblemError(
                f"pairs='all' needs {rows} pair rows for {data.size} points",
                field="pairs", value=options.pairs,
                allowed=f"pairs='cuts', a coarser grid, or max_all_pairs >= {rows}")
        i, j = all_pairs(data.size, data.planes)
        lp.add(i, j)
        return StageModel(data, lp, np.sort(pair_keys(i, j)))
    i, j = start_rows(options, data, previous, deadline)
    if time.perf_counter() > deadline:
        # No LP will be solved: its bound is the one at zero duals, which needs no rows.
        i, j = i[:0], j[:0]
    keys = np.unique(pair_keys(i, j))
    i, j = key_pairs(keys)
    lp.add(i, j)
    return StageModel(data, lp, keys)


def start_rows(options: StageOptions, data: LPData, previous: StageModel | None,
               deadline: float = math.inf) -> tuple[IntArray, IntArray]:
    """Pair rows of a stage's first LP (every row starts at a plane point)."""
    from scipy.spatial import cKDTree

    mask = data.has_plane
    i, j = start_pairs(data.points, options.start_pairs, options.neighbours, deadline)
    parts_i, parts_j = [i[mask[i]]], [j[mask[i]]]
    if len(data.planes) < data.size and time.perf_counter() <= deadline:
        # Points without a plane of their own are held up only by rows into them: start
        # each with its nearest plane points.
        k = min(PLANE_NEIGHBOURS, len(data.planes))
        _, near = cKDTree(data.points[data.planes]).query(data.points, k=k)
        near = data.planes[np.asarray(near, dtype=np.int64).reshape(data.size, k)]
        parts_i.append(near.ravel())
        parts_j.append(np.repeat(np.arange(data.size, dtype=np.int64), k))
    if previous is not None and previous.z is not None:
        new_index = match_points(previous.data, data)
        # The previous solution's highest plane at every new point (its owner mapped by
        # coordinates; owners that left the mesh are dropped).
        ci = new_index[highest_plane(previous.data, previous.z, data.points)]
        ok = ci >= 0
        parts_i.append(ci[ok])
        parts_j.append(np.flatnonzero(ok).astype(np.int64))
        if options.carry_pairs:
            oi, oj = previous.lp.pairs()
            tight = previous.lp.matrix() @ previous.z >= -TIGHT_TOL
            ci, cj = new_index[oi[tight]], new_index[oj[tight]]
            ok = (ci >= 0) & (cj >= 0)
            parts_i.append(ci[ok])
            parts_j.append(cj[ok])
    i, j = np.concatenate(parts_i), np.concatenate(parts_j)
    keep = (i != j) & mask[i]
    return i[keep], j[keep]


def match_points(old: LPData, new: LPData) -> IntArray:
    """Index in ``new`` of each point of ``old`` (-1 where none within 16 ulps of the box)."""
    from scipy.spatial import cKDTree

    tol = 16 * np.finfo(np.float64).eps * old.value_scale
    dist, idx = cKDTree(new.points).query(old.points, distance_upper_bound=tol)
    return np.where(np.isfinite(dist), idx, -1).astype(np.int64)


# ------------------------------------------------------------------------------ solving
def lp_round(lp: Any, rnd: int, remaining: float, cold: float, warm: bool = True
             ) -> LPSolution:
    """One LP solve; a warm re-solve that takes longer than a few cold solves of the stage is
    stopped and redone from scratch. ``warm=False``: start cold at once."""
    limit = None if math.isinf(remaining) else remaining
    if rnd == 0 or not hasattr(lp, "reset") or math.isinf(cold):
        return lp.solve(limit)
    if not warm:
        lp.reset()
        sol = lp.solve(limit)
        sol.info["cold_start"] = True
        return sol
    cap = max(WARM_MIN_SECONDS, WARM_COLD_RATIO * cold)
    if cap >= remaining:
        return lp.solve(limit)
    sol = lp.solve(cap)
    if sol.status is not Status.TIME_LIMIT:
        return sol
    lp.reset()
    again = lp.solve(max(remaining - sol.seconds, 1e-3))
    again.seconds += sol.seconds
    again.info["warm_start_abandoned_after"] = sol.seconds
    return again


class CuttingPlanes:
    """Solve one stage's LP, adding violated pairs until none is left (or a limit is hit)."""

    # Rows into each violated point per round when ``cuts_per_point`` is None.
    default_per_point = 1

    def __init__(self, options: StageOptions, model: StageModel, stage: int, run: RunContext,
                 source: str) -> None:
        self.options, self.model, self.stage, self.run = options, model, stage, run
        data = model.data
        self.per_point = options.cuts_per_point or self.default_per_point
        self.max_cuts = options.max_cuts or max(data.size, 1000) * self.per_point
        self.summary: dict[str, Any] = {
            "stage": stage, "points": data.size, "source": source,
            "points_with_mass": int((data.masses != 0).sum()), "rounds": []}
        self.outcome = StageOutcome(summary=self.summary)
        self.cold = math.inf
        # After this many abandoned warm starts, later rounds start cold at once (None: never).
        self.cold_after_abandons: int | None = None
        self.abandons = 0

    def solve(self) -> StageOutcome:
        """Run the rounds; the outcome carries the last solution (for refinement)."""
        outcome, last_z = self.outcome, None
        for rnd in range(self.options.max_rounds):
            remaining = self.run.deadline - time.perf_counter()
            if remaining <= 0:
                outcome.status, outcome.reason = Status.TIME_LIMIT, "time_limit"
                if rnd == 0:
                    self._unsolved_bound()
                break
            warm = self.cold_after_abandons is None or self.abandons < self.cold_after_abandons
            sol = lp_round(self.model.lp, rnd, remaining, self.cold, warm)
            self.abandons += "warm_start_abandoned_after" in sol.info
            if rnd == 0:
                self.cold = sol.seconds
            last_z = sol.z if sol.z is not None else last_z
            cuts, stop = self._round(rnd, sol)
            if self._finished(sol, cuts, stop):
                break
            self._add(cuts)
        else:
            outcome.status, outcome.reason = Status.ITERATION_LIMIT, "max_rounds"
        self.summary.update(status=outcome.status.value, reason=outcome.reason,
                            pairs=int(self.model.lp.matrix().shape[0]))
        if last_z is not None:
            outcome.data, outcome.z, self.model.z = self.model.data, last_z, last_z
        return outcome

    def _round(self, rnd: int, sol: LPSolution) -> tuple[Cuts | None, bool]:
        """Bound, menu and cuts of one solve; returns the cuts and whether the callback stops."""
        run = self.run
        run.timings["lp"] += sol.seconds
        t0 = time.perf_counter()
        matrix = self.model.lp.matrix()
        upper, info = self._bound(matrix, sol.y, sol.y_allocation)
        run.add_time("bound", t0)
        self._offer_upper(rnd, sol, upper, info, int(matrix.shape[0]))
        record: dict[str, Any] = {"round": rnd, "pairs": int(matrix.shape[0]),
                                  "lp_status": sol.status.value, "lp_raw_status": sol.raw_status,
                                  "lp_seconds": sol.seconds, "iterations": sol.iterations,
                                  "upper": upper, "lp_duals": sol.y is not None, **sol.info}
        cuts = None
        if sol.z is not None:
            self._offer_menu(sol.z)
            if self.options.pairs == "cuts" and sol.status in (Status.OPTIMAL,
                                                                 Status.INACCURATE):
                cuts = self._separate(sol.z)
                record.update(max_violation=cuts.max_violation,
                              violated_points=cuts.violated_points, pieces=cuts.pieces,
                              cuts_added=len(cuts.i))
        record["lower"] = run.best.lower if run.best.menu is not None else None
        self.summary["rounds"].append(record)
        return cuts, self._report(rnd, record, cuts)

    def _unsolved_bound(self) -> None:
        """Out of time before the first LP: the bound at zero duals (the column box and the
        polytope rows' right-hand side alone) is still certified; offer it."""
        matrix = self.model.lp.matrix()
        upper, info = self._bound(matrix, None)
        sol = LPSolution(Status.TIME_LIMIT, "not solved: the time limit came first", None, None,
                         0.0)
        self._offer_upper(0, sol, upper, info, int(matrix.shape[0]))

    def _bound(self, matrix: Any, duals: FloatArray | None,
               allocation_duals: FloatArray | None = None) -> tuple[float, dict[str, Any]]:
        """The certified bound at this round's duals (:func:`.model.certified_bound`)."""
        return certified_bound(self.model.data, matrix, duals, allocation_duals)

    def _offer_upper(self, rnd: int, sol: LPSolution, upper: float, info: dict[str, Any],
                     rows: int) -> None:
        best, data = self.run.best, self.model.data
        if upper >= best.upper:
            return
        pair_i, pair_j = self.model.lp.pairs()
        certificate = LPCertificate(
            bound=upper, dual_objective=info["raw"],
            roundoff_allowance=info["roundoff_allowance"],
            quadrature_allowance=info["quadrature_allowance"], points=data.points,
            masses=data.masses, pair_source=pair_i, pair_target=pair_j,
            duals=None if sol.y is None else np.asarray(sol.y, dtype=np.float64),
            stage=self.stage, round=rnd, lp_status=sol.status.value,
            **allocation_fields(data, sol.y_allocation))
        best.offer_upper(certificate, {**info, "stage": self.stage, "round": rnd,
                                       "points": data.size, "pairs": rows,
                                       "lp_status": sol.status.value})

    def _offer_menu(self, z: FloatArray) -> None:
        t0 = time.perf_counter()
        run, data = self.run, self.model.data
        menu = lp_menu(run.problem, data.points, z, data.planes)
        with warnings.catch_warnings():
            # The exact evaluation falls back to QMC (with a warning) when near-duplicate
            # items break its tiling check; such a menu is still valid, with an interval.
            warnings.simplefilter("ignore", AmmOptWarning)
            ev = evaluate(run.problem, menu, method=self.options.evaluate_method)
        run.best.offer_menu(menu, ev, f"LP menu, stage {self.stage}")
        run.add_time("evaluate", t0)

    def _separate(self, z: FloatArray) -> Cuts:
        t0 = time.perf_counter()
        data = self.model.data
        u, g = data.split(z)
        cuts = find_cuts(data.points, u, g, self.options.cut_tol, self.max_cuts,
                         self.model.keys, data.planes, self.per_point)
        self.run.add_time("separation", t0)
        return cuts

    def _report(self, rnd: int, record: dict[str, Any], cuts: Cuts | None) -> bool:
        """Progress bar and callback; True when the callback asks to stop."""
        run = self.run
        report = GridLPProgress(stage=self.stage, round=rnd, points=self.model.data.size,
                                pairs=record["pairs"], lower=record["lower"],
                                upper=run.best.upper,
                                max_violation=math.nan if cuts is None else cuts.max_violation,
                                seconds=time.perf_counter() - run.start)
        if run.bar is not None:
            run.bar.update(1)
            run.bar.set_postfix(stage=self.stage, points=report.points, pairs=report.pairs,
                                lower="-" if report.lower is None else f"{report.lower:.6g}",
                                upper=f"{report.upper:.6g}")
        callback = self.options.callback
        return bool(callback(report)) if callback is not None else False

    def _finished(self, sol: LPSolution, cuts: Cuts | None, stop: bool) -> bool:
        """Whether the stage ends after this round (and why, in the outcome)."""
        outcome = self.outcome
        no_cuts = cuts is None or not len(cuts.i)
        if sol.status is not Status.OPTIMAL:
            # A failed LP after earlier successes still leaves valid bounds: inaccurate.
            failed = sol.status in (Status.FAILED, Status.INFEASIBLE)
            outcome.status = Status.INACCURATE if failed and self.run.best.menu is not None \
                else sol.status
            outcome.reason = f"LP {sol.status.value}: {sol.raw_status}"
            if sol.status is not Status.INACCURATE or no_cuts:
                return True
        if stop:
            outcome.reason = "callback"
            return True
        if no_cuts:
            if outcome.status is Status.OPTIMAL:
                outcome.reason = "no violated pairs" if cuts is not None else "all pairs"
            return True
        return False

    def _add(self, cuts: Cuts | None) -> None:
        assert cuts is not None
        self.model.lp.add(cuts.i, cuts.j)
        self.model.keys = np.sort(np.concatenate([self.model.keys, pair_keys(cuts.i, cuts.j)]))
