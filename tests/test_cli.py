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
    # a polytope trade set is a valid problem; an engine without support refuses it
    (["solve", "--goods", "2", "--belief", "0.5", "--allocation", "pure_swap", "--backend",
      "separate"], "polytope"),
    (["solve", "--paper", "--adverse-selection", "1.0"], "adverse_selection"),
    (["solve", "--paper", "--backend", "simplex"], "not a known backend"),
    (["solve", "--paper", "--backend", "separate", "--set", "colour=red"], "unknown option"),
    (["solve", "--paper", "--set", "novalue"], "KEY=VALUE"),
    (["solve", "--problem", "/nonexistent/p.json"], "cannot be read"),
    (["solve", "--goods", "1", "--values", "samples:/nonexistent.npy", "--belief", "0.5"],
     "cannot be read"),
    (["evaluate", "/nonexistent/m.json", "--paper"], "cannot be read"),
], ids=["no-source", "two-sources", "bad-family", "bad-parameter", "no-belief", "bad-belief",
        "bad-allocation", "polytope-refused", "lambda-one", "bad-backend", "bad-option",
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


# ------------------------------------------------------------------------------ bad input, paths
def _no_solve(monkeypatch) -> None:
    import amm_opt.solving

    def refuse(*args, **kwargs):
        raise AssertionError("solve ran although an output path is bad")

    monkeypatch.setattr(amm_opt.solving, "solve", refuse)


@pytest.mark.parametrize(("flag", "name", "words"), [
    ("--out", "missing/r.json", "does not exist"),
    ("--out", "file/r.json", "which is a file"),
    ("--out", ".", "is a folder"),
    ("--out", "x" * 300 + ".json", "longer than"),
    ("--out", "r\0.json", "NUL"),
    ("--plot", "missing/map.png", "does not exist"),
    ("--plot", "map.gif", "suffix"),
    ("--plot", "file/map.png", "which is a file"),
])
def test_solve_checks_output_paths_before_solving(capsys, tmp_path, monkeypatch, flag, name,
                                                  words):
    (tmp_path / "file").write_text("x")
    _no_solve(monkeypatch)
    code, _, err = run(capsys, "solve", "--paper", "--backend", "separate", flag,
                       str(tmp_path / name))
    assert code == 2 and f"bad input: {flag}:" in err and words in err
    assert "Traceback" not in err and sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_plot_checks_its_output_before_solving(capsys, tmp_path, monkeypatch):
    _no_solve(monkeypatch)
    code, _, err = run(capsys, "plot", "--kind", "transport", "--paper", "--out",
                       str(tmp_path / "missing" / "plan.png"))
    assert code == 2 and "--out:" in err and "does not exist" in err


def test_a_full_disk_while_writing_the_result_exits_1_and_names_out(capsys, tmp_path,
                                                                    monkeypatch):
    import errno
    import os

    def full(fd, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", full)
    code, _, err = run(capsys, "solve", "--paper", "--backend", "separate", "--out",
                       str(tmp_path / "r.json"))
    assert code == 1 and "cannot write: --out:" in err and "No space left" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("argv", "flag"), [
    (["solve", "--problem", "p\0.toml"], "--problem"),
    (["solve", "--problem", "{dir}"], "--problem"),
    (["solve", "--problem", "{dir}/bad.json"], "--problem"),
    (["solve", "--problem", "{dir}/deep.json"], "--problem"),
    (["solve", "--problem", "{dir}/p.toml"], "--problem"),
    (["solve", "--goods", "2", "--belief", "nan"], "--belief"),
    (["solve", "--goods", "2", "--belief", "0.5", "--adverse-selection", "2"],
     "--adverse-selection"),
    (["solve", "--goods", "2", "--belief", "0.5", "--values", "beta:1e400:2"], "--values"),
    (["solve", "--goods", "2", "--belief", "0.5", "--values", "samples:/dev/zero"], "--values"),
    (["solve", "--goods", "2", "--belief", "0.5", "--values", "samples:{dir}/c.npy"],
     "--values"),
    (["solve", "--goods", "2", "--belief", "0.5", "--allocation=1,2"], "--allocation"),
    (["solve", "--goods", "abc"], "--goods"),
    (["solve", "--paper", "--set", "grid=" + "[" * 5000], "grid"),
    (["evaluate", "{dir}/bad.json", "--paper"], "MENU"),
    (["evaluate", "/dev/zero", "--paper"], "MENU"),
    (["evaluate", "{dir}/m.json", "--paper", "--method", "bogus"], "--method"),
    (["certify", "{dir}/deep.json", "--paper"], "MENU"),
    (["certify", "{dir}/m.json", "--paper", "--upper", "nan"], "--upper"),
    (["compare", "{dir}/m.json", "{dir}/bad.json", "--paper"], "CANDIDATE"),
    (["plot", "{dir}/m.json", "--paper", "--out", "{dir}/file/x.png"], "--out"),
])
def test_bad_input_exits_2_naming_the_flag(capsys, tmp_path, argv, flag):
    (tmp_path / "file").write_text("x")
    (tmp_path / "bad.json").write_bytes(b'{"format": "\xff"}')
    (tmp_path / "deep.json").write_text("[" * 50_000 + "]" * 50_000)
    (tmp_path / "p.toml").write_text("goods = 2\nbelief = 'x'\n")
    np.save(tmp_path / "c.npy", np.array([1j]))
    save_menu(r2_two_goods(0.0).menu, tmp_path / "m.json")
    code, _, err = run(capsys, *[a.replace("{dir}", str(tmp_path)) for a in argv])
    assert code == 2 and flag in err and "Traceback" not in err


def test_internal_errors_and_interrupts_print_one_line(capsys, monkeypatch):
    import amm_opt.solving

    def broken(*args, **kwargs):
        raise TypeError("a bug")

    monkeypatch.setattr(amm_opt.solving, "solve", broken)
    code, _, err = run(capsys, "solve", "--paper")
    assert code == 1 and "internal error" in err and "TypeError: a bug" in err
    monkeypatch.setenv("AMM_OPT_TRACEBACK", "1")
    with pytest.raises(TypeError):
        main(["solve", "--paper"])

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(amm_opt.solving, "solve", interrupted)
    code, _, err = run(capsys, "solve", "--paper")
    assert code == 130 and "interrupted" in err


def test_json_output_is_strict_json_for_non_finite_numbers(capsys, tmp_path):
    np.save(tmp_path / "one.npy", np.array([[0.5, 0.6]]))
    save_menu(r2_two_goods(0.0).menu, tmp_path / "m.json")
    for command in (["solve", "--backend", "separate"], ["evaluate", str(tmp_path / "m.json")]):
        code, out, _ = run(capsys, *command, "--goods", "2", "--belief", "0.5,0.6", "--values",
                           f"samples:{tmp_path / 'one.npy'}", "--json")
        data = json.loads(out, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
        assert code == 0 and "inf" in json.dumps(data)
