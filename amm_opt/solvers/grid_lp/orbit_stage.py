r"""The grid LP on orbit representatives: its rows, cutting planes, bound and menu.

For representatives :math:`r, s` (coordinates :math:`w = v - c`) and a group element
:math:`T`, the row :math:`u_s \ge u_r + g_r\cdot(T s - r)` holds for every invariant convex
utility (:math:`u(Ts) = u(s)`), and every pair row of the full LP between invariant solutions
is one of these. Separation needs no enumeration of the group: the plane of :math:`r` is
highest over the orbit of :math:`s` at :math:`\max_T g_r \cdot Ts = \hat g_r\cdot\hat s`
(:meth:`~amm_opt.symmetry.SymmetryGroup.best_images` gives the maximising image). The bound is
:func:`~.model.certified_bound` plus the folding allowance of :mod:`.orbits`; the menu is the
union of the images of the solution's planes.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...certificates.lp import LPCertificate
from ...errors import AmmOptWarning
from ...evaluate import evaluate
from ...menu import Menu
from ...problem import Problem
from ...result import Status
from ...symmetry import SymmetryGroup
from .interfaces import LPSolution, make_interface
from .menus import SAME_ITEM_RTOL
from .model import LPData, allocation_fields, certified_bound
from .orbits import OrbitPoints, orbit_lp_data
from .separation import Cuts, candidate_rows, upper_envelope, violating_planes
from .stages import (
    SIMPLEX_MAX_GOODS,
    CuttingPlanes,
    RunContext,
    StageModel,
    StageOptions,
    start_rows,
)

__all__ = ["OrbitCuts", "OrbitCuttingPlanes", "build_orbit_model", "find_orbit_cuts",
           "orbit_menu", "row_keys"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Row keys: source << 42 | target << 22 | transform code (base 2n over n <= 6 positions).
_SOURCE_SHIFT, _TARGET_SHIFT = 42, 22
MAX_ORBIT_POINTS = 1 << 20
MAX_ORBIT_GOODS = 6
# Images of the menu's planes are built for this many (plane, element) pairs at a time.
_IMAGE_CHUNK = 1 << 20
# Up to this many goods the menu keeps only items chosen at some image of an LP point (as the
# unfolded menu does); beyond, every image of a plane that is highest at some representative.
FILTER_MAX_GOODS = 3
# Start rows from each plane point to this many nearest images across the chamber's walls.
WALL_NEIGHBOURS = 4


def row_keys(i: IntArray, j: IntArray, code: IntArray) -> IntArray:
    """One int64 per row ``(source, target, transform)``."""
    return (np.asarray(i, dtype=np.int64) << _SOURCE_SHIFT) + \
        (np.asarray(j, dtype=np.int64) << _TARGET_SHIFT) + np.asarray(code, dtype=np.int64)


def identity_code(goods: int) -> int:
    """Transform code of the identity (:meth:`SymmetryGroup.best_images` numbering)."""
    return int(sum(d * (2 * goods) ** d for d in range(goods)))


@dataclass(frozen=True)
class OrbitCuts(Cuts):
    """:class:`~.separation.Cuts` with the image each row's plane is evaluated at and its key."""

    targets: FloatArray = field(default_factory=lambda: np.empty((0, 0)))
    keys: IntArray = field(default_factory=lambda: np.empty(0, np.int64))
    codes: IntArray = field(default_factory=lambda: np.empty(0, np.int64))


