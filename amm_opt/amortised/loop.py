r"""The amortised training loop and its checkpoints (imports torch).

Only :meth:`AmortisedTrainer.train <amm_opt.amortised.AmortisedTrainer.train>` imports this
module. Every step draws ``batch_size`` rows of :math:`(\theta_b, v_b)` with a seeded
``torch.Generator``, takes one Adam step on :func:`.torch_net.soft_family_profit`, and every
``eval_every`` steps scores the argmax profit of the menus at fixed validation parameters on fixed
scrambled Sobol types (RochetNet's ``hard_profit``), keeping the best weights. A checkpoint holds
tensors and plain numbers only (weights, Adam's state, the generator state, the best weights,
the history); it is checksummed (RochetNet's ``checksum``), written atomically and read back with
``torch.load(weights_only=True)``, so a resumed run repeats an uninterrupted one bit for bit.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import qmc

from ..distributions import Product, Uniform
from ..errors import FileFormatError, OptionError, SolverFailedError
from ..interrupts import deferred_interrupt
from ..paths import MAX_ARRAY_BYTES, check_output_path, read_bytes, write_atomic
from ..solvers.rochetnet.kernel import hard_profit
from ..solvers.rochetnet.training import checksum, initial_parameters, resolve_device
from .family import utility_scale
from .network import init_weights
from .spec import FamilySpec
from .torch_net import MenuNet, soft_family_profit

__all__ = ["CHECKPOINT_FORMAT", "train_family"]

CHECKPOINT_FORMAT = "amm_opt.amortised.checkpoint/1"
_PPF_TABLE = 1 << 16          # as RochetNet: quantiles interpolated between 2^16 + 1 points
_MIN_RELATIVE_PRICE = 1e-3    # initial price spreads above x·c are at least this (x scale)
_WRITTEN_BY = ("a checkpoint written by AmortisedTrainer(checkpoint_path=...) for the same "
               "family and settings, or resume=False to start afresh")


def _sampler(spec: FamilySpec, device: torch.device, dtype: torch.dtype
             ) -> Callable[[int, torch.Generator], torch.Tensor]:
    """Types ``v ~ F`` on the device: affine maps of uniforms, or a tabulated quantile function
    (RochetNet's method: its error is far below the batch noise; menus are judged exactly)."""
    dist = spec.values.resolve(spec.goods)
    assert isinstance(dist, Product)
    n = spec.goods
    low = torch.as_tensor(np.array(dist.low), dtype=dtype, device=device)
    width = torch.as_tensor(dist.high - dist.low, dtype=dtype, device=device)
    if all(isinstance(m, Uniform) for m in dist.marginals):
        return lambda m, gen: torch.rand((m, n), generator=gen, device=device,
                                         dtype=dtype) * width + low
    grid = np.linspace(0.0, 1.0, _PPF_TABLE + 1)
    table = np.column_stack([m.ppf1(grid) for m in dist.marginals])
    table[0], table[-1] = dist.low, dist.high
    tab = torch.as_tensor(table.T.ravel(), dtype=dtype, device=device)
    offset = torch.arange(n, device=device) * (_PPF_TABLE + 1)

    def sample(m: int, gen: torch.Generator) -> torch.Tensor:
        u = torch.rand((m, n), generator=gen, device=device, dtype=dtype) * _PPF_TABLE
        idx = u.long().clamp_(max=_PPF_TABLE - 1)
        left = tab[idx + offset]
        return left + (u - idx) * (tab[idx + offset + 1] - left)
    return sample


def _initial_weights(spec: FamilySpec, trainer: Any, seed: int, scale: float) -> list[Any]:
    """RochetNet's initial menu at the family's centre as the output bias: items spread over
    the box, priced as separate bid-ask trades (relative prices floored at a small spread)."""
    arch = trainer.architecture()
    ref = spec.reference
    theta0, price0 = initial_parameters(ref, arch.items, seed, scale)
    x0 = ref.allocation_low + (ref.allocation_high - ref.allocation_low) / (1 + np.exp(-theta0))
    rel = np.maximum(price0 * scale - x0 @ np.asarray(ref.belief), _MIN_RELATIVE_PRICE * scale)
    rho = np.log(np.expm1(rel / scale))
    bias = np.column_stack([theta0 / arch.logit_gain, rho]).ravel()
    return init_weights(arch, spec.dim, spec.goods, seed, bias)


def fingerprint(spec: FamilySpec, trainer: Any, device: torch.device) -> str:
    """Hash of everything that decides the trajectory (not paths, callbacks, limits)."""
    text = json.dumps([spec.to_dict(), trainer.trajectory_settings(), device.type],
                      sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _damaged(path: Path, what: str) -> FileFormatError:
    return FileFormatError(f"is damaged or not a checkpoint of this run: {what}",
                           field="checkpoint_path", value=str(path), allowed=_WRITTEN_BY)


class _Run:
    """State of one training run and the steps that advance it."""

    def __init__(self, spec: FamilySpec, trainer: Any) -> None:
        self.spec, self.trainer = spec, trainer
        self.path = None if trainer.checkpoint_path is None else \
            check_output_path(trainer.checkpoint_path, "checkpoint_path")
        self.device = device = resolve_device(trainer.device)
        self.dtype = dtype = torch.float32 if trainer.dtype == "float32" else torch.float64
        self.seeds = seeds = trainer.seeds()
        self.scale = scale = utility_scale(spec)
        ref = spec.reference
        lo, hi = spec.theta_low, spec.theta_high
        self.net = MenuNet(_initial_weights(spec, trainer, seeds["init"], scale), spec.goods,
                           (lo + hi) / 2, (hi - lo) / 2, ref.allocation_low,
                           ref.allocation_high - ref.allocation_low,
                           trainer.logit_gain, scale, dtype, device)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=trainer.lr)
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seeds["torch"])
        self.sample_v = _sampler(spec, device, dtype)
        self.lo = torch.as_tensor(lo, dtype=dtype, device=device)
        self.span = torch.as_tensor(hi - lo, dtype=dtype, device=device)
        self._validation_set(seeds["validation"])
        self.best = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
        self.best_value, self.best_step = -math.inf, 0
        self.step, self.elapsed_before, self.resumed_from = 0, 0.0, None
        self.history: list[list[float]] = []
        self.stop_reason, self.finished = "steps", False
        self.expected = fingerprint(spec, trainer, device)
        self.start = time.perf_counter()

    def _validation_set(self, seed: int) -> None:
        spec, trainer = self.spec, self.trainer
        rng = np.random.default_rng(seed)
        lo, hi = spec.theta_low, spec.theta_high
        m = trainer.validation_parameters
        # The first m points of a 2^k Sobol set (random(m) warns unless m is a power of 2).
        unit = qmc.Sobol(spec.dim, scramble=True, seed=rng).random_base2(
            max(0, math.ceil(math.log2(m))))[:m]
        theta = lo + (hi - lo) * unit if m > 1 else ((lo + hi) / 2)[None]
        sobol = qmc.Sobol(spec.goods, scramble=True, seed=rng)
        v = spec.reference.distribution.ppf(
            sobol.random_base2(max(1, math.ceil(math.log2(trainer.validation_types)))))
        self.val_theta = torch.as_tensor(theta, dtype=self.dtype, device=self.device)
        self.val_v = torch.as_tensor(v, dtype=self.dtype, device=self.device)

    # ------------------------------------------------------------------ steps
    def schedules(self) -> tuple[float, float]:
        t = self.trainer
        frac = self.step / (t.steps - 1) if t.steps > 1 else 0.0

        def geo(a: float, b: float | None) -> float:
            return a if b is None else a * (b / a) ** frac
        return geo(t.lr, t.lr_final), geo(t.temperature, t.temperature_final)

    def train_step(self) -> float:
        lr, tau = self.schedules()
        for group in self.opt.param_groups:
            group["lr"] = lr
        b = self.trainer.batch_size
        theta = self.lo + self.span * torch.rand((b, self.spec.dim), generator=self.gen,
                                                 device=self.device, dtype=self.dtype)
        v = self.sample_v(b, self.gen)
        x, p = self.net(theta)
        loss = soft_family_profit(x, p, v, theta, tau / self.scale)
        self.opt.zero_grad(set_to_none=True)
        (-loss).backward()
        self.opt.step()
        self.step += 1
        return float(loss.detach())

    @torch.no_grad()
    def validate(self) -> float:
        """Mean argmax profit over the validation parameters (RochetNet's ``hard_profit``)."""
        n = self.spec.goods
        x, p = self.net(self.val_theta)
        total = 0.0
        for i in range(self.val_theta.shape[0]):
            c, lam = self.val_theta[i, :n], self.val_theta[i, n]
            q = (1 - lam) * c + lam * self.val_v
            total += float(hard_profit(x[i], p[i], self.val_v, q, 1 << 14))
        return total / self.val_theta.shape[0]

    def elapsed(self) -> float:
        return self.elapsed_before + time.perf_counter() - self.start

    def fail(self, what: str) -> SolverFailedError:
        return SolverFailedError(f"training produced NaN/inf in the {what} at step {self.step}",
                                 field="AmortisedTrainer", value=self.step,
                                 allowed="a smaller lr or temperature, or dtype='float64'")

    def checkpoint_due(self) -> bool:
        return self.path is not None and self.step % self.trainer.checkpoint_every == 0 and \
            self.step < self.trainer.steps and not self.finished

    def run(self) -> None:
        t = self.trainer
        if self.path is not None and t.resume and self.path.exists():
            self.resume()
        self.start = time.perf_counter()
        losses: list[float] = []
        # Ctrl-C: the step in progress finishes, a last checkpoint is written (resumable),
        # then KeyboardInterrupt propagates; a second Ctrl-C stops at once, saving nothing.
        with deferred_interrupt() as interrupt:
            while not self.finished and self.step < t.steps:
                if interrupt["requested"]:
                    if self.path is not None:
                        self.save(False)
                    raise KeyboardInterrupt
                losses.append(self.train_step())
                timed_out = t.time_limit is not None and self.elapsed() > t.time_limit
                if self.step % t.eval_every == 0 or self.step == t.steps or timed_out:
                    if not all(math.isfinite(v) for v in losses):
                        raise self.fail("training objective")
                    value = self.validate()
                    if not math.isfinite(value):
                        raise self.fail("validation profit")
                    self.history.append([self.step, value])
                    if value > self.best_value:
                        self.best_value, self.best_step = value, self.step
                        self.best = {k: v.detach().clone()
                                     for k, v in self.net.state_dict().items()}
                    info = {"step": self.step, "profit_estimate": value,
                            "best_estimate": self.best_value, "train_objective": float(
                                np.mean(losses)), "seconds": self.elapsed()}
                    losses = []
                    if t.callback is not None and t.callback(self.step, info) is True:
                        self.stop_reason, self.finished = "callback", True
                    elif timed_out:
                        self.stop_reason, self.finished = "time_limit", True
                if self.checkpoint_due():
                    self.save(False)
        if self.path is not None:
            self.save(True)

    # ------------------------------------------------------------------ checkpoints
    def payload(self, done: bool) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "fingerprint": self.expected, "step": self.step,
                "net": {k: v.detach().cpu() for k, v in self.net.state_dict().items()},
                "optimizer": self.opt.state_dict(), "rng": self.gen.get_state(),
                "best": {k: v.cpu() for k, v in self.best.items()},
                "best_value": self.best_value, "best_step": self.best_step,
                "elapsed": self.elapsed(), "history": [list(h) for h in self.history],
                "stop_reason": self.stop_reason, "finished": done}

    def save(self, done: bool) -> None:
        payload, buffer = self.payload(done), io.BytesIO()
        torch.save({**payload, "checksum": checksum(payload)}, buffer)
        assert self.path is not None
        write_atomic(self.path, buffer.getvalue(), field="checkpoint_path")

    def resume(self) -> None:
        assert self.path is not None
        raw = read_bytes(self.path, MAX_ARRAY_BYTES, "checkpoint_path", _WRITTEN_BY)
        try:
            data = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for unreadable files
            raise _damaged(self.path, f"torch cannot read it ({type(exc).__name__})") from None
        if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
            raise _damaged(self.path, f"its format is not {CHECKPOINT_FORMAT!r}")
        try:
            intact = data.get("checksum") == checksum(data)
        except (TypeError, RuntimeError, ValueError):
            intact = False
        if not intact:
            raise _damaged(self.path, "its checksum does not match its contents")
        if data.get("fingerprint") != self.expected:
            raise OptionError("belongs to a different family or different training settings",
                              field="resume", value=str(self.path),
                              allowed="the same family and settings as the run that wrote it, "
                                      "or resume=False to start afresh")
        try:
            self.net.load_state_dict({k: v.to(self.device) for k, v in data["net"].items()})
            self.opt.load_state_dict(data["optimizer"])
            self.gen.set_state(data["rng"])
            self.best = {k: v.to(self.device) for k, v in data["best"].items()}
            self.best_value, self.best_step = float(data["best_value"]), int(data["best_step"])
            self.step, self.elapsed_before = int(data["step"]), float(data["elapsed"])
            self.history = [[int(s), float(v)] for s, v in data["history"]]
            self.stop_reason, self.finished = str(data["stop_reason"]), bool(data["finished"])
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise _damaged(self.path, f"{type(exc).__name__}: {exc}") from None
        limit = self.trainer.time_limit
        if self.stop_reason == "callback" or (self.stop_reason == "time_limit" and (
                limit is None or self.elapsed_before < limit)):
            self.stop_reason, self.finished = "steps", False
        self.resumed_from = self.step


def train_family(spec: FamilySpec, trainer: Any) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Train (or resume); returns the best weights (float64 numpy) and the run's record."""
    threads_before = torch.get_num_threads()
    if trainer.threads is not None:
        torch.set_num_threads(trainer.threads)
    try:
        run = _Run(spec, trainer)
        session_start = time.perf_counter()
        run.run()
        threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(threads_before)
    run.net.load_state_dict(run.best)
    session = time.perf_counter() - session_start
    info = {"settings": trainer.settings(), "seeds": run.seeds, "device": str(run.device),
            "torch_version": torch.__version__, "threads": threads,
            "train_seconds": run.elapsed(), "steps_run": run.step,
            "steps_per_second": (run.step - (run.resumed_from or 0)) / session
            if session > 0 else math.nan,
            "stop_reason": run.stop_reason, "best_step": run.best_step,
            "best_validation_profit": run.best_value, "resumed_from_step": run.resumed_from,
            "validation_history": run.history}
    return run.net.weights(), info
