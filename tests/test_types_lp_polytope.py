"""The finite-type LP on polytope allocation sets and with beliefs outside the value box.

References:

* a pure swap :math:`x = t(e_1 - e_2)`, :math:`t \\in [-1, 1]`, is the one-good problem in
  :math:`w = v_1 - v_2` with belief :math:`c_1 - c_2` and trades :math:`t \\in [-1, 1]`
  (``tests/test_allocation_sets.py``): on samples the two finite-type LPs have one optimum;
* one good, trades [0, 1], cost 0 (the belief below every value): the optimal menu for finitely
  many types is a posted price at one of the values, :math:`\\max_k v_{(k)} (m - k + 1) / m`.

Tolerance 1e-8 relative between LP optima: both are solved to HiGHS's 1e-10 feasibility and
certified to a gap <= 1e-6 relative (the backend's own target), so agreeing optima may differ
by the certified gaps only.
"""

from __future__ import annotations

import numpy as np
import pytest

from amm_opt import Polytope, Problem, Samples, solve

pytest.importorskip("highspy", reason="the finite-type LP needs HiGHS")


def _values(m: int, goods: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).random((m, goods))


@pytest.mark.parametrize("formulation", ["primal", "dual"])
def test_box_as_polytope_is_the_box(formulation):
    v = _values(120, 2)
    box = solve(Problem(goods=2, values=Samples(v), belief=0.5), backend="types_lp",
                formulation=formulation)
    poly = solve(Problem(goods=2, values=Samples(v), belief=0.5,
                         allocation=Polytope.box([-1, -1], [1, 1])),
                 backend="types_lp", formulation=formulation)
    assert poly.bounds.lower == pytest.approx(box.bounds.lower, rel=1e-8)
    assert poly.bounds.upper == pytest.approx(box.bounds.upper, rel=1e-8)


@pytest.mark.parametrize("formulation", ["primal", "dual"])
@pytest.mark.parametrize("lam", [0.0, 0.4])
def test_pure_swap_is_the_one_good_problem_in_the_difference(formulation, lam):
    v = _values(150, 2)
    c = np.array([0.6, 0.45])
    swap = Problem(goods=2, values=Samples(v), belief=c, adverse_selection=lam,
                   allocation=Polytope.pure_swap(2, give=1, get=0))
    one = Problem(goods=1, values=Samples((v[:, 0] - v[:, 1])[:, None]), belief=c[0] - c[1],
                  adverse_selection=lam, allocation=(-1, 1))
    a = solve(swap, backend="types_lp", formulation=formulation)
    b = solve(one, backend="types_lp", formulation=formulation)
    assert a.bounds.lower == pytest.approx(b.bounds.lower, rel=1e-8)
    assert a.bounds.upper - a.bounds.lower <= 1e-6 * a.bounds.lower
    a.menu.check_fits(swap, atol=1e-12)
    assert a.certificate.allocation_duals is not None


@pytest.mark.parametrize("allocation", [Polytope.unit_demand(2),
                                        Polytope.budget([-1, -1], [1, 1], 0.5)],
                         ids=["unit_demand", "budget"])
def test_polytope_menus_stay_in_x_and_are_exact(allocation):
    v = _values(200, 2, seed=5)
    problem = Problem(goods=2, values=Samples(v), belief=0.5, allocation=allocation)
    res = solve(problem, backend="types_lp")
    res.menu.check_fits(problem, atol=1e-12)
    assert res.bounds.upper - res.bounds.lower <= 1e-6 * res.bounds.lower
    box = Problem(goods=2, values=Samples(v), belief=0.5,
                  allocation=np.column_stack([allocation.low, allocation.high]))
    # X is strictly inside its bounding box: the box's optimum is larger.
    assert res.bounds.upper < solve(box, backend="types_lp").bounds.lower


def test_one_good_belief_below_the_samples_is_the_best_posted_price():
    v = np.sort(0.5 + np.random.default_rng(11).random(60))
    m = len(v)
    best = float(max(v[k] * (m - k) / m for k in range(m)))
    problem = Problem(goods=1, values=Samples(v[:, None]), belief=0.0, allocation=(0, 1))
    res = solve(problem, backend="types_lp")
    assert res.bounds.lower == pytest.approx(best, rel=1e-9)
    assert best <= res.bounds.upper


def test_two_goods_belief_outside_is_bracketed_by_separate_sales():
    v = 0.5 + _values(150, 2, seed=8)
    problem = Problem(goods=2, values=Samples(v), belief=0.0, allocation=(0, 1))
    res = solve(problem, backend="types_lp")
    sep = solve(problem, backend="separate")
    assert sep.profit <= res.bounds.upper
    assert res.bounds.upper - res.bounds.lower <= 1e-6 * res.bounds.lower
