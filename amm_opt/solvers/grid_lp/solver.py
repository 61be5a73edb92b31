r"""GridLP: the certified grid LP of MATH §3 with cutting planes and adaptive refinement.

The signed measure :math:`\mu` of MATH §2 is placed conservatively on a mesh of the value box
(:func:`amm_opt.discretisation.discretize` on the base tensor grid; :class:`~._lp_mesh.Mesh` cell by
cell once cells are refined): positive mass on cell corners with interpolation weights, negative
mass at barycentres, the atom at the belief :math:`c`. With a utility :math:`u_i` and a gradient
:math:`g_i` at every point :math:`P_i`,

.. math::

    \overline{\Pi} = \max_{u, g}\; \sum_i m_i u_i \quad \text{s.t.}\quad
    u_j \ge u_i + g_i \cdot (P_j - P_i)\;\; ((i, j) \in \mathcal{E}),\quad
    g_i \in X,\quad 0 \le u_i \le \sigma_X(P_i - c),\quad u_c = 0 ,

is at least the optimal profit for **every** mesh and **every** pair set :math:`\mathcal{E}`
(each feasible utility restricted to the points is feasible and scores at least its profit).
The number reported as ``bounds.upper`` is not the LP's primal value but weak duality evaluated
at the solver's row duals with every variable's box (:func:`~._lp_model.certified_bound`): valid
whatever the solver's accuracy, with explicit floating-point allowances.

**Planes at positive mass only.** Only the points of positive mass and the belief carry a
gradient and pair rows *from* them (``planes="positive"``); the barycentres (negative mass,
most of the points) keep only a value, held up by the planes of the others. The LP optimum is
the same as with a plane at every point (proof in :mod:`~._lp_model`); the LP is a fraction of
the size (uniform values: planes on the boundary only).

**Cutting planes.** Pair rows start from the plane points' edges of the Delaunay triangulation
(or k nearest neighbours), each point's nearest plane points and, from the second stage on, the
plane that was highest at each point in the previous stage's solution (usually all the rows the
stage needs). After each solve, :func:`~._lp_model.find_cuts` finds the most violated pairs over
*all* ordered pairs by evaluating the upper envelope of the solution's tangent planes in chunks
(never an all-pairs loop); they are appended and the dual simplex restarts from the previous
basis.

**Adaptive refinement.** Cells where the solution bends (:func:`~._lp_mesh.kink_indicator`) are
split into :math:`2^n` children (Dörfler marking); cells where :math:`u` is affine stay coarse,
since interpolation and Jensen are exact there. Refinement stops at ``target_gap``,
``time_limit``, ``max_refinements`` or ``max_points``.

**Menu.** The LP solution is a menu :math:`(g_i,\; p_i = P_i\cdot g_i - u_i)`, evaluated exactly
(the lower bound), then polished (:func:`amm_opt.polishing.polish`).

References
----------
Curry, Fan, Parkes, "Optimal Automated Market Makers: Differentiable Economics and Strong
Duality", arXiv 2402.09129; Huangfu, Hall, "Parallelizing the dual revised simplex method",
Math. Prog. Comp. 2018 (HiGHS); Dörfler, "A convergent adaptive algorithm for Poisson's
equation", SINUM 1996 (marking).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ...discretisation import discretize
from ...errors import AmmOptWarning, BackendUnavailableError, OptionError, UnsupportedProblemError
from ...evaluate import Evaluation, evaluate
from ...menu import Menu
from ...problem import Problem
from ...result import Bounds, Result, Status
from ...certificates.lp import LPCertificate
from ..base import Solver, progress_bar

__all__ = ["GridLP", "GridLPProgress"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_PAIRS = ("cuts", "all")
_START_PAIRS = ("delaunay", "knn")
_PLANES = ("positive", "all")
# Rows into each point without a plane of its own, from its nearest plane points, in a stage's
# first LP.
_PLANE_NEIGHBOURS = 2
_HIGHS_METHODS = ("auto", "simplex", "ipm", "hybrid", "choose")
# highs_method="auto": the dual simplex up to this many goods, "hybrid" beyond. Measured on the
# uniform 3-good LP at 21^3: cold dual simplex 26.6 s, interior point with crossover 8.9 s; all
# rounds 47 s (simplex), 81 s (interior point, no warm start), 24 s (hybrid). In 2-D the stage
# LPs are solved in one simplex run of a second or two, and hybrid was slower (R2 to 1e-4:
# 18.8 s of LP against 13.9 s).
_SIMPLEX_MAX_GOODS = 2
_EVAL_METHODS = ("auto", "exact", "quadrature", "qmc")
_DEFAULT_GRID = {1: 64, 2: 32, 3: 10}
_FALLBACK_GRID = 4
# Allocations closer than this (relative to the box width) are one item of the LP menu: the
# LP's gradients at neighbouring points are equal up to the solver's round-off.
_SAME_ITEM_RTOL = 1e-9
_POLISH_MAX_GOODS = 3
# Rows with slack above -this at the last solution of a stage are carried to the next stage.
_TIGHT_TOL = 1e-9
# A warm re-solve is abandoned (and redone cold) after this many cold-solve times of the stage,
# but never before this many seconds.
_WARM_COLD_RATIO = 3.0
_WARM_MIN_SECONDS = 5.0


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and \
        not isinstance(value, bool) and math.isfinite(float(value))


@dataclass(frozen=True)
class GridLPProgress:
    """One LP solve of :class:`GridLP`, as handed to ``callback``.

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


