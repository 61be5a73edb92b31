r"""RochetNet's training loop: samplers, schedules, validation, checkpoints (imports torch).

Only :mod:`amm_opt.solvers.rochetnet` imports this module, inside ``RochetNet.solve``, so that
``import amm_opt`` never loads torch; it knows the solver only through :class:`TrainingSettings`.
The loop maximises the soft-choice profit of :mod:`.kernel` with Adam on fresh batches; every
``eval_every`` steps it measures the *argmax* profit of the menu on fixed validation points
(scrambled Sobol or the sample), keeps the best, checks for NaN/inf, reports and may stop early.
Everything that decides the trajectory (parameters, Adam moments, the generator state, the
best-so-far bookkeeping) is a tensor or a plain number in the checkpoint, so a resumed run
repeats an uninterrupted one bit for bit on the same device. A checkpoint's sha256, keys, shapes
and dtypes are checked before resuming; Ctrl-C writes a last checkpoint after the current step.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.stats import qmc

from ...distributions import Product, Samples
from ...errors import BackendUnavailableError, FileFormatError, OptionError, SolverFailedError
from ...interrupts import deferred_interrupt
from ...paths import MAX_ARRAY_BYTES, check_output_path, read_bytes, write_atomic
from ...problem import Problem
from ..base import progress_bar
from .allocations import (
    allocation_map,
    fingerprint_key,
    initial_parameters,
    menu_parameters,
    trading_items,
)
from .kernel import Workspace, hard_profit, soft_profit

__all__ = ["TrainOutcome", "TrainingSettings", "resolve_device", "train"]

FloatArray = NDArray[np.float64]
CHECKPOINT_FORMAT = "amm_opt.rochetnet/2"
_WRITTEN_BY = ("a file written by RochetNet(checkpoint_path=...) for the same problem and "
               "settings, or resume=False to start afresh")
# Points of the tabulated quantile function used to sample non-uniform marginals on the device:
# linear interpolation between 2^16 + 1 exact quantiles moves each sample by far less than the
# batch noise (Wasserstein-1 distance to the true law ~1e-9 for Beta(2, 2)); the menu is judged
# afterwards by the exact law anyway.
_PPF_TABLE = 1 << 16


class TrainingSettings(Protocol):
    """What training reads from the solver (``RochetNet`` has these; see its docstring)."""

    menu_size: int
    batch_size: int
    steps: int
    lr: float
    lr_final: float | None
    allocation_lr_scale: float
    temperature: float
    temperature_final: float | None
    device: str
    dtype: str
    chunk_size: int
    torch_compile: bool
    eval_every: int
    validation_size: int
    patience: int | None
    min_delta: float
    time_limit: float | None
    checkpoint_path: str | os.PathLike[str] | None
    checkpoint_every: int
    resume: bool
    callback: Callable[[int, dict[str, Any]], Any] | None
    progress: bool | None
    initial_menu: Any

    def trajectory_settings(self) -> dict[str, Any]: ...


def resolve_device(name: str) -> torch.device:
    """``"auto"`` → CUDA if available else CPU; otherwise the named device, checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise OptionError("is not a torch device", field="device", value=name,
                          allowed="'auto', 'cpu', 'cuda' or 'cuda:N'") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BackendUnavailableError("asks for CUDA but torch sees no CUDA device here",
                                      field="device", value=name,
                                      allowed="device='auto' or 'cpu', or a CUDA build of torch")
    if device.type == "cuda" and device.index is not None and \
            device.index >= torch.cuda.device_count():
        raise OptionError(f"names a CUDA device that does not exist (torch sees "
                          f"{torch.cuda.device_count()})", field="device", value=name,
                          allowed="'cuda' or 'cuda:N' with N < the device count")
    if device.type not in ("cpu", "cuda"):
        raise OptionError("is not supported", field="device", value=name,
                          allowed="'auto', 'cpu', 'cuda' or 'cuda:N'")
    return device


# ---------------------------------------------------------------------------------------------
# Problem → tensors
# ---------------------------------------------------------------------------------------------
@dataclass
class _Setup:
    """Tensors and constants derived once from the problem."""

    device: torch.device
    dtype: torch.dtype
    alloc: Callable[[torch.Tensor], torch.Tensor]   # logits -> allocations in X
    belief: torch.Tensor         # (n,)
    kappa: float
    lam: float
    scale: float                 # utility scale: temperatures and prices are relative to it
    sample: Callable[[int, torch.Generator], torch.Tensor]
    posterior: Callable[[torch.Tensor], torch.Tensor | None]
    val_v: torch.Tensor          # (m, n) fixed validation types
    val_q: torch.Tensor          # (m, n) their posteriors


