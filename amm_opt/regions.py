r"""Exact choice regions of a menu on a box, their triangulation, and quadrature on simplices.

Item ``k`` gives the utility :math:`u_k(v) = v \cdot x_k - p_k`; its region is where it attains
:math:`u = \max_k u_k`. Items that no type in the box can prefer are dropped first
(:func:`relevant_items`). The epigraph of :math:`u` over the box is a convex polytope whose lower
facets project onto the regions; Qhull's half-space intersection computes it, and each region is
triangulated so that integrals over regions become sums over simplices. See
docs/math/evaluation.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product as iter_product
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import Delaunay, HalfspaceIntersection, QhullError
from scipy.special import roots_jacobi

if TYPE_CHECKING:
    from .problem import Problem

__all__ = ["LABEL_RTOL", "TILING_RTOL", "AxisRule", "CellQuadrature", "Region", "axis_rule",
           "box_regions", "cell_quadrature", "cell_simplices", "check_labels",
           "integrate_simplices", "relevant_items",
           "simplex_rule", "simplex_volumes", "triangulate"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

_EPS = float(np.finfo(np.float64).eps)
# Quadrature points per block in ``integrate_simplices``: the integrand's work arrays are a few
# (points x goods) float arrays, so 2^18 points keep each block to tens of MiB.
_POINTS_PER_BLOCK = 1 << 18
# Elements of one (cells x items) block in the cell classification (16 MiB of float64).
_CHUNK_ELEMENTS = 1 << 21
#: Regions must tile the box (and every cell) to this relative volume; a larger mismatch means
#: Qhull merged or lost facets (near-duplicate items), and callers fall back rather than report.
TILING_RTOL = 1e-9
#: Largest shortfall of a region's item below the best utility at a simplex vertex, relative to
#: the utilities' size (``1 + |v| |x| + |p|``): Qhull's vertices are accurate to ~1e-13 of it,
#: so this flags only a wrong region, never round-off.
LABEL_RTOL = 1e-9


@dataclass(frozen=True)
class Region:
    """The convex polytope of types choosing one item.

    Attributes
    ----------
    item : int
        Menu index.
    vertices : array of shape (r, goods)
        Vertices of the polytope in value space.
    """

    item: int
    vertices: FloatArray


def unique_items(allocations: FloatArray, prices: FloatArray) -> IntArray:
    """Indices of the first occurrence of each distinct (allocation, price) item."""
    key = np.column_stack([allocations, prices])
    _, first = np.unique(key, axis=0, return_index=True)
    return np.sort(first)


def utility_range(allocations: FloatArray, prices: FloatArray, low: FloatArray,
                  high: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Minimum and maximum over the box of each item's utility ``v . x_k - p_k`` (at vertices)."""
    lo_part = np.minimum(allocations * low, allocations * high).sum(axis=1)
    hi_part = np.maximum(allocations * low, allocations * high).sum(axis=1)
    return lo_part - prices, hi_part - prices


def relevant_items(allocations: FloatArray, prices: FloatArray, low: FloatArray,
                   high: FloatArray) -> IntArray:
    r"""Indices of the items that some type in the box ``[low, high]`` may choose.

    Every type's utility is at least :math:`m_0 = \max_j \min_{v \in V} u_j(v)` (each
    :math:`u_j` is affine, so its minimum is at a vertex of the box). An item whose maximum over
    the box is below :math:`m_0` is never chosen, whatever the magnitudes: a price of 1e15 makes
    an item irrelevant instead of making every other number imprecise. The comparison keeps a
    margin of a few ulps of the numbers involved, so only items below :math:`m_0` by more than
    round-off are dropped (an item tied with :math:`m_0` only on the box's boundary is kept; it
    has no volume and the geometry drops it).
    """
    x = np.asarray(allocations, dtype=np.float64)
    p = np.asarray(prices, dtype=np.float64)
    if x.shape[0] == 0:
        return np.empty(0, dtype=np.intp)
    umin, umax = utility_range(x, p, low, high)
    j = int(np.argmax(umin))
    reach = np.maximum(np.abs(low), np.abs(high))
    size = np.abs(x) @ reach + np.abs(p)            # magnitude of the terms in u_k
    margin = 16 * _EPS * (size + size[j])
    return np.flatnonzero(umax >= umin[j] - margin)


