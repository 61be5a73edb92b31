r"""The grid LP as matrices and its certified dual bound (cuts: :mod:`.separation`).

Variables at each point :math:`P_i` (mesh corners, barycentres, the belief): the utility
:math:`u_i` and a gradient :math:`g_i \in X`. Column layout, point by point:
``u_i`` at column ``i (n + 1)`` and ``g_{i,d}`` at ``i (n + 1) + 1 + d``, so that points can be
appended to a model (refinement) without renumbering. The LP is

.. math::

    \max_z\; m^\top u \quad\text{s.t.}\quad
    u_i - u_j + g_i\cdot(P_j - P_i) \le 0 \;\; ((i, j) \in \mathcal{E}),\qquad
    0 \le u_i \le \sigma_X(P_i - c),\; u_c = 0,\; l \le g_i \le h,

a relaxation of the feasible utilities for **any** pair set :math:`\mathcal{E}`. On a polytope
``X`` the box :math:`[l, h]` is its bounding box and rows :math:`a_k\cdot g_i \le s_k` at the
plane points (:func:`allocation_rows`) cut it down to ``X``; their right-hand side adds
:math:`y_X^\top s` to the bound below.
Writing it as :math:`\max\, q^\top z` s.t. :math:`Az \le 0`, :math:`lo \le z \le hi`, weak duality
with box constraints gives, for every :math:`y \ge 0`,

.. math::

    q^\top z = y^\top A z + r^\top z \le \sum_j \max(lo_j r_j,\, hi_j r_j), \qquad
    r = q - A^\top y ,

whatever the quality of :math:`y`: :func:`certified_bound` evaluates it for the LP solver's duals
(clipped to :math:`y \ge 0`) with a rigorous allowance for floating-point round-off.

**Planes only at positive mass.** Points of negative mass (barycentres) need no tangent plane
of their own: pair rows are only ever added *from* the points of positive mass and the belief
(``LPData.planes``), and the gradients of the other points are fixed at 0 (they enter no row).
This loses nothing. Given such a solution with every row from a plane point satisfied,
:math:`U(v) = \max(0, \max_{i\ \mathrm{plane}} u_i + g_i\cdot(v - P_i))` is convex with
gradients in :math:`X` and :math:`U(c) = 0`; it equals :math:`u_i` at the plane points, and at the
optimum the value of a negative-mass point is the smallest its rows allow, :math:`U(P_j)`. So
:math:`(U(P), \nabla U(P))` is feasible for the LP with rows between *all* pairs and has the same
objective: both LPs have one optimal value. The other direction is weak duality as before (a
sub-LP of a relaxation is a relaxation), so validity never depended on it. The rows and columns
of the negative-mass points, most of the LP, become one value and a few rows each.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from ...problem import Problem
from ..checks import require_finite_measure
from .mesh import MeshPoints

__all__ = ["DualTerms", "LPData", "UtilityColumns", "all_pairs", "allocation_fields",
           "allocation_rows", "certified_bound", "delaunay_pairs", "dual_bound_terms",
           "facet_rows", "initial_pairs", "pair_keys", "pair_matrix", "tangent_pieces",
           "with_allocation_rows"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_EPS = float(np.finfo(np.float64).eps) / 2          # unit round-off u = 2**-53


def _gamma(k: int) -> float:
    """Higham's :math:`\\gamma_k = k u / (1 - k u)`: relative error bound of k float operations."""
    return k * _EPS / (1.0 - k * _EPS)


