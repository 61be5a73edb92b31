"""Symmetry groups (issue 17): detection, explicit groups, the action, and the grid LP folded
onto orbits against the full LP on the same grid."""

from __future__ import annotations

import importlib.util
from itertools import permutations, product

import numpy as np
import pytest

from amm_opt import Beta, Problem, TruncatedNormal, Uniform, solve
from amm_opt import references as ref
from amm_opt.errors import OptionError
from amm_opt.io import load_result, save_result
from amm_opt.solvers.grid_lp import GridLP
from amm_opt.symmetry import SymmetryGroup, check_symmetry, detect_symmetry, resolve_symmetry

pytestmark = pytest.mark.skipif(importlib.util.find_spec("highspy") is None,
                                reason="highspy is not installed")

# Two HiGHS optima of LPs with the same optimal value agree to the solver's tolerances
# (primal/dual feasibility 1e-7); the certified bounds add < 1e-11 of allowances on top.
SAME_LP_ATOL = 1e-6


def amm(n: int, lam: float = 0.0) -> Problem:
    return Problem(goods=n, values=Uniform(0, 1), belief=0.5, adverse_selection=lam)


def monopolist(n: int) -> Problem:
    return Problem(goods=n, values=Uniform(0, 1), belief=0.0, allocation=(0, 1))


# ------------------------------------------------------------------------------ detection
@pytest.mark.parametrize(("problem", "classes", "reflect", "order"), [
    (amm(3), [[0, 1, 2]], [True], 48),
    (monopolist(3), [[0, 1, 2]], [False], 6),
    (Problem(goods=2, values=Uniform(0, 1), belief=1 / 3), [[0, 1]], [False], 2),
    (Problem(goods=3, values=Uniform(0, 1), belief=[0.4, 0.5, 0.6]), [[0], [1], [2]],
     [False, True, False], 2),
    (Problem(goods=3, values=TruncatedNormal(0.5, 0.2), belief=[0.5, 0.5, 0.3]),
     [[0, 1], [2]], [True, False], 8),
    (Problem(goods=3, values=Uniform(0, 1), belief=0.5, allocation=[[-1, 1], [-1, 1], [0, 1]]),
     [[0, 1], [2]], [True, False], 8),
], ids=["amm-B3", "monopolist-S3", "swap", "one-reflection", "normal", "box"])
def test_detection(problem, classes, reflect, order):
    group = detect_symmetry(problem)
    assert [list(c) for c in group.classes] == classes
    assert list(group.reflect) == reflect
    assert group.order == order == len(list(group.elements()))


def test_beta_uniform_mix():
    from amm_opt import Product

    problem = Problem(goods=3, values=Product([Beta(2, 2), Uniform(0, 1), Uniform(0, 1)]),
                      belief=0.5)
    group = detect_symmetry(problem)
    assert [list(c) for c in group.classes] == [[0], [1, 2]]
    assert group.order == 2 * 8
    skewed = Problem(goods=2, values=Beta(2, 3), belief=0.5)
    assert detect_symmetry(skewed).reflect == (False,)          # Beta(2, 3) is not symmetric


def test_every_element_is_a_symmetry_of_the_density():
    """Brute force on the definition: f(T v) = f(v), T V = V and Q X = X for every element."""
    problem = Problem(goods=3, values=TruncatedNormal(0.5, 0.2), belief=[0.5, 0.5, 0.3])
    group = detect_symmetry(problem)
    c = problem.belief
    v = problem.sample(200, rng=1)
    corners = np.array(list(product(*zip(problem.allocation_low, problem.allocation_high,
                                         strict=True))))
    for perm, sign in group.elements():
        tv = c + group.apply(perm, sign, v - c)
        assert np.allclose(problem.distribution.pdf(tv), problem.distribution.pdf(v),
                           rtol=1e-12)
        qx = group.apply(perm, sign, corners)
        assert np.all(qx >= problem.allocation_low) and np.all(qx <= problem.allocation_high)


