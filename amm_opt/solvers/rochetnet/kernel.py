r"""The soft-choice profit of RochetNet and its gradient, fused and chunked (imports torch).

For a batch of types :math:`v_b` (with posteriors :math:`q_b`) and menu items
:math:`(x_k, p_k)`, plus the fixed no-trade item :math:`(0, 0)`,

.. math::

    U_{bk} = v_b \cdot x_k - p_k, \qquad
    w_{bk} = \frac{e^{\tau U_{bk}}}{e^{0} + \sum_j e^{\tau U_{bj}}}, \qquad
    P_{bk} = p_k - q_b \cdot x_k, \qquad
    L = \frac1B \sum_b \underbrace{\sum_k w_{bk} P_{bk}}_{L_b} .

The gradient is written out by hand, which lets one pass over the batch compute both and keep
only a ``(chunk, K)`` block alive at a time (autograd would store several ``(B, K)`` tensors):

.. math::

    \frac{\partial L}{\partial p_k} = \frac1B \sum_b \big(w_{bk} - G_{bk}\big), \quad
    \frac{\partial L}{\partial x_k} = \frac1B \sum_b \big(G_{bk} v_b - w_{bk} q_b\big), \quad
    G_{bk} = \tau\, w_{bk} (P_{bk} - L_b).

For the linear update :math:`q_b = \kappa c + \lambda v_b`, so :math:`P` reuses
:math:`v_b \cdot x_k` and no posterior array is formed.

:func:`reference_soft_profit` is the straightforward autograd version (one ``softmax`` over the
whole batch); tests check the two agree and the benchmark times one against the other.
"""

from __future__ import annotations

from typing import Any

import torch

from ...errors import BackendUnavailableError

__all__ = ["hard_profit", "reference_soft_profit", "soft_profit"]


# exp(-60) ≈ 9e-27: weights below this relative size change nothing in float32 or float64, and
# clamping keeps exp away from subnormal results, which are ~10x slower on x86 CPUs.
_EXP_FLOOR = -60.0


class Workspace:
    """Two reusable ``(chunk, K)`` blocks: fresh multi-megabyte temporaries on every operation
    cost a page fault per 4 KiB on CPU, which dominated the step time before this existed.

    With ``compile=True`` the blocks are not needed: :func:`torch.compile` fuses the
    out-of-place twin of the chunk computation into a few loops instead.
    """

    def __init__(self, rows: int, items: int, like: torch.Tensor, compile: bool = False
                 ) -> None:
        self.rows = rows
        self.compiled: Any = None
        self.compiled_ok = False
        if compile:
            self.compiled = torch.compile(_chunk_grads_pure, dynamic=False)
            return
        self.a = like.new_empty((rows, items))
        self.b = like.new_empty((rows, items))


def _chunk_grads(x: torch.Tensor, p: torch.Tensor, v: torch.Tensor, q: torch.Tensor | None,
                 kc: torch.Tensor, kc_vec: torch.Tensor, lam: float, tau: float,
                 ws: Workspace) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sums over one chunk of ``L_b`` and of the gradient terms (see the module docstring)."""
    rows = v.shape[0]
    vx = torch.mm(v, x.T, out=ws.a[:rows])                          # (b, K)
    w = torch.sub(vx, p, out=ws.b[:rows])                           # utilities
    # No-trade (utility 0) joins the max so exp never overflows and keeps its weight.
    top = w.amax(dim=1).clamp_min_(0.0)
    w.sub_(top[:, None]).mul_(tau).clamp_min_(_EXP_FLOOR).exp_()
    z = w.sum(dim=1).add_(torch.exp(top.mul_(-tau).clamp_min_(_EXP_FLOOR)))
    w.div_(z[:, None])                                              # softmax weights
    if q is None:
        prof = vx.mul_(-lam).add_(p - kc)                           # p_k - κ c·x_k - λ v·x_k
    else:
        prof = torch.mm(q, x.T, out=vx).neg_().add_(p)              # p_k - q_b·x_k
    lb = torch.bmm(w.unsqueeze(1), prof.unsqueeze(2)).view(rows)     # Σ_k w P, no (b, K) temp
    wsum = w.sum(dim=0)
    g = prof.sub_(lb[:, None]).mul_(w).mul_(tau)                    # G, in place over P
    gp = wsum - g.sum(dim=0)
    if q is None:
        if lam:
            g.sub_(w, alpha=lam)                                    # G - λ w
        gx = (v.T @ g).T - wsum[:, None] * kc_vec[None, :]          # - κ c Σ_b w_bk
    else:
        gx = (v.T @ g - q.T @ w).T
    return lb.sum(), gx, gp


def _chunk_grads_pure(x: torch.Tensor, p: torch.Tensor, v: torch.Tensor,
                      q: torch.Tensor | None, kc: torch.Tensor, kc_vec: torch.Tensor, lam: float,
                      tau: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`_chunk_grads` without buffers, for ``torch.compile``; ``tau`` is a 0-d tensor so
    that annealing does not trigger a recompilation per step."""
    vx = v @ x.T
    util = vx - p
    top = util.amax(dim=1).clamp_min(0.0)
    w = torch.exp(((util - top[:, None]) * tau).clamp_min(_EXP_FLOOR))
    z = w.sum(dim=1) + torch.exp((-tau * top).clamp_min(_EXP_FLOOR))
    w = w / z[:, None]
    prof = p - kc - lam * vx if q is None else p - q @ x.T
    lb = (w * prof).sum(dim=1)
    wsum = w.sum(dim=0)
    g = (prof - lb[:, None]) * w * tau
    gp = wsum - g.sum(dim=0)
    if q is None:
        gx = (v.T @ (g - lam * w)).T - wsum[:, None] * kc_vec[None, :]
    else:
        gx = (v.T @ g - q.T @ w).T
    return lb.sum(), gx, gp


