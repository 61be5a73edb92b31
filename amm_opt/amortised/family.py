r"""A trained menu family: :math:`\theta = (c, \lambda) \mapsto` a :class:`~amm_opt.Menu`.

The family holds the network's weights as float64 numpy arrays and evaluates it with numpy, so
using a family (``family.menu(...)``) needs no torch; training and saving do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import OptionError
from ..evaluate import evaluate
from ..menu import Menu
from ..polishing import snap_allocations
from ..problem import Problem
from .network import Architecture, forward, menu_arrays
from .spec import FamilySpec

__all__ = ["MenuFamily", "utility_scale"]

FloatArray = NDArray[np.float64]


def utility_scale(spec: FamilySpec) -> float:
    """Mean value-box width times half the mean allocation-box width (RochetNet's scale ``s``:
    temperatures and prices are relative to it; 1 for the paper's instances)."""
    p = spec.reference
    s = float(np.mean(p.value_high - p.value_low) *
              np.mean(p.allocation_high - p.allocation_low) / 2.0)
    return s if s > 0 else 1.0


@dataclass(frozen=True, eq=False)
class MenuFamily:
    r"""Menus for every member of a :class:`FamilySpec`, from one trained network.

    Parameters
    ----------
    spec : FamilySpec
        The problems covered.
    architecture : Architecture
        Sizes of the network.
    weights : list of ndarray
        ``[W_1, b_1, ..., W_L, b_L]`` (float64).
    snap : float
        Default snapping tolerance of :meth:`menu` (0: off).
    info : dict
        How it was trained (settings, seeds, timings, validation history); JSON data only.

    Examples
    --------
    A family is made by :meth:`AmortisedTrainer.train <amm_opt.amortised.AmortisedTrainer.train>`
    and used as ``family.menu(belief=[0.4, 0.6], adverse_selection=0.2)``.
    """

    spec: FamilySpec
    architecture: Architecture
    weights: list[FloatArray]
    snap: float = 1e-2
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        shapes = self.architecture.shapes(self.spec.dim, self.spec.goods)
        expected = [s for o, i in shapes for s in ((o, i), (o,))]
        got = [tuple(np.shape(w)) for w in self.weights]
        if got != expected:
            raise OptionError("do not fit the architecture", field="weights", value=got,
                              allowed=f"arrays of shapes {expected}")
        weights = [np.array(w, dtype=np.float64) for w in self.weights]
        if not all(np.all(np.isfinite(w)) for w in weights):
            raise OptionError("must be finite", field="weights", value="NaN or inf",
                              allowed="finite numbers")
        for w in weights:
            w.setflags(write=False)
        object.__setattr__(self, "weights", weights)
        if not (isinstance(self.snap, (int, float)) and 0 <= self.snap < 0.5):
            raise OptionError("must be in [0, 0.5)", field="snap", value=self.snap,
                              allowed="0.01 (0 turns snapping off)")

    @property
    def scale(self) -> float:
        """Utility scale ``s`` of the prices (:func:`utility_scale`)."""
        return utility_scale(self.spec)

    def problem(self, belief: ArrayLike, adverse_selection: float) -> Problem:
        """The member problem (see :meth:`FamilySpec.problem`)."""
        return self.spec.problem(belief, adverse_selection)

    def raw_menu(self, belief: ArrayLike, adverse_selection: float) -> Menu:
        """The network's ``K`` items (plus no-trade) at ``(c, λ)``, before snapping or pruning."""
        c, lam = self.spec.check_member(belief, adverse_selection)
        spec = self.spec
        theta = np.append(c, lam)
        mid = (spec.theta_low + spec.theta_high) / 2
        half = (spec.theta_high - spec.theta_low) / 2
        z = np.where(half > 0, (theta - mid) / np.where(half > 0, half, 1.0), 0.0)
        raw = forward(self.weights, z[None])[0]
        p = spec.reference
        x, price = menu_arrays(raw, c, p.allocation_low, p.allocation_high - p.allocation_low,
                               self.architecture.logit_gain, self.scale)
        return Menu(x, price)

    def menu(self, belief: ArrayLike, adverse_selection: float, *, snap: float | None = None,
             prune: bool = True, evaluate_method: str = "auto") -> Menu:
        r"""The family's menu for the problem :math:`(c, \lambda)`.

        The network's items, with allocation coordinates within ``snap`` times the box width
        of a face or of 0 moved onto it when that does not lower the evaluated profit
        (:func:`amm_opt.polishing.snap_allocations`, RochetNet's rule), and without the items
        no type chooses. Prices are not re-optimised: this is the network's menu.

        Parameters
        ----------
        belief : float or array of shape (goods,)
        adverse_selection : float
            Both inside the family's ranges (else :class:`~amm_opt.errors.ProblemError`).
        snap : float, optional
            Tolerance (default: the family's ``snap``; 0 turns it off).
        prune : bool
            Drop the items nobody chooses.
        evaluate_method : str
            Method of :func:`amm_opt.evaluate` used to compare and prune.
        """
        snap = self.snap if snap is None else snap
        if not (isinstance(snap, (int, float)) and 0 <= snap < 0.5):
            raise OptionError("must be in [0, 0.5)", field="snap", value=snap,
                              allowed="0.01 (0 turns snapping off)")
        menu = self.raw_menu(belief, adverse_selection)
        if snap == 0 and not prune:
            return menu
        problem = self.problem(belief, adverse_selection)
        ev = evaluate(problem, menu, method=evaluate_method)
        if snap > 0:
            snapped = Menu(snap_allocations(np.asarray(menu.allocations),
                                            problem.allocation_low, problem.allocation_high,
                                            snap), menu.prices)
            ev_snap = evaluate(problem, snapped, method=evaluate_method)
            if ev_snap.profit >= ev.profit:
                menu, ev = snapped, ev_snap
        return menu.subset(ev.item_probability > 0) if prune else menu

    def menus(self, parameters: ArrayLike, **options: Any) -> list[Menu]:
        """:meth:`menu` at each row ``(c_1, ..., c_n, λ)`` of ``parameters``."""
        theta = np.atleast_2d(np.asarray(parameters, dtype=np.float64))
        n = self.spec.goods
        return [self.menu(t[:n], float(t[n]), **options) for t in theta]
