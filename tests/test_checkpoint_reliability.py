"""RochetNet checkpoints: the path is checked before the first step, a checksum catches a flipped
byte, wrong keys, shapes and dtypes are refused clearly, Ctrl-C writes a last checkpoint that
resumes bit for bit, and training knows the solver only by a Protocol."""

from __future__ import annotations

import ast
import os
import signal
from pathlib import Path

import numpy as np
import pytest

from amm_opt import references, solve
from amm_opt.errors import AmmOptError, FileFormatError

torch = pytest.importorskip("torch", reason="RochetNet needs torch: pip install 'amm-opt[torch]'")

FAST = {"menu_size": 8, "batch_size": 256, "steps": 120, "eval_every": 20,
        "validation_size": 512, "device": "cpu", "progress": False}
PROBLEM = references.r2_two_goods(0.25).problem


def _train(path: Path, **changes):
    return solve(PROBLEM, backend="rochetnet", checkpoint_path=path, **{**FAST, **changes})


# ------------------------------------------------------------------------------ output path
@pytest.mark.parametrize("where", ["missing-folder", "under-a-file", "a-folder"])
def test_checkpoint_path_is_checked_before_the_first_step(tmp_path, where):
    (tmp_path / "file").write_text("x")
    path = {"missing-folder": tmp_path / "no" / "c.pt", "under-a-file": tmp_path / "file" / "c.pt",
            "a-folder": tmp_path}[where]
    steps = []
    with pytest.raises(AmmOptError) as info:
        _train(path, eval_every=1, callback=lambda step, info: steps.append(step))
    assert info.value.field == "checkpoint_path" and steps == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


# ------------------------------------------------------------------------ damaged files, Ctrl-C
def test_a_flipped_byte_in_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "c.pt"
    _train(path)
    data = bytearray(path.read_bytes())
    theta = torch.load(path, weights_only=True)["theta"]
    at = bytes(data).find(theta.numpy().tobytes())
    assert at > 0
    data[at] ^= 1                        # the lowest mantissa bit of theta[0, 0]
    path.write_bytes(bytes(data))
    assert torch.load(path, weights_only=True)["theta"][0, 0] != theta[0, 0]   # loads silently
    with pytest.raises(FileFormatError, match="checksum") as info:
        _train(path, resume=True)
    assert info.value.field == "checkpoint_path"


def _crafted(tmp_path: Path, change) -> Path:
    """A checkpoint of a finished run, changed by ``change`` and re-signed where possible."""
    from amm_opt.solvers.rochetnet import training

    path = tmp_path / "c.pt"
    _train(path, steps=60, checkpoint_every=20)
    data = torch.load(path, weights_only=True)
    data["finished"] = False
    data["step"] = 40
    change(data)
    if hasattr(training, "checksum"):
        data["checksum"] = training.checksum(data)
    torch.save(data, path)
    return path


def _state(data):
    return data["optimizer"]["state"]


@pytest.mark.parametrize("change", [
    lambda d: d.update(theta=d["theta"][:, :1]),
    lambda d: d.update(price=d["price"].double()),
    lambda d: d.update(best_theta=d["best_theta"][:3]),
    lambda d: d.pop("rng"),
    lambda d: d.update(rng=d["rng"][:10]),
    lambda d: _state(d)[0].update(exp_avg=_state(d)[0]["exp_avg"][:2]),
    lambda d: _state(d)[1].pop("exp_avg_sq"),
    lambda d: d["optimizer"]["param_groups"][0].pop("lr"),
    lambda d: d.update(step=40.0),
    lambda d: d.update(step=10**6),
    lambda d: d.update(history=[[1, "x"]]),
    lambda d: d.update(stop_reason="bored"),
    lambda d: d.update(finished="no"),
    lambda d: d.update(best_value="high"),
], ids=["theta-shape", "price-dtype", "best-shape", "no-rng", "rng-size", "adam-shape",
        "adam-key", "group-key", "step-float", "step-range", "history", "stop-reason",
        "finished-type", "best-type"])
def test_checkpoints_with_wrong_keys_shapes_or_dtypes_are_refused(tmp_path, change):
    path = _crafted(tmp_path, change)
    with pytest.raises(FileFormatError) as info:
        _train(path, steps=60, checkpoint_every=20, resume=True)
    assert info.value.field == "checkpoint_path" and str(path) in str(info.value)


def test_an_older_checkpoint_format_is_refused_clearly(tmp_path):
    path = _crafted(tmp_path, lambda d: d.update(format="amm_opt.rochetnet/1"))
    with pytest.raises(FileFormatError, match="format"):
        _train(path, steps=60, checkpoint_every=20, resume=True)


def test_sigint_writes_a_last_checkpoint_that_resumes_bit_for_bit(tmp_path):
    whole = _train(tmp_path / "whole.pt", checkpoint_every=10**6)

    def interrupt(step, info):
        if step == 80:
            os.kill(os.getpid(), signal.SIGINT)

    path = tmp_path / "cut.pt"
    with pytest.raises(KeyboardInterrupt):
        _train(path, checkpoint_every=10**6, callback=interrupt)   # no periodic checkpoint
    saved = torch.load(path, weights_only=True)
    assert saved["step"] == 80 and not saved["finished"]
    resumed = _train(path, checkpoint_every=10**6, resume=True)
    assert resumed.stats["resumed_from_step"] == 80
    assert np.array_equal(resumed.menu.allocations, whole.menu.allocations)
    assert np.array_equal(resumed.menu.prices, whole.menu.prices)
    assert resumed.stats["validation_history"] == whole.stats["validation_history"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # restored


def test_a_second_sigint_interrupts_at_once(tmp_path):
    def interrupt(step, info):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGINT)   # raises here, inside the step

    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / "c.pt", checkpoint_every=10**6, callback=interrupt)
    assert not (tmp_path / "c.pt").exists()   # mid-step: no inconsistent checkpoint written


# ------------------------------------------------------------------------------ structure
def test_training_knows_the_solver_only_by_a_protocol():
    import amm_opt.solvers.rochetnet.training as training

    tree = ast.parse(Path(training.__file__).read_text(encoding="utf-8"))
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert "solver" not in imported and "TYPE_CHECKING" not in Path(training.__file__).read_text()
    from amm_opt.solvers.rochetnet import RochetNet

    settings = training.TrainingSettings.__annotations__
    assert all(hasattr(RochetNet(), name) for name in settings)


def test_train_is_split_into_short_functions():
    import amm_opt.solvers.rochetnet.training as training

    tree = ast.parse(Path(training.__file__).read_text(encoding="utf-8"))
    long = {node.name: node.end_lineno - node.lineno + 1 for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 55}
    assert not long, long