def box_regions(allocations: FloatArray, prices: FloatArray, low: FloatArray,
                high: FloatArray) -> list[Region]:
    """Full-dimensional regions ``{v in [low, high] : item k maximises v.x_k - p_k}``.

    Parameters
    ----------
    allocations : array of shape (K, n)
    prices : array of shape (K,)
    low, high : arrays of shape (n,)
        The box.

    Notes
    -----
    Items no type in the box prefers are dropped (:func:`relevant_items`), duplicated items keep
    their first occurrence, and lower-dimensional pieces are dropped. The geometry is computed
    with utilities measured from the box's guaranteed utility level and scaled by the largest
    utility variation over the box, so its tolerances do not depend on the prices of items that
    do not matter.
    """
    allocations = np.asarray(allocations, dtype=np.float64)
    prices = np.asarray(prices, dtype=np.float64)
    low = np.asarray(low, dtype=np.float64)
    high = np.asarray(high, dtype=np.float64)
    n = allocations.shape[1]
    width = high - low
    rel = relevant_items(allocations, prices, low, high)
    keep = rel[unique_items(allocations[rel], prices[rel])]
    corners = np.array(np.meshgrid(*np.column_stack([low, high]), indexing="ij")
                       ).reshape(n, -1).T
    if keep.size == 0:
        return []
    if keep.size == 1:
        return [Region(item=int(keep[0]), vertices=corners)]
    x = allocations[keep]
    p = prices[keep]
    # Unit box s in [0,1]^n (v = low + width * s); utilities relative to the guaranteed level
    # m0 (every relevant item is within its own variation of it) and divided by the largest
    # variation, so that Qhull sees O(1) numbers whatever the prices.
    slope = x * width
    umin, _ = utility_range(x, p, low, high)
    base = float(umin.max())
    variation = float(np.abs(slope).sum(axis=1).max())
    if variation == 0.0:       # only constant items are left; the best one takes the box
        return [Region(item=int(keep[int(np.argmax(-p))]), vertices=corners)]
    offset = (x @ low - p - base) / variation
    slope = slope / variation
    scale = 1.0 + np.abs(slope).sum(axis=1).max() + np.abs(offset).max()
    top = float((np.maximum(slope, 0).sum(axis=1) + offset).max()) + scale
    center_u = float((0.5 * slope.sum(axis=1) + offset).max())
    interior = np.append(np.full(n, 0.5), 0.5 * (center_u + top))
    eye = np.eye(n)
    halfspaces = np.vstack([
        np.column_stack([slope, -np.ones(len(p)), offset]),             # u_k(s) - t <= 0
        np.column_stack([eye, np.zeros(n), -np.ones(n)]),               # s_i - 1 <= 0
        np.column_stack([-eye, np.zeros(n), np.zeros(n)]),              # -s_i <= 0
        np.append(np.zeros(n), [1.0, -top])[None, :],                   # t - top <= 0
    ])
    try:
        hs = HalfspaceIntersection(halfspaces, interior)
    except QhullError:
        # Degenerate input (e.g. only coplanar items): joggling is harmless for membership.
        hs = HalfspaceIntersection(halfspaces, interior, qhull_options="QJ")
    points = hs.intersections
    members: list[list[int]] = [[] for _ in range(len(p))]
    for vertex, facet in enumerate(hs.dual_facets):
        for h in facet:
            if h < len(p):
                members[h].append(vertex)
    regions: list[Region] = []
    for k, verts in enumerate(members):
        if len(verts) < n + 1:
            continue
        s_pts = np.clip(points[verts, :n], 0.0, 1.0)
        centred = s_pts - s_pts.mean(axis=0)
        if np.linalg.svd(centred, compute_uv=False)[-1] <= 1e-11:
            continue  # lower-dimensional piece: a boundary between regions
        regions.append(Region(item=int(keep[k]), vertices=low + width * s_pts))
    return regions


