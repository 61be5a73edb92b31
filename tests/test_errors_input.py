"""Bad input gets an AmmOptError subclass naming the field and the fix (>= 20 cases)."""

from __future__ import annotations

import numpy as np
import pytest

from amm_opt import (
    Beta,
    Menu,
    Polytope,
    Problem,
    Product,
    Samples,
    TruncatedNormal,
    Uniform,
    evaluate,
    solve,
)
from amm_opt.errors import (
    AmmOptError,
    DistributionError,
    MenuError,
    OptionError,
    ProblemError,
    UnknownBackendError,
    UnsupportedProblemError,
)


def _paper() -> Problem:
    return Problem.paper_two_goods()


# (description, callable, expected error class, substring the message must contain)
CASES = [
    ("goods zero", lambda: Problem(goods=0, values=Uniform(), belief=0.5), ProblemError, "goods"),
    (
        "goods float",
        lambda: Problem(goods=2.5, values=Uniform(), belief=0.5),
        ProblemError,
        "positive integer",
    ),
    (
        "goods bool",
        lambda: Problem(goods=True, values=Uniform(), belief=0.5),
        ProblemError,
        "goods",
    ),
    (
        "values not a distribution",
        lambda: Problem(goods=1, values=[0, 1], belief=0.5),
        ProblemError,
        "Uniform, Beta",
    ),
    (
        "belief NaN",
        lambda: Problem(goods=1, values=Uniform(), belief=float("nan")),
        ProblemError,
        "finite",
    ),
    (
        "polytope trade set, engine without support",
        lambda: solve(Problem(goods=2, values=Uniform(), belief=0.5,
                              allocation=Polytope.pure_swap(2)), backend="separate"),
        UnsupportedProblemError,
        "polytope",
    ),
    (
        "belief wrong length",
        lambda: Problem(goods=2, values=Uniform(), belief=[0.5, 0.5, 0.5]),
        ProblemError,
        "belief",
    ),
    (
        "belief text",
        lambda: Problem(goods=1, values=Uniform(), belief="half"),
        ProblemError,
        "belief",
    ),
    (
        "lambda = 1",
        lambda: Problem(goods=1, values=Uniform(), belief=0.5, adverse_selection=1.0),
        ProblemError,
        "adverse_selection",
    ),
    (
        "lambda negative",
        lambda: Problem(goods=1, values=Uniform(), belief=0.5, adverse_selection=-0.1),
        ProblemError,
        "[0, 1)",
    ),
    (
        "lambda NaN",
        lambda: Problem(goods=1, values=Uniform(), belief=0.5, adverse_selection=float("nan")),
        ProblemError,
        "adverse_selection",
    ),
    (
        "allocation excludes 0",
        lambda: Problem(goods=1, values=Uniform(), belief=0.5, allocation=(0.2, 1.0)),
        ProblemError,
        "contain 0",
    ),
    (
        "allocation wrong shape",
        lambda: Problem(goods=2, values=Uniform(), belief=0.5, allocation=[[-1, 1, 2]]),
        ProblemError,
        "allocation",
    ),
    (
        "allocation inf",
        lambda: Problem(goods=1, values=Uniform(), belief=0.5, allocation=(-np.inf, 1.0)),
        ProblemError,
        "finite",
    ),
    (
        "allocation zero box",
        lambda: Problem(goods=1, values=Uniform(), belief=0.5, allocation=(0.0, 0.0)),
        ProblemError,
        "no trade",
    ),
    (
        "update not callable",
        lambda: Problem(goods=1, values=Uniform(), belief=0.5, update=3),
        ProblemError,
        "callable",
    ),
    (
        "update wrong shape",
        lambda: Problem(goods=2, values=Uniform(), belief=0.5, update=lambda v: v[:, :1]),
        ProblemError,
        "shape",
    ),
    (
        "update with lambda",
        lambda: Problem(
            goods=1, values=Uniform(), belief=0.5, adverse_selection=0.2, update=lambda v: v
        ),
        ProblemError,
        "custom update",
    ),
    (
        "update raises",
        lambda: Problem(goods=1, values=Uniform(), belief=0.5, update=lambda v: 1 / 0),
        ProblemError,
        "ZeroDivisionError",
    ),
    ("uniform low >= high", lambda: Uniform(1.0, 0.0), DistributionError, "low < high"),
    ("uniform NaN", lambda: Uniform(float("nan"), 1.0), DistributionError, "finite"),
    ("uniform 2-D params", lambda: Uniform([[0.0]], [[1.0]]), DistributionError, "1-D"),
    (
        "uniform mismatched lengths",
        lambda: Uniform([0, 0], [1, 1, 1]),
        DistributionError,
        "different lengths",
    ),
    (
        "uniform length vs goods",
        lambda: Problem(goods=3, values=Uniform([0, 0], [1, 1]), belief=0.5),
        DistributionError,
        "3 goods",
    ),
    ("beta a < 1", lambda: Beta(0.5, 2.0), DistributionError, "a >= 1"),
    ("normal std 0", lambda: TruncatedNormal(0.5, 0.0), DistributionError, "std"),
    ("product empty", lambda: Product([]), DistributionError, "empty"),
    ("product of vectors", lambda: Product([Uniform([0, 0], [1, 1])]), DistributionError, "scalar"),
    (
        "product size vs goods",
        lambda: Problem(goods=3, values=Product([Uniform(), Uniform()]), belief=0.5),
        DistributionError,
        "marginals",
    ),
    ("samples empty", lambda: Samples(np.empty((0, 2))), DistributionError, "empty"),
    ("samples NaN", lambda: Samples([[0.1, np.nan]]), DistributionError, "NaN"),
    ("samples 3-D", lambda: Samples(np.zeros((2, 2, 2))), DistributionError, "2-D"),
    (
        "samples columns vs goods",
        lambda: Problem(goods=3, values=Samples(np.ones((5, 2))), belief=1.0),
        DistributionError,
        "columns",
    ),
    ("menu ragged prices", lambda: Menu([[1.0, 0.0]], [0.5, 0.2]), MenuError, "prices"),
    ("menu inf", lambda: Menu([[np.inf]], [0.5]), MenuError, "NaN or inf"),
    (
        "menu outside box",
        lambda: evaluate(_paper(), Menu([[2.0, 0.0]], [1.0])),
        MenuError,
        "outside the allocation box",
    ),
    ("menu goods mismatch", lambda: evaluate(_paper(), Menu([[1.0]], [0.5])), MenuError, "goods"),
    (
        "unknown backend",
        lambda: solve(_paper(), backend="simplex"),
        UnknownBackendError,
        "separate",
    ),
    (
        "unknown option",
        lambda: solve(_paper(), backend="separate", steps=3),
        OptionError,
        "grid_points",
    ),
    (
        "bad option value",
        lambda: solve(_paper(), backend="separate", grid_points=1),
        OptionError,
        "grid_points",
    ),
    (
        "unknown evaluation method",
        lambda: evaluate(_paper(), Menu([[1.0, 0.0]], [1.0]), method="simpson"),
        OptionError,
        "exact",
    ),
    (
        "exact on beta",
        lambda: evaluate(
            Problem(goods=1, values=Beta(2, 2), belief=0.5), Menu([[1.0]], [0.7]), method="exact"
        ),
        UnsupportedProblemError,
        "quadrature",
    ),
    (
        "qmc on samples",
        lambda: evaluate(
            Problem(goods=1, values=Samples([0.1, 0.9]), belief=0.5),
            Menu([[1.0]], [0.7]),
            method="qmc",
        ),
        UnsupportedProblemError,
        "sample-mean",
    ),
    (
        "qmc points not int",
        lambda: evaluate(_paper(), Menu([[1.0, 0.0]], [1.0]), method="qmc", qmc_points=10.5),
        OptionError,
        "qmc_points",
    ),
    ("problem is not a Problem", lambda: solve({"goods": 2}), OptionError, "Problem"),
]


@pytest.mark.parametrize(
    ("description", "call", "error", "fragment"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_input_gets_clear_error(description, call, error, fragment):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, AmmOptError)
    message = str(info.value)
    assert fragment in message, message
    # Every message names what would have been accepted.
    assert "allowed:" in message


def test_at_least_twenty_distinct_cases():
    assert len({c[0] for c in CASES}) >= 20
