"""Distributions, Problem and Menu behave as documented."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from amm_opt import Beta, Menu, Problem, Product, Samples, TruncatedNormal, Uniform
from amm_opt.distributions import distribution_from_dict

MARGINALS = [Uniform(-1, 2), Beta(2, 3, 0, 2), Beta(1, 1), Beta(2, 1), TruncatedNormal(0.3, 0.4)]


@pytest.mark.parametrize("m", MARGINALS, ids=repr)
def test_marginal_density_cdf_ppf_consistent(m):
    mass, _ = integrate.quad(lambda t: float(m.pdf1(np.array(t))), m.lower, m.upper)
    assert mass == pytest.approx(1.0, abs=1e-9)
    q = np.linspace(0.01, 0.99, 9)
    assert np.allclose(m.cdf1(m.ppf1(q)), q, atol=1e-10)
    t = np.linspace(m.lower + 0.05, m.upper - 0.05, 7)
    h = 1e-6
    numeric = (m.pdf1(t + h) - m.pdf1(t - h)) / (2 * h)
    assert np.allclose(m.dpdf1(t), numeric, atol=1e-5)


def test_product_gradient_matches_finite_differences():
    d = Product([Beta(2, 3), TruncatedNormal(0.5, 0.2)])
    v = np.array([[0.3, 0.6], [0.7, 0.2]])
    h = 1e-6
    numeric = np.column_stack([(d.pdf(v + h * e) - d.pdf(v - h * e)) / (2 * h)
                               for e in np.eye(2)])
    assert np.allclose(d.grad_pdf(v), numeric, atol=1e-5)


def test_scalar_families_broadcast_and_resolve():
    d = Uniform([0, 1], [1, 3]).resolve(2)
    assert isinstance(d, Product)
    assert d.low.tolist() == [0, 1] and d.high.tolist() == [1, 3]
    assert Beta(2, 2).resolve(3).goods == 3


@pytest.mark.parametrize("dist", [Uniform(0, 1), Beta([2, 1], 2), TruncatedNormal(0.5, 0.1),
                                  Product([Uniform(), Beta(2, 2)]), Samples([[0.1, 0.2]])],
                         ids=repr)
def test_distribution_dict_round_trip(dist):
    again = distribution_from_dict(dist.to_dict())
    assert again.to_dict() == dist.to_dict()


def test_problem_round_trip_and_defaults():
    problem = Problem(goods=2, values=Beta(2, 2), belief=[0.4, 0.6], adverse_selection=0.3,
                      allocation=[[-1, 1], [0, 2]])
    again = Problem.from_dict(problem.to_dict())
    assert again.to_dict() == problem.to_dict()
    assert problem.allocation_high.tolist() == [1, 2]
    assert problem.kappa == pytest.approx(0.7)
    post = problem.posterior(np.array([[1.0, 0.0]]))
    assert np.allclose(post, [[0.7 * 0.4 + 0.3, 0.7 * 0.6]])


def test_support_function_is_directed():
    problem = Problem(goods=2, values=Uniform(), belief=0.5, allocation=[[-0.5, 1], [0, 1]])
    z = np.array([[1.0, -1.0], [-2.0, 3.0]])
    # sigma_X(z) = sum_i max(h_i z_i, l_i z_i)
    assert problem.support_function(z).tolist() == [1.0, 1.0 + 3.0]


def test_samples_problem_box_and_bootstrap():
    rng = np.random.default_rng(0)
    values = rng.uniform(size=(50, 2))
    problem = Problem(goods=2, values=Samples(values), belief=0.5)
    assert np.allclose(problem.value_low, values.min(axis=0))
    draws = problem.sample(100, rng=1)
    assert draws.shape == (100, 2)
    assert all(any(np.array_equal(d, v) for v in values) for d in draws[:5])


def test_menu_adds_no_trade_and_chooses_deterministically():
    menu = Menu([[1.0], [-1.0]], [0.75, -0.25])
    assert menu.size == 3 and menu.no_trade_index == 2
    menu_with = Menu([[0.0], [1.0]], [0.0, 0.75])
    assert menu_with.size == 2 and menu_with.no_trade_index == 0
    # At v = 0.75 buying (utility 0) ties with no trade; the market maker earns 0.25 from the
    # buy, so the tie goes to the buy when the problem is known, to the lowest index otherwise.
    problem = Problem(goods=1, values=Uniform(), belief=0.5)
    assert menu.choose([[0.75]], problem).tolist() == [0]
    assert Menu([[0.0], [1.0]], [0.0, 0.75]).choose([[0.75]]).tolist() == [0]
    assert Menu([[0.0], [1.0]], [0.0, 0.75]).choose([[0.75]], problem).tolist() == [1]


def test_menu_utility_and_subset_and_table():
    menu = Menu([[1.0, 0.0], [0.0, 1.0]], [0.6, 0.7])
    v = np.array([[0.9, 0.1], [0.2, 0.95], [0.1, 0.1]])
    assert np.allclose(menu.utility(v), [0.3, 0.25, 0.0])
    assert menu.choose(v).tolist() == [0, 1, 2]
    assert menu.subset([True, False, True]).size == 2
    assert "no trade" in menu.table()