@dataclass
class _State:
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
        if self.menu is None or not math.isfinite(self.upper):
            return math.inf
        rel = Bounds(lower=self.lower, upper=self.upper).relative_gap
        return math.inf if rel is None else rel


@dataclass(frozen=True)
class GridLP(Solver):
    r"""Certified upper bound and a menu from the grid LP (MATH §3).

    .. math::

        \overline{\Pi} = \max_{u, g} \sum_i m_i u_i \;\;\text{s.t.}\;\;
        u_j \ge u_i + g_i\cdot(P_j - P_i),\; g_i \in X,\; 0 \le u_i \le \sigma_X(P_i - c),\;
        u_c = 0

    Parameters
    ----------
    grid : int, sequence of int, sequence of arrays, or None
        Base grid: cells per axis, per good, or breakpoints per good (see
        :func:`amm_opt.discretisation.discretize`). None: 64 cells for one good, 32 per axis for two,
        10 for three, 4 beyond.
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
        Pairs added per round (the most violated first); None: the number of points.
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
        No refinement beyond this many LP points.
    max_all_pairs : int
        Largest number of pair rows ``pairs="all"`` builds (memory guard).
    lp_solver : {"HIGHS", "CLARABEL", "SCS", "MOSEK"}
        LP solver. HiGHS runs directly (``interface="auto"``); the others through cvxpy.
        MOSEK must be installed and licensed.
    interface : {"auto", "highspy", "scipy", "cvxpy"}
        ``"auto"``: highspy (incremental rows, warm-started dual simplex) for HIGHS when it is
        installed, else SciPy's bundled HiGHS; cvxpy for the other solvers.
    highs_method : {"auto", "simplex", "ipm", "hybrid", "choose"}
        HiGHS algorithm (direct interfaces). ``"hybrid"``: interior point with crossover for
        each stage's first LP, then the dual simplex warm-started for the cutting-plane rounds.
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

    name: ClassVar[str] = "grid_lp"
    description: ClassVar[str] = ("grid LP (HiGHS/cvxpy): a menu and a certified upper bound, "
                                  "cutting planes and adaptive grids")
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = "lp"
    provides_menu: ClassVar[bool] = True
    provides_upper: ClassVar[bool] = True
    needs_density: ClassVar[bool] = True
    linear_update_only: ClassVar[str | None] = "the grid LP is derived for the linear update"

    # ------------------------------------------------------------------ options
    def __post_init__(self) -> None:
        from .interfaces import CVXPY_SOLVERS, INTERFACES

        if self.grid is not None:
            allowed = "cells per axis (int >= 1), one int per good, or breakpoint arrays"
            if _is_int(self.grid):
                if self.grid < 1:
                    raise OptionError("needs at least one cell", field="grid", value=self.grid,
                                      allowed=allowed)
            elif isinstance(self.grid, (str, bytes)) or \
                    not isinstance(self.grid, (Sequence, np.ndarray)):
                raise OptionError("is not a grid description", field="grid", value=self.grid,
                                  allowed=allowed)
        lp_solver = self.lp_solver.upper() if isinstance(self.lp_solver, str) else self.lp_solver
        object.__setattr__(self, "lp_solver", lp_solver)
        for name, value, allowed in (("pairs", self.pairs, _PAIRS),
                                     ("start_pairs", self.start_pairs, _START_PAIRS),
                                     ("planes", self.planes, _PLANES),
                                     ("lp_solver", lp_solver, CVXPY_SOLVERS),
                                     ("interface", self.interface, INTERFACES),
                                     ("highs_method", self.highs_method, _HIGHS_METHODS),
                                     ("evaluate_method", self.evaluate_method, _EVAL_METHODS)):
            if value not in allowed:
                raise OptionError("is not a known choice", field=name, value=value,
                                  allowed=", ".join(allowed))
        if self.interface in ("highspy", "scipy") and lp_solver != "HIGHS":
            raise OptionError(f"runs HiGHS only, not {lp_solver}", field="interface",
                              value=self.interface, allowed="'cvxpy' or 'auto' for other solvers")
        for name, low, optional in (("neighbours", 1, False), ("max_rounds", 1, False),
                                    ("max_points", 2, False), ("max_all_pairs", 1, False),
                                    ("max_cuts", 1, True), ("max_refinements", 0, True)):
            value = getattr(self, name)
            if value is None and optional:
                continue
            if not _is_int(value) or value < low:
                raise OptionError("must be an integer", field=name, value=value,
                                  allowed=f"an integer >= {low}" + (" or None" if optional
                                                                   else ""))
        for name, optional in (("cut_tol", False), ("target_gap", True), ("time_limit", True)):
            value = getattr(self, name)
            if value is None and optional:
                continue
            if not _is_real(value) or float(value) <= 0:
                raise OptionError("must be a positive number", field=name, value=value,
                                  allowed="> 0" + (" or None" if optional else ""))
        if not _is_real(self.refine_fraction) or not 0 < self.refine_fraction <= 1:
            raise OptionError("must be in (0, 1]", field="refine_fraction",
                              value=self.refine_fraction, allowed="e.g. 0.5")
        for name in ("polish", "verbose", "carry_pairs"):
            if not isinstance(getattr(self, name), bool):
                raise OptionError("must be True or False", field=name,
                                  value=getattr(self, name), allowed="True or False")
        if self.progress is not None and not isinstance(self.progress, bool):
            raise OptionError("must be True, False or None", field="progress",
                              value=self.progress, allowed="True, False or None (automatic)")
        if self.callback is not None and not callable(self.callback):
            raise OptionError("must be callable", field="callback", value=self.callback,
                              allowed="a function callback(progress) or None")

    def settings(self) -> dict[str, Any]:
        out = super().settings()
        if self.grid is not None and not _is_int(self.grid):
            out["grid"] = [g if _is_int(g) else np.asarray(g, dtype=float).tolist()
                           for g in self.grid]
        return out

    def _interface(self) -> str:
        from .interfaces import interface_availability, resolve_interface

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
    def compute(self, problem: Problem) -> Result:
        from .mesh import Mesh

        interface = self._interface()
        start = time.perf_counter()
        deadline = math.inf if self.time_limit is None else start + float(self.time_limit)
        refinements = self.max_refinements
        if refinements is None:
            refinements = 0 if self.target_gap is None else 10**9
        mesh = Mesh.from_grid(problem, self._grid(problem))
        state = _State()
        stages: list[dict[str, Any]] = []
        timings = {"discretize": 0.0, "lp": 0.0, "separation": 0.0, "bound": 0.0,
                   "evaluate": 0.0, "refine": 0.0, "polish": 0.0}
        bar = progress_bar(self.progress, desc="grid_lp", unit="LP")
        status = Status.OPTIMAL
        stop_reason = "converged"
        model: _Model | None = None
        try:
            for stage in range(refinements + 1):
                t0 = time.perf_counter()
                if stage == 0 and mesh.max_level == 0:
                    from .mesh import MeshPoints

                    mp = MeshPoints.from_measure(discretize(problem, mesh.axes))
                else:
                    mp = mesh.points()
                timings["discretize"] += time.perf_counter() - t0
                if stage > 0 and len(mp.points) > self.max_points:
                    stop_reason = "max_points"
                    break
                model = self._stage_model(problem, mp, interface, model)
                outcome = self._solve_stage(model, stage, state, deadline, timings, bar, start,
                                            problem, mp.source)
                stages.append(outcome.summary)
                if outcome.status is not Status.OPTIMAL:
                    status, stop_reason = outcome.status, outcome.reason
                    break
                if outcome.reason == "callback":
                    stop_reason = "callback"
                    break
                if self.target_gap is not None:
                    # Polishing raises the lower bound by a small fraction (it fixes prices,
                    # not the grid), so it is tried once the gap is within twice the target.
                    if state.gap() > self.target_gap and self.polish and \
                            state.gap() <= 2 * self.target_gap:
                        self._polish(problem, state, timings, deadline, quick=True)
                    if state.gap() <= self.target_gap:
                        stop_reason = "target_gap"
                        break
                if stage == refinements:
                    stop_reason = "converged" if self.target_gap is None else "max_refinements"
                    break
                if time.perf_counter() >= deadline:
                    status, stop_reason = Status.TIME_LIMIT, "time_limit"
                    break
                t0 = time.perf_counter()
                mesh, marked = self._refine(mesh, outcome, len(mp.points))
                timings["refine"] += time.perf_counter() - t0
                if not marked:
                    stop_reason = "nothing_to_refine"
                    break
        finally:
            if bar is not None:
                bar.close()

        if state.menu is None:
            return self._failed(problem, state, stages, timings, start, status)
        if self.polish:
            self._polish(problem, state, timings, deadline)
        if self.target_gap is not None and state.gap() > self.target_gap and \
                status is Status.OPTIMAL and stop_reason in ("max_refinements", "max_points",
                                                             "nothing_to_refine"):
            # The LPs were solved, but the requested precision was not reached.
            status = Status.ITERATION_LIMIT
        return self._result(problem, state, stages, timings, start, status, stop_reason,
                            interface)

    # ------------------------------------------------------------------ one stage
    def _stage_model(self, problem: Problem, mp: Any, interface: str,
                     model: _Model | None) -> _Model:
        """The LP of a stage on the stage's points: the start pairs from plane points, each
        point's nearest plane points, and (from the second stage on) at every point the plane
        that was highest there at the previous stage's solution (plus, with ``carry_pairs``,
        the previous stage's tight pairs).

        (Appending the new points to the previous model to keep its basis was slower: after
        the cost changes the warm start took longer than a cold dual simplex.)"""
        from .interfaces import make_interface
        from .model import LPData, all_pairs, key_pairs, pair_keys

        data = LPData.build(problem, mp, self.planes)
        count = data.size
        method = self.highs_method
        if method == "auto":
            method = "simplex" if problem.goods <= _SIMPLEX_MAX_GOODS else "hybrid"
        lp = make_interface(interface, data, self.lp_solver, method, self.verbose)
        if self.pairs == "all":
            rows = len(data.planes) * (count - 1)
            if rows > self.max_all_pairs:
                raise UnsupportedProblemError(
                    f"pairs='all' needs {rows} pair rows for {count} points",
                    field="pairs", value=self.pairs,
                    allowed=f"pairs='cuts', a coarser grid, or max_all_pairs >= {rows}")
            i, j = all_pairs(count, data.planes)
            lp.add(i, j)
            return _Model(data, lp, np.sort(pair_keys(i, j)))
        i, j = self._start_rows(data, model)
        keys = np.unique(pair_keys(i, j))
        i, j = key_pairs(keys)
        lp.add(i, j)
        return _Model(data, lp, keys)

    def _start_rows(self, data: Any, model: _Model | None) -> tuple[IntArray, IntArray]:
        from .model import start_pairs

        mask = data.has_plane
        i, j = start_pairs(data.points, self.start_pairs, self.neighbours)
        parts_i, parts_j = [i[mask[i]]], [j[mask[i]]]
        if len(data.planes) < data.size:
            # Points without a plane of their own are held up only by rows into them: start
            # each with its nearest plane points.
            from scipy.spatial import cKDTree

            k = min(_PLANE_NEIGHBOURS, len(data.planes))
            _, near = cKDTree(data.points[data.planes]).query(data.points, k=k)
            near = data.planes[np.asarray(near, dtype=np.int64).reshape(data.size, k)]
            parts_i.append(near.ravel())
            parts_j.append(np.repeat(np.arange(data.size, dtype=np.int64), k))
        if model is not None and model.z is not None:
            new_index = _match_points(model.data, data)
            # The previous solution's highest plane at every new point (its owner mapped by
            # coordinates; owners that left the mesh are dropped).
            owner = _highest_plane(model.data, model.z, data.points)
            ci = new_index[owner]
            ok = ci >= 0
            parts_i.append(ci[ok])
            parts_j.append(np.flatnonzero(ok).astype(np.int64))
            if self.carry_pairs:
                oi, oj = model.lp.pairs()
                tight = model.lp.matrix() @ model.z >= -_TIGHT_TOL
                ci, cj = new_index[oi[tight]], new_index[oj[tight]]
                ok = (ci >= 0) & (cj >= 0)
                parts_i.append(ci[ok])
                parts_j.append(cj[ok])
        i, j = np.concatenate(parts_i), np.concatenate(parts_j)
        keep = (i != j) & mask[i]
        return i[keep], j[keep]

    def _solve_stage(self, model: _Model, stage: int, state: _State, deadline: float,
                     timings: dict[str, float], bar: Any, start: float, problem: Problem,
                     source: str) -> _StageOutcome:
        from .model import certified_bound, find_cuts, pair_keys

        data, lp, keys = model.data, model.lp, model.keys
        count = data.size
        max_cuts = self.max_cuts or max(count, 1000)
        summary: dict[str, Any] = {"stage": stage, "points": count, "source": source,
                                   "points_with_mass": int((data.masses != 0).sum()),
                                   "rounds": []}
        outcome = _StageOutcome(summary=summary)
        last_z: FloatArray | None = None
        cold = math.inf
        for rnd in range(self.max_rounds):
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                outcome.status, outcome.reason = Status.TIME_LIMIT, "time_limit"
                break
            sol = self._lp_round(lp, rnd, remaining, cold)
            if rnd == 0:
                cold = sol.seconds
            timings["lp"] += sol.seconds
            t0 = time.perf_counter()
            matrix = lp.matrix()
            upper, info = certified_bound(data, matrix, sol.y)
            timings["bound"] += time.perf_counter() - t0
            if upper < state.upper:
                state.upper = upper
                state.upper_info = {**info, "stage": stage, "round": rnd, "points": count,
                                    "pairs": int(matrix.shape[0]), "lp_status": sol.status.value}
                pair_i, pair_j = lp.pairs()
                state.certificate = LPCertificate(
                    bound=upper, dual_objective=info["raw"],
                    roundoff_allowance=info["roundoff_allowance"],
                    quadrature_allowance=info["quadrature_allowance"], points=data.points,
                    masses=data.masses, pair_source=pair_i, pair_target=pair_j,
                    duals=None if sol.y is None else np.asarray(sol.y, dtype=np.float64),
                    stage=stage, round=rnd, lp_status=sol.status.value)
            record: dict[str, Any] = {"round": rnd, "pairs": int(matrix.shape[0]),
                                      "lp_status": sol.status.value,
                                      "lp_raw_status": sol.raw_status,
                                      "lp_seconds": sol.seconds, "iterations": sol.iterations,
                                      "upper": upper, "lp_duals": sol.y is not None,
                                      **sol.info}
            violation = math.nan
            cuts = None
            if sol.z is not None:
                last_z = sol.z
                t0 = time.perf_counter()
                self._update_lower(problem, data, sol.z, state, f"LP menu, stage {stage}")
                timings["evaluate"] += time.perf_counter() - t0
                if self.pairs == "cuts" and sol.status in (Status.OPTIMAL, Status.INACCURATE):
                    t0 = time.perf_counter()
                    u, g = data.split(sol.z)
                    cuts = find_cuts(data.points, u, g, self.cut_tol, max_cuts, keys,
                                     data.planes)
                    timings["separation"] += time.perf_counter() - t0
                    violation = cuts.max_violation
                    record.update(max_violation=violation, violated_points=cuts.violated_points,
                                  pieces=cuts.pieces, cuts_added=len(cuts.i))
            record["lower"] = state.lower if state.menu is not None else None
            summary["rounds"].append(record)
            report = GridLPProgress(stage=stage, round=rnd, points=count,
                                    pairs=int(matrix.shape[0]),
                                    lower=record["lower"], upper=state.upper,
                                    max_violation=violation,
                                    seconds=time.perf_counter() - start)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(stage=stage, points=count, pairs=report.pairs,
                                lower=f"{report.lower:.6g}" if report.lower is not None else "-",
                                upper=f"{report.upper:.6g}")
            stop = bool(self.callback(report)) if self.callback is not None else False
            if sol.status is not Status.OPTIMAL:
                outcome.status = _stage_status(sol.status, state)
                outcome.reason = f"LP {sol.status.value}: {sol.raw_status}"
                if sol.status is not Status.INACCURATE or cuts is None or not len(cuts.i):
                    break
            if stop:
                outcome.reason = "callback"
                break
            if cuts is None or not len(cuts.i):
                if outcome.status is Status.OPTIMAL:
                    outcome.reason = "no violated pairs" if cuts is not None else "all pairs"
                break
            lp.add(cuts.i, cuts.j)
            keys = np.sort(np.concatenate([keys, pair_keys(cuts.i, cuts.j)]))
            model.keys = keys
        else:
            outcome.status, outcome.reason = Status.ITERATION_LIMIT, "max_rounds"
        summary.update(status=outcome.status.value, reason=outcome.reason,
                       pairs=int(lp.matrix().shape[0]))
        if last_z is not None:
            outcome.data = data
            outcome.z = last_z
            model.z = last_z
        return outcome

    # ------------------------------------------------------------------ pieces
    @staticmethod
    def _lp_round(lp: Any, rnd: int, remaining: float, cold: float) -> Any:
        """One LP solve. A warm-started re-solve (HiGHS keeps its basis between rounds) that
        takes longer than a few cold solves of the stage is stopped and redone from scratch:
        on refined meshes the dual simplex occasionally stalls after cuts are appended (minutes
        where a cold solve takes seconds)."""
        limit = None if math.isinf(remaining) else remaining
        if rnd == 0 or not hasattr(lp, "reset") or math.isinf(cold):
            return lp.solve(limit)
        cap = max(_WARM_MIN_SECONDS, _WARM_COLD_RATIO * cold)
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

    def _update_lower(self, problem: Problem, data: Any, z: FloatArray, state: _State,
                      source: str) -> None:
        menu = lp_menu(problem, data.points, z, data.planes)
        with warnings.catch_warnings():
            # The exact evaluation falls back to QMC (with a warning) when near-duplicate
            # items break its tiling check; such a menu is still valid, with an interval.
            warnings.simplefilter("ignore", AmmOptWarning)
            ev = evaluate(problem, menu, method=self.evaluate_method)
        if state.menu is None or _pessimistic(ev) > _pessimistic(state.evaluation):
            state.menu, state.evaluation, state.lower = menu, ev, float(ev.profit)
            state.lower_source = source

    def _polish(self, problem: Problem, state: _State, timings: dict[str, float],
                deadline: float, quick: bool = False) -> None:
        """Polish the best menu. ``quick``: prices only, no pruning (the check inside the
        refinement loop); otherwise the full polish, once per menu."""
        from ...polishing import polish

        done = "repriced" if quick else "polished"
        if state.menu is None or problem.goods > _POLISH_MAX_GOODS or \
                self.evaluate_method == "qmc" or state.lower_source.startswith(done) or \
                state.lower_source.startswith("polished"):
            return
        t0 = time.perf_counter()
        limit = None
        if self.time_limit is not None:
            # What is left of the budget, but at least a tenth of it (polishing may run after
            # the LPs have used everything).
            limit = max(deadline - time.perf_counter(), 0.1 * float(self.time_limit))
        options: dict[str, Any] = {"optimize_allocations": False, "prune_rtol": 0.0,
                                   "max_evaluations": 2000} if quick else {}
        out = polish(problem, state.menu, evaluate_method=self.evaluate_method,
                     time_limit=limit, **options)
        timings["polish"] += time.perf_counter() - t0
        state.polish_runs.append({"quick": quick, **out.summary()})
        if out.improved and out.profit > state.lower:
            source = state.lower_source.removeprefix("repriced ")
            state.menu, state.evaluation, state.lower = out.menu, out.evaluation, out.profit
            state.lower_source = f"{done} {source}"

    def _refine(self, mesh: Any, outcome: _StageOutcome, points: int) -> tuple[Any, bool]:
        from .mesh import dorfler_mark, kink_indicator

        if outcome.z is None:
            return mesh, False
        envelope = _envelope(outcome.data, outcome.z)
        eta = kink_indicator(mesh, envelope)
        # Each refined cell adds about 2^n barycentres and 3^n - 2^n corner points (fewer where
        # they carry no mass); stop before the point budget is exceeded.
        per_cell = 3 ** mesh.goods
        budget = max(0, (self.max_points - points) // per_cell)
        mark = dorfler_mark(eta, float(self.refine_fraction), budget)
        if not mark.any():
            return mesh, False
        return mesh.refine(mark), True

    # ------------------------------------------------------------------ packaging
    def _stats(self, state: _State, stages: list[dict[str, Any]], timings: dict[str, float],
               start: float) -> dict[str, Any]:
        last = stages[-1] if stages else {}
        return {
            "settings": self.settings(),
            "timings": timings,
            "stages": stages,
            "refinements": max(0, len(stages) - 1),
            "rounds": sum(len(s["rounds"]) for s in stages),
            "lp_points": last.get("points"),
            "lp_pairs": last.get("pairs"),
            "upper_certificate": state.upper_info,
            "lower_source": state.lower_source,
            "polish": state.polish_runs,
        }

    def _failed(self, problem: Problem, state: _State, stages: list[dict[str, Any]],
                timings: dict[str, float], start: float, status: Status) -> Result:
        stats = self._stats(state, stages, timings, start)
        messages = [s.get("reason", "") for s in stages]
        upper = state.upper if math.isfinite(state.upper) else None
        # No LP gave a solution: a time limit stays a time limit, anything else failed.
        final = status if status is Status.TIME_LIMIT else Status.FAILED
        return Result(menu=None, profit=None,
                      bounds=Bounds(upper=upper, upper_method=self._upper_method(state)),
                      status=final, backend=self.name,
                      message="; ".join(m for m in messages if m) or "no LP solution",
                      certificate=state.certificate, stats=stats)

    def _upper_method(self, state: _State) -> str:
        info = state.upper_info
        if not info:
            return ""
        return (f"grid LP dual (weak duality with variable bounds), {info['points']} points, "
                f"{info['pairs']} pairs, stage {info['stage']}")

    def _result(self, problem: Problem, state: _State, stages: list[dict[str, Any]],
                timings: dict[str, float], start: float, status: Status, stop_reason: str,
                interface: str) -> Result:
        stats = self._stats(state, stages, timings, start)
        stats.update(stop_reason=stop_reason, interface=interface, lp_solver=self.lp_solver)
        message = stop_reason if status is Status.OPTIMAL else \
            "; ".join(str(s.get("reason", "")) for s in stages[-1:])
        ev = state.evaluation
        assert state.menu is not None and ev is not None
        bounds = Bounds(lower=float(ev.profit), upper=state.upper, lower_method=ev.method,
                        upper_method=self._upper_method(state), lower_stderr=ev.stderr)
        return Result(menu=state.menu, profit=float(ev.profit), bounds=bounds, status=status,
                      backend=self.name, message=message, certificate=state.certificate,
                      stats=stats, evaluation=ev)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------
@dataclass
class _StageOutcome:
    summary: dict[str, Any]
    status: Status = Status.OPTIMAL
    reason: str = ""
    data: Any = None
    z: FloatArray | None = None


@dataclass
class _Model:
    """The LP of the current stage: data, solver interface, sorted keys of its pair rows."""

    data: Any
    lp: Any
    keys: IntArray
    z: FloatArray | None = None


def _match_points(old: Any, new: Any) -> IntArray:
    """Index in ``new`` of each point of ``old`` (-1 where none within 16 ulps of the box)."""
    from scipy.spatial import cKDTree

    tol = 16 * np.finfo(np.float64).eps * old.value_scale
    dist, idx = cKDTree(new.points).query(old.points, distance_upper_bound=tol)
    return np.where(np.isfinite(dist), idx, -1).astype(np.int64)


def _highest_plane(data: Any, z: FloatArray, points: FloatArray) -> IntArray:
    """Index (in ``data``) of the plane point whose tangent plane is highest at each point."""
    from .model import upper_envelope

    gk, ak, owner = data.plane_pieces(z)
    _, arg = upper_envelope(np.asarray(points, dtype=np.float64), gk, ak)
    return owner[arg]


def _pessimistic(ev: Evaluation | None) -> float:
    """A Monte-Carlo profit counts four standard errors lower when menus are compared."""
    if ev is None:
        return -math.inf
    return ev.profit - (4.0 * ev.stderr if ev.method in ("qmc", "sample-mean") else 0.0)


def _stage_status(lp_status: Status, state: _State) -> Status:
    """A failed LP after earlier successes still leaves valid bounds: report it as inaccurate."""
    if lp_status in (Status.FAILED, Status.INFEASIBLE) and state.menu is not None:
        return Status.INACCURATE
    return lp_status


def lp_menu(problem: Problem, points: FloatArray, z: FloatArray,
            planes: IntArray | None = None) -> Menu:
    r"""The menu of an LP solution: items :math:`(g_i,\; P_i\cdot g_i - u_i)`.

    Gradients are clipped into the allocation box (solver round-off may leave them a hair
    outside), items whose allocations agree to :math:`10^{-9}` of the box width are merged
    keeping the cheapest (the others are never strictly preferred), and only items that are a
    best choice at some LP point are kept (they reproduce the solution's envelope there).
    ``planes``: the points whose planes are items (``LPData.planes``; None: all).
    """
    count, n = points.shape
    block = np.asarray(z, dtype=np.float64).reshape(count, n + 1)
    src = np.arange(count) if planes is None else np.asarray(planes, dtype=np.int64)
    u = block[src, 0]
    low, high = problem.allocation_low, problem.allocation_high
    g = np.clip(block[src, 1:], low, high)
    p = np.einsum("ij,ij->i", g, points[src]) - u
    width = np.where(high > low, high - low, 1.0)
    key = np.round(g / width / _SAME_ITEM_RTOL)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    order = np.lexsort((p, inv))
    first = order[np.r_[True, inv[order][1:] != inv[order][:-1]]]
    menu = Menu(g[first], p[first])
    used = np.unique(menu.choose(points))
    return menu.subset(used)


def _envelope(data: Any, z: FloatArray) -> Callable[[FloatArray], tuple[FloatArray, FloatArray]]:
    """``v -> (U(v), gradient of the maximising plane)`` for the envelope
    ``U(v) = max_i u_i + g_i.(v - P_i)`` over the plane points (chunked)."""
    from .model import upper_envelope

    gk, ak, _ = data.plane_pieces(z)

    def evaluate_at(v: FloatArray) -> tuple[FloatArray, FloatArray]:
        best, arg = upper_envelope(np.asarray(v, dtype=np.float64), gk, ak)
        return best, gk[arg]

    return evaluate_at


