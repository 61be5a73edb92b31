"""The grid LP on polytope allocation sets and with beliefs outside the value box (issue 14).

References (derived in ``tests/test_allocation_sets.py``'s docstring and below):

* a box given as a polytope is the same LP up to the polytope's rows, which the box's bounds
  already imply (:meth:`Polytope.relaxation_rows` leaves them out): same menus and bounds;
* unit demand in one good is the box [0, 1]: Myerson, 1/4 for U[0,1] with cost 0;
* a pure swap between two goods with U[0,1] values and c = (1/2, 1/2), lambda = 0: 4/27;
* the one-good monopolist with U[0.5, 1.5] values and cost 0: price 0.75, profit 0.5625 (the
  belief lies outside V, below it);
* U[0.5, 1.5]^2 with cost 0: pure bundling, :math:`\\max_q q(1 - (q-1)^2/2)` on [1, 2].

Tolerances: "same LP" comparisons use 1e-9 relative (HiGHS's feasibility tolerance on the
same optimum); certified bounds are checked against exact optima with no tolerance at all
(a valid bound is never below the optimum); exact lower bounds may exceed an optimum by 1e-12
(evaluate's round-off on profits of order 1).
"""

from __future__ import annotations

import numpy as np
import pytest

from amm_opt import Menu, Polytope, Problem, Product, Uniform, evaluate, solve
from amm_opt.io import load_result, save_result

pytest.importorskip("highspy", reason="the grid LP needs HiGHS")

SWAP_OPTIMUM = 4.0 / 27.0


def _bundling_optimum() -> float:
    q = np.linspace(1.0, 2.0, 200_001)
    return float((q * (1.0 - (q - 1.0) ** 2 / 2.0)).max())


@pytest.mark.parametrize("goods", [1, 2])
def test_box_as_polytope_reproduces_the_box(goods):
    box = Problem(goods=goods, values=Uniform(0, 1), belief=0.5)
    poly = Problem(goods=goods, values=Uniform(0, 1), belief=0.5,
                   allocation=Polytope.box([-1.0] * goods, [1.0] * goods))
    a = solve(box, backend="grid_lp", grid=16)
    b = solve(poly, backend="grid_lp", grid=16)
    assert b.bounds.upper == pytest.approx(a.bounds.upper, rel=1e-9)
    assert b.bounds.lower == pytest.approx(a.bounds.lower, rel=1e-9)
    assert b.menu.size == a.menu.size


def test_unit_demand_in_one_good_is_myerson():
    problem = Problem(goods=1, values=Uniform(0, 1), belief=0.0,
                      allocation=Polytope.unit_demand(1))
    res = solve(problem, backend="grid_lp", grid=64)
    assert res.bounds.lower <= 0.25 + 1e-12 and 0.25 <= res.bounds.upper
    assert res.bounds.upper - res.bounds.lower < 1e-6


@pytest.mark.parametrize("grid", [8, 16, 32])
def test_pure_swap_bracket_holds_and_closes(grid):
    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5,
                      allocation=Polytope.pure_swap(2))
    res = solve(problem, backend="grid_lp", grid=grid)
    assert res.bounds.lower <= SWAP_OPTIMUM + 1e-12 and SWAP_OPTIMUM <= res.bounds.upper
    assert res.bounds.lower == pytest.approx(SWAP_OPTIMUM, rel=1e-9)   # the posted-price menu
    res.menu.check_fits(problem, atol=1e-12)
    assert res.certificate.allocation_normals is not None
    assert res.certificate.summary()["allocation_rows"] == 2            # the swap's equation


def _budget() -> Polytope:
    return Polytope.budget([-1.0, -1.0], [1.0, 1.0], 0.5)


@pytest.mark.parametrize("allocation", [Polytope.unit_demand(2), _budget(),
                                        Polytope.from_vertices([[0, 0], [1, 0], [0.5, 0.8],
                                                                [-0.3, -0.6]])],
                         ids=["unit_demand", "budget", "vertices"])
