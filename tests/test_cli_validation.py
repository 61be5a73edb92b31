"""``amm-opt certify | compare | plot``, run in-process: verdicts, exit codes, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from amm_opt import Menu, references
from amm_opt.cli import main
from amm_opt.io import save_menu
from amm_opt.solvers import available_backends
from amm_opt.validation import save_golden

GOLDEN = Path(__file__).parent / "data" / "golden"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _has(name: str) -> bool:
    return available_backends().get(name, (False, ""))[0]


def test_certify_a_golden_with_a_number_and_with_a_violation(capsys):
    best = references.r2_profit(0.0)
    code, out, _ = run(capsys, "certify", str(GOLDEN / "r2_lam0.json"), "--upper",
                       str(best + 1e-3))
    assert code == 0 and out.startswith("CERTIFIED") and "[ok] u(c) = 0" in out
    code, out, _ = run(capsys, "certify", str(GOLDEN / "r2_lam0.json"), "--upper", "0.2",
                       "--json")
    data = json.loads(out)
    assert code == 1 and data["status"] == "violation"


@pytest.mark.skipif(not _has("ot_dual"), reason="needs ot_dual (pip install 'amm-opt[ot]')")
def test_certify_a_menu_file_with_an_engine(capsys, tmp_path):
    _problem, menu, best = references.r2_two_goods(0.5)
    save_menu(menu, tmp_path / "m.json")
    code, out, _ = run(capsys, "certify", str(tmp_path / "m.json"), "--paper",
                       "--adverse-selection", "0.5", "--upper", "ot_dual", "--set", "grid=16",
                       "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "certified"
    assert data["lower"] == pytest.approx(best, rel=1e-12) and data["upper"] >= best
    assert data["upper_method"].startswith("ot_dual")


def test_certify_flags_an_infeasible_menu_and_bad_input(capsys, tmp_path):
    _problem, menu, _ = references.r2_two_goods(0.0)
    bad = Menu(np.vstack([menu.allocations, [[1.0, 0.0]]]), np.append(menu.prices, 0.45))
    save_menu(bad, tmp_path / "bad.json")
    code, out, _ = run(capsys, "certify", str(tmp_path / "bad.json"), "--paper")
    assert code == 1 and out.startswith("INFEASIBLE MENU") and "[FAIL] u(c) = 0" in out
    # a bare menu file holds no problem
    code, _, err = run(capsys, "certify", str(tmp_path / "bad.json"))
    assert code == 2 and "problem" in err
    code, _, err = run(capsys, "certify", str(tmp_path / "bad.json"), "--paper", "--set",
                       "grid=4")
    assert code == 2 and "--upper" in err
    code, _, err = run(capsys, "certify", str(tmp_path / "missing.json"), "--paper")
    assert code == 2 and "missing.json" in err


def test_compare_exits_non_zero_on_a_regression(capsys, tmp_path):
    _problem, menu, _ = references.r2_two_goods(0.0)
    prices = np.asarray(menu.prices).copy()
    prices[np.all(menu.allocations == [1.0, 1.0], axis=1)] += 0.05
    save_menu(Menu(menu.allocations, prices), tmp_path / "worse.json")
    golden = str(GOLDEN / "r2_lam0.json")
    code, out, _ = run(capsys, "compare", golden, golden)
    assert code == 0 and "no regression" in out and "types whose trade changes: 0%" in out
    code, out, _ = run(capsys, "compare", golden, str(tmp_path / "worse.json"))
    assert code == 1 and "REGRESSION: profit fell" in out
    # a looser tolerance accepts it, unless a price limit is set
    code, out, _ = run(capsys, "compare", golden, str(tmp_path / "worse.json"),
                       "--profit-rtol", "0.05", "--json")
    assert code == 0 and json.loads(out)["max_price_difference"] == pytest.approx(0.05)
    code, _, _ = run(capsys, "compare", golden, str(tmp_path / "worse.json"),
                     "--profit-rtol", "0.05", "--max-price-change", "0.01")
    assert code == 1
    code, _, err = run(capsys, "compare", golden, str(tmp_path / "worse.json"),
                       "--profit-rtol", "-1")
    assert code == 2 and "--profit-rtol" in err


def test_compare_menus_on_a_stored_problem_at_another_lambda(capsys, tmp_path):
    _problem, menu, _ = references.r2_two_goods(0.5)
    save_golden(tmp_path / "g.json", "g", references.r2_two_goods(0.0).problem, menu,
                source="test")
    save_menu(menu, tmp_path / "m.json")
    code, out, _ = run(capsys, "compare", str(tmp_path / "g.json"), str(tmp_path / "m.json"),
                       "--adverse-selection", "0.5", "--json")
    data = json.loads(out)
    assert code == 0
    assert data["profit_a"] == pytest.approx(references.r2_profit(0.5), rel=1e-12)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_regions_from_a_golden(capsys, tmp_path, suffix):
    out = tmp_path / f"map{suffix}"
    code, _, err = run(capsys, "plot", str(GOLDEN / "r2_lam0.json"), "--out", str(out),
                       "--title", "R2")
    assert code == 0 and out.exists() and out.stat().st_size > 1000 and "written" in err


def test_plot_slices_and_bad_input(capsys, tmp_path):
    save_menu(Menu([[1, 1, 1], [-1, -1, -1]], [2.0, -1.0]), tmp_path / "m3.json")
    code, _, _ = run(capsys, "plot", str(tmp_path / "m3.json"), "--goods", "3", "--belief",
                     "0.5", "--out", str(tmp_path / "s.png"))
    assert code == 0 and (tmp_path / "s.png").exists()
    code, _, err = run(capsys, "plot", "--paper", "--out", str(tmp_path / "x.png"))
    assert code == 2 and "MENU" in err
    code, _, err = run(capsys, "plot", str(GOLDEN / "r2_lam0.json"), "--out",
                       str(tmp_path / "x.gif"))
    assert code == 2 and "suffix" in err


@pytest.mark.skipif(not _has("ot_dual"), reason="needs ot_dual (pip install 'amm-opt[ot]')")
def test_plot_transport_plan(capsys, tmp_path):
    out = tmp_path / "plan.png"
    code, _, err = run(capsys, "plot", "--kind", "transport", "--paper", "--set", "grid=8",
                       "--out", str(out))
    assert code == 0 and out.read_bytes()[:4] == b"\x89PNG" and "transport bound" in err
