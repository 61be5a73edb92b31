"""evaluate() is never silently wrong: peaked densities, dominated and huge-price items, memory.

The regression tests reproduce issue 12 items 1, 2 and 7 (evaluate part); the property test
compares ``evaluate`` with plain Monte Carlo on seeded random problems and menus.
"""

from __future__ import annotations

import math
import tracemalloc
import warnings

import numpy as np
import pytest
from scipy import stats

from amm_opt import (
    Beta,
    Menu,
    Problem,
    Product,
    TruncatedNormal,
    Uniform,
    evaluate,
    solve,
)
from amm_opt import references as ref
from amm_opt.errors import AmmOptWarning, ResourceLimitError


def _half_width(ev) -> float:
    """Half-width of the interval ``evaluate`` states for its own value."""
    lo, hi = ev.confidence_interval
    return max(hi - ev.profit, ev.profit - lo)


# ---------------------------------------------------------------------------------------------
# Item 1: peaked densities
# ---------------------------------------------------------------------------------------------
def test_peaked_beta_one_good_matches_closed_form():
    problem = Problem(goods=1, values=Beta(2421.6, 6.2), belief=0.4822)
    ev = evaluate(problem, Menu([[1.0]], [0.7611]))
    # One item bought by every v >= 0.7611: profit (0.7611 - 0.4822) * P(v >= 0.7611), with the
    # Beta tail from scipy (the Monte Carlo gave 0.2789).
    truth = (0.7611 - 0.4822) * float(stats.beta.sf(0.7611, 2421.6, 6.2))
    assert truth == pytest.approx(0.2789, abs=1e-9)
    assert abs(ev.profit - truth) <= _half_width(ev) + 1e-12
    assert _half_width(ev) < 1e-6
    assert ev.item_probability.sum() == pytest.approx(1.0, abs=1e-9)


def _mc(problem: Problem, menu: Menu, draws: int, seed: int) -> tuple[float, float]:
    v = problem.sample(draws, np.random.default_rng(seed))
    choice = menu.choose(v, problem)
    x = np.asarray(menu.allocations)[choice]
    gain = np.asarray(menu.prices)[choice] - np.einsum("mn,mn->m", problem.posterior(v), x)
    return float(gain.mean()), float(gain.std(ddof=1) / math.sqrt(draws))


def test_peaked_beta_two_goods_against_monte_carlo():
    problem = Problem(goods=2, values=Beta(2000, 5), belief=0.5, adverse_selection=0.3)
    # Items whose boundaries cut through the mass near (0.9975, 0.9975).
    menu = Menu([[1, 0], [0, 1], [1, 1], [1, -1]], [0.9970, 0.9978, 1.9951, 0.0004])
    ev = evaluate(problem, menu)
    mc, se = _mc(problem, menu, 400_000, 1)
    # 5 MC standard errors: a correct evaluation fails with probability < 1e-6.
    assert abs(ev.profit - mc) <= _half_width(ev) + 5 * se
    assert ev.item_probability.sum() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow
def test_solve_on_peaked_beta_has_a_possible_lower_bound():
    problem = Problem(goods=2, values=Beta(2000, 5), belief=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AmmOptWarning)
        result = solve(problem)
    # No menu in [-1, 1]^2 earns more than E sum |v_i - c_i| = 2 (2000/2005 - 1/2) < 0.995.
    ceiling = 2 * (2000 / 2005 - 0.5)
    assert result.bounds.lower <= ceiling + 1e-9


# ---------------------------------------------------------------------------------------------
# Item 2: dominated items with huge prices
# ---------------------------------------------------------------------------------------------
def _with_item(menu: Menu, x, price: float) -> Menu:
    return Menu(np.vstack([menu.allocations, [x]]), np.append(menu.prices, price))