def test_bracket_holds_on_polytopes_and_menus_stay_in_x(allocation):
    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=allocation)
    res = solve(problem, backend="grid_lp", grid=16)
    res.menu.check_fits(problem, atol=1e-12)
    # The box's bound is never below the polytope's (X is inside its bounding box) and the box's
    # menu, if it leaves X, is not a valid menu here: the polytope LP must be strictly tighter.
    box = Problem(goods=2, values=Uniform(0, 1), belief=0.5,
                  allocation=np.column_stack([allocation.low, allocation.high]))
    assert res.bounds.upper < solve(box, backend="grid_lp", grid=16).bounds.upper
    # Hand-made menus inside X (every vertex as an item at a grid of prices): each is a
    # feasible menu, so its exact profit is below the certified bound.
    verts = np.asarray(allocation.vertices)
    for price in (0.05, 0.15, 0.3):
        menu = Menu(verts, price * np.abs(verts).sum(axis=1))
        assert evaluate(problem, menu).profit <= res.bounds.upper
    assert res.bounds.lower <= res.bounds.upper


def test_polytope_rows_matter_for_the_bound_without_their_duals():
    # Dropping the polytope rows' duals (y_X = 0) must still give a valid bound, only a looser
    # one: the certificate is valid for every dual vector.
    from amm_opt.solvers.grid_lp.model import certified_bound

    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5,
                      allocation=Polytope.pure_swap(2))
    res = solve(problem, backend="grid_lp", grid=12, symmetry="none")   # the plain LP's points
    cert = res.certificate
    assert cert.allocation_duals is not None and np.abs(cert.allocation_duals).max() > 0
    from amm_opt.discretisation import discretize
    from amm_opt.solvers.grid_lp.mesh import MeshPoints
    from amm_opt.solvers.grid_lp.model import LPData, pair_matrix

    data = LPData.build(problem, MeshPoints.from_measure(discretize(problem, 12)))
    assert np.array_equal(data.points, cert.points)
    matrix = pair_matrix(data.points, cert.pair_source, cert.pair_target)
    with_x, _ = certified_bound(data, matrix, cert.duals, cert.allocation_duals)
    without_x, _ = certified_bound(data, matrix, cert.duals, None)
    assert with_x == pytest.approx(cert.bound, rel=1e-12)
    assert without_x >= with_x >= SWAP_OPTIMUM


def test_polytope_certificate_round_trips(tmp_path):
    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5,
                      allocation=Polytope.unit_demand(2))
    res = solve(problem, backend="grid_lp", grid=8)
    path = tmp_path / "unit.json"
    save_result(res, path)
    back = load_result(path)
    assert np.array_equal(back.certificate.allocation_normals, res.certificate.allocation_normals)
    assert np.array_equal(back.certificate.allocation_duals, res.certificate.allocation_duals)
    assert back.bounds.upper == res.bounds.upper


# ------------------------------------------------------------------ beliefs outside V
def test_one_good_belief_below_values_is_myerson():
    problem = Problem(goods=1, values=Uniform(0.5, 1.5), belief=0.0, allocation=(0, 1))
    res = solve(problem, backend="grid_lp", grid=32)
    assert res.bounds.lower <= 0.5625 + 1e-12 and 0.5625 <= res.bounds.upper
    assert res.bounds.upper - 0.5625 < 1e-9          # the 1-D LP is exact on its grid


def test_monopolist_away_from_zero_meets_the_gap_target():
    problem = Problem(goods=2, values=Uniform(0.5, 1.5), belief=0.0, allocation=(0, 1))
    res = solve(problem, backend="grid_lp", grid=32)
    best = _bundling_optimum()
    assert res.bounds.lower <= best + 1e-9 and best <= res.bounds.upper
    assert res.bounds.lower == pytest.approx(best, rel=1e-7)
    assert (res.bounds.upper - res.bounds.lower) / res.bounds.lower <= 1e-3


