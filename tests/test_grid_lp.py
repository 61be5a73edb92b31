"""The grid LP backend (issue 3): certified upper bounds, cutting planes, refinement, solvers."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from amm_opt import Beta, Menu, Problem, Samples, TruncatedNormal, Uniform, evaluate, solve
from amm_opt import references as ref
from amm_opt.discretisation import discretize
from amm_opt.errors import (
    BackendUnavailableError,
    OptionError,
    SolverFailedError,
    UnsupportedProblemError,
)
from amm_opt.result import Status
from amm_opt.solvers.grid_lp import GridLP, GridLPProgress
from amm_opt.solvers.grid_lp import interfaces as backends
from amm_opt.solvers.grid_lp.interfaces import LPSolution, make_interface
from amm_opt.solvers.grid_lp.menus import lp_menu
from amm_opt.solvers.grid_lp.mesh import Mesh, MeshPoints, dorfler_mark
from amm_opt.solvers.grid_lp.model import (
    LPData,
    all_pairs,
    certified_bound,
    delaunay_pairs,
    initial_pairs,
    start_pairs,
)
from amm_opt.solvers.grid_lp.separation import find_cuts
from amm_opt.solvers.grid_lp.stages import lp_round

HAVE_HIGHSPY = importlib.util.find_spec("highspy") is not None
HAVE_CVXPY = importlib.util.find_spec("cvxpy") is not None

# The certified bound carries explicit round-off allowances (< 1e-11 at these sizes) on top of
# the LP value; two solvers' optima of the same LP agree to their tolerances (1e-7 for HiGHS
# and Clarabel, whose feasibility/optimality tolerances are 1e-7/1e-8).
SAME_LP_ATOL = 1e-6
# Exact evaluation sums a few float64 terms: the lower bound may exceed a closed-form optimum by
# round-off only (~1e-16). The upper bound gets no tolerance: it is certified.
EVAL_ATOL = 1e-14
# SCS is a first-order method (tolerance ~1e-4 relative); its duals certify a looser number.
SCS_ATOL = 5e-3


def r1(lam: float = 0.0, c: float = 0.5):
    return ref.r1_bid_ask(0.0, 1.0, c, lam)


REFERENCES = {
    "R1": lambda: r1(),
    "R1-lambda-0.5": lambda: r1(0.5),
    "R1-belief-0.2": lambda: r1(0.3, 0.2),
    "R2": lambda: ref.r2_two_goods(0.0),
    "R2-lambda-0.5": lambda: ref.r2_two_goods(0.5),
    "R3": ref.r3_monopolist,
}


def _nonuniform(problem: Problem, cells: int = 5) -> list[np.ndarray]:
    """Per-good breakpoints with uneven spacing (squares of a uniform grid)."""
    out = []
    for lo, hi in zip(problem.value_low, problem.value_high, strict=True):
        t = np.linspace(0.0, 1.0, cells + 1) ** 1.5
        out.append(lo + (hi - lo) * t)
    return out


# ---------------------------------------------------------------------------------------------
# Validity: UB >= optimum for every grid and every pair subset; LB <= optimum
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("grid", ["coarse", "medium", "nonuniform"])
def test_bracket_contains_closed_form(name: str, grid: str) -> None:
    problem, _, best = REFERENCES[name]()
    cells = {"coarse": 3, "medium": 12 if problem.goods == 2 else 40}.get(grid)
    spec = _nonuniform(problem) if grid == "nonuniform" else cells
    res = GridLP(grid=spec, polish=False).solve(problem)
    # The closed forms are exact to ~1e-16; the bound is certified, the menu evaluated exactly.
    assert res.bounds.lower <= best + EVAL_ATOL
    assert res.bounds.upper >= best
    assert res.status is Status.OPTIMAL
    assert res.stats["lp_points"] > 0 and res.stats["rounds"] >= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bound_valid_for_random_pair_subsets(seed: int) -> None:
    """Validity does not depend on completeness: any subset of pairs, any duals."""
    problem, _, best = ref.r2_two_goods(0.25)
    for planes in ("all", "positive"):
        data = LPData.build(problem, Mesh.from_grid(problem, 6).points(), planes)
        i, j = all_pairs(data.size)
        rng = np.random.default_rng(seed)
        keep = (rng.random(len(i)) < 0.05) & data.has_plane[i]
        lp = make_interface("scipy", data, "HIGHS", "simplex", False)
        lp.add(i[keep], j[keep])
        sol = lp.solve(None)
        assert sol.status is Status.OPTIMAL
        bound, _ = certified_bound(data, lp.matrix(), sol.y)
        assert bound >= best
    # The LP value (primal) is matched by the certificate up to its allowance.
    assert bound >= data.cost @ sol.z - 1e-12
    assert bound - data.cost @ sol.z < 1e-9
    # Garbage duals and no duals still give valid (looser) bounds.
    for duals in (rng.normal(size=lp.matrix().shape[0]), None):
        loose, _ = certified_bound(data, lp.matrix(), duals)
        assert loose >= bound - 1e-12 and loose >= best


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_full_pairs_equal_cutting_planes(lam: float) -> None:
    problem, _, best = ref.r2_two_goods(lam)
    # The textbook LP: a plane at every point, every ordered pair.
    full = GridLP(grid=8, pairs="all", planes="all", polish=False).solve(problem)
    cuts = GridLP(grid=8, pairs="cuts", planes="all", start_pairs="knn", neighbours=2,
                  polish=False).solve(problem)
    # Planes only at the points of positive mass (and c): the same optimum (the theorem in
    # amm_opt.solvers.grid_lp.model), with every pair from those points or with cutting planes.
    positive_all = GridLP(grid=8, pairs="all", polish=False).solve(problem)
    positive_cuts = GridLP(grid=8, polish=False).solve(problem)
    # Same LP optimum (cutting planes stop only without violations, so their solution is
    # feasible for the full LP); each bound is the LP value plus a < 1e-11 allowance.
    for other in (cuts, positive_all, positive_cuts):
        assert abs(full.bounds.upper - other.bounds.upper) < SAME_LP_ATOL
        assert full.stats["lp_pairs"] > other.stats["lp_pairs"]
    assert cuts.stats["rounds"] > 1                      # 2 neighbours are not enough
    assert full.bounds.upper >= best


@pytest.mark.parametrize("problem", [
    Problem(goods=2, values=Beta(2, 2), belief=0.5, adverse_selection=0.25),
    Problem(goods=2, values=TruncatedNormal(0.5, 0.2, 0.0, 1.0), belief=[0.4, 0.6]),
    Problem(goods=1, values=Uniform(0, 1), belief=0.3, adverse_selection=0.5),
    Problem(goods=3, values=Uniform(0, 1), belief=0.5),
], ids=["beta-2goods", "normal-2goods", "one-good", "three-goods"])
def test_planes_at_positive_mass_lose_nothing(problem: Problem) -> None:
    """Planes only at positive mass (and c) give the same LP optimum as planes everywhere, on
    densities with positive mass inside the box too (Beta, truncated normal), on uneven
    grids, with 1-3 goods."""
    cells = 4 if problem.goods == 3 else 9
    breaks = np.sort(np.r_[0.0, 1.0, np.random.default_rng(7).uniform(0.02, 0.98, cells - 1)])
    options = {"grid": [breaks] * problem.goods, "polish": False}
    full = GridLP(planes="all", **options).solve(problem)
    positive = GridLP(planes="positive", **options).solve(problem)
    assert full.stats["lp_points"] == positive.stats["lp_points"]
    assert abs(full.bounds.upper - positive.bounds.upper) < SAME_LP_ATOL
    assert positive.bounds.lower <= positive.bounds.upper


@pytest.mark.skipif(not HAVE_HIGHSPY, reason="highspy is not installed")
def test_highs_methods_agree() -> None:
    """Every HiGHS algorithm gives the same certified bound (3 goods: "auto" is "hybrid", an
    interior-point start and warm-started simplex rounds)."""
    problem = Problem(goods=3, values=Uniform(0, 1), belief=0.5)
    bounds = {}
    for method in ("simplex", "ipm", "hybrid", "auto"):
        res = GridLP(grid=5, highs_method=method, polish=False).solve(problem)
        assert res.status is Status.OPTIMAL
        bounds[method] = res.bounds.upper
    assert max(bounds.values()) - min(bounds.values()) < SAME_LP_ATOL


@pytest.mark.skipif(not HAVE_HIGHSPY, reason="highspy is not installed")
def test_pdlp_bound_is_valid_and_close() -> None:
    """HiGHS's first-order PDLP: approximate duals, still a certified bound (never below the
    closed form) and close to the simplex LP's (PDLP stops at a relative gap of about 1e-7 of
    the objective, so 1e-5 relative is generous)."""
    case = ref.r2_two_goods(0.0)
    pdlp = GridLP(grid=8, highs_method="pdlp", polish=False).solve(case.problem)
    simplex = GridLP(grid=8, highs_method="simplex", polish=False).solve(case.problem)
    assert pdlp.bounds.upper >= case.profit
    assert pdlp.bounds.upper == pytest.approx(simplex.bounds.upper, rel=1e-5)


def test_time_limit_before_the_first_lp_still_certifies() -> None:
    """Out of time before any LP is solved: the zero-dual bound (the column box) is returned,
    valid and labelled, instead of no bound at all."""
    case = ref.r2_two_goods(0.0)
    res = GridLP(grid=32, time_limit=1e-9, polish=False).solve(case.problem)
    assert res.status is Status.TIME_LIMIT
    assert res.bounds.upper is not None and res.bounds.upper >= case.profit
    assert res.certificate is not None and res.certificate.duals is None


def test_all_pairs_memory_guard() -> None:
    problem = ref.r2_two_goods(0.0).problem
    with pytest.raises(UnsupportedProblemError, match="pairs='all' needs"):
        GridLP(grid=16, pairs="all", max_all_pairs=1000).solve(problem)


@pytest.mark.skipif(importlib.util.find_spec("ot") is None, reason="POT not installed")
def test_lp_bound_below_transport_bound() -> None:
    """Convexity pairs with g in X imply the transport dual's Lipschitz constraints, so on the
    same placement the LP optimum is at most the transport bound (another engine)."""
    problem = Problem(goods=2, values=Beta(2, 2), belief=[0.5, 0.4], adverse_selection=0.2)
    lp = GridLP(grid=8, polish=False).solve(problem)
    ot = solve(problem, backend="ot_dual", grid=8, costs="transport")
    assert lp.bounds.upper <= ot.bounds.upper + 1e-9
    assert lp.bounds.lower <= lp.bounds.upper


@pytest.mark.parametrize("problem", [
    Problem(goods=2, values=Beta(2, 2), belief=[0.5, 0.4]),
    Problem(goods=2, values=TruncatedNormal(0.5, 0.3), belief=0.5, adverse_selection=0.2),
    Problem(goods=2, values=Uniform(0, 1), belief=[0.4, 0.3], adverse_selection=0.25,
            allocation=[[-0.5, 1.0], [0.0, 1.0]]),
    Problem(goods=3, values=Uniform(0, 1), belief=0.5),
], ids=["beta22", "truncnormal", "asymmetric-box", "three-goods"])
def test_lower_below_upper_and_separate(problem: Problem) -> None:
    res = GridLP(grid=4 if problem.goods == 3 else 8, polish=False).solve(problem)
    sep = solve(problem, backend="separate")
    assert res.bounds.lower <= res.bounds.upper
    # Selling separately is feasible: its profit is below every certified upper bound.
    assert sep.profit <= res.bounds.upper
    res.menu.check_fits(problem)


# ---------------------------------------------------------------------------------------------
# Placement and mesh
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("problem", [
    ref.r2_two_goods(0.3).problem,
    Problem(goods=2, values=Beta(2, 2), belief=[0.5, 0.4]),
    Problem(goods=3, values=TruncatedNormal(0.5, 0.3), belief=0.5, adverse_selection=0.2),
    Problem(goods=1, values=Beta(2, 3), belief=0.3),
], ids=["R2", "beta22", "truncnormal-3", "beta-1d"])
def test_mesh_reproduces_discretize(problem: Problem) -> None:
    """The 2^n-tree placement equals amm_opt.discretisation.discretize on unrefined grids."""
    for grid in (5, [3, 7, 4][:problem.goods]):
        a = MeshPoints.from_measure(discretize(problem, grid))
        b = Mesh.from_grid(problem, grid).points()
        # Coordinates come from linspace vs integer ticks (1 ulp apart), so points that
        # coincide in one (belief on a cell centre) may be merged only in the other.
        from scipy.spatial import cKDTree

        dist, idx = cKDTree(b.points).query(a.points)
        assert dist.max() < 1e-15
        mass = np.bincount(idx, weights=a.masses, minlength=len(b.points))
        np.testing.assert_allclose(mass, b.masses, rtol=0, atol=1e-15)


def test_refined_mesh_conserves_mass_and_stays_valid() -> None:
    problem, _, best = ref.r2_two_goods(0.5)
    mesh = Mesh.from_grid(problem, 6)
    rng = np.random.default_rng(3)
    for _ in range(3):
        mesh = mesh.refine(rng.random(mesh.cells) < 0.3)
    coarse = Mesh.from_grid(problem, 6).points()
    fine = mesh.points()
    assert mesh.max_level == 3
    # Cell integrals add up: total positive and negative mass do not depend on the mesh.
    assert abs(fine.positive_total - coarse.positive_total) < 1e-13
    assert abs(fine.negative_total - coarse.negative_total) < 1e-13
    for planes in ("all", "positive"):
        data = LPData.build(problem, fine, planes)
        lp = make_interface("scipy", data, "HIGHS", "simplex", False)
        i, j = initial_pairs(data.points, 8)
        lp.add(i[data.has_plane[i]], j[data.has_plane[i]])
        sol = lp.solve(None)
        bound, _ = certified_bound(data, lp.matrix(), sol.y)
        assert bound >= best
        # A row from a point without a plane would not be a relaxation: refused.
        if planes == "positive":
            with pytest.raises(ValueError, match="tangent plane"):
                lp.add(i[~data.has_plane[i]], j[~data.has_plane[i]])


def test_dorfler_marking() -> None:
    eta = np.array([0.0, 5.0, 1.0, 3.0, 1.0])
    assert dorfler_mark(eta, 0.5, 10).tolist() == [False, True, False, False, False]
    assert dorfler_mark(eta, 0.8, 10).tolist() == [False, True, False, True, False]
    assert dorfler_mark(eta, 1.0, 2).sum() == 2
    assert not dorfler_mark(np.zeros(3), 0.5, 10).any()


# ---------------------------------------------------------------------------------------------
# Cutting planes
# ---------------------------------------------------------------------------------------------
def test_separation_finds_the_worst_pair_of_all() -> None:
    rng = np.random.default_rng(0)
    pts = rng.random((300, 2))
    g = np.round(rng.uniform(-1, 1, (300, 2)), 1)       # repeated gradients: shared planes
    u = rng.random(300) * 0.1
    cuts = find_cuts(pts, u, g, 1e-9, 50, np.empty(0, np.int64))
    viol = u[:, None] + np.einsum("in,ijn->ij", g, pts[None, :, :] - pts[:, None, :]) - u[None, :]
    assert abs(cuts.max_violation - viol.max()) < 1e-12
    assert 0 < len(cuts.i) <= 50
    assert np.all(viol[cuts.i, cuts.j] > 1e-9)
    # The worst pair itself is among the cuts.
    worst = np.unravel_index(np.argmax(viol), viol.shape)
    assert any((cuts.i == worst[0]) & (cuts.j == worst[1])) or \
        viol[cuts.i, cuts.j].max() == pytest.approx(viol.max())


@pytest.mark.parametrize("per_point", [1, 3])
def test_separation_rows_per_point_against_brute_force(per_point: int) -> None:
    """Every violated point j gets rows from the ``per_point`` highest violating planes at j
    (ties aside: the planes here are distinct), and nothing that is not violated."""
    rng = np.random.default_rng(1)
    pts = rng.random((120, 2))
    g = rng.uniform(-1, 1, (120, 2))
    u = rng.random(120) * 0.2
    cuts = find_cuts(pts, u, g, 1e-9, 10**6, np.empty(0, np.int64), per_point=per_point)
    viol = u[:, None] + np.einsum("in,ijn->ij", g, pts[None, :, :] - pts[:, None, :]) - u[None, :]
    assert np.all(viol[cuts.i, cuts.j] > 1e-9)
    assert cuts.violated_points == int((viol.max(axis=0) > 1e-9).sum())
    rows = set(zip(cuts.i.tolist(), cuts.j.tolist(), strict=True))
    for j in np.flatnonzero(viol.max(axis=0) > 1e-9):
        order = np.argsort(-viol[:, j])
        want = [i for i in order[:per_point] if viol[i, j] > 1e-9 and i != j]
        assert all((int(i), int(j)) in rows for i in want)
    if per_point > 1:
        fewer = find_cuts(pts, u, g, 1e-9, 10**6, np.empty(0, np.int64))
        assert len(cuts.i) > len(fewer.i)


def test_delaunay_start_pairs() -> None:
    rng = np.random.default_rng(2)
    for n in (2, 3):
        pts = rng.random((60, n))
        i, j = delaunay_pairs(pts)
        pairs = set(zip(i.tolist(), j.tolist(), strict=True))
        assert all((b, a) in pairs for a, b in pairs) and all(a != b for a, b in pairs)
        # Every point is a vertex of some simplex; the nearest neighbour is a Delaunay edge.
        assert set(i.tolist()) == set(range(60))
        nearest = np.argsort(((pts[:, None] - pts[None]) ** 2).sum(-1), axis=1)[:, 1]
        assert all((a, int(b)) in pairs for a, b in enumerate(nearest))
    # Where Qhull does not apply (one good; collinear points), k nearest neighbours instead.
    line = np.column_stack([np.linspace(0, 1, 20), np.linspace(0, 1, 20)])
    assert delaunay_pairs(rng.random((20, 1))) is None
    assert delaunay_pairs(line) is None
    i, j = start_pairs(line, "delaunay", 3)
    ki, kj = initial_pairs(line, 3)
    assert np.array_equal(i, ki) and np.array_equal(j, kj)


def test_initial_pairs_are_symmetric_neighbours() -> None:
    pts = np.random.default_rng(1).random((50, 3))
    i, j = initial_pairs(pts, 4)
    pairs = set(zip(i.tolist(), j.tolist(), strict=True))
    assert all((b, a) in pairs for a, b in pairs)
    assert all(a != b for a, b in pairs)
    assert len(pairs) >= 50 * 4


# ---------------------------------------------------------------------------------------------
# Refinement, progress, limits
# ---------------------------------------------------------------------------------------------
def test_r1_target_gap_by_refinement() -> None:
    problem, _, best = r1(0.5)
    res = GridLP(grid=16, target_gap=1e-6, time_limit=60).solve(problem)
    assert res.status is Status.OPTIMAL and res.stats["stop_reason"] == "target_gap"
    assert res.stats["refinements"] >= 1
    assert res.bounds.lower <= best + EVAL_ATOL and best <= res.bounds.upper
    assert res.bounds.relative_gap <= 1e-6
    assert res.menu.size == 3                             # bid, ask, no trade


def test_r2_refinement_tightens_and_callback_reports() -> None:
    problem, _, best = ref.r2_two_goods(0.0)
    seen: list[GridLPProgress] = []
    res = GridLP(grid=8, max_refinements=2, callback=seen.append, polish=False).solve(problem)
    assert all(isinstance(p, GridLPProgress) for p in seen)
    assert seen[0].stage == 0 and seen[-1].stage == 2
    stage_bounds = [min(r["upper"] for r in s["rounds"]) for s in res.stats["stages"]]
    assert stage_bounds[-1] < stage_bounds[0]
    assert all(b >= best for b in stage_bounds)
    assert res.bounds.upper == min(stage_bounds)
    assert seen[-1].upper == res.bounds.upper
    assert all(p.lower <= p.upper for p in seen)
    assert res.stats["lp_points"] == seen[-1].points


def test_callback_can_stop() -> None:
    problem = ref.r2_two_goods(0.0).problem
    res = GridLP(grid=8, neighbours=2, callback=lambda p: True, polish=False).solve(problem)
    assert res.stats["rounds"] == 1 and res.stats["stop_reason"] == "callback"


def test_time_limit_gives_time_limit_status() -> None:
    problem, _, best = ref.r2_two_goods(0.0)
    res = GridLP(grid=8, target_gap=1e-9, time_limit=0.5, polish=False).solve(problem)
    assert res.status is Status.TIME_LIMIT
    assert res.bounds.lower <= best + EVAL_ATOL and best <= res.bounds.upper


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm", reason="tqdm is optional (the progress extra)")
    GridLP(grid=4, progress=True, polish=False).solve(ref.r2_two_goods(0.0).problem)
    assert "grid_lp" in capsys.readouterr().err


def test_lp_menu_items_reproduce_the_points() -> None:
    problem = ref.r2_two_goods(0.0).problem
    for planes in ("all", "positive"):
        data = LPData.build(problem, Mesh.from_grid(problem, 8).points(), planes)
        lp = make_interface("scipy", data, "HIGHS", "simplex", False)
        i, j = all_pairs(data.size)
        lp.add(i[data.has_plane[i]], j[data.has_plane[i]])
        z = lp.solve(None).z
        menu = lp_menu(problem, data.points, z, data.planes)
        u, _ = data.split(z)
        # The menu's utility is the envelope of the solution's planes: u at every point (at
        # the points without a plane, the smallest value their rows allow is that envelope).
        np.testing.assert_allclose(menu.utility(data.points), u, atol=1e-9)
        assert menu.size < 20


# ---------------------------------------------------------------------------------------------
# Solvers and their failures
# ---------------------------------------------------------------------------------------------
def _solver_cases() -> list:
    cases = [pytest.param("scipy", "HIGHS", SAME_LP_ATOL, id="scipy-highs")]
    cases.append(pytest.param("highspy", "HIGHS", SAME_LP_ATOL, id="highspy",
                              marks=pytest.mark.skipif(not HAVE_HIGHSPY,
                                                       reason="highspy not installed")))
    for solver, atol in (("HIGHS", SAME_LP_ATOL), ("CLARABEL", SAME_LP_ATOL),
                         ("SCS", SCS_ATOL)):
        module = {"HIGHS": "highspy", "CLARABEL": "clarabel", "SCS": "scs"}[solver]
        skip = not HAVE_CVXPY or importlib.util.find_spec(module) is None
        cases.append(pytest.param("cvxpy", solver, atol, id=f"cvxpy-{solver}",
                                  marks=pytest.mark.skipif(skip, reason=f"cvxpy/{module} "
                                                           "not installed")))
    return cases


@pytest.mark.parametrize(("interface", "solver", "atol"), _solver_cases())
def test_every_solver_certifies(interface: str, solver: str, atol: float) -> None:
    problem, _, best = ref.r2_two_goods(0.5)
    reference = GridLP(grid=6, interface="scipy", polish=False).solve(problem)
    res = GridLP(grid=6, interface=interface, lp_solver=solver, polish=False).solve(problem)
    assert res.bounds.upper >= best and res.bounds.lower <= best + EVAL_ATOL
    assert res.bounds.upper >= reference.bounds.upper - SAME_LP_ATOL
    assert res.bounds.upper <= reference.bounds.upper + atol
    assert res.stats["interface"] == interface and res.stats["lp_solver"] == solver


@pytest.mark.mosek
def test_mosek_certifies() -> None:
    usable, why = backends.mosek_availability()
    if not usable:
        pytest.skip(why)
    problem, _, best = ref.r2_two_goods(0.0)
    res = GridLP(grid=6, lp_solver="MOSEK", polish=False).solve(problem)
    assert res.bounds.upper >= best


def test_mosek_missing_or_unlicensed_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    backends.mosek_availability.cache_clear()
    monkeypatch.setattr(backends, "_mosek_installed", lambda: False)
    with pytest.raises(BackendUnavailableError, match="MOSEK is not installed"):
        GridLP(lp_solver="MOSEK").solve(ref.r2_two_goods(0.0).problem)
    backends.mosek_availability.cache_clear()

    def no_licence() -> None:
        raise RuntimeError("MSK_RES_ERR_LICENSE_NO_SERVER_SUPPORT: license not found")

    monkeypatch.setattr(backends, "_mosek_installed", lambda: True)
    monkeypatch.setattr(backends, "_installed", lambda module: True)
    monkeypatch.setattr(backends, "_mosek_tiny_solve", no_licence)
    with pytest.raises(BackendUnavailableError, match="installed but not licensed"):
        GridLP(lp_solver="mosek").solve(ref.r2_two_goods(0.0).problem)
    backends.mosek_availability.cache_clear()


def test_auto_interface_falls_back_to_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    real = backends._installed
    monkeypatch.setattr(backends, "_installed", lambda m: False if m == "highspy" else real(m))
    res = GridLP(grid=4, polish=False).solve(ref.r2_two_goods(0.0).problem)
    assert res.stats["interface"] == "scipy"


def test_missing_cvxpy_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    real = backends._installed
    monkeypatch.setattr(backends, "_installed", lambda m: False if m == "cvxpy" else real(m))
    with pytest.raises(BackendUnavailableError, match="cvxpy is not installed"):
        GridLP(lp_solver="CLARABEL").solve(ref.r2_two_goods(0.0).problem)


def test_failed_lp_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self, time_limit):
        return LPSolution(Status.FAILED, "numerical trouble", None, None, 0.0)

    monkeypatch.setattr(backends.ScipyLP, "solve", broken)
    res = GridLP(grid=4, interface="scipy", polish=False).solve(ref.r2_two_goods(0.0).problem)
    assert res.status is Status.FAILED and res.menu is None
    # A failed solve still has a (trivial, valid) certified bound from the variable bounds.
    assert res.bounds.upper >= ref.r2_profit(0.0)
    from amm_opt.solvers.base import Solver

    assert isinstance(GridLP(), Solver)
    with pytest.raises(SolverFailedError, match="numerical trouble"):
        solve(ref.r2_two_goods(0.0).problem, backend=GridLP(grid=4, interface="scipy"))


def test_failure_after_success_is_inaccurate(monkeypatch: pytest.MonkeyPatch) -> None:
    real = backends.ScipyLP.solve
    calls = {"n": 0}

    def flaky(self, time_limit):
        calls["n"] += 1
        if calls["n"] == 1:
            return real(self, time_limit)
        return LPSolution(Status.FAILED, "numerical trouble", None, None, 0.0)

    monkeypatch.setattr(backends.ScipyLP, "solve", flaky)
    problem, _, best = ref.r2_two_goods(0.0)
    res = GridLP(grid=8, planes="all", start_pairs="knn", neighbours=2, interface="scipy",
                 polish=False).solve(problem)
    assert res.status is Status.INACCURATE
    assert res.bounds.lower <= best + EVAL_ATOL and best <= res.bounds.upper


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("options", "field"), [
    ({"pairs": "some"}, "pairs"),
    ({"lp_solver": "GUROBI"}, "lp_solver"),
    ({"interface": "pulp"}, "interface"),
    ({"interface": "highspy", "lp_solver": "SCS"}, "interface"),
    ({"highs_method": "barrier"}, "highs_method"),
    ({"neighbours": 0}, "neighbours"),
    ({"planes": "negative"}, "planes"),
    ({"start_pairs": "voronoi"}, "start_pairs"),
    ({"max_rounds": 1.5}, "max_rounds"),
    ({"cut_tol": -1.0}, "cut_tol"),
    ({"target_gap": 0.0}, "target_gap"),
    ({"time_limit": float("nan")}, "time_limit"),
    ({"refine_fraction": 1.5}, "refine_fraction"),
    ({"grid": 0}, "grid"),
    ({"grid": "fine"}, "grid"),
    ({"polish": "yes"}, "polish"),
    ({"callback": 3}, "callback"),
    ({"progress": "on"}, "progress"),
    ({"evaluate_method": "sample-mean"}, "evaluate_method"),
    ({"max_cuts": 0}, "max_cuts"),
])
def test_bad_options(options: dict, field: str) -> None:
    with pytest.raises(OptionError, match=field):
        GridLP(**options)


def test_unknown_option_lists_valid_ones() -> None:
    with pytest.raises(OptionError, match="neighbours"):
        GridLP.from_options(neighbors=3)


def test_unsupported_problems() -> None:
    samples = Problem(goods=2, values=Samples(np.random.default_rng(0).random((50, 2))),
                      belief=0.5)
    with pytest.raises(UnsupportedProblemError, match="density"):
        GridLP().check_problem(samples)
    custom = Problem(goods=1, values=Uniform(0, 1), belief=0.5, update=lambda v: 0.5 + 0 * v)
    with pytest.raises(UnsupportedProblemError, match="linear update"):
        GridLP().solve(custom)


def test_menu_is_a_valid_lower_bound() -> None:
    problem, _, best = ref.r2_two_goods(0.5)
    res = GridLP(grid=10).solve(problem)
    again = evaluate(problem, res.menu)
    assert again.profit == pytest.approx(res.bounds.lower, abs=1e-15)
    assert isinstance(res.menu, Menu)
    assert res.bounds.lower <= best + EVAL_ATOL and best <= res.bounds.upper


def test_automatic_choice_and_solve_api() -> None:
    problem, _, best = ref.r2_two_goods(0.0)
    res = solve(problem, grid=12)
    assert res.backend == "grid_lp" and res.stats["backend_choice"]["automatic"]
    assert res.bounds.lower <= best + EVAL_ATOL and best <= res.bounds.upper
    assert res.menu.size == 9


@pytest.mark.parametrize("module", ["amm_opt.solvers.grid_lp.solver", "amm_opt.polishing"])
def test_docstring_examples_run(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_stalled_warm_start_is_redone_cold() -> None:
    class Fake:
        def __init__(self) -> None:
            self.limits: list[float | None] = []
            self.resets = 0

        def reset(self) -> None:
            self.resets += 1

        def solve(self, limit: float | None) -> LPSolution:
            self.limits.append(limit)
            status = Status.TIME_LIMIT if len(self.limits) == 1 else Status.OPTIMAL
            return LPSolution(status, "", None, None, 7.0)

    lp = Fake()
    sol = lp_round(lp, rnd=3, remaining=100.0, cold=2.0)
    # Cap = max(5 s, 3 x the 2 s cold solve); on hitting it the basis is dropped and the
    # round re-solved with what is left.
    assert lp.limits == [6.0, 93.0] and lp.resets == 1
    assert sol.status is Status.OPTIMAL and sol.seconds == 14.0
    assert sol.info["warm_start_abandoned_after"] == 7.0
    first = Fake()
    assert lp_round(first, rnd=0, remaining=100.0, cold=math.inf).status is \
        Status.TIME_LIMIT and first.limits == [100.0]
