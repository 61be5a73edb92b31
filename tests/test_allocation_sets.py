"""Allocation sets beyond boxes (polytopes) and beliefs outside the value box (issue 14, MATH §9).

References:

* a box given as a polytope is the same problem: evaluate's exact profits agree to round-off and
  RochetNet reaches the R1/R2 closed forms as on the box;
* unit demand in one good is the box [0, 1]: the R1 ask side,
  :math:`(1-\\lambda)^2 (H-c)^2 / (2(2-\\lambda)(H-L))`;
* a pure swap :math:`x = t(e_1 - e_2)`, :math:`t \\in [-1, 1]`: the trader's utility
  :math:`t(v_1 - v_2) - p` and the profit :math:`p - t(c'_1 - c'_2)` with
  :math:`c'_1 - c'_2 = \\kappa(c_1 - c_2) + \\lambda(v_1 - v_2)` make it the one-good problem in
  :math:`w = v_1 - v_2` with belief :math:`c_1 - c_2` and trades :math:`t \\in [-1, 1]`. For
  i.i.d. U[0,1] values, :math:`w` is triangular on [-1, 1] (:math:`1 - F(a) = (1-a)^2/2` for
  :math:`a \\ge 0`); at :math:`c = (1/2, 1/2)`, :math:`\\lambda = 0` the ask maximises
  :math:`a (1-a)^2 / 2` at :math:`a = 1/3` (profit 2/27), the bid is symmetric: 4/27 in all;
* the selling-only monopolist with values U[0.5, 1.5]^2 and cost 0 sells each good at Myerson's
  price :math:`\\max(0.5, 1.5/2) = 0.75`, 0.5625 a good.
"""

from __future__ import annotations

import numpy as np
import pytest

from amm_opt import Menu, Polytope, Problem, Product, Uniform, evaluate, references, solve
from amm_opt.errors import (
    AmmOptError,
    MenuError,
    OptionError,
    ProblemError,
    UnsupportedProblemError,
)
from amm_opt.io import load_problem, save_problem
from amm_opt.solvers import get_solver_class

SWAP_OPTIMUM = 4.0 / 27.0
FAST = {"menu_size": 16, "batch_size": 1024, "steps": 300, "eval_every": 50,
        "validation_size": 4096, "device": "cpu", "progress": False, "threads": 1}


def rochetnet(problem, **changes):
    pytest.importorskip("torch", reason="RochetNet needs torch")
    return solve(problem, backend="rochetnet", **{**FAST, **changes})


def swap_problem():
    return Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=Polytope.pure_swap(2))


# ------------------------------------------------------------------ the polytope itself
def test_named_sets_have_the_right_vertices_and_support():
    unit = Polytope.unit_demand(3)
    assert unit.vertices.tolist() == [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert unit.dimension == 3
    swap = Polytope.pure_swap(2)
    assert sorted(swap.vertices.tolist()) == [[-1, 1], [1, -1]] and swap.dimension == 1
    budget = Polytope.budget([-1, -1], [1, 1], 1.0)
    assert sorted(budget.vertices.tolist()) == sorted([[1, -1], [1, 0], [0, 1], [-1, 1],
                                                       [-1, -1]])
    rng = np.random.default_rng(0)
    w = rng.normal(size=(200, 2))
    for X in (swap, budget, Polytope.box([-1, 0], [1, 2])):
        # brute force: the maximum of w.x over many points of X (convex combinations)
        lam = rng.dirichlet(np.ones(len(X.vertices)), size=4000)
        pts = np.vstack([lam @ X.vertices, X.vertices])
        assert X.contains(pts).all()
        assert np.allclose(X.support(w), (w @ pts.T).max(axis=1), atol=1e-12)
    assert np.allclose(unit.support(np.array([[0.3, -1, 0.7], [-1, -1, -1]])), [0.7, 0.0])
    assert not swap.contains([[0.5, 0.5]])[0] and not budget.contains([[0.8, 0.8]])[0]


def test_inequalities_with_equalities_give_the_swap_and_3_goods_work():
    swap = Polytope.from_inequalities(np.vstack([np.eye(2), -np.eye(2)]), np.ones(4),
                                      equalities=([[1.0, 1.0]], [0.0]))
    assert sorted(swap.vertices.tolist()) == [[-1, 1], [1, -1]] and swap.dimension == 1
    budget3 = Polytope.budget([0, 0, 0], [1, 1, 1], 1.5)
    # the cube [0,1]^3 cut by x1 + x2 + x3 <= 1.5: 4 corners below, 6 points on the cut
    assert len(budget3.vertices) == 10 and budget3.contains([[0.5, 0.5, 0.5]])[0]
    assert not budget3.contains([[1.0, 1.0, 0.0]])[0]
    assert float(budget3.support([1.0, 1.0, 1.0])) == pytest.approx(1.5, abs=1e-12)


def test_box_as_polytope_gives_the_box_support_function():
    box = Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=(-1, 1))
    poly = Problem(goods=2, values=Uniform(0, 1), belief=0.5,
                   allocation=Polytope.box([-1, -1], [1, 1]))
    z = np.random.default_rng(1).normal(size=(50, 2))
    assert np.allclose(box.support_function(z), poly.support_function(z), atol=1e-14)
    assert poly.allocation_low.tolist() == [-1, -1] and not poly.allocation_is_box


