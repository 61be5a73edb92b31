r"""The signed measure :math:`\mu` and its conservative discretisation on grids.

For the linear update (:math:`\kappa = 1 - \lambda`) and a density :math:`f` on
:math:`V = \prod_i [a_i, b_i]`, every feasible utility earns :math:`\Pi(u) = \int_V u\,d\mu` with

.. math::

    d\mu = -\big[f + \kappa\,(n f + (v - c)\cdot\nabla f)\big]\,dv
           + \kappa f\,(b_i - c_i)\,dS_{\{v_i = b_i\}} + \kappa f\,(c_i - a_i)\,dS_{\{v_i = a_i\}}
           + \delta_c .

:func:`discretize` splits :math:`\mu = \nu^+ - \nu^- + \delta_c` cell by cell and places
:math:`\nu^+` on the cell's vertices (multilinear weights) and :math:`\nu^-` at its barycentre,
so that for every convex :math:`u`

.. math::

    \int u\,d\mu \le \sum_k w_k\,u(\text{vertex}_k)
                     - \sum_{cells} \nu^-(cell)\,u(\text{bary}) + u(c).

The cell integrals factorise into one-dimensional ones, computed by Gauss rules on pieces that
resolve each marginal and checked against exact integrals; the remaining error is reported in
``quadrature_error``. See docs/model.md and docs/math/grid_lp.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from itertools import product as iter_product
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .breakpoints import interval_probability, resolving_breaks
from .distributions import Product
from .errors import DistributionError, OptionError, UnsupportedProblemError
from .menu import Menu
from .problem import Problem
from .regions import cell_simplices, integrate_simplices

__all__ = ["AxisIntegrals", "GridMeasure", "SignedMeasure", "axis_integrals", "discretize",
           "face_masses", "grid_axes", "interval_probability", "resolving_breaks", "signed_measure"]

FloatArray = NDArray[np.float64]

_GAUSS_ORDER = 20        # per smooth sub-interval: exact for polynomial densities of degree < 38
_CHECK_ORDER = 10        # lower order used only to estimate the quadrature error
# A piece of an axis is resolved when its Gauss integrals of f and g = (t - c) f' match the exact
# ones to 1e-14 absolute (f is a probability density; g relative to its total variation) plus
# 1e-12 relative: well above the ~1e-16 round-off of the exact values, far below any bound gap.
_AXIS_ATOL = 1e-14
_AXIS_RTOL = 1e-12
_AXIS_CHECK_SLACK = 1e2   # looser test for the lower-order rule (it converges more slowly)
_MAX_AXIS_REFINE = 40
_MAX_AXIS_PIECES = 4096


def _require_density(problem: Problem, what: str) -> Product:
    if not problem.has_density:
        raise UnsupportedProblemError(f"{what} needs a density, but the values are samples",
                                      field="values", value=problem.values,
                                      allowed="Uniform, Beta, TruncatedNormal or Product")
    if not problem.linear_update:
        raise UnsupportedProblemError(
            f"{what} is derived for the linear update (1 - lambda) c + lambda v",
            field="update", value=problem.update,
            allowed="update=None with adverse_selection, or backend='rochetnet'")
    dist = problem.distribution
    assert isinstance(dist, Product)
    for i, marginal in enumerate(dist.marginals):
        if not marginal.has_bounded_derivative:
            raise UnsupportedProblemError(
                f"{what} needs a density with a bounded derivative; good {i} has {marginal!r}, "
                "whose derivative is infinite at an edge", field="values", value=marginal,
                allowed="Beta shape parameters equal to 1 or >= 2 (or another family)")
    return dist


# ---------------------------------------------------------------------------------------------
# The continuous measure
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignedMeasure:
    r"""The signed measure :math:`\mu` of one problem (density, linear update)."""

    problem: Problem

    @property
    def _dist(self) -> Product:
        return _require_density(self.problem, "the signed measure")

    def interior_density(self, v: ArrayLike) -> FloatArray:
        r""":math:`-[f + \kappa(n f + (v - c)\cdot\nabla f)]` at points of shape (m, n)."""
        dist = self._dist
        v = np.asarray(v, dtype=np.float64)
        kappa, n = self.problem.kappa, self.problem.goods
        f = dist.pdf(v)
        grad = dist.grad_pdf(v)
        return -(f + kappa * (n * f + np.einsum("mn,mn->m", v - self.problem.belief, grad)))

    def face_density(self, axis: int, upper: bool, v: ArrayLike) -> FloatArray:
        r"""Face density: :math:`\kappa f (b_i - c_i)` (upper), :math:`\kappa f (c_i - a_i)`."""
        dist = self._dist
        v = np.asarray(v, dtype=np.float64)
        c = float(self.problem.belief[axis])  # type: ignore[index]
        edge = self.problem.value_high[axis] - c if upper else c - self.problem.value_low[axis]
        return self.problem.kappa * dist.pdf(v) * edge

    def integrate_menu(self, menu: Menu, order: int = 12) -> float:
        r""":math:`\int u\,d\mu` (atom included) for the menu's utility :math:`u`.

        Integration by parts gives :math:`\int u\,d\mu = \Pi(u) + u(c)` for every menu, so for
        menus with :math:`u(c) = 0` it is the expected profit.
        On each choice region :math:`u` is affine, so a Gauss rule on a triangulation of the
        region is exact for uniform values and spectrally accurate for smooth densities; the
        regions are cut at the marginals' resolving breakpoints so that peaked densities are
        resolved too. This is independent of :func:`amm_opt.evaluate` (it integrates
        :math:`u`, not the profit) and is what the measure-identity tests compare against.
        """
        problem = self.problem
        x = np.asarray(menu.allocations)
        p = np.asarray(menu.prices)
        n = problem.goods
        low, high = problem.value_low, problem.value_high
        total = float(menu.utility(np.asarray(problem.belief)[None, :])[0])  # the atom at c

        breaks = self._breaks(order)
        simp, labels = cell_simplices(x, p, breaks)

        def interior(pts: FloatArray, rows: slice) -> FloatArray:
            flat = pts.reshape(-1, n)
            k = labels[rows]
            util = np.einsum("sqn,sn->sq", pts, x[k]) - p[k][:, None]
            return util * self.interior_density(flat).reshape(pts.shape[:2])

        total += float(integrate_simplices(simp, interior, order).sum())
        for axis, upper in iter_product(range(n), (False, True)):
            level = high[axis] if upper else low[axis]
            total += self._face_integral(menu, axis, upper, level, order)
        return total

    def _breaks(self, order: int) -> list[FloatArray]:
        return [resolving_breaks(m, order) for m in self._dist.marginals]

    def _face_integral(self, menu: Menu, axis: int, upper: bool, level: float,
                       order: int) -> float:
        problem = self.problem
        n = problem.goods
        x = np.asarray(menu.allocations)
        p = np.asarray(menu.prices)
        if n == 1:
            point = np.array([[level]])
            return float(menu.utility(point)[0] * self.face_density(axis, upper, point)[0])
        others = [i for i in range(n) if i != axis]
        # u restricted to the face is the menu with v_axis fixed: prices absorb level * x_axis.
        x_face = x[:, others]
        p_face = p - level * x[:, axis]
        breaks = self._breaks(order)
        simp, labels = cell_simplices(x_face, p_face, [breaks[i] for i in others])

        def integrand(pts: FloatArray, rows: slice) -> FloatArray:
            k = labels[rows]
            util = np.einsum("sqn,sn->sq", pts, x_face[k]) - p_face[k][:, None]
            full = np.insert(pts.reshape(-1, n - 1), axis, level, axis=1)
            dens = self.face_density(axis, upper, full).reshape(pts.shape[:2])
            return util * dens

        return float(integrate_simplices(simp, integrand, order).sum())


def signed_measure(problem: Problem) -> SignedMeasure:
    """The signed measure of ``problem`` (raises for sample-only values or custom updates)."""
    _require_density(problem, "the signed measure")
    return SignedMeasure(problem)


# ---------------------------------------------------------------------------------------------
# Grids and the conservative discretisation
# ---------------------------------------------------------------------------------------------
def grid_axes(problem: Problem, grid: int | Sequence[int] | Sequence[ArrayLike]
              ) -> tuple[FloatArray, ...]:
    """Breakpoints per good from ``grid``: cells per axis (int or one int per good), or explicit
    strictly increasing breakpoint arrays from ``value_low[i]`` to ``value_high[i]``."""
    n = problem.goods
    low, high = problem.value_low, problem.value_high
    allowed = ("an int >= 1 (cells per axis), one int per good, or per-good increasing "
               "breakpoint arrays spanning the value box")
    if isinstance(grid, (int, np.integer)) and not isinstance(grid, bool):
        grid = [int(grid)] * n
    if not isinstance(grid, Sequence) or len(grid) != n:
        raise OptionError("does not describe one axis per good", field="grid", value=grid,
                          allowed=allowed)
    axes = []
    for i, g in enumerate(grid):
        if isinstance(g, (int, np.integer)) and not isinstance(g, bool):
            if g < 1:
                raise OptionError("needs at least one cell", field=f"grid[{i}]", value=g,
                                  allowed=allowed)
            axes.append(np.linspace(low[i], high[i], int(g) + 1))
            continue
        try:
            arr = np.asarray(g, dtype=np.float64)
        except (TypeError, ValueError):
            raise OptionError("is not numeric", field=f"grid[{i}]", value=g,
                              allowed=allowed) from None
        if (arr.ndim != 1 or arr.size < 2 or not np.all(np.isfinite(arr))
                or np.any(np.diff(arr) <= 0)
                or not np.isclose(arr[0], low[i]) or not np.isclose(arr[-1], high[i])):
            raise OptionError("must be strictly increasing from the box's low to its high end",
                              field=f"grid[{i}]", value=g, allowed=allowed)
        arr = arr.copy()
        arr[0], arr[-1] = low[i], high[i]
        axes.append(arr)
    return tuple(axes)


@dataclass(frozen=True)
class AxisIntegrals:
    """One-dimensional cell integrals along one axis (arrays over the axis's intervals)."""

    hat_f: FloatArray        # (N, 2): int hat_e f
    f_total: FloatArray      # (N,):   int f
    t_f: FloatArray          # (N,):   int t f
    hat_gneg: FloatArray     # (N, 2): int hat_e g^-
    gpos_total: FloatArray   # (N,):   int g^+
    t_gpos: FloatArray       # (N,):   int t g^+
    error: float             # estimated quadrature error (sum over all integrals)


def axis_integrals(marginal: Any, c: float, breaks: FloatArray) -> AxisIntegrals:
    r"""The one-dimensional cell integrals of ``marginal`` on the intervals of ``breaks``.

    Each interval is cut at the belief coordinate ``c`` and at the density's stationary points
    (where :math:`g^\pm` have kinks), and at the marginal's resolving breakpoints (pieces on
    which a Gauss rule reproduces the exact probability, so peaked densities are resolved
    whatever the grid). On every piece :math:`\int f` is known exactly from the CDF and
    :math:`\int g = [(t - c) f]_{lo}^{hi} - \int f` by parts; pieces where the Gauss rule misses
    either are bisected. The error estimate adds the difference to a lower-order rule and the
    remaining misses of those two exact integrals.
    """
    lo_end, hi_end = float(breaks[0]), float(breaks[-1])
    cuts = [t for t in [c, *marginal.stationary_points1()] if lo_end < t < hi_end]
    resolved = resolving_breaks(marginal, _GAUSS_ORDER)
    resolved = resolved[(resolved > lo_end) & (resolved < hi_end)]
    fine = np.unique(np.concatenate([breaks, np.asarray(cuts, dtype=np.float64), resolved]))
    rules = [np.polynomial.legendre.leggauss(q) for q in (_GAUSS_ORDER, _CHECK_ORDER)]

    def exact_and_gauss(fine: FloatArray, rule: int) -> tuple[FloatArray, FloatArray,
                                                              FloatArray, FloatArray]:
        nodes, weights = rules[rule]
        lo, hi = fine[:-1], fine[1:]
        mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
        t = mid[:, None] + half[:, None] * nodes[None, :]
        w = half[:, None] * weights[None, :]
        qf = (marginal.pdf1(t.ravel()).reshape(t.shape) * w).sum(axis=1)
        qg = ((t - c) * marginal.dpdf1(t.ravel()).reshape(t.shape) * w).sum(axis=1)
        ef = interval_probability(marginal, lo, hi)
        eg = (hi - c) * marginal.pdf1(hi) - (lo - c) * marginal.pdf1(lo) - ef
        return qf, qg, ef, eg

    def misses(fine: FloatArray, rule: int, slack: float) -> tuple[NDArray[np.bool_], float]:
        qf, qg, ef, eg = exact_and_gauss(fine, rule)
        g_scale = max(1.0, float(np.abs(eg).sum()))
        bad = (np.abs(qf - ef) > slack * (_AXIS_ATOL + _AXIS_RTOL * ef)) | \
              (np.abs(qg - eg) > slack * (_AXIS_ATOL * g_scale + _AXIS_RTOL * np.abs(eg)))
        return bad, float(np.abs(qf - ef).sum() + np.abs(qg - eg).sum())

    for _ in range(_MAX_AXIS_REFINE):
        # Both rules must match the exact integrals (the lower one within a looser factor), so
        # that their difference below is a faithful error estimate, not an artefact of a rule
        # that does not resolve the piece.
        bad = misses(fine, 0, 1.0)[0] | misses(fine, 1, _AXIS_CHECK_SLACK)[0]
        if not bad.any() or len(fine) + bad.sum() > _MAX_AXIS_PIECES:
            break
        fine = np.unique(np.concatenate([fine, 0.5 * (fine[:-1] + fine[1:])[bad]]))
    miss = misses(fine, 0, 1.0)[1]
    parent = np.searchsorted(breaks, fine[:-1], side="right") - 1     # interval of each piece

    def pieces(order: int) -> FloatArray:
        nodes, weights = np.polynomial.legendre.leggauss(order)
        mid = 0.5 * (fine[1:] + fine[:-1])
        half = 0.5 * (fine[1:] - fine[:-1])
        t = mid[:, None] + half[:, None] * nodes[None, :]
        w = half[:, None] * weights[None, :]
        lo, hi = breaks[parent][:, None], breaks[parent + 1][:, None]
        hat1 = (t - lo) / (hi - lo)
        hat0 = 1.0 - hat1
        f = marginal.pdf1(t.ravel()).reshape(t.shape)
        g = (t - c) * marginal.dpdf1(t.ravel()).reshape(t.shape)
        gpos, gneg = np.maximum(g, 0.0), np.maximum(-g, 0.0)
        rows = [hat0 * f, hat1 * f, t * f, hat0 * gneg, hat1 * gneg, gpos, t * gpos]
        per_piece = np.stack([(r * w).sum(axis=1) for r in rows], axis=1)    # (pieces, 7)
        out = np.zeros((len(breaks) - 1, per_piece.shape[1]))
        np.add.at(out, parent, per_piece)
        return out

    hi_order = pieces(_GAUSS_ORDER)
    lo_order = pieces(_CHECK_ORDER)
    error = float(np.abs(hi_order - lo_order).sum()) + miss
    if not (np.all(np.isfinite(hi_order)) and math.isfinite(error)):
        raise DistributionError(
            "its density or derivative is not finite on the grid, so the measure cannot be "
            "placed", field="values", value=marginal,
            allowed="a marginal with a finite density and derivative on the box")
    return AxisIntegrals(
        hat_f=hi_order[:, 0:2], f_total=hi_order[:, 0] + hi_order[:, 1], t_f=hi_order[:, 2],
        hat_gneg=hi_order[:, 3:5], gpos_total=hi_order[:, 5], t_gpos=hi_order[:, 6],
        error=error)


def _outer(factors: Sequence[FloatArray]) -> FloatArray:
    return reduce(np.multiply.outer, factors)


@dataclass(frozen=True)
class GridMeasure:
    r"""The measure :math:`\mu` placed conservatively on a tensor grid.

    Attributes
    ----------
    axes : tuple of arrays, axis ``i`` of shape (N_i + 1,)
        Grid breakpoints per good.
    vertex_mass : array of shape (N_1 + 1, ..., N_n + 1)
        :math:`\nu^+` interpolated to the grid vertices (non-negative).
    cell_mass : array of shape (N_1, ..., N_n)
        :math:`\nu^-` of each cell (non-negative).
    cell_barycenter : array of shape (N_1, ..., N_n, n)
        Barycentre of :math:`\nu^-` in each cell (the cell centre where the cell has none).
    belief : array of shape (n,)
        Location of the atom :math:`+1\cdot\delta_c`.
    atom_mass : float
        1 for a probability density.
    quadrature_error : float
        Estimated absolute error of all cell integrals together (round-off level when exact).
    """

    axes: tuple[FloatArray, ...]
    vertex_mass: FloatArray
    cell_mass: FloatArray
    cell_barycenter: FloatArray
    belief: FloatArray
    atom_mass: float
    quadrature_error: float

    @property
    def goods(self) -> int:
        return len(self.axes)

    @property
    def shape(self) -> tuple[int, ...]:
        """Cells per axis."""
        return tuple(len(a) - 1 for a in self.axes)

    def vertices(self) -> FloatArray:
        """Grid vertices in C order (matching ``vertex_mass.ravel()``), shape (V, n)."""
        mesh = np.meshgrid(*self.axes, indexing="ij")
        return np.column_stack([m.ravel() for m in mesh])

    def cell_centers(self) -> FloatArray:
        """Cell centres in C order (matching ``cell_mass.ravel()``), shape (C, n)."""
        mids = [0.5 * (a[1:] + a[:-1]) for a in self.axes]
        mesh = np.meshgrid(*mids, indexing="ij")
        return np.column_stack([m.ravel() for m in mesh])

    @property
    def positive_total(self) -> float:
        """Total of :math:`\\nu^+` plus the atom."""
        return float(self.vertex_mass.sum() + self.atom_mass)

    @property
    def negative_total(self) -> float:
        return float(self.cell_mass.sum())

    def point_masses(self) -> tuple[FloatArray, FloatArray, NDArray[np.int8]]:
        """All masses as points: ``(points (N, n), signed masses (N,), kind (N,))``.

        ``kind`` is 0 for grid vertices (mass >= 0), 1 for barycentres (mass <= 0) and 2 for the
        atom at the belief (mass +1). Zero masses are dropped.
        """
        vm = self.vertex_mass.ravel()
        cm = self.cell_mass.ravel()
        keep_v = vm > 0
        keep_c = cm > 0
        points = np.vstack([self.vertices()[keep_v],
                            self.cell_barycenter.reshape(-1, self.goods)[keep_c],
                            self.belief[None, :]])
        masses = np.concatenate([vm[keep_v], -cm[keep_c], [self.atom_mass]])
        kind = np.concatenate([np.zeros(keep_v.sum(), np.int8), np.ones(keep_c.sum(), np.int8),
                               np.array([2], np.int8)])
        return points, masses, kind

    def bound_for(self, u_vertex: FloatArray, u_bary: FloatArray, u_belief: float) -> float:
        r"""Upper bound :math:`\sum w u(\text{vertex}) - \sum \nu^-(cell) u(\text{bary}) + u(c)`
        on :math:`\int u\,d\mu` for a convex ``u`` given by its values (grid-shaped arrays)."""
        return float((self.vertex_mass * u_vertex).sum() - (self.cell_mass * u_bary).sum()
                     + self.atom_mass * u_belief)


def face_masses(problem: Problem) -> list[tuple[float, float]]:
    r"""Per good ``i``, the signed face densities :math:`\kappa f_i (v_i - c_i)\,\nu_i` at the
    low and the high face of ``V`` (per unit of the other goods' marginals):
    :math:`\kappa (c_i - a_i) f_i(a_i)` and :math:`\kappa (b_i - c_i) f_i(b_i)`. Both are
    :math:`\ge 0` when the belief lies in ``V``; a belief outside ``V`` (``MATH.md`` §9) makes the
    face it lies beyond negative."""
    dist = problem.distribution
    c = np.asarray(problem.belief)
    low, high = problem.value_low, problem.value_high
    kappa = problem.kappa
    return [(kappa * (c[i] - low[i]) * float(m.pdf1(np.array([low[i]]))[0]),
             kappa * (high[i] - c[i]) * float(m.pdf1(np.array([high[i]]))[0]))
            for i, m in enumerate(dist.marginals)]  # type: ignore[union-attr]


def discretize(problem: Problem, grid: int | Sequence[int] | Sequence[ArrayLike]) -> GridMeasure:
    r"""Conservative placement of :math:`\mu` on a tensor grid (see the module docstring).

    Parameters
    ----------
    problem : Problem
        Values with a density; linear update.
    grid : int, sequence of int, or sequence of arrays
        Cells per axis, or explicit breakpoints per good (non-uniform grids allowed).

    Returns
    -------
    GridMeasure

    Examples
    --------
    >>> from amm_opt import Problem
    >>> from amm_opt.discretisation import discretize
    >>> gm = discretize(Problem.paper_two_goods(), 4)
    >>> round(float(gm.vertex_mass.sum()), 12), round(float(gm.cell_mass.sum()), 12)  # 4 faces, 1+2
    (2.0, 3.0)
    """
    dist = _require_density(problem, "the grid discretisation")
    axes = grid_axes(problem, grid)
    n, kappa = problem.goods, problem.kappa
    c = np.asarray(problem.belief)
    ax = [axis_integrals(m, float(c[i]), axes[i]) for i, m in enumerate(dist.marginals)]

    # nu^+ per (cell, vertex) in interleaved shape (N_1, 2, ..., N_n, 2).
    weights = np.zeros(tuple(s for a in ax for s in a.hat_f.shape))
    faces = face_masses(problem)
    for i in range(n):
        face = np.zeros_like(ax[i].hat_f)
        face[-1, 1] += max(faces[i][1], 0.0)
        face[0, 0] += max(faces[i][0], 0.0)
        factors = [a.hat_f for a in ax]
        factors[i] = kappa * ax[i].hat_gneg + face
        weights += _outer(factors)
    vertex_mass = np.zeros(tuple(len(a) for a in axes))
    cells = tuple(len(a) - 1 for a in axes)
    for corner in iter_product((0, 1), repeat=n):
        index = tuple(slice(None) if j % 2 == 0 else corner[j // 2] for j in range(2 * n))
        target = tuple(slice(e, e + cells[i]) for i, e in enumerate(corner))
        vertex_mass[target] += weights[index]

    # nu^- mass and first moments per cell.
    f_tot = [a.f_total for a in ax]
    cell_mass = (1.0 + kappa * n) * _outer(f_tot)
    moments = [(1.0 + kappa * n) * _outer([a.t_f if d == i else a.f_total
                                           for i, a in enumerate(ax)]) for d in range(n)]
    for i in range(n):
        factors = list(f_tot)
        factors[i] = ax[i].gpos_total
        cell_mass = cell_mass + kappa * _outer(factors)
        for d in range(n):
            mom = list(f_tot)
            if d == i:
                mom[i] = ax[i].t_gpos
            else:
                mom[i] = ax[i].gpos_total
                mom[d] = ax[d].t_f
            moments[d] = moments[d] + kappa * _outer(mom)
    for i in range(n):
        # A face whose density kappa f (v - c).nu is negative (the belief beyond that face,
        # outside V) is a lower bound by Jensen like the interior's nu^-: its mass joins the
        # cells along the face, at the face's coordinate.
        for end, at in ((0, 0), (1, -1)):
            neg = max(-faces[i][end], 0.0)
            if neg == 0.0:
                continue
            e = np.zeros(len(axes[i]) - 1)
            e[at] = neg
            factors = list(f_tot)
            factors[i] = e
            cell_mass = cell_mass + _outer(factors)
            coord = float(axes[i][0] if end == 0 else axes[i][-1])
            for d in range(n):
                mom = list(f_tot)
                mom[i] = e * coord if d == i else e
                if d != i:
                    mom[d] = ax[d].t_f
                moments[d] = moments[d] + _outer(mom)
    centers = np.stack(np.meshgrid(*[0.5 * (a[1:] + a[:-1]) for a in axes], indexing="ij"),
                       axis=-1)
    positive = cell_mass > 0
    bary = np.where(positive[..., None],
                    np.stack(moments, axis=-1) / np.where(positive, cell_mass, 1.0)[..., None],
                    centers)
    # Round-off can push a barycentre a hair outside its cell; clip it back (it must lie inside).
    lo_edges = np.stack(np.meshgrid(*[a[:-1] for a in axes], indexing="ij"), axis=-1)
    hi_edges = np.stack(np.meshgrid(*[a[1:] for a in axes], indexing="ij"), axis=-1)
    bary = np.clip(bary, lo_edges, hi_edges)
    error = sum(a.error for a in ax) * max(1.0, float(np.max([a.f_total.sum() for a in ax])))
    return GridMeasure(axes=axes, vertex_mass=vertex_mass, cell_mass=cell_mass,
                       cell_barycenter=bary, belief=c.copy(), atom_mass=1.0,
                       quadrature_error=float(error))
