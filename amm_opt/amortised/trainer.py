r"""Training settings of a menu family and the call that trains it (torch is imported lazily).

The objective (docs/amortised.md) is RochetNet's soft-choice profit averaged over the family:
every batch row draws its own parameters :math:`\theta_b = (c_b, \lambda_b)` uniformly from the
ranges and its own type :math:`v_b \sim F`, and the network's menu at :math:`\theta_b` is scored on
:math:`v_b` (:mod:`.torch_net`). Step sizes and the inverse temperature are annealed
geometrically as in RochetNet; the weights with the best *argmax* profit on fixed validation
parameters and types are the ones kept.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from ..errors import BackendUnavailableError, OptionError, ResourceLimitError
from ..limits import require_memory
from ..options import (
    Choice,
    Flag,
    Function,
    Integer,
    Real,
    Rule,
    check_options,
    check_training_target,
)
from .family import MenuFamily
from .network import Architecture
from .spec import FamilySpec

__all__ = ["AmortisedTrainer"]

# Per-row menus: a step holds about this many numbers per (row, item, good) for the forward
# and backward passes (x, utilities, posteriors' products, softmax and their gradients).
_NUMBERS_PER_ENTRY = 12
_NON_TRAJECTORY = frozenset({"checkpoint_path", "checkpoint_every", "resume", "callback",
                             "time_limit", "device", "snap", "threads"})


@dataclass(frozen=True)
class AmortisedTrainer:
    r"""Train one network that returns a menu for every problem of a family.

    Parameters
    ----------
    items : int
        Menu items ``K`` per member (no-trade on top); unused ones are pruned per member.
    hidden : tuple of int
        Hidden layer widths of the MLP (SiLU).
    logit_gain : float
        Gain of the allocation logits (see :mod:`amm_opt.amortised.network`).
    batch_size : int
        Rows per step; each row has its own :math:`(c, \lambda)` and its own type.
    steps : int
        Adam steps.
    lr, lr_final : float
        Adam step size at the first and last step (geometric decay; None keeps ``lr``).
    temperature, temperature_final : float
        Inverse temperature :math:`\tau` of the soft choice, in units of the utility scale, at
        the first and last step (geometric annealing; None keeps it fixed).
    seed : int
        Seeds the weights, the batches and the validation points; the same seed on the same
        device and thread count gives the same family, bit for bit.
    device : str
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    dtype : {"float32", "float64"}
        Training precision (the family's weights are stored as float64).
    eval_every : int
        Steps between validations (argmax profit at ``validation_parameters`` fixed members on
        ``validation_types`` Sobol types; the best weights are kept).
    validation_parameters, validation_types : int
        Sizes of the validation set.
    time_limit : float or None
        Seconds of training (summed over resumptions); the best weights so far are returned
        and ``info['stop_reason']`` says ``time_limit``.
    checkpoint_path : str or path or None
        Checkpoint file (``torch.save`` of tensors and numbers, checksummed, written
        atomically); with ``resume=True`` training continues from it, and an interrupted run
        ends with the same weights as an uninterrupted one.
    checkpoint_every : int
        Steps between checkpoints (a final one is always written).
    resume : bool
        Continue from ``checkpoint_path`` when it exists.
    callback : callable or None
        ``callback(step, info)`` at each validation; returning True stops training.
    threads : int or None
        CPU threads for torch during training (restored afterwards; None: torch's setting).
    snap : float
        Snapping tolerance the family's :meth:`~amm_opt.amortised.MenuFamily.menu` uses.

    Examples
    --------
    >>> from amm_opt import Uniform
    >>> from amm_opt.amortised import AmortisedTrainer, FamilySpec
    >>> spec = FamilySpec(1, Uniform(0, 1), belief=(0.4, 0.6), adverse_selection=(0, 0.3))
    >>> family = AmortisedTrainer(items=4, hidden=(16,), steps=200, batch_size=512,
    ...                           eval_every=100).train(spec)
    >>> family.menu(belief=0.5, adverse_selection=0.1).size <= 5
    True
    """

    items: int = 64
    hidden: tuple[int, ...] = (128, 128)
    logit_gain: float = 4.0
    batch_size: int = 4096
    steps: int = 6000
    lr: float = 3e-3
    lr_final: float | None = 1e-4
    temperature: float = 50.0
    temperature_final: float | None = 1000.0
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    eval_every: int = 250
    validation_parameters: int = 16
    validation_types: int = 4096
    time_limit: float | None = None
    checkpoint_path: str | os.PathLike[str] | None = None
    checkpoint_every: int = 1000
    resume: bool = False
    callback: Callable[[int, dict[str, Any]], Any] | None = None
    threads: int | None = 1
    snap: float = 1e-2

    option_rules: ClassVar[dict[str, Rule]] = {
        "items": Integer(1), "batch_size": Integer(1), "steps": Integer(1),
        "eval_every": Integer(1), "validation_parameters": Integer(1),
        "validation_types": Integer(2), "checkpoint_every": Integer(1), "seed": Integer(0),
        "logit_gain": Real(0, open_low=True), "lr": Real(0, open_low=True),
        "lr_final": Real(0, open_low=True, optional=True),
        "temperature": Real(0, open_low=True),
        "temperature_final": Real(0, open_low=True, optional=True),
        "time_limit": Real(0, open_low=True, optional=True),
        "snap": Real(0, 0.5, open_high=True, example="0.01 (0 turns snapping off)"),
        "threads": Integer(1, optional=True, example="1 (None: torch's setting)"),
        "dtype": Choice(("float32", "float64")), "resume": Flag(),
        "callback": Function("callback(step, info)"),
    }

    def __post_init__(self) -> None:
        check_options(self, self.option_rules, "AmortisedTrainer")
        self.architecture()     # checks items and hidden
        check_training_target(self.device, self.checkpoint_path, self.resume)

    def architecture(self) -> Architecture:
        return Architecture(items=self.items, hidden=tuple(self.hidden),
                            logit_gain=float(self.logit_gain))

    def settings(self) -> dict[str, Any]:
        """Every option as JSON data (a callback by its repr)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            val = getattr(self, f.name)
            if isinstance(val, tuple):
                val = list(val)
            elif isinstance(val, os.PathLike):
                val = os.fspath(val)
            elif not isinstance(val, (int, float, str, bool, list, type(None))):
                val = repr(val)
            out[f.name] = val
        return out

    def trajectory_settings(self) -> dict[str, Any]:
        """The options that decide the training trajectory (checked when resuming)."""
        return {k: v for k, v in self.settings().items() if k not in _NON_TRAJECTORY}

    def seeds(self) -> dict[str, int]:
        """Independent seeds for the weights, torch batches and validation points."""
        init, gen, val = np.random.SeedSequence([self.seed, 16]).generate_state(
            3, dtype=np.uint32)
        return {"seed": int(self.seed), "init": int(init), "torch": int(gen),
                "validation": int(val)}

    def check_size(self, spec: FamilySpec) -> None:
        """Memory of a step, estimated before anything is allocated."""
        arch = self.architecture()
        entries = self.batch_size * (self.items + 1) * (spec.goods + 1)
        width = 4 if self.dtype == "float32" else 8
        numbers = (_NUMBERS_PER_ENTRY * entries + 4 * self.batch_size * sum(arch.hidden)
                   + 6 * arch.parameter_count(spec.dim, spec.goods)
                   + self.validation_types * (self.items + 2 * spec.goods + 2))
        if entries > 2**31:
            raise ResourceLimitError(f"batch_size x items x goods = {entries:.3g} entries per "
                                     "step", field="batch_size", value=self.batch_size,
                                     allowed="a smaller batch_size or items")
        require_memory(width * numbers, "the amortised trainer's step", "batch_size",
                       "a smaller batch_size, items or hidden")

    def train(self, spec: FamilySpec) -> MenuFamily:
        r"""Train (or resume) and return the :class:`~amm_opt.amortised.MenuFamily`.

        Raises :class:`~amm_opt.errors.BackendUnavailableError` without torch
        (``pip install 'amm-opt[torch]'``).
        """
        if not isinstance(spec, FamilySpec):
            raise OptionError("must be a FamilySpec", field="spec", value=type(spec).__name__,
                              allowed="amm_opt.amortised.FamilySpec(goods, values, belief=..., "
                                      "adverse_selection=...)")
        if importlib.util.find_spec("torch") is None:
            raise BackendUnavailableError("needs torch", field="AmortisedTrainer",
                                          allowed="pip install 'amm-opt[torch]'")
        self.check_size(spec)
        from .loop import train_family

        weights, info = train_family(spec, self)
        return MenuFamily(spec=spec, architecture=self.architecture(), weights=weights,
                          snap=float(self.snap), info=info)