class UtilityColumns:
    """The column layout of the LPs over utilities: for each of the ``N`` points (``points``,
    shape (N, n)) one block ``(u_i, g_i)`` of ``1 + n`` columns."""

    points: FloatArray

    @property
    def size(self) -> int:
        return int(self.points.shape[0])

    @property
    def goods(self) -> int:
        return int(self.points.shape[1])

    @property
    def columns(self) -> int:
        return self.size * (self.goods + 1)

    def split(self, z: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(u (N,), g (N, n))`` from a column vector ``z``."""
        block = np.asarray(z, dtype=np.float64).reshape(self.size, self.goods + 1)
        return block[:, 0], block[:, 1:]


@dataclass(frozen=True)
class LPData(UtilityColumns):
    """Cost and bounds of the grid LP on one point set (the pair rows are added separately).

    Attributes
    ----------
    points : array of shape (N, n)
    masses : array of shape (N,)
    belief_index : int
    lower, upper : arrays of shape (N (n + 1),)
        Column bounds ``lo``, ``hi``.
    cost : array of shape (N (n + 1),)
        Objective ``q`` (maximised): the masses on the ``u`` columns, 0 on the ``g`` columns.
        Interleaved layout (see the module docstring).
    u_max : float
        :math:`\\max_V \\sigma_X(v - c)`: a bound on every feasible utility on the box.
    quadrature_error : float
        Estimated error of the masses (added to the certified bound times ``u_max``).
    value_scale : float
        :math:`\\sum_d \\max(|a_d|, |b_d|)` over the value box (scale of coordinate round-off).
    has_plane : array of bool, shape (N,)
        Points whose tangent planes enter the LP: only they may be the source ``i`` of a pair
        row. With ``planes="positive"`` these are the points of positive mass and the belief,
        and the gradient columns of all other points are fixed at 0.
    facet_normals, facet_bounds : arrays of shape (K, n) and (K,)
        A polytope allocation set beyond its bounding box (the column bounds ``lo``, ``hi`` of
        ``g``): rows :math:`a_k \\cdot g_i \\le s_k` at every plane point
        (:meth:`amm_opt.Polytope.relaxation_rows`, valid for the exact set). Empty for a box.
    """

    points: FloatArray
    masses: FloatArray
    belief_index: int
    lower: FloatArray
    upper: FloatArray
    cost: FloatArray
    u_max: float
    quadrature_error: float
    value_scale: float
    has_plane: NDArray[np.bool_]
    facet_normals: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    facet_bounds: FloatArray = field(default_factory=lambda: np.zeros(0))


    @property
    def planes(self) -> IntArray:
        """Indices of the points with a tangent plane."""
        return np.flatnonzero(self.has_plane).astype(np.int64)

    def plane_pieces(self, z: FloatArray) -> tuple[FloatArray, FloatArray, IntArray]:
        """Distinct planes ``a + g.v`` of the plane points in solution ``z``:
        ``(G (K, n), A (K,), owner (K,))``, ``owner`` a point index carrying each plane."""
        u, g = self.split(z)
        src = self.planes
        gk, ak, first, _ = tangent_pieces(self.points[src], u[src], g[src])
        return gk, ak, src[first]

    @classmethod
    def build(cls, problem: Problem, mp: MeshPoints, planes: str = "positive") -> LPData:
        """The LP's columns on the points of ``mp``; ``planes``: ``"positive"`` (tangent planes
        at the points of positive mass and the belief only, see the module docstring) or
        ``"all"``."""
        pts, n = mp.points, mp.points.shape[1]
        require_finite_measure(mp.masses, mp.quadrature_error, problem)
        count = len(pts)
        has_plane = np.ones(count, dtype=bool) if planes == "all" else mp.masses > 0
        has_plane[mp.belief_index] = True
        c = np.asarray(problem.belief, dtype=np.float64)
        # sigma_X(P - c) rounded upwards (a relative 8u margin covers the subtraction, the
        # products and the n-term sum), so that every feasible utility satisfies u <= upper.
        cap = problem.support_function(pts - c)
        cap = cap * (1.0 + 8 * (n + 2) * _EPS) + np.finfo(np.float64).tiny
        cap[mp.belief_index] = 0.0                                   # u(c) = 0
        g_low = np.where(has_plane[:, None], problem.allocation_low[None, :], 0.0)
        g_high = np.where(has_plane[:, None], problem.allocation_high[None, :], 0.0)
        lower = np.column_stack([np.zeros(count), g_low]).ravel()
        upper = np.column_stack([cap, g_high]).ravel()
        cost = np.column_stack([mp.masses, np.zeros((count, n))]).ravel()
        corners = np.array(np.meshgrid(*zip(problem.value_low, problem.value_high,
                                            strict=True), indexing="ij")).reshape(n, -1).T
        u_max = float(problem.support_function(corners - c).max()) * (1.0 + 8 * (n + 2) * _EPS)
        scale = float(np.maximum(np.abs(problem.value_low), np.abs(problem.value_high)).sum())
        normals, bounds = facet_rows(problem)
        return cls(pts, mp.masses, mp.belief_index, lower, upper, cost, u_max,
                   mp.quadrature_error, scale, has_plane, normals, bounds)


def facet_rows(problem: Problem) -> tuple[FloatArray, FloatArray]:
    """``(normals (K, n), bounds (K,))`` of ``X`` beyond its bounding box (none for a box)."""
    if problem.allocation_is_box:
        return np.zeros((0, problem.goods)), np.zeros(0)
    return problem.allocation.relaxation_rows()


def allocation_fields(data: Any, duals: FloatArray | None) -> dict[str, Any]:
    """The polytope rows' fields of an :class:`~amm_opt.certificates.lp.LPCertificate` (none on
    a box): normals, bounds, and the duals they were evaluated at."""
    normals = getattr(data, "facet_normals", None)
    if normals is None or normals.shape[0] == 0:
        return {}
    return {"allocation_normals": np.asarray(normals, dtype=np.float64),
            "allocation_bounds": np.asarray(data.facet_bounds, dtype=np.float64),
            "allocation_duals": None if duals is None else np.asarray(duals, dtype=np.float64)}


def with_allocation_rows(data: Any, matrix: Any, duals: FloatArray | None,
                         allocation_duals: FloatArray | None
                         ) -> tuple[Any, FloatArray | None, FloatArray | None]:
    """``(rows, duals, rhs)`` for :func:`dual_bound_terms`: the pair rows alone on a box, the
    polytope rows :func:`allocation_rows` stacked above them otherwise (rhs ``s``, then 0)."""
    extra = allocation_rows(data)
    if extra is None:
        return matrix, duals, None
    a_x, s_x = extra
    y_pairs = _clipped(duals, matrix.shape[0])
    stacked = sp.vstack([a_x, sp.csr_matrix(matrix)], format="csr")
    rhs = np.concatenate([s_x, np.zeros(len(y_pairs))])
    both = None if duals is None and allocation_duals is None else \
        np.concatenate([_clipped(allocation_duals, a_x.shape[0]), y_pairs])
    return stacked, both, rhs


def allocation_rows(data: Any) -> tuple[sp.csr_matrix, FloatArray] | None:
    r"""The rows :math:`a_k \cdot g_i \le s_k` (plane point by plane point, facet by facet) as
    ``(matrix (P K, N (n + 1)), rhs (P K,))``; None where ``data`` has none (a box)."""
    normals = getattr(data, "facet_normals", None)
    if normals is None or normals.shape[0] == 0:
        return None
    planes = np.flatnonzero(data.has_plane).astype(np.int64)
    k, n = normals.shape
    width = n + 1
    cols = (planes[:, None, None] * width + 1 + np.arange(n)[None, None, :])
    cols = np.broadcast_to(cols, (len(planes), k, n)).reshape(-1, n)
    vals = np.broadcast_to(normals[None, :, :], (len(planes), k, n)).reshape(-1, n)
    indptr = np.arange(cols.shape[0] + 1, dtype=np.int64) * n
    matrix = sp.csr_matrix((vals.ravel(), cols.ravel(), indptr),
                           shape=(cols.shape[0], data.columns))
    return matrix, np.tile(data.facet_bounds, len(planes))


# ---------------------------------------------------------------------------------------------
# Pair rows
# ---------------------------------------------------------------------------------------------
_KEY_SHIFT = 31          # point indices stay far below 2**31 (memory runs out long before)


def pair_keys(i: IntArray, j: IntArray) -> IntArray:
    """A unique int64 key per ordered pair (i, j) (independent of the number of points)."""
    return (np.asarray(i, dtype=np.int64) << _KEY_SHIFT) + np.asarray(j, dtype=np.int64)


def key_pairs(keys: IntArray) -> tuple[IntArray, IntArray]:
    """Inverse of :func:`pair_keys`."""
    keys = np.asarray(keys, dtype=np.int64)
    return keys >> _KEY_SHIFT, keys & ((1 << _KEY_SHIFT) - 1)


def pair_rows(points: FloatArray, i: IntArray, j: IntArray, targets: FloatArray | None = None
              ) -> tuple[IntArray, FloatArray]:
    """Column indices and values of rows ``u_i - u_j + g_i.(P_j - P_i) <= 0``, each (m, n + 2).

    ``targets`` (m, n): the point each row's plane is evaluated at instead of ``P_j`` (the orbit
    LP's images ``T P_j``, :mod:`.orbit_stage`); the row's value variable stays ``u_j``."""
    n = points.shape[1]
    diff = (points[j] if targets is None else np.asarray(targets, dtype=np.float64)) - points[i]
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    width = n + 1
    cols = np.column_stack([i * width, j * width,
                            i[:, None] * width + 1 + np.arange(n)[None, :]])
    vals = np.column_stack([np.ones(len(i)), -np.ones(len(i)), diff])
    same = i == j
    if same.any():
        # A row from a point to an image of itself, g_i.(T P_i - P_i) <= 0: u_i cancels. Its
        # value column is kept once with a zero (fixed row width, no duplicate index).
        vals[same, 0] = vals[same, 1] = 0.0
        cols[same, 1] = np.where(i[same] > 0, i[same] - 1, i[same] + 1) * width
    return cols, vals


def pair_matrix(points: FloatArray, i: IntArray, j: IntArray,
                targets: FloatArray | None = None) -> sp.csr_matrix:
    """The rows of :func:`pair_rows` as a CSR matrix of shape (m, N (n + 1))."""
    count, n = points.shape
    cols, vals = pair_rows(points, i, j, targets)
    width = n + 2
    indptr = np.arange(len(i) + 1, dtype=np.int64) * width
    return sp.csr_matrix((vals.ravel(), cols.ravel(), indptr), shape=(len(i), count * (n + 1)))


# Points per k-d tree query block: the deadline is checked between blocks (a query of 2^14
# points in 8 goods takes a fraction of a second).
_KNN_BLOCK = 1 << 14


def initial_pairs(points: FloatArray, neighbours: int, deadline: float = math.inf
                  ) -> tuple[IntArray, IntArray]:
    """Both orientations of every k-nearest-neighbour pair (k-d tree; no all-pairs work).

    Past ``deadline`` (a ``time.perf_counter`` value) the remaining points get no start pairs:
    any set of rows is a relaxation, so the bound stays valid, only looser."""
    count = len(points)
    k = min(neighbours, count - 1)
    if k < 1:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    tree = cKDTree(points)
    blocks = []
    for s in range(0, count, _KNN_BLOCK):
        if time.perf_counter() > deadline:
            break
        blocks.append(np.asarray(tree.query(points[s:s + _KNN_BLOCK], k=k + 1)[1],
                                 dtype=np.int64))
    if not blocks:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    nb = np.concatenate(blocks)
    src = np.repeat(np.arange(len(nb), dtype=np.int64), k + 1)
    dst = nb.ravel()
    keep = src != dst
    src, dst = src[keep], dst[keep]
    keys = np.unique(np.concatenate([pair_keys(src, dst), pair_keys(dst, src)]))
    return key_pairs(keys)


# Delaunay start pairs are used up to this many goods: the number of Delaunay edges per point
# grows quickly with the dimension (about 3 in 2-D, 7 in 3-D) and Qhull's cost faster still.
DELAUNAY_MAX_GOODS = 3


def delaunay_pairs(points: FloatArray) -> tuple[IntArray, IntArray] | None:
    """Both orientations of every edge of the Delaunay triangulation of the points (Qhull).

    On the grid LP's point sets (barycentres, boundary vertices, hanging vertices of refined
    meshes) this is a sparser and better start than k nearest neighbours: each point is joined
    to its natural neighbours in every direction, so fewer rows are needed for the first solve
    (BENCHMARKS.md, grid LP: start pairs).
    Returns None where Qhull cannot triangulate (one good, too few or degenerate points).
    """
    from scipy.spatial import Delaunay, QhullError

    count, n = points.shape
    if not 2 <= n <= DELAUNAY_MAX_GOODS or count < n + 2:
        return None
    try:
        simplices = Delaunay(points).simplices
    except (QhullError, ValueError):
        return None
    a, b = np.triu_indices(n + 1, k=1)
    src = simplices[:, a].ravel().astype(np.int64)
    dst = simplices[:, b].ravel().astype(np.int64)
    keys = np.unique(np.concatenate([pair_keys(src, dst), pair_keys(dst, src)]))
    return key_pairs(keys)


def start_pairs(points: FloatArray, method: str, neighbours: int, deadline: float = math.inf
                ) -> tuple[IntArray, IntArray]:
    """The first LP's pair rows: ``"delaunay"`` (:func:`delaunay_pairs`, falling back to k
    nearest neighbours where it does not apply) or ``"knn"`` (:func:`initial_pairs`)."""
    if method == "delaunay":
        pairs = delaunay_pairs(points)
        if pairs is not None:
            return pairs
    return initial_pairs(points, neighbours, deadline)


def all_pairs(count: int, sources: IntArray | None = None) -> tuple[IntArray, IntArray]:
    """Every ordered pair ``i != j`` (the full LP), ``i`` among ``sources`` (all
    points when None); memory is that of the returned pairs only."""
    src = np.arange(count, dtype=np.int64) if sources is None else \
        np.asarray(sources, dtype=np.int64)
    i = np.repeat(src, count)
    j = np.tile(np.arange(count, dtype=np.int64), len(src))
    keep = i != j
    return i[keep], j[keep]


# ---------------------------------------------------------------------------------------------
# The certified bound
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DualTerms:
    """The weak-duality bound of an LP over bounded columns at duals ``y`` (clipped to >= 0):
    ``raw = sum_j max(lo_j r_j, hi_j r_j)`` with ``r = q - A^T y``, and ``roundoff``, the most
    floating-point error in computing it (``gamma_{K+3}`` per column of ``K`` nonzeros on
    ``|q| + |A|^T y`` times ``max(|lo|, |hi|)``, plus ``gamma_{N+1}`` on the sum)."""

    reduced_cost: FloatArray
    terms: FloatArray
    raw: float
    box: FloatArray
    roundoff: float


def _clipped(duals: FloatArray | None, rows: int) -> FloatArray:
    """Duals as a finite vector ``>= 0`` of length ``rows`` (None: zeros)."""
    if duals is None or rows == 0:
        return np.zeros(rows)
    return np.maximum(np.nan_to_num(np.asarray(duals, dtype=np.float64), nan=0.0, posinf=0.0,
                                    neginf=0.0), 0.0)


def dual_bound_terms(data: Any, matrix: Any, duals: FloatArray | None,
                     rhs: FloatArray | None = None) -> DualTerms:
    """:class:`DualTerms` of ``data`` (``cost``, ``lower``, ``upper``, ``columns``) and the
    rows ``matrix`` :math:`\\le` ``rhs`` (None: 0, the pair rows) at ``duals`` (None: zero duals,
    the trivial bound of the box). A right-hand side adds :math:`y^\top s` to the bound."""
    rows = matrix.shape[0]
    y = _clipped(duals, rows)
    csr = sp.csr_matrix(matrix)
    at_y = csr.T @ y if rows else np.zeros(data.columns)
    r = data.cost - at_y
    terms = np.maximum(data.lower * r, data.upper * r)
    rhs_terms = np.zeros(0) if rhs is None else y * np.asarray(rhs, dtype=np.float64)
    raw = float(terms.sum() + rhs_terms.sum())
    col_nnz = int(np.bincount(csr.indices, minlength=data.columns).max(initial=0)) if rows else 0
    abs_at_y = abs(csr).T @ y if rows else np.zeros(data.columns)
    box = np.maximum(np.abs(data.lower), np.abs(data.upper))
    # The right-hand side's products and the sum of all terms: a dot product of
    # N + R + 1 terms is within gamma_{N+R+1} of the sum of their magnitudes.
    roundoff = (_gamma(col_nnz + 3) * float((box * (np.abs(data.cost) + abs_at_y)).sum())
                + _gamma(len(terms) + len(rhs_terms) + 1)
                * float(np.abs(terms).sum() + np.abs(rhs_terms).sum()))
    return DualTerms(r, terms, raw, box, roundoff)


def certified_bound(data: LPData, matrix: sp.csr_matrix, duals: FloatArray | None,
                    allocation_duals: FloatArray | None = None) -> tuple[float, dict[str, Any]]:
    r"""Certified upper bound on the LP (hence on the optimal profit) from any row duals.

    .. math::

        \overline{\Pi} = \sum_j \max(lo_j r_j, hi_j r_j) + \text{round-off allowance}
        + \varepsilon_{quad}\, \bar u, \qquad r = q - A^\top \max(y, 0).

    Valid for **every** ``y``: an optimal dual gives the LP value, an inaccurate or infeasible
    one (solver tolerance, time limit) a larger but still valid number, and ``y = None`` (no
    duals) the trivial bound :math:`\sum_j \max(0, m_j)\,\sigma_X(P_j - c)`.

    Round-off: with :math:`K` the largest number of nonzeros in a column, each computed
    :math:`\hat r_j` differs from the exact :math:`r_j` (the stored float points and masses
    *are* the data; the coefficients :math:`P_j - P_i` are rounded once) by at most
    :math:`\gamma_{K+3}(|q_j| + (|A|^\top y)_j)`, which changes the j-th term by at most
    :math:`\max(|lo_j|, |hi_j|)` times that; summing the terms adds at most
    :math:`\gamma_{N+1} \sum_j |t_j|`. Barycentres are stored rounded: Jensen holds at the
    exact one, and :math:`u` is Lipschitz with constant :math:`\max_i \max(|l_i|, |h_i|)` per
    coordinate, and a barycentre (a ratio of Gauss sums of a few dozen terms) is within
    :math:`256\,u_{unit} \max(|a_d|, |b_d|)` of the exact one in each coordinate :math:`d`: that
    times the Lipschitz constant per unit of negative mass covers it. The total is rounded up
    by one ulp. ``quadrature_error`` times :math:`\bar u` covers the estimated
    error of the masses.

    Parameters
    ----------
    data : LPData
    matrix : sparse matrix of shape (rows, N (n + 1))
        All pair rows of the LP.
    duals : array of shape (rows,) or None
        Row duals of the maximisation (any sign: negative entries are clipped to 0).
    allocation_duals : array or None
        Duals of the polytope rows :func:`allocation_rows` (a box has none): with them the rows
        are :math:`[A_X; A]` and the bound gains :math:`y_X^\top s` (the rows' right-hand side).
    """
    clipped = 0 if duals is None else int((np.asarray(duals) < 0).sum())
    t = dual_bound_terms(data, *with_allocation_rows(data, matrix, duals, allocation_duals))
    r, raw = t.reduced_cost, t.raw
    g_cols = np.arange(data.columns) % (data.goods + 1) != 0
    lipschitz = float(np.max(np.maximum(np.abs(data.lower[g_cols]),
                                        np.abs(data.upper[g_cols])), initial=0.0))
    negative = float(np.maximum(-data.masses, 0.0).sum())
    position = 256 * _EPS * lipschitz * data.value_scale * negative
    allowance = t.roundoff + position
    quad = data.quadrature_error * data.u_max
    bound = float(np.nextafter(raw + allowance + quad, np.inf))
    return bound, {"raw": raw, "roundoff_allowance": allowance, "quadrature_allowance": quad,
                   "box_term": float(np.maximum(r, 0.0) @ data.upper),
                   "negative_duals_clipped": clipped,
                   "duals": duals is not None}


def tangent_pieces(points: FloatArray, u: FloatArray, g: FloatArray
                   ) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Distinct planes ``a + g.v`` of the solution: ``(G (K, n), A (K,), first (K,), inv (N,))``.

    ``first[k]`` is a point whose plane is piece ``k``; ``inv[i]`` is the piece of point ``i``.
    """
    a = u - np.einsum("ij,ij->i", g, points)
    key = np.column_stack([g, a])
    _, first, inv = np.unique(key, axis=0, return_index=True, return_inverse=True)
    return g[first], a[first], first.astype(np.int64), inv.ravel().astype(np.int64)
