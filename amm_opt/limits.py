"""Resource limits: what a request may cost before any memory is spent on it.

Engines estimate the memory of the arrays they are about to build and call
:func:`require_memory` first; a request beyond :func:`memory_limit` is refused with
:class:`~amm_opt.errors.ResourceLimitError` stating the estimate, the limit and the fix.
The limit is 60% of the machine's physical memory (16 GiB where that cannot be read), or the
environment variable ``AMM_OPT_MEMORY_LIMIT`` (bytes, or a number with a ``KiB``/``MiB``/``GiB``
suffix).
"""

from __future__ import annotations

import os
import re

from .errors import ResourceLimitError

__all__ = ["MAX_GOODS", "format_bytes", "memory_limit", "require_memory"]

#: Goods a problem may have: beyond this, per-good arrays alone are unreasonable, and no engine
#: has been run there.
MAX_GOODS = 10_000

_FALLBACK = 16 * 2**30
_UNITS = {"": 1, "b": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
          "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}


def _physical_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, OSError, ValueError):
        return None


def memory_limit() -> int:
    """Bytes one request may use (see the module docstring)."""
    text = os.environ.get("AMM_OPT_MEMORY_LIMIT", "").strip().lower()
    if text:
        match = re.fullmatch(r"([0-9.]+)\s*([a-z]*)", text)
        if match and match.group(2) in _UNITS:
            return int(float(match.group(1)) * _UNITS[match.group(2)])
        raise ResourceLimitError("is not a size", field="AMM_OPT_MEMORY_LIMIT", value=text,
                                 allowed="bytes, or e.g. '8GiB', '512MiB'")
    physical = _physical_memory()
    return _FALLBACK if physical is None else int(0.6 * physical)


def format_bytes(n: float) -> str:
    """``n`` bytes in the largest binary unit that keeps it at least 1."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def require_memory(estimate: float, what: str, field: str, fix: str) -> None:
    """Raise :class:`ResourceLimitError` when ``estimate`` bytes exceed :func:`memory_limit`.

    Parameters
    ----------
    estimate : float
        Bytes the request would need (an estimate of its largest arrays).
    what : str
        What would be built, in words (e.g. "the grid LP on 5^50 points").
    field : str
        The option or argument that sets the size.
    fix : str
        How to ask for less.
    """
    limit = memory_limit()
    if estimate > limit:
        raise ResourceLimitError(
            f"{what} would need about {format_bytes(estimate)}, above the memory limit of "
            f"{format_bytes(limit)}", field=field, value=None,
            allowed=f"{fix}; or raise the limit with AMM_OPT_MEMORY_LIMIT")
