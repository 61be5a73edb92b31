"""Fuzz the loaders with mutated files: every load succeeds with a valid object or raises
an AmmOptError; never another exception, never a hang.

Valid seed files (menus, results with and without a sidecar and a certificate, problems in JSON
and TOML, sample files, a RochetNet checkpoint) are mutated by a seeded generator: byte-level
(bit flips, truncation, deleted spans, inserted garbage, duplicated spans, a digit run) and, for
JSON, tree-level (a node replaced by another type, NaN, inf, huge numbers, deep nesting, a key
removed). Size guards are lowered so that no mutation can make a load slow; an alarm turns a
hang into a failure.
"""

from __future__ import annotations

import json
import math
import signal
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from amm_opt import Menu, Problem, Samples, references, solve
from amm_opt.errors import AmmOptError
from amm_opt.evaluate import Evaluation
from amm_opt.io import (
    INLINE_LIMIT,
    load_menu,
    load_problem,
    load_result,
    save_menu,
    save_problem,
    save_result,
)
from amm_opt.result import Bounds, Result, Status

SEED = 20_240_612
BYTE_MUTATIONS = 40          # per seed file
TREE_MUTATIONS = 50          # per JSON seed file
SECONDS_PER_LOAD = 10


class _Hang(Exception):
    pass


def _seed_files(folder: Path) -> list[tuple[str, Path, str]]:
    """``(name, file to mutate, loader)``; the loader reads a file beside or the file itself."""
    problem = Problem.paper_two_goods(0.25)
    rng = np.random.default_rng(0)
    save_menu(references.r2_two_goods(0.0).menu, folder / "menu.json")
    k = INLINE_LIMIT // 2 + 1
    save_menu(Menu(rng.uniform(-1, 1, (k, 2)), rng.normal(size=k)), folder / "big.json")
    save_result(solve(problem, backend="separate"), folder / "separate.json", problem=problem)
    save_result(solve(problem, backend="grid_lp", grid=4), folder / "lp.json", problem=problem)
    big = Menu(rng.uniform(-1, 1, (k, 2)), rng.normal(size=k))
    ev = Evaluation(profit=0.1, stderr=math.inf, method="sample-mean",
                    item_probability=np.full(big.size, 1.0 / big.size),
                    item_profit=np.zeros(big.size), confidence_interval=(-math.inf, math.inf))
    save_result(Result(menu=big, profit=0.1, bounds=Bounds(lower=0.1, upper=math.inf,
                                                           lower_stderr=math.inf),
                       status=Status.OPTIMAL, backend="x", evaluation=ev),
                folder / "bigresult.json")
    save_problem(problem, folder / "problem.json")
    save_problem(Problem(goods=2, values=Samples(rng.uniform(size=(INLINE_LIMIT, 2))),
                         belief=0.5), folder / "samples.json")
    (folder / "problem.toml").write_text(
        'goods = 2\nbelief = [0.4, 0.6]\nadverse_selection = 0.25\nallocation = [-1.0, 1.0]\n'
        '[values]\ntype = "beta"\na = 2.0\nb = 3.0\n')
    np.save(folder / "trades.npy", rng.uniform(size=(40, 2)))
    np.savetxt(folder / "trades.csv", rng.uniform(size=(40, 2)), delimiter=",")
    for suffix in ("npy", "csv"):
        (folder / f"{suffix}.toml").write_text(
            f'goods = 2\nbelief = 0.5\n[values]\ntype = "samples"\nfile = "trades.{suffix}"\n')
    files = [("menu", folder / "menu.json", "menu"), ("big menu", folder / "big.json", "menu"),
             ("result", folder / "separate.json", "result"),
             ("lp result", folder / "lp.json", "result"),
             ("result with sidecar", folder / "bigresult.json", "result"),
             ("problem", folder / "problem.json", "problem"),
             ("sample problem", folder / "samples.json", "problem"),
             ("toml", folder / "problem.toml", "problem"),
             ("npy samples", folder / "trades.npy", "problem:npy.toml"),
             ("csv samples", folder / "trades.csv", "problem:csv.toml")]
    for name in ("big", "bigresult", "samples"):
        (sidecar,) = folder.glob(f"{name}.*.npz")
        files.append((f"{name} sidecar", sidecar, f"{'menu' if name == 'big' else ''}"
                      f"{'result' if name == 'bigresult' else ''}"
                      f"{'problem' if name == 'samples' else ''}:{name}.json"))
    if _torch_available():
        _train(folder / "ckpt.pt")
        files.append(("checkpoint", folder / "ckpt.pt", "checkpoint"))
    return files


def _torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


CHECKPOINT_RUN = {"menu_size": 4, "batch_size": 64, "steps": 20, "eval_every": 10,
                  "validation_size": 64, "device": "cpu", "progress": False}


def _train(path: Path, **changes):
    return solve(references.r1_bid_ask().problem, backend="rochetnet", checkpoint_path=path,
                 **{**CHECKPOINT_RUN, **changes})


