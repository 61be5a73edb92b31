"""No result lost or corrupted: atomic writes and sidecars tied to their JSON, output paths
refused before any work and no folder created silently, every result round-trips (non-finite
numbers included), damaged or crafted result files refused with a FileFormatError."""

from __future__ import annotations

import errno
import io
import json
import math
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from amm_opt import Menu, Problem, Samples, solve
from amm_opt.errors import AmmOptError, FileFormatError
from amm_opt.evaluate import Evaluation
from amm_opt.io import (
    INLINE_LIMIT,
    load_menu,
    load_problem,
    load_result,
    result_to_json,
    save_menu,
    save_problem,
    save_result,
)
from amm_opt.result import Bounds, Result, Status


def _big_menu(seed: int) -> Menu:
    rng = np.random.default_rng(seed)
    k = INLINE_LIMIT // 2 + 10          # large enough for the .npz sidecar
    return Menu(rng.uniform(-1, 1, (k, 2)), rng.normal(size=k))


def _same(a: Menu, b: Menu) -> bool:
    return np.array_equal(a.allocations, b.allocations) and np.array_equal(a.prices, b.prices)


class _FullDiskFile:
    """A file opened for writing whose first write stores half the data, then fails (ENOSPC)."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, data):
        self._fh.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()
        return False


@contextmanager
def full_disk(monkeypatch, after: int = 0):
    """The disk fills up on the ``after + 1``-th file opened for writing (via ``io.open``, which
    pathlib, zipfile and os.fdopen all use)."""
    real_open = io.open
    opened = [0]

    def fake_open(file, mode="r", *args, **kwargs):
        fh = real_open(file, mode, *args, **kwargs)
        if any(c in mode for c in "wax"):
            opened[0] += 1
            if opened[0] > after:
                return _FullDiskFile(fh)
        return fh

    monkeypatch.setattr(io, "open", fake_open)
    try:
        yield
    finally:
        monkeypatch.setattr(io, "open", real_open)


# ------------------------------------------------------------------------------ atomic writes
def test_full_disk_leaves_the_old_menu_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    old = Menu([[1.0, 1.0], [-1.0, 0.5]], [0.9, -0.2])
    save_menu(old, path)
    before = path.read_bytes()
    with full_disk(monkeypatch), pytest.raises(AmmOptError) as info:
        save_menu(Menu([[0.5, 0.5]], [0.3]), path)
    assert str(path) in str(info.value) and "cannot be written" in str(info.value)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]   # no temporary file left
    assert _same(load_menu(path), old)


def test_full_disk_on_the_json_never_pairs_old_and_new_arrays(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    old, new = _big_menu(1), _big_menu(2)
    save_menu(old, path)
    files_before = sorted(p.name for p in tmp_path.iterdir())
    with full_disk(monkeypatch, after=1), pytest.raises(AmmOptError):   # the sidecar is written
        save_menu(new, path)
    assert _same(load_menu(path), old)
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before


@pytest.mark.parametrize("kind", ["result", "problem"])
def test_full_disk_leaves_old_results_and_problems_intact(tmp_path, monkeypatch, kind):
    problem = Problem.paper_two_goods(0.25)
    path = tmp_path / f"{kind}.json"
    if kind == "result":
        save_result(solve(problem, backend="separate"), path, problem=problem)
    else:
        save_problem(problem, path)
    before = path.read_bytes()
    with full_disk(monkeypatch), pytest.raises(AmmOptError):
        if kind == "result":
            save_result(solve(Problem.paper_two_goods(0.5), backend="separate"), path)
        else:
            save_problem(Problem.paper_two_goods(0.5), path)
    assert path.read_bytes() == before


def _sidecar(folder: Path, stem: str) -> Path:
    (found,) = [p for p in folder.iterdir() if p.suffix == ".npz" and p.name.startswith(stem + ".")]
    return found


def test_a_sidecar_from_another_save_is_refused(tmp_path):
    save_menu(_big_menu(1), tmp_path / "a.json")
    save_menu(_big_menu(2), tmp_path / "b.json")
    shutil.copyfile(_sidecar(tmp_path, "b"), _sidecar(tmp_path, "a"))
    with pytest.raises(FileFormatError, match="inconsistent"):
        load_menu(tmp_path / "a.json")


def test_resaving_replaces_the_sidecar_and_removes_the_old_one(tmp_path):
    path = tmp_path / "big.json"
    save_menu(_big_menu(1), path)
    save_menu(_big_menu(2), path)
    assert len([p for p in tmp_path.iterdir() if p.suffix == ".npz"]) == 1
    assert _same(load_menu(path), _big_menu(2))
    save_menu(Menu([[1.0, 1.0]], [0.9]), path)             # small: no sidecar any more
    assert [p.name for p in tmp_path.iterdir()] == ["big.json"]


def test_files_of_schema_2_with_a_plain_sidecar_are_still_read(tmp_path):
    menu = _big_menu(3)
    np.savez_compressed(tmp_path / "old.npz", allocations=menu.allocations, prices=menu.prices)
    (tmp_path / "old.json").write_text(json.dumps({
        "format": "amm_opt.menu", "schema": 2, "goods": 2, "items": menu.size,
        "allocations": {"npz": "old.npz", "key": "allocations"},
        "prices": {"npz": "old.npz", "key": "prices"}}))
    assert _same(load_menu(tmp_path / "old.json"), menu)


def test_writes_keep_permissions_and_follow_links(tmp_path):
    path = tmp_path / "m.json"
    save_menu(Menu([[1.0, 1.0]], [0.9]), path)
    os.chmod(path, 0o640)
    save_menu(Menu([[1.0, 1.0]], [0.8]), path)
    assert path.stat().st_mode & 0o777 == 0o640
    link = tmp_path / "link.json"
    link.symlink_to(path)
    save_menu(Menu([[1.0, 1.0]], [0.7]), link)
    assert link.is_symlink() and load_menu(path).prices[0] == 0.7


# ------------------------------------------------------------------------------ output paths
@pytest.mark.parametrize("where", ["missing-folder", "under-a-file", "a-folder", "long-name",
                                   "nul"])
@pytest.mark.parametrize("save", ["menu", "result", "problem"])
def test_save_functions_refuse_bad_paths_and_create_no_folder(tmp_path, where, save):
    (tmp_path / "file").write_text("x")
    path = {"missing-folder": tmp_path / "missing" / "r.json",
            "under-a-file": tmp_path / "file" / "r.json",
            "a-folder": tmp_path,
            "long-name": tmp_path / ("x" * 300 + ".json"),
            "nul": str(tmp_path / "r\0.json")}[where]
    problem = Problem.paper_two_goods()
    with pytest.raises(AmmOptError) as info:
        if save == "menu":
            save_menu(Menu([[1.0, 1.0]], [0.9]), path)
        elif save == "result":
            save_result(solve(problem, backend="separate"), path)
        else:
            save_problem(problem, path)
    assert info.value.field == "path"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]   # nothing created


def test_check_output_path_names_the_field_and_checks_everything(tmp_path, monkeypatch):
    from amm_opt.errors import OutputPathError
    from amm_opt.paths import check_output_path

    (tmp_path / "file").write_text("x")
    assert check_output_path(tmp_path / "ok.json", "--out") == tmp_path / "ok.json"
    assert check_output_path(tmp_path / "file", "--out") == tmp_path / "file"   # overwrite
    cases = {tmp_path / "no" / "x.json": "does not exist", tmp_path / "file" / "x": "a file",
             tmp_path: "is a folder", str(tmp_path) + "/": "names a folder",
             tmp_path / ("y" * 256): "longer than", "a\0b": "NUL", "": "non-empty",
             "/dev/null": "not a regular file", 3: "must be a file path"}
    for path, words in cases.items():
        with pytest.raises(OutputPathError, match=words) as info:
            check_output_path(path, "checkpoint_path")
        assert info.value.field == "checkpoint_path" and info.value.errno is None
    with pytest.raises(OutputPathError, match="suffix"):
        check_output_path(tmp_path / "x.gif", "--plot", suffixes=(".png", ".svg"))
    monkeypatch.setattr(os, "access", lambda *a, **k: False)   # a read-only folder
    with pytest.raises(OutputPathError, match="not writable"):
        check_output_path(tmp_path / "x.json", "--out")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs a POSIX user whose permissions are enforced (not root)")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(AmmOptError, match="not writable"):
            save_menu(Menu([[1.0, 1.0]], [0.9]), folder / "m.json")
    finally:
        folder.chmod(0o755)


# ------------------------------------------------------------------------------ round trips
def test_a_one_row_sample_result_round_trips(tmp_path):
    problem = Problem(goods=2, values=Samples(np.array([[0.5, 0.6]])), belief=[0.5, 0.6])
    result = solve(problem, backend="separate")
    assert result.bounds.lower_stderr == math.inf
    save_result(result, tmp_path / "r.json", problem=problem)
    back = load_result(tmp_path / "r.json")
    assert back.bounds == result.bounds
    assert back.evaluation.stderr == math.inf
    assert back.evaluation.confidence_interval == result.evaluation.confidence_interval
    json.loads(result_to_json(result), parse_constant=lambda c: pytest.fail(c))


def test_non_finite_numbers_round_trip_everywhere(tmp_path):
    from amm_opt.certificates import LPCertificate

    cert = LPCertificate(bound=math.inf, dual_objective=math.nan, roundoff_allowance=0.0,
                         quadrature_allowance=math.inf, points=np.array([[0.5, 0.5]]),
                         masses=np.array([math.nan]), pair_source=np.array([0]),
                         pair_target=np.array([0]), duals=np.array([math.inf]), lp_status="x")
    ev = Evaluation(profit=0.25, stderr=math.nan, method="qmc",
                    item_probability=np.array([0.0, math.nan, 1.0]),    # no trade first
                    item_profit=np.array([0.0, -math.inf, math.inf]),
                    confidence_interval=(-math.inf, math.nan), details={"x": math.nan})
    result = Result(menu=Menu([[1.0, 1.0], [0.5, 0.5]], [0.9, 0.4]), profit=0.25,
                    bounds=Bounds(lower=0.25, upper=math.inf, lower_stderr=math.inf),
                    status=Status.OPTIMAL, backend="x", solve_seconds=math.nan,
                    certificate=cert, stats={"gap": -math.inf, "v": np.array([math.nan])},
                    evaluation=ev)
    save_result(result, tmp_path / "r.json")
    back = load_result(tmp_path / "r.json")
    assert back.bounds == result.bounds and math.isnan(back.solve_seconds)
    np.testing.assert_array_equal(back.evaluation.item_probability, ev.item_probability)
    np.testing.assert_array_equal(back.evaluation.item_profit, ev.item_profit)
    assert math.isnan(back.evaluation.stderr)
    assert back.evaluation.confidence_interval[0] == -math.inf
    assert back.certificate.bound == math.inf and math.isnan(back.certificate.dual_objective)
    np.testing.assert_array_equal(back.certificate.duals, cert.duals)
    np.testing.assert_array_equal(back.certificate.masses, cert.masses)
    assert back.stats["gap"] == "-inf"


# ------------------------------------------------------------------------------ crafted files
@pytest.fixture
def result_data(tmp_path):
    problem = Problem.paper_two_goods(0.25)
    save_result(solve(problem, backend="separate"), tmp_path / "r.json", problem=problem)
    return json.loads((tmp_path / "r.json").read_text())


def _set(data, keys, value):
    node = data
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return data


@pytest.mark.parametrize(("keys", "value"), [
    (("bounds", "lower"), "nan"), (("bounds", "upper"), "nan"), (("bounds", "lower"), "inf"),
    (("bounds", "upper"), 0.01), (("schema",), True), (("schema",), 2.0), (("status",), 1),
    (("backend",), 3), (("message",), []), (("profit",), "x"), (("profit",), "nan"),
    (("profit",), True), (("bounds",), []), (("bounds", "lower_stderr"), -1.0),
    (("bounds", "lower_method"), 7), (("menu", "prices"), ["1"]),
    (("menu", "prices"), [None]), (("menu", "allocations"), [[1, 2], [3]]),
    (("evaluation", "stderr"), "abc"), (("evaluation", "item_profit"), [0.1]),
    (("evaluation", "confidence_interval"), [0.1]), (("evaluation", "details"), 3),
    (("evaluation", "profit"), None), (("certificate",), {"type": "lp", "bound": "x"}),
    (("certificate",), {"type": "lp", "points": "x"}), (("certificate",), 5),
    (("stats",), [1]), (("solve_seconds",), "soon"), (("sidecar",), {"file": "../x.npz"}),
    (("menu", "prices"), {"npz": "/etc/passwd", "key": "prices"}),
])
def test_crafted_result_fields_are_refused(tmp_path, result_data, keys, value):
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(_set(result_data, keys, value)))
    with pytest.raises(FileFormatError):
        load_result(path)


def test_lower_above_upper_is_refused_beyond_its_stated_error(tmp_path, result_data):
    lower = result_data["bounds"]["lower"]
    path = tmp_path / "r.json"
    result_data["bounds"].update(upper=lower - 0.01, lower_stderr=0.0)
    path.write_text(json.dumps(result_data))
    with pytest.raises(FileFormatError, match="lower bound above the upper"):
        load_result(path)
    result_data["bounds"]["lower_stderr"] = 0.01    # within 4 standard errors: accepted
    path.write_text(json.dumps(result_data))
    assert load_result(path).bounds.upper == lower - 0.01


@pytest.mark.parametrize("loader", [load_result, load_menu, load_problem])
def test_damaged_files_are_refused(tmp_path, monkeypatch, loader):
    cases = {"bytes.json": b'{"format": "amm_opt.result", "schema": 3, "x": "\xff\xfe"}',
             "deep.json": b"[" * 100_000 + b"]" * 100_000,
             "nested.json": b'{"format": "amm_opt.menu", "schema": 3, "x": ' + b"[" * 200 +
                            b"]" * 200 + b"}",
             "nan.json": b'{"format": "amm_opt.menu", "schema": 3, "prices": [NaN]}',
             "digits.json": b'{"format": "amm_opt.menu", "schema": 3, "items": 1' + b"0" * 5000
                            + b"}",
             "huge.json": b'{"format": "amm_opt.menu", "schema": 3}' + b" " * 300_000}
    import amm_opt.paths

    monkeypatch.setattr(amm_opt.paths, "MAX_FILE_BYTES", 200_000, raising=False)
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(FileFormatError):
            loader(tmp_path / name)
    for path in (str(tmp_path / "a\0b.json"), tmp_path, "/dev/zero"):
        with pytest.raises(FileFormatError):
            loader(path)


def test_damaged_sample_files_are_refused(tmp_path):
    np.save(tmp_path / "c.npy", np.array([1 + 2j, 3]))
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**9, 10**9)})
    (tmp_path / "big.npy").write_bytes(b"\x93NUMPY\x01\x00" + header.getvalue()[8:] + b"x" * 16)
    (tmp_path / "bad.csv").write_bytes(b"1,2\n3\n\xff")
    for name in ("c.npy", "big.npy", "bad.csv"):
        (tmp_path / "p.toml").write_text(
            f'goods = 2\nbelief = 0.5\n[values]\ntype = "samples"\nfile = "{name}"\n')
        with pytest.raises(AmmOptError):
            load_problem(tmp_path / "p.toml")


def test_the_target_is_never_opened_for_writing(tmp_path, monkeypatch):
    """Writes go to a temporary file renamed over the target, never a truncating open of it."""
    path = tmp_path / "m.json"
    save_menu(Menu([[1.0, 1.0]], [0.9]), path)
    real = io.open

    def refuse_target(file, mode="r", *args, **kwargs):
        if "w" in mode and isinstance(file, (str, os.PathLike)) and Path(file) == path:
            raise AssertionError("the target itself was opened for writing")
        return real(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", refuse_target)
    save_menu(Menu([[1.0, 1.0]], [0.8]), path)
    monkeypatch.undo()
    assert load_menu(path).prices[0] == 0.8
