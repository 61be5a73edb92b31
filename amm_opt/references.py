r"""Closed-form reference menus (the optimal menus of docs/references.md).

Each function returns ``(problem, menu, optimal_profit)`` so that tests, benchmarks and regression
checks can compare any engine against a known optimum.

Examples
--------
>>> from amm_opt import references, evaluate
>>> problem, menu, best = references.r2_two_goods(0.0)
>>> round(best, 7), menu.size
(0.2746005, 9)
>>> abs(evaluate(problem, menu).profit - best) < 1e-12
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .distributions import Uniform
from .errors import ProblemError
from .menu import Menu
from .problem import Problem

__all__ = [
    "Reference",
    "catalogue",
    "r1_bid_ask",
    "r1_profit",
    "r2_profit",
    "r2_separate_profit",
    "r2_two_goods",
    "r3_monopolist",
]


@dataclass(frozen=True)
class Reference:
    """A problem with its known optimal menu and profit."""

    name: str
    problem: Problem
    menu: Menu
    profit: float

    def __iter__(self):  # allows ``problem, menu, profit = r2_two_goods()``
        return iter((self.problem, self.menu, self.profit))


def _check_lambda(lam: float) -> float:
    if not (0.0 <= lam < 1.0):
        raise ProblemError("is outside [0, 1)", field="adverse_selection", value=lam,
                           allowed="0 <= adverse_selection < 1")
    return float(lam)


def r1_profit(low: float = 0.0, high: float = 1.0, belief: float = 0.5,
              adverse_selection: float = 0.0) -> float:
    r"""R1 optimum :math:`(1-\lambda)^2[(H-c)^2 + (c-L)^2] / (2(2-\lambda)(H-L))`."""
    lam = _check_lambda(adverse_selection)
    return (1 - lam) ** 2 * ((high - belief) ** 2 + (belief - low) ** 2) / (
        2 * (2 - lam) * (high - low))


def r1_bid_ask(low: float = 0.0, high: float = 1.0, belief: float = 0.5,
               adverse_selection: float = 0.0) -> Reference:
    r"""R1: one good, :math:`v \sim U[L,H]`: ask :math:`(H+(1-\lambda)c)/(2-\lambda)`, bid
    :math:`(L+(1-\lambda)c)/(2-\lambda)`, trades of one unit in :math:`[-1, 1]`."""
    lam = _check_lambda(adverse_selection)
    problem = Problem(goods=1, values=Uniform(low, high), belief=belief, adverse_selection=lam)
    ask = (high + (1 - lam) * belief) / (2 - lam)
    bid = (low + (1 - lam) * belief) / (2 - lam)
    menu = Menu([[1.0], [-1.0], [0.0]], [ask, -bid, 0.0])
    return Reference("R1", problem, menu, r1_profit(low, high, belief, lam))


def r2_profit(adverse_selection: float = 0.0) -> float:
    r"""R2 optimum :math:`(1-\lambda)^2(12+2\sqrt2-(9+2\sqrt2)\lambda)/(6(3-2\lambda)^2)`."""
    lam = _check_lambda(adverse_selection)
    r2 = math.sqrt(2.0)
    return (1 - lam) ** 2 * (12 + 2 * r2 - (9 + 2 * r2) * lam) / (6 * (3 - 2 * lam) ** 2)


def r2_separate_profit(adverse_selection: float = 0.0) -> float:
    r"""Two goods sold separately at the R1 prices: :math:`(1-\lambda)^2 / (2(2-\lambda))`."""
    lam = _check_lambda(adverse_selection)
    return (1 - lam) ** 2 / (2 * (2 - lam))


def r2_two_goods(adverse_selection: float = 0.0) -> Reference:
    """R2: two goods, U[0,1]^2, belief (1/2, 1/2): the paper's 9-item menu."""
    lam = _check_lambda(adverse_selection)
    s = (2 - lam) / (2 * (3 - 2 * lam))
    big = (2 * (2 - lam) - math.sqrt(2.0) * (1 - lam)) / (2 * (3 - 2 * lam))
    items = [
        ((0, 0), 0.0),
        ((1, 0), 0.5 + s), ((0, 1), 0.5 + s),
        ((-1, 0), -(0.5 - s)), ((0, -1), -(0.5 - s)),
        ((1, 1), 1 + big), ((-1, -1), -(1 - big)),
        ((1, -1), big), ((-1, 1), big),
    ]
    menu = Menu(np.array([i[0] for i in items], dtype=float), [i[1] for i in items])
    return Reference("R2", Problem.paper_two_goods(lam), menu, r2_profit(lam))


def r3_monopolist() -> Reference:
    """R3: selling-only monopolist, one good, U[0,1], X = [0,1], c = 0: posted price 1/2."""
    problem = Problem(goods=1, values=Uniform(0.0, 1.0), belief=0.0, allocation=(0.0, 1.0))
    return Reference("R3", problem, Menu([[1.0]], [0.5]), 0.25)


def catalogue() -> dict[str, Reference]:
    """The standard reference cases, keyed by the names of their golden files.

    R1 at λ = 0 and at c = 0.3, λ = ½; R2 at λ = 0 and λ = ½; R3. Tests, crosschecks and the
    golden menus in ``tests/data/golden`` all use this one list.
    """
    return {
        "r1_lam0": r1_bid_ask(),
        "r1_c03_lam05": r1_bid_ask(belief=0.3, adverse_selection=0.5),
        "r2_lam0": r2_two_goods(0.0),
        "r2_lam05": r2_two_goods(0.5),
        "r3": r3_monopolist(),
    }
