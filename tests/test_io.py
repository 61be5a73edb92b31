"""JSON round trips of menus, problems and results; malformed files give FileFormatError."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from amm_opt import Beta, Menu, Problem, Samples, Uniform, evaluate, solve
from amm_opt.errors import FileFormatError, ProblemError
from amm_opt.io import (
    INLINE_LIMIT,
    SCHEMA_VERSION,
    load_menu,
    load_problem,
    load_result,
    result_to_json,
    save_menu,
    save_problem,
    save_result,
)
from amm_opt.references import r2_two_goods
from amm_opt.result import Status


def test_menu_round_trip_is_bit_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    menu = Menu(rng.uniform(-1, 1, (7, 3)), rng.normal(size=7))
    save_menu(menu, tmp_path / "m.json")
    back = load_menu(tmp_path / "m.json")
    # JSON writes floats with repr, which round-trips float64 exactly.
    np.testing.assert_array_equal(back.allocations, menu.allocations)
    np.testing.assert_array_equal(back.prices, menu.prices)
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["format"] == "amm_opt.menu" and data["schema"] == SCHEMA_VERSION
    assert not list(tmp_path.glob("*.npz"))


def test_large_menu_goes_to_npz_sidecar(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    k = INLINE_LIMIT // 2 + 10
    menu = Menu(rng.uniform(-1, 1, (k, 2)), rng.normal(size=k))
    save_menu(menu, tmp_path / "big.json")
    (sidecar,) = tmp_path.glob("big.*.npz")   # named after its content hash
    back = load_menu(tmp_path / "big.json")
    np.testing.assert_array_equal(back.allocations, menu.allocations)
    sidecar.unlink()
    with pytest.raises(FileFormatError, match="cannot be read"):
        load_menu(tmp_path / "big.json")


@pytest.mark.parametrize("problem", [
    Problem.paper_two_goods(0.25),
    Problem(goods=2, values=Beta(2.0, 3.0), belief=[0.3, 0.6], allocation=[(-1, 2), (0, 1)]),
    Problem(goods=3, values=Uniform(0, 1), belief=0.0, allocation=(0.0, 1.0)),
], ids=["paper", "beta-asymmetric", "monopolist"])
def test_problem_round_trip(tmp_path: Path, problem: Problem) -> None:
    save_problem(problem, tmp_path / "p.json")
    back = load_problem(tmp_path / "p.json")
    assert back.to_dict() == problem.to_dict()


def test_sample_problem_round_trip_uses_sidecar(tmp_path: Path) -> None:
    values = np.random.default_rng(2).uniform(size=(INLINE_LIMIT, 2))
    problem = Problem(goods=2, values=Samples(values), belief=0.5)
    save_problem(problem, tmp_path / "s.json")
    assert len(list(tmp_path.glob("s.*.npz"))) == 1
    np.testing.assert_array_equal(load_problem(tmp_path / "s.json").values.values, values)


def test_toml_problem_with_sample_file(tmp_path: Path) -> None:
    values = np.random.default_rng(3).uniform(size=(50, 2))
    np.save(tmp_path / "trades.npy", values)
    (tmp_path / "p.toml").write_text(
        'goods = 2\nbelief = [0.4, 0.6]\nadverse_selection = 0.5\n'
        '[values]\ntype = "samples"\nfile = "trades.npy"\n')
    problem = load_problem(tmp_path / "p.toml")
    assert problem.adverse_selection == 0.5
    np.testing.assert_array_equal(problem.values.values, values)


def test_result_round_trip_keeps_the_numbers(tmp_path: Path) -> None:
    problem = Problem.paper_two_goods(0.5)
    result = solve(problem, backend="separate")
    save_result(result, tmp_path / "r.json", problem=problem)
    back = load_result(tmp_path / "r.json")
    assert back.status is Status.OPTIMAL and back.backend == "separate"
    assert back.profit == result.profit and back.bounds == result.bounds
    np.testing.assert_array_equal(back.menu.prices, result.menu.prices)
    np.testing.assert_array_equal(back.evaluation.item_profit, result.evaluation.item_profit)
    # The stored menu re-evaluates to the stored profit (the file is self-consistent).
    assert evaluate(problem, load_menu(tmp_path / "r.json")).profit == pytest.approx(
        back.profit, abs=1e-12)
    data = json.loads((tmp_path / "r.json").read_text())
    assert Problem.from_dict(data["problem"]).to_dict() == problem.to_dict()
    assert json.loads(result_to_json(result))["profit"] == result.profit


def test_non_finite_and_object_stats_are_written_as_text(tmp_path: Path) -> None:
    result = solve(Problem.paper_two_goods(), backend="separate")
    stats = {**result.stats, "gap": float("inf"), "hook": print, "arr": np.arange(3)}
    odd = type(result)(menu=result.menu, profit=result.profit, bounds=result.bounds,
                       status=result.status, backend=result.backend, stats=stats,
                       evaluation=result.evaluation)
    save_result(odd, tmp_path / "r.json")
    back = load_result(tmp_path / "r.json")
    assert back.stats["gap"] == "inf" and back.stats["arr"] == [0, 1, 2]
    assert "print" in back.stats["hook"]


def _write(tmp_path: Path, text: str, name: str = "f.json") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(("text", "loader", "field"), [
    ("{not json", load_menu, "path"),
    ("[1, 2]", load_menu, "path"),
    ('{"format": "amm_opt.problem", "schema": 1}', load_menu, "format"),
    ('{"format": "amm_opt.menu", "schema": 99, "allocations": [], "prices": []}', load_menu,
     "schema"),
    ('{"format": "amm_opt.menu", "schema": 1, "prices": [1.0]}', load_menu,
     "menu file.allocations"),
    ('{"format": "amm_opt.menu", "schema": 1, "allocations": [[0.1, 0.2]], "prices": [1, 2]}',
     load_menu, "menu file"),
    ('{"format": "amm_opt.menu", "schema": 1, "allocations": {"npz": "x.npz"}, "prices": [1]}',
     load_menu, "menu file.allocations"),
    ('{"format": "amm_opt.result", "schema": 1, "status": "great", "bounds": {}}', load_result,
     "status"),
    ('{"format": "amm_opt.result", "schema": 1, "status": "optimal", "bounds": {"lower": "a"}}',
     load_result, "bounds.lower"),
    ('{"format": "amm_opt.result", "schema": 1, "status": "optimal", "bounds": {}, "menu": null}',
     load_menu, "menu"),
], ids=["not-json", "not-object", "wrong-kind", "future-schema", "missing-key", "bad-shapes",
        "bad-reference", "bad-status", "bad-bound", "result-without-menu"])
def test_malformed_files_name_the_field(tmp_path: Path, text: str, loader, field: str) -> None:
    with pytest.raises(FileFormatError) as info:
        loader(_write(tmp_path, text))
    assert info.value.field == field
    assert "allowed:" in str(info.value)


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="cannot be read"):
        load_menu(tmp_path / "absent.json")
    with pytest.raises(FileFormatError, match="not valid TOML"):
        load_problem(_write(tmp_path, "goods = = 2", "p.toml"))
    with pytest.raises(ProblemError, match="unknown keys"):
        load_problem(_write(tmp_path, "goods = 2\nbelief = 0.5\ncolour = 'red'\n", "q.toml"))


def test_reference_menu_survives_round_trip(tmp_path: Path) -> None:
    problem = Problem.paper_two_goods(0.0)
    ref = r2_two_goods(0.0)
    save_menu(ref.menu, tmp_path / "r2.json")
    assert evaluate(problem, load_menu(tmp_path / "r2.json")).profit == pytest.approx(
        ref.profit, abs=1e-12)
