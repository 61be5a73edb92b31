r"""The finite-type LP as data, its certified dual bound, and the menu of a solution.

For types :math:`t_i` with weights :math:`w_i` and the belief :math:`c` (``docs/math/types_lp.md``),

.. math::

    \mathrm{OPT} = \max_{u, g}\; \sum_i w_i\,\big[g_i\cdot(t_i - c'(t_i)) - u_i\big]
    \quad\text{s.t.}\quad u_j \ge u_i + g_i\cdot(t_j - t_i)\;\; (i \ne j),\quad
    g_i \in X,\quad 0 \le u_i \le \sigma_X(t_i - c),\quad u_c = 0 .

(The caps :math:`u_i \le \sigma_X(t_i - c)` follow from the rows into :math:`c`; they keep every
sub-LP bounded.) Columns are laid out point by point, ``u_i`` at ``i (n + 1)`` and ``g_i`` after
it, as in the grid LP, so its solver interfaces and separation serve this LP unchanged
(:mod:`amm_opt.solvers.grid_lp.interfaces`, :func:`~amm_opt.solvers.grid_lp.separation.find_cuts`).

**Certified bound.** Written :math:`\max q^\top z` s.t. :math:`Az \le 0`, :math:`lo \le z \le hi`,
for every :math:`y \ge 0` and every :math:`z` feasible for the LP with **all** pairs (a superset
of the rows of :math:`A`),

.. math::

    q_\star^\top z \le \sum_j \max(lo_j r_j, hi_j r_j) + \sum_j \max(|lo_j|, |hi_j|)\,
    |q_{\star j} - q_j|, \qquad r = q - A^\top y,

with :math:`q_\star` the exact objective. :func:`certified_bound` evaluates it at the solver's
duals with rigorous allowances for the rounding of :math:`r` (as in the grid LP) and of the
stored objective :math:`q` (weights and :math:`t_i - c'(t_i)`, a few roundings each).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from ...menu import Menu
from ...problem import Problem
from ..grid_lp.model import (
    UtilityColumns,
    dual_bound_terms,
    facet_rows,
    with_allocation_rows,
)
from ..grid_lp.separation import upper_envelope
from .types import TypeSet

__all__ = ["LIFT_SWEEPS", "TypesData", "certified_bound", "lift_prices", "types_menu"]

FloatArray = NDArray[np.float64]

_EPS = float(np.finfo(np.float64).eps) / 2          # unit round-off 2**-53
# Allocations closer than this (relative to the box width) are one item: the LP's gradients at
# neighbouring types agree up to the solver's round-off.
SAME_ITEM_RTOL = 1e-9


def _gamma(k: int) -> float:
    """Higham's :math:`\\gamma_k = k u / (1 - k u)`."""
    return k * _EPS / (1.0 - k * _EPS)


