r"""The network of :mod:`.network` in torch, and the amortised soft-choice profit (imports torch).

For a batch of rows ``b``, each with its own parameters :math:`\theta_b = (c_b, \lambda_b)`, its
own type :math:`v_b` and its own menu :math:`(x_{bk}, p_{bk}) = \text{net}(\theta_b)`,

.. math::

    U_{bk} = v_b \cdot x_{bk} - p_{bk}, \quad
    w_b = \operatorname{softmax}\big(\tau\,[U_{b1}, \dots, U_{bK}, 0] / s\big), \quad
    L = \frac1B \sum_b \sum_k w_{bk}\,\big(p_{bk} - x_{bk} \cdot c'_b(v_b)\big),

with :math:`c'_b(v) = (1-\lambda_b) c_b + \lambda_b v` and no-trade the last entry (profit 0).
This is RochetNet's objective (docs/math/rochetnet.md) averaged over the family; every row's
menu is different, so RochetNet's fused shared-menu kernel does not apply here (its
``hard_profit`` does, for validation at fixed parameters).
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.typing import NDArray

__all__ = ["MenuNet", "soft_family_profit"]


class MenuNet(torch.nn.Module):
    """The MLP with the menu head of :func:`amm_opt.amortised.network.menu_arrays`."""

    def __init__(self, weights: list[NDArray[np.float64]], goods: int, theta_mid: NDArray,
                 theta_half: NDArray, low: NDArray, width: NDArray, gain: float, scale: float,
                 dtype: torch.dtype, device: torch.device) -> None:
        super().__init__()
        self.goods = goods
        self.layers = torch.nn.ModuleList()
        for i in range(0, len(weights), 2):
            w = torch.as_tensor(np.array(weights[i]), dtype=dtype, device=device)
            layer = torch.nn.Linear(w.shape[1], w.shape[0], device=device, dtype=dtype)
            with torch.no_grad():
                layer.weight.copy_(w)
                layer.bias.copy_(torch.as_tensor(np.array(weights[i + 1]), dtype=dtype))
            self.layers.append(layer)

        def buf(a: NDArray) -> torch.Tensor:
            return torch.as_tensor(np.array(a, dtype=np.float64), dtype=dtype, device=device)

        half = np.asarray(theta_half, dtype=np.float64)
        self.register_buffer("mid", buf(theta_mid))
        self.register_buffer("inv_half", buf(np.where(half > 0, 1.0 / np.where(half > 0, half,
                                                                                1.0), 0.0)))
        self.register_buffer("low", buf(low))
        self.register_buffer("width", buf(width))
        self.gain, self.scale = float(gain), float(scale)

    def raw(self, theta: torch.Tensor) -> torch.Tensor:
        a = (theta - self.mid) * self.inv_half
        for i, layer in enumerate(self.layers):
            a = layer(a)
            if i < len(self.layers) - 1:
                a = torch.nn.functional.silu(a)
        return a

    def forward(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Menus of a batch of parameters ``theta`` (m, n + 1): ``x`` (m, K, n), ``p`` (m, K)."""
        n = self.goods
        out = self.raw(theta).reshape(theta.shape[0], -1, n + 1)
        x = self.low + self.width * torch.sigmoid(self.gain * out[..., :n])
        rel = torch.nn.functional.softplus(out[..., n]) * self.scale
        p = (x * theta[:, None, :n]).sum(dim=-1) + rel
        return x, p

    def weights(self) -> list[NDArray[np.float64]]:
        """The parameters as float64 numpy arrays ``[W_1, b_1, ...]`` (for :mod:`.network`)."""
        out: list[NDArray[np.float64]] = []
        for layer in self.layers:
            out += [layer.weight.detach().to("cpu", torch.float64).numpy().copy(),
                    layer.bias.detach().to("cpu", torch.float64).numpy().copy()]
        return out


def soft_family_profit(x: torch.Tensor, p: torch.Tensor, v: torch.Tensor, theta: torch.Tensor,
                       tau: float) -> torch.Tensor:
    """Mean soft-choice profit :math:`L` of the module docstring (differentiable).

    ``x`` (B, K, n), ``p`` (B, K), ``v`` (B, n), ``theta`` (B, n + 1), ``tau`` already divided
    by the utility scale.
    """
    n = v.shape[1]
    c, lam = theta[:, :n], theta[:, n:]
    q = (1.0 - lam) * c + lam * v                                   # posteriors (B, n)
    util = torch.einsum("bkn,bn->bk", x, v) - p
    gain = p - torch.einsum("bkn,bn->bk", x, q)
    zero = util.new_zeros((util.shape[0], 1))
    w = torch.softmax(tau * torch.cat([util, zero], dim=1), dim=1)[:, :-1]
    return (w * gain).sum(dim=1).mean()
