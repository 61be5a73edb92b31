r"""A toy backend: the grand bundle and its mirror at a bid and an ask price.

``BundlePrice`` offers two trades besides no-trade: the upper corner of the allocation box,
:math:`x^+ = (h_1, \dots, h_n)` (buy every good, as much as allowed), at an ask :math:`a`, and the
lower corner :math:`x^- = (l_1, \dots, l_n)` (sell every good) at a price :math:`q` (the trader
pays :math:`q`; :math:`q < 0` means she is paid :math:`-q`):

.. math::

    \max_{a,\, q}\; \Pi\big(\{(0, 0),\, (x^+, a),\, (x^-, q)\}\big),
    \qquad c \cdot x^+ \le a \le \max_{v \in V} v \cdot x^+, \quad
    c \cdot x^- \le q \le \max_{v \in V} v \cdot x^- .

The lower ends keep :math:`u(c) = 0` (the belief type never gains from trading), so the menu's
utility lies in the feasible set and its profit is a valid lower bound; at the upper ends nobody
trades. Each price is found by a 1-D search on the **exact** profit of :func:`amm_opt.evaluate`
(a grid, then golden-section search in the best grid bracket), alternating between the two
prices for a few rounds. It is a worked example of the backend interface (see
``docs/adding_a_backend.md``), not a good market maker: on the paper's instance it earns
:math:`4/27 \approx 0.148`, against 0.25 for selling the goods separately.

Run it::

    python examples/toy_backend.py
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from amm_opt import Menu, Problem, evaluate
from amm_opt.options import Choice, Integer, Real, Rule
from amm_opt.result import Result, Status
from amm_opt.solvers.base import Solver, menu_result

__all__ = ["BundlePrice"]

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0          # 0.618...
_EVALUATION_METHODS = ("auto", "exact", "quadrature", "qmc", "sample-mean")


@dataclass(frozen=True)
class BundlePrice(Solver):
    r"""Sell the grand bundle and buy it back, at prices searched on the exact profit.

    .. math::

        \max_{a,\, q}\; \Pi\big(\{(0, 0),\, (h, a),\, (l, q)\}\big)

    Parameters
    ----------
    grid_points : int
        Prices tried on each side's interval before the golden-section refinement.
    tolerance : float
        The refinement stops when the bracket is narrower than this fraction of the interval.
    rounds : int
        Alternations between the ask and the bid (each optimised with the other fixed).
    evaluate_method : str
        Passed to :func:`amm_opt.evaluate` (``"auto"`` is exact for uniform values).

    Examples
    --------
    >>> from amm_opt import Problem, Uniform
    >>> res = BundlePrice().solve(Problem(goods=2, values=Uniform(0, 1), belief=0.5))
    >>> round(res.profit, 6)                     # 4/27
    0.148148
    """

    grid_points: int = 33
    tolerance: float = 1e-9
    rounds: int = 2
    evaluate_method: str = "auto"

    name: ClassVar[str] = "bundle_price"
    description: ClassVar[str] = "toy: the grand bundle and its mirror at a searched bid and ask"
    provides_menu: ClassVar[bool] = True
    provides_upper: ClassVar[bool] = False
    # Checked by the base class when the solver is made (unknown names are rejected there too).
    option_rules: ClassVar[dict[str, Rule]] = {
        "grid_points": Integer(low=3, example="33"),
        "tolerance": Real(0.0, 1.0, open_low=True, open_high=True, example="1e-9"),
        "rounds": Integer(low=1, example="2"),
        "evaluate_method": Choice(_EVALUATION_METHODS),
    }

    # The base class's ``solve`` checks the problem, times this and fills in the message.
    def compute(self, problem: Problem) -> Result:
        trades, ranges = _sides(problem)
        # Start where nobody trades (upper ends), then improve one price at a time.
        prices = np.array([hi for _, hi in ranges])
        evaluations = 0

        def profit(candidate: np.ndarray) -> float:
            nonlocal evaluations
            evaluations += 1
            menu = Menu(trades, candidate)
            return float(evaluate(problem, menu, method=self.evaluate_method).profit)

        best = profit(prices)
        for _ in range(self.rounds):
            for side, (lo, hi) in enumerate(ranges):

                def along(price: float, side: int = side) -> float:
                    candidate = prices.copy()
                    candidate[side] = price
                    return profit(candidate)

                price, value = _maximise(along, lo, hi, self.grid_points, self.tolerance)
                if value > best:
                    prices[side], best = price, value
        stats: dict[str, Any] = {"settings": self.settings(), "evaluations": evaluations,
                                 "prices": prices.tolist()}
        return menu_result(problem, Menu(trades, prices), self.name, Status.OPTIMAL, stats,
                           message=f"searched {evaluations} price pairs",
                           evaluate_options={"method": self.evaluate_method})


def _sides(problem: Problem) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """The bundle trades that are not no-trade, and each one's price interval."""
    c = np.asarray(problem.belief)
    trades, ranges = [], []
    for x in (problem.allocation_high, problem.allocation_low):
        if not np.any(x != 0):
            continue            # e.g. the selling-only box has no bundle to buy back
        top = float(np.maximum(x * problem.value_low, x * problem.value_high).sum())
        trades.append(np.array(x, dtype=np.float64))
        ranges.append((float(c @ x), top))
    return np.array(trades), ranges


def _maximise(f: Any, lo: float, hi: float, points: int, tol: float) -> tuple[float, float]:
    """Best of a grid on ``[lo, hi]`` and a golden-section search in the best grid bracket."""
    grid = np.linspace(lo, hi, points)
    values = [f(float(p)) for p in grid]
    j = int(np.argmax(values))
    best_x, best_v = float(grid[j]), float(values[j])
    a, b = float(grid[max(j - 1, 0)]), float(grid[min(j + 1, points - 1)])
    x1, x2 = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    f1, f2 = f(x1), f(x2)
    while True:
        for x, v in ((x1, f1), (x2, f2)):
            if v > best_v:
                best_x, best_v = x, v
        if b - a <= tol * (hi - lo):
            return best_x, best_v
        if f1 >= f2:                       # the maximum is in [a, x2]
            b, x2, f2 = x2, x1, f1
            x1 = b - _GOLDEN * (b - a)
            f1 = f(x1)
        else:                              # the maximum is in [x1, b]
            a, x1, f1 = x1, x2, f2
            x2 = a + _GOLDEN * (b - a)
            f2 = f(x2)


def main() -> None:
    import amm_opt
    from amm_opt.solvers import register_backend

    register_backend("bundle_price", BundlePrice)
    problem = Problem.paper_two_goods()
    result = amm_opt.solve(problem, backend="bundle_price")
    print(result.summary())
    print(f"4/27 = {4 / 27:.8f}")


if __name__ == "__main__":
    main()