def _load(loader: str, path: Path):
    kind, _, other = loader.partition(":")
    target = path.with_name(other) if other else path
    if kind == "menu":
        out = load_menu(target)
        assert isinstance(out, Menu)
    elif kind == "result":
        out = load_result(target)
        assert isinstance(out, Result)
        assert out.bounds.lower is None or math.isfinite(out.bounds.lower)
        assert out.bounds.upper is None or not math.isnan(out.bounds.upper)
    elif kind == "problem":
        out = load_problem(target)
        assert isinstance(out, Problem)
    else:
        out = _train(target, resume=True)
    return out


# ------------------------------------------------------------------------------ mutations
def _byte_mutation(data: bytes, rng: np.random.Generator) -> bytes:
    n = len(data)
    pos = int(rng.integers(0, max(n, 1)))
    span = int(rng.integers(1, 64))
    kind = int(rng.integers(0, 7))
    if kind == 0:                                       # flip one bit
        out = bytearray(data)
        out[pos] ^= 1 << int(rng.integers(0, 8))
        return bytes(out)
    if kind == 1:                                       # truncate
        return data[:pos]
    if kind == 2:                                       # delete a span
        return data[:pos] + data[pos + span:]
    if kind == 3:                                       # insert garbage
        return data[:pos] + rng.integers(0, 256, span, dtype=np.uint8).tobytes() + data[pos:]
    if kind == 4:                                       # duplicate a span
        return data[:pos] + data[pos:pos + span] * 3 + data[pos:]
    if kind == 5:                                       # a long digit run
        return data[:pos] + b"9" * int(rng.integers(20, 6000)) + data[pos:]
    return data[:pos] + bytes([data[pos] ^ 0xFF]) + data[pos + 1:] if n else data


_REPLACEMENTS = ["nan", "inf", "-inf", 1e308, -1e308, 10**30, -(10**30), -1, 0, True, None,
                 "", "x", [], {}, [[1, 2], [3]], {"npz": "x.npz", "key": "k"}, 1e-320,
                 "NESTED"]


def _nodes(tree, path=()):
    yield path
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree[:8]):
            yield from _nodes(value, (*path, i))


def _tree_mutation(data: bytes, rng: np.random.Generator) -> bytes:
    tree = json.loads(data)
    paths = [p for p in _nodes(tree) if p]
    where = paths[int(rng.integers(0, len(paths)))]
    parent = tree
    for key in where[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and rng.random() < 0.15:
        del parent[where[-1]]
    else:
        new = _REPLACEMENTS[int(rng.integers(0, len(_REPLACEMENTS)))]
        if new == "NESTED":                   # deeper than the guard, within json.dumps
            new = []
            for _ in range(int(rng.integers(50, 900))):
                new = [new]
        parent[where[-1]] = new
    if rng.random() < 0.2:                     # non-standard literals
        text = json.dumps(tree, allow_nan=True)
        return text.replace('"nan"', "NaN", 1).encode()
    return json.dumps(tree).encode()


# ------------------------------------------------------------------------------ the test
@pytest.fixture
def small_guards(monkeypatch):
    import amm_opt.paths

    monkeypatch.setattr(amm_opt.paths, "MAX_FILE_BYTES", 4 * 2**20)
    monkeypatch.setattr(amm_opt.paths, "MAX_ARRAY_BYTES", 32 * 2**20)


def _on_alarm(signum, frame):
    raise _Hang


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
def test_mutated_files_load_or_raise_an_amm_opt_error(tmp_path, small_guards):
    rng = np.random.default_rng(SEED)
    seeds = _seed_files(tmp_path)
    for _name, path, loader in seeds:          # the unmutated files load
        _load(loader, path)
    failures: list[str] = []
    tried, refused, started = 0, 0, time.perf_counter()
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    try:
        for name, path, loader in seeds:
            original = path.read_bytes()
            mutations = [_byte_mutation] * BYTE_MUTATIONS
            if path.suffix == ".json":
                mutations += [_tree_mutation] * TREE_MUTATIONS
            for mutate in mutations:
                path.write_bytes(mutate(original, rng))
                tried += 1
                signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_LOAD)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        _load(loader, path)
                except AmmOptError:
                    refused += 1
                except _Hang:
                    failures.append(f"{name}/{mutate.__name__}: no answer in "
                                    f"{SECONDS_PER_LOAD} s")
                except Exception as exc:  # anything else is what this test looks for
                    failures.append(f"{name}/{mutate.__name__}: {type(exc).__name__}: {exc}"[:300])
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            path.write_bytes(original)
    finally:
        signal.signal(signal.SIGALRM, previous)
    print(f"{tried} mutated files, {refused} refused with an AmmOptError, "
          f"{tried - refused - len(failures)} loaded, {time.perf_counter() - started:.1f} s")
    assert tried >= 500
    assert not failures, "\n".join(failures)
