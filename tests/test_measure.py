"""The signed measure of the profit and its conservative grid placement."""

from __future__ import annotations

import numpy as np
import pytest

from amm_opt import Beta, Menu, Problem, Product, Samples, TruncatedNormal, Uniform, evaluate
from amm_opt import references as ref
from amm_opt.discretisation import discretize, signed_measure
from amm_opt.errors import OptionError, UnsupportedProblemError

DISTRIBUTIONS = [
    Uniform(0, 1),
    Uniform(-1, 2),
    Beta(2, 2),
    Beta(2, 1),
    Beta(3, 2, -0.5, 1.5),
    TruncatedNormal(0.5, 0.3),
]


def _random_menu(rng: np.random.Generator, goods: int, items: int = 15) -> Menu:
    return Menu(rng.uniform(-1, 1, (items, goods)), rng.uniform(-0.3, 1.0, items))


@pytest.mark.parametrize("values", DISTRIBUTIONS, ids=repr)
@pytest.mark.parametrize("goods", [1, 2, 3])
@pytest.mark.parametrize("lam", [0.0, 0.4])
def test_integral_of_u_equals_profit(values, goods, lam):
    """int u dmu = Pi(u) + u(c) for random menus (catches sign errors in every term)."""
    rng = np.random.default_rng(goods * 10 + int(lam * 10))
    low = float(np.asarray(values.low))
    high = float(np.asarray(values.high))
    belief = rng.uniform(low, high, goods)
    problem = Problem(goods=goods, values=values, belief=belief, adverse_selection=lam)
    mu = signed_measure(problem)
    for _ in range(3):
        menu = _random_menu(rng, goods)
        profit = evaluate(problem, menu).profit
        u_c = float(menu.utility(belief[None, :])[0])
        # Both sides integrate smooth functions over the same exact regions with Gauss rules of
        # order 12 (exact for the polynomial densities): round-off and ~1e-13 quadrature error.
        assert mu.integrate_menu(menu) - u_c == pytest.approx(profit, abs=1e-10)


def test_product_of_different_marginals():
    problem = Problem(goods=2, values=Product([Uniform(0, 2), Beta(3, 2, -1, 1)]),
                      belief=[0.7, 0.1], adverse_selection=0.25)
    rng = np.random.default_rng(3)
    menu = _random_menu(rng, 2)
    mu = signed_measure(problem)
    u_c = float(menu.utility(np.asarray(problem.belief)[None, :])[0])
    assert mu.integrate_menu(menu) - u_c == pytest.approx(evaluate(problem, menu).profit,
                                                         abs=1e-10)


def test_r2_menu_has_u_of_c_zero_so_integral_is_profit():
    problem, menu, best = ref.r2_two_goods(0.0)
    assert signed_measure(problem).integrate_menu(menu) == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize("values", DISTRIBUTIONS, ids=repr)
@pytest.mark.parametrize("goods", [1, 2, 3])
def test_discretised_masses_balance(values, goods):
    problem = Problem(goods=goods, values=values, belief=float(np.asarray(values.low)) + 0.3,
                      adverse_selection=0.3)
    gm = discretize(problem, 5)
    # mu(V) = -1 and the atom adds +1: the placed masses must cancel exactly (round-off only,
    # plus the quadrature error the measure reports for non-polynomial densities).
    assert gm.positive_total - gm.negative_total == pytest.approx(
        0.0, abs=1e-12 + 10 * gm.quadrature_error)
    assert np.all(gm.vertex_mass >= 0) and np.all(gm.cell_mass >= 0)


def test_uniform_masses_match_closed_form():
    problem = Problem.paper_two_goods(0.5)
    gm = discretize(problem, 4)
    kappa = 0.5
    # Interior density -(kappa n + 1) = -2 on every cell of area 1/16.
    assert np.allclose(gm.cell_mass, 2.0 / 16)
    # Faces carry kappa * 1/2 each: total 4 * 0.25 = 1 spread to the boundary vertices.
    assert gm.vertex_mass.sum() == pytest.approx(4 * kappa * 0.5)
    assert gm.vertex_mass[1:-1, 1:-1].sum() == 0.0
    assert np.allclose(gm.cell_barycenter.reshape(-1, 2), gm.cell_centers())


@pytest.mark.parametrize("values", [Uniform(0, 1), Beta(2, 2), TruncatedNormal(0.4, 0.25)],
                         ids=repr)
@pytest.mark.parametrize("goods", [1, 2])
def test_placement_is_conservative_for_convex_u(values, goods):
    """sum w u(vertex) - sum m u(bary) + u(c) >= int u dmu for every convex u (any grid)."""
    rng = np.random.default_rng(goods)
    problem = Problem(goods=goods, values=values, belief=0.45, adverse_selection=0.2)
    mu = signed_measure(problem)
    for grid in (1, 3, 7, [np.array([0.0, 0.1, 0.5, 1.0])] * goods):
        gm = discretize(problem, grid)
        for _ in range(4):
            menu = _random_menu(rng, goods, items=25)
            u_vertex = menu.utility(gm.vertices()).reshape(gm.vertex_mass.shape)
            u_bary = menu.utility(gm.cell_barycenter.reshape(-1, goods)).reshape(gm.cell_mass.shape)
            u_c = float(menu.utility(gm.belief[None, :])[0])
            bound = gm.bound_for(u_vertex, u_bary, u_c)
            # Valid by convexity and Jensen; the slack only absorbs the integrals' round-off.
            assert bound >= mu.integrate_menu(menu) - 1e-10 - 10 * gm.quadrature_error


def test_placement_converges_on_r2():
    problem, menu, best = ref.r2_two_goods(0.0)
    gaps = []
    for cells in (4, 8, 16, 32):
        gm = discretize(problem, cells)
        u_vertex = menu.utility(gm.vertices()).reshape(gm.vertex_mass.shape)
        u_bary = menu.utility(gm.cell_barycenter.reshape(-1, 2)).reshape(gm.cell_mass.shape)
        gaps.append(gm.bound_for(u_vertex, u_bary, 0.0) - best)
    assert all(g >= -1e-12 for g in gaps)
    assert gaps[-1] < gaps[0] / 10  # O(h) or better refinement


def test_point_masses_layout():
    gm = discretize(Problem.paper_two_goods(), 3)
    points, masses, kind = gm.point_masses()
    assert points.shape == (len(masses), 2)
    assert masses[kind == 1].max() < 0 < masses[kind == 0].min()
    assert np.array_equal(points[kind == 2], [[0.5, 0.5]])
    assert masses.sum() == pytest.approx(0.0, abs=1e-12)


def test_measure_rejects_unbounded_density_derivative():
    with pytest.raises(UnsupportedProblemError, match="bounded derivative"):
        discretize(Problem(goods=2, values=Beta(3, 1.5), belief=0.5), 4)


def test_measure_rejects_samples_and_custom_updates():
    with pytest.raises(UnsupportedProblemError, match="density"):
        discretize(Problem(goods=1, values=Samples([0.1, 0.5]), belief=0.3), 4)
    with pytest.raises(UnsupportedProblemError, match="linear update"):
        signed_measure(Problem(goods=1, values=Uniform(), belief=0.5, update=lambda v: v))


@pytest.mark.parametrize("grid", [0, [3], [np.array([0.0, 0.5])] * 2 + [1],
                                  [np.array([0.0, 0.7, 0.5, 1.0])] * 2, "fine"])
def test_bad_grids(grid):
    with pytest.raises(OptionError, match="grid"):
        discretize(Problem.paper_two_goods(), grid)