@pytest.mark.parametrize("spec, match", [
    ({"classes": [[0, 1]], "reflect": [False]}, "different marginals"),
    ({"classes": [[0], [1]], "reflect": [True, False]}, "not symmetric about c"),
    ({"classes": [[0]], "reflect": [False]}, "partition the goods"),
    ("mirror", "'auto'"),
])
def test_wrong_group_is_refused(spec, match):
    from amm_opt import Product

    problem = Problem(goods=2, values=Product([Uniform(0, 1), Beta(2, 2)]), belief=[0.3, 0.5])
    with pytest.raises(OptionError, match=match) as info:
        resolve_symmetry(problem, spec)
    assert "symmetry" in str(info.value)
    with pytest.raises(OptionError, match=match):
        solve(problem, backend="grid_lp", grid=4, symmetry=spec)


def test_wrong_box_is_refused():
    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=[[-1, 1], [0, 1]])
    with pytest.raises(OptionError, match="allocation interval"):
        check_symmetry(problem, SymmetryGroup(((0, 1),), (False,)))


# ------------------------------------------------------------------------------ the action
@pytest.mark.parametrize("group", [
    SymmetryGroup(((0, 1, 2),), (False,)),
    SymmetryGroup(((0, 2), (1,)), (True, False)),
    SymmetryGroup(((0, 1, 2, 3),), (True,)),
], ids=["S3", "B2xS1", "B4"])
def test_best_image_is_the_maximum_over_the_group(group):
    """Sorting (the rearrangement inequality) finds max_T g.(T w) over every element."""
    rng = np.random.default_rng(3)
    n = group.goods
    g = rng.normal(size=(40, n))
    g[:5, :2] = 0.0                                       # zeros and ties
    w = rng.normal(size=(40, n))
    w[5:10, 1:] = w[5:10, :1]
    w_hat = group.canonical(w)
    image, code = group.best_images(g, w_hat)
    brute = np.max([np.einsum("ij,ij->i", g, group.apply(p, s, w)) for p, s in group.elements()],
                   axis=0)
    assert np.allclose(np.einsum("ij,ij->i", g, image), brute, rtol=0, atol=1e-12)
    assert np.allclose(group.best_value(group.canonical(g), w_hat), brute, rtol=0, atol=1e-12)
    # The image is an orbit point of w (exactly: a signed rearrangement).
    assert np.array_equal(group.canonical(image), w_hat)
    assert code.min() >= 0 and code.max() < (2 * n) ** n


def test_canonical_index_matches_canonical_points():
    """Orbits from integer grid indices (exact) are the orbits of the points."""
    group = SymmetryGroup(((0, 1), (2,)), (True, False))
    axis = np.array([0.0, 0.125, 0.25, 0.5, 0.75, 0.875, 1.0])      # mirrored exactly about 1/2
    k = np.array(list(product(range(7), repeat=3)))
    by_index = np.unique(group.canonical_index(k, [6, 6, 6]), axis=0, return_inverse=True)[1]
    by_point = np.unique(group.canonical(axis[k] - 0.5), axis=0, return_inverse=True)[1]
    pairs = set(zip(by_index.ravel().tolist(), by_point.ravel().tolist(), strict=True))
    assert len(pairs) == len(set(by_index.ravel().tolist())) == len(set(by_point.ravel().tolist()))


def test_permutation_orbits_count_sorted_points():
    """Orbits of an (N+1)^n grid under S_n: C(N + n, n) sorted index vectors."""
    from math import comb

    group = SymmetryGroup(((0, 1, 2, 3),), (False,))
    k = np.array(list(product(range(5), repeat=4)))
    canon = group.canonical_index(k, [4] * 4)
    assert len(np.unique(canon, axis=0)) == comb(4 + 4, 4)
    assert len({tuple(sorted(r)) for r in k}) == comb(8, 4)
    assert all(tuple(r) == tuple(sorted(r)) for r in canon)
    assert sum(1 for _ in permutations(range(4))) == group.order


