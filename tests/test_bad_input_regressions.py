"""Regressions from the bad-input tally (scripts/bad_inputs.py): each was a raw traceback, a hang
or a wrong number before, and is a clear ``AmmOptError`` (or a right number) now."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from amm_opt import Samples, Uniform, evaluate, solve
from amm_opt import io as aio
from amm_opt import references as ref
from amm_opt.errors import (
    DistributionError,
    FileFormatError,
    MenuError,
    OptionError,
    OutputPathError,
)
from amm_opt.validation import compare_menus

PAPER, R2_MENU, _ = ref.r2_two_goods(0.5)


@pytest.mark.parametrize("option, value", [
    ("seed", -1), ("seed", "x"), ("seed", None), ("seed", 2**80),
    ("quadrature_order", 10**9), ("qmc_points", 2**40), ("qmc_replications", 10**9),
])
def test_evaluate_options_out_of_range_are_refused_up_front(option, value):
    with pytest.raises(OptionError, match=option):
        evaluate(PAPER, R2_MENU, method="qmc", **{option: value})


@pytest.mark.parametrize("keep", [[100], [-100], [0.5], np.ones(3, dtype=bool)])
def test_menu_subset_with_bad_indices_is_a_menu_error(keep):
    with pytest.raises(MenuError, match="keep"):
        R2_MENU.subset(keep)


def test_menu_subset_still_takes_indices_and_masks():
    assert R2_MENU.subset([0, -1]).size == 2
    assert R2_MENU.subset(np.arange(R2_MENU.size) < 3).size == 3


def test_values_too_large_to_compute_with_are_refused():
    # 1e300 values overflowed v . x - p to inf/NaN: the separate baseline's lower bound had a
    # NaN error. Values beyond 1e100 are refused with the fix (rescale the units).
    with pytest.raises(DistributionError, match=r"Samples\.values"):
        Samples(np.full((5, 2), 1e300))
    with pytest.raises(DistributionError, match=r"Uniform\.high"):
        Uniform(0, 1e200)


def test_compare_menus_refuses_absurd_probe_counts():
    with pytest.raises(OptionError, match="points"):
        compare_menus(R2_MENU, R2_MENU, PAPER, points=2**40)


@pytest.mark.parametrize("save, obj", [
    (aio.save_result, "result"), (aio.save_menu, [[1, 0]]), (aio.save_problem, {"goods": 2}),
])
def test_saving_the_wrong_type_names_it(tmp_path, save, obj):
    with pytest.raises(OptionError):
        save(obj, tmp_path / "x.json")
    assert not list(tmp_path.iterdir())


def test_a_path_beyond_the_system_limits_is_an_output_path_error(tmp_path):
    deep = tmp_path.joinpath(*(["d" * 200] * 30)) / "x.json"
    with pytest.raises(OutputPathError, match="path"):
        aio.save_menu(R2_MENU, deep)


def _saved_result(tmp_path):
    result = solve(PAPER, backend="separate")
    aio.save_result(result, tmp_path / "r.json", problem=PAPER)
    return json.loads((tmp_path / "r.json").read_text())


@pytest.mark.parametrize("edit, field", [
    (lambda d: d.update(profit=0.9), "profit"),                      # profit above its bound
    (lambda d: d["bounds"].update(lower_stderr="nan"), "lower_stderr"),
])
def test_inconsistent_result_files_are_refused(tmp_path, edit, field):
    data = _saved_result(tmp_path)
    edit(data)
    (tmp_path / "r.json").write_text(json.dumps(data))
    with pytest.raises(FileFormatError, match=field):
        aio.load_result(tmp_path / "r.json")


def test_a_consistent_result_file_still_loads(tmp_path):
    data = _saved_result(tmp_path)
    back = aio.load_result(tmp_path / "r.json")
    assert back.profit == data["profit"] and math.isfinite(back.bounds.lower)
