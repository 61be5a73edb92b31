"""``amm-opt sweep`` and ``amm-opt sweep-plot``, and the sweep plots."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("pandas", reason="sweeps return pandas tables: pip install 'amm-opt[dask]'")

from amm_opt import Problem, references
from amm_opt.cli import main
from amm_opt.cli_sweep import parse_spec
from amm_opt.errors import OptionError, ProblemError
from amm_opt.sweep import SweepStore, sweep


def test_specs_are_ranges_lists_or_numbers():
    assert parse_spec("0:1:3", "--belief") == [0.0, 0.5, 1.0]
    assert parse_spec("0,0.25,0.5", "--adverse-selection") == [0.0, 0.25, 0.5]
    assert parse_spec("0.4", "--belief") == [0.4]
    for bad in ("0:1", "0:1:0", "0:1:2.5", "a,b", "0:1:3:4", "nan"):
        with pytest.raises(ProblemError, match="--belief"):
            parse_spec(bad, "--belief")


def test_cli_sweep_stores_resumes_and_exports(tmp_path, capsys):
    store = tmp_path / "runs.sqlite"
    argv = ["sweep", "--paper", "--adverse-selection", "0,0.25,0.5", "--backend", "separate",
            "--store", str(store), "--scheduler", "inline", "--csv", str(tmp_path / "t.csv")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "3 computed, 0 already stored, 0 failed" in out
    assert main(argv) == 0
    assert "0 computed, 3 already stored" in capsys.readouterr().out
    text = (tmp_path / "t.csv").read_text()
    assert text.count("\n") == 4 and "adverse_selection" in text.splitlines()[0]
    with SweepStore(store, readonly=True) as db:
        (s,) = db.sweeps()
        assert s["backend"] == "separate" and s["points"] == 3


def test_cli_sweep_over_a_parameter_and_a_failed_point_exit_1(tmp_path, capsys):
    # grid_lp refuses a Beta(1.5, 2) marginal (its derivative is infinite at 0), not Beta(2, 2)
    argv = ["sweep", "--goods", "2", "--values", "beta:2:2", "--belief", "0.5",
            "--param", "values.a=2,1.5", "--backend", "grid_lp", "--set", "grid=4",
            "--set", "max_refinements=0", "--scheduler", "inline"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "1 failed" in captured.out
    assert "failed at belief=0.5, values.a=1.5: UnsupportedProblemError" in captured.err


@pytest.mark.parametrize("argv, text", [
    (["sweep", "--paper", "--backend", "separate"], "nothing is swept"),
    (["sweep", "--paper", "--belief", "0:1"], "--belief: is not a range"),
    (["sweep", "--paper", "--param", "goods=1,2"], "names no sweepable parameter"),
    (["sweep", "--paper", "--belief", "0.5", "--csv", "x.csv"], "--csv: needs --store"),
    (["sweep", "--paper", "--belief", "0.5", "--backend", "separate", "--set", "grid=3",
      "--scheduler", "inline"], "unknown option"),
    (["sweep", "--paper", "--belief", "0.5", "--scheduler", "local:x"], "local:N"),
    (["sweep-plot", "missing.sqlite", "--out", "x.png"], "does not exist"),
    (["sweep", "--paper", "--belief", "0:1:1e12"], "more than a sweep may have"),
])
def test_cli_sweep_bad_input_exits_2_with_the_flag(argv, text, capsys, tmp_path,
                                                   monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert text in capsys.readouterr().err


@pytest.fixture(scope="module")
def lambda_store(tmp_path_factory):
    """A store with a grid_lp and a separate sweep over lambda and a belief grid."""
    path = tmp_path_factory.mktemp("store") / "paper.sqlite"
    problem = Problem.paper_two_goods()
    opts = {"grid": 16, "max_refinements": 0}
    c = [0.25, 0.5]
    for backend, options in (("grid_lp", opts), ("separate", {})):
        sweep(problem, over={"adverse_selection": [0.0, 0.5]}, backend=backend, store=path,
              executor="inline", **options)
        sweep(problem, over={"belief[0]": c, "belief[1]": c}, backend=backend, store=path,
              executor="inline", **options)
    return path


def _frames(store):
    """The grid_lp and separate tables (each sweep key holds both sub-sweeps' 6 points)."""
    with SweepStore(store, readonly=True) as db:
        sweeps = {s["backend"]: s for s in db.sweeps()}
        assert sorted(sweeps) == ["grid_lp", "separate"]
        assert [s["points"] for s in sweeps.values()] == [6, 6]
        return db.frame(sweeps["grid_lp"]["sweep"]), db.frame(sweeps["separate"]["sweep"])


def test_joint_sweep_brackets_the_closed_form_and_beats_separate(lambda_store):
    j, b = (f[f["adverse_selection"].notna()] for f in _frames(lambda_store))
    for lam, lo, up, base in zip(j["adverse_selection"], j["lower"], j["upper"], b["lower"],
                                 strict=True):
        optimum = references.r2_two_goods(lam).profit
        # lower is a feasible menu's exact profit, upper the certified LP bound; the closed
        # form R2 is the optimum, so it lies in between (1e-9: round-off of both sides)
        assert lo <= optimum + 1e-9 and optimum <= up + 1e-9
        assert base < lo  # bundling beats selling separately on the paper's instance


@pytest.mark.parametrize("kind", ["curve", "heatmap", "regions"])
def test_sweep_plot_draws_each_kind(lambda_store, tmp_path, kind, capsys):
    pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install "
                                             "'amm-opt[plot]'")
    out = tmp_path / f"{kind}.png"
    # the defaults pick the one grid_lp sweep and the one separate sweep of the store
    assert main(["sweep-plot", str(lambda_store), "--kind", kind, "--out", str(out)]) == 0, \
        capsys.readouterr().err
    assert out.stat().st_size > 10_000


