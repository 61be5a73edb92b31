r"""RochetNet: learn a menu by gradient ascent on a softmax-relaxed choice.

The menu has ``menu_size`` trainable items plus the fixed no-trade item. Allocations are
squashed into the box, :math:`x_k = l + (h-l)\odot\operatorname{sigmoid}(\theta_k)` (on a polytope
:math:`X`: :math:`x_k = \sum_j \operatorname{softmax}(\theta_k)_j x^j` over its vertices, exactly in
:math:`X`; see :mod:`.allocations`), and a type's
choice is relaxed to softmax weights with inverse temperature :math:`\tau`:

.. math::

    \max_{\theta, p}\; \mathbb{E}_v \sum_{k=0}^{K} w_k(v)\,\big(p_k - x_k \cdot c'(v)\big),
    \qquad w(v) = \operatorname{softmax}_k\!\big(\tau\,(v \cdot x_k - p_k)/s\big),

with :math:`(x_0, p_0) = (0, 0)` and :math:`s` the utility scale of the problem (mean value-box
width times half the mean allocation-box width; 1 for the paper's instances), so that
``temperature`` means the same on every problem. Whatever the parameters, the argmax menu is exactly
strategy-proof; it is judged by :func:`amm_opt.evaluate` (exact, quadrature, QMC or sample mean),
never by the training objective. Items that no type chooses are dropped before that evaluation.

Torch is imported only inside :meth:`RochetNet.solve`.

References
----------
Dütting, Feng, Narasimhan, Parkes, Ravindranath, "Optimal Auctions through Deep Learning" (2019);
Curry, Fan, Parkes, "Optimal Automated Market Makers" (arXiv 2402.09129).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from ...errors import MenuError, OptionError, ResourceLimitError
from ...evaluate import Evaluation, evaluate
from ...limits import require_memory
from ...menu import Menu
from ...options import (
    Choice,
    Flag,
    Function,
    Instance,
    Integer,
    Real,
    Rule,
    check_training_target,
)
from ...polishing import polish, polish_refusal, snap_allocations
from ...problem import Problem
from ...result import Result, Status
from ..base import Solver, finishing_seconds, menu_result
from .allocations import allocations, parameter_width, snapped_allocations, trading_items

__all__ = ["RochetNet"]

FloatArray = NDArray[np.float64]
# Options that do not change the trajectory (they may differ between a run and its resumption).
# Utilities (types x items) one step or one validation may compute: beyond this a step takes
# minutes on a CPU.
_MAX_STEP_ENTRIES = 2**33
_NON_TRAJECTORY = frozenset({"checkpoint_path", "checkpoint_every", "resume", "callback",
                             "progress", "time_limit", "evaluate_method", "device", "snap",
                             "polish"})


@dataclass(frozen=True)
class RochetNet(Solver):
    r"""Train a menu with PyTorch (CUDA when available, else CPU).

    .. math::

        \max_{\theta, p}\; \mathbb{E}_v \sum_k \operatorname{softmax}_k
        \big(\tau (v \cdot x_k - p_k)/s\big)\,\big(p_k - x_k \cdot c'(v)\big),
        \quad x_k = l + (h - l) \odot \operatorname{sigmoid}(\theta_k)

    Parameters
    ----------
    menu_size : int
        Trainable items ``K`` (no-trade is added). Items no type chooses are dropped afterwards.
    batch_size : int
        Fresh types per step (drawn from the value law, or minibatches of ``Samples``).
    steps : int
        Adam steps.
    lr, lr_final : float
        Adam step size of the prices (in units of ``s``) at the first and last step (geometric
        decay; ``lr_final=None`` keeps ``lr``).
    allocation_lr_scale : float
        Multiplier of the step size for the allocation logits :math:`\theta`. Optimal menus
        often sit on the faces of the box, which the sigmoid reaches only as
        :math:`\theta \to \pm\infty` (an allocation at 0.999 instead of 1 costs 0.1% of its
        profit on R1); a larger step moves items there faster, and ``snap`` finishes the job.
    temperature, temperature_final : float
        Softmax inverse temperature :math:`\tau` at the first and last step (geometric
        annealing; ``temperature_final=None`` keeps it fixed).
    seed : int
        Seeds initialisation, batches and validation points (all recorded in ``stats['seeds']``).
        The same seed on the same device and thread count gives the same menu.
    device : str
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    dtype : {"float32", "float64"}
        Training precision (the returned menu is float64).
    chunk_size : int
        Batch-by-item entries processed at once (``chunk_size // menu_size`` rows per block);
        the work memory is about ``2 * chunk_size`` numbers whatever ``batch_size`` is.
    torch_compile : bool
        Fuse the per-block computation with :func:`torch.compile`. Off by default: on CPUs
        it did not beat the eager kernel after its compilation time (BENCHMARKS.md); fusing
        may pay where kernel launches dominate.
    eval_every : int
        Steps between validations: the argmax profit of the current menu on ``validation_size``
        fixed points (scrambled Sobol points of the law, or the sample). The best validated
        parameters are the ones returned; NaN/inf checks, the callback and early stopping run
        here too.
    validation_size : int
        Validation points (rounded up to a power of two for Sobol points).
    patience : int or None
        Stop after this many validations without improvement (None: run all ``steps``).
    min_delta : float
        Relative improvement of the validated profit that counts as progress.
    time_limit : float or None
        Seconds of training (summed over resumptions); reaching it gives ``Status.TIME_LIMIT``
        (the menu is still evaluated; its profit is a valid lower bound).
    checkpoint_path : str or path or None
        Where to save checkpoints (``torch.save`` of tensors and numbers only).
    checkpoint_every : int
        Steps between checkpoints (a final one is always written).
    resume : bool
        Continue from ``checkpoint_path`` if it exists (it must come from the same problem and
        trajectory settings); the final menu of an interrupted run equals that of an
        uninterrupted one. A run that did all its steps or stopped early is complete (its menu
        is returned without training); one stopped by ``callback`` or ``time_limit`` goes on.
        Without the file, training starts afresh.
    callback : callable or None
        ``callback(step, info)`` at every validation; ``info`` has ``profit_estimate``,
        ``best_estimate``, ``train_objective``, ``temperature``, ``lr``, ``seconds``. Returning
        ``True`` stops training.
    progress : bool or None
        tqdm progress bar (None: only when tqdm is installed and stderr is a terminal).
    evaluate_method : str
        Method of the final :func:`~amm_opt.evaluate` (``"auto"`` picks exact when possible).
    snap : float
        After training, allocation coordinates within ``snap`` times the box width of a face or
        of 0 are moved onto it (the sigmoid reaches faces only in the limit), and the snapped
        menu is kept if its evaluated profit is not lower. 0 disables this.
    polish : bool
        Hand the learned menu to :func:`amm_opt.polishing.polish` (merge near-identical
        items, maximise the exact profit over prices and interior trades); the polished menu
        is kept only if its exact profit is higher. Needs a density and at most 3 goods
        (otherwise skipped, with the reason in ``stats['polish']``).
    threads : int or None
        CPU threads torch may use while training (set for the run, restored afterwards; None
        leaves torch's global setting). One by default: on a busy machine OpenMP threads
        spin-wait for a core and a second thread made runs far slower (BENCHMARKS.md), while
        the batches are too small for it to gain much on an idle one.
    initial_menu : Menu or None
        Start training from this menu (a learned menu to refine, a grid-LP menu, a family's
        menu): its items other than no-trade take the first of the ``menu_size`` places
        (allocations as logits within 1e-4 of ``X``'s width, prices as given), the rest start as
        usual. It must fit the problem and have at most ``menu_size`` items; it is part of the
        checkpoint's fingerprint.

    Examples
    --------
    >>> from amm_opt import solve, references
    >>> problem, _, best = references.r1_bid_ask()
    >>> res = solve(problem, backend="rochetnet", menu_size=8, steps=600, batch_size=1024)
    >>> abs(res.profit - best) / best < 0.01
    True
    """

    menu_size: int = 128
    batch_size: int = 4096
    steps: int = 4000
    lr: float = 0.01
    lr_final: float | None = 0.001
    allocation_lr_scale: float = 3.0
    temperature: float = 50.0
    temperature_final: float | None = 1000.0
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    chunk_size: int = 1 << 20
    torch_compile: bool = False
    eval_every: int = 100
    validation_size: int = 1 << 15
    patience: int | None = None
    min_delta: float = 0.0
    time_limit: float | None = None
    checkpoint_path: str | os.PathLike[str] | None = None
    checkpoint_every: int = 1000
    resume: bool = False
    callback: Callable[[int, dict[str, Any]], Any] | None = None
    progress: bool | None = None
    evaluate_method: str = "auto"
    snap: float = 1e-2
    polish: bool = False
    threads: int | None = 1
    initial_menu: Menu | None = None

    name: ClassVar[str] = "rochetnet"
    description: ClassVar[str] = ("RochetNet (PyTorch): learns a menu from samples for any "
                                  "number of goods; lower bound only")
    requires: ClassVar[tuple[str, ...]] = ("torch",)
    extra: ClassVar[str | None] = "torch"
    provides_menu: ClassVar[bool] = True
    provides_upper: ClassVar[bool] = False
    needs_density: ClassVar[bool] = False
    supports_belief_outside_values: ClassVar[bool] = True
    supports_polytope_allocation: ClassVar[bool] = True

    option_rules: ClassVar[dict[str, Rule]] = {
        # Every step costs batch x menu_size and the final menu is evaluated with QMC beyond 3
        # goods (points x items): 2^16 items is already far more than training uses (it prunes
        # to the items chosen), so larger menus are refused instead of running for hours.
        # eval_every sizes a per-step loss buffer: beyond 2^24 it would only cost memory.
        "menu_size": Integer(1, 1 << 16, example="128"), "batch_size": Integer(1),
        "steps": Integer(1), "chunk_size": Integer(1),
        "eval_every": Integer(1, 1 << 24, example="100"), "validation_size": Integer(2),
        "checkpoint_every": Integer(1), "seed": Integer(0),
        "lr": Real(0, open_low=True), "lr_final": Real(0, open_low=True, optional=True),
        "allocation_lr_scale": Real(0, open_low=True),
        "temperature": Real(0, open_low=True),
        "temperature_final": Real(0, open_low=True, optional=True),
        "time_limit": Real(0, open_low=True, optional=True),
        "snap": Real(0, 0.5, open_high=True, example="0.01 (0 turns snapping off)"),
        "min_delta": Real(0, example="1e-4"),
        "threads": Integer(1, optional=True, example="1 (None: torch's setting)"),
        "patience": Integer(1, optional=True, example="10 (None: no early stop)"),
        "dtype": Choice(("float32", "float64")),
        "evaluate_method": Choice(("auto", "exact", "quadrature", "qmc", "sample-mean")),
        "torch_compile": Flag(), "polish": Flag(), "resume": Flag(),
        "callback": Function("callback(step, info)"), "progress": Flag(optional=True),
        "initial_menu": Instance(Menu, "a Menu (the start of training)"),
    }

    def __post_init__(self) -> None:
        super().__post_init__()
        check_training_target(self.device, self.checkpoint_path, self.resume)

    def check_problem(self, problem: Problem) -> None:
        super().check_problem(problem)
        if self.initial_menu is not None:
            self._check_initial_menu(problem)
        items = self.menu_size + 1
        for rows, what in ((self.batch_size, "batch_size"),
                           (self.validation_size, "validation_size")):
            if rows * items > _MAX_STEP_ENTRIES:
                raise ResourceLimitError(
                    f"{what} x (menu_size + 1) = {rows * items:.3g} utilities per step, above "
                    f"{_MAX_STEP_ENTRIES:.3g}", field=what, value=rows,
                    allowed=f"a smaller {what} or menu_size")
        width = 4 if self.dtype == "float32" else 8
        n = problem.goods
        # Batch and validation types with their posteriors, parameters with Adam's moments and
        # best copies, the kernel's work blocks, the quantile tables of the sampler.
        numbers = (4 * self.batch_size * n + 2 * self.validation_size * n
                   + 8 * items * (parameter_width(problem) + 1)
                   + 2 * min(self.chunk_size, self.batch_size * items)
                   + n * (1 << 16))
        require_memory(width * numbers, "RochetNet's training arrays", "batch_size",
                       "a smaller batch_size, validation_size or menu_size")

    def _check_initial_menu(self, problem: Problem) -> None:
        menu = self.initial_menu
        assert menu is not None
        try:
            menu.check_fits(problem)
        except MenuError as exc:
            raise OptionError(f"does not fit the problem ({exc})", field="initial_menu",
                              value=menu, allowed="a menu of this problem's goods with every "
                              "item in its allocation set") from None
        count = len(trading_items(menu)[1])
        if count > self.menu_size:
            raise OptionError(f"has {count} items besides no-trade, more than menu_size = "
                              f"{self.menu_size}", field="initial_menu", value=menu,
                              allowed=f"menu_size >= {count}, or a smaller menu")

    def trajectory_settings(self) -> dict[str, Any]:
        """The options that decide the training trajectory (checked when resuming)."""
        return {k: v for k, v in self.settings().items() if k not in _NON_TRAJECTORY}

    def seeds(self) -> dict[str, int]:
        """Independent seeds for initialisation, torch batches and validation points."""
        init, gen, val = np.random.SeedSequence(self.seed).generate_state(3, dtype=np.uint32)
        return {"seed": int(self.seed), "init": int(init), "torch": int(gen),
                "validation": int(val)}

    def compute(self, problem: Problem) -> Result:
        self.require_available()
        import torch

        from .training import resolve_device, train

        device = resolve_device(self.device)
        seeds = self.seeds()
        threads_before = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            out = train(problem, self, seeds)
            threads_used = torch.get_num_threads()
        finally:
            torch.set_num_threads(threads_before)

        start = time.perf_counter()
        menu, final_evaluation, menu_stats = self._learned_menu(problem, out)
        stats: dict[str, Any] = {
            "settings": self.settings(),
            "seeds": seeds,
            "device": str(device),
            "torch_version": torch.__version__,
            "threads": threads_used,
            "train_seconds": out.seconds,
            "steps_run": out.steps_run,
            "steps_per_second": (out.steps_run - (out.resumed_from or 0)) / out.session_seconds
            if out.session_seconds > 0 else math.nan,
            "stop_reason": out.stop_reason,
            "best_step": out.best_step,
            "best_validation_profit": out.best_estimate,
            "validation_history": out.history,
            "resumed_from_step": out.resumed_from,
            "last_checkpoint": out.last_checkpoint,
            **menu_stats,
            "items_trained": self.menu_size,
            "items_kept": menu.size,
            "prune_seconds": time.perf_counter() - start,
        }
        status = Status.TIME_LIMIT if out.stop_reason == "time_limit" else Status.OPTIMAL
        return menu_result(problem, menu, self.name, status, stats,
                           message=f"training stopped: {out.stop_reason} after "
                                   f"{out.steps_run} steps (best validation at {out.best_step})",
                           evaluate_options={"method": self.evaluate_method},
                           evaluation=final_evaluation)

    def _learned_menu(self, problem: Problem, out: Any
                      ) -> tuple[Menu, Evaluation | None, dict[str, Any]]:
        """The trained menu, snapped onto the box's faces when that is not worse, without the
        items nobody chooses, then polished if asked: ``(menu, its evaluation if already
        made, stats)``."""
        trained = Menu(allocations(problem, out.theta), out.price)
        ev = ev_trained = evaluate(problem, trained, method=self.evaluate_method)
        menu, snapped = trained, False
        if self.snap > 0:
            if problem.allocation_is_box:
                candidate = Menu(snap_allocations(np.asarray(trained.allocations),
                                                  problem.allocation_low,
                                                  problem.allocation_high, self.snap),
                                 trained.prices)
            else:                 # the trained items only (no-trade stays implicit)
                candidate = Menu(snapped_allocations(problem, out.theta, self.snap), out.price)
            ev_snap = evaluate(problem, candidate, method=self.evaluate_method)
            if ev_snap.profit >= ev.profit:
                menu, ev, snapped = candidate, ev_snap, True
        menu = menu.subset(ev.item_probability > 0)
        polish_stats: dict[str, Any] | str = "off"
        final_evaluation = None
        if self.polish:
            refusal = polish_refusal(problem, self.evaluate_method)
            if refusal is None:
                remaining = math.inf if self.time_limit is None else \
                    float(self.time_limit) - out.seconds
                polished = polish(problem, menu, evaluate_method=self.evaluate_method,
                                  time_limit=finishing_seconds(self.time_limit, remaining))
                polish_stats = polished.summary()
                menu, final_evaluation = polished.menu, polished.evaluation
            else:
                polish_stats = f"skipped: {refusal}"
        return menu, final_evaluation, {"trained_profit": float(ev_trained.profit),
                                        "snapped": snapped, "polish": polish_stats}
