"""The automatic rule beyond two goods: the grid LP in 3 goods, the folded grid LP's certified
bound beside RochetNet's menu from 4 goods, and the fall-back to the next bound engine."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pytest

import amm_opt.solvers as solvers_module
from amm_opt import Menu, Problem, Uniform, evaluate, solve
from amm_opt.errors import InaccurateSolutionWarning, SolverFailedError
from amm_opt.result import Result
from amm_opt.solvers import AutoRule, folded_point_count, register_backend, unregister_backend
from amm_opt.solvers.base import Solver
from amm_opt.symmetry import SymmetryGroup, detect_symmetry

_USABLE = solvers_module.available_backends()
needs = {name: pytest.mark.skipif(not _USABLE[name][0], reason=f"needs {name}: {_USABLE[name][1]}")
         for name in _USABLE}


def test_folded_point_count_is_the_number_of_multisets():
    # S3 on 5 cells per axis: multisets of 3 out of 6 values = C(8, 3)
    assert folded_point_count(SymmetryGroup(((0, 1, 2),), (False,)), 5) == 56
    # B2 about the centre on 4 cells: distances {0, 1, 2} -> multisets of 2 out of 3 = 6
    assert folded_point_count(SymmetryGroup(((0, 1),), (True,)), 4) == 6
    # the trivial group counts every node
    assert folded_point_count(SymmetryGroup.trivial(3), 6) == 7 ** 3
    # brute force: S2 x Z2 (goods 0,1 permuted, good 2 reflected) on 6 cells
    nodes = [(i, j, k) for i in range(7) for j in range(7) for k in range(7)]
    orbits = {(min(i, j), max(i, j), min(k, 6 - k)) for i, j, k in nodes}
    group = SymmetryGroup(((0, 1), (2,)), (False, True))
    assert folded_point_count(group, 6) == len(orbits)


@dataclass(frozen=True)
class _NoBound(Solver):
    """A bound engine that always fails (stands in for a grid LP that runs out of memory)."""

    name: ClassVar[str] = "no_bound_engine"
    provides_menu: ClassVar[bool] = False
    provides_upper: ClassVar[bool] = True
    supports_polytope_allocation: ClassVar[bool] = True
    supports_belief_outside_values: ClassVar[bool] = True

    def compute(self, problem: Problem) -> Result:
        raise SolverFailedError("out of luck", field="backend 'no_bound_engine'", value=None,
                                allowed="anything else")


@needs["ot_dual"]
def test_a_failing_bound_engine_falls_back_to_the_next(monkeypatch):
    register_backend("no_bound_engine", _NoBound)
    try:
        monkeypatch.setattr(solvers_module, "UPPER_RULES", (
            AutoRule("no_bound_engine", lambda p: True, lambda p: "tried first"),
            AutoRule("ot_dual", lambda p: True, lambda p: "the fall-back",
                     lambda p: {"grid": 8}),
        ))
        monkeypatch.setattr(solvers_module, "MENU_RULES", (
            AutoRule("separate", lambda p: True, lambda p: "for the test"),))
        problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5)
        result = solve(problem)
        info = result.stats["auto_choice"]
        assert info["upper_backend"] == "ot_dual" and info["upper_options"] == {"grid": 8}
        first, second = info["upper_attempts"]
        assert first["backend"] == "no_bound_engine" and "out of luck" in first["error"]
        assert second["backend"] == "ot_dual" and "error" not in second
        assert result.bounds.upper_method.startswith("ot_dual:")
        # selling separately earns 2 x 1/8 = 1/4 <= the optimum <= the transport bound
        assert result.bounds.lower == pytest.approx(0.25) and result.bounds.upper >= 0.2746
    finally:
        unregister_backend("no_bound_engine")


@needs["grid_lp"]
def test_three_goods_get_the_grid_lp_with_its_certified_bound(monkeypatch):
    # a small cap keeps the test fast (B3, order 48: 4 orbit distances per axis at grid 6 give
    # C(4 + 2, 3) = 20 orbit points)
    monkeypatch.setitem(solvers_module._GRID_LP_AUTO_POINTS, 3, 25)
    problem = Problem(goods=3, values=Uniform(0, 1), belief=0.5)
    result = solve(problem)
    assert result.backend == "grid_lp"
    assert result.stats["backend_choice"]["automatic"]
    assert "grid 6" in result.stats["backend_choice"]["reason"]
    assert result.stats["symmetry"]["order"] == 48
    assert result.bounds.upper_kind == "certified"
    # The optimum lies in [0.43786, 0.43868] (BENCHMARKS.md: folded grid LP at 60 cells, lower
    # bound a QMC estimate 0.437859 +- 5.8e-5, so 0.4375 is > 5 standard errors below it); a
    # coarse grid's bracket must contain that whole interval.
    assert result.bounds.lower <= 0.43868 and result.bounds.upper >= 0.4375
    # user options win over the rule's
    coarse = solve(problem, grid=4, polish=False)
    assert coarse.stats["lp_points"] < result.stats["lp_points"]


@needs["grid_lp"]
@needs["rochetnet"]
def test_four_symmetric_goods_get_a_certified_folded_bound_beside_rochetnet(monkeypatch):
    # B4 about c = 1/2 (order 384); a small cap keeps it fast: grid 6 -> C(4 + 3, 4) = 35 orbits
    monkeypatch.setitem(solvers_module._GRID_LP_AUTO_POINTS, 4, 40)
    problem = Problem(goods=4, values=Uniform(0, 1), belief=0.5)
    assert detect_symmetry(problem).order == 384
    result = solve(problem, steps=150, menu_size=16, batch_size=1024, seed=0)
    info = result.stats["auto_choice"]
    assert result.backend == "rochetnet" and info["upper_backend"] == "grid_lp"
    assert info["upper_options"] == {"grid": 6, "time_limit": 300.0}
    assert result.bounds.upper_method.startswith("grid_lp:")
    assert result.bounds.upper_kind == "certified"
    # selling separately earns 4 x 1/8 = 0.5, so the optimum and hence the bound are above it
    # (solve itself checked lower <= upper within the QMC error)
    assert result.bounds.upper >= 0.5
    assert result.bounds.lower <= result.bounds.upper


@needs["grid_lp"]
@needs["rochetnet"]
def test_the_folded_lp_menu_fine_tuned_replaces_a_weaker_learned_menu(monkeypatch):
    """AMM-4 (B4): 150 cold RochetNet steps give a poor menu; the folded grid LP's menu (grid
    12), fine-tuned from there, is better, is kept, and is reported by a fresh evaluation."""
    monkeypatch.setitem(solvers_module._GRID_LP_AUTO_POINTS, 4, 300)
    problem = Problem(goods=4, values=Uniform(0, 1), belief=0.5)
    result = solve(problem, steps=150, menu_size=16, batch_size=1024, seed=0)
    handoff = result.stats["auto_choice"]["menu_handoff"]
    menus = handoff["menus"]
    assert set(menus) == {"rochetnet", "grid_lp", "grid_lp menu fine-tuned by rochetnet"}
    assert handoff["chosen"] == max(menus, key=menus.get) != "rochetnet"
    result.menu.check_fits(problem)
    again = evaluate(problem, result.menu, seed=1)
    assert result.bounds.lower == again.profit and result.profit == again.profit
    assert result.bounds.lower_stderr == again.stderr > 0
    # The chosen menu beats the learned one by far more than the estimates' errors.
    assert result.bounds.lower > menus["rochetnet"] + 10 * result.bounds.lower_stderr
    assert result.bounds.lower <= result.bounds.upper


def test_hand_off_keeps_a_menu_at_least_as_good_as_the_bound_engines():
    from amm_opt.handoff import hand_off_menu

    problem = Problem(goods=1, values=Uniform(0, 1), belief=0.5)
    good = solve(problem, backend="separate")
    worse = Menu(np.array([[1.0]]), np.array([0.9]))
    upper = replace(good, menu=worse, backend="grid_lp",
                    bounds=replace(good.bounds, lower=evaluate(problem, worse).profit))
    assert upper.bounds.lower < good.bounds.lower
    assert hand_off_menu(problem, good, upper) == (good, None)
    assert hand_off_menu(problem, good, None) == (good, None)


def test_four_goods_without_a_large_group_keep_the_statistical_bound():
    skew = Problem(goods=4, values=Uniform(0, 1), belief=[0.4, 0.5, 0.6, 0.45])
    assert detect_symmetry(skew).order < solvers_module._FOLDED_MIN_ORDER
    names = [name for name, _, _ in solvers_module.upper_candidates(skew, "rochetnet")[0]]
    assert "grid_lp" not in names


@dataclass(frozen=True)
class _NoMenu(Solver):
    """A menu engine that ends without a menu (stands in for a grid LP whose first LP hits its
    time limit)."""

    name: ClassVar[str] = "no_menu_engine"
    provides_menu: ClassVar[bool] = True
    provides_upper: ClassVar[bool] = True

    def compute(self, problem: Problem) -> Result:
        from amm_opt.result import Bounds, Status

        return Result(menu=None, profit=None, status=Status.TIME_LIMIT, backend=self.name,
                      bounds=Bounds(lower=None, upper=10.0, upper_method="trivial"))


def test_an_automatic_engine_without_a_menu_falls_back_to_the_next():
    register_backend("no_menu_engine", _NoMenu)
    try:
        rules = (AutoRule("no_menu_engine", lambda p: True, lambda p: "tried first"),
                 AutoRule("separate", lambda p: True, lambda p: "the fall-back"))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(solvers_module, "MENU_RULES", rules)
            mp.setattr(solvers_module, "UPPER_RULES", ())
            with pytest.warns(InaccurateSolutionWarning, match="falls back to separate"):
                result = solve(Problem(goods=2, values=Uniform(0, 1), belief=0.5))
        choice = result.stats["backend_choice"]
        assert result.backend == "separate" and choice["reason"] == "the fall-back"
        assert choice["fallbacks"][0]["backend"] == "no_menu_engine"
        assert result.bounds.lower == pytest.approx(0.25)      # 2 goods x 1/8
    finally:
        unregister_backend("no_menu_engine")