def test_sweep_plot_lists_and_refuses_an_unknown_sweep(lambda_store, capsys):
    assert main(["sweep-plot", str(lambda_store), "--list"]) == 0
    assert capsys.readouterr().out.count("backend") == 2
    assert main(["sweep-plot", str(lambda_store), "--out", "x.png", "--sweep", "zz"]) == 2
    assert "--sweep: matches no sweep" in capsys.readouterr().err


def test_plot_functions_check_their_tables(lambda_store):
    pytest.importorskip("matplotlib", reason="plots need matplotlib")
    from amm_opt.plot.sweep import plot_gain_heatmap, plot_region_maps, plot_sweep_profit

    grid, sep = (f[f["belief[0]"].notna()].reset_index(drop=True)
                 for f in _frames(lambda_store))
    with pytest.raises(OptionError, match="several points"):
        plot_sweep_profit(grid, sep, x="belief[0]")  # belief[1] varies too
    with pytest.raises(OptionError, match="is not a column"):
        plot_gain_heatmap(grid, sep, x="belief[5]")
    fig = plot_gain_heatmap(grid, sep)
    assert len(fig.axes) == 4  # two panels and their colour bars
    fig = plot_region_maps(grid, ncols=2)
    assert sum(ax.get_visible() for ax in fig.axes) == 4
    assert json.loads(grid.loc[0, "menu"])["format"] == "amm_opt.menu"
    with pytest.raises(OptionError, match="sweep table"):
        plot_region_maps({"not": "a table"})


@pytest.mark.slow  # starts a Dask LocalCluster of its own (~10 s on the shared machine)
def test_cli_sweep_on_a_local_dask_cluster(tmp_path, capsys):
    pytest.importorskip("distributed", reason="Dask is optional: pip install 'amm-opt[dask]'")
    argv = ["sweep", "--goods", "1", "--belief", "0.5", "--adverse-selection", "0:0.5:3",
            "--backend", "separate", "--scheduler", "local:2", "--store",
            str(tmp_path / "s.sqlite")]
    assert main(argv) == 0
    assert "3 computed" in capsys.readouterr().out
    with SweepStore(tmp_path / "s.sqlite", readonly=True) as db:
        table = db.frame()
    for lam, low in zip(table["adverse_selection"], table["lower"], strict=True):
        assert low == pytest.approx(references.r1_profit(adverse_selection=lam), rel=1e-9)


@pytest.mark.slow  # the example's default run: about a minute on 2 cores
def test_the_sweep_example_runs_and_resumes(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("matplotlib", reason="the example draws: pip install 'amm-opt[plot]'")
    script = Path(__file__).resolve().parents[1] / "examples" / "sweep_two_goods.py"
    for run in (1, 2):
        subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], check=True,
                       capture_output=True, text=True, timeout=900)
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert summary["failed_points"] == 0
        if run == 2:
            assert summary["computed_points"] == 0  # everything was in the store
    assert summary["bundled_lower"][0] == pytest.approx(references.r2_two_goods(0.0).profit,
                                                        rel=1e-9)
    assert all(g > 0 for g in summary["gain_percent"])
    for name in ("profit_vs_lambda.png", "gain_over_belief.png", "menus_over_belief.png"):
        assert (tmp_path / name).stat().st_size > 10_000