@pytest.mark.parametrize("price", [1e3, 1e6, 1e9, 1e12, 1e15, 1e18, 1e300])
def test_huge_price_item_does_not_change_r2(price):
    problem, menu, best = ref.r2_two_goods(0.0)
    base = evaluate(problem, menu)
    ev = evaluate(problem, _with_item(menu, [1.0, 1.0], price))
    assert ev.method == "exact"
    assert ev.profit == pytest.approx(best, abs=1e-12)
    assert ev.item_probability[-1] == 0.0
    assert np.allclose(ev.item_probability[:menu.size], base.item_probability, atol=1e-12)


@pytest.mark.parametrize("price", [1e6, 1e15])
def test_dominated_item_does_not_change_quadrature(price):
    problem = Problem(goods=2, values=Beta(2, 3), belief=0.4, adverse_selection=0.2)
    _, menu, _ = ref.r2_two_goods(0.0)
    base = evaluate(problem, menu)
    ev = evaluate(problem, _with_item(menu, [-1.0, 1.0], price))
    assert ev.method == base.method == "quadrature"
    assert ev.profit == pytest.approx(base.profit, abs=1e-12)


def test_choose_ignores_a_huge_price_item():
    problem, menu, _ = ref.r2_two_goods(0.0)
    v = problem.sample(5000, 0)
    expected = menu.choose(v, problem)
    for price in (1e9, 1e15, 1e300):
        big = _with_item(menu, [1.0, 1.0], price)
        assert np.array_equal(big.choose(v, problem), expected)
        assert np.array_equal(big.choose(v), menu.choose(v))


def test_huge_price_item_does_not_change_qmc():
    problem = Problem(goods=4, values=Beta(2, 2), belief=0.5)
    menu = Menu(np.vstack([np.eye(4), -np.eye(4)]), np.r_[np.full(4, 0.75), np.full(4, -0.25)])
    base = evaluate(problem, menu, qmc_points=1 << 11)
    for price in (1e9, 1e15):
        ev = evaluate(problem, _with_item(menu, np.ones(4), price), qmc_points=1 << 11)
        # Same Sobol points, same choices: identical up to summation order.
        assert ev.profit == pytest.approx(base.profit, abs=1e-14)


