r"""RochetNet's training loop: samplers, schedules, validation, checkpoints (imports torch).

Only :mod:`amm_opt.solvers.rochetnet` imports this module, inside ``RochetNet.solve``, so that
``import amm_opt`` never loads torch. The loop maximises the soft-choice profit of
:mod:`._rochetnet_kernel` with Adam on fresh batches; every ``eval_every`` steps it measures the
*argmax* profit of the current menu on a fixed validation set (scrambled Sobol points of the value
law, or the sample), keeps the best parameters, checks for NaN/inf, reports progress and may stop
early. Everything that decides the trajectory (parameters, Adam moments, the generator state, the
best-so-far bookkeeping) is a tensor or a plain number in the checkpoint, so a resumed run repeats
an uninterrupted one bit for bit on the same device.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.special import logit
from scipy.stats import qmc

from ...distributions import Product, Samples
from ...errors import BackendUnavailableError, FileFormatError, OptionError, SolverFailedError
from ...problem import Problem
from ..base import progress_bar
from .kernel import Workspace, hard_profit, soft_profit

if TYPE_CHECKING:
    from .solver import RochetNet

__all__ = ["TrainOutcome", "resolve_device", "train"]

FloatArray = NDArray[np.float64]
CHECKPOINT_FORMAT = "amm_opt.rochetnet/1"
# Points of the tabulated quantile function used to sample non-uniform marginals on the device:
# linear interpolation between 2^16 + 1 exact quantiles moves each sample by far less than the
# batch noise (Wasserstein-1 distance to the true law ~1e-9 for Beta(2, 2)); the menu is judged
# afterwards by the exact law anyway.
_PPF_TABLE = 1 << 16
# Initial allocations are drawn in this fraction of the box (away from the faces, where the
# sigmoid is flat and items would start frozen).
_INIT_SPREAD = 0.96


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
    low: torch.Tensor            # (n,) allocation box
    width: torch.Tensor          # (n,)
    belief: torch.Tensor         # (n,)
    kappa: float
    lam: float
    scale: float                 # utility scale: temperatures and prices are relative to it
    sample: Callable[[int, torch.Generator], torch.Tensor]
    posterior: Callable[[torch.Tensor], torch.Tensor | None]
    val_v: torch.Tensor          # (m, n) fixed validation types
    val_q: torch.Tensor          # (m, n) their posteriors
    value_low: FloatArray
    value_high: FloatArray


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


def _setup(problem: Problem, solver: RochetNet, device: torch.device, dtype: torch.dtype,
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
    return _Setup(device=device, dtype=dtype, low=tensor(problem.allocation_low),
                  width=tensor(alloc_width), belief=tensor(problem.belief), kappa=problem.kappa,
                  lam=problem.adverse_selection, scale=scale if scale > 0 else 1.0,
                  sample=sample, posterior=posterior, val_v=tensor(val),
                  val_q=tensor(problem.posterior(val)), value_low=problem.value_low,
                  value_high=problem.value_high)


def initial_parameters(problem: Problem, items: int, seed: int, scale: float
                       ) -> tuple[FloatArray, FloatArray]:
    r"""Logits spread over the box and prices of selling each unit separately.

    Allocations are uniform in the central ``_INIT_SPREAD`` of the box; the price of ``x`` is
    :math:`\sum_i \max(x_i,0)\,a_i + \min(x_i,0)\,b_i` with the one-good optimal ask
    :math:`a_i = (h_i + \kappa c_i)/(2-\lambda)` and bid
    :math:`b_i = (l_i + \kappa c_i)/(2-\lambda)` of reference R1 (``h, l`` the value box
    here), a sensible start that training then couples.
    Returns ``(theta, price / scale)`` of shapes (items, n) and (items,).
    """
    rng = np.random.default_rng(seed)
    n = problem.goods
    frac = 0.5 + _INIT_SPREAD * (rng.random((items, n)) - 0.5)
    theta = logit(frac)
    x = problem.allocation_low + (problem.allocation_high - problem.allocation_low) * frac
    lam, kappa = problem.adverse_selection, problem.kappa
    c = np.asarray(problem.belief)
    ask = (problem.value_high + kappa * c) / (2.0 - lam)
    bid = (problem.value_low + kappa * c) / (2.0 - lam)
    price = np.maximum(x, 0.0) @ ask + np.minimum(x, 0.0) @ bid
    return theta, price / scale


# ---------------------------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------------------------
def fingerprint(problem: Problem, solver: RochetNet, device: torch.device) -> str:
    """Hash of everything that decides the training trajectory (not paths, callbacks, limits)."""
    dist = problem.distribution
    if isinstance(dist, Samples):
        law = "samples:" + hashlib.sha256(np.ascontiguousarray(dist.values).tobytes()).hexdigest()
    else:
        law = repr(dist)
    update = "linear" if problem.update is None else \
        f"custom:{getattr(problem.update, '__qualname__', type(problem.update).__name__)}"
    parts = [law, update, repr(np.asarray(problem.belief).tolist()),
             repr(problem.adverse_selection), repr(np.asarray(problem.allocation).tolist()),
             device.type]
    parts += [f"{k}={v!r}" for k, v in sorted(solver.trajectory_settings().items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _save(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)    # atomic: an interrupted save never leaves a torn checkpoint


def load_checkpoint(path: Path, expected: str) -> dict[str, Any]:
    """Load with ``weights_only=True`` and check it belongs to this problem and these settings."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises a zoo of types for unreadable files
        raise FileFormatError(f"cannot be read as a RochetNet checkpoint ({type(exc).__name__}: "
                              f"{exc})", field="checkpoint_path", value=str(path),
                              allowed="a file written by RochetNet(checkpoint_path=...)"
                              ) from None
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise FileFormatError("is not a RochetNet checkpoint of this version",
                              field="checkpoint_path", value=str(path),
                              allowed=f"format {CHECKPOINT_FORMAT!r}")
    if data.get("fingerprint") != expected:
        raise OptionError(
            "belongs to a different problem or different training settings (menu_size, "
            "batch_size, steps, lr, temperature, seed, dtype, device type, ...)",
            field="resume", value=str(path),
            allowed="the same problem and settings as the run that wrote it, or resume=False "
                    "(or another checkpoint_path) to start afresh")
    return data


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


