"""The transport dual on polytope allocation sets (issue 14): sigma_X as a vertex maximum, the
box as a polytope, brackets against menus inside X, certificates that re-prove on load."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("ot", reason="the ot_dual backend needs POT: pip install 'amm-opt[ot]'")

from amm_opt import Menu, Polytope, Problem, Uniform, evaluate, solve
from amm_opt import references as ref
from amm_opt.certificates.transport import TransportCertificate, pair_costs, utility_bound
from amm_opt.errors import FileFormatError, OptionError
from amm_opt.io import load_result, save_result
from amm_opt.solvers.ot_dual.flow import neighbour_offsets

# Two plans for the same problem (dense POT, grid flow) agree to the network simplex's
# tolerance; the certificates' round-off allowances are ~1e-15 relative.
SOLVER_RTOL = 1e-9

SETS = {
    "unit_demand": Polytope.unit_demand(2),
    "pure_swap": Polytope.pure_swap(2),
    "budget": Polytope.budget([-1.0, -1.0], [1.0, 1.0], 1.0),
}

# Menus inside each X (no trade is always on the menu): posted prices for one unit of either
# good; a swap either way; the paper's R2 menu without (1, 1), which the budget excludes.
_R2 = ref.r2_two_goods(0.0).menu
_BUDGET_ITEMS = [k for k, x in enumerate(np.asarray(_R2.allocations)) if x.sum() <= 1.0]
MENUS = {
    "unit_demand": Menu([[1.0, 0.0], [0.0, 1.0]], [0.8, 0.8]),
    "pure_swap": Menu([[1.0, -1.0], [-1.0, 1.0]], [0.4, 0.4]),
    "budget": Menu(np.asarray(_R2.allocations)[_BUDGET_ITEMS],
                   np.asarray(_R2.prices)[_BUDGET_ITEMS]),
}


def _problem(allocation) -> Problem:
    return Problem(goods=2, values=Uniform(0.0, 1.0), belief=0.5, allocation=allocation)


def _bound(problem: Problem, **options) -> float:
    res = solve(problem, backend="ot_dual", **options)
    assert res.certificate is not None and res.certificate.cost == res.bounds.upper
    return res.bounds.upper


# ------------------------------------------------------------------------------ ground costs
def test_transport_cost_is_the_vertex_maximum():
    rng = np.random.default_rng(3)
    x, y = rng.uniform(size=(200, 2)), rng.uniform(size=(200, 2))
    for X in SETS.values():
        box = (X.low, X.high)
        plain = pair_costs("transport", x, y, False, [0.5, 0.5], *box, vertices=X.vertices)
        upper = pair_costs("transport", x, y, False, [0.5, 0.5], *box, vertices=X.vertices,
                           upper=True)
        np.testing.assert_allclose(plain, X.support(x - y), rtol=0, atol=1e-15)
        assert np.all(upper >= plain) and np.all(upper - plain < 1e-14)
        # sigma_X <= sigma of the bounding box: a polytope can only tighten the bound.
        assert np.all(plain <= pair_costs("transport", x, y, False, [0.5, 0.5], *box) + 1e-15)


def test_radial_cost_is_the_minimum_over_the_ray():
    rng = np.random.default_rng(4)
    x, y = rng.uniform(size=(100, 2)), rng.uniform(size=(100, 2))
    c = np.array([0.5, 0.5])
    t = np.concatenate([np.linspace(1.0, 50.0, 20001), [1e3, 1e4]])
    for X in SETS.values():
        box = (X.low, X.high)
        radial = pair_costs("radial", x, y, False, c, *box, vertices=X.vertices)
        transport = pair_costs("transport", x, y, False, c, *box, vertices=X.vertices)
        assert np.all(radial <= transport)
        # Brute force over a fine t grid: the candidates of the piecewise-linear minimum are
        # exact, so no t on the grid does better (up to round-off).
        z = (c - y)[:, None, :] + t[None, :, None] * (x - c)[:, None, :]
        brute = X.support(z).min(axis=1)
        assert np.all(radial <= brute + 1e-12)
        assert np.all(radial >= brute - 2.5e-3 * np.abs(x - c).sum(axis=1) - 1e-12)


def test_utility_bound_is_the_corner_and_vertex_maximum():
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    for X in SETS.values():
        exact = float(X.support(corners - 0.5).max())
        got = utility_bound([0, 0], [1, 1], [0.5, 0.5], X.low, X.high, vertices=X.vertices)
        assert got >= exact and got == pytest.approx(exact, rel=1e-14)


def test_polytope_graph_has_diagonal_arcs_and_the_box_keeps_axis_arcs():
    assert len(neighbour_offsets(2, box=True)) == 4
    assert sorted(neighbour_offsets(2, box=False)) == sorted(
        (i, j) for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0))


# ------------------------------------------------------------------------------ bounds
def test_box_as_polytope_gives_the_box_bound():
    box = Problem.paper_two_goods()
    as_polytope = _problem(Polytope.box([-1.0, -1.0], [1.0, 1.0]))
    for costs in ("transport", "radial"):
        expected = _bound(box, grid=8, costs=costs)
        for method in ("auto", "dense", "flow"):
            got = _bound(as_polytope, grid=8, costs=costs, method=method)
            assert got == pytest.approx(expected, rel=SOLVER_RTOL), (costs, method)


@pytest.mark.parametrize("name", sorted(SETS))
def test_bound_brackets_a_menu_inside_the_set(name):
    problem = _problem(SETS[name])
    menu = MENUS[name]
    assert np.all(SETS[name].contains(np.asarray(menu.allocations)))
    ev = evaluate(problem, menu)
    profit = ev.profit
    assert profit > 0.0
    res = solve(problem, backend="ot_dual", grid=16, method="dense")
    assert res.bounds.upper >= profit
    cert = res.certificate
    np.testing.assert_array_equal(cert.allocation_vertices, SETS[name].vertices)
    # The polytope's bound is below its bounding box's (U_X is smaller, sigma_X pointwise
    # smaller) and the flow, valid on any X, can only pay more than the dense plan.
    box_bound = _bound(_problem(np.column_stack([SETS[name].low, SETS[name].high])), grid=16)
    assert res.bounds.upper < box_bound
    # The normal fans of these sets are made of axis and diagonal rays: the flow's distances
    # are exact, auto keeps the (faster) flow, and it proves the dense optimum.
    auto = solve(problem, backend="ot_dual", grid=16)
    assert auto.stats["method"] == "flow"
    assert auto.bounds.upper == pytest.approx(res.bounds.upper, rel=1e-7)
    assert auto.bounds.upper >= profit


def test_a_polygon_with_other_normals_goes_dense():
    X = Polytope.from_vertices([[0.0, 0.0], [1.0, 0.3], [0.2, 1.0], [-0.5, -0.2]])
    problem = _problem(X)
    res = solve(problem, backend="ot_dual", grid=8)
    assert res.stats["method"] == "dense"
    # The flow is still a valid plan, but its lattice paths overpay sigma_X.
    flow = _bound(problem, grid=8, method="flow")
    assert flow > res.bounds.upper * 1.05
    # A menu of the polygon's vertices at prices above c . x sits below both bounds.
    x = np.asarray(X.vertices)[1:]
    menu = Menu(x, x @ np.array([0.5, 0.5]) + 0.3)
    assert evaluate(problem, menu).profit <= res.bounds.upper


def test_flow_with_axis_arcs_only_is_valid_but_loose(monkeypatch):
    import amm_opt.solvers.ot_dual.flow as flow_module

    problem = _problem(SETS["pure_swap"])
    tight = _bound(problem, grid=8, method="flow", costs="transport")
    monkeypatch.setattr(flow_module, "neighbour_offsets",
                        lambda goods, box: neighbour_offsets(goods, True))
    loose = _bound(problem, grid=8, method="flow", costs="transport")
    assert loose > tight * 1.1


# ------------------------------------------------------------------------------ certificates
def _unit_demand_result():
    return solve(_problem(SETS["unit_demand"]), backend="ot_dual", grid=6, costs="transport")


def test_saved_polytope_certificate_is_re_proved(tmp_path):
    res = _unit_demand_result()
    path = tmp_path / "r.json"
    save_result(res, path, _problem(SETS["unit_demand"]))
    back = load_result(path)
    cert = back.certificate
    assert isinstance(cert, TransportCertificate)
    np.testing.assert_array_equal(cert.allocation_vertices, res.certificate.allocation_vertices)
    assert cert.cost == res.certificate.cost == back.bounds.upper
    assert cert.summary()["allocation"] == "polytope (3 vertices)"


def test_tampered_polytope_certificate_is_refused(tmp_path):
    res = _unit_demand_result()
    path = tmp_path / "r.json"
    save_result(res, path)
    data = json.loads(path.read_text())
    # A smaller set would prove a smaller number: the stored box must match the vertices.
    data["certificate"]["allocation_vertices"] = [[0.0, 0.0], [0.5, 0.0], [0.0, 0.5]]
    path.write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match="bounding box of allocation_vertices"):
        load_result(path)
    data["certificate"]["allocation_vertices"] = [[0.0, 0.0, 0.0]]
    path.write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match="allocation_vertices"):
        load_result(path)


def test_certificate_cost_depends_on_the_stored_set():
    cert = _unit_demand_result().certificate
    fields = {name: getattr(cert, name) for name in (
        "points", "masses", "point_kind", "source", "target", "flow", "kind", "belief",
        "allocation_low", "allocation_high", "value_low", "value_high", "grid", "structure",
        "quadrature_error", "allocation_vertices")}
    assert TransportCertificate(**fields).cost == cert.cost
    # The same plan priced on the bounding box (no vertices) proves at least as much.
    fields["allocation_vertices"] = None
    assert TransportCertificate(**fields).cost >= cert.cost
    fields["allocation_vertices"] = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, np.nan]])
    with pytest.raises(OptionError, match="allocation_vertices"):
        TransportCertificate(**fields)
