"""Checks the bound engines make on the discretised measure before building anything on it."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ..errors import UnsupportedProblemError
from ..problem import Problem

__all__ = ["require_finite_measure"]


def require_finite_measure(masses: ArrayLike, quadrature_error: float, problem: Problem) -> None:
    """Refuse a discretised measure with NaN/inf masses or error estimate: no bound built on it
    could be trusted (the density could not be integrated on this grid)."""
    arr = np.asarray(masses, dtype=np.float64)
    if not (np.all(np.isfinite(arr)) and math.isfinite(float(quadrature_error))):
        raise UnsupportedProblemError(
            "the discretised measure has non-finite masses: the density cannot be integrated "
            "on this grid", field="values", value=problem.values,
            allowed="a less concentrated density, or backend='rochetnet' (sampling)")
