"""One-dimensional pieces on which a Gauss rule resolves a marginal density, and exact interval
probabilities from the CDF (used by the discretisation and by :mod:`amm_opt.evaluate`)."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["interval_probability", "resolving_breaks"]

FloatArray = NDArray[np.float64]

# ---------------------------------------------------------------------------------------------
# One-dimensional pieces that resolve a marginal
# ---------------------------------------------------------------------------------------------
# A piece resolves the density when its Gauss rule reproduces the piece's exact probability (from
# the CDF) to _BREAK_ATOL plus _BREAK_RTOL of it, and the rule of two points fewer does within
# _BREAK_CHECK_SLACK times that. CDF differences are accurate to ~1e-17, so 1e-14 per piece is
# well above round-off, and at most _MAX_PIECES pieces resolve an axis to ~1e-11 in probability.
# On a resolved piece Gauss rules converge spectrally (two points fewer cost a few orders at
# most), while an unresolved one that matches by coincidence at one order does not at the other.
_BREAK_ATOL = 1e-14
_BREAK_RTOL = 1e-12
_BREAK_CDF_RTOL = 1e-8
_BREAK_CHECK_SLACK = 1e4
_MAX_BREAK_DEPTH = 60    # bisections of one piece: 2^-60 of the box is below double resolution
_MAX_PIECES = 256
_BREAKS: WeakKeyDictionary[Any, dict[int, FloatArray]] = WeakKeyDictionary()


def interval_probability(marginal: Any, lo: ArrayLike, hi: ArrayLike) -> FloatArray:
    """``P(lo <= T <= hi)`` for a one-good marginal and arrays of interval ends, accurate in
    both tails (above the median, differences of the survival function instead of the CDF)."""
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    upper = marginal.cdf1(lo) > 0.5
    with np.errstate(invalid="ignore"):
        out = np.where(upper, marginal.sf1(lo) - marginal.sf1(hi),
                       marginal.cdf1(hi) - marginal.cdf1(lo))
    return np.maximum(out, 0.0)


def _resolved(marginal: Any, lo: FloatArray, hi: FloatArray, order: int) -> NDArray[np.bool_]:
    """Whether the Gauss rules of ``order`` and ``order - 2`` points resolve the density on each
    piece: both match the exact probability to a relative 1e-12, or (where the CDF itself is
    less accurate than that, e.g. a truncated normal far wider than its interval, whose CDF is
    a difference of nearly equal numbers) the two rules agree to 1e-12 and both match the CDF
    to 1e-8. A rule that misses a peak misses it at both orders, so it fails the CDF test."""
    exact = interval_probability(marginal, lo, hi)
    tol = _BREAK_ATOL + _BREAK_RTOL * exact
    loose = _BREAK_ATOL + _BREAK_CDF_RTOL * exact
    mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    ok = (mid <= lo) | (mid >= hi)                  # too small to split: accept
    strict = np.ones(len(lo), dtype=bool)
    near = np.ones(len(lo), dtype=bool)
    quads = []
    for q, slack in ((order, 1.0), (max(1, order - 2), _BREAK_CHECK_SLACK)):
        nodes, weights = np.polynomial.legendre.leggauss(q)
        t = mid[:, None] + half[:, None] * nodes[None, :]
        quad = (marginal.pdf1(t.ravel()).reshape(t.shape) * weights).sum(axis=1) * half
        strict &= np.abs(quad - exact) <= slack * tol
        near &= np.abs(quad - exact) <= slack * loose
        quads.append(quad)
    agree = np.abs(quads[0] - quads[1]) <= tol
    return ok | strict | (near & agree)


def resolving_breaks(marginal: Any, order: int = 12) -> FloatArray:
    """Breakpoints of the marginal's interval on whose pieces an ``order``-point Gauss rule
    resolves its density.

    Bisects from the whole interval until every piece passes the test above (a rule that
    misses a peak sees too little mass and fails it), then merges neighbours while the merged
    piece still passes (bisection leaves runs of tail pieces that only failed as parts of a
    peaked parent). Pieces left unresolved at the size cap stay; callers compare their
    integrals with the exact probabilities. Cached per marginal and order.
    """
    cache = _BREAKS.setdefault(marginal, {})
    if order in cache:
        return cache[order].copy()
    lo, hi = np.array([marginal.lower]), np.array([marginal.upper])
    done: list[FloatArray] = []
    for _ in range(0 if marginal.is_uniform else _MAX_BREAK_DEPTH):
        ok = _resolved(marginal, lo, hi, order)
        done.append(lo[ok])
        lo, hi = lo[~ok], hi[~ok]
        if lo.size == 0 or sum(d.size for d in done) + 2 * lo.size > _MAX_PIECES:
            break
        mid = 0.5 * (lo + hi)
        lo, hi = np.concatenate([lo, mid]), np.concatenate([mid, hi])
    breaks = np.unique(np.concatenate([*done, lo, [marginal.upper]]))
    merged = [breaks[0]]
    i = 1
    while i < len(breaks):
        j = i
        while j + 1 < len(breaks) and _resolved(marginal, np.array([merged[-1]]),
                                                 np.array([breaks[j + 1]]), order)[0]:
            j += 1
        merged.append(breaks[j])
        i = j + 1
    cache[order] = np.asarray(merged)
    return cache[order].copy()
