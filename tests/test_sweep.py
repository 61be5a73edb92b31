"""Sweeps on local processes and inline: points, the store, resume, interruption, failures."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pandas", reason="sweeps return pandas tables: pip install 'amm-opt[dask]'")

from test_sweep_backends import ExitOnce, InterruptAt, SlowSeparate

from amm_opt import Problem, Uniform, evaluate, references, solve
from amm_opt.errors import OptionError, UnknownBackendError
from amm_opt.sweep import SweepStore, point_key, point_problem, sweep, sweep_points

TESTS = Path(__file__).resolve().parent


def one_good() -> Problem:
    return Problem(goods=1, values=Uniform(0, 1), belief=0.5)


# ---------------------------------------------------------------------------- points
def test_cartesian_product_first_name_slowest_and_explicit_lists():
    pts = sweep_points({"belief": [0.2, 0.8], "adverse_selection": np.array([0.0, 0.1, 0.2])})
    assert len(pts) == 6
    assert pts[0] == {"belief": 0.2, "adverse_selection": 0.0}
    assert pts[5] == {"belief": 0.8, "adverse_selection": 0.2}
    assert all(isinstance(p["adverse_selection"], float) for p in pts)
    explicit = sweep_points([{"belief": 0.3}, {"belief": 0.4, "values.a": 2.0}])
    assert explicit[1] == {"belief": 0.4, "values.a": 2.0}
    assert point_key({"a": 1.0, "b": 2.0}) == point_key({"b": 2.0, "a": 1.0})
    # 0 and 0.0 are the same value: the same point (the CLI gives floats, users often ints)
    (as_int,) = sweep_points({"adverse_selection": [0]})
    assert point_key(as_int) == point_key({"adverse_selection": 0.0})


@pytest.mark.parametrize("over, text", [
    ({"goods": [1, 2]}, "names no sweepable parameter"),
    ({"belief": 0.5}, "must be a sequence"),
    ({"belief": []}, "has no values"),
    ({"belief": [0.5, 0.5]}, "the same point twice"),
    ({"belief": [float("nan")]}, "must be finite"),
    ({"belief[x]": [0.5]}, "is not a parameter name"),
    ("belief", "must be a mapping"),
])
def test_bad_sweep_specifications_are_refused_before_any_work(over, text):
    with pytest.raises(OptionError, match=text):
        sweep(one_good(), over=over, backend="separate", executor="inline")


def test_a_sweep_too_large_is_refused_before_its_points_are_built():
    from amm_opt.errors import ResourceLimitError

    axis = list(np.linspace(0.0, 0.9, 1001))
    with pytest.raises(ResourceLimitError, match="1003002 points, more than a sweep may have"):
        sweep_points({"belief": [*axis, 0.95], "adverse_selection": axis})


def test_point_problem_sets_components_and_distribution_parameters():
    from amm_opt.sweep.points import problem_data

    base = problem_data(Problem(goods=2, values=Uniform(0, 1), belief=0.5))
    p = point_problem(base, {"belief[1]": 0.25, "adverse_selection": 0.3, "values.high": 2.0})
    assert p.belief.tolist() == [0.5, 0.25]
    assert p.adverse_selection == 0.3 and p.value_high.tolist() == [2.0, 2.0]
    with pytest.raises(Exception, match="indexes past"):
        point_problem(base, {"belief[2]": 0.5})


# ---------------------------------------------------------------------------- results
def test_inline_sweep_matches_individual_solves_and_the_closed_form():
    lams = [0.0, 0.3, 0.6]
    table = sweep(one_good(), over={"adverse_selection": lams, "belief": [0.25, 0.5]},
                  backend="separate", executor="inline")
    assert len(table) == 6 and (table["state"] == "done").all()
    for _, row in table.iterrows():
        _, _, optimum = references.r1_bid_ask(belief=row["belief"],
                                              adverse_selection=row["adverse_selection"])
        single = solve(Problem(goods=1, values=Uniform(0, 1), belief=row["belief"],
                               adverse_selection=row["adverse_selection"]), backend="separate")
        assert row["lower"] == single.bounds.lower  # the same computation: bit for bit
        # separate is optimal for one good (R1); the exact evaluation agrees to round-off
        assert row["lower"] == pytest.approx(optimum, rel=1e-9)


@pytest.mark.slow  # ~15-20 s on the shared 2-core machine: two fresh processes import HiGHS
def test_local_processes_give_the_bounds_of_individual_grid_lp_solves(tmp_path):
    options = {"grid": 16, "max_refinements": 0}
    base = Problem.paper_two_goods()
    lams = [0.0, 0.5]
    table = sweep(base, over={"adverse_selection": lams}, backend="grid_lp",
                  store=tmp_path / "s.sqlite", workers=2, **options)
    assert (table["state"] == "done").all()
    for lam, (_, row) in zip(lams, table.iterrows(), strict=True):
        single = solve(Problem.paper_two_goods(lam), backend="grid_lp", **options)
        # HiGHS is deterministic for the same LP: the same bounds up to round-off
        assert row["lower"] == pytest.approx(single.bounds.lower, rel=1e-9, abs=1e-12)
        assert row["upper"] == pytest.approx(single.bounds.upper, rel=1e-9, abs=1e-12)
        assert row["lower"] <= row["upper"]
        assert row["upper_method"] == single.bounds.upper_method
    assert table["worker"].nunique() >= 1 and table["lower_method"].eq("exact").all()


def test_stored_menus_are_versioned_json_and_evaluate_to_the_lower_bound(tmp_path):
    path = tmp_path / "s.sqlite"
    table = sweep(Problem.paper_two_goods(), over={"adverse_selection": [0.0, 0.25]},
                  backend="separate", store=path, executor="inline")
    key = table.attrs["sweep"]["sweep"]
    with SweepStore(path, readonly=True) as store:
        for _, row in table.iterrows():
            assert json.loads(row["menu"])["format"] == "amm_opt.menu"
            menu = store.menu(key, row["point"])
            problem = point_problem(table.attrs["sweep"]["problem"],
                                    {"adverse_selection": row["adverse_selection"]})
            assert evaluate(problem, menu).profit == pytest.approx(row["lower"], rel=1e-12)
        assert store.integrity() == "ok"


# ---------------------------------------------------------------------------- store and resume
def test_resume_computes_nothing_and_a_new_point_only_that(tmp_path):
    path = tmp_path / "s.sqlite"
    kw = {"backend": "separate", "store": path, "executor": "inline"}
    first = sweep(one_good(), over={"adverse_selection": [0.0, 0.2, 0.4]}, **kw)
    again = sweep(one_good(), over={"adverse_selection": [0.0, 0.2, 0.4]}, **kw)
    assert first.attrs["sweep"]["computed"] == 3 and again.attrs["sweep"]["computed"] == 0
    assert again["lower"].tolist() == first["lower"].tolist()
    assert again["finished"].tolist() == first["finished"].tolist()  # the stored rows
    more = sweep(one_good(), over={"adverse_selection": [0.0, 0.2, 0.4, 0.6]}, **kw)
    assert more.attrs["sweep"]["computed"] == 1 and len(more) == 4
    other = sweep(one_good(), over={"adverse_selection": [0.0]}, grid_points=512, **kw)
    assert other.attrs["sweep"]["computed"] == 1  # other options: another sweep key
    with SweepStore(path, readonly=True) as store:
        assert len(store.sweeps()) == 2


def test_a_bad_point_is_stored_failed_with_its_error_and_retry_failed_reruns_it(tmp_path):
    path = tmp_path / "s.sqlite"
    over = {"adverse_selection": [0.5, 1.0, 0.25]}
    table = sweep(one_good(), over=over, backend="separate", store=path, executor="inline")
    assert table["state"].tolist() == ["done", "failed", "done"]
    error = table.loc[1, "error"]
    assert "ProblemError" in error and "adverse_selection" in error
    assert table.attrs["sweep"]["failed"] == 1
    again = sweep(one_good(), over=over, backend="separate", store=path, executor="inline")
    assert again.attrs["sweep"]["computed"] == 0
    retried = sweep(one_good(), over=over, backend="separate", store=path, executor="inline",
                    retry_failed=True)
    assert retried.attrs["sweep"]["computed"] == 1 and retried["state"].tolist()[1] == "failed"
    rows = sqlite3.connect(path).execute("SELECT COUNT(*), COUNT(DISTINCT point) FROM points")
    assert rows.fetchone() == (3, 3)


def test_options_are_checked_once_before_the_sweep(tmp_path):
    with pytest.raises(OptionError, match="unknown option"):
        sweep(one_good(), over={"belief": [0.5]}, backend="separate", executor="inline",
              steps=3)
    with pytest.raises(UnknownBackendError):
        sweep(one_good(), over={"belief": [0.5]}, backend="nope", executor="inline")
    with pytest.raises(OptionError, match="a function cannot be stored"):
        sweep(one_good(), over={"belief": [0.5]}, backend="grid_lp", executor="inline",
              callback=print)


def test_export_to_csv_and_parquet(tmp_path):
    import pandas

    path = tmp_path / "s.sqlite"
    sweep(Problem.paper_two_goods(), over={"belief": [[0.5, 0.5], [0.25, 0.75]]},
          backend="separate", store=path, executor="inline")
    with SweepStore(path, readonly=True) as store:
        store.export(tmp_path / "t.csv")
        store.export(tmp_path / "t.parquet")
        frame = store.frame()
    csv = pandas.read_csv(tmp_path / "t.csv")
    parquet = pandas.read_parquet(tmp_path / "t.parquet")
    assert len(csv) == len(parquet) == 2
    assert json.loads(csv.loc[1, "belief"]) == [0.25, 0.75]
    assert parquet["lower"].tolist() == frame["lower"].tolist()
    with pytest.raises(Exception, match="unsupported suffix"):
        SweepStore(path, readonly=True).export(tmp_path / "t.xlsx")


def test_a_store_that_is_not_sqlite_is_refused(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database " * 100)
    with pytest.raises(Exception, match="not a usable sweep store"):
        sweep(one_good(), over={"belief": [0.5]}, backend="separate", store=bad,
              executor="inline")


# ---------------------------------------------------------------------------- interruption
_SCRIPT = """
import sys
from test_sweep_backends import SlowSeparate
from amm_opt import Problem, Uniform
from amm_opt.sweep import sweep
sweep(Problem(goods=1, values=Uniform(0, 1), belief=0.5),
      over={"adverse_selection": [i / 20 for i in range(12)]}, backend=SlowSeparate,
      store=sys.argv[1], executor="inline", delay=0.25)
