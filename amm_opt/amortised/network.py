r"""The network that maps problem parameters to a menu, in numpy (float64, no torch).

For :math:`\theta = (c, \lambda)`, normalised to :math:`z = (\theta - m)/h \in [-1, 1]^{n+1}`
(``m``, ``h`` the centre and half-width of the family's box; a coordinate with ``h = 0`` is 0),
a multilayer perceptron with SiLU activations outputs, for each of ``K`` items, ``n`` logits
:math:`\ell_k` and one number :math:`\rho_k`, and the menu is

.. math::

    x_k = l + (h_X - l) \odot \operatorname{sigmoid}(g\,\ell_k), \qquad
    p_k = x_k \cdot c + s\,\operatorname{softplus}(\rho_k),

with ``g`` the logit gain and ``s`` the utility scale, plus no-trade. So for every
:math:`\theta`, by construction: :math:`x_k \in X`; no-trade is offered (IR); and
:math:`u(c) = \max(0, \max_k -s\operatorname{softplus}(\rho_k)) = 0`, the model's condition that
the type equal to the belief gains nothing (:doc:`/model`). Pricing relative to :math:`x \cdot c`
is what makes one network fit every belief: shifting :math:`c` moves the optimal prices with it.

The same forward pass in torch (for training) lives in :mod:`.torch_net`; a test checks the two
agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..errors import OptionError

__all__ = ["Architecture", "forward", "init_weights", "menu_arrays"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Architecture:
    """Sizes and constants of the network (recorded in a saved family).

    Parameters
    ----------
    items : int
        Menu items ``K`` (no-trade comes on top).
    hidden : tuple of int
        Widths of the hidden layers.
    logit_gain : float
        ``g``: a larger gain lets allocations reach the faces of the box in fewer steps.
    """

    items: int = 64
    hidden: tuple[int, ...] = (128, 128)
    logit_gain: float = 4.0

    def __post_init__(self) -> None:
        if isinstance(self.items, bool) or not isinstance(self.items, int) or self.items < 1:
            raise OptionError("must be a positive integer", field="items", value=self.items,
                              allowed="1, 2, ... (64 by default)")
        hidden = tuple(self.hidden)
        if not hidden or any(isinstance(h, bool) or not isinstance(h, int) or h < 1
                             for h in hidden):
            raise OptionError("must be positive integers", field="hidden", value=self.hidden,
                              allowed="a tuple such as (128, 128)")
        object.__setattr__(self, "hidden", hidden)
        if not (isinstance(self.logit_gain, (int, float)) and 0 < self.logit_gain < np.inf):
            raise OptionError("must be a positive number", field="logit_gain",
                              value=self.logit_gain, allowed="e.g. 4.0")

    def shapes(self, dim: int, goods: int) -> list[tuple[int, int]]:
        """``(fan_out, fan_in)`` of each linear layer for ``dim`` inputs and ``goods`` goods."""
        sizes = [dim, *self.hidden, self.items * (goods + 1)]
        return [(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)]

    def parameter_count(self, dim: int, goods: int) -> int:
        return sum(o * i + o for o, i in self.shapes(dim, goods))


def init_weights(arch: Architecture, dim: int, goods: int, seed: int, out_bias: FloatArray,
                 out_scale: float = 0.1) -> list[FloatArray]:
    """``[W_1, b_1, ..., W_L, b_L]``: uniform :math:`\\pm 1/\\sqrt{\\text{fan-in}}` (torch's
    default), the last layer's weights shrunk by ``out_scale`` and its bias ``out_bias`` (so the
    initial menu is nearly the same for every :math:`\\theta`). Seeded numpy: the same on every
    device."""
    rng = np.random.default_rng(seed)
    out: list[FloatArray] = []
    shapes = arch.shapes(dim, goods)
    for i, (fo, fi) in enumerate(shapes):
        bound = 1.0 / np.sqrt(fi)
        w = rng.uniform(-bound, bound, (fo, fi))
        b = rng.uniform(-bound, bound, fo)
        if i == len(shapes) - 1:
            w, b = w * out_scale, np.asarray(out_bias, dtype=np.float64).reshape(fo)
        out += [w, b]
    return out


def _silu(a: FloatArray) -> FloatArray:
    return a / (1.0 + np.exp(-a))


def forward(weights: list[FloatArray], z: FloatArray) -> FloatArray:
    """The MLP on normalised parameters ``z`` of shape (m, dim): shape (m, K (n + 1))."""
    a = z
    last = len(weights) // 2 - 1
    for i in range(0, len(weights), 2):
        a = a @ weights[i].T + weights[i + 1]
        if i // 2 < last:
            a = _silu(a)
    return a


def menu_arrays(raw: FloatArray, belief: FloatArray, low: FloatArray, width: FloatArray,
                gain: float, scale: float) -> tuple[FloatArray, FloatArray]:
    """Allocations (K, n) and prices (K,) from one row of network output (see the module)."""
    n = belief.shape[0]
    out = raw.reshape(-1, n + 1)
    x = low + width * (1.0 / (1.0 + np.exp(-gain * out[:, :n])))
    x = np.clip(x, low, low + width)
    rho = out[:, n]
    rel = np.logaddexp(0.0, rho) * scale
    return x, x @ belief + rel