def _compiled_chunk(ws: Workspace, *args: Any) -> tuple[torch.Tensor, ...]:
    try:
        out = ws.compiled(*args)
    except Exception as exc:  # inductor raises many types (no C++ compiler, unsupported op)
        if ws.compiled_ok:
            raise
        raise BackendUnavailableError(
            f"torch.compile failed here ({type(exc).__name__}: {str(exc)[:200]})",
            field="torch_compile", value=True, allowed="torch_compile=False (the default)"
        ) from exc
    ws.compiled_ok = True
    return out


class _SoftProfit(torch.autograd.Function):
    """Autograd wrapper: the forward pass already computes the gradient, chunk by chunk."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, p: torch.Tensor,  # type: ignore[override]
                v: torch.Tensor, q: torch.Tensor | None, c: torch.Tensor, kappa: float,
                lam: float, tau: float, ws: Workspace) -> torch.Tensor:
        batch = v.shape[0]
        kc_vec = kappa * c                                          # (n,)
        kc = x @ kc_vec                                             # (K,) κ c·x_k
        total = x.new_zeros(())
        gx = torch.zeros_like(x)
        gp = torch.zeros_like(p)
        tau_t = torch.tensor(tau, dtype=x.dtype, device=x.device) if ws.compiled else None
        for s in range(0, batch, ws.rows):
            qs = None if q is None else q[s:s + ws.rows]
            if tau_t is not None:
                lsum, cgx, cgp = _compiled_chunk(ws, x, p, v[s:s + ws.rows], qs, kc, kc_vec,
                                                 lam, tau_t)
            else:
                lsum, cgx, cgp = _chunk_grads(x, p, v[s:s + ws.rows], qs, kc, kc_vec, lam,
                                              tau, ws)
            total += lsum
            gx += cgx
            gp += cgp
        ctx.save_for_backward(gx / batch, gp / batch)
        return total / batch

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[Any, ...]:  # type: ignore[override]
        gx, gp = ctx.saved_tensors
        return grad_out * gx, grad_out * gp, None, None, None, None, None, None, None


def soft_profit(x: torch.Tensor, p: torch.Tensor, v: torch.Tensor, q: torch.Tensor | None,
                c: torch.Tensor, kappa: float, lam: float, tau: float, ws: Workspace
                ) -> torch.Tensor:
    r"""Mean soft-choice profit :math:`L` (differentiable in ``x`` and ``p``).

    Parameters
    ----------
    x : tensor of shape (K, n)
        Allocations of the trainable items (no-trade is implicit).
    p : tensor of shape (K,)
        Prices.
    v : tensor of shape (B, n)
        Trader types.
    q : tensor of shape (B, n) or None
        Posteriors :math:`c'(v_b)`; None means the linear rule ``kappa * c + lam * v``.
    c : tensor of shape (n,)
        Belief (used only when ``q`` is None).
    kappa, lam : float
        :math:`1-\lambda` and :math:`\lambda`.
    tau : float
        Softmax inverse temperature.
    ws : Workspace
        Reused blocks; ``ws.rows`` batch rows are processed at once, so memory stays at
        ``2 * ws.rows * K`` numbers whatever the batch size.
    """
    return _SoftProfit.apply(x, p, v, q, c, kappa, lam, tau, ws)


def reference_soft_profit(x: torch.Tensor, p: torch.Tensor, v: torch.Tensor,
                          q: torch.Tensor | None, c: torch.Tensor, kappa: float, lam: float,
                          tau: float) -> torch.Tensor:
    """The same :math:`L` written plainly with autograd over the whole batch (the baseline)."""
    xs = torch.cat([x, x.new_zeros((1, x.shape[1]))])
    ps = torch.cat([p, p.new_zeros(1)])
    post = kappa * c + lam * v if q is None else q
    w = torch.softmax(tau * (v @ xs.T - ps), dim=1)
    return (w * (ps - post @ xs.T)).sum(dim=1).mean()


@torch.no_grad()
def hard_profit(x: torch.Tensor, p: torch.Tensor, v: torch.Tensor, q: torch.Tensor,
                chunk: int) -> torch.Tensor:
    """Mean profit when each type takes its best item (argmax; no-trade wins exact ties).

    ``q`` (shape (B, n)) holds the posteriors of ``v`` (shape (B, n)); returns a 0-d tensor.
    """
    total = x.new_zeros(())
    for s in range(0, v.shape[0], chunk):
        vs, qs = v[s:s + chunk], q[s:s + chunk]
        util = vs @ x.T - p
        best, idx = util.max(dim=1)
        gain = p[idx] - (qs * x[idx]).sum(dim=1)
        total += torch.where(best > 0, gain, torch.zeros_like(gain)).sum()
    return total / v.shape[0]
