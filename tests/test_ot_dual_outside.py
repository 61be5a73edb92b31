"""The transport dual with the belief outside the value box (issue 14, MATH.md §9): the ground
costs, u_bar and the free atom for any c, bounds above known optima and converging to them,
brackets against the grid LP, certificates that re-prove on load."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

pytest.importorskip("ot", reason="the ot_dual backend needs POT: pip install 'amm-opt[ot]'")

from amm_opt import Menu, Polytope, Problem, Product, Uniform, evaluate, solve
from amm_opt.certificates.transport import TransportCertificate, pair_costs, utility_bound
from amm_opt.errors import FileFormatError
from amm_opt.io import load_result, save_result
from amm_opt.result import Status
from amm_opt.solvers.ot_dual import OTDual

# Two exact optima of the same transport LP (dense POT, grid flow) agree to the network
# simplex's tolerance; the certificates' round-off allowances are ~1e-15 relative.
SOLVER_RTOL = 1e-9
# Round-off of a certified bound above an exact optimum: (degree + 3) eps charges on O(1)
# masses, far below this.
ROUNDOFF = 1e-9

# One good U[0.5, 1.5], c = 0, X = [0, 1]: the posted price p earns p (1.5 - p), 0.5625 at 0.75.
ONE_GOOD_OPTIMUM = 0.5625
# U[0.5, 1.5]^2, c = 0, X = [0, 1]^2: pure bundling at q earns q (1 - (q - 1)^2 / 2) on [1, 2],
# maximal at q - 1 = (sqrt 7 - 1) / 3 (tests/test_allocation_sets.py checks it by brute force
# and that no separate sale comes close).
_S = (math.sqrt(7.0) - 1.0) / 3.0
BUNDLE_OPTIMUM = (1.0 + _S) * (1.0 - _S * _S / 2.0)          # 1.3155651...


def _one_good() -> Problem:
    return Problem(goods=1, values=Uniform(0.5, 1.5), belief=0.0, allocation=(0, 1))


def _bundle() -> Problem:
    return Problem(goods=2, values=Uniform(0.5, 1.5), belief=0.0, allocation=(0, 1))


def _amm(lam: float) -> Problem:
    return Problem(goods=2, values=Uniform(0, 1), belief=[1.3, 0.5], allocation=(-1, 1),
                   adverse_selection=lam)


def _bounds(problem: Problem, **options) -> dict[str, float]:
    res = solve(problem, backend="ot_dual", **options)
    assert res.status is Status.OPTIMAL
    assert res.certificate is not None and res.certificate.cost == res.bounds.upper
    return res.stats["transport_bounds"]


def test_ot_dual_accepts_a_belief_outside_v():
    assert OTDual.supports_belief_outside_values
    assert OTDual.capability_refusal(_bundle()) is None


# ------------------------------------------------------------------------------ ground costs
ALLOCATIONS = {
    "selling-only box": (0, 1),
    "asymmetric box": [[-0.5, 1.0], [-1.0, 0.3]],
    "unit demand": Polytope.unit_demand(2),
    "budget": Polytope.budget([-1.0, -1.0], [1.0, 1.0], 1.0),
}


@pytest.mark.parametrize("allocation", ALLOCATIONS)
@pytest.mark.parametrize("belief", [[-0.4, 0.5], [1.6, -0.2], [1.3, 1.7]])
def test_costs_and_utility_bound_hold_beyond_v(allocation, belief):
    """u(x) - u(y) <= d(x, y) between points of V and from the atom, u <= u_bar on V, for
    random menus with u(c) = 0 and c outside V = [0, 1]^2."""
    rng = np.random.default_rng(7)
    problem = Problem(goods=2, values=Uniform(0, 1), belief=belief,
                      allocation=ALLOCATIONS[allocation])
    c = np.asarray(problem.belief)
    assert not problem.belief_inside_values
    low, high = problem.allocation_low, problem.allocation_high
    verts = None if problem.allocation_is_box else np.asarray(problem.allocation.vertices)
    corners = (np.array(list(itertools.product(*zip(low, high, strict=True))))
               if verts is None else verts)
    x, y = rng.uniform(0, 1, (3000, 2)), rng.uniform(0, 1, (3000, 2))
    costs = {kind: pair_costs(kind, x, y, False, c, low, high, vertices=verts, upper=True)
             for kind in ("transport", "radial")}
    from_atom = pair_costs("radial", np.broadcast_to(c, x.shape), y, True, c, low, high,
                           vertices=verts)
    assert np.all(from_atom == 0.0)
    u_bar = utility_bound([0, 0], [1, 1], c, low, high, vertices=verts)
    v_corners = np.array(list(itertools.product([0.0, 1.0], repeat=2)))
    exact = float(((v_corners - c) @ corners.T).max())           # max over V of sigma_X(v - c)
    assert exact <= u_bar <= exact + 1e-14
    for _ in range(20):
        k = int(rng.integers(1, 8))
        weights = rng.dirichlet(np.ones(len(corners)), k)       # points of X
        items = weights @ corners
        menu = Menu(items, items @ c + rng.uniform(0.0, 0.5, k))  # u(c) = 0
        assert menu.utility(c[None, :])[0] == pytest.approx(0.0, abs=1e-15)
        ux, uy = menu.utility(x), menu.utility(y)
        for kind, cost in costs.items():
            assert np.all(ux - uy <= cost + 1e-14), kind
        assert np.all(uy >= 0.0) and ux.max() <= u_bar + 1e-14


# ------------------------------------------------------------------------------ known optima
@pytest.mark.parametrize("method", ["flow", "dense"])
def test_one_good_selling_only_bound_is_the_optimum(method):
    for grid in (16, 32, 64):
        bound = min(_bounds(_one_good(), grid=grid, method=method).values())
        # Measured: 0.5625 + 5e-14 (flow) / 2e-14 (dense) at every grid.
        assert ONE_GOOD_OPTIMUM <= bound <= ONE_GOOD_OPTIMUM + ROUNDOFF, grid


def test_pure_bundling_bound_converges_from_above():
    """Measured (transport = radial, flow = dense to 1e-12): 1.3173828 at 16, 1.3159164 at 32,
    1.3156437 at 64 cells per axis, against the optimum 1.3155651."""
    bounds = []
    for grid in (16, 32, 64):
        flow = _bounds(_bundle(), grid=grid, method="flow")
        dense = _bounds(_bundle(), grid=grid, method="dense")
        for kind in flow:
            assert flow[kind] == pytest.approx(dense[kind], rel=SOLVER_RTOL)
        bounds.append(min(flow.values()))
    assert all(b >= BUNDLE_OPTIMUM for b in bounds)
    assert bounds[0] > bounds[1] > bounds[2]
    gaps = [b - BUNDLE_OPTIMUM for b in bounds]
    assert gaps[0] < 2.5e-3 and gaps[2] < 1.5e-4 and gaps[2] < gaps[0] / 8


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_amm_with_belief_beyond_v_is_above_the_grid_lp_menu(lam):
    """c = (1.3, 0.5), X = [-1, 1]^2. Measured at lambda 0 / 0.5: grid LP lower bound 0.60198 /
    0.20297; transport bounds 0.61642, 0.60682, 0.60396 / 0.21765, 0.20932, 0.20614 at
    16, 32, 64 cells (radial and the flow slightly lower)."""
    problem = _amm(lam)
    lower = solve(problem, backend="grid_lp", grid=16).bounds.lower
    previous = math.inf
    for grid in (16, 32):
        flow = _bounds(problem, grid=grid, method="flow", costs=("transport", "radial", "w1"))
        dense = _bounds(problem, grid=grid, method="dense", costs=("transport", "radial", "w1"))
        # w1 pays for the atom's moves (sigma_X(c - y), exact arcs in both): equal optima.
        for kind in ("transport", "w1"):
            assert flow[kind] == pytest.approx(dense[kind], rel=SOLVER_RTOL)
        bound = min(min(flow.values()), min(dense.values()))
        assert lower <= bound < previous
        assert flow["w1"] > 1.5 * flow["transport"]         # the free atom matters
        previous = bound
    assert previous - lower < 0.01


def test_belief_below_a_product_of_uniforms():
    """V = [4, 16] x [4, 7], c = 0 (optimum about 9.7778): selling separately earns 9.3333, the
    grid LP's menu 9.77778; the transport bounds are 9.95613 / 9.86823 at 16 / 32 cells."""
    problem = Problem(goods=2, values=Product([Uniform(4, 16), Uniform(4, 7)]), belief=0.0,
                      allocation=(0, 1))
    lower = solve(problem, backend="grid_lp", grid=16).bounds.lower
    separate = solve(problem, backend="separate").profit
    coarse = min(_bounds(problem, grid=16).values())
    fine = min(_bounds(problem, grid=32).values())
    assert separate < lower <= fine < coarse < lower + 0.2


