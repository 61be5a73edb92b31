"""The transport-dual backend: certified upper bounds, plans, grid flow vs dense POT (issue 4)."""

from __future__ import annotations

import doctest
import itertools
import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("ot", reason="the ot_dual backend needs POT: pip install 'amm-opt[ot]'")

import amm_opt.certificates.transport as transport_module
import amm_opt.solvers.ot_dual.solver as ot_dual_module
from amm_opt import (
    Beta,
    Menu,
    Problem,
    Samples,
    TruncatedNormal,
    Uniform,
    evaluate,
    solve,
)
from amm_opt import references as ref
from amm_opt.certificates.transport import TransportCertificate, pair_costs, utility_bound
from amm_opt.errors import (
    InaccurateSolutionWarning,
    OptionError,
    UnsupportedProblemError,
)
from amm_opt.result import Status
from amm_opt.solvers import available_backends, get_solver_class
from amm_opt.solvers.ot_dual import OTDual

# The closed-form optima are a handful of float64 operations: relative error below 1e-15.
CLOSED_FORM_RTOL = 1e-14
# Two exact optima of the same LP, each recomputed from its plan with upward round-off
# charges of (degree + 3) eps times the masses (< 1e-12 at these sizes): see transport.py.
SAME_LP_ATOL = 1e-11


def asymmetric_problem(lam: float = 0.25) -> Problem:
    """X = [-1/2, 1] x [0, 1]: costs differ by direction and good 2 can only be bought."""
    return Problem(goods=2, values=Uniform(0, 1), belief=[0.4, 0.3], adverse_selection=lam,
                   allocation=[[-0.5, 1.0], [0.0, 1.0]])


PROBLEMS = {
    "R2": lambda: ref.r2_two_goods(0.0).problem,
    "R2-lambda-half": lambda: ref.r2_two_goods(0.5).problem,
    "asymmetric-box": asymmetric_problem,
    "beta22": lambda: Problem(goods=2, values=Beta(2, 2), belief=[0.5, 0.4]),
    "truncnormal": lambda: Problem(goods=2, values=TruncatedNormal(0.5, 0.3), belief=0.5,
                                   adverse_selection=0.2),
    "beta-1d": lambda: Problem(goods=1, values=Beta(2, 2), belief=0.5),
    "three-goods": lambda: Problem(goods=3, values=Uniform(0, 1), belief=0.5),
}


def _bound(problem: Problem, **options) -> dict[str, float]:
    res = solve(problem, backend="ot_dual", **options)
    assert res.status is Status.OPTIMAL
    return res.stats["transport_bounds"]


def _menus_with_u_c_zero(problem: Problem, rng: np.random.Generator, count: int) -> list[Menu]:
    """Random feasible menus with u(c) = 0: prices p_k = c.x_k + s_k with s_k >= 0, plus the
    ridge utilities max(0, g.(v - c)) over vertices g of X, which are tight for sigma_X."""
    low, high = problem.allocation_low, problem.allocation_high
    c = np.asarray(problem.belief)
    n = problem.goods
    corners = np.array(list(itertools.product(*zip(low, high, strict=True))))
    menus = [Menu(corners[[k]], corners[[k]] @ c) for k in range(len(corners))]
    menus.append(Menu(corners, corners @ c))
    for _ in range(count):
        k = int(rng.integers(1, 12))
        x = rng.uniform(low, high, (k, n))
        menus.append(Menu(x, x @ c + rng.uniform(0.0, 0.4, k)))
    return menus


# ------------------------------------------------------------------------------ registry/imports
def test_registered_and_declared():
    cls = get_solver_class("OT_DUAL")
    assert cls is OTDual
    assert (cls.requires, cls.extra) == (("ot",), "ot")
    assert (cls.provides_menu, cls.provides_upper, cls.needs_density) == (False, True, True)
    assert available_backends()["ot_dual"][0]