def build_orbit_model(options: StageOptions, problem: Problem, op: OrbitPoints, interface: str,
                      group: SymmetryGroup, deadline: float = math.inf
                      ) -> tuple[StageModel, IntArray]:
    """The reduced LP with its start rows (the usual start pairs among representatives, and
    pairs across the chamber's walls, :func:`wall_rows`); returns the model and the transform
    code of each row."""
    data = orbit_lp_data(problem, op, options.planes)
    method = options.highs_method
    if method == "auto":
        method = "simplex" if problem.goods <= SIMPLEX_MAX_GOODS else "hybrid"
    lp = make_interface(interface, data, options.lp_solver, method, options.verbose)
    i, j = start_rows(options, data, None, deadline)
    code = np.full(len(i), identity_code(problem.goods), dtype=np.int64)
    keys, first = np.unique(row_keys(i, j, code), return_index=True)
    i, j, code = i[first], j[first], code[first]
    lp.add(i, j)
    wi, wj, wt, wc = wall_rows(data, group, WALL_NEIGHBOURS)
    wkeys = row_keys(wi, wj, wc)
    new = ~np.isin(wkeys, keys)
    lp.add(wi[new], wj[new], wt[new])
    return StageModel(data, lp, np.sort(np.concatenate([keys, wkeys[new]]))), \
        np.concatenate([code, wc[new]])


def wall_rows(data: LPData, group: SymmetryGroup, k: int
              ) -> tuple[IntArray, IntArray, FloatArray, IntArray]:
    """Start rows across the walls of the canonical chamber: from each plane point to its
    ``k`` nearest images of representatives under the generators (:meth:`generators`), which
    the unfolded LP's neighbour pairs would contain. ``(i, j, T P_j, code)``."""
    from scipy.spatial import cKDTree

    gens = group.generators()
    if not gens or data.size < 2:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty((0, data.goods)), empty
    images = np.vstack([group.apply(perm, sign, data.points) for perm, sign in gens])
    owner = np.tile(np.arange(data.size, dtype=np.int64), len(gens))
    codes = np.repeat([group.element_code(perm, sign) for perm, sign in gens], data.size)
    # Images that coincide with their representative lie on the wall: nothing new.
    moved = np.any(images != data.points[owner], axis=1)
    images, owner, codes = images[moved], owner[moved], codes[moved]
    if not len(images):
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty((0, data.goods)), empty
    src = data.planes
    kk = min(k, len(images))
    _, near = cKDTree(images).query(data.points[src], k=kk)
    near = np.asarray(near, dtype=np.int64).reshape(len(src), kk)
    i = np.repeat(src, kk)
    hit = near.ravel()
    return i, owner[hit], images[hit], codes[hit].astype(np.int64)