# ------------------------------------------------------------------------------ folded grid LP
@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_folded_equals_full_two_goods(lam):
    """R2 (group B2, order 8): the folded LP's optimum is the full LP's (all pairs, planes at
    every point), and the bracket holds the closed form."""
    problem, _, best = ref.r2_two_goods(lam)
    full = GridLP(grid=8, pairs="all", planes="all", polish=False, symmetry="none").solve(problem)
    folded = GridLP(grid=8, polish=False).solve(problem)
    folded_all = GridLP(grid=8, planes="all", polish=False).solve(problem)
    assert folded.stats["symmetry"]["folded"] and folded.stats["symmetry"]["order"] == 8
    assert folded.stats["lp_points"] < full.stats["lp_points"] / 4
    for res in (folded, folded_all):
        assert abs(res.bounds.upper - full.bounds.upper) < SAME_LP_ATOL
        assert res.bounds.lower <= best + 1e-14 <= res.bounds.upper + 1e-14
    assert full.bounds.upper >= best


@pytest.mark.parametrize("problem", [monopolist(3), amm(3), amm(3, 0.5),
                                     Problem(goods=3, values=Uniform(0, 1),
                                             belief=[0.4, 0.5, 0.6])],
                         ids=["monopolist-S3", "amm-B3", "amm-B3-lambda", "one-reflection"])
def test_folded_equals_full_three_goods(problem):
    grid = 5
    full = GridLP(grid=grid, polish=False, symmetry="none").solve(problem)
    folded = GridLP(grid=grid, polish=False).solve(problem)
    assert folded.stats["symmetry"]["folded"]
    assert abs(folded.bounds.upper - full.bounds.upper) < SAME_LP_ATOL
    assert folded.bounds.lower <= folded.bounds.upper
    # The folded menu is a menu of the problem (all images in X), evaluated exactly.
    folded.menu.check_fits(problem)
    assert folded.bounds.lower_method == "exact"
    cert = folded.certificate
    assert cert.group_order == detect_symmetry(problem).order and cert.symmetry
    assert cert.pair_transform is not None and len(cert.pair_transform) == len(cert.pair_source)
    assert 0 <= cert.orbit_allowance < 1e-10


def test_four_goods_folded_equals_full_and_uses_qmc():
    problem = monopolist(4)
    full = GridLP(grid=3, polish=False, symmetry="none").solve(problem)
    folded = GridLP(grid=3, polish=False).solve(problem)
    assert folded.stats["symmetry"]["order"] == 24
    assert abs(folded.bounds.upper - full.bounds.upper) < SAME_LP_ATOL
    assert folded.bounds.lower_method == "qmc" and folded.bounds.lower_stderr > 0
    assert folded.bounds.lower <= folded.bounds.upper
    # Selling the goods separately (price 1/2 each, 1/4 per good) is feasible.
    assert 4 * 0.25 <= folded.bounds.upper


def test_no_symmetry_is_solved_as_before():
    problem = Problem(goods=2, values=Uniform(0, 1), belief=[0.4, 0.3], adverse_selection=0.25,
                      allocation=[[-0.5, 1.0], [0.0, 1.0]])
    auto = GridLP(grid=6).solve(problem)
    none = GridLP(grid=6, symmetry="none").solve(problem)
    assert not auto.stats["symmetry"]["folded"]
    assert auto.bounds.upper == none.bounds.upper and auto.bounds.lower == none.bounds.lower
    assert np.array_equal(auto.menu.allocations, none.menu.allocations)
    assert auto.certificate.group_order == 1 and auto.certificate.pair_transform is None


def test_refinement_and_uneven_grids_fall_back():
    problem, _, _ = ref.r2_two_goods(0.0)
    refined = GridLP(grid=4, max_refinements=1, polish=False).solve(problem)
    assert not refined.stats["symmetry"]["folded"]
    assert "refinement" in refined.stats["symmetry"]["why_not_folded"]
    with pytest.raises(OptionError, match="refinement"):
        GridLP(grid=4, max_refinements=1, symmetry={"classes": [[0, 1]], "reflect": [True]}
               ).solve(problem)
    # Breakpoints that do not mirror about c keep the swap only ("auto" uses what the grid keeps).
    breaks = np.array([0.0, 0.2, 0.45, 0.7, 1.0])
    uneven = GridLP(grid=[breaks, breaks], polish=False).solve(problem)
    assert uneven.stats["symmetry"]["order"] == 2
    full = GridLP(grid=[breaks, breaks], polish=False, symmetry="none").solve(problem)
    assert abs(uneven.bounds.upper - full.bounds.upper) < SAME_LP_ATOL
    with pytest.raises(OptionError, match="mirrored"):
        GridLP(grid=[breaks, breaks], symmetry={"classes": [[0, 1]], "reflect": [True]}
               ).solve(problem)