@pytest.mark.parametrize("make, field", [
    (lambda: Polytope.from_inequalities([[1, 0], [0, 1]], [1, 1]), "allocation A"),  # unbounded
    (lambda: Polytope.from_inequalities([[1, 0], [-1, 0], [0, 1], [0, -1]], [-1, 2, 1, 1]),
     "allocation vertices"),                                        # bounded, misses 0
    (lambda: Polytope.from_inequalities([[1, 0], [-1, 0], [0, 1], [0, -1]], [-1, -1, 1, 1]),
     "allocation A"),                                               # empty
    (lambda: Polytope([[1.0, 1.0], [2.0, 0.5]]), "allocation vertices"),   # misses 0
    (lambda: Polytope([[0.0, np.nan], [1.0, 0.0]]), "allocation vertices"),
    (lambda: Polytope([[0.0, 0.0]]), "allocation vertices"),        # no trade at all
    (lambda: Polytope([]), "allocation vertices"),
    (lambda: Polytope([["a", "b"]]), "allocation vertices"),
    (lambda: Polytope.pure_swap(2, give=0, get=0), "give"),
    (lambda: Polytope.unit_demand(0), "goods"),
    (lambda: Polytope.unit_demand(2, units=-1), "units"),
    (lambda: Problem(goods=3, values=Uniform(), belief=0.5, allocation=Polytope.unit_demand(2)),
     "allocation"),
    (lambda: Problem(goods=2, values=Uniform(), belief=0.5, allocation={"type": "star"}),
     "allocation type"),
])
def test_bad_sets_get_clear_errors(make, field):
    with pytest.raises(ProblemError) as info:
        make()
    assert info.value.field == field and info.value.allowed


# ------------------------------------------------------------------ evaluate and menus
def test_evaluate_on_a_box_polytope_is_the_box_evaluation():
    ref = references.r2_two_goods(0.0)
    poly = Problem(goods=2, values=Uniform(0, 1), belief=0.5,
                   allocation=Polytope.box([-1, -1], [1, 1]))
    ev_box, ev_poly = evaluate(ref.problem, ref.menu), evaluate(poly, ref.menu)
    # both exact polygon integrals of the same menu: equal up to round-off
    assert ev_poly.method == ev_box.method == "exact"
    assert abs(ev_poly.profit - references.r2_profit(0.0)) < 1e-12
    assert abs(ev_poly.profit - ev_box.profit) < 1e-14


def test_evaluate_pure_swap_closed_form_and_menus_must_lie_in_x():
    problem = swap_problem()
    ev = evaluate(problem, Menu([[1, -1], [-1, 1]], [1 / 3, 1 / 3]))
    assert ev.method == "exact" and abs(ev.profit - SWAP_OPTIMUM) < 1e-12
    with pytest.raises(MenuError, match="outside the allocation set"):
        evaluate(problem, Menu([[1, 0]], [0.5]))                     # in the box, not in X
    with pytest.raises(MenuError, match="outside the allocation set"):
        evaluate(Problem(goods=2, values=Uniform(), belief=0.5,
                         allocation=Polytope.unit_demand(2)), Menu([[0.6, 0.6]], [0.5]))


def test_swap_one_good_reduction_by_brute_force():
    # the one-good problem in w = v1 - v2 (triangular density 1 - |w|) at posted ask a and bid
    # -a: profit 2 * a (1 - a)^2 / 2, maximised over a grid at a = 1/3 -> 4/27
    a = np.linspace(0, 1, 30001)
    profit = 2 * a * (1 - a) ** 2 / 2
    assert abs(profit.max() - SWAP_OPTIMUM) < 1e-8 and abs(a[profit.argmax()] - 1 / 3) < 1e-4
    # Monte Carlo of the two-good problem with that menu agrees (4 sigma)
    v = np.random.default_rng(2).random((400_000, 2))
    w = v[:, 0] - v[:, 1]
    gain = np.where(w > 1 / 3, 1 / 3, 0.0) + np.where(w < -1 / 3, 1 / 3, 0.0)
    assert abs(gain.mean() - SWAP_OPTIMUM) < 4 * gain.std() / np.sqrt(len(gain))


