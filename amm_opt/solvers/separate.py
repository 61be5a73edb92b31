r"""Selling each good on its own: the optimal bid–ask per good, combined into a product menu.

For good ``i`` with marginal density :math:`f_i` (CDF :math:`F_i`), belief :math:`c_i` and the
linear update, one unit sold at ask :math:`a` and bought at bid :math:`b` earn

.. math::

    \pi^{ask}(a) = \int_a^{b_i} (a - (1-\lambda)c_i - \lambda t) f_i(t)\,dt, \qquad
    \pi^{bid}(b) = \int_{a_i}^{b} ((1-\lambda)c_i + \lambda t - b) f_i(t)\,dt,

with first-order conditions :math:`(1-\lambda)(a - c_i) f_i(a) = 1 - F_i(a)` and
:math:`(1-\lambda)(c_i - b) f_i(b) = F_i(b)` (reference R1). We maximise each globally (grid
search, then a root of the first-order condition inside the best grid bracket) so that densities
that are not regular still get the best price. Trades are the allocation-box extremes
:math:`h_i e_i` and :math:`l_i e_i`; because utilities and profits are additive across goods, the
product menu (every combination of per-good choices, prices added) earns the sum of the per-good
profits. This is the baseline the paper compares bundling against.

The belief may lie outside the value box (the selling-only monopolist with values in
:math:`[4, 16]` and cost :math:`c = 0` posts Myerson's price :math:`\max(4, 16/2) = 8`); the
allocation set must be a box (a polytope couples the goods: refused).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from ..distributions import Product, Samples
from ..errors import UnsupportedProblemError
from ..evaluate import Evaluation, evaluate
from ..menu import Menu
from ..options import Integer, Rule
from ..problem import Problem
from ..result import Result, Status
from .base import Solver, menu_result

__all__ = ["Separate"]

FloatArray = NDArray[np.float64]
_MAX_ITEMS = 200_000


def _interval_moments(marginal: Any, grid: FloatArray) -> tuple[FloatArray, FloatArray]:
    """∫ f and ∫ t f over each grid interval (Gauss–Legendre, 16 points per interval)."""
    t, w = np.polynomial.legendre.leggauss(16)
    mid = 0.5 * (grid[1:] + grid[:-1])
    half = 0.5 * (grid[1:] - grid[:-1])
    pts = mid[:, None] + half[:, None] * t[None, :]
    dens = marginal.pdf1(pts.ravel()).reshape(pts.shape)
    mass = (dens * w).sum(axis=1) * half
    first = (dens * pts * w).sum(axis=1) * half
    return mass, first


def _best_price(objective: Any, derivative: Any, grid: FloatArray, values: FloatArray
                ) -> float:
    """Global maximiser on a grid, refined by a root of the derivative in the best bracket."""
    j = int(np.argmax(values))
    lo, hi = grid[max(j - 1, 0)], grid[min(j + 1, len(grid) - 1)]
    best, best_val = grid[j], values[j]
    if lo < hi and derivative(lo) > 0 > derivative(hi):
        root = optimize.brentq(derivative, lo, hi, xtol=1e-14, rtol=1e-15, maxiter=200)
        if objective(root) >= best_val:
            best = root
    return float(best)


@dataclass(frozen=True)
class _GoodPrices:
    ask: float | None
    bid: float | None
    ask_profit: float
    bid_profit: float


def _density_prices(marginal: Any, c: float, lam: float, grid_points: int) -> _GoodPrices:
    low, high = marginal.lower, marginal.upper
    kappa = 1.0 - lam

    def partial(a: float, b: float) -> tuple[float, float]:
        g = np.linspace(a, b, 9)
        mass, first = _interval_moments(marginal, g)
        return float(mass.sum()), float(first.sum())

    def ask_profit(a: float) -> float:
        mass, first = partial(a, high)
        return (a - kappa * c) * mass - lam * first

    def bid_profit(b: float) -> float:
        mass, first = partial(low, b)
        return (kappa * c - b) * mass + lam * first

    def ask_derivative(a: float) -> float:
        return float(1.0 - marginal.cdf1(a) - kappa * (a - c) * marginal.pdf1(a))

    def bid_derivative(b: float) -> float:
        return float(kappa * (c - b) * marginal.pdf1(b) - marginal.cdf1(b))

    ask = bid = None
    ask_val = bid_val = 0.0
    # A belief outside [low, high] (MATH.md §9): below low every type buys at any ask <= low,
    # so the profit rises up to low and the search starts there; above high no type buys at an
    # ask >= c and only the bid side trades (and symmetrically for the bid).
    if c < high:
        grid = np.linspace(max(c, low), high, grid_points)
        mass, first = _interval_moments(marginal, grid)
        tail_mass = np.append(np.cumsum(mass[::-1])[::-1], 0.0)
        tail_first = np.append(np.cumsum(first[::-1])[::-1], 0.0)
        values = (grid - kappa * c) * tail_mass - lam * tail_first
        ask = _best_price(ask_profit, ask_derivative, grid, values)
        ask_val = ask_profit(ask)
    if c > low:
        grid = np.linspace(low, min(c, high), grid_points)
        mass, first = _interval_moments(marginal, grid)
        head_mass = np.insert(np.cumsum(mass), 0, 0.0)
        head_first = np.insert(np.cumsum(first), 0, 0.0)
        values = (kappa * c - grid) * head_mass + lam * head_first
        bid = _best_price(bid_profit, bid_derivative, grid, values)
        bid_val = bid_profit(bid)
    return _GoodPrices(ask, bid, ask_val, bid_val)


def _sample_prices(values: FloatArray, c: float, lam: float) -> _GoodPrices:
    """Empirical optimum: prices at sample points (ties trade, in the market maker's favour)."""
    m = len(values)
    kappa = 1.0 - lam
    t = np.sort(values)
    # Ask at t_j: buyers are t >= t_j (suffix sums).
    count_ge = m - np.searchsorted(t, t, side="left")
    sum_ge = np.append(np.cumsum(t[::-1])[::-1], 0.0)[np.searchsorted(t, t, side="left")]
    ask_vals = (count_ge * (t - kappa * c) - lam * sum_ge) / m
    ask_vals = np.where(t >= c, ask_vals, -np.inf)
    # Bid at t_j: sellers are t <= t_j (prefix sums).
    count_le = np.searchsorted(t, t, side="right")
    sum_le = np.insert(np.cumsum(t), 0, 0.0)[count_le]
    bid_vals = (count_le * (kappa * c - t) + lam * sum_le) / m
    bid_vals = np.where(t <= c, bid_vals, -np.inf)
    ask = bid = None
    ask_val = bid_val = 0.0
    if np.isfinite(ask_vals).any() and ask_vals.max() > 0:
        j = int(np.argmax(ask_vals))
        ask, ask_val = float(t[j]), float(ask_vals[j])
    if np.isfinite(bid_vals).any() and bid_vals.max() > 0:
        j = int(np.argmax(bid_vals))
        bid, bid_val = float(t[j]), float(bid_vals[j])
    return _GoodPrices(ask, bid, ask_val, bid_val)


@dataclass(frozen=True)
class Separate(Solver):
    """Optimal bid–ask per good, sold separately (product menu of ``3**goods`` items at most).

    Parameters
    ----------
    grid_points : int
        Points of the global price search per side and good before the first-order refinement.
    """

    grid_points: int = 2049

    name: ClassVar[str] = "separate"
    description: ClassVar[str] = "optimal bid-ask per good, sold separately (baseline)"
    linear_update_only: ClassVar[str | None] = "a custom update rule couples the goods"
    supports_belief_outside_values: ClassVar[bool] = True

    option_rules: ClassVar[dict[str, Rule]] = {"grid_points": Integer(3, example="2049")}

    def check_problem(self, problem: Problem) -> None:
        super().check_problem(problem)
        options = 3 ** problem.goods
        if options > _MAX_ITEMS:
            raise UnsupportedProblemError(
                f"the product menu would have {options} items", field="goods",
                value=problem.goods, allowed="goods <= 11 for the separate baseline")

    def compute(self, problem: Problem) -> Result:
        dist = problem.distribution
        lam = problem.adverse_selection
        per_good: list[_GoodPrices] = []
        for i in range(problem.goods):
            c = float(problem.belief[i])  # type: ignore[index]
            if isinstance(dist, Samples):
                per_good.append(_sample_prices(np.asarray(dist.values)[:, i], c, lam))
            else:
                assert isinstance(dist, Product)
                per_good.append(_density_prices(dist.marginals[i], c, lam, self.grid_points))
        options: list[list[tuple[float, float]]] = []
        for i, g in enumerate(per_good):
            lo, hi = float(problem.allocation_low[i]), float(problem.allocation_high[i])
            opts = [(0.0, 0.0)]
            if g.ask is not None and hi > 0 and g.ask_profit > 0:
                opts.append((hi, hi * g.ask))
            if g.bid is not None and lo < 0 and g.bid_profit > 0:
                opts.append((lo, lo * g.bid))
            options.append(opts)
        combos = list(itertools.product(*options))
        alloc = np.array([[o[0] for o in combo] for combo in combos], dtype=np.float64)
        prices = np.array([sum(o[1] for o in combo) for combo in combos], dtype=np.float64)
        menu = Menu(alloc, prices)
        evaluation = separable_evaluation(problem, options) \
            if isinstance(dist, Product) and problem.goods > 1 else None
        stats: dict[str, Any] = {
            "settings": self.settings(),
            "asks": [g.ask for g in per_good],
            "bids": [g.bid for g in per_good],
            "per_good_profit": [
                g.ask_profit * float(problem.allocation_high[i]) * (g.ask is not None)
                - g.bid_profit * float(problem.allocation_low[i]) * (g.bid is not None)
                for i, g in enumerate(per_good)],
        }
        return menu_result(problem, menu, self.name, Status.OPTIMAL, stats,
                           message="each good at its optimal bid and ask", evaluation=evaluation)


def separable_evaluation(problem: Problem,
                         options: list[list[tuple[float, float]]]) -> Evaluation:
    r"""Evaluation of the product menu from one-good evaluations (independent goods).

    With a product density and the linear update, a type's utility and the market maker's
    profit are sums over goods, and good ``i``'s choice depends on :math:`v_i` alone. So the
    profit is :math:`\sum_i \Pi_i`, item ``(o_1, ..., o_n)`` is chosen with probability
    :math:`\prod_i P_i(o_i)` and earns :math:`\sum_i \pi_i(o_i) \prod_{j \ne i} P_j(o_j)`,
    where :math:`P_i, \pi_i` are the one-good evaluation's probabilities and profits. This is as
    exact as the one-good evaluations (exact for uniform values), and costs ``n`` one-good
    evaluations instead of one over :math:`3^n` items in ``n`` dimensions (QMC beyond 3 goods).
    The stated error is the sum of the one-good errors (each bounds its own part).
    """
    dist = problem.distribution
    assert isinstance(dist, Product)
    parts = []
    for i, opts in enumerate(options):
        sub = Problem(goods=1, values=dist.marginals[i], belief=float(problem.belief[i]),
                      adverse_selection=problem.adverse_selection,
                      allocation=(float(problem.allocation_low[i]),
                                  float(problem.allocation_high[i])))
        parts.append(evaluate(sub, Menu([[o[0]] for o in opts], [o[1] for o in opts])))
    prob, item_profit = np.ones(1), np.zeros(1)
    for ev in parts:       # items in itertools.product order: the last good varies fastest
        item_profit = (np.multiply.outer(item_profit, ev.item_probability)
                       + np.multiply.outer(prob, ev.item_profit)).ravel()
        prob = np.multiply.outer(prob, ev.item_probability).ravel()
    total = float(sum(ev.profit for ev in parts))
    methods = {ev.method for ev in parts}
    method = methods.pop() if len(methods) == 1 else "quadrature"
    if any(ev.method == "qmc" for ev in parts):
        method = "qmc"
    err = float(sum(ev.stderr for ev in parts))
    half = float(sum(max(ev.confidence_interval[1] - ev.profit,
                         ev.profit - ev.confidence_interval[0]) for ev in parts))
    return Evaluation(total, err, method, prob, item_profit, (total - half, total + half),
                      {"per_good": [ev.method for ev in parts],
                       "per_good_profit": [ev.profit for ev in parts]})
