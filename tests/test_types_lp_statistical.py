"""types_lp's statistical upper bounds: the t bound, its labels in Bounds, certify and
crosscheck, subsampled samples, and the automatic rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from amm_opt import Bounds, Problem, Result, Samples, Status, Uniform, evaluate, references, solve
from amm_opt.errors import OptionError
from amm_opt.io import load_result, save_result
from amm_opt.solvers import choose_backend, choose_upper_backend
from amm_opt.statistical import (
    STATISTICAL_PREFIX,
    one_sided_upper,
    parse_statistical,
    statistical_method,
)
from amm_opt.validation import certify, crosscheck


def test_one_sided_t_bound_matches_its_formula():
    y = np.array([0.31, 0.29, 0.3, 0.33, 0.28])
    b = one_sided_upper(y, 0.9)
    expected = y.mean() + stats.t.ppf(0.9, 4) * y.std(ddof=1) / np.sqrt(5)
    assert b.bound == pytest.approx(expected, rel=1e-14) and b.replications == 5
    assert b.half_width == pytest.approx(b.bound - b.mean, rel=1e-14)
    with pytest.raises(OptionError, match="replications"):
        one_sided_upper([1.0])
    with pytest.raises(OptionError, match="confidence"):
        one_sided_upper([1.0, 2.0], 1.5)
    with pytest.raises(OptionError, match="NaN"):
        one_sided_upper([1.0, np.nan])


def test_the_label_is_written_and_read_back():
    text = statistical_method(0.95, "detail")
    assert text.startswith(STATISTICAL_PREFIX) and parse_statistical(text) == 0.95
    assert parse_statistical("types_lp: " + statistical_method(0.99, "x")) == 0.99
    assert parse_statistical("grid LP dual bound") is None
    stat = Bounds(lower=0.1, upper=0.2, upper_method=text)
    assert (stat.upper_kind, stat.upper_confidence, stat.certified_upper) == \
        ("statistical", 0.95, None)
    assert "statistical" in stat.describe() and stat.to_dict()["upper_kind"] == "statistical"
    plain = Bounds(lower=0.1, upper=0.2, upper_method="grid LP dual")
    assert (plain.upper_kind, plain.certified_upper) == ("certified", 0.2)
    assert Bounds(lower=0.1).upper_kind is None


def test_statistical_bound_on_r1_is_labelled_and_above_the_optimum(tmp_path):
    problem, _, best = references.r1_bid_ask()
    res = solve(problem, backend="types_lp", draws=200, replications=8, seed=1)
    b = res.bounds
    assert b.upper_kind == "statistical" and b.upper_confidence == 0.95
    assert res.certificate is None
    # E[OPT_m] >= OPT (docs/math/types_lp.md) and the bias at m = 200 is ~3% of the optimum
    # (BENCHMARKS.md, "Finite types"), well above the noise: the bound is above the optimum.
    assert b.upper >= best
    # its menu is feasible for the density: the exact evaluation is a true lower bound
    assert b.lower_method == "exact" and b.lower <= best + 1e-12
    assert evaluate(problem, res.menu).profit == pytest.approx(b.lower, rel=1e-12)
    draws = res.stats["statistical_bound"]
    assert draws["replications"] == 8 and len(draws["values"]) == 8
    assert all(v >= 0 for v in draws["values"])
    cert = certify(problem, res.menu, upper=res)
    assert cert.status == "statistical" and cert.ok
    assert cert.verdict.startswith("STATISTICAL (not certified)")
    path = tmp_path / "stat.json"
    save_result(res, path, problem)
    again = load_result(path)
    assert again.bounds.upper_kind == "statistical" and again.bounds.upper_confidence == 0.95


def test_a_statistical_miss_is_not_a_violation():
    problem, menu, best = references.r1_bid_ask()
    low = Result(menu=None, profit=None,
                 bounds=Bounds(upper=0.9 * best,
                               upper_method=statistical_method(0.95, "made low on purpose")),
                 status=Status.OPTIMAL, backend="fake")
    report = crosscheck(problem, {"separate": "separate", "fake": lambda p: low}, reference=best)
    assert report.ok and report.statistical_misses and not report.violations
    assert report.best_upper is None                 # no certified engine ran
    assert report.best_statistical_upper == (0.9 * best, "fake")
    assert "STATISTICAL MISS" in report.table()
    cert = certify(problem, menu, upper=low)
    assert cert.status == "statistical-miss" and not cert.ok
    assert cert.verdict.startswith("STATISTICAL BOUND MISSED")
    # the same number labelled certified is a violation
    certified = Result(menu=None, profit=None,
                       bounds=Bounds(upper=0.9 * best, upper_method="certified on purpose"),
                       status=Status.OPTIMAL, backend="fake")
    report = crosscheck(problem, {"separate": "separate", "fake": lambda p: certified},
                        reference=best, raise_on_error=False)
    assert report.violations and not report.statistical_misses


def test_subsampled_samples_give_a_statistical_bound_on_the_empirical_optimum():
    values = np.random.default_rng(3).uniform(size=(3000, 1))
    problem = Problem(goods=1, values=Samples(values), belief=0.5)
    exact = solve(problem, backend="types_lp")
    assert exact.bounds.upper_kind == "certified" and exact.bounds.relative_gap <= 1e-6
    sub = solve(problem, backend="types_lp", subsample=300, replications=6)
    assert sub.bounds.upper_kind == "statistical"
    assert "full samples" in sub.bounds.upper_method
    # the first draw's menu evaluated on all 3000 samples: at most the exact optimum
    assert sub.bounds.lower <= exact.bounds.upper + 1e-12
    assert sub.bounds.upper >= exact.bounds.lower        # bias of m = 300 draws: ~1%


def test_automatic_rule_for_samples_and_densities():
    small = Problem(goods=2, values=Samples(np.random.default_rng(0).uniform(size=(100, 2))),
                    belief=0.5)
    name, why = choose_backend(small)
    assert name == "types_lp" and "exact" in why
    assert choose_upper_backend(small, "types_lp")[0] is None
    large = Problem(goods=1, values=Samples(np.random.default_rng(0).uniform(size=6000)),
                    belief=0.5)
    assert choose_backend(large)[0] in ("rochetnet", "separate")
    name, options, why = choose_upper_backend(large, "rochetnet")
    assert name == "types_lp" and options == {"subsample": 2000, "replications": 20}
    assert "STATISTICAL" in why
    # distinct beliefs: no symmetry group large enough for the folded grid LP's certified bound
    four = Problem(goods=4, values=Uniform(0, 1), belief=[0.4, 0.5, 0.6, 0.45])
    name, options, why = choose_upper_backend(four, "rochetnet")
    assert name == "types_lp" and options == {"draws": 300, "replications": 20}
    seven = Problem(goods=7, values=Uniform(0, 1), belief=0.5)
    assert choose_upper_backend(seven, "rochetnet")[0] is None


def test_statistical_bound_in_four_goods_is_consistent_with_separate():
    problem = Problem(goods=4, values=Uniform(0, 1), belief=0.5)
    res = solve(problem, backend="types_lp", draws=60, replications=4)
    separate = solve(problem, backend="separate")
    assert res.bounds.upper_kind == "statistical"
    # selling separately earns 4 x 1/8 = 0.5; E[OPT_m] is above the optimum, hence above it
    assert res.bounds.upper >= separate.profit
    report = crosscheck(problem, {"types_lp": "types_lp", "separate": "separate"},
                        options={"types_lp": {"draws": 60, "replications": 4}})
    assert report.ok and report.best_upper is None


# ------------------------------------------------------------------ solve's bracket check
def test_a_lower_bound_above_a_statistical_upper_bound_is_a_warned_miss_not_a_failure():
    from dataclasses import dataclass
    from typing import ClassVar

    from amm_opt import Menu, Problem, Uniform, solve
    from amm_opt.errors import AmmOptWarning, SolverFailedError
    from amm_opt.result import Status
    from amm_opt.solvers import register_backend, unregister_backend
    from amm_opt.solvers.base import Solver, menu_result
    from amm_opt.statistical import statistical_method

    @dataclass(frozen=True)
    class Claims(Solver):
        upper: float = 0.1
        statistical: bool = True
        name: ClassVar[str] = "claims"
        description: ClassVar[str] = "R1's menu with a stated upper bound (test)"

        def compute(self, problem):
            method = statistical_method(0.95, "test") if self.statistical else "test"
            return menu_result(problem, Menu([[1.0], [-1.0]], [0.75, -0.25]), self.name,
                               Status.OPTIMAL, {}, upper=self.upper, upper_method=method)

    problem = Problem(goods=1, values=Uniform(0, 1), belief=0.5)      # the menu earns 1/8
    register_backend("claims", Claims)
    try:
        with pytest.warns(AmmOptWarning, match="statistical miss"):
            result = solve(problem, backend="claims")
        assert result.bounds.upper_kind == "statistical"
        with pytest.raises(SolverFailedError, match="certified upper bound"):
            solve(problem, backend="claims", statistical=False)
    finally:
        unregister_backend("claims")