# ------------------------------------------------------------------ RochetNet
def test_rochetnet_box_polytope_reproduces_r1():
    best = references.r1_profit()
    problem = Problem(goods=1, values=Uniform(0, 1), belief=0.5,
                      allocation=Polytope.box([-1], [1]))
    res = rochetnet(problem, menu_size=8, steps=800, batch_size=2048)
    # the R1 tolerance of test_rochetnet.test_r1_bid_ask (0.3%: a flat optimum, 800 steps)
    assert best * (1 - 3e-3) <= res.profit <= best + 1e-12
    assert problem.allocation_contains(res.menu.allocations, 1e-12).all()


def test_rochetnet_box_polytope_reproduces_r2():
    best = references.r2_profit(0.0)
    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5,
                      allocation=Polytope.box([-1, -1], [1, 1]))
    res = rochetnet(problem, menu_size=32, steps=1000, batch_size=2048)
    # the R2 tolerance of test_rochetnet.test_r2_two_goods_beats_separate (1%, 1000 steps),
    # and above selling separately (0.25) by most of the bundling gain
    assert best * (1 - 1e-2) <= res.profit <= best + 1e-12
    assert res.profit > references.r2_separate_profit(0.0) + 0.02
    assert problem.allocation_contains(res.menu.allocations, 1e-12).all()


@pytest.mark.parametrize("belief", [0.0, 0.5])
def test_unit_demand_one_good_is_r1_ask_side(belief):
    problem = Problem(goods=1, values=Uniform(0, 1), belief=belief,
                      allocation=Polytope.unit_demand(1))
    best = (1 - belief) ** 2 / 4           # R1's ask side: (H-c)^2 / (2 (2 - 0) (H - L))
    res = rochetnet(problem, menu_size=8, steps=600, batch_size=2048)
    assert best * (1 - 3e-3) <= res.profit <= best + 1e-12
    assert (res.menu.allocations >= -1e-12).all() and (res.menu.allocations <= 1 + 1e-12).all()


def test_rochetnet_pure_swap_reaches_the_one_good_optimum():
    problem = swap_problem()
    res = rochetnet(problem, menu_size=8, steps=800, batch_size=2048)
    # exact evaluation of a menu in X, so never above the optimum; a flat optimum (profit loss
    # quadratic in the price error) reached within 1% in 800 steps
    assert SWAP_OPTIMUM * (1 - 1e-2) <= res.profit <= SWAP_OPTIMUM + 1e-12
    assert problem.allocation_contains(res.menu.allocations, 1e-12).all()


@pytest.mark.parametrize("allocation", [Polytope.unit_demand(2), Polytope.pure_swap(2),
                                        Polytope.budget([-1, -1], [1, 1], 1.0),
                                        Polytope.unit_demand(3),
                                        Polytope.pure_swap(3, give=2, get=0)],
                         ids=["unit_demand", "pure_swap", "budget", "unit_demand3", "swap3"])
def test_every_rochetnet_menu_lies_in_x(allocation):
    problem = Problem(goods=allocation.goods, values=Uniform(0, 1), belief=0.5,
                      allocation=allocation)
    res = rochetnet(problem, steps=200)
    x = np.asarray(res.menu.allocations)
    assert allocation.contains(x, 1e-12).all()
    res.menu.check_fits(problem, atol=1e-12)
    assert res.profit > 0.0