def test_polytope_with_belief_outside_v():
    """Unit demand, U[0.5, 1.5]^2, c = 0: the flow is exact there (flow_is_exact), so it matches
    dense POT; both lie above the grid LP's menu (0.75808 at 16) and the posted price 1."""
    problem = Problem(goods=2, values=Uniform(0.5, 1.5), belief=0.0,
                      allocation=Polytope.unit_demand(2))
    lower = solve(problem, backend="grid_lp", grid=16).bounds.lower
    posted = evaluate(problem, Menu([[1.0, 0.0], [0.0, 1.0]], [1.0, 1.0])).profit
    flow = _bounds(problem, grid=16, method="flow")
    dense = _bounds(problem, grid=16, method="dense")
    auto = solve(problem, backend="ot_dual", grid=16)
    assert auto.stats["method"] == "flow"
    for kind in flow:
        assert flow[kind] == pytest.approx(dense[kind], rel=SOLVER_RTOL)
    assert posted <= lower <= min(dense.values()) < lower + 0.01


# ------------------------------------------------------------------------------ certificates
def _certificate(method: str) -> tuple:
    res = solve(_bundle(), backend="ot_dual", grid=4, method=method, costs="transport")
    return res, res.certificate


@pytest.mark.parametrize("method", ["flow", "dense"])
def test_saved_result_re_proves_its_certificate(tmp_path, method):
    res, cert = _certificate(method)
    atom = cert.point_kind == 2
    np.testing.assert_array_equal(cert.points[atom], [[0.0, 0.0]])     # outside V = [0.5, 1.5]^2
    path = tmp_path / "r.json"
    save_result(res, path, _bundle())
    back = load_result(path)
    assert isinstance(back.certificate, TransportCertificate)
    assert back.certificate.cost == cert.cost == back.bounds.upper
    assert back.certificate.cost >= BUNDLE_OPTIMUM


