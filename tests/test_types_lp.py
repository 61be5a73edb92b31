"""types_lp on Samples: the exact finite-type LP against brute force, an independent all-pairs
LP, evaluate, other engines' menus on the same data, and bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from amm_opt import Menu, Problem, Samples, evaluate, references, solve
from amm_opt.errors import (
    DistributionError,
    OptionError,
    ResourceLimitError,
    UnsupportedProblemError,
)
from amm_opt.validation import certify, crosscheck

# The LP's certified bound and its menu's exact profit on the samples agree to the LP's
# tolerance: cuts stop at violations of 1e-9 and HiGHS's simplex tolerances are ~1e-7 relative
# on the duals, so the 1e-6 relative gap is the test tolerance (typical gaps: 1e-11).
GAP_RTOL = 1e-6
# Two LP solvers (HiGHS simplex here, the test's own scipy LP) agree to their tolerances.
LP_ATOL = 1e-7


def _samples_problem(m: int, goods: int, seed: int = 0, **kwargs) -> Problem:
    values = np.random.default_rng(seed).uniform(size=(m, goods))
    return Problem(goods=goods, values=Samples(values), belief=0.5, **kwargs)


def _dense_lp_optimum(problem: Problem) -> float:
    """The finite-type LP with every pair, built here from scratch (scipy's HiGHS, dense)."""
    from scipy.optimize import linprog

    v = np.asarray(problem.distribution.values)
    types, counts = np.unique(v, axis=0, return_counts=True)
    w = counts / counts.sum()
    c = np.asarray(problem.belief)
    pts = np.vstack([types, c])
    weights = np.append(w, 0.0)
    n, count = problem.goods, len(pts)
    post = problem.posterior(pts)
    # variables: u (count), then g (count x n) row by row
    cost = np.concatenate([-weights, (weights[:, None] * (pts - post)).ravel()])
    rows = []
    for i in range(count):
        for j in range(count):
            if i == j:
                continue
            row = np.zeros(count * (n + 1))
            row[i] += 1.0
            row[j] -= 1.0
            row[count + i * n: count + (i + 1) * n] = pts[j] - pts[i]
            rows.append(row)
    bounds = [(0.0, 0.0) if i == count - 1 else (0.0, None) for i in range(count)]
    bounds += [(lo, hi) for _ in range(count)
               for lo, hi in zip(problem.allocation_low, problem.allocation_high, strict=True)]
    res = linprog(-cost, A_ub=np.array(rows), b_ub=np.zeros(len(rows)), bounds=bounds,
                  method="highs")
    assert res.status == 0
    return -float(res.fun)


def _brute_force(problem: Problem, allocations: np.ndarray) -> float:
    """Best profit over menus giving every type (and c) an allocation from ``allocations``:
    for fixed allocations the cheapest utilities satisfying IC, IR and u(c) = 0 are longest-path
    potentials from c (Bellman-Ford); an allocation profile with a positive cycle is not IC."""
    v = np.asarray(problem.distribution.values)
    types, counts = np.unique(v, axis=0, return_counts=True)
    w = counts / counts.sum()
    c = np.asarray(problem.belief)
    pts = np.vstack([types, c])
    count = len(pts)
    post = problem.posterior(pts)
    best = -math.inf
    for profile in itertools.product(range(len(allocations)), repeat=count):
        x = allocations[list(profile)]
        # edge i -> j: u_j >= u_i + x_i.(t_j - t_i)
        gain = np.einsum("id,ijd->ij", x, pts[None, :, :] - pts[:, None, :])
        u = np.zeros(count)
        for _ in range(count + 1):
            new = np.maximum(u, (u[:, None] + gain).max(axis=0))
            new[-1] = max(new[-1], 0.0)
            if np.allclose(new, u, atol=0.0, rtol=0.0):
                break
            u = new
        else:
            continue                                     # positive cycle: not IC
        if u[-1] > 1e-12:
            continue                                     # u(c) = 0 violated
        profit = float(np.sum(w * (np.einsum("id,id->i", x[:-1], types - post[:-1]) - u[:-1])))
        best = max(best, profit)
    return best


# ------------------------------------------------------------------------------ exactness
def test_one_good_tiny_types_equal_brute_force_over_bid_ask_menus():
    problem = Problem(goods=1, values=Samples([0.1, 0.35, 0.8, 0.8, 0.95]), belief=0.5)
    res = solve(problem, backend="types_lp")
    # Allocations {-1, 0, 1} with prices from the longest paths enumerate every bid-ask menu;
    # for one good the LP optimum is such a menu (a step allocation), so they must be equal.
    brute = _brute_force(problem, np.array([[-1.0], [0.0], [1.0]]))
    assert res.bounds.upper == pytest.approx(brute, abs=LP_ATOL)
    assert res.bounds.lower == pytest.approx(brute, abs=LP_ATOL)
    assert res.stats["types"] == 4 and res.stats["samples"] == 5     # duplicate merged


def test_two_goods_tiny_types_brute_force_and_independent_lp():
    problem = _samples_problem(3, 2, seed=3)
    res = solve(problem, backend="types_lp")
    grid = np.array(list(itertools.product([-1.0, 0.0, 1.0], repeat=2)))
    brute = _brute_force(problem, grid)                # a restricted menu class: <= optimum
    dense = _dense_lp_optimum(problem)                 # the same LP, built independently
    assert brute <= res.bounds.upper + 1e-12
    assert res.bounds.upper == pytest.approx(dense, abs=LP_ATOL)
    assert res.bounds.lower == pytest.approx(dense, abs=LP_ATOL)


@pytest.mark.parametrize("goods, m, lam", [(1, 60, 0.0), (2, 40, 0.3), (3, 25, 0.0)])
def test_cutting_planes_match_the_all_pairs_lp(goods, m, lam):
    problem = _samples_problem(m, goods, seed=goods, adverse_selection=lam)
    cuts = solve(problem, backend="types_lp")
    more = solve(problem, backend="types_lp", cuts_per_point=3)    # other rows, same optimum
    full = solve(problem, backend="types_lp", pairs="all")
    dense = _dense_lp_optimum(problem)
    for res in (cuts, more, full):
        assert res.bounds.upper == pytest.approx(dense, abs=LP_ATOL)
        assert res.bounds.relative_gap <= GAP_RTOL
    assert cuts.stats["pairs"] < full.stats["pairs"]


def test_the_dual_formulation_and_scipy_give_the_same_certified_optimum():
    pytest.importorskip("highspy")
    problem = _samples_problem(80, 2, seed=9, adverse_selection=0.2)
    primal = solve(problem, backend="types_lp")
    dual = solve(problem, backend="types_lp", formulation="dual")
    scipy_lp = solve(problem, backend="types_lp", interface="scipy")     # no warm start
    for other in (dual, scipy_lp):
        assert other.bounds.upper == pytest.approx(primal.bounds.upper, abs=LP_ATOL)
        assert other.bounds.relative_gap <= GAP_RTOL


@pytest.mark.parametrize("goods, m", [(2, 300), (3, 150)])
def test_menu_profit_is_its_evaluation_and_the_gap_is_tiny(goods, m):
    problem = _samples_problem(m, goods, seed=7)
    res = solve(problem, backend="types_lp")
    ev = evaluate(problem, res.menu)
    assert res.profit == pytest.approx(ev.profit, rel=1e-12)
    assert res.bounds.lower_stderr == 0.0 and "exact" in res.bounds.lower_method
    assert res.bounds.upper_kind == "certified" and res.bounds.upper_confidence is None
    assert 0.0 <= res.bounds.gap and res.bounds.relative_gap <= GAP_RTOL
    assert res.certificate is not None and res.certificate.bound == res.bounds.upper
    cert = certify(problem, res.menu, upper=res)
    assert cert.ok and cert.status == "certified"


def test_custom_update_rule_and_duplicates_as_weights():
    values = np.random.default_rng(1).uniform(size=(30, 2))
    twice = np.vstack([values, values, values[:10]])

    def update(v):
        return 0.5 + 0.2 * (v - 0.5) ** 2

    problem = Problem(goods=2, values=Samples(twice), belief=0.5, update=update)
    res = solve(problem, backend="types_lp")
    assert res.stats["types"] == 30 and res.stats["samples"] == 70
    assert res.bounds.upper == pytest.approx(_dense_lp_optimum(problem), abs=LP_ATOL)
    assert res.bounds.relative_gap <= GAP_RTOL


# ------------------------------------------------------------------------------ other engines
def test_every_other_menu_earns_at_most_the_lp_optimum_on_the_same_samples():
    problem_r2, r2_menu, _ = references.r2_two_goods(0.0)
    sampled = _samples_problem(400, 2, seed=11)
    res = solve(sampled, backend="types_lp")
    upper = res.bounds.upper
    slack = 1e-9 * (1 + abs(upper))
    separate = solve(Problem.paper_two_goods(), backend="separate").menu
    grid = solve(problem_r2, backend="grid_lp", grid=8, polish=False).menu
    for menu in (r2_menu, separate, grid):
        assert evaluate(sampled, menu).profit <= upper + slack
    # and the LP's menu is no worse than the density's optimal menu on these samples
    assert res.profit >= evaluate(sampled, r2_menu).profit - slack
    report = crosscheck(sampled, ["types_lp", "separate"])
    assert report.ok and report.best_upper[1] == "types_lp"


@pytest.mark.slow
def test_rochetnet_on_the_same_samples_stays_below_the_lp():
    pytest.importorskip("torch")
    sampled = _samples_problem(300, 2, seed=5)
    res = solve(sampled, backend="types_lp")
    report = crosscheck(sampled, ["types_lp", "rochetnet"],
                        options={"rochetnet": {"steps": 300}})
    assert report.ok
    net = next(r for r in report.runs if r.name == "rochetnet")
    assert net.lower <= res.bounds.upper + 1e-9


# ------------------------------------------------------------------------------ bad input
def test_bad_samples_get_clear_errors():
    with pytest.raises(DistributionError, match=r"Samples.values.*NaN"):
        Samples([[0.1, 0.2], [np.nan, 0.3]])
    with pytest.raises(DistributionError, match="3 columns but the problem has 2 goods"):
        Problem(goods=2, values=Samples(np.zeros((5, 3))), belief=0.0)
    one = Problem(goods=2, values=Samples([[0.5, 0.5]]), belief=0.5)
    with pytest.raises(UnsupportedProblemError, match=r"values.*at least 2 distinct"):
        solve(one, backend="types_lp")
    same = Problem(goods=1, values=Samples([0.5, 0.5, 0.5]), belief=0.5)
    with pytest.raises(UnsupportedProblemError, match="only 1 distinct"):
        solve(same, backend="types_lp")
    many = _samples_problem(300, 2)
    with pytest.raises(ResourceLimitError, match=r"max_types.*subsample"):
        solve(many, backend="types_lp", max_types=100)
    # The default limit depends on the goods and is checked before any work (the LP of this
    # many types would run for hours): refused at once, naming the option that raises it.
    from amm_opt.solvers.types_lp.types import exact_max_types

    huge = _samples_problem(exact_max_types(2) + 1, 2)
    with pytest.raises(ResourceLimitError,
                       match=rf"max_types = {exact_max_types(2)} \(the default.*max_types >="):
        solve(huge, backend="types_lp")
    with pytest.raises(UnsupportedProblemError, match="pairs='all' needs"):
        solve(many, backend="types_lp", pairs="all", max_all_pairs=1000)


def test_memory_guard_refuses_before_building(monkeypatch):
    monkeypatch.setenv("AMM_OPT_MEMORY_LIMIT", "64KiB")
    with pytest.raises(ResourceLimitError, match=r"first LP of .* types"):
        solve(_samples_problem(2000, 2), backend="types_lp")


def test_options_that_do_not_apply_are_refused():
    sampled = _samples_problem(50, 2)
    with pytest.raises(OptionError, match="draws"):
        solve(sampled, backend="types_lp", draws=100)
    with pytest.raises(OptionError, match="subsample"):
        solve(Problem.paper_two_goods(), backend="types_lp", subsample=100, draws=100)
    with pytest.raises(OptionError, match="confidence"):
        solve(sampled, backend="types_lp", confidence=1.0)
    with pytest.raises(OptionError, match="replications"):
        solve(sampled, backend="types_lp", replications=1)


def test_time_limit_keeps_a_valid_bound():
    problem = _samples_problem(600, 2, seed=2)
    exact = solve(problem, backend="types_lp")
    from amm_opt.errors import InaccurateSolutionWarning

    with pytest.warns(InaccurateSolutionWarning):
        limited = solve(problem, backend="types_lp", time_limit=1e-4)
    assert limited.status.value == "time_limit"
    assert limited.bounds.upper >= exact.bounds.upper * (1 - 1e-12)


def test_menu_is_a_feasible_menu_for_the_problem():
    problem = _samples_problem(120, 2, seed=4, allocation=(0.0, 1.0))
    res = solve(problem, backend="types_lp")
    assert isinstance(res.menu, Menu)
    res.menu.check_fits(problem)
    assert res.bounds.relative_gap <= GAP_RTOL
    assert res.bounds.upper == pytest.approx(_dense_lp_optimum(problem), abs=LP_ATOL)


def test_lifted_prices_make_each_types_own_item_a_best_choice():
    from amm_opt.solvers.types_lp.model import lift_prices

    points = np.array([[0.2], [0.8], [0.9]])
    alloc = np.array([[0.0], [1.0]])
    owner = np.array([0, 1, 1])
    price = np.array([0.0, 0.8 + 1e-8])       # type 0.8 prefers no trade by 1e-8
    lifted = lift_prices(points, alloc, price, owner)
    util = points @ alloc.T - lifted
    assert np.all(lifted <= price)
    assert np.all(util[np.arange(3), owner] >= util.max(axis=1) - 1e-15)
    assert lifted[1] == pytest.approx(0.8, abs=1e-15)


def test_menu_of_a_slightly_infeasible_solution_still_earns_the_lp_value():
    # The LP's rows hold to ~1e-8; a perturbation of that size must not let types switch to
    # items that cost the market maker more than the perturbation.
    from amm_opt.solvers.types_lp.model import TypesData, types_menu
    from amm_opt.solvers.types_lp.types import TypeSet

    problem = _samples_problem(300, 2, seed=12)
    res = solve(problem, backend="types_lp")
    types = TypeSet.from_values(np.asarray(problem.distribution.values), problem.belief)
    data = TypesData.build(problem, types)
    # rebuild an LP solution from the menu: each type's utility and chosen allocation
    chosen = res.menu.choose(data.points, problem)
    z = np.column_stack([res.menu.utility(data.points),
                         np.asarray(res.menu.allocations)[chosen]]).ravel()
    noisy = z.copy()
    noisy[0::3] += np.random.default_rng(0).uniform(0, 1e-8, size=data.size)
    value = float(data.cost @ z)
    profit = evaluate(problem, types_menu(problem, data, noisy)).profit
    assert profit >= value - 1e-6 * abs(value)