def test_hugely_subsidised_item_dominates_everything():
    # An item paying the trader 1e15 is chosen by every type: the profit is exactly its price.
    problem, menu, _ = ref.r2_two_goods(0.0)
    ev = evaluate(problem, _with_item(menu, [0.0, 1.0], -1e15))
    assert ev.method == "exact"
    assert ev.profit == pytest.approx(-1e15 - 0.5, rel=1e-15)
    assert ev.item_probability[-1] == pytest.approx(1.0, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Item 7 (evaluate part): memory
# ---------------------------------------------------------------------------------------------
def test_qmc_memory_is_bounded_by_chunks():
    rng = np.random.default_rng(0)
    problem = Problem(goods=4, values=Uniform(), belief=0.5)
    k = 10_000
    x = rng.uniform(0, 1, (k, 4))
    menu = Menu(x, 0.5 * (x**2).sum(axis=1))            # every item active somewhere
    tracemalloc.start()
    try:
        evaluate(problem, menu, qmc_points=1 << 13, qmc_replications=2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # (points x items) at once would be 8192 * 10000 * 8 B = 655 MB per array.
    assert peak < 256 * 2**20


def test_memory_estimate_refuses_over_the_limit():
    rng = np.random.default_rng(0)
    problem = Problem(goods=3, values=Uniform(), belief=0.5)
    x = rng.uniform(0, 1, (2000, 3))
    menu = Menu(x, 0.5 * (x**2).sum(axis=1))
    with pytest.raises(ResourceLimitError, match=r"memory_limit.*limit") as info:
        evaluate(problem, menu, method="exact", memory_limit=10 * 2**20)
    assert "estimate" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Property test: evaluate() against Monte Carlo on random problems and menus
# ---------------------------------------------------------------------------------------------
# Confidence of the Monte-Carlo comparison, per case. The empirical Bernstein bound (Maurer and
# Pontil 2009) holds for any bounded variable at confidence 1 - delta; with delta = 1e-6 per case
# a correct ``evaluate`` fails one of the 200 slow cases with probability < 2e-4 (the generator is
# seeded, so in practice the outcome is fixed; the bound says it is not luck).
_DELTA = 1e-6


def _bernstein(gain: np.ndarray, span: float) -> float:
    """Half-width of the empirical Bernstein interval for the mean of ``gain`` (range ``span``)."""
    m = len(gain)
    log_term = math.log(4.0 / _DELTA)        # two-sided: delta/2 per side
    return math.sqrt(2.0 * gain.var(ddof=1) * log_term / m) + 7.0 * span * log_term / (3 * (m - 1))


def _random_marginal(rng: np.random.Generator, low: float, high: float):
    width = high - low
    kind = rng.choice(["uniform", "beta", "peaked_beta", "peaked_normal", "normal"],
                      p=[0.15, 0.2, 0.3, 0.25, 0.1])
    if kind == "uniform":
        return Uniform(low, high)
    if kind == "beta":
        return Beta(*rng.uniform(1.0, 6.0, 2), low, high)
    if kind == "peaked_beta":
        a, b = np.exp(rng.uniform(0.0, math.log(5000.0), 2))
        if max(a, b) < 200:
            a = a * 200 / max(a, b)
        return Beta(max(a, 1.0), max(b, 1.0), low, high)
    if kind == "peaked_normal":
        mean = rng.uniform(low - 0.2 * width, high + 0.2 * width)
        return TruncatedNormal(mean, width * math.exp(rng.uniform(math.log(2e-3), math.log(3e-2))),
                               low, high)
    return TruncatedNormal(rng.uniform(low, high), width * rng.uniform(0.1, 0.5), low, high)


def _random_case(rng: np.random.Generator):
    goods = int(rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2]))
    low, high = (0.0, 1.0) if rng.random() < 0.7 else tuple(sorted(rng.uniform(-2, 3, 2)))
    marginals = [_random_marginal(rng, low, high) for _ in range(goods)]
    values = marginals[0] if (goods == 1 or rng.random() < 0.3) else Product(marginals)
    belief = rng.uniform(low, high, goods)
    lam = 0.0 if rng.random() < 0.4 else float(rng.uniform(0.0, 0.9))
    update = None
    if rng.random() < 0.1:                           # a custom, non-linear posterior
        lam = 0.0

        c = belief.copy()

        def update(v):
            return c + 0.4 * np.tanh(np.asarray(v) - c)
    problem = Problem(goods=goods, values=values, belief=belief, adverse_selection=lam,
                      update=update)
    # Items that compete where the mass is: each is worth delta_k to a type drawn from the law.
    k = int(rng.integers(1, 9))
    x = rng.uniform(-1, 1, (k, goods))
    if rng.random() < 0.3:
        x = np.round(x)
    anchors = problem.sample(k, rng)
    spread = float(np.std(problem.sample(256, rng), axis=0).sum()) + 1e-12
    p = np.einsum("kn,kn->k", anchors, x) - rng.uniform(0, 2 * spread, k)
    extras_x, extras_p, tags = [], [], []
    if rng.random() < 0.5:                           # dominated, at any magnitude
        extras_x.append(rng.uniform(-1, 1, goods))
        extras_p.append(10.0 ** rng.uniform(0, 15) + np.abs(high) * goods)
        tags.append("dominated")
    if rng.random() < 0.3:                           # near-duplicate
        j = int(rng.integers(k))
        extras_x.append(np.clip(x[j] + 1e-12 * rng.standard_normal(goods), -1, 1))
        extras_p.append(p[j] + 1e-12 * rng.standard_normal())
        tags.append("near-duplicate")
    if rng.random() < 0.3:                           # exact duplicate, and its costlier twin
        j = int(rng.integers(k))
        extras_x += [x[j], x[j]]
        extras_p += [p[j], p[j] + rng.uniform(0, 1)]
        tags.append("tie")
    if rng.random() < 0.05:                          # one item paid for by the market maker
        extras_x.append(rng.uniform(-1, 1, goods))
        extras_p.append(-(10.0 ** rng.uniform(3, 15)))
        tags.append("subsidy")
    if extras_x:
        x = np.vstack([x, np.array(extras_x)])
        p = np.concatenate([p, extras_p])
    order = rng.permutation(len(p))
    return problem, Menu(x[order], p[order]), tags


