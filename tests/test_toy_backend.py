"""The worked example of docs/adding_a_backend.md: examples/toy_backend.py as a registered backend.

On the paper's instance (U[0,1]^2, c = (1/2, 1/2), lambda = 0) the toy offers the bundle (1, 1)
at ask a and (-1, -1) at price q. With s = v_1 + v_2 the buyers are {s >= a} (probability
(2 - a)^2 / 2 for 1 <= a <= 2), each earning a - c.(1, 1) = a - 1, so the ask side earns
(a - 1)(2 - a)^2 / 2, maximised at a = 4/3 with 2/27; by symmetry the bid side (q = -2/3) earns
the same: 4/27 in all, below the optimum 0.2746005 of reference R2.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import amm_opt
from amm_opt import Menu, Problem, Uniform, evaluate
from amm_opt.errors import OptionError
from amm_opt.references import r2_two_goods

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "toy_backend.py"
HAND_VALUE = 4.0 / 27.0


def _load_example():
    spec = importlib.util.spec_from_file_location("toy_backend", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["toy_backend"] = module        # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bundle_price() -> Iterator[type]:
    """Register the toy as ``bundle_price`` for one test, then remove it again."""
    from amm_opt import solvers

    module = _load_example()
    solvers.register_backend("bundle_price", module.BundlePrice)
    try:
        yield module.BundlePrice
    finally:
        solvers.unregister_backend("bundle_price")
        sys.modules.pop("toy_backend", None)


def test_registered_under_its_name(bundle_price: type) -> None:
    from amm_opt.solvers import available_backends, get_solver_class

    assert get_solver_class("bundle_price") is bundle_price
    assert get_solver_class("Bundle-Price") is bundle_price
    usable, _ = available_backends()["bundle_price"]
    assert usable


def test_profit_between_hand_value_and_r2_optimum(bundle_price: type) -> None:
    problem, _, best = r2_two_goods(0.0)
    result = amm_opt.solve(problem, backend="bundle_price")
    assert result.backend == "bundle_price"
    assert result.bounds.upper is None                      # a menu engine only
    assert result.evaluation is not None and result.evaluation.method == "exact"
    assert result.profit <= best + 1e-12
    assert result.profit >= HAND_VALUE - 1e-9
    assert result.profit == pytest.approx(HAND_VALUE, abs=1e-9)
    traded = np.any(np.asarray(result.menu.allocations) != 0, axis=1)
    ask, bid = sorted(np.asarray(result.menu.prices)[traded], reverse=True)
    assert ask == pytest.approx(4 / 3, abs=1e-6)
    assert bid == pytest.approx(-2 / 3, abs=1e-6)


def test_at_least_a_brute_force_grid_of_prices(bundle_price: type) -> None:
    problem = Problem(goods=2, values=Uniform(0, 1), belief=0.5)
    trades = np.array([[1.0, 1.0], [-1.0, -1.0]])
    grid_best = max(
        evaluate(problem, Menu(trades, [a, q])).profit
        for a, q in itertools.product(np.linspace(1.0, 2.0, 21), np.linspace(-1.0, 0.0, 21)))
    result = amm_opt.solve(problem, backend="bundle_price")
    assert grid_best <= HAND_VALUE + 1e-12
    assert result.profit >= grid_best - 1e-12


def test_selling_only_monopolist_gets_the_posted_price(bundle_price: type) -> None:
    # One good, X = [0, 1], c = 0: the bundle is the good itself (reference R3: price 1/2).
    problem = Problem(goods=1, values=Uniform(0, 1), belief=0.0, allocation=(0, 1))
    result = amm_opt.solve(problem, backend="bundle_price")
    assert result.menu.size == 2                            # the good and no-trade
    assert result.profit == pytest.approx(0.25, abs=1e-12)


def test_unknown_and_invalid_options_raise(bundle_price: type) -> None:
    problem = Problem.paper_two_goods()
    with pytest.raises(OptionError, match="grid_points"):
        amm_opt.solve(problem, backend="bundle_price", no_such_option=1)
    with pytest.raises(OptionError):
        amm_opt.solve(problem, backend="bundle_price", grid_points=1)
    with pytest.raises(OptionError):
        bundle_price(tolerance=0.0)