def _polygon_fans(regions: list[Region]) -> tuple[FloatArray, IntArray]:
    """Triangles of convex polygons (2-D regions), vectorised: vertices sorted by angle about
    their mean, then a fan from the first one (r - 2 triangles for r vertices)."""
    sizes = np.array([len(r.vertices) for r in regions])
    start = np.r_[0, np.cumsum(sizes)[:-1]]
    pts = np.concatenate([r.vertices for r in regions])
    owner = np.repeat(np.arange(len(regions)), sizes)
    centre = np.add.reduceat(pts, start, axis=0) / sizes[:, None]
    rel = pts - centre[owner]
    order = np.lexsort((np.arctan2(rel[:, 1], rel[:, 0]), owner))
    pts, owner = pts[order], owner[order]
    pos = np.arange(len(pts)) - start[owner]
    tri = np.flatnonzero((pos >= 1) & (pos <= sizes[owner] - 2))
    simp = np.stack([pts[start[owner[tri]]], pts[tri], pts[tri + 1]], axis=1)
    labels = np.array([r.item for r in regions], dtype=np.intp)[owner[tri]]
    return simp, labels


def triangulate(regions: list[Region], n: int) -> tuple[FloatArray, IntArray]:
    """Simplices (S, n+1, n) covering the regions, and the item label of each."""
    if not regions:
        return np.empty((0, n + 1, n)), np.empty(0, dtype=np.intp)
    if n == 1:
        simp = np.array([[[r.vertices.min()], [r.vertices.max()]] for r in regions])
        return simp, np.array([r.item for r in regions], dtype=np.intp)
    if n == 2:
        # Region vertices are in convex position: a fan from their mean covers the polygon
        # (duplicate vertices only add triangles of zero area).
        return _polygon_fans(regions)
    simplices, labels = [], []
    for region in regions:
        pts = region.vertices
        try:
            tri = Delaunay(pts)
        except QhullError:
            continue  # flat after all: measure zero
        simp = pts[tri.simplices]
        simplices.append(simp)
        labels.append(np.full(len(simp), region.item, dtype=np.intp))
    if not simplices:
        return np.empty((0, n + 1, n)), np.empty(0, dtype=np.intp)
    return np.concatenate(simplices), np.concatenate(labels)


def cell_simplices(allocations: FloatArray, prices: FloatArray,
                   breaks: list[FloatArray]) -> tuple[FloatArray, IntArray]:
    """Simplices covering the choice regions inside every cell of the tensor grid ``breaks``
    (one array of breakpoints per good), with the item label of each: the regions are
    computed cell by cell, so every simplex lies in one cell."""
    n = len(breaks)
    simps, labs = [], []
    for idx in np.ndindex(*[len(b) - 1 for b in breaks]):
        lo = np.array([b[i] for b, i in zip(breaks, idx, strict=True)])
        hi = np.array([b[i + 1] for b, i in zip(breaks, idx, strict=True)])
        simp, lab = triangulate(box_regions(allocations, prices, lo, hi), n)
        simps.append(simp)
        labs.append(lab)
    return np.concatenate(simps), np.concatenate(labs)