def _product_sampler(dist: Product, device: torch.device, dtype: torch.dtype
                     ) -> Callable[[int, torch.Generator], torch.Tensor]:
    n = dist.goods
    low = torch.as_tensor(dist.low, dtype=dtype, device=device)
    span = torch.as_tensor(dist.high - dist.low, dtype=dtype, device=device)
    if dist.is_uniform:
        def sample_uniform(m: int, gen: torch.Generator) -> torch.Tensor:
            return torch.rand((m, n), generator=gen, device=device, dtype=dtype).mul_(span) \
                .add_(low)
        return sample_uniform
    # Exact quantiles in float64 on a grid, interpolated on the device (no host round trip).
    grid = np.linspace(0.0, 1.0, _PPF_TABLE + 1)
    table = np.column_stack([m.ppf1(grid) for m in dist.marginals])
    table[0], table[-1] = dist.low, dist.high
    tab = torch.as_tensor(table.T.ravel(), dtype=dtype, device=device)   # good-major
    offset = torch.arange(n, device=device) * (_PPF_TABLE + 1)

    def sample_table(m: int, gen: torch.Generator) -> torch.Tensor:
        u = torch.rand((m, n), generator=gen, device=device, dtype=dtype).mul_(_PPF_TABLE)
        idx = u.long().clamp_(max=_PPF_TABLE - 1)
        frac = u - idx
        flat = idx + offset
        left = tab[flat]
        return left + frac * (tab[flat + 1] - left)
    return sample_table


def _validation_points(problem: Problem, size: int, seed: int) -> FloatArray:
    dist = problem.distribution
    if isinstance(dist, Samples):
        values = np.asarray(dist.values)
        if values.shape[0] <= size:
            return values.copy()
        pick = np.random.default_rng(seed).choice(values.shape[0], size=size, replace=False)
        return values[np.sort(pick)]
    assert isinstance(dist, Product)
    sobol = qmc.Sobol(problem.goods, scramble=True, seed=np.random.default_rng(seed))
    return dist.ppf(sobol.random_base2(max(1, math.ceil(math.log2(size)))))


def _setup(problem: Problem, solver: TrainingSettings, device: torch.device, dtype: torch.dtype,
           validation_seed: int) -> _Setup:
    dist = problem.distribution

    def tensor(a: Any) -> torch.Tensor:
        return torch.as_tensor(np.array(a, dtype=np.float64), dtype=dtype, device=device)  # copy

    if isinstance(dist, Samples):
        pool = tensor(dist.values)
        rows = pool.shape[0]

        def sample(m: int, gen: torch.Generator) -> torch.Tensor:
            return pool[torch.randint(0, rows, (m,), generator=gen, device=device)]
    else:
        sample = _product_sampler(dist, device, dtype)

    if problem.linear_update:
        def posterior(v: torch.Tensor) -> torch.Tensor | None:
            return None                  # the kernel forms κc + λv itself
    else:
        def posterior(v: torch.Tensor) -> torch.Tensor | None:
            # A user rule is a numpy callable: this is the one host round trip per step, and
            # only for custom rules.
            out = problem.posterior(v.detach().to("cpu", torch.float64).numpy())
            return torch.as_tensor(out, dtype=dtype, device=device)

    val = _validation_points(problem, solver.validation_size, validation_seed)
    alloc_width = problem.allocation_high - problem.allocation_low
    value_width = problem.value_high - problem.value_low
    scale = float(np.mean(value_width) * np.mean(alloc_width) / 2.0)
    return _Setup(device=device, dtype=dtype, alloc=allocation_map(problem, tensor),
                  belief=tensor(problem.belief), kappa=problem.kappa,
                  lam=problem.adverse_selection, scale=scale if scale > 0 else 1.0,
                  sample=sample, posterior=posterior, val_v=tensor(val),
                  val_q=tensor(problem.posterior(val)))


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------
def fingerprint(problem: Problem, solver: TrainingSettings, device: torch.device) -> str:
    """Hash of everything that decides the training trajectory (not paths, callbacks, limits)."""
    dist = problem.distribution
    if isinstance(dist, Samples):
        law = "samples:" + hashlib.sha256(np.ascontiguousarray(dist.values).tobytes()).hexdigest()
    else:
        law = repr(dist)
    update = "linear" if problem.update is None else \
        f"custom:{getattr(problem.update, '__qualname__', type(problem.update).__name__)}"
    parts = [law, update, repr(np.asarray(problem.belief).tolist()),
             repr(problem.adverse_selection), fingerprint_key(problem),
             device.type]
    parts += [f"{k}={v!r}" for k, v in sorted(solver.trajectory_settings().items())]
    start = getattr(solver, "initial_menu", None)
    if start is not None:               # the starting menu decides the trajectory: its numbers
        h = hashlib.sha256(np.ascontiguousarray(start.allocations).tobytes())
        h.update(np.ascontiguousarray(start.prices).tobytes())
        parts.append("initial_menu=" + h.hexdigest())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def checksum(payload: dict[str, Any]) -> str:
    """sha256 over every tensor's bytes and every number of a checkpoint (its checksum aside)."""
    h = hashlib.sha256()

    def plain(obj: Any) -> Any:  # tensors' bytes into h, in a fixed order; the rest by repr
        if isinstance(obj, torch.Tensor):
            t = obj.detach().cpu().contiguous()
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
            return f"tensor({t.dtype}, {tuple(t.shape)})"
        if isinstance(obj, dict):
            return [(repr(k), plain(obj[k])) for k in sorted(obj, key=repr)]
        return [plain(v) for v in obj] if isinstance(obj, (list, tuple)) else obj

    h.update(repr(plain({k: v for k, v in payload.items() if k != "checksum"})).encode())
    return h.hexdigest()