# ------------------------------------------------------------------ beliefs outside V
def test_selling_only_monopolist_with_values_away_from_zero():
    problem = Problem(goods=2, values=Uniform(0.5, 1.5), belief=0.0, allocation=(0, 1))
    assert not problem.belief_inside_values
    sep = solve(problem, backend="separate")
    assert sep.stats["asks"] == pytest.approx([0.75, 0.75], abs=1e-9)
    assert sep.profit == pytest.approx(2 * 0.5625, abs=1e-12)      # Myerson: 0.75 * 0.75 each
    ev = evaluate(problem, Menu([[1, 0], [0, 1], [1, 1]], [0.75, 0.75, 1.5]))
    assert ev.profit == pytest.approx(1.125, abs=1e-12)
    res = rochetnet(problem, menu_size=16, steps=600, batch_size=2048)
    # Pure bundling at price q earns q P(v1 + v2 >= q) = q (1 - (q - 1)^2 / 2) on [1, 2]
    # (brute force over q: 1.315565 at q = 1.5486), more than selling separately; Pavlov (2011)
    # finds pure bundling optimal for U[a, a+1]^2 with a this large. A 600-step run must reach
    # it within 1%; the full surplus E[v1 + v2] = 2 bounds every menu.
    q = np.linspace(1, 2, 100_001)
    bundle = float((q * (1 - (q - 1) ** 2 / 2)).max())
    assert bundle > sep.profit + 0.19
    assert 0.99 * bundle <= res.profit <= 2.0
    # u(c) = 0 at the belief outside V (MATH §9): the cost-0 type gains nothing (prices >= 0)
    assert res.menu.utility(np.asarray(problem.belief)[None, :])[0] <= 1e-12


def test_capability_refusal_lets_a_rule_skip_an_engine():
    swap = swap_problem()
    assert get_solver_class("rochetnet").capability_refusal(swap) is None
    assert get_solver_class("grid_lp").capability_refusal(swap) is None
    refusal = get_solver_class("separate").capability_refusal(swap)
    assert isinstance(refusal, UnsupportedProblemError) and refusal.field == "backend 'separate'"
    outside = Problem(goods=1, values=Uniform(0.5, 1.5), belief=0.0, allocation=(0, 1))
    assert get_solver_class("separate").capability_refusal(outside) is None
    assert get_solver_class("grid_lp").capability_refusal(outside) is None
    assert get_solver_class("ot_dual").capability_refusal(outside) is None


def test_separate_corner_price_with_belief_below_values():
    problem = Problem(goods=2, values=Product([Uniform(4, 16), Uniform(4, 7)]), belief=0,
                      allocation=(0, 1))
    res = solve(problem, backend="separate")
    # Myerson: a (16 - a)/12 peaks at 8 inside [4, 16]; a (7 - a)/3 peaks at 3.5 < 4: price 4
    assert res.stats["asks"] == pytest.approx([8.0, 4.0], abs=1e-9)
    assert res.profit == pytest.approx(8 * 8 / 12 + 4.0, abs=1e-9)


def test_separate_with_belief_above_values_only_buys():
    problem = Problem(goods=1, values=Uniform(0, 1), belief=2.0)
    res = solve(problem, backend="separate")
    # c = 2 > every value: only the bid trades; (2 - b) b maximised on [0, 1] at b = 1: profit 1
    assert res.stats["asks"] == [None] and res.stats["bids"][0] == pytest.approx(1.0, abs=1e-9)
    assert res.profit == pytest.approx(1.0, abs=1e-9)


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize("backend", ["separate"])
def test_engines_without_support_refuse_polytopes_clearly(backend):
    cls = get_solver_class(backend)
    if not cls.is_available():
        pytest.skip(f"{backend} is not installed")
    with pytest.raises(UnsupportedProblemError, match="polytope") as info:
        solve(swap_problem(), backend=backend)
    assert info.value.allowed and "rochetnet" in info.value.allowed


def test_polishing_a_polytope_menu_reprices_it_inside_x():
    from amm_opt.polishing import polish, polish_refusal

    problem = swap_problem()
    assert polish_refusal(problem) is None
    start = Menu([[1, -1], [-1, 1], [0.999999, -0.999999]], [0.30, 0.37, 0.30])
    out = polish(problem, start)
    # prices only: the swaps' optimum is 1/3 each (4/27); the near-duplicate item merges
    assert out.improved and out.profit == pytest.approx(SWAP_OPTIMUM, abs=1e-7)
    assert out.details["free_allocation_coordinates"] == 0
    assert problem.allocation_contains(out.menu.allocations, 1e-12).all()
    assert sorted(np.round(out.menu.prices, 4).tolist()) == [0.0, 0.3333, 0.3333]


# ------------------------------------------------------------------ files
def test_problem_files_round_trip_a_polytope(tmp_path):
    problem = Problem(goods=2, values=Uniform(0, 1), belief=[0.5, 0.25],
                      allocation=Polytope.budget([-1, -1], [1, 1], 1.0))
    path = tmp_path / "p.json"
    save_problem(problem, path)
    back = load_problem(path)
    assert np.array_equal(back.allocation.vertices, problem.allocation.vertices)
    assert back.allocation.name == "budget" and back.belief.tolist() == [0.5, 0.25]


