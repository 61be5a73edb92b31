"""A menu that earns less than no trade is never returned: every engine falls back to the
no-trade menu (exact profit 0), says so in its status and message, and keeps what it found in
``stats['rejected_menu']`` (issue 12, item 3)."""

from __future__ import annotations

import dataclasses
import warnings
from typing import ClassVar

import pytest

from amm_opt import Menu, Problem, Status, solve
from amm_opt.errors import InaccurateSolutionWarning
from amm_opt.result import Bounds, Result
from amm_opt.solvers.base import Solver


@dataclasses.dataclass(frozen=True)
class _LosingSolver(Solver):
    """Returns a menu that sells the bundle at a loss: every type buys at price -1."""

    name: ClassVar[str] = "losing"

    def compute(self, problem: Problem) -> Result:
        menu = Menu([[1.0, 1.0]], [-1.0])
        bounds = Bounds(lower=-2.0, lower_method="exact")
        return Result(menu=menu, profit=-2.0, bounds=bounds, status=Status.OPTIMAL,
                      backend=self.name)


def test_a_losing_menu_is_replaced_by_no_trade():
    problem = Problem.paper_two_goods()
    with pytest.warns(InaccurateSolutionWarning, match="reduced accuracy"):
        res = solve(problem, backend=_LosingSolver())
    assert res.profit == 0.0 and res.bounds.lower == 0.0
    assert res.bounds.lower_method == "exact"
    assert res.menu.size == 1            # only no-trade
    assert res.status is Status.INACCURATE
    assert "worse than no trade" in res.message
    assert res.stats["rejected_menu"]["profit"] == -2.0


def test_rochetnet_with_a_huge_step_size_does_not_return_a_loss():
    pytest.importorskip("torch")
    # lr = 1e3 makes the prices explode; today's training keeps a menu losing thousands.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InaccurateSolutionWarning)
        res = solve(Problem.paper_two_goods(), backend="rochetnet", lr=1e3, steps=300,
                    batch_size=1024, validation_size=1024)
    assert res.profit >= 0.0
    if "rejected_menu" in res.stats:
        assert res.status is not Status.OPTIMAL and res.stats["rejected_menu"]["profit"] < 0


def test_a_profitable_menu_is_kept():
    res = solve(Problem.paper_two_goods(), backend="separate")
    assert res.profit == pytest.approx(0.25) and "rejected_menu" not in res.stats
    assert res.status is Status.OPTIMAL
