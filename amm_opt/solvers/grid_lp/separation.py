r"""Separation: the most violated convexity rows of an LP solution, over **all** pairs.

A solution :math:`(u, g)` violates the row :math:`(i, j)` by
:math:`u_i + g_i\cdot(P_j - P_i) - u_j`. Over all :math:`i` at once this is the upper envelope of
the solution's distinct tangent planes :math:`a_k + g_k\cdot v` (:func:`~.model.tangent_pieces`)
at :math:`P_j`, minus :math:`u_j`: work :math:`O(NK)` for :math:`K` planes, in chunks, never
:math:`O(N^2)` memory. Each round returns, per violated point, the rows from its ``per_point``
highest violating planes, and per violating plane the row into its worst point from every point
carrying it (a cluster of wrong gradients is corrected in one round). More than one plane per
point makes each LP larger but the rounds fewer; where every round is a cold interior-point
solve (the folded LP in four or more goods) that pays (BENCHMARKS.md, issue 17).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .model import key_pairs, pair_keys, tangent_pieces

__all__ = ["Cuts", "Violations", "find_cuts", "upper_envelope", "violating_planes",
           "worst_point_per_plane"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_CHUNK_ENTRIES = 1 << 22                             # points x pieces per separation block


@dataclass(frozen=True)
class Cuts:
    """Violated pairs found by :func:`find_cuts`.

    Attributes
    ----------
    i, j : arrays of shape (m,)
        New rows ``u_j >= u_i + g_i.(P_j - P_i)``.
    max_violation : float
        Largest violation :math:`\\max_{i,j} u_i + g_i\\cdot(P_j - P_i) - u_j` over **all** pairs.
    violated_points : int
        Points ``j`` below the max of the tangent planes by more than the tolerance.
    pieces : int
        Distinct tangent planes of the current solution.
    """

    i: IntArray
    j: IntArray
    max_violation: float
    violated_points: int
    pieces: int


@dataclass(frozen=True)
class Violations:
    """The violating planes of a solution at every point.

    Attributes
    ----------
    violation : array (N,)
        ``max_k a_k + g_k.P_j - u_j`` (the envelope's excess over ``u``).
    piece, point, amount : arrays (m,)
        Up to ``per_point`` planes per point whose excess there is above the tolerance, the
        highest first within each point.
    """

    violation: FloatArray
    piece: IntArray
    point: IntArray
    amount: FloatArray

    @property
    def max_violation(self) -> float:
        return float(self.violation.max(initial=0.0))

    @property
    def violated_points(self) -> int:
        return int(np.unique(self.point).size)


def upper_envelope(points: FloatArray, gk: FloatArray, ak: FloatArray
                   ) -> tuple[FloatArray, IntArray]:
    """``max_k a_k + g_k.v`` and its argmax at every point (chunked), shapes (N,), (N,)."""
    count = len(points)
    best = np.empty(count)
    arg = np.empty(count, dtype=np.int64)
    rows = max(1, _CHUNK_ENTRIES // max(1, len(ak)))
    for s in range(0, count, rows):
        block = points[s:s + rows] @ gk.T + ak
        arg[s:s + rows] = block.argmax(axis=1)
        best[s:s + rows] = block[np.arange(len(block)), arg[s:s + rows]]
    return best, arg


def violating_planes(points: FloatArray, gk: FloatArray, ak: FloatArray, u: FloatArray,
                     tol: float, per_point: int = 1) -> Violations:
    """The ``per_point`` highest planes ``a_k + g_k.v`` at every point that exceed ``u`` there
    by more than ``tol`` (chunked like :func:`upper_envelope`)."""
    count, planes = len(points), len(ak)
    k = max(1, min(int(per_point), planes))
    violation = np.empty(count)
    pieces, owners, amounts = [], [], []
    rows = max(1, _CHUNK_ENTRIES // max(1, planes))
    for s in range(0, count, rows):
        block = points[s:s + rows] @ gk.T + ak
        block -= u[s:s + rows, None]
        if k == 1:
            top = block.argmax(axis=1)[:, None]
            excess = np.take_along_axis(block, top, axis=1)
        else:
            top = np.argpartition(-block, k - 1, axis=1)[:, :k]
            excess = np.take_along_axis(block, top, axis=1)
            order = np.argsort(-excess, axis=1, kind="stable")
            top = np.take_along_axis(top, order, axis=1)
            excess = np.take_along_axis(excess, order, axis=1)
        violation[s:s + rows] = excess[:, 0]
        r, c = np.nonzero(excess > tol)
        pieces.append(top[r, c].astype(np.int64))
        owners.append((r + s).astype(np.int64))
        amounts.append(excess[r, c])
    if not pieces:
        empty = np.empty(0, np.int64)
        return Violations(violation, empty, empty, np.empty(0))
    return Violations(violation, np.concatenate(pieces), np.concatenate(owners),
                      np.concatenate(amounts))


def worst_point_per_plane(plane: IntArray, point: IntArray, violation: FloatArray,
                          planes: int) -> tuple[IntArray, FloatArray]:
    """For each of ``planes`` planes, the point of largest violation among the violating
    ``(plane, point, violation)`` triples (-1 and 0 where a plane has none): one sort."""
    order = np.lexsort((-violation, plane))
    plane_sorted = plane[order]
    lead = np.r_[True, plane_sorted[1:] != plane_sorted[:-1]]
    worst_j = np.full(planes, -1, dtype=np.int64)
    worst_v = np.zeros(planes)
    worst_j[plane_sorted[lead]] = point[order][lead]
    worst_v[plane_sorted[lead]] = violation[order][lead]
    return worst_j, worst_v


def candidate_rows(viol: Violations, inv: IntArray, planes: int
                   ) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    """Candidate rows as ``(piece, source position, target point, violation)`` triples: the
    rows from each violated point's violating planes (``source position`` -1: the piece's
    owner), and for every violating plane its worst point, from each position ``p`` whose
    plane is that piece (``inv[p]``)."""
    worst_j, worst_v = worst_point_per_plane(viol.piece, viol.point, viol.amount, planes)
    local = np.flatnonzero(worst_j[inv] >= 0)
    piece = np.concatenate([viol.piece, inv[local]])
    source = np.concatenate([np.full(len(viol.piece), -1, np.int64), local.astype(np.int64)])
    target = np.concatenate([viol.point, worst_j[inv[local]]])
    amount = np.concatenate([viol.amount, worst_v[inv[local]]])
    return piece, source, target, amount


def find_cuts(points: FloatArray, u: FloatArray, g: FloatArray, tol: float, max_cuts: int,
              existing: IntArray, sources: IntArray | None = None, per_point: int = 1) -> Cuts:
    r"""Most violated convexity pairs of a solution, over **all** ordered pairs (module
    docstring). Pairs already in the LP (``existing``, sorted keys) are skipped; at most
    ``max_cuts`` are returned, the most violated first. ``sources``: only the planes of these
    points (``LPData.planes``; None: all). ``per_point``: rows into each violated point from
    this many of the highest violating planes.
    """
    src = np.arange(len(points), dtype=np.int64) if sources is None else \
        np.asarray(sources, dtype=np.int64)
    gk, ak, first, inv = tangent_pieces(points[src], u[src], g[src])
    first = src[first]
    viol = violating_planes(points, gk, ak, u, tol, per_point)
    max_violation = viol.max_violation
    if not len(viol.point):
        return Cuts(np.empty(0, np.int64), np.empty(0, np.int64), max_violation, 0, len(ak))
    piece, source, cj, cv = candidate_rows(viol, inv, len(ak))
    ci = np.where(source >= 0, src[np.maximum(source, 0)], first[piece])
    keys = pair_keys(ci, cj)
    keep = (ci != cj) & ~np.isin(keys, existing, assume_unique=False)
    keys, cv = keys[keep], cv[keep]
    keys, pos = np.unique(keys, return_index=True)
    cv = cv[pos]
    if len(keys) > max_cuts:
        top = np.argpartition(-cv, max_cuts - 1)[:max_cuts]
        keys = keys[top]
    ci, cj = key_pairs(keys)
    return Cuts(ci, cj, max_violation, viol.violated_points, len(ak))
