r"""How RochetNet's parameters become allocations in :math:`X` (numpy; torch only when given).

On a box :math:`X = \prod_i [l_i, h_i]` an item's logits :math:`\theta_k \in \mathbb{R}^n` give
:math:`x_k = l + (h - l) \odot \operatorname{sigmoid}(\theta_k)`. On a polytope with vertices
:math:`x^1, \dots, x^V` (``MATH.md`` §9) the logits :math:`\theta_k \in \mathbb{R}^V` give the
convex combination

.. math::

    x_k = \sum_j \operatorname{softmax}(\theta_k)_j \, x^j \in X ,

exact in :math:`X` whatever the parameters (softmax weights are non-negative and sum to 1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, logit, softmax

from ...problem import Problem

__all__ = ["allocation_map", "allocations", "fingerprint_key", "initial_parameters",
           "menu_parameters", "parameter_width", "snapped_allocations", "trading_items"]

# A given allocation on a face of the box has an infinite logit; 1e-4 of the width from it is a
# logit of about +-9.2, where the sigmoid's slope still lets Adam move the item (as for vertex
# weights below 1e-4 on a polytope: log(1e-4) against log(1) for the largest).
_MENU_EPS = 1e-4

FloatArray = NDArray[np.float64]
# Initial allocations are drawn in this fraction of the box (away from the faces, where the
# sigmoid is flat and items would start frozen).
_INIT_SPREAD = 0.96
# Spread of the initial vertex logits: weights softmax(N(0, 1.5^2)) put most items near the
# middle of a face or of X, none frozen at a vertex (the softmax is flat only for huge logits).
_INIT_LOGIT_SD = 1.5


def parameter_width(problem: Problem) -> int:
    """Logits per item: ``goods`` on a box, the number of vertices on a polytope."""
    if problem.allocation_is_box:
        return problem.goods
    return int(np.asarray(problem.allocation.vertices).shape[0])


def allocations(problem: Problem, theta: FloatArray) -> FloatArray:
    """Allocations (items, goods) of the logits ``theta`` (numpy)."""
    if problem.allocation_is_box:
        low, high = problem.allocation_low, problem.allocation_high
        return low + (high - low) * expit(theta)
    return softmax(theta, axis=1) @ np.asarray(problem.allocation.vertices)


def trading_items(menu: Any) -> tuple[FloatArray, FloatArray]:
    """``(allocations, prices)`` of a menu's items other than no-trade (zero trade, zero price:
    RochetNet's fixed item)."""
    x = np.asarray(menu.allocations, dtype=np.float64)
    p = np.asarray(menu.prices, dtype=np.float64)
    keep = np.any(x != 0, axis=1) | (p != 0)
    return x[keep], p[keep]


def menu_parameters(problem: Problem, x: FloatArray, price: FloatArray, scale: float
                    ) -> tuple[FloatArray, FloatArray]:
    r"""``(theta, price / scale)`` that reproduce allocations ``x`` (items, goods) to within
    :math:`10^{-4}` of ``X``'s width: on a box the logit of the clipped fraction of the box, on a
    polytope the log of the vertex weights of the nearest convex combination (non-negative least
    squares, weights floored at :math:`10^{-4}`)."""
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if problem.allocation_is_box:
        low, high = problem.allocation_low, problem.allocation_high
        width = np.where(high > low, high - low, 1.0)
        theta = logit(np.clip((x - low) / width, _MENU_EPS, 1.0 - _MENU_EPS))
    else:
        theta = np.log(np.maximum(problem.allocation.convex_weights(x), _MENU_EPS))
    return theta, np.asarray(price, dtype=np.float64) / scale


def snapped_allocations(problem: Problem, theta: FloatArray, snap: float) -> FloatArray:
    """Polytope items with vertex weights below ``snap`` set to 0 (the rest renormalised): the
    item moves onto the face of the vertices it keeps, still exactly in ``X``."""
    w = softmax(theta, axis=1)
    w = np.where(w < snap, 0.0, w)
    w /= w.sum(axis=1, keepdims=True)          # the largest weight is >= 1/V > snap: sum > 0
    return w @ np.asarray(problem.allocation.vertices)


def allocation_map(problem: Problem, tensor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``theta -> x`` on torch tensors (``tensor`` turns arrays into the run's tensors)."""
    import torch

    if problem.allocation_is_box:
        low = tensor(problem.allocation_low)
        width = tensor(problem.allocation_high - problem.allocation_low)
        return lambda theta: low + width * torch.sigmoid(theta)
    verts = tensor(np.asarray(problem.allocation.vertices))
    return lambda theta: torch.softmax(theta, dim=1) @ verts


def fingerprint_key(problem: Problem) -> str:
    """The allocation set's part of a checkpoint fingerprint (unchanged for boxes)."""
    if problem.allocation_is_box:
        return repr(np.asarray(problem.allocation).tolist())
    return repr(np.asarray(problem.allocation.vertices).tolist())


def initial_parameters(problem: Problem, items: int, seed: int, scale: float
                       ) -> tuple[FloatArray, FloatArray]:
    r"""Logits spread over ``X`` and prices of selling each unit separately.

    On a box, allocations are uniform in the central ``_INIT_SPREAD`` of the box; on a polytope
    the vertex logits are normal. The price of ``x`` is
    :math:`\sum_i \max(x_i,0)\,a_i + \min(x_i,0)\,b_i` with the one-good optimal ask
    :math:`a_i = (h_i + \kappa c_i)/(2-\lambda)` and bid
    :math:`b_i = (l_i + \kappa c_i)/(2-\lambda)` of reference R1 (``h, l`` the value box
    here), a sensible start that training then couples.
    Returns ``(theta, price / scale)`` of shapes (items, width) and (items,).
    """
    rng = np.random.default_rng(seed)
    n = problem.goods
    if problem.allocation_is_box:
        frac = 0.5 + _INIT_SPREAD * (rng.random((items, n)) - 0.5)
        theta = logit(frac)
    else:
        theta = _INIT_LOGIT_SD * rng.standard_normal((items, parameter_width(problem)))
    x = allocations(problem, theta)
    lam, kappa = problem.adverse_selection, problem.kappa
    c = np.asarray(problem.belief)
    ask = (problem.value_high + kappa * c) / (2.0 - lam)
    bid = (problem.value_low + kappa * c) / (2.0 - lam)
    price = np.maximum(x, 0.0) @ ask + np.minimum(x, 0.0) @ bid
    return theta, price / scale