def _pieces(data: LPData, group: SymmetryGroup, u: FloatArray, g: FloatArray
            ) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Distinct folded planes ``a + g_hat.w_hat``: ``(G_hat, A, owner, piece of each plane)``."""
    src = data.planes
    gs = g[src]
    a = u[src] - np.einsum("ij,ij->i", gs, data.points[src])
    gh = group.canonical(gs)
    _, first, inv = np.unique(np.column_stack([gh, a]), axis=0, return_index=True,
                              return_inverse=True)
    return gh[first], a[first], src[first].astype(np.int64), inv.ravel().astype(np.int64)


def find_orbit_cuts(data: LPData, group: SymmetryGroup, u: FloatArray, g: FloatArray,
                    tol: float, max_cuts: int, existing: IntArray, per_point: int = 1
                    ) -> OrbitCuts:
    r"""Most violated rows :math:`(r, s, T)` over all representatives and group elements.

    As :func:`~.separation.find_cuts`: per representative :math:`s` the rows from the
    ``per_point`` planes highest over its orbit, and for each violating plane its worst
    representative for every plane point carrying it; rows already in the LP (``existing``,
    sorted keys) are skipped.
    """
    src = data.planes
    gk, ak, owner, inv = _pieces(data, group, u, g)
    viol = violating_planes(data.points, gk, ak, u, tol, per_point)
    max_violation = viol.max_violation
    n = data.goods
    if not len(viol.point):
        return OrbitCuts(np.empty(0, np.int64), np.empty(0, np.int64), max_violation, 0,
                         len(ak), np.empty((0, n)))
    piece, source, cj, cv = candidate_rows(viol, inv, len(ak))
    ci = np.where(source >= 0, src[np.maximum(source, 0)], owner[piece])
    targets, code = group.best_images(g[ci], data.points[cj])
    keys = row_keys(ci, cj, code)
    trivial = (ci == cj) & np.all(targets == data.points[cj], axis=1)
    keep = ~trivial & ~np.isin(keys, existing)
    keys, cv, targets, ci, cj, code = keys[keep], cv[keep], targets[keep], ci[keep], \
        cj[keep], code[keep]
    keys, pos = np.unique(keys, return_index=True)
    cv, targets, ci, cj, code = cv[pos], targets[pos], ci[pos], cj[pos], code[pos]
    if len(keys) > max_cuts:
        top = np.argpartition(-cv, max_cuts - 1)[:max_cuts]
        keys, targets, ci, cj, code = keys[top], targets[top], ci[top], cj[top], code[top]
    return OrbitCuts(ci, cj, max_violation, viol.violated_points, len(ak), targets, keys, code)


def orbit_menu(problem: Problem, group: SymmetryGroup, data: LPData, z: FloatArray) -> Menu:
    r"""The menu of a reduced-LP solution: every image :math:`(Q g_r,\; Qg_r\cdot c - a_r)` of
    each plane :math:`a_r + g_r\cdot w` (gradients clipped into :math:`X`, which the group
    maps onto itself), merged as in :func:`~.menus.lp_menu`."""
    u, g = data.split(z)
    low, high = problem.allocation_low, problem.allocation_high
    g = np.clip(g, low, high)
    if not problem.allocation_is_box:
        g = problem.allocation.nearest(g)       # the group maps X onto itself: images stay in X
    gk, ak, _, _ = _pieces(data, group, u, g)
    _, arg = upper_envelope(data.points, gk, ak)
    used = np.unique(arg)
    gk, ak = gk[used], ak[used]
    c = np.asarray(problem.belief, dtype=np.float64)
    width = np.where(high > low, high - low, 1.0)
    x = np.empty((0, problem.goods))
    p = np.empty(0)
    elements = list(group.elements())
    step = max(1, _IMAGE_CHUNK // max(1, len(gk)))
    for s in range(0, len(elements), step):
        block = [group.apply(perm, sign, gk) for perm, sign in elements[s:s + step]]
        images = np.vstack(block)
        x, p = _cheapest(np.vstack([x, images]),
                         np.concatenate([p, images @ c - np.tile(ak, len(block))]), width)
    menu = Menu(np.clip(x, low, high), p)
    if problem.goods <= FILTER_MAX_GOODS:
        pts = np.vstack([group.apply(perm, sign, data.points) for perm, sign in elements]) + c
        menu = menu.subset(np.unique(menu.choose(pts)))
    return menu


def _cheapest(x: FloatArray, p: FloatArray, width: FloatArray) -> tuple[FloatArray, FloatArray]:
    """One item per allocation (to ``SAME_ITEM_RTOL`` of the box width), the cheapest."""
    key = np.round(x / width / SAME_ITEM_RTOL)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    order = np.lexsort((p, inv))
    first = order[np.r_[True, inv[order][1:] != inv[order][:-1]]]
    return x[first], p[first]


class OrbitCuttingPlanes(CuttingPlanes):
    """:class:`~.stages.CuttingPlanes` on the reduced LP: folded separation, rows at images,
    the folding allowance in the bound, the expanded menu (evaluated after the last round)."""

    # Four rows into each violated representative per round: the rounds here are cold
    # interior-point solves (below), and mono5 at grid 9 took 10 rounds in 39 s with 4 against
    # 25 rounds in 74 s with 1 (8 made each LP too large: 73 s; BENCHMARKS.md, issue 17).
    default_per_point = 4

    def __init__(self, options: StageOptions, model: StageModel, stage: int, run: RunContext,
                 source: str, group: SymmetryGroup, orbits: OrbitPoints, codes: IntArray
                 ) -> None:
        super().__init__(options, model, stage, run, source)
        self.group, self.orbits = group, orbits
        self.codes = [np.asarray(codes, dtype=np.int64)]
        # The menu is evaluated once, after the last round: intermediate solutions violate
        # convexity somewhere and their menus are rarely better, while evaluating each costs
        # about as much as a round on large grids (BENCHMARKS, symmetry).
        self.defer_menu = True
        # Once the warm dual simplex has stalled twice after appended cuts it keeps stalling
        # (BENCHMARKS, symmetry: four goods); later rounds then start cold at once.
        self.cold_after_abandons = 2
        self.pending: FloatArray | None = None
        self.summary.update(full_points=orbits.full_points, group=group.describe(),
                            group_order=group.order)

    def solve(self) -> Any:
        outcome = super().solve()
        if self.pending is not None:
            self._evaluate(self.pending)
            self.pending = None
        return outcome

    def _finished(self, sol: LPSolution, cuts: Cuts | None, stop: bool) -> bool:
        if sol.status is not Status.OPTIMAL and self.pending is not None:
            # An earlier solution's menu exists (a failure after it is "inaccurate").
            self._evaluate(self.pending)
            self.pending = None
        return super()._finished(sol, cuts, stop)

    def _bound(self, matrix: Any, duals: FloatArray | None,
               allocation_duals: FloatArray | None = None) -> tuple[float, dict[str, Any]]:
        bound, info = certified_bound(self.model.data, matrix, duals, allocation_duals)
        bound = float(np.nextafter(bound + self.orbits.allowance, np.inf))
        return bound, {**info, "orbit_allowance": self.orbits.allowance}

    def _offer_upper(self, rnd: int, sol: LPSolution, upper: float, info: dict[str, Any],
                     rows: int) -> None:
        best, data = self.run.best, self.model.data
        if upper >= best.upper:
            return
        pair_i, pair_j = self.model.lp.pairs()
        self.codes = [np.concatenate(self.codes)]
        c = np.asarray(self.run.problem.belief, dtype=np.float64)
        certificate = LPCertificate(
            bound=upper, dual_objective=info["raw"],
            roundoff_allowance=info["roundoff_allowance"],
            quadrature_allowance=info["quadrature_allowance"], points=data.points + c,
            masses=data.masses, pair_source=pair_i, pair_target=pair_j,
            duals=None if sol.y is None else np.asarray(sol.y, dtype=np.float64),
            stage=self.stage, round=rnd, lp_status=sol.status.value,
            symmetry=self.group.describe(), group_order=self.group.order,
            pair_transform=self.codes[0], orbit_allowance=self.orbits.allowance,
            **allocation_fields(data, sol.y_allocation))
        best.offer_upper(certificate, {**info, "stage": self.stage, "round": rnd,
                                       "points": data.size, "pairs": rows,
                                       "lp_status": sol.status.value,
                                       "full_points": self.orbits.full_points,
                                       "group_order": self.group.order})

    def _offer_menu(self, z: FloatArray) -> None:
        if self.defer_menu:
            self.pending = z
            return
        self._evaluate(z)

    def _evaluate(self, z: FloatArray) -> None:
        t0 = time.perf_counter()
        run = self.run
        menu = orbit_menu(run.problem, self.group, self.model.data, z)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AmmOptWarning)
            ev = evaluate(run.problem, menu, method=self.options.evaluate_method)
        run.best.offer_menu(menu, ev, f"LP menu (orbits of {self.group.describe()}), "
                                      f"stage {self.stage}")
        run.add_time("evaluate", t0)

    def _separate(self, z: FloatArray) -> Cuts:
        t0 = time.perf_counter()
        u, g = self.model.data.split(z)
        cuts = find_orbit_cuts(self.model.data, self.group, u, g, self.options.cut_tol,
                               self.max_cuts, self.model.keys, self.per_point)
        self.run.add_time("separation", t0)
        return cuts

    def _add(self, cuts: Cuts | None) -> None:
        assert isinstance(cuts, OrbitCuts)
        self.model.lp.add(cuts.i, cuts.j, cuts.targets)
        self.codes.append(cuts.codes)
        self.model.keys = np.sort(np.concatenate([self.model.keys, cuts.keys]))