"""


def test_a_killed_driver_leaves_a_consistent_store_and_the_rerun_fills_only_the_gap(tmp_path):
    path = tmp_path / "s.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, str(path)], env=env)
    stored = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if path.exists():
                with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as conn:
                    try:
                        stored = conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
                    except sqlite3.OperationalError:  # tables not created yet
                        continue
                if stored >= 3:
                    break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert 3 <= stored < 12, "the driver finished before it could be killed"
    with SweepStore(path) as store:
        assert store.integrity() == "ok"
        (key,) = [s["sweep"] for s in store.sweeps()]
        kept = len(store.rows(key))
    assert stored <= kept < 12
    table = sweep(one_good(), over={"adverse_selection": [i / 20 for i in range(12)]},
                  backend=SlowSeparate, store=path, executor="inline", delay=0.25)
    assert table.attrs["sweep"]["computed"] == 12 - kept
    assert table.attrs["sweep"]["reused"] == kept
    assert (table["state"] == "done").all() and table["point"].is_unique
    count = sqlite3.connect(path).execute("SELECT COUNT(*), COUNT(DISTINCT point) FROM points")
    assert count.fetchone() == (12, 12)
    for _, row in table.iterrows():  # no corrupt row: every bound is the closed form
        assert row["lower"] == pytest.approx(
            references.r1_profit(adverse_selection=row["adverse_selection"]), rel=1e-9)


def test_ctrl_c_stops_the_sweep_keeps_what_finished_and_a_rerun_resumes(tmp_path):
    path = tmp_path / "s.sqlite"
    kw = {"backend": InterruptAt, "store": path, "executor": "inline", "at": 0.2}
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C is never swallowed as a failed point
        sweep(one_good(), over={"adverse_selection": [0.0, 0.1, 0.2, 0.3]}, **kw)
    with SweepStore(path, readonly=True) as store:
        (info,) = store.sweeps()
        assert info["points"] == 2 and info["failed"] == 0 and store.integrity() == "ok"
    # the same sweep key without the interrupting point: 0.0 and 0.1 are reused
    table = sweep(one_good(), over={"adverse_selection": [0.0, 0.1, 0.3]}, **kw)
    assert table.attrs["sweep"]["computed"] == 1 and (table["state"] == "done").all()


# ---------------------------------------------------------------------------- dying workers
def test_a_broken_process_pool_is_replaced_every_point_stored_once_a_killer_failed(tmp_path):
    # 0.1 kills its worker on the first attempt only, 0.3 on every attempt
    lams = [0.0, 0.1, 0.2, 0.3, 0.4]
    path = tmp_path / "s.sqlite"
    # max_attempts=3: a point in flight when another point breaks the pool is charged that
    # attempt too (it may not have reached its own exit yet), then retried alone; 3 leaves 0.1
    # room for that, its own death and its success, whatever the timing.
    table = sweep(one_good(), over={"adverse_selection": lams}, backend=ExitOnce, store=path,
                  workers=2, max_attempts=3, marker=str(tmp_path), exit_at=[0.1],
                  exit_always=[0.3])
    assert sorted(p.name for p in tmp_path.glob("died-at-*")) == \
        ["died-at-0.100000", "died-at-0.300000"]
    by_lam = table.set_index("adverse_selection")
    assert by_lam["state"].to_dict() == {0.0: "done", 0.1: "done", 0.2: "done",
                                         0.3: "failed", 0.4: "done"}
    assert by_lam.loc[0.1, "attempts"] >= 2
    error = by_lam.loc[0.3, "error"]
    assert "worker process died" in error and "3 times" in error
    count = sqlite3.connect(path).execute("SELECT COUNT(*), COUNT(DISTINCT point) FROM points")
    assert count.fetchone() == (5, 5)
    for lam in (0.0, 0.1, 0.2, 0.4):
        assert by_lam.loc[lam, "lower"] == pytest.approx(
            references.r1_profit(adverse_selection=lam), rel=1e-9)


def test_any_concurrent_futures_executor_and_a_progress_bar(capsys):
    from concurrent.futures import ThreadPoolExecutor

    pytest.importorskip("tqdm", reason="the progress bar is optional: pip install tqdm")
    with ThreadPoolExecutor(max_workers=1) as pool:
        table = sweep(one_good(), over={"adverse_selection": [0.0, 0.5]}, backend="separate",
                      executor=pool, progress=True)
    assert table["lower"].tolist() == pytest.approx(
        [references.r1_profit(adverse_selection=lam) for lam in (0.0, 0.5)], rel=1e-9)
    assert "sweep" in capsys.readouterr().err  # tqdm's bar, labelled
    with pytest.raises(OptionError, match="no submit method"):
        sweep(one_good(), over={"adverse_selection": [0.0]}, backend="separate",
              executor=object())


def test_point_problem_sets_allocation_rows():
    from amm_opt.sweep.points import problem_data

    base = problem_data(Problem(goods=2, values=Uniform(0, 1), belief=0.5))
    p = point_problem(base, {"allocation[1]": [0.0, 1.0]})
    assert p.allocation_low.tolist() == [-1.0, 0.0] and p.allocation_high.tolist() == [1.0, 1.0]
    q = point_problem(base, {"allocation": [0.0, 1.0]})
    assert q.allocation_low.tolist() == [0.0, 0.0]


@pytest.mark.slow  # starts three process pools (~15 s on the shared machine)
def test_a_users_broken_process_pool_is_replaced_by_a_local_one(tmp_path):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        table = sweep(one_good(), over={"adverse_selection": [0.0, 0.1, 0.2]},
                      backend=ExitOnce, executor=pool, marker=str(tmp_path), exit_at=[0.1])
    assert (table["state"] == "done").all() and table["point"].is_unique
    assert (tmp_path / "died-at-0.100000").exists()
