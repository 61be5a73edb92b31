"""Size guards and time limits (issue 12, items 7-9): requests beyond the stated limits are
refused before memory is spent, with the estimate and the fix; a time limit is kept to within
max(10%, 2 s); unbalanced discretised masses no longer make the transport dual infeasible."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from amm_opt import Problem, TruncatedNormal, Uniform, solve
from amm_opt.errors import (
    InaccurateSolutionWarning,
    OptionError,
    ProblemError,
    ResourceLimitError,
)
from amm_opt.limits import memory_limit
from amm_opt.result import Status

pytest.importorskip("highspy")
pytest.importorskip("ot")

R2 = Problem.paper_two_goods()


def _quiet_solve(problem, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InaccurateSolutionWarning)
        return solve(problem, **options)


def test_too_many_goods_is_refused_at_once():
    start = time.perf_counter()
    with pytest.raises(ProblemError, match="goods"):
        Problem(goods=10**12, values=Uniform(0, 1), belief=0.5)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("backend,options", [
    ("grid_lp", {}), ("ot_dual", {"grid": 4}),
])
def test_grid_engines_refuse_fifty_goods(backend, options):
    problem = Problem(goods=50, values=Uniform(0, 1), belief=0.5)
    with pytest.raises(ResourceLimitError, match="max_points") as info:
        solve(problem, backend=backend, **options)
    assert info.value.field == "grid"


@pytest.mark.parametrize("backend,grid", [("grid_lp", 10**6), ("ot_dual", [1_000_000, 2])])
def test_huge_grids_are_refused_before_building(backend, grid):
    start = time.perf_counter()
    # R2 is symmetric, so grid_lp may refuse on its folded measure's memory rather than on
    # max_points: either way a ResourceLimitError naming the grid, before anything is built.
    with pytest.raises(ResourceLimitError, match="grid") as info:
        solve(R2, backend=backend, grid=grid)
    assert info.value.field == "grid"
    assert time.perf_counter() - start < 2.0


def test_memory_limit_from_the_environment(monkeypatch):
    monkeypatch.setenv("AMM_OPT_MEMORY_LIMIT", "1MiB")
    assert memory_limit() == 2**20
    with pytest.raises(ResourceLimitError, match="memory limit of 1 MiB"):
        solve(R2, backend="grid_lp", grid=64)
    monkeypatch.setenv("AMM_OPT_MEMORY_LIMIT", "lots")
    with pytest.raises(ResourceLimitError, match="AMM_OPT_MEMORY_LIMIT"):
        memory_limit()


@pytest.mark.parametrize("option,value,error", [("menu_size", 10**7, OptionError),
                                                ("batch_size", 10**9, ResourceLimitError)])
def test_rochetnet_refuses_steps_it_cannot_take(option, value, error):
    pytest.importorskip("torch")
    start = time.perf_counter()
    # menu_size has a fixed ceiling (2^16, an option rule); batch_size is sized per step.
    with pytest.raises(error, match=option):
        solve(R2, backend="rochetnet", **{option: value})
    assert time.perf_counter() - start < 5.0


def _within_limit(seconds: float, limit: float) -> bool:
    # The promise of every time_limit option.
    return seconds <= limit + max(0.1 * limit, 2.0)


def test_grid_lp_keeps_its_time_limit():
    start = time.perf_counter()
    res = _quiet_solve(R2, backend="grid_lp", target_gap=1e-7, time_limit=2.0)
    assert _within_limit(time.perf_counter() - start, 2.0)
    assert res.status is Status.TIME_LIMIT
    assert res.bounds.lower <= res.bounds.upper


def test_ot_dual_keeps_its_time_limit():
    start = time.perf_counter()
    res = _quiet_solve(R2, backend="ot_dual", grid=256, time_limit=0.3)
    assert _within_limit(time.perf_counter() - start, 0.3)
    assert res.status is Status.TIME_LIMIT and res.bounds.upper is None
    # With time to spare the same limit changes nothing.
    limited = solve(R2, backend="ot_dual", grid=16, time_limit=60)
    free = solve(R2, backend="ot_dual", grid=16)
    assert limited.bounds.upper == free.bounds.upper and limited.status is Status.OPTIMAL


def test_rochetnet_polish_keeps_the_time_limit():
    pytest.importorskip("torch")
    solve(R2, backend="rochetnet", steps=2, batch_size=64, validation_size=64)   # warm torch
    start = time.perf_counter()
    res = _quiet_solve(R2, backend="rochetnet", polish=True, time_limit=0.5)
    assert _within_limit(time.perf_counter() - start, 0.5)
    assert res.status is Status.TIME_LIMIT and res.profit > 0


def test_peaked_truncated_normal_gives_a_transport_bound():
    # The discretised masses of this density do not balance (the density is 0.005 wide at the
    # edge of its box); the transport problem used to be infeasible.
    problem = Problem(goods=1, values=TruncatedNormal(1.1704, 4.52e-3, 0, 1), belief=0.9737)
    for method in ("flow", "dense"):
        res = _quiet_solve(problem, backend="ot_dual", grid=16, method=method)
        assert res.bounds.upper is not None and res.status.usable
        # A valid bound: at least what selling separately earns.
        assert res.bounds.upper >= solve(problem, backend="separate").profit


@pytest.mark.parametrize("backend", ["grid_lp", "ot_dual"])
def test_a_broken_measure_never_gives_an_infinite_optimal_bound(backend):
    # Beta(600, 600): its masses came out NaN, and grid_lp reported upper = inf, "optimal".
    from amm_opt import Beta
    from amm_opt.errors import AmmOptError

    problem = Problem(goods=1, values=Beta(600, 600), belief=0.5)
    try:
        with warnings.catch_warnings():
            # Overflow inside the density is the distribution's concern; here: the bound.
            warnings.simplefilter("ignore", RuntimeWarning)
            res = _quiet_solve(problem, backend=backend)
    except AmmOptError as exc:
        assert exc.field == "values" or "values" in str(exc)
        return
    assert res.bounds.upper is not None and np.isfinite(res.bounds.upper)
    assert res.bounds.upper >= solve(problem, backend="separate").profit - 1e-9
