"""The ``amm-opt`` command line, run in-process: outputs, files and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from amm_opt.cli import main
from amm_opt.io import load_menu, load_result, save_menu
from amm_opt.references import r1_bid_ask, r2_two_goods


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_solve_paper_separate_prints_menu_and_bounds(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "solve", "--paper", "--backend", "separate",
                       "--out", str(tmp_path / "r.json"))
    assert code == 0
    assert "no trade" in out and "expected profit: 0.25" in out and "bounds: lower 0.25" in out
    result = load_result(tmp_path / "r.json")
    assert result.profit == pytest.approx(0.25, abs=1e-12)  # R2 separate profit at lambda = 0
    assert load_menu(tmp_path / "r.json").size == 9


def test_solve_from_flags_and_options(capsys) -> None:
    code, out, _ = run(capsys, "solve", "--goods", "1", "--values", "uniform:0:1", "--belief",
                       "0.5", "--adverse-selection", "0.5", "--backend", "separate",
                       "--set", "grid_points=4097", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["backend"] == "separate" and data["status"] == "optimal"
    # R1's closed form (one good) to the 1e-9 the separate backend's root-finder reaches.
    assert data["profit"] == pytest.approx(r1_bid_ask(adverse_selection=0.5).profit, abs=1e-9)
    assert data["stats"]["backend_choice"]["automatic"] is False


def test_solve_problem_file_with_selling_only_defaults(capsys, tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text(
        'goods = 2\nbelief = 0.0\nallocation = [0.0, 1.0]\n[values]\ntype = "uniform"\n')
    code, out, _ = run(capsys, "solve", "--problem", str(tmp_path / "p.toml"), "--backend",
                       "separate")
    assert code == 0
    # Selling each of two U[0,1] goods at price 1/2 earns 2 * 1/4.
    assert "expected profit: 0.5" in out
    code, out2, _ = run(capsys, "solve", "--goods", "2", "--selling-only", "--backend",
                        "separate")
    assert code == 0 and "expected profit: 0.5" in out2


def test_evaluate_reference_menu(capsys, tmp_path: Path) -> None:
    ref = r2_two_goods(0.5)
    save_menu(ref.menu, tmp_path / "m.json")
    code, out, _ = run(capsys, "evaluate", str(tmp_path / "m.json"), "--paper",
                       "--adverse-selection", "0.5", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["method"] == "exact"
    assert data["profit"] == pytest.approx(ref.profit, abs=1e-12)
    assert sum(data["item_probability"]) == pytest.approx(1.0, abs=1e-12)
    code, out, _ = run(capsys, "evaluate", str(tmp_path / "m.json"), "--paper",
                       "--adverse-selection", "0.5")
    assert code == 0 and "(exact, exact)" in out


def test_backends_lists_every_registered_engine(capsys) -> None:
    from amm_opt.solvers import SOLVERS

    code, out, _ = run(capsys, "backends")
    assert code == 0
    for name in SOLVERS:
        assert name in out


def test_samples_from_csv(capsys, tmp_path: Path) -> None:
    values = np.random.default_rng(0).uniform(size=(2000, 1))
    np.savetxt(tmp_path / "v.csv", values, delimiter=",")
    code, out, _ = run(capsys, "solve", "--goods", "1", "--values",
                       f"samples:{tmp_path / 'v.csv'}", "--belief", "0.5", "--backend",
                       "separate", "--json")
    assert code == 0
    assert json.loads(out)["bounds"]["lower_method"] == "sample-mean"


@pytest.mark.parametrize(("argv", "needle"), [
    (["solve"], "exactly one problem source"),
    (["solve", "--paper", "--goods", "2"], "exactly one problem source"),
    (["solve", "--goods", "2", "--values", "cauchy:0:1", "--belief", "0.5"],
     "unknown distribution"),
    (["solve", "--goods", "2", "--values", "beta:x:2", "--belief", "0.5"], "not a number"),
    (["solve", "--goods", "2"], "--belief: is missing"),
    (["solve", "--goods", "2", "--belief", "0.5,a"], "comma-separated numbers"),
    (["solve", "--goods", "2", "--belief", "0.5", "--allocation=-1,0,1"], "LOW,HIGH"),
    (["solve", "--goods", "2", "--belief", "1.5"], "belief"),
    (["solve", "--paper", "--adverse-selection", "1.0"], "adverse_selection"),
    (["solve", "--paper", "--backend", "simplex"], "not a known backend"),
    (["solve", "--paper", "--backend", "separate", "--set", "colour=red"], "unknown option"),
    (["solve", "--paper", "--set", "novalue"], "KEY=VALUE"),
    (["solve", "--problem", "/nonexistent/p.json"], "cannot be read"),
    (["solve", "--goods", "1", "--values", "samples:/nonexistent.npy", "--belief", "0.5"],
     "cannot be read"),
    (["evaluate", "/nonexistent/m.json", "--paper"], "cannot be read"),
], ids=["no-source", "two-sources", "bad-family", "bad-parameter", "no-belief", "bad-belief",
        "bad-allocation", "belief-outside", "lambda-one", "bad-backend", "bad-option",
        "bad-set", "missing-problem", "missing-samples", "missing-menu"])
def test_bad_input_exits_2_with_a_clear_message(capsys, argv: list[str], needle: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err and out == ""


def test_usage_errors_and_help_exit_codes(capsys) -> None:
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys, "solve", "--goods", "two")[0] == 2
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "solve" in out and "backends" in out


def test_solver_failure_exits_1(capsys, monkeypatch) -> None:
    from amm_opt import solving as _solve
    from amm_opt.errors import SolverFailedError

    def broken(*args, **kwargs):
        raise SolverFailedError("the solver failed", field="backend 'separate'")

    monkeypatch.setattr(_solve, "solve", broken)
    code, _, err = run(capsys, "solve", "--paper", "--backend", "separate")
    assert code == 1 and "solver failure" in err
