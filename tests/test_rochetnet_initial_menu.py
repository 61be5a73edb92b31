"""RochetNet started from a given menu (``initial_menu``).

Reference: R2 (``references.r2_two_goods``) and the pure swap's closed form 4/27
(``tests/test_allocation_sets.py``). A run started at the optimal menu with a small learning
rate stays within 0.1% of it after 30 steps (the start is the optimum up to the 1e-4 logit
clipping and the soft choice at tau = 1000); a cold start after 30 steps is far below (> 5%).
"""

from __future__ import annotations

import pytest

from amm_opt import Menu, Polytope, Problem, Uniform, solve
from amm_opt import references as ref
from amm_opt.errors import OptionError

pytest.importorskip("torch", reason="RochetNet needs torch")

SHORT = {"menu_size": 16, "batch_size": 2048, "steps": 30, "eval_every": 10,
         "validation_size": 4096, "device": "cpu", "progress": False, "threads": 1,
         "lr": 1e-3, "lr_final": 1e-3, "temperature": 1000.0, "temperature_final": 1000.0}


def test_a_warm_start_from_the_optimum_stays_there_and_a_cold_one_does_not():
    case = ref.r2_two_goods(0.0)
    warm = solve(case.problem, backend="rochetnet", initial_menu=case.menu, **SHORT)
    cold = solve(case.problem, backend="rochetnet", **SHORT)
    assert warm.profit >= 0.999 * case.profit
    assert cold.profit < 0.95 * case.profit


def test_a_polytope_menu_starts_inside_x():
    swap = Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=Polytope.pure_swap(2))
    start = Menu([[1, -1], [-1, 1]], [1 / 3, 1 / 3])
    res = solve(swap, backend="rochetnet", initial_menu=start, **SHORT)
    assert res.profit >= 0.999 * 4 / 27
    res.menu.check_fits(swap, atol=1e-12)


@pytest.mark.parametrize("menu, needle", [
    (Menu([[1.0, 0.0, 0.0]], [0.5]), "does not fit"),
    (Menu([[2.0, 0.0]], [0.5]), "does not fit"),
    (Menu([[0.05 * k, 0.0] for k in range(1, 18)], [0.1] * 17), "more than menu_size"),
    ("not a menu", "not allowed"),
], ids=["goods", "outside-x", "too-many", "type"])
def test_bad_initial_menus_are_refused_clearly(menu, needle):
    problem = ref.r2_two_goods(0.0).problem
    with pytest.raises(OptionError, match=needle) as info:
        solve(problem, backend="rochetnet", initial_menu=menu, **SHORT)
    assert info.value.field.startswith("initial_menu")


def test_the_initial_menu_is_part_of_the_checkpoint_fingerprint(tmp_path):
    case = ref.r2_two_goods(0.0)
    path = tmp_path / "warm.pt"
    solve(case.problem, backend="rochetnet", initial_menu=case.menu, checkpoint_path=path,
          checkpoint_every=10, **{**SHORT, "steps": 20})
    with pytest.raises(OptionError, match="different"):
        solve(case.problem, backend="rochetnet", checkpoint_path=path, resume=True,
              **{**SHORT, "steps": 30})
