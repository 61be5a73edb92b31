r"""Menus read off grid-LP solutions, and the envelope of the solution's tangent planes.

An LP solution :math:`(u_i, g_i)` at points :math:`P_i` is the menu
:math:`\{(g_i,\; P_i\cdot g_i - u_i)\}`: the trader's utility of item :math:`i` at :math:`P_i` is
:math:`u_i`, so the menu's utility is the upper envelope of the solution's tangent planes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ...menu import Menu
from ...problem import Problem
from .model import LPData
from .separation import upper_envelope

__all__ = ["envelope", "highest_plane", "lp_menu"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Allocations closer than this (relative to the box width) are one item of the LP menu: the
# LP's gradients at neighbouring points are equal up to the solver's round-off.
SAME_ITEM_RTOL = 1e-9


def lp_menu(problem: Problem, points: FloatArray, z: FloatArray,
            planes: IntArray | None = None) -> Menu:
    r"""The menu of an LP solution: items :math:`(g_i,\; P_i\cdot g_i - u_i)`.

    Gradients are clipped into the allocation box (solver round-off may leave them a hair
    outside; on a polytope, moved to the nearest point of ``X``), items whose allocations agree
    to :math:`10^{-9}` of the box width are merged keeping the cheapest (the others are never
    strictly preferred), and only items that are a
    best choice at some LP point are kept (they reproduce the solution's envelope there).

    Parameters
    ----------
    problem : Problem
    points : array of shape (N, n)
        The LP's points :math:`P_i`.
    z : array of shape (N (n + 1),)
        The LP solution, point by point ``(u_i, g_i)``.
    planes : int array or None
        The points whose planes are items (``LPData.planes``; None: all).
    """
    count, n = points.shape
    block = np.asarray(z, dtype=np.float64).reshape(count, n + 1)
    src = np.arange(count) if planes is None else np.asarray(planes, dtype=np.int64)
    u = block[src, 0]
    low, high = problem.allocation_low, problem.allocation_high
    g = np.clip(block[src, 1:], low, high)
    if not problem.allocation_is_box:
        # The LP holds g in X only to its feasibility tolerance: move stragglers onto X.
        g = problem.allocation.nearest(g)
    p = np.einsum("ij,ij->i", g, points[src]) - u
    width = np.where(high > low, high - low, 1.0)
    key = np.round(g / width / SAME_ITEM_RTOL)
    _, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.ravel()
    order = np.lexsort((p, inv))
    first = order[np.r_[True, inv[order][1:] != inv[order][:-1]]]
    menu = Menu(g[first], p[first])
    used = np.unique(menu.choose(points))
    return menu.subset(used)


def envelope(data: LPData, z: FloatArray
             ) -> Callable[[FloatArray], tuple[FloatArray, FloatArray]]:
    r"""``v -> (U(v), gradient of the maximising plane)`` for the envelope
    :math:`U(v) = \max_i u_i + g_i\cdot(v - P_i)` over the plane points (chunked)."""
    gk, ak, _ = data.plane_pieces(z)

    def evaluate_at(v: FloatArray) -> tuple[FloatArray, FloatArray]:
        best, arg = upper_envelope(np.asarray(v, dtype=np.float64), gk, ak)
        return best, gk[arg]

    return evaluate_at


def highest_plane(data: LPData, z: FloatArray, points: FloatArray) -> IntArray:
    """Index (in ``data``) of the plane point whose tangent plane is highest at each point."""
    gk, ak, owner = data.plane_pieces(z)
    _, arg = upper_envelope(np.asarray(points, dtype=np.float64), gk, ak)
    return owner[arg]
