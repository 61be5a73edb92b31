"""Validated numeric inputs: distribution parameters and arrays of trader values.

Each check raises the error class of the object being built, naming the field and the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import AmmOptError, DistributionError

__all__ = ["MAX_MAGNITUDE", "as_parameter", "broadcast_parameters", "check_magnitude",
           "points_array"]

FloatArray = NDArray[np.float64]

#: Largest magnitude of a value or parameter: profits are sums of products of values,
#: allocations and prices, which lose every digit (or overflow) far below 1e308.
MAX_MAGNITUDE = 1e100


def as_parameter(value: Any, name: str, owner: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DistributionError(
            "must be a number or a 1-D array of numbers",
            field=f"{owner}.{name}",
            value=value,
            allowed="a finite float or one finite float per good",
        ) from None
    if arr.ndim > 1:
        raise DistributionError(
            "must be a scalar or a 1-D array (one entry per good)",
            field=f"{owner}.{name}",
            value=value,
            allowed="shape () or (goods,)",
        )
    if arr.ndim == 1 and arr.size == 0:
        raise DistributionError("is empty", field=f"{owner}.{name}", value=value,
                                allowed="a scalar or one entry per good")
    if not np.all(np.isfinite(arr)):
        raise DistributionError("must be finite (no NaN or inf)", field=f"{owner}.{name}",
                                value=value, allowed="finite floats")
    check_magnitude(arr, f"{owner}.{name}")
    return arr


def check_magnitude(arr: np.ndarray, field: str) -> None:
    if np.any(np.abs(arr) > MAX_MAGNITUDE):
        raise DistributionError("is too large in magnitude", field=field,
                                value=float(np.abs(arr).max()),
                                allowed=f"|value| <= {MAX_MAGNITUDE:g} (rescale the units)")


def points_array(v: ArrayLike, goods: int, error: type[AmmOptError]) -> FloatArray:
    """``v`` as a float array of shape (m, goods) (a 1-D array is m points when goods is 1), or
    ``error`` naming the expected shape."""
    arr = np.asarray(v, dtype=np.float64)
    if arr.ndim == 1 and goods == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != goods:
        raise error("points must have shape (m, goods)", field="v", value=arr.shape,
                    allowed=f"(m, {goods})")
    return arr


def broadcast_parameters(params: dict[str, np.ndarray], owner: str) -> int | None:
    """Common per-good length of the array parameters (None if all are scalars)."""
    sizes = {name: arr.size for name, arr in params.items() if arr.ndim == 1}
    if not sizes:
        return None
    distinct = set(sizes.values())
    if len(distinct) > 1:
        raise DistributionError(
            "per-good parameters have different lengths",
            field=owner,
            value=sizes,
            allowed="all array parameters of the same length (one entry per good)",
        )
    return distinct.pop()
