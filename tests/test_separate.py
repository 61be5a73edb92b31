"""The `separate` baseline: optimal bid-ask per good (R1), product menu, R2 and R3 special cases."""

from __future__ import annotations

import numpy as np
import pytest

from amm_opt import Beta, Problem, Product, Samples, TruncatedNormal, Uniform, evaluate, solve
from amm_opt import references as ref
from amm_opt.errors import UnsupportedProblemError
from amm_opt.result import Status

# Prices come from a root of the first-order condition found by brentq to 1e-14, so they and the
# exact evaluated profits match the closed form to ~1e-12; 1e-9 is the tolerance.
TOL = 1e-9


@pytest.mark.parametrize("lam", [0.0, 0.3, 0.5, 0.9])
@pytest.mark.parametrize(("low", "high", "belief"), [(0, 1, 0.5), (0, 1, 0.2), (-1, 3, 2.5)])
def test_matches_r1(lam, low, high, belief):
    problem, menu, best = ref.r1_bid_ask(low, high, belief, lam)
    result = solve(problem, backend="separate")
    assert result.status is Status.OPTIMAL
    assert result.profit == pytest.approx(best, abs=TOL)
    assert result.stats["asks"][0] == pytest.approx(menu.prices[0], abs=TOL)
    assert result.stats["bids"][0] == pytest.approx(-menu.prices[1], abs=TOL)
    assert result.bounds.lower == result.profit and result.bounds.upper is None
    assert result.bounds.lower_method == "exact"


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_r2_separate_profit(lam):
    result = solve(Problem.paper_two_goods(lam), backend="separate")
    assert result.profit == pytest.approx(ref.r2_separate_profit(lam), abs=TOL)
    assert result.menu.size == 9  # {sell, none, buy}^2
    assert result.profit < ref.r2_profit(lam)  # bundling beats selling separately


def test_r2_lambda_zero_is_a_quarter():
    assert solve(Problem.paper_two_goods(0.0), backend="separate").profit == pytest.approx(
        0.25, abs=TOL)


def test_selling_only_monopolist_is_r3():
    problem, _, best = ref.r3_monopolist()
    result = solve(problem, backend="separate")
    assert result.profit == pytest.approx(best, abs=TOL)
    assert result.menu.size == 2  # posted price 1/2 plus no trade
    assert result.stats["asks"][0] == pytest.approx(0.5, abs=TOL)


def test_general_density_satisfies_first_order_conditions():
    marginal = Beta(2, 3)
    lam, c = 0.25, 0.4
    problem = Problem(goods=1, values=marginal, belief=c, adverse_selection=lam)
    result = solve(problem, backend="separate")
    a, b = result.stats["asks"][0], result.stats["bids"][0]
    f, cdf = marginal.pdf1, marginal.cdf1
    assert (1 - lam) * (a - c) * f(a) == pytest.approx(1 - cdf(a), abs=1e-10)
    assert (1 - lam) * (c - b) * f(b) == pytest.approx(cdf(b), abs=1e-10)


def test_profit_is_sum_of_goods_and_beats_perturbed_prices():
    problem = Problem(goods=2, values=Product([TruncatedNormal(0.5, 0.2), Beta(2, 2)]),
                      belief=[0.5, 0.45], adverse_selection=0.1)
    result = solve(problem, backend="separate")
    assert result.profit == pytest.approx(sum(result.stats["per_good_profit"]), abs=1e-9)
    menu = result.menu
    for shift in (-1e-3, 1e-3):
        nudged = type(menu)(menu.allocations, np.asarray(menu.prices) + shift * np.abs(
            np.asarray(menu.allocations)).sum(axis=1))
        assert evaluate(problem, nudged).profit < result.profit


def test_three_goods_product_menu():
    result = solve(Problem(goods=3, values=Uniform(), belief=0.5), backend="separate")
    assert result.menu.size == 27
    assert result.profit == pytest.approx(3 / 8, abs=TOL)


def test_asymmetric_allocation_box_scales_trades():
    problem = Problem(goods=1, values=Uniform(), belief=0.5, allocation=(-0.5, 2.0))
    result = solve(problem, backend="separate")
    # Profit is linear in the traded quantity: 2 * 1/16 (buy side) + 0.5 * 1/16 (sell side).
    assert result.profit == pytest.approx(2.5 / 16, abs=TOL)


def test_samples_empirical_optimum():
    rng = np.random.default_rng(5)
    values = rng.uniform(size=(20_000, 1))
    problem = Problem(goods=1, values=Samples(values), belief=0.5)
    result = solve(problem, backend="separate")
    assert result.evaluation.method == "sample-mean"
    # Empirical optimum of 20k uniform draws: within a few standard errors of 1/8, and at least
    # the in-sample profit of the population-optimal prices.
    assert abs(result.profit - 0.125) < 5 * result.bounds.lower_stderr
    _, menu, _ = ref.r1_bid_ask()
    assert result.profit >= evaluate(problem, menu).profit - 1e-12


def test_custom_update_is_rejected_with_hint():
    problem = Problem(goods=1, values=Uniform(), belief=0.5, update=lambda v: 0.5 + 0 * v)
    with pytest.raises(UnsupportedProblemError, match="rochetnet"):
        solve(problem, backend="separate")


# ------------------------------------------------------------------ separable evaluation
@pytest.mark.parametrize("goods, law, belief", [
    (2, Uniform(0, 1), [0.5, 0.7]),
    (3, Beta(2, 3), 0.4),
    (2, Product([Beta(2, 2), Uniform(0, 2)]), [0.5, 0.7]),
])
def test_separable_evaluation_equals_the_joint_evaluation(goods, law, belief):
    problem = Problem(goods=goods, values=law, belief=belief, adverse_selection=0.3)
    result = solve(problem, backend="separate")
    joint = evaluate(problem, result.menu)
    assert result.bounds.lower_method == joint.method
    # Both are exact or quadratures accurate to ~1e-12: they agree to round-off.
    assert result.bounds.lower == pytest.approx(joint.profit, abs=1e-12)
    np.testing.assert_allclose(result.evaluation.item_probability, joint.item_probability,
                               atol=1e-12)
    np.testing.assert_allclose(result.evaluation.item_profit, joint.item_profit, atol=1e-12)


def test_eleven_goods_are_evaluated_exactly_per_good():
    # 3^11 = 177147 items: a joint QMC evaluation would take minutes; per good it is exact and
    # equals 11 times the one-good optimum (R1: 1/8 per good at c = 1/2, lambda = 0).
    result = solve(Problem(goods=11, values=Uniform(0, 1), belief=0.5), backend="separate")
    assert result.menu.size == 3 ** 11
    assert result.bounds.lower_method == "exact"
    assert result.bounds.lower == pytest.approx(11 * 0.125, rel=1e-12)