def _damaged(path: Path, what: str) -> FileFormatError:
    return FileFormatError(f"is damaged or not a checkpoint of this run: {what}",
                           field="checkpoint_path", value=str(path), allowed=_WRITTEN_BY)


def load_checkpoint(path: Path, expected: str) -> dict[str, Any]:
    """Load with ``weights_only=True``, verify the checksum, and check the checkpoint belongs to
    this problem and these settings."""
    raw = read_bytes(path, MAX_ARRAY_BYTES, "checkpoint_path", _WRITTEN_BY)
    try:
        data = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises a zoo of types for unreadable files
        raise _damaged(path, f"torch cannot read it ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise _damaged(path, f"its format is not {CHECKPOINT_FORMAT!r} (older versions' "
                             "checkpoints cannot be resumed)")
    try:
        intact = data.get("checksum") == checksum(data)
    except (TypeError, RuntimeError, ValueError):
        intact = False
    if not intact:
        raise _damaged(path, "its checksum does not match its contents")
    if data.get("fingerprint") != expected:
        raise OptionError(
            "belongs to a different problem or different training settings (menu_size, "
            "batch_size, steps, lr, temperature, seed, dtype, device type, ...)",
            field="resume", value=str(path),
            allowed="the same problem and settings as the run that wrote it, or resume=False "
                    "(or another checkpoint_path) to start afresh")
    return data


def _kind(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"a {x.dtype} tensor of shape {tuple(x.shape)}"
    return f"keys {sorted(map(str, x))}" if isinstance(x, dict) else f"a {type(x).__name__}"


def _mismatch(data: Any, like: Any, name: str) -> str | None:
    """Where ``data`` differs from ``like`` in keys, types, shapes or dtypes (None: nowhere);
    a list ``like`` that is empty accepts any list."""
    if isinstance(like, torch.Tensor):
        ok = isinstance(data, torch.Tensor) and data.shape == like.shape and \
            data.dtype == like.dtype
    elif isinstance(like, dict):
        ok = isinstance(data, dict) and set(data) == set(like)
        pairs = [(data[k], like[k], f"{name}[{k!r}]") for k in like] if ok else []
    elif isinstance(like, (list, tuple)):
        ok = isinstance(data, (list, tuple)) and (len(data) == len(like) or not like)
        pairs = [(d, x, f"{name}[{i}]") for i, (d, x) in
                 enumerate(zip(data, like, strict=True))] if ok and like else []
    elif type(like) is float:
        ok = type(data) in (int, float)
    else:
        ok = type(data) is type(like)
    if ok and isinstance(like, (dict, list, tuple)):
        return next((e for d, x, n in pairs if (e := _mismatch(d, x, n)) is not None), None)
    return None if ok else f"{name} has {_kind(data)}, expected {_kind(like)}"


def _check_contents(path: Path, data: dict[str, Any], like: dict[str, Any], steps: int) -> None:
    """Keys, types, shapes and dtypes of a checkpoint against ``like`` (a payload of this run)."""
    like["optimizer"]["state"] = {
        i: {"step": torch.tensor(0.0), "exp_avg": like[k], "exp_avg_sq": like[k]}
        for i, k in enumerate(("theta", "price"))} if data.get("step") else {}
    problem = _mismatch(data, {**like, "checksum": ""}, "checkpoint")
    if problem is None and not all(len(p) == 2 and type(p[0]) is int and
                                   type(p[1]) in (int, float) for p in data["history"]):
        problem = "its validation history is not a list of (step, profit)"
    if problem is None and not (0 <= data["step"] <= steps and data["stop_reason"] in
                                ("steps", "callback", "early_stop", "time_limit")):
        problem = f"step {data['step']}, stop reason {data['stop_reason']!r}"
    if problem is not None:
        raise _damaged(path, problem)


# ---------------------------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------------------------
@dataclass
class TrainOutcome:
    """What the loop hands back to the solver (float64 numpy at the boundary)."""

    theta: FloatArray            # (K, n) best logits
    price: FloatArray            # (K,) best prices (already multiplied by the scale)
    steps_run: int
    stop_reason: str
    best_step: int
    best_estimate: float
    seconds: float               # training time summed over resumptions
    session_seconds: float       # training time of this call only
    resumed_from: int | None
    last_checkpoint: str | None
    history: list[tuple[int, float]] = field(default_factory=list)


def _schedule(start: float, end: float, step: int, steps: int) -> float:
    """Geometric interpolation from ``start`` (step 0) to ``end`` (last step)."""
    if steps <= 1 or start == end:
        return start
    return start * (end / start) ** (step / (steps - 1))


class _Trainer:
    """One training run: the state that decides the trajectory and the steps that advance it."""

    def __init__(self, problem: Problem, solver: TrainingSettings, seeds: dict[str, int]) -> None:
        self.solver = solver
        self.path = None if solver.checkpoint_path is None else \
            check_output_path(solver.checkpoint_path, "checkpoint_path")
        device = resolve_device(solver.device)
        dtype = torch.float32 if solver.dtype == "float32" else torch.float64
        self.setup = setup = _setup(problem, solver, device, dtype, seeds["validation"])
        items = solver.menu_size
        theta0, price0 = initial_parameters(problem, items, seeds["init"], setup.scale)
        if solver.initial_menu is not None:
            # The given menu's items (no-trade left out) take the first places; the rest keep
            # their usual start, so a small menu can grow.
            x, p = trading_items(solver.initial_menu)
            theta0[:len(p)], price0[:len(p)] = menu_parameters(problem, x, p, setup.scale)
        self.theta = torch.tensor(theta0, dtype=dtype, device=device, requires_grad=True)
        self.price = torch.tensor(price0, dtype=dtype, device=device, requires_grad=True)
        self.opt = torch.optim.Adam(
            [{"params": [self.theta], "mult": float(solver.allocation_lr_scale)},
             {"params": [self.price], "mult": 1.0}], lr=solver.lr)
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seeds["torch"])
        rows = max(1, min(solver.chunk_size // items, solver.batch_size))
        self.ws = Workspace(rows, items, self.theta.detach(), compile=solver.torch_compile)
        self.lr_final = solver.lr if solver.lr_final is None else solver.lr_final
        self.tau_final = solver.temperature_final or solver.temperature
        self.best_theta, self.best_price = self.theta.detach().clone(), self.price.detach().clone()
        self.best_value, self.best_step, self.since_best = -math.inf, 0, 0
        self.step, self.elapsed_before, self.resumed_from = 0, 0.0, None
        self.history: list[tuple[int, float]] = []
        self.stop_reason, self.finished = "steps", False
        self.expected = fingerprint(problem, solver, device)
        self.last_checkpoint: str | None = None
        self.losses = torch.zeros(min(solver.eval_every, solver.steps), dtype=dtype, device=device)
        self.interval_start, self.start, self.bar = 0, time.perf_counter(), None

    # ------------------------------------------------------------------ checkpoints
    def resume(self) -> None:
        """Restore the state of the checkpoint at ``checkpoint_path`` (checked first)."""
        assert self.path is not None
        data = load_checkpoint(self.path, self.expected)
        _check_contents(self.path, data, self.payload(False), self.solver.steps)
        device = self.setup.device
        try:
            with torch.no_grad():
                self.theta.copy_(data["theta"].to(device))
                self.price.copy_(data["price"].to(device))
            self.opt.load_state_dict(data["optimizer"])
            self.gen.set_state(data["rng"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise _damaged(self.path, f"{type(exc).__name__}: {exc}") from None
        self.best_theta.copy_(data["best_theta"].to(device))
        self.best_price.copy_(data["best_price"].to(device))
        self.best_value, self.best_step = float(data["best_value"]), int(data["best_step"])
        self.since_best, self.step = int(data["since_best"]), int(data["step"])
        self.elapsed_before = float(data["elapsed"])
        self.history = [(int(s), float(v)) for s, v in data["history"]]
        self.stop_reason, self.finished = str(data["stop_reason"]), bool(data["finished"])
        # A run stopped by its callback or its time limit continues when resumed (with time
        # left); one that ran all its steps or stopped early is complete.
        limit = self.solver.time_limit
        if self.stop_reason == "callback" or (self.stop_reason == "time_limit" and (
                limit is None or self.elapsed_before < limit)):
            self.stop_reason, self.finished = "steps", False
        self.resumed_from = self.step
        self.last_checkpoint = f"{self.path} (step {self.step})"

    def payload(self, done: bool) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "fingerprint": self.expected, "step": self.step,
                "theta": self.theta.detach().cpu(), "price": self.price.detach().cpu(),
                "optimizer": self.opt.state_dict(), "rng": self.gen.get_state(),
                "best_theta": self.best_theta.cpu(), "best_price": self.best_price.cpu(),
                "best_value": self.best_value, "best_step": self.best_step,
                "since_best": self.since_best, "elapsed": self.elapsed(),
                "history": [[s, v] for s, v in self.history], "stop_reason": self.stop_reason,
                "finished": done}

    def save(self, done: bool) -> None:
        payload, buffer = self.payload(done), io.BytesIO()
        torch.save({**payload, "checksum": checksum(payload)}, buffer)
        write_atomic(self.path, buffer.getvalue(), field="checkpoint_path")  # type: ignore[arg-type]
        self.last_checkpoint = f"{self.path} (step {self.step})"

    def parameters_finite(self) -> bool:
        return bool(torch.isfinite(self.theta).all()) and bool(torch.isfinite(self.price).all())

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.start

    def fail(self, what: str, at: int) -> SolverFailedError:
        where = self.last_checkpoint or ("none written yet" if self.path is not None else
                                         "none (set checkpoint_path= to keep progress)")
        return SolverFailedError(
            f"training produced NaN/inf in the {what} at step {at}; last good checkpoint: "
            f"{where}", field="backend 'rochetnet'", value=at,
            allowed="a smaller lr or temperature, dtype='float64', or an update rule that is "
                    "finite on the whole value box")

    # ------------------------------------------------------------------ one step
    def train_step(self) -> tuple[float, float]:
        """One Adam step on a fresh batch; returns its ``(lr, temperature / scale)``."""
        solver, setup = self.solver, self.setup
        frac_lr = _schedule(solver.lr, self.lr_final, self.step, solver.steps)
        for group in self.opt.param_groups:
            group["lr"] = frac_lr * group["mult"]
        tau = _schedule(solver.temperature, self.tau_final, self.step, solver.steps) / setup.scale
        v = setup.sample(solver.batch_size, self.gen)
        x = setup.alloc(self.theta)
        loss = soft_profit(x, self.price * setup.scale, v, setup.posterior(v), setup.belief,
                           setup.kappa, setup.lam, tau, self.ws)
        self.opt.zero_grad(set_to_none=True)
        (-loss).backward()
        self.opt.step()
        with torch.no_grad():
            self.losses[(self.step - self.interval_start) % solver.eval_every] = loss.detach()
        self.step += 1
        return frac_lr, tau

    def validate(self, frac_lr: float, tau: float, timed_out: bool) -> None:
        """The one synchronisation point of an interval: NaN check, validation, callback."""
        solver, setup, step = self.solver, self.setup, self.step
        recent = self.losses[:min(step - self.interval_start, solver.eval_every)]
        bad = ~torch.isfinite(recent)
        if bool(bad.any()):
            raise self.fail("training objective",
                            self.interval_start + int(bad.nonzero()[0, 0]) + 1)
        if not self.parameters_finite():
            raise self.fail("parameters", step)
        xv = setup.alloc(self.theta.detach())
        value = float(hard_profit(xv, self.price.detach() * setup.scale, setup.val_v,
                                  setup.val_q, self.ws.rows))
        if not math.isfinite(value):
            raise self.fail("validation profit (is the update rule finite everywhere?)", step)
        self.history.append((step, value))
        if self.best_value == -math.inf or \
                value > self.best_value + solver.min_delta * abs(self.best_value):
            self.best_value, self.best_step, self.since_best = value, step, 0
            self.best_theta.copy_(self.theta.detach())
            self.best_price.copy_(self.price.detach())
        else:
            self.since_best += 1
        info = {"step": step, "profit_estimate": value, "best_estimate": self.best_value,
                "best_step": self.best_step, "train_objective": float(recent.mean()),
                "temperature": tau * setup.scale, "lr": frac_lr, "seconds": self.elapsed()}
        self.interval_start = step
        if self.bar is not None:
            self.bar.set_postfix(profit=f"{value:.6g}", best=f"{self.best_value:.6g}")
        if solver.callback is not None and solver.callback(step, info) is True:
            self.stop_reason, self.finished = "callback", True
        elif solver.patience is not None and self.since_best >= solver.patience:
            self.stop_reason, self.finished = "early_stop", True
        elif timed_out:
            self.stop_reason, self.finished = "time_limit", True

    # ------------------------------------------------------------------ the run
    def advance(self) -> None:
        """One step, its validation when due, and its periodic checkpoint when due."""
        solver = self.solver
        frac_lr, tau = self.train_step()
        if self.bar is not None:
            self.bar.update(1)
        timed_out = solver.time_limit is not None and self.elapsed() > solver.time_limit
        if self.step % solver.eval_every == 0 or self.step == solver.steps or timed_out:
            self.validate(frac_lr, tau, timed_out)
        if self.path is not None and solver.checkpoint_every is not None and \
                self.step % solver.checkpoint_every == 0 and self.step < solver.steps and \
                not self.finished:
            if not self.parameters_finite():
                raise self.fail("parameters", self.step)
            self.save(False)

    def run(self) -> TrainOutcome:
        """Train, writing checkpoints; on KeyboardInterrupt save the last whole step, re-raise."""
        if self.path is not None and self.solver.resume and self.path.exists():
            self.resume()
        self.bar = progress_bar(self.solver.progress, total=self.solver.steps,
                                initial=self.step, desc="rochetnet", unit="step")
        self.interval_start, self.start = self.step, time.perf_counter()
        at_boundary = True
        try:
            with deferred_interrupt() as interrupt:
                while not self.finished and self.step < self.solver.steps:
                    if interrupt["requested"]:
                        raise KeyboardInterrupt
                    at_boundary = False
                    self.advance()
                    at_boundary = True
                if self.path is not None and (self.resumed_from is None or
                                              self.resumed_from < self.step or
                                              not self.finished):
                    self.save(True)
        except KeyboardInterrupt:
            if self.path is not None and at_boundary and self.parameters_finite():
                self.save(self.finished)
            raise
        finally:
            if self.bar is not None:
                self.bar.close()
        return TrainOutcome(
            theta=self.best_theta.detach().to("cpu", torch.float64).numpy(),
            price=self.best_price.detach().to("cpu", torch.float64).numpy() * self.setup.scale,
            steps_run=self.step, stop_reason=self.stop_reason, best_step=self.best_step,
            best_estimate=self.best_value, seconds=self.elapsed(),
            session_seconds=time.perf_counter() - self.start, resumed_from=self.resumed_from,
            last_checkpoint=self.last_checkpoint, history=self.history)


def train(problem: Problem, solver: TrainingSettings, seeds: dict[str, int]) -> TrainOutcome:
    """Run (or resume) training; ``checkpoint_path`` is checked before anything else."""
    return _Trainer(problem, solver, seeds).run()