def test_asymmetric_boxes_away_from_zero_beat_separate_sales():
    problem = Problem(goods=2, values=Product([Uniform(4, 16), Uniform(4, 7)]), belief=0.0,
                      allocation=(0, 1))
    res = solve(problem, backend="grid_lp", grid=32)
    separate = solve(problem, backend="separate").profit              # 8*8/12 + 4
    assert separate <= res.bounds.lower + 1e-9
    assert (res.bounds.upper - res.bounds.lower) / res.bounds.lower <= 1e-3


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_amm_with_belief_above_values_brackets_separate(lam):
    problem = Problem(goods=2, values=Uniform(0, 1), belief=(1.3, 0.5), adverse_selection=lam)
    res = solve(problem, backend="grid_lp", grid=24)
    sep = solve(problem, backend="separate")
    assert sep.profit <= res.bounds.upper
    assert res.bounds.lower <= res.bounds.upper
    # u(c) = 0 at the belief: the menu gives the belief type nothing.
    assert res.menu.utility(np.asarray(problem.belief)[None, :])[0] <= 1e-9


@pytest.mark.parametrize("case", ["mono_far", "swap"])
def test_bracket_holds_against_rochetnet(case):
    pytest.importorskip("torch", reason="RochetNet needs torch")
    from amm_opt import crosscheck

    problem = {
        "mono_far": Problem(goods=2, values=Product([Uniform(4, 16), Uniform(4, 7)]), belief=0.0,
                            allocation=(0, 1)),
        "swap": Problem(goods=2, values=Uniform(0, 1), belief=0.5,
                        allocation=Polytope.pure_swap(2)),
    }[case]
    report = crosscheck(problem, ["grid_lp", "rochetnet"],
                        options={"grid_lp": {"grid": 24},
                                 "rochetnet": {"menu_size": 16, "steps": 400, "batch_size": 2048,
                                               "device": "cpu", "progress": False,
                                               "threads": 1}})
    assert not report.violations and not report.failures
    runs = {r.name: r for r in report.runs}
    assert runs["rochetnet"].lower <= runs["grid_lp"].upper


# ------------------------------------------------------------------ symmetry of polytopes
def test_polytope_symmetry_is_detected_from_its_vertices():
    from amm_opt.symmetry import detect_symmetry

    def order(allocation, goods=2):
        return detect_symmetry(Problem(goods=goods, values=Uniform(0, 1), belief=0.5,
                                       allocation=allocation)).order

    assert order(Polytope.unit_demand(3), 3) == 6            # S3, no reflection (x >= 0)
    assert order(Polytope.pure_swap(2)) == 2                 # (1,-1) <-> (-1,1); no single flip
    assert order(Polytope.budget([-1, -1], [1, 1], 0.5)) == 2
    assert order(Polytope.box([-1, -1], [1, 1])) == 8        # B2, as the plain box
    assert order(Polytope.from_vertices([[0, 0], [1, 0], [0.5, 0.8]])) == 1
    assert order(Polytope.budget([-1, -1], [1, 1], 0.5, weights=[1.0, 2.0])) == 1


@pytest.mark.parametrize("allocation, goods, grid", [(Polytope.unit_demand(3), 3, 6),
                                                     (Polytope.pure_swap(2), 2, 12)],
                         ids=["unit_demand3", "pure_swap"])
def test_folded_polytope_lp_equals_the_full_lp(allocation, goods, grid):
    # A symmetric LP has a symmetric optimum: folding changes the work, not the optimum.
    problem = Problem(goods=goods, values=Uniform(0, 1), belief=0.5, allocation=allocation)
    folded = solve(problem, backend="grid_lp", grid=grid, polish=False)
    full = solve(problem, backend="grid_lp", grid=grid, symmetry="none", polish=False)
    assert folded.stats["symmetry"]["folded"] and folded.certificate.group_order > 1
    assert folded.bounds.upper == pytest.approx(full.bounds.upper, rel=1e-9)
    folded.menu.check_fits(problem, atol=1e-12)
    assert folded.certificate.allocation_normals is not None