def check_labels(simp: FloatArray, labels: IntArray, allocations: FloatArray,
                 prices: FloatArray, budget: int = 1 << 25,
                 rng: np.random.Generator | None = None) -> tuple[float, int, int]:
    r"""Worst shortfall of the labelled item's utility below the best one at simplex vertices.

    :math:`u - u_k` is convex and :math:`\ge 0`, so if it is at most :math:`\delta` at the
    vertices of a simplex it is at most :math:`\delta` on the whole simplex: the label is
    :math:`\delta`-optimal everywhere on it. Returns ``(shortfall relative to the size of the
    utilities, vertices checked, vertices in all)``; when vertices x items exceeds ``budget``
    a random subset of vertices is checked.
    """
    x = np.asarray(allocations, dtype=np.float64)
    p = np.asarray(prices, dtype=np.float64)
    n = simp.shape[2]
    pts = simp.reshape(-1, n)
    own = np.repeat(labels, n + 1)
    total = len(pts)
    if total == 0:
        return 0.0, 0, 0
    m = max(1, budget // max(1, len(p)))
    if total > m:
        gen = rng if rng is not None else np.random.default_rng(0)
        pick = gen.choice(total, size=m, replace=False)
        pts, own = pts[pick], own[pick]
    worst = 0.0
    absx = np.abs(x)
    absp = np.abs(p)
    block = max(1, (1 << 21) // max(1, len(p)))
    for s in range(0, len(pts), block):
        v = pts[s:s + block]
        k = own[s:s + block]
        util = v @ x.T - p
        best = util.max(axis=1)
        mine = np.einsum("mn,mn->m", v, x[k]) - p[k]
        size = 1.0 + np.abs(v) @ absx.max(axis=0) + absp.max()
        worst = max(worst, float(((best - mine) / size).max()))
    return worst, len(pts), total


def simplex_volumes(simp: FloatArray) -> FloatArray:
    """Volumes of simplices given as (S, n+1, n) vertex arrays."""
    edges = simp[:, 1:, :] - simp[:, :1, :]
    return np.abs(np.linalg.det(edges)) / math.factorial(simp.shape[2])


def _gauss_jacobi01(order: int, alpha: int) -> tuple[FloatArray, FloatArray]:
    """Gauss rule for the weight (1 - t)^alpha on [0, 1]."""
    if alpha == 0:
        t, w = np.polynomial.legendre.leggauss(order)
        return 0.5 * (t + 1.0), 0.5 * w
    t, w = roots_jacobi(order, alpha, 0.0)  # weight (1-t)^alpha on [-1, 1]
    return 0.5 * (t + 1.0), w / 2.0 ** (alpha + 1)


def simplex_rule(n: int, order: int) -> tuple[FloatArray, FloatArray]:
    """Nodes (Q, n) in edge coordinates and weights (Q,) on the unit n-simplex (sum 1/n!).

    Duffy's collapse of the cube onto the simplex with Gauss–Jacobi rules in the collapsed
    directions, so the Jacobian is integrated exactly: exact for polynomials of degree
    ``2 * order - 1``.
    """
    rules = [_gauss_jacobi01(order, n - 1 - j) for j in range(n)]
    grids = np.meshgrid(*[r[0] for r in rules], indexing="ij")
    wgrids = np.meshgrid(*[r[1] for r in rules], indexing="ij")
    xi = np.column_stack([g.ravel() for g in grids])
    w = np.prod(np.column_stack([g.ravel() for g in wgrids]), axis=1)
    lam = np.empty_like(xi)
    remaining = np.ones(len(xi))
    for j in range(n):
        lam[:, j] = xi[:, j] * remaining
        remaining = remaining * (1.0 - xi[:, j])
    return lam, w


def integrate_simplices(simp: FloatArray, integrand: Callable[[FloatArray, slice], FloatArray],
                        order: int, n_out: int = 1) -> FloatArray:
    """Integrals of ``integrand`` over each simplex, shape (S, n_out).

    ``integrand(points, rows)`` receives points of shape (s, Q, n) for the simplices ``rows`` and
    returns values of shape (s, Q, n_out) (or (s, Q) when ``n_out == 1``).
    """
    n = simp.shape[2]
    lam, w = simplex_rule(n, order)
    det = simplex_volumes(simp) * math.factorial(n)
    edges = simp[:, 1:, :] - simp[:, :1, :]
    out = np.zeros((len(simp), n_out))
    chunk = max(1, _POINTS_PER_BLOCK // len(w))
    for s in range(0, len(simp), chunk):
        rows = slice(s, s + chunk)
        pts = simp[rows, :1, :] + lam @ edges[rows]                     # (s, Q, n)
        vals = np.asarray(integrand(pts, rows), dtype=np.float64)
        if vals.ndim == 2:
            vals = vals[:, :, None]
        out[rows] = (w @ vals) * det[rows, None]
    return out


# ---------------------------------------------------------------------------------------------
# Gauss quadrature on tensor cells (densities that need resolving)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AxisRule:
    """One axis's pieces: exact probabilities and Gauss sums of f and t f at two orders."""

    breaks: FloatArray
    mass: FloatArray                 # (P,) exact, from the CDF
    s0: tuple[FloatArray, FloatArray]  # (P,) Gauss sums of f at orders (q, q - 2)
    s1: tuple[FloatArray, FloatArray]  # (P,) Gauss sums of t f
    nodes: tuple[FloatArray, FloatArray]    # (P, q) points
    weights: tuple[FloatArray, FloatArray]  # (P, q) Gauss weight times density


def axis_rule(marginal: Any, breaks: FloatArray, orders: tuple[int, int],
              mass: FloatArray) -> AxisRule:
    """Gauss rules of the given orders on the pieces of ``breaks`` for a one-good marginal;
    ``mass`` are the pieces' exact probabilities."""
    lo, hi = breaks[:-1], breaks[1:]
    nodes, weights, s0, s1 = [], [], [], []
    for q in orders:
        t, w = np.polynomial.legendre.leggauss(q)
        mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
        pts = mid[:, None] + half[:, None] * t[None, :]
        wf = half[:, None] * w[None, :] * marginal.pdf1(pts.ravel()).reshape(pts.shape)
        nodes.append(pts)
        weights.append(wf)
        s0.append(wf.sum(axis=1))
        s1.append((wf * pts).sum(axis=1))
    return AxisRule(breaks, np.asarray(mass, dtype=np.float64), (s0[0], s0[1]),
                    (s1[0], s1[1]), (nodes[0], nodes[1]), (weights[0], weights[1]))


def _outer(factors: list[FloatArray]) -> FloatArray:
    out = factors[0]
    for f in factors[1:]:
        out = np.multiply.outer(out, f)
    return out


def _cell_items(axes: list[AxisRule], x: FloatArray, p: FloatArray) -> tuple[IntArray, IntArray]:
    """Per cell (C order): the number of items some type in the cell may choose, and the item
    with the highest minimum utility there (the only one where the count is 1)."""
    lows = np.stack(np.meshgrid(*[a.breaks[:-1] for a in axes], indexing="ij"), -1)
    highs = np.stack(np.meshgrid(*[a.breaks[1:] for a in axes], indexing="ij"), -1)
    lows, highs = lows.reshape(-1, len(axes)), highs.reshape(-1, len(axes))
    count = np.empty(len(lows), dtype=np.intp)
    top = np.empty(len(lows), dtype=np.intp)
    reach = np.maximum(np.abs(lows), np.abs(highs))
    size = np.abs(x)
    step = max(1, _CHUNK_ELEMENTS // max(1, len(p)))
    for s in range(0, len(lows), step):
        lo, hi = lows[s:s + step, None, :], highs[s:s + step, None, :]
        umin = np.minimum(x * lo, x * hi).sum(axis=2) - p
        umax = np.maximum(x * lo, x * hi).sum(axis=2) - p
        j = umin.argmax(axis=1)
        rows = np.arange(len(j))
        mag = reach[s:s + step] @ size.T + np.abs(p)
        margin = 16 * np.finfo(np.float64).eps * (mag + mag[rows, j][:, None])
        count[s:s + step] = (umax >= umin[rows, j][:, None] - margin).sum(axis=1)
        top[s:s + step] = j
    return count, top


@dataclass
class CellQuadrature:
    """Per-item probability and profit on the cells, with the error estimate."""

    prob: FloatArray
    profit: FloatArray
    error: float
    details: dict[str, Any]


def _cut_cell_pieces(axes: list[AxisRule], x: FloatArray, p: FloatArray, cells: IntArray,
                     top: IntArray) -> tuple[FloatArray, IntArray, IntArray] | str:
    """Exact choice regions inside each listed cell (Qhull on the cell, with only the items
    relevant there), triangulated and verified; cells that turn out to hold one region get
    that item in ``top`` and no pieces. Returns (simplices, labels, cell of each) or why the
    geometry cannot be trusted."""
    n = len(axes)
    shape = tuple(len(a.breaks) - 1 for a in axes)
    simps, labs, owners = [], [], []
    for c in cells:
        idx = np.unravel_index(int(c), shape)
        lo = np.array([a.breaks[i] for a, i in zip(axes, idx, strict=True)])
        hi = np.array([a.breaks[i + 1] for a, i in zip(axes, idx, strict=True)])
        regions = box_regions(x, p, lo, hi)
        if len(regions) == 1:
            top[c] = regions[0].item
            continue
        simp, lab = triangulate(regions, n)
        volume = float(np.prod(hi - lo))
        covered = float(simplex_volumes(simp).sum())
        if abs(covered - volume) > TILING_RTOL * volume:
            return (f"the choice regions cover {covered / volume:.12g} of a quadrature cell "
                    "(near-duplicate items?)")
        rel = relevant_items(x, p, lo, hi)
        worst = check_labels(simp, np.searchsorted(rel, lab), x[rel], p[rel])[0]
        if worst > LABEL_RTOL:
            return (f"a region's item is below the best utility by {worst:.3g} (relative) at "
                    "one of its vertices")
        simps.append(simp)
        labs.append(lab)
        owners.append(np.full(len(lab), c, dtype=np.intp))
    if not simps:
        return np.empty((0, n + 1, n)), np.empty(0, np.intp), np.empty(0, np.intp)
    return np.concatenate(simps), np.concatenate(labs), np.concatenate(owners)


def cell_quadrature(problem: Problem, x: FloatArray, p: FloatArray, axes: list[AxisRule],
                    orders: tuple[int, int], gain_bound: FloatArray) -> CellQuadrature | str:
    r"""Profit of the items ``(x, p)`` by Gauss quadrature on the tensor cells of ``axes``.

    A cell where only one item is relevant is whole: the tensor rule of its axes integrates
    :math:`f \cdot (p_k - x_k \cdot c'(v))` there. Other cells get their exact choice regions
    (Qhull on the cell), triangulated, with the collapsed Gauss rule on each simplex. The error
    estimate adds the difference to the lower-order rule and each cell's probability error
    (Gauss against exact) times the largest gain ``gain_bound`` of its items. Returns why the
    geometry cannot be trusted instead, when a check fails.
    """
    dist = problem.distribution
    n, kk = problem.goods, len(p)
    breaks = [a.breaks for a in axes]
    shape = tuple(len(b) - 1 for b in breaks)
    cell_mass = _outer([a.mass for a in axes]).ravel()
    # Only one item is relevant in a cell: it is chosen throughout (no geometry needed).
    count, top = _cell_items(axes, x, p)
    pieces = _cut_cell_pieces(axes, x, p, np.flatnonzero(count > 1), top)
    if isinstance(pieces, str):
        return pieces
    simp, labels, cell = pieces
    cut = np.zeros(len(cell_mass), dtype=bool)
    cut[cell] = True

    prob = np.zeros(kk)
    profit = np.zeros(kk)
    error = 0.0
    # Whole cells: the tensor Gauss rule of each cell, with the single item's gain.
    whole = np.flatnonzero(~cut)
    if whole.size:
        item = top[whole]
        multi = np.unravel_index(whole, shape)
        res = []
        for o in range(2):
            if problem.linear_update:
                # f times an affine gain: the tensor rule is a product of one-dimensional sums.
                s0 = [a.s0[o][multi[d]] for d, a in enumerate(axes)]
                s1 = [a.s1[o][multi[d]] for d, a in enumerate(axes)]
                m0 = np.prod(s0, axis=0)
                m1 = np.stack([s1[d] * np.prod([s0[e] for e in range(n) if e != d], axis=0)
                               for d in range(n)], axis=1)
                lam = problem.adverse_selection
                post_mass = (1 - lam) * np.asarray(problem.belief)[None, :] * m0[:, None] + \
                    lam * m1
                res.append((m0, p[item] * m0 - np.einsum("cn,cn->c", post_mass, x[item])))
            else:
                res.append(_tensor_cells(problem, axes, o, multi, x[item], p[item]))
        (m_hi, g_hi), (_, g_lo) = res
        prob += np.bincount(item, weights=m_hi, minlength=kk)
        profit += np.bincount(item, weights=g_hi, minlength=kk)
        error += float(np.abs(g_hi - g_lo).sum())
        error += float((np.abs(m_hi - cell_mass[whole]) * gain_bound[item]).sum())
    # Cut cells: the collapsed Gauss rule on each piece of each region.
    if len(simp):
        per = []
        for o in orders:
            def integrand(pts: FloatArray, rows: slice) -> FloatArray:
                flat = pts.reshape(-1, n)
                dens = dist.pdf(flat).reshape(pts.shape[:2])
                k = labels[rows]
                post = problem.posterior(flat).reshape(pts.shape)
                gain = p[k][:, None] - (post @ x[k][:, :, None])[:, :, 0]
                return np.stack([dens, dens * gain], axis=-1)

            per.append(integrate_simplices(simp, integrand, o, n_out=2))
        hi, lo = per
        prob += np.bincount(labels, weights=hi[:, 0], minlength=kk)
        profit += np.bincount(labels, weights=hi[:, 1], minlength=kk)
        error += float(np.abs(hi[:, 1] - lo[:, 1]).sum())
        m_cell = np.bincount(cell, weights=hi[:, 0], minlength=len(cell_mass))
        g_cell = np.zeros(len(cell_mass))
        np.maximum.at(g_cell, cell, gain_bound[labels])
        error += float((np.abs(m_cell - cell_mass)[cut] * g_cell[cut]).sum())
    details = {"cells": int(np.prod(shape)), "cells_cut": int(cut.sum()), "pieces": len(simp),
               "breaks_per_good": [len(b) - 1 for b in breaks]}
    return CellQuadrature(prob, profit, error, details)


def _tensor_cells(problem: Problem, axes: list[AxisRule], o: int, multi: tuple[IntArray, ...],
                  x: FloatArray, p: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Tensor Gauss rule on whole cells for a custom posterior: (mass, profit) per cell."""
    n = len(axes)
    q = axes[0].nodes[o].shape[1]
    grid = np.array(list(iter_product(range(q), repeat=n)))          # (q^n, n)
    mass = np.empty(len(multi[0]))
    gain_int = np.empty(len(multi[0]))
    step = max(1, _CHUNK_ELEMENTS // (len(grid) * n))
    for s in range(0, len(mass), step):
        rows = slice(s, s + step)
        pts = np.stack([axes[d].nodes[o][multi[d][rows]][:, grid[:, d]] for d in range(n)], -1)
        w = np.prod([axes[d].weights[o][multi[d][rows]][:, grid[:, d]] for d in range(n)], 0)
        post = problem.posterior(pts.reshape(-1, n)).reshape(pts.shape)
        gain = p[rows, None] - np.einsum("cqn,cn->cq", post, x[rows])
        mass[rows] = w.sum(axis=1)
        gain_int[rows] = (w * gain).sum(axis=1)
    return mass, gain_int
