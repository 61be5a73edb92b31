r"""Locally refined box meshes (2^n-trees) and the conservative placement of the measure on them.

A :class:`Mesh` tiles the value box with axis-aligned cells: a base tensor grid whose cells may
be split recursively into :math:`2^n` children (hanging vertices allowed). Cell by cell, for every
convex :math:`u`,

.. math::

    \int_Q u\,d\nu^+ \le \sum_{k \in \text{corners}(Q)} w_{Q,k}\, u(\text{corner}_k), \qquad
    \int_Q u\,d\nu^- \ge \nu^-(Q)\, u(\bar y_Q)

(interpolation weights are a convex combination; Jensen at the barycentre), so
:math:`\Pi(u) \le \sum_P m_P u(P)` over the mesh points. Coordinates come from integer ticks at a
fixed finest level, so vertices shared by cells of different levels are merged exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product as iter_product
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...discretisation import AxisIntegrals, GridMeasure, axis_integrals, face_masses, grid_axes
from ...distributions import Product
from ...problem import Problem

__all__ = ["Mesh", "MeshPoints"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Finest representable level below the base grid: ticks are int64 and base cells * 2**MAX_DEPTH
# must stay far below 2**62. No run refines anywhere near this deep (each level halves h).
MAX_DEPTH = 24


@dataclass(frozen=True)
class MeshPoints:
    """The mesh's point masses (the LP's points).

    Attributes
    ----------
    points : array of shape (P, n)
        Distinct locations: mesh corners carrying :math:`\\nu^+`, cell barycentres carrying
        :math:`\\nu^-`, and the belief.
    masses : array of shape (P,)
        Signed masses (coincident contributions are summed).
    belief_index : int
        Row of ``points`` that is the belief :math:`c`.
    quadrature_error : float
        Estimated absolute error of all cell integrals together.
    positive_total, negative_total : float
        :math:`\\nu^+(V) + 1` and :math:`\\nu^-(V)` before merging (bookkeeping checks).
    source : str
        ``"discretize"`` (:func:`amm_opt.discretisation.discretize` on a tensor grid) or ``"mesh"``
        (:meth:`Mesh.points` on a locally refined mesh).
    """

    points: FloatArray
    masses: FloatArray
    belief_index: int
    quadrature_error: float
    positive_total: float
    negative_total: float
    source: str

    @classmethod
    def from_measure(cls, gm: GridMeasure) -> MeshPoints:
        """The points of a tensor-grid :class:`~amm_opt.discretisation.GridMeasure` (coincident
        points, e.g. the belief on a vertex, merged)."""
        pts, mass, _ = gm.point_masses()
        return _merge(pts, mass, gm.quadrature_error, gm.positive_total, gm.negative_total,
                      "discretize")


def _merge(pts: FloatArray, mass: FloatArray, error: float, positive: float, negative: float,
           source: str) -> MeshPoints:
    """Merge bit-identical points (they share one ``u``); the belief is the last row of ``pts``."""
    upts, pinv = np.unique(pts, axis=0, return_inverse=True)
    pinv = pinv.ravel()
    umass = np.bincount(pinv, weights=mass, minlength=len(upts))
    return MeshPoints(points=upts, masses=umass, belief_index=int(pinv[-1]),
                      quadrature_error=error, positive_total=positive, negative_total=negative,
                      source=source)


@dataclass(frozen=True)
class Mesh:
    """Cells of a 2^n-tree over a base tensor grid.

    Attributes
    ----------
    problem : Problem
    axes : tuple of arrays
        Base grid breakpoints per good.
    level : array of shape (C,)
        Refinement level of each cell (0 = base cell).
    index : array of shape (C, n)
        Integer position of each cell among the cells of its level (per axis).
    """

    problem: Problem
    axes: tuple[FloatArray, ...]
    level: IntArray
    index: IntArray
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_grid(cls, problem: Problem, grid: Any) -> Mesh:
        """The base tensor grid (:func:`amm_opt.discretisation.grid_axes`), unrefined."""
        axes = grid_axes(problem, grid)
        shape = tuple(len(a) - 1 for a in axes)
        idx = np.indices(shape).reshape(len(shape), -1).T.astype(np.int64)
        return cls(problem, axes, np.zeros(len(idx), dtype=np.int64), idx)

    @property
    def goods(self) -> int:
        return len(self.axes)

    @property
    def cells(self) -> int:
        return int(self.level.size)

    @property
    def max_level(self) -> int:
        return int(self.level.max(initial=0))

    def refine(self, mark: NDArray[np.bool_]) -> Mesh:
        """Split the marked cells into 2^n children each (cells at ``MAX_DEPTH`` stay)."""
        mark = np.asarray(mark, dtype=bool) & (self.level < MAX_DEPTH)
        n = self.goods
        corners = np.array(list(iter_product((0, 1), repeat=n)), dtype=np.int64)
        kids_idx = (2 * self.index[mark])[:, None, :] + corners[None, :, :]
        kids_lvl = np.repeat(self.level[mark] + 1, len(corners))
        level = np.concatenate([self.level[~mark], kids_lvl])
        index = np.concatenate([self.index[~mark], kids_idx.reshape(-1, n)])
        return Mesh(self.problem, self.axes, level, index, self._cache)

    # ------------------------------------------------------------------ geometry
    def _coords(self, axis: int, ticks: IntArray) -> FloatArray:
        """Coordinates of integer ticks (finest level) along ``axis``; exact at base breaks."""
        base = self.axes[axis]
        nb = len(base) - 1
        j = np.minimum(ticks >> MAX_DEPTH, nb - 1)
        r = ticks - (j << MAX_DEPTH)
        return base[j] + (base[j + 1] - base[j]) * (r / float(1 << MAX_DEPTH))

    def _level_breaks(self, axis: int, lvl: int) -> FloatArray:
        key = ("breaks", axis, lvl)
        if key not in self._cache:
            count = (len(self.axes[axis]) - 1) << lvl
            ticks = np.arange(count + 1, dtype=np.int64) << (MAX_DEPTH - lvl)
            self._cache[key] = self._coords(axis, ticks)
        return self._cache[key]

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        """Lower and upper corners of every cell, each of shape (C, n)."""
        lo = np.empty(self.index.shape)
        hi = np.empty(self.index.shape)
        for i in range(self.goods):
            ticks = self.index[:, i] << (MAX_DEPTH - self.level)
            step = np.int64(1) << (MAX_DEPTH - self.level)
            lo[:, i] = self._coords(i, ticks)
            hi[:, i] = self._coords(i, ticks + step)
        return lo, hi

    def corner_ticks(self) -> IntArray:
        """Integer corners (finest-level ticks) of every cell, shape (C, 2^n, n)."""
        n = self.goods
        corners = np.array(list(iter_product((0, 1), repeat=n)), dtype=np.int64)
        shift = (MAX_DEPTH - self.level)[:, None, None]
        return (self.index[:, None, :] + corners[None, :, :]) << shift

    def corner_points(self) -> FloatArray:
        """Coordinates of the corners of every cell, shape (C, 2^n, n)."""
        ticks = self.corner_ticks()
        return np.stack([self._coords(i, ticks[..., i]) for i in range(self.goods)], axis=-1)

    # ------------------------------------------------------------------ the measure
    def _axis(self, axis: int, lvl: int) -> AxisIntegrals:
        key = ("axis", axis, lvl)
        if key not in self._cache:
            dist = self.problem.distribution
            assert isinstance(dist, Product)
            c = float(np.asarray(self.problem.belief)[axis])
            self._cache[key] = axis_integrals(dist.marginals[axis], c,
                                               self._level_breaks(axis, lvl))
        return self._cache[key]

    def cell_measure(self) -> tuple[FloatArray, FloatArray, FloatArray, float]:
        r"""Per-cell conservative placement.

        Returns
        -------
        corner_mass : array of shape (C, 2^n)
            :math:`\nu^+` of each cell interpolated to its corners (order of
            :meth:`corner_ticks`).
        cell_mass : array of shape (C,)
            :math:`\nu^-` of each cell.
        barycenter : array of shape (C, n)
            Barycentre of :math:`\nu^-` in each cell (the centre where the cell has none).
        quadrature_error : float
            Estimated absolute error of all the cell integrals.
        """
        problem = self.problem
        dist = problem.distribution
        assert isinstance(dist, Product)
        n, kappa = self.goods, problem.kappa
        low, high = problem.value_low, problem.value_high
        corners = list(iter_product((0, 1), repeat=n))
        cells = self.cells
        corner_mass = np.zeros((cells, len(corners)))
        cell_mass = np.zeros(cells)
        moments = np.zeros((cells, n))
        error = 0.0
        # Faces of V with a negative density (a belief outside V) go to nu^- below (Jensen).
        faces = face_masses(problem)
        face_pos = [(max(lo_f, 0.0), max(hi_f, 0.0)) for lo_f, hi_f in faces]
        for lvl in np.unique(self.level):
            rows = np.flatnonzero(self.level == lvl)
            idx = self.index[rows]
            ax = [self._axis(i, int(lvl)) for i in range(n)]
            error += sum(a.error * max(1.0, float(a.f_total.sum())) for a in ax)
            hat_f = [a.hat_f[idx[:, i]] for i, a in enumerate(ax)]           # (r, 2)
            f_tot = [a.f_total[idx[:, i]] for i, a in enumerate(ax)]         # (r,)
            t_f = [a.t_f[idx[:, i]] for i, a in enumerate(ax)]
            g_pos = [a.gpos_total[idx[:, i]] for i, a in enumerate(ax)]
            t_gpos = [a.t_gpos[idx[:, i]] for i, a in enumerate(ax)]
            pos = []                                                         # (r, 2) per axis
            for i, a in enumerate(ax):
                part = kappa * a.hat_gneg[idx[:, i]]
                last = len(a.f_total) - 1
                part[:, 1] += np.where(idx[:, i] == last, face_pos[i][1], 0.0)
                part[:, 0] += np.where(idx[:, i] == 0, face_pos[i][0], 0.0)
                pos.append(part)
            for k, bits in enumerate(corners):
                total = np.zeros(len(rows))
                for i in range(n):
                    term = pos[i][:, bits[i]].copy()
                    for m in range(n):
                        if m != i:
                            term *= hat_f[m][:, bits[m]]
                    total += term
                corner_mass[rows, k] = total

            def prod_except(values: list[FloatArray], skip: set[int], size: int) -> FloatArray:
                out = np.ones(size)
                for m in range(n):
                    if m not in skip:
                        out = out * values[m]
                return out

            r = len(rows)
            mass = (1.0 + kappa * n) * prod_except(f_tot, set(), r)
            mom = [(1.0 + kappa * n) * t_f[d] * prod_except(f_tot, {d}, r) for d in range(n)]
            for i in range(n):
                mass = mass + kappa * g_pos[i] * prod_except(f_tot, {i}, r)
                for d in range(n):
                    if d == i:
                        mom[d] = mom[d] + kappa * t_gpos[i] * prod_except(f_tot, {i}, r)
                    else:
                        mom[d] = mom[d] + kappa * g_pos[i] * t_f[d] * prod_except(f_tot, {i, d}, r)
            for i in range(n):
                last = len(ax[i].f_total) - 1
                for end, at, coord in ((0, 0, low[i]), (1, last, high[i])):
                    neg = max(-faces[i][end], 0.0)
                    if neg == 0.0:
                        continue
                    weight = np.where(idx[:, i] == at, neg, 0.0)
                    mass = mass + weight * prod_except(f_tot, {i}, r)
                    for d in range(n):
                        mom[d] = mom[d] + (weight * coord * prod_except(f_tot, {i}, r) if d == i
                                           else weight * t_f[d] * prod_except(f_tot, {i, d}, r))
            cell_mass[rows] = mass
            moments[rows] = np.column_stack(mom)
        lo, hi = self.bounds()
        positive = cell_mass > 0
        safe = np.where(positive, cell_mass, 1.0)
        bary = np.where(positive[:, None], moments / safe[:, None], 0.5 * (lo + hi))
        # Round-off can push a barycentre a hair outside its cell; it must lie inside (Jensen).
        bary = np.clip(bary, lo, hi)
        return corner_mass, cell_mass, bary, float(error)

    def points(self) -> MeshPoints:
        """Merge the placement into distinct points with signed masses (zero masses dropped,
        the belief always kept)."""
        n = self.goods
        corner_mass, cell_mass, bary, error = self.cell_measure()
        ticks = self.corner_ticks().reshape(-1, n)
        uniq, inv = np.unique(ticks, axis=0, return_inverse=True)
        vmass = np.bincount(inv.ravel(), weights=corner_mass.ravel(), minlength=len(uniq))
        vpts = np.stack([self._coords(i, uniq[:, i]) for i in range(n)], axis=-1)
        keep_v = vmass > 0
        keep_c = cell_mass > 0
        belief = np.asarray(self.problem.belief, dtype=np.float64)[None, :]
        pts = np.vstack([vpts[keep_v], bary[keep_c], belief])
        mass = np.concatenate([vmass[keep_v], -cell_mass[keep_c], [1.0]])
        # Coincident points (the belief on a vertex or a centre) share one u value: merge.
        return _merge(pts, mass, error, float(vmass.sum() + 1.0), float(cell_mass.sum()),
                      "mesh")


# ---------------------------------------------------------------------------------------------
# Refinement
# ---------------------------------------------------------------------------------------------
def kink_indicator(mesh: Mesh, envelope: Any) -> FloatArray:
    r"""Where the current solution bends inside a cell, weighted by the cell's mass.

    For the convex envelope :math:`\tilde u` of the LP solution (``envelope(v)`` returns its
    values and the gradients of the active planes at points of shape (m, n)) and the tangent
    plane :math:`\ell_Q` of :math:`\tilde u` at the cell's barycentre,

    .. math::

        \eta_Q = \big(\nu^+(Q) + \nu^-(Q)\big)\,\max_{k \in \text{corners}(Q)}
        \big(\tilde u(\text{corner}_k) - \ell_Q(\text{corner}_k)\big) \;\ge\; 0 .

    :math:`\eta_Q = 0` where :math:`\tilde u` is affine on :math:`Q` (interpolation and Jensen
    are exact there), and it bounds what the cell's vertex interpolation and barycentre can
    overstate for :math:`\tilde u`. Returns :math:`\eta` of shape (C,).
    """
    corner_mass, cell_mass, bary, _ = mesh.cell_measure()
    weight = corner_mass.sum(axis=1) + cell_mass
    corners = mesh.corner_points()                                   # (C, 2^n, n)
    cells, count, n = corners.shape
    u_b, g_b = envelope(bary)
    u_k, _ = envelope(corners.reshape(-1, n))
    plane = u_b[:, None] + np.einsum("cn,ckn->ck", g_b, corners - bary[:, None, :])
    gap = np.maximum(u_k.reshape(cells, count) - plane, 0.0).max(axis=1)
    return weight * gap


def dorfler_mark(eta: FloatArray, fraction: float, max_cells: int) -> NDArray[np.bool_]:
    """The fewest cells (largest ``eta`` first, at most ``max_cells``) carrying ``fraction`` of
    the total indicator (Dörfler marking); none when the indicator vanishes."""
    mark = np.zeros(eta.shape, dtype=bool)
    total = float(eta.sum())
    if total <= 0 or max_cells < 1:
        return mark
    order = np.argsort(-eta, kind="stable")
    cumulative = np.cumsum(eta[order])
    take = int(np.searchsorted(cumulative, fraction * total)) + 1
    take = min(take, max_cells, int((eta > 0).sum()))
    mark[order[:take]] = True
    return mark