@dataclass(frozen=True, eq=False)
class TypesData(UtilityColumns):
    """Columns of the finite-type LP (the attributes the grid LP's interfaces read).

    Attributes
    ----------
    points, weights, belief_index
        From the :class:`~amm_opt.solvers.types_lp.types.TypeSet`.
    lower, upper, cost : arrays of shape (N (n + 1),)
        Column bounds and the objective :math:`q` (maximised).
    cost_error : array of shape (N (n + 1),)
        A bound on :math:`|q_\\star - q|` per column (rounding of the stored objective).
    has_plane : array of bool, shape (N,)
        Every point has a tangent plane (all True).
    facet_normals, facet_bounds : arrays of shape (K, n), (K,)
        A polytope ``X`` beyond its bounding box: rows :math:`a_k\\cdot g_i \\le s_k` at every
        point (as in the grid LP); empty for a box.
    """

    points: FloatArray
    weights: FloatArray
    belief_index: int
    lower: FloatArray
    upper: FloatArray
    cost: FloatArray
    cost_error: FloatArray
    has_plane: NDArray[np.bool_]
    facet_normals: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    facet_bounds: FloatArray = field(default_factory=lambda: np.zeros(0))


    @classmethod
    def build(cls, problem: Problem, types: TypeSet) -> TypesData:
        """The LP's columns for ``types`` under ``problem``'s belief, update and box."""
        pts, w = types.points, types.weights
        count, n = pts.shape
        c = np.asarray(problem.belief, dtype=np.float64)
        post = np.asarray(problem.posterior(pts), dtype=np.float64)
        gain = pts - post                                           # t_i - c'(t_i)
        # sigma_X(t - c) rounded upwards (8 (n + 2) ulps cover the subtraction, the products and
        # the n-term sum), so every feasible utility satisfies u <= upper.
        cap = problem.support_function(pts - c)
        cap = cap * (1.0 + 8 * (n + 2) * _EPS) + np.finfo(np.float64).tiny
        cap[types.belief_index] = 0.0
        low, high = problem.allocation_low, problem.allocation_high
        lower = np.column_stack([np.zeros(count), np.tile(low, (count, 1))]).ravel()
        upper = np.column_stack([cap, np.tile(high, (count, 1))]).ravel()
        cost = np.column_stack([-w, w[:, None] * gain]).ravel()
        # The weights count/m are rounded once; t - c'(t) is a difference of rounded terms (the
        # linear posterior (1 - lambda) c + lambda t costs three roundings); the product one more.
        lam = problem.adverse_selection
        scale = np.abs(pts) + np.abs(post) + (1.0 - lam) * np.abs(c) + lam * np.abs(pts)
        err_g = _gamma(8) * w[:, None] * scale
        cost_error = np.column_stack([_gamma(1) * w, err_g]).ravel()
        normals, bounds = facet_rows(problem)
        return cls(pts, w, types.belief_index, lower, upper, cost, cost_error,
                   np.ones(count, dtype=bool), normals, bounds)


def certified_bound(data: TypesData, matrix: sp.csr_matrix, duals: FloatArray | None,
                    allocation_duals: FloatArray | None = None) -> tuple[float, dict[str, Any]]:
    r"""Certified upper bound on the finite-type optimum from any row duals ``y``.

    .. math::

        \overline{\Pi} = \sum_j \max(lo_j r_j, hi_j r_j)
        + \gamma_{K+3} \sum_j b_j (|q_j| + (|A|^\top y)_j)
        + \gamma_{N+1} \sum_j |t_j| + \sum_j b_j \varepsilon_j ,

    :math:`r = q - A^\top \max(y, 0)`, :math:`b_j = \max(|lo_j|, |hi_j|)`, :math:`K` the most
    nonzeros in a column, :math:`t_j` the terms of the first sum and :math:`\varepsilon_j` the
    objective's rounding bound (``cost_error``); rounded up by one ulp. Valid for **every**
    ``y`` (negative entries are clipped; None gives the trivial bound of the box). On a polytope
    the rows :math:`a_k\cdot g_i \le s_k` join with ``allocation_duals`` and add
    :math:`y_X^\top s` (:func:`~amm_opt.solvers.grid_lp.model.with_allocation_rows`).
    """
    clipped = 0 if duals is None else int((np.asarray(duals) < 0).sum())
    t = dual_bound_terms(data, *with_allocation_rows(data, matrix, duals, allocation_duals))
    terms, raw, box, roundoff = t.terms, t.raw, t.box, t.roundoff
    objective = float((box * data.cost_error).sum()) * (1.0 + _gamma(len(terms) + 1))
    bound = float(np.nextafter(raw + roundoff + objective, np.inf))
    return bound, {"raw": raw, "roundoff_allowance": roundoff, "objective_allowance": objective,
                   "negative_duals_clipped": clipped, "duals": duals is not None}