def test_toml_problem_with_inequalities(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('goods = 2\nbelief = 0.5\n[allocation]\ntype = "inequalities"\n'
                    'A = [[-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]]\nb = [0.0, 0.0, 1.0]\n')
    problem = load_problem(path)
    assert sorted(problem.allocation.vertices.tolist()) == [[0, 0], [0, 1], [1, 0]]


def test_hand_written_named_set_in_a_problem_file(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('goods = 2\nbelief = 0.5\n[allocation]\ntype = "pure_swap"\n'
                    'give = 1\nget = 0\n')
    problem = load_problem(path)
    assert sorted(problem.allocation.vertices.tolist()) == [[-1, 1], [1, -1]]


def test_region_plot_of_the_pure_swap_menu(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from amm_opt.plot.regions import plot_regions

    fig = plot_regions(swap_problem(), Menu([[1, -1], [-1, 1]], [1 / 3, 1 / 3]))
    # colours come from the bounding box of X; three regions (two swaps and no trade)
    assert [len(ax.patches) for ax in fig.axes] == [3]
    fig.savefig(tmp_path / "swap.png")
    assert (tmp_path / "swap.png").stat().st_size > 0
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_amm_with_belief_above_values(lam):
    # V = [0, 1], c = 1.5 > every value: selling at any ask loses (posterior >= ask), so only the
    # bid trades: profit kc b + lam b^2/2 - b^2 for U[0,1], maximised at b = kc / (2 - lam)
    # (0.75 at lam = 0, 0.5 at lam = 1/2), profit (kc)^2 / (2 (2 - lam))
    problem = Problem(goods=1, values=Uniform(0, 1), belief=1.5, adverse_selection=lam)
    kc = (1 - lam) * 1.5
    best = kc ** 2 / (2 * (2 - lam))
    sep = solve(problem, backend="separate")
    assert sep.stats["bids"][0] == pytest.approx(kc / (2 - lam), abs=1e-9)
    assert sep.profit == pytest.approx(best, abs=1e-9)
    res = rochetnet(problem, menu_size=8, steps=600, batch_size=2048)
    assert best * (1 - 3e-3) <= res.profit <= best + 1e-12


def test_rochetnet_checkpoint_resume_on_a_polytope(tmp_path):
    torch = pytest.importorskip("torch", reason="RochetNet needs torch")
    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5,
                      allocation=Polytope.budget([-1, -1], [1, 1], 1.0))
    opts = {**FAST, "steps": 160, "eval_every": 40, "checkpoint_every": 80}
    whole = solve(problem, backend="rochetnet", **opts)

    class Stop(Exception):
        pass

    def crash(step, info):
        if step == 120:                # after the step-80 checkpoint
            raise Stop

    path = tmp_path / "c.pt"
    with pytest.raises(Stop):
        solve(problem, backend="rochetnet", checkpoint_path=path, callback=crash, **opts)
    saved = torch.load(path, weights_only=True)
    assert saved["step"] == 80 and tuple(saved["theta"].shape) == (16, 5)   # one logit a vertex
    resumed = solve(problem, backend="rochetnet", checkpoint_path=path, resume=True, **opts)
    assert resumed.stats["resumed_from_step"] == 80
    assert np.array_equal(resumed.menu.allocations, whole.menu.allocations)
    # another allocation set is another trajectory: the checkpoint is refused
    other = Problem(goods=2, values=Uniform(0, 1), belief=0.5, allocation=Polytope.unit_demand(2))
    with pytest.raises(OptionError, match="different problem"):
        solve(other, backend="rochetnet", checkpoint_path=path, resume=True, **opts)


def test_problem_file_naming_a_vertices_file(tmp_path):
    np.savetxt(tmp_path / "v.csv", [[0, 0], [1, 0], [0, 1]], delimiter=",")
    (tmp_path / "p.toml").write_text('goods = 2\nbelief = 0.0\n[allocation]\n'
                                     'type = "polytope"\nfile = "v.csv"\n')
    problem = load_problem(tmp_path / "p.toml")
    assert problem.allocation.vertices.tolist() == [[0, 0], [1, 0], [0, 1]]
    (tmp_path / "q.toml").write_text('goods = 2\nbelief = 0.0\n[allocation]\n'
                                     'type = "polytope"\nfile = "missing.csv"\n')
    with pytest.raises(AmmOptError, match=r"allocation\.file"):
        load_problem(tmp_path / "q.toml")
