"""``--allocation`` on the command line: named sets, vertices files, clear errors (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from amm_opt import Menu
from amm_opt.cli import main
from amm_opt.io import save_menu

SWAP_MENU = Menu([[1, -1], [-1, 1]], [1 / 3, 1 / 3])   # optimal for the pure swap: 4/27


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("spec", ["pure_swap", "pure_swap:1,0", "vertices:FILE"])
def test_evaluate_on_a_pure_swap(capsys, tmp_path: Path, spec: str) -> None:
    save_menu(SWAP_MENU, tmp_path / "m.json")
    if spec == "vertices:FILE":
        np.savetxt(tmp_path / "v.csv", [[1.0, -1.0], [-1.0, 1.0]], delimiter=",")
        spec = f"vertices:{tmp_path / 'v.csv'}"
    code, out, err = run(capsys, "evaluate", str(tmp_path / "m.json"), "--goods", "2",
                         "--belief", "0.5", f"--allocation={spec}", "--json")
    assert code == 0, err
    # the one-good reduction in v1 - v2 (see test_allocation_sets): exact 4/27
    assert json.loads(out)["profit"] == pytest.approx(4 / 27, abs=1e-12)


def test_a_menu_outside_the_set_is_refused(capsys, tmp_path: Path) -> None:
    save_menu(Menu([[1.0, 1.0]], [1.0]), tmp_path / "m.json")
    code, _, err = run(capsys, "evaluate", str(tmp_path / "m.json"), "--goods", "2",
                       "--belief", "0.5", "--allocation=budget:1")
    assert code == 2 and "outside the allocation set" in err


@pytest.mark.parametrize("spec, words", [
    ("star", "--allocation"),
    ("pure_swap:1", "GIVE,GET"),
    ("budget:x", "--allocation"),
    ("unit_demand:-1", "units"),
    ("vertices:/nonexistent/v.csv", "--allocation"),
    ("1,2", "--allocation"),                 # a box not containing 0
])
def test_bad_allocation_flags_get_clear_errors(capsys, spec: str, words: str) -> None:
    code, _, err = run(capsys, "solve", "--goods", "2", "--belief", "0.5",
                       f"--allocation={spec}", "--backend", "separate")
    assert code == 2 and "bad input" in err and words in err


def test_separate_refuses_a_polytope_on_the_command_line(capsys) -> None:
    code, _, err = run(capsys, "solve", "--goods", "2", "--belief", "0.5",
                       "--allocation=unit_demand", "--backend", "separate")
    assert code == 2 and "polytope" in err and "rochetnet" in err
