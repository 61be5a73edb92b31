"""Exact choice regions of a menu on a box, their triangulation, and quadrature on simplices.

The epigraph of :math:`u(s) = \\max_k (s \\cdot a_k + b_k)` over a box is a convex polytope; its
lower facets project onto the regions where each item is chosen. Qhull's half-space intersection
computes it; each region is then triangulated (Delaunay of its vertices, which are in convex
position) so that integrals over regions become sums over simplices.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import Delaunay, HalfspaceIntersection, QhullError
from scipy.special import roots_jacobi

__all__ = ["Region", "box_regions", "integrate_simplices", "simplex_rule", "simplex_volumes",
           "triangulate"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


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


def box_regions(allocations: FloatArray, prices: FloatArray, low: FloatArray,
                high: FloatArray) -> list[Region]:
    """Full-dimensional regions ``{v in [low, high] : item k maximises v.x_k - p_k}``.

    Parameters
    ----------
    allocations : array of shape (K, n)
    prices : array of shape (K,)
    low, high : arrays of shape (n,)
        The box.

    Duplicated items keep their first occurrence; lower-dimensional pieces are dropped.
    """
    n = allocations.shape[1]
    width = high - low
    keep = unique_items(allocations, prices)
    x = allocations[keep]
    p = prices[keep]
    # Work on the unit box s in [0,1]^n (v = low + width * s) so that Qhull sees O(1) numbers.
    slope = x * width
    offset = x @ low - p
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


def triangulate(regions: list[Region], n: int) -> tuple[FloatArray, IntArray]:
    """Simplices (S, n+1, n) covering the regions, and the item label of each."""
    simplices, labels = [], []
    for region in regions:
        pts = region.vertices
        if n == 1:
            simp = np.array([[[pts.min()], [pts.max()]]])
        else:
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
    chunk = max(1, (1 << 20) // len(w))
    for s in range(0, len(simp), chunk):
        rows = slice(s, s + chunk)
        pts = simp[rows, :1, :] + np.einsum("qj,sjn->sqn", lam, edges[rows])
        vals = np.asarray(integrand(pts, rows), dtype=np.float64)
        if vals.ndim == 2:
            vals = vals[:, :, None]
        out[rows] = np.einsum("sqo,q->so", vals, w) * det[rows, None]
    return out
