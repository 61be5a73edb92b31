"""Sweeps on a real Dask cluster: a LocalCluster of two single-threaded worker processes."""

from __future__ import annotations

import sqlite3

import pytest

pytest.importorskip("pandas", reason="sweeps return pandas tables: pip install 'amm-opt[dask]'")
pytest.importorskip("distributed", reason="Dask is optional: pip install 'amm-opt[dask]'")

import distributed
from test_sweep_backends import ExitOnce

from amm_opt import Problem, Uniform, references, solve
from amm_opt.sweep import sweep


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None,
                                       env={"OMP_NUM_THREADS": "1"})
    with distributed.Client(cluster) as c:
        c.wait_for_workers(2, timeout=120)
        yield c
    cluster.close()


def test_dask_sweep_gives_the_bounds_of_individual_solves(client, tmp_path):
    options = {"grid": 16, "max_refinements": 0}
    lams = [0.0, 0.5]
    table = sweep(Problem.paper_two_goods(), over={"adverse_selection": lams},
                  backend="grid_lp", executor=client, store=tmp_path / "s.sqlite", **options)
    assert (table["state"] == "done").all()
    for lam, (_, row) in zip(lams, table.iterrows(), strict=True):
        single = solve(Problem.paper_two_goods(lam), backend="grid_lp", **options)
        # the same LP solved by the same HiGHS: equal up to round-off
        assert row["lower"] == pytest.approx(single.bounds.lower, rel=1e-9, abs=1e-12)
        assert row["upper"] == pytest.approx(single.bounds.upper, rel=1e-9, abs=1e-12)
    # at lambda = 0 the joint menu is R2's nine items: its exact profit is the closed form
    assert table.loc[0, "lower"] == pytest.approx(references.r2_two_goods(0.0).profit,
                                                  rel=1e-9)
    again = sweep(Problem.paper_two_goods(), over={"adverse_selection": lams},
                  backend="grid_lp", executor=client, store=tmp_path / "s.sqlite", **options)
    assert again.attrs["sweep"]["computed"] == 0
    assert again["lower"].tolist() == table["lower"].tolist()


def test_a_dask_worker_that_dies_is_survived_every_point_stored_once(client, tmp_path):
    lams = [0.0, 0.1, 0.2, 0.3]
    path = tmp_path / "s.sqlite"
    table = sweep(Problem(goods=1, values=Uniform(0, 1), belief=0.5),
                  over={"adverse_selection": lams}, backend=ExitOnce, executor=client,
                  store=path, marker=str(tmp_path), exit_at=[0.1, 0.2])
    # the workers did die: each listed point left its marker before os._exit
    assert sorted(p.name for p in tmp_path.glob("died-at-*")) == \
        ["died-at-0.100000", "died-at-0.200000"]
    assert (table["state"] == "done").all()
    count = sqlite3.connect(path).execute("SELECT COUNT(*), COUNT(DISTINCT point) FROM points")
    assert count.fetchone() == (4, 4)
    for lam, low in zip(lams, table["lower"], strict=True):
        assert low == pytest.approx(references.r1_profit(adverse_selection=lam), rel=1e-9)
    client.wait_for_workers(2, timeout=120)  # the nannies restart the dead workers


def test_a_bad_point_on_dask_is_failed_with_a_clear_error(client):
    table = sweep(Problem(goods=1, values=Uniform(0, 1), belief=0.5),
                  over={"adverse_selection": [0.2, 1.0, 0.4]}, backend="separate",
                  executor=client)
    assert table["state"].tolist() == ["done", "failed", "done"]
    error = table.loc[1, "error"]
    assert error.startswith("ProblemError (bad input): adverse_selection: is outside [0, 1)")


def test_cli_sweep_on_a_scheduler_address(client, tmp_path, capsys):
    from amm_opt.cli import main

    address = client.scheduler.address
    argv = ["sweep", "--goods", "1", "--belief", "0.25,0.5", "--backend", "separate",
            "--scheduler", address, "--store", str(tmp_path / "s.sqlite")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 computed, 0 already stored, 0 failed" in out
    assert main(argv) == 0
    assert "0 computed, 2 already stored" in capsys.readouterr().out