def test_importing_the_backend_pulls_in_nothing_heavy():
    code = ("import sys, amm_opt.solvers.ot_dual as m, amm_opt.certificates.transport, "
            "amm_opt.plot.transport, amm_opt.solvers.ot_dual.flow, amm_opt.solvers.ot_dual.dense; "
            "m.OTDual(grid=8); "
            "print(','.join(x for x in ('ot', 'torch', 'cvxpy', 'highspy', 'matplotlib') "
            "if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("module", [ot_dual_module, transport_module])
def test_docstring_examples(module):
    outcome = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert outcome.failed == 0 and outcome.attempted > 0


# ------------------------------------------------------------------------------ ground costs
@pytest.mark.parametrize("goods", [1, 2, 3])
def test_ground_costs_bound_utility_differences(goods):
    """u(x) - u(y) <= d(x, y) for feasible menus on an asymmetric box, with sigma_X checked
    against a brute-force maximum over the vertices of X."""
    rng = np.random.default_rng(goods)
    low = -rng.uniform(0.0, 1.0, goods)
    high = rng.uniform(0.2, 1.5, goods)
    low[0] = 0.0                           # a selling-only good (moving up is free)
    problem = Problem(goods=goods, values=Uniform(0, 1), belief=rng.uniform(0, 1, goods),
                      allocation=np.column_stack([low, high]))
    c = np.asarray(problem.belief)
    x = rng.uniform(0, 1, (4000, goods))
    y = rng.uniform(0, 1, (4000, goods))
    args = (np.zeros(len(x), bool), c, low, high)
    transport = pair_costs("transport", x, y, *args)
    radial = pair_costs("radial", x, y, *args)
    corners = np.array(list(itertools.product(*zip(low, high, strict=True))))
    brute = ((x - y) @ corners.T).max(axis=1)
    # Both sides are sums of `goods` products of numbers <= 1.5: round-off below 1e-14.
    np.testing.assert_allclose(transport, brute, rtol=0, atol=1e-14)
    assert np.all(radial <= transport)
    assert np.all(pair_costs("radial", x, y, *args, upper=True)
                  <= pair_costs("transport", x, y, *args, upper=True))
    assert np.all(radial >= -1e-15)
    assert np.all(pair_costs("transport", x, y, np.ones(len(x), bool), c, low, high) == 0.0)
    np.testing.assert_allclose(pair_costs("w1", x, y, np.ones(len(x), bool), c, low, high),
                               transport)
    for menu in _menus_with_u_c_zero(problem, rng, 20):
        ux, uy = menu.utility(x), menu.utility(y)
        # Utilities of menus with entries of size <= 2: differences exact to 1e-14.
        assert np.all(ux - uy <= radial + 1e-14)
        assert np.all(ux - uy <= transport + 1e-14)


def test_upper_cost_adds_a_roundoff_guard():
    x = np.array([[0.3, 0.7]])
    y = np.array([[0.6, 0.1]])
    args = (np.zeros(1, bool), [0.5, 0.5], [-1.0, -1.0], [1.0, 1.0])
    for kind in ("transport", "radial"):
        plain = pair_costs(kind, x, y, *args)
        upper = pair_costs(kind, x, y, *args, upper=True)
        assert plain[0] < upper[0] < plain[0] + 1e-14


def test_utility_bound_is_the_corner_maximum():
    low, high = np.array([-0.5, 0.0]), np.array([1.0, 1.0])
    c = np.array([0.4, 0.3])
    corners = np.array(list(itertools.product([0.0, 1.0], repeat=2)))
    exact = max(pair_costs("transport", v, c, False, c, low, high) for v in corners)
    assert utility_bound([0, 0], [1, 1], c, low, high) == pytest.approx(float(exact), rel=1e-14)
    assert utility_bound([0, 0], [1, 1], c, low, high) >= float(exact)


# ------------------------------------------------------------------------------ validity
REFERENCES = {
    "R1": lambda: ref.r1_bid_ask(0.0, 1.0, 0.5, 0.0),
    "R1-lambda-half": lambda: ref.r1_bid_ask(0.0, 1.0, 0.5, 0.5),
    "R1-asymmetric": lambda: ref.r1_bid_ask(-1.0, 2.0, 0.2, 0.3),
    "R2": lambda: ref.r2_two_goods(0.0),
    "R2-lambda-half": lambda: ref.r2_two_goods(0.5),
    "R3": ref.r3_monopolist,
}


@pytest.mark.parametrize("name", REFERENCES)
@pytest.mark.parametrize("grid", [3, 8, 17])
@pytest.mark.parametrize("method", ["flow", "dense"])
def test_every_bound_is_above_the_known_optimum(name, grid, method):
    problem, menu, best = REFERENCES[name]()
    res = solve(problem, backend="ot_dual", grid=grid, method=method,
                costs=("transport", "radial", "w1"))
    assert res.status is Status.OPTIMAL
    bounds = res.stats["transport_bounds"]
    assert set(bounds) == {"transport", "radial", "w1"}
    for kind, value in bounds.items():
        assert value >= best * (1 - CLOSED_FORM_RTOL), kind
    # radial <= transport by construction: radial arc costs are never above transport ones
    # (rounded values included) and the transport plan repriced is a radial candidate.
    assert bounds["radial"] <= bounds["transport"]
    # The w1 optimum is above the transport optimum; the slack covers the two certificates'
    # separate round-off guards (< 1e-12).
    assert bounds["transport"] <= bounds["w1"] + 1e-12
    assert res.bounds.upper == min(bounds.values())
    # The reference menu's exact profit is below the bound (solve's own check) and equal to it.
    assert evaluate(problem, menu).profit <= res.bounds.upper


def test_selling_only_monopolist_is_exact():
    """R3: with X = [0, 1] moving mass up is free, and the plan proves revenue <= 1/4."""
    problem, _, best = ref.r3_monopolist()
    for grid in (2, 4, 16):
        bounds = _bound(problem, grid=grid)
        # With the posted price 1/2 on the grid the optimal dual (ship the unit at v = 1 down
        # over [1/2, 1]) is met exactly by the barycentres; only the certificate's round-off
        # guards (< 1e-13 here) separate the bound from 1/4.
        assert bounds["transport"] == pytest.approx(best, abs=1e-13)
    # Off the grid (1/2 inside the cell [0.4, 0.6]) the cell's barycentre mass 0.4 sits at
    # 1/2, of which 0.2 is shipped from 1: 0.4 * 0.1 + 0.4 * 0.3 + 0.2 * 0.5 = 0.26.
    assert _bound(problem, grid=5)["transport"] == pytest.approx(0.26, abs=1e-13)


@pytest.mark.parametrize("method", ["flow", "dense"])
def test_no_feasible_menu_beats_the_bound_on_an_asymmetric_box(method):
    """Every feasible utility u scores sum_p m_p u(p) <= certified cost (the certificate's
    claim), and its exact profit is lower still: checks the direction of sigma_X."""
    problem = asymmetric_problem()
    res = solve(problem, backend="ot_dual", grid=12, method=method)
    rng = np.random.default_rng(7)
    menus = _menus_with_u_c_zero(problem, rng, 25)
    for kind, cert in res.stats["certificates"].items():
        for menu in menus:
            discrete = float(cert.masses @ menu.utility(cert.points))
            # sum of ~300 products of numbers <= 2: round-off below 1e-13.
            assert discrete <= cert.cost + 1e-13, (kind, menu)
    for menu in menus:
        assert evaluate(problem, menu).profit <= res.bounds.upper


def test_separate_baseline_is_below_every_bound():
    for name in ("asymmetric-box", "beta22", "truncnormal", "beta-1d"):
        problem = PROBLEMS[name]()
        lower = solve(problem, backend="separate").profit
        for value in _bound(problem, grid=10).values():
            assert lower <= value, name


# ------------------------------------------------------------------------------ grid flow = POT
@pytest.mark.parametrize("name,grid", [
    ("R2", 8), ("R2", 16), ("R2-lambda-half", 9), ("asymmetric-box", 10), ("beta22", 9),
    ("truncnormal", 9), ("beta-1d", 17), ("three-goods", 4),
])
def test_grid_flow_equals_dense_pot_for_transport(name, grid):
    problem = PROBLEMS[name]()
    dense = solve(problem, backend="ot_dual", grid=grid, method="dense", costs="transport")
    flow = solve(problem, backend="ot_dual", grid=grid, method="flow", costs="transport")
    highs = solve(problem, backend="ot_dual", grid=grid, method="flow", costs="transport",
                  flow_solver="highs")
    cd, cf, ch = (r.certificate for r in (dense, flow, highs))
    assert (cd.structure, cf.structure) == ("plan", "flow")
    assert cf.cost == pytest.approx(cd.cost, abs=SAME_LP_ATOL)
    # HiGHS returns a basic (vertex) solution of the same LP, exact up to its round-off.
    assert ch.cost == pytest.approx(cd.cost, abs=SAME_LP_ATOL)
    # The certified number is the plan's own cost: the solvers' objectives agree with it.
    for cert in (cd, cf, ch):
        assert cert.solver_cost == pytest.approx(cert.plan_cost, abs=1e-13)


def test_non_uniform_breakpoints():
    problem = PROBLEMS["beta22"]()
    grid = [np.array([0.0, 0.1, 0.3, 0.45, 0.5, 0.7, 1.0]), np.linspace(0.0, 1.0, 7)]
    dense = _bound(problem, grid=grid, method="dense")
    flow = _bound(problem, grid=grid, method="flow")
    assert flow["transport"] == pytest.approx(dense["transport"], abs=SAME_LP_ATOL)
    assert flow["radial"] <= flow["transport"]


@pytest.mark.parametrize("grid", [8, 16])
def test_radial_flow_equals_dense_radial_in_one_good(grid):
    """With c a grid vertex in one dimension the ray arcs reach every radial target."""
    problem = PROBLEMS["beta-1d"]()
    dense = _bound(problem, grid=grid, method="dense", costs="radial")
    flow = _bound(problem, grid=grid, method="flow", costs="radial")
    assert flow["radial"] == pytest.approx(dense["radial"], abs=SAME_LP_ATOL)


@pytest.mark.parametrize("name", ["beta22", "truncnormal", "asymmetric-box"])
def test_radial_is_at_most_transport_and_helps_with_interior_mass(name):
    problem = PROBLEMS[name]()
    for method in ("flow", "dense"):
        b = _bound(problem, grid=12, method=method)
        assert b["radial"] <= b["transport"]
        # nu+ has interior mass here, which radial moves carry outwards for free.
        assert b["radial"] < b["transport"] - 1e-4


# ------------------------------------------------------------------------------ targets
def test_r2_within_two_percent_at_64():
    best = ref.r2_profit(0.0)
    bounds = _bound(ref.r2_two_goods(0.0).problem, grid=64)
    assert best <= bounds["radial"] <= best * 1.02


@pytest.mark.slow
def test_r2_within_half_a_percent_at_256():
    best = ref.r2_profit(0.0)
    bounds = _bound(ref.r2_two_goods(0.0).problem, grid=256, costs="transport")
    assert best <= bounds["transport"] <= best * 1.005


def test_one_good_bound_converges():
    problem, _, best = ref.r1_bid_ask(0.0, 1.0, 0.5, 0.5)
    errors = [_bound(problem, grid=g)["radial"] - best for g in (8, 16, 32, 64, 128)]
    assert all(e >= 0 for e in errors)
    assert all(b < a for a, b in itertools.pairwise(errors))
    # O(h): halving h at least roughly halves the error.
    assert errors[-1] <= errors[0] / 8


# ------------------------------------------------------------------------------ statuses
@pytest.mark.parametrize("method", ["flow", "dense"])
def test_iteration_limit_gives_no_bound(method):
    problem = ref.r2_two_goods(0.0).problem
    with pytest.warns(InaccurateSolutionWarning, match="iteration limit"):
        res = solve(problem, backend="ot_dual", grid=8, method=method, num_iter_max=5)
    assert res.status is Status.ITERATION_LIMIT
    assert res.bounds.upper is None and res.certificate is None
    info = res.stats["per_cost"]["transport"]
    assert info["status"] == "iteration_limit" and "numItermax" in info["solver_message"]
    assert res.stats["transport_bounds"] == {}


def test_inaccurate_marginals_are_flagged_but_still_bounded():
    problem = ref.r2_two_goods(0.0).problem
    res = OTDual(grid=8, marginal_tol=1e-300).solve(problem)
    # Round-off residuals (~1e-16) exceed an absurdly strict tolerance; the bound stands.
    assert res.status is Status.INACCURATE
    assert res.bounds.upper >= ref.r2_profit(0.0)


# ------------------------------------------------------------------------------ certificate
def _r2_certificate(method: str = "dense", grid: int = 8) -> TransportCertificate:
    res = solve(ref.r2_two_goods(0.0).problem, backend="ot_dual", grid=grid, method=method,
                costs="transport")
    return res.certificate


def _rebuild(cert: TransportCertificate, **changes) -> TransportCertificate:
    fields = dict(points=cert.points, masses=cert.masses, point_kind=cert.point_kind,
                  source=cert.source, target=cert.target, flow=cert.flow, kind=cert.kind,
                  belief=cert.belief, allocation_low=cert.allocation_low,
                  allocation_high=cert.allocation_high, value_low=cert.value_low,
                  value_high=cert.value_high, grid=cert.grid, structure=cert.structure,
                  quadrature_error=cert.quadrature_error)
    fields.update(changes)
    return TransportCertificate(**fields)


def test_certificate_recomputes_its_bound_and_charges_missing_mass():
    cert = _r2_certificate()
    assert _rebuild(cert).cost == cert.cost
    u_bar = cert.utility_bound
    assert u_bar == pytest.approx(1.0)             # max over [0,1]^2 of |v - c|_1
    positive = float(cert.masses[(cert.masses > 0) & (cert.point_kind != 2)].sum())
    # Shipping nothing proves only u_bar times the positive mass (2.0 on R2 at lambda = 0).
    empty = _rebuild(cert, source=np.zeros(0, np.int64), target=np.zeros(0, np.int64),
                     flow=np.zeros(0))
    assert empty.cost == pytest.approx(u_bar * positive, rel=1e-12) and empty.cost >= 2.0
    half = _rebuild(cert, flow=cert.flow / 2)
    assert half.cost >= cert.cost
    assert half.imbalance == pytest.approx(positive / 2, rel=1e-9)
    # Extra flow out of the atom is free (u(c) = 0) and extra arriving mass never helps.
    assert _rebuild(cert, flow=cert.flow * 1.5).cost >= cert.plan_cost


def test_repricing_a_plan():
    cert = _r2_certificate(grid=12)
    radial, w1 = cert.repriced("radial"), cert.repriced("w1")
    assert radial.cost <= cert.cost <= w1.cost
    assert radial.kind == "radial" and "repriced" in radial.method
    assert np.array_equal(radial.flow, cert.flow)


def test_certificate_rejects_inconsistent_data():
    cert = _r2_certificate()
    bad_flow = cert.flow.copy()
    bad_flow[0] = -1e-3
    with pytest.raises(OptionError, match="flow"):
        _rebuild(cert, flow=bad_flow)
    with pytest.raises(OptionError, match="kind"):
        _rebuild(cert, kind="l2")
    moved = cert.points.copy()
    moved[0] = [1.5, 0.5]
    with pytest.raises(OptionError, match="value box"):
        _rebuild(cert, points=moved)
    atom = int(np.flatnonzero(cert.point_kind == 2)[0])
    moved = cert.points.copy()
    moved[atom] = [0.25, 0.25]
    with pytest.raises(OptionError, match="belief"):
        _rebuild(cert, points=moved)
    with pytest.raises(OptionError, match="source"):
        _rebuild(cert, source=cert.source + 10**6)
    with pytest.raises(OptionError, match="structure"):
        _rebuild(cert, structure="tree")


@pytest.mark.parametrize("method", ["dense", "flow"])
def test_plan_moves_exactly_the_masses(method):
    cert = _r2_certificate(method)
    src, dst, mass = cert.plan
    assert src.shape == dst.shape == mass.shape and np.all(mass > 0)
    net = cert.net_outflow()
    non_atom = cert.point_kind != 2
    # Network simplex flows satisfy conservation to round-off of sums of O(100) terms.
    np.testing.assert_allclose(net[non_atom], cert.masses[non_atom], atol=1e-13)
    if method == "dense":   # a plan goes straight from sources to sinks
        assert np.all(cert.masses[src] > 0) and np.all(cert.masses[dst] < 0)
    costs = cert.arc_costs(upper=False)
    assert float(mass @ costs) == pytest.approx(cert.plan_cost, rel=1e-13)


def test_result_and_stats_are_json_friendly():
    problem = ref.r2_two_goods(0.5).problem
    res = solve(problem, backend="ot_dual", grid=8)
    assert res.menu is None and res.profit is None and res.bounds.lower is None
    assert "radial" in res.bounds.upper_method or "transport" in res.bounds.upper_method
    assert isinstance(res.certificate, TransportCertificate)
    assert res.certificate.cost == res.bounds.upper
    json.dumps({k: res.stats[k] for k in ("per_cost", "transport_bounds", "settings",
                                          "grid_shape", "method")})
    assert res.stats["settings"]["costs"] == ["transport", "radial"]
    assert "bounds" in res.summary()


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("options,field", [
    ({"costs": "l2"}, "costs"),
    ({"costs": []}, "costs"),
    ({"costs": 3}, "costs"),
    ({"method": "fast"}, "method"),
    ({"flow_solver": "cplex"}, "flow_solver"),
    ({"grid": 0}, "grid"),
    ({"grid": "fine"}, "grid"),
    ({"grid": True}, "grid"),
    ({"num_iter_max": 0}, "num_iter_max"),
    ({"num_iter_max": 1.5}, "num_iter_max"),
    ({"max_dense_entries": True}, "max_dense_entries"),
    ({"marginal_tol": 0.0}, "marginal_tol"),
    ({"marginal_tol": float("nan")}, "marginal_tol"),
    ({"marginal_tol": "1e-9"}, "marginal_tol"),
    ({"gird": 8}, "gird"),
])
def test_bad_options(options, field):
    with pytest.raises(OptionError, match=field) as info:
        solve(ref.r2_two_goods(0.0).problem, backend="ot_dual", **options)
    assert isinstance(info.value, TypeError)
    assert "allowed" in str(info.value)


def test_bad_grid_breakpoints_name_the_axis():
    with pytest.raises(OptionError, match=r"grid\[0\]"):
        solve(ref.r2_two_goods(0.0).problem, backend="ot_dual",
              grid=[[0.0, 0.5, 0.4, 1.0], [0.0, 1.0]])


def test_unsupported_problems():
    rng = np.random.default_rng(0)
    with pytest.raises(UnsupportedProblemError, match="density"):
        solve(Problem(goods=2, values=Samples(rng.uniform(0, 1, (50, 2))), belief=0.5),
              backend="ot_dual")
    with pytest.raises(UnsupportedProblemError, match="update"):
        solve(Problem(goods=1, values=Uniform(0, 1), belief=0.5, update=lambda v: 0.5 + 0 * v),
              backend="ot_dual")
    with pytest.raises(UnsupportedProblemError, match="derivative"):
        solve(Problem(goods=1, values=Beta(1.5, 2), belief=0.5), backend="ot_dual")
    with pytest.raises(UnsupportedProblemError, match="method='flow'"):
        solve(ref.r2_two_goods(0.0).problem, backend="ot_dual", grid=8, method="dense",
              max_dense_entries=100)


# ------------------------------------------------------------------------------ plot
@pytest.mark.parametrize("method", ["dense", "flow"])
def test_plot_transport(tmp_path, method):
    pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install 'amm-opt[plot]'")
    from amm_opt.plot.transport import plot_transport

    cert = _r2_certificate(method)
    path = tmp_path / f"plan_{method}.png"
    ax = plot_transport(cert, path, max_arcs=50)
    assert path.stat().st_size > 10_000
    assert "not drawn" in ax.get_title()
    assert plot_transport(cert, ax=ax) is ax


def test_plot_transport_rejects_bad_input():
    pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install 'amm-opt[plot]'")
    from amm_opt.plot.transport import plot_transport

    with pytest.raises(OptionError, match="certificate"):
        plot_transport("plan")
    one = solve(ref.r1_bid_ask().problem, backend="ot_dual", grid=4).certificate
    with pytest.raises(UnsupportedProblemError, match="two goods"):
        plot_transport(one)
    with pytest.raises(OptionError, match="max_arcs"):
        plot_transport(_r2_certificate(), max_arcs=-1)