def test_only_the_atom_may_lie_outside_v(tmp_path):
    res, cert = _certificate("dense")
    path = tmp_path / "r.json"
    save_result(res, path)
    data = json.loads(path.read_text())
    points = data["certificate"]["points"]
    assert isinstance(points, list), "a 4 x 4 grid keeps its arrays in the JSON file"
    kinds = data["certificate"]["point_kind"]
    vertex = kinds.index(0)
    atom = kinds.index(2)
    # A vertex moved to the belief's side of V: u there is not known to be <= u_bar.
    moved = json.loads(json.dumps(data))
    moved["certificate"]["points"][vertex] = [0.0, 0.0]
    path.write_text(json.dumps(moved))
    with pytest.raises(FileFormatError, match="value box"):
        load_result(path)
    # The atom must sit exactly at the belief, wherever that is.
    moved = json.loads(json.dumps(data))
    moved["certificate"]["points"][atom] = [0.25, 0.0]
    path.write_text(json.dumps(moved))
    with pytest.raises(FileFormatError, match="belief"):
        load_result(path)
    # Shipping nothing proves only u_bar (= 3 here: sigma_X((1.5, 1.5) - 0)) times the mass.
    empty = TransportCertificate(
        points=cert.points, masses=cert.masses, point_kind=cert.point_kind,
        source=np.zeros(0, np.int64), target=np.zeros(0, np.int64), flow=np.zeros(0),
        kind=cert.kind, belief=cert.belief, allocation_low=cert.allocation_low,
        allocation_high=cert.allocation_high, value_low=cert.value_low,
        value_high=cert.value_high, grid=cert.grid)
    assert empty.utility_bound == pytest.approx(3.0, rel=1e-14)
    positive = float(cert.masses[(cert.masses > 0) & ~(cert.point_kind == 2)].sum())
    assert empty.cost == pytest.approx(3.0 * positive, rel=1e-12) and empty.cost > cert.cost