def train(problem: Problem, solver: RochetNet, seeds: dict[str, int]) -> TrainOutcome:
    """Run (or resume) training; see the module docstring."""
    device = resolve_device(solver.device)
    dtype = torch.float32 if solver.dtype == "float32" else torch.float64
    setup = _setup(problem, solver, device, dtype, seeds["validation"])
    items = solver.menu_size
    theta0, price0 = initial_parameters(problem, items, seeds["init"], setup.scale)
    theta = torch.tensor(theta0, dtype=dtype, device=device, requires_grad=True)
    price = torch.tensor(price0, dtype=dtype, device=device, requires_grad=True)
    opt = torch.optim.Adam([{"params": [theta], "mult": float(solver.allocation_lr_scale)},
                            {"params": [price], "mult": 1.0}], lr=solver.lr)
    gen = torch.Generator(device=device)
    gen.manual_seed(seeds["torch"])
    rows = max(1, min(solver.chunk_size // items, solver.batch_size))
    ws = Workspace(rows, items, theta.detach(), compile=solver.torch_compile)
    lr_final = solver.lr if solver.lr_final is None else solver.lr_final
    tau_final = solver.temperature if solver.temperature_final is None else \
        solver.temperature_final

    best_theta = theta.detach().clone()
    best_price = price.detach().clone()
    best_value, best_step, since_best = -math.inf, 0, 0
    step, elapsed_before, resumed_from = 0, 0.0, None
    history: list[tuple[int, float]] = []
    stop_reason = "steps"
    path = None if solver.checkpoint_path is None else Path(solver.checkpoint_path)
    print_path = None if path is None else str(path)
    expected = fingerprint(problem, solver, device)
    last_checkpoint: str | None = None
    finished = False

    if path is not None and solver.resume and path.exists():
        data = load_checkpoint(path, expected)
        with torch.no_grad():
            theta.copy_(data["theta"].to(device))
            price.copy_(data["price"].to(device))
        opt.load_state_dict(data["optimizer"])
        gen.set_state(data["rng"])
        best_theta.copy_(data["best_theta"].to(device))
        best_price.copy_(data["best_price"].to(device))
        best_value, best_step = float(data["best_value"]), int(data["best_step"])
        since_best, step = int(data["since_best"]), int(data["step"])
        elapsed_before = float(data["elapsed"])
        history = [(int(s), float(v)) for s, v in data["history"]]
        stop_reason, finished = str(data["stop_reason"]), bool(data["finished"])
        # A run stopped by its callback or its time limit continues when resumed (with time
        # left); one that ran all its steps or stopped early is complete.
        if stop_reason == "callback" or (stop_reason == "time_limit" and (
                solver.time_limit is None or elapsed_before < solver.time_limit)):
            stop_reason, finished = "steps", False
        resumed_from = step
        last_checkpoint = f"{print_path} (step {step})"

    def payload(done: bool) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "fingerprint": expected, "step": step,
                "theta": theta.detach().cpu(), "price": price.detach().cpu(),
                "optimizer": opt.state_dict(), "rng": gen.get_state(),
                "best_theta": best_theta.cpu(), "best_price": best_price.cpu(),
                "best_value": best_value, "best_step": best_step, "since_best": since_best,
                "elapsed": elapsed_before + time.perf_counter() - start,
                "history": [[s, v] for s, v in history], "stop_reason": stop_reason,
                "finished": done}

    bar = _progress_bar(solver, step)
    losses = torch.zeros(solver.eval_every, dtype=dtype, device=device)
    interval_start = step
    start = time.perf_counter()

    def fail(what: str, at: int) -> SolverFailedError:
        where = last_checkpoint or ("none written yet" if path is not None else
                                    "none (set checkpoint_path= to keep progress)")
        return SolverFailedError(
            f"training produced NaN/inf in the {what} at step {at}; last good checkpoint: "
            f"{where}", field="backend 'rochetnet'", value=at,
            allowed="a smaller lr or temperature, dtype='float64', or an update rule that is "
                    "finite on the whole value box")

    try:
        while not finished and step < solver.steps:
            frac_lr = _schedule(solver.lr, lr_final, step, solver.steps)
            for group in opt.param_groups:
                group["lr"] = frac_lr * group["mult"]
            tau = _schedule(solver.temperature, tau_final, step, solver.steps) / setup.scale
            v = setup.sample(solver.batch_size, gen)
            x = setup.low + setup.width * torch.sigmoid(theta)
            loss = soft_profit(x, price * setup.scale, v, setup.posterior(v), setup.belief,
                               setup.kappa, setup.lam, tau, ws)
            opt.zero_grad(set_to_none=True)
            (-loss).backward()
            opt.step()
            with torch.no_grad():
                losses[(step - interval_start) % solver.eval_every] = loss.detach()
            step += 1
            if bar is not None:
                bar.update(1)
            timed_out = solver.time_limit is not None and \
                elapsed_before + time.perf_counter() - start > solver.time_limit
            at_eval = step % solver.eval_every == 0 or step == solver.steps or timed_out
            if at_eval:
                # The one synchronisation point of an interval: NaN check, validation, callback.
                done = step - interval_start
                recent = losses[:min(done, solver.eval_every)]
                bad = ~torch.isfinite(recent)
                if bool(bad.any()):
                    raise fail("training objective", interval_start + int(bad.nonzero()[0, 0]) + 1)
                if not (bool(torch.isfinite(theta).all()) and bool(torch.isfinite(price).all())):
                    raise fail("parameters", step)
                xv = setup.low + setup.width * torch.sigmoid(theta.detach())
                value = float(hard_profit(xv, price.detach() * setup.scale, setup.val_v,
                                          setup.val_q, ws.rows))
                if not math.isfinite(value):
                    raise fail("validation profit (is the update rule finite everywhere?)", step)
                history.append((step, value))
                improved = best_value == -math.inf or \
                    value > best_value + solver.min_delta * abs(best_value)
                if improved:
                    best_value, best_step, since_best = value, step, 0
                    best_theta.copy_(theta.detach())
                    best_price.copy_(price.detach())
                else:
                    since_best += 1
                info = {"step": step, "profit_estimate": value, "best_estimate": best_value,
                        "best_step": best_step, "train_objective": float(recent.mean()),
                        "temperature": tau * setup.scale, "lr": frac_lr,
                        "seconds": elapsed_before + time.perf_counter() - start}
                interval_start = step
                if bar is not None:
                    bar.set_postfix(profit=f"{value:.6g}", best=f"{best_value:.6g}")
                if solver.callback is not None and solver.callback(step, info) is True:
                    stop_reason, finished = "callback", True
                elif solver.patience is not None and since_best >= solver.patience:
                    stop_reason, finished = "early_stop", True
                elif timed_out:
                    stop_reason, finished = "time_limit", True
            if path is not None and solver.checkpoint_every is not None and \
                    step % solver.checkpoint_every == 0 and step < solver.steps and not finished:
                if not (bool(torch.isfinite(theta).all()) and bool(torch.isfinite(price).all())):
                    raise fail("parameters", step)
                _save(path, payload(False))
                last_checkpoint = f"{print_path} (step {step})"
        if path is not None and (resumed_from is None or resumed_from < step or not finished):
            _save(path, payload(True))
            last_checkpoint = f"{print_path} (step {step})"
    finally:
        if bar is not None:
            bar.close()

    return TrainOutcome(
        theta=best_theta.detach().to("cpu", torch.float64).numpy(),
        price=best_price.detach().to("cpu", torch.float64).numpy() * setup.scale,
        steps_run=step, stop_reason=stop_reason, best_step=best_step, best_estimate=best_value,
        seconds=elapsed_before + time.perf_counter() - start,
        session_seconds=time.perf_counter() - start, resumed_from=resumed_from,
        last_checkpoint=last_checkpoint, history=history)


def _progress_bar(solver: RochetNet, initial: int) -> Any:
    return progress_bar(solver.progress, total=solver.steps, initial=initial, desc="rochetnet",
                        unit="step")