def types_menu(problem: Problem, data: TypesData, z: FloatArray) -> Menu:
    r"""The menu of an LP solution: items :math:`(g_i,\; t_i\cdot g_i - u_i)`, with prices
    lifted towards exact incentive compatibility for the types.

    Gradients are clipped into :math:`X` (solver round-off; on a polytope moved to its nearest
    point) and those that agree to
    :math:`10^{-9}` of the box width are one item, priced so that each of its types keeps at
    least its LP utility. The LP's rows hold only to the solver's feasibility tolerance
    (~1e-8), so a type may strictly prefer another type's item by that much, and choosing it
    can cost the market maker far more than 1e-8. :func:`lift_prices` lowers each item's price
    until every type's own item attains its best utility (a tie, which
    :meth:`Menu.choose <amm_opt.Menu.choose>` breaks towards the market maker). Where the
    solution's small infeasibilities form cycles the lifting cannot close, the plain and the
    lifted menu are both feasible menus; the one that earns more on the types is returned.
    Items no type chooses are dropped.
    """
    u, g = data.split(z)
    low, high = problem.allocation_low, problem.allocation_high
    g = np.clip(g, low, high)
    if not problem.allocation_is_box:
        g = problem.allocation.nearest(g)          # the LP holds g in X to its tolerance only
    p = np.einsum("ij,ij->i", g, data.points) - u
    width = np.where(high > low, high - low, 1.0)
    key = np.round(g / width / SAME_ITEM_RTOL)
    _, owner = np.unique(key, axis=0, return_inverse=True)
    owner = owner.ravel()
    order = np.lexsort((p, owner))
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
    alloc = g[first]
    # every type of an item keeps at least its LP utility with the item's allocation
    own_price = np.einsum("ij,ij->i", alloc[owner], data.points) - u
    price = np.full(len(first), np.inf)
    np.minimum.at(price, owner, own_price)
    best: tuple[float, Menu] | None = None
    for prices in (lift_prices(data.points, alloc, price, owner), price):
        menu = Menu(alloc, prices)
        chosen = menu.choose(data.points, problem)
        x = np.asarray(menu.allocations)[chosen]
        gain = np.asarray(menu.prices)[chosen] - np.einsum(
            "ij,ij->i", x, problem.posterior(data.points))
        value = float(data.weights @ gain)
        if best is None or value > best[0]:
            best = (value, menu.subset(np.unique(chosen)))
    assert best is not None
    return best[1]


# Sweeps of lift_prices: each lowers prices along one more step of the longest paths; a
# near-feasible LP solution needs a handful.
LIFT_SWEEPS = 100


def lift_prices(points: FloatArray, alloc: FloatArray, price: FloatArray, owner: NDArray[Any]
                ) -> FloatArray:
    r"""Lower item prices until each type's own item is among its best.

    With the utility of type :math:`t` for item :math:`k` equal to :math:`t\cdot x_k - p_k`,
    each sweep sets :math:`p_k \leftarrow p_k - \max_{i : k(i) = k} \big(\max_l
    (t_i\cdot x_l - p_l) - (t_i\cdot x_k - p_k)\big)` (the shortfall of its worst-off
    type), until no shortfall exceeds :math:`10^{-15}` of the utility scale, the largest
    shortfall stops falling (a cycle) or :data:`LIFT_SWEEPS` sweeps (never raising a price).
    """
    price = np.asarray(price, dtype=np.float64).copy()
    scale = 1.0 + float(np.abs(points).max(initial=0.0) * np.abs(alloc).sum(axis=1).max(
        initial=0.0) + np.abs(price).max(initial=0.0))
    history: list[float] = []
    for _ in range(LIFT_SWEEPS):
        best, _ = upper_envelope(points, alloc, -price)
        own = np.einsum("ij,ij->i", points, alloc[owner]) - price[owner]
        short = best - own
        worst = float(short.max(initial=0.0))
        if worst <= 1e-15 * scale:
            break
        history.append(worst)
        if len(history) > 5 and worst > 0.99 * history[-6]:
            break                   # a cycle of small infeasibilities: lifting cannot close it
        drop = np.zeros(len(price))
        np.maximum.at(drop, owner, np.maximum(short, 0.0))
        price -= drop
    return price