def _gain_span(problem: Problem, menu: Menu) -> float:
    """A priori range of the profit of one type, over the items some type in the box may take."""
    x = np.asarray(menu.allocations)
    p = np.asarray(menu.prices)
    low, high = problem.value_low, problem.value_high
    umax = np.maximum(x * low, x * high).sum(axis=1) - p
    umin = np.minimum(x * low, x * high).sum(axis=1) - p
    live = umax >= umin.max() - 1e-9 * (1 + np.abs(p))
    corners = np.array(np.meshgrid(*np.column_stack([low, high]), indexing="ij")).reshape(
        len(low), -1).T
    post = problem.posterior(np.vstack([corners, 0.5 * (low + high)]))
    gains = p[live][None, :] - post @ x[live].T
    return float(gains.max() - gains.min())


def _check_case(problem: Problem, menu: Menu, tags: list, draws: int, seed: int) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AmmOptWarning)
        ev = evaluate(problem, menu)
    v = problem.sample(draws, np.random.default_rng(seed))
    choice = menu.choose(v, problem)
    gain = (np.asarray(menu.prices)[choice]
            - np.einsum("mn,mn->m", problem.posterior(v), np.asarray(menu.allocations)[choice]))
    mc = float(gain.mean())
    mc_half = _bernstein(gain, _gain_span(problem, menu))
    # The stated error: the quadrature's estimate (0 when exact), or for QMC its standard
    # error times a normal quantile at the same confidence (t with 7 degrees of freedom for 8
    # replications would be wider; replications of a scrambled net are close to normal).
    z = stats.norm.isf(_DELTA / 4)
    stated = z * ev.stderr if ev.method == "qmc" else ev.stderr
    scale = 1.0 + abs(mc)
    info = {"problem": problem, "tags": tags, "method": ev.method, "profit": ev.profit,
            "stderr": ev.stderr, "mc": mc, "mc_half": mc_half,
            "warnings": [str(w.message) for w in caught]}
    assert abs(ev.profit - mc) <= stated + mc_half + 1e-12 * scale, info
    exact_ok = (problem.distribution.is_uniform and problem.linear_update and problem.goods <= 3)
    if ev.method == "exact":
        assert exact_ok, info
    if ev.method in ("exact", "quadrature"):
        assert caught == [], info
        # A probability error d moves the profit by up to d times the gain range: the stated
        # error bounds it in those units (plus round-off).
        span = max(_gain_span(problem, menu), 1e-12)
        assert abs(ev.item_probability.sum() - 1.0) <= 1e-9 + ev.stderr / span, info
    else:
        assert ev.method == "qmc" and ev.details.get("fallback"), info
    assert ev.item_profit.sum() == pytest.approx(ev.profit, rel=1e-9, abs=1e-12 * scale)
    return info


def _run_property(cases: int, draws: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [_check_case(*_random_case(rng), draws=draws, seed=seed * 100_003 + i)
            for i in range(cases)]


def test_evaluate_matches_monte_carlo_on_random_cases():
    infos = _run_property(cases=32, draws=200_000, seed=12)
    methods = [i["method"] for i in infos]
    # The generator must exercise every path, and fallbacks must stay the exception.
    assert {"exact", "quadrature"} <= set(methods)
    assert methods.count("qmc") <= len(methods) // 5
    assert any("dominated" in i["tags"] for i in infos)


@pytest.mark.slow
def test_evaluate_matches_monte_carlo_on_many_random_cases():
    infos = _run_property(cases=200, draws=1_000_000, seed=2026)
    assert [i["method"] for i in infos].count("qmc") <= 20