def test_explicit_subgroup_gives_the_same_optimum():
    problem = amm(3)
    sub = GridLP(grid=4, polish=False, symmetry={"classes": [[0, 1, 2]], "reflect": [False]}
                 ).solve(problem)
    big = GridLP(grid=4, polish=False).solve(problem)
    assert sub.stats["symmetry"]["order"] == 6 and big.stats["symmetry"]["order"] == 48
    assert abs(sub.bounds.upper - big.bounds.upper) < SAME_LP_ATOL
    assert big.stats["lp_points"] < sub.stats["lp_points"]


def test_one_good_reflection_brackets_r1():
    problem, _, best = ref.r1_bid_ask(0.0, 1.0, 0.5, 0.0)
    res = GridLP(grid=16).solve(problem)
    assert res.stats["symmetry"]["order"] == 2
    assert res.bounds.lower <= best + 1e-14 <= res.bounds.upper + 1e-14


def test_folded_certificate_round_trips(tmp_path):
    problem = amm(2)
    res = GridLP(grid=6, polish=False).solve(problem)
    path = tmp_path / "r.json"
    save_result(res, path)
    back = load_result(path).certificate
    assert back.symmetry == res.certificate.symmetry and back.group_order == 8
    assert np.array_equal(back.pair_transform, res.certificate.pair_transform)
    assert back.orbit_allowance == res.certificate.orbit_allowance


def test_element_codes_match_best_images():
    """Row codes of start rows across the chamber's walls use the numbering of best_images."""
    group = SymmetryGroup(((0, 1, 2), (3,)), (True, False))
    w_hat = group.canonical(np.array([[0.1, -0.5, 0.3, 0.7]]))
    for perm, sign in [*group.generators(), *list(group.elements())[::7]]:
        target = group.apply(perm, sign, w_hat)
        image, code = group.best_images(target, w_hat)
        assert np.array_equal(image, target)
        assert int(code[0]) == group.element_code(perm, sign)


def test_docstring_examples_run():
    import doctest

    import amm_opt.symmetry

    assert doctest.testmod(amm_opt.symmetry).failed == 0


def test_cold_rounds_after_stalled_warm_starts():
    """lp_round(warm=False) forgets the basis before solving (the folded LP's rounds after two
    abandoned warm starts)."""
    from amm_opt.result import Status
    from amm_opt.solvers.grid_lp.interfaces import LPSolution
    from amm_opt.solvers.grid_lp.stages import lp_round

    class Fake:
        def __init__(self):
            self.calls = []

        def reset(self):
            self.calls.append("reset")

        def solve(self, limit):
            self.calls.append("solve")
            return LPSolution(Status.OPTIMAL, "Optimal", None, None, 0.1)

    lp = Fake()
    sol = lp_round(lp, 3, 100.0, 1.0, warm=False)
    assert lp.calls == ["reset", "solve"] and sol.info["cold_start"]
    lp = Fake()
    lp_round(lp, 3, 100.0, 1.0)
    assert lp.calls == ["solve"]                      # warm: no reset when it is quick


def test_rows_per_point_change_the_rounds_not_the_optimum():
    """cuts_per_point only changes which violated rows enter each round: the cutting planes end
    at the optimum of the LP over all rows either way (both stop with no violated row)."""
    problem = monopolist(3)
    one = GridLP(grid=6, polish=False, cuts_per_point=1).solve(problem)
    four = GridLP(grid=6, polish=False).solve(problem)             # folded default: 4
    assert abs(one.bounds.upper - four.bounds.upper) < SAME_LP_ATOL
    rounds = [len(r.stats["stages"][0]["rounds"]) for r in (one, four)]
    assert rounds[1] <= rounds[0]
