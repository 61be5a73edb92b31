"""Exceptions and warnings raised by amm_opt.

Every error a user can trigger with bad input is an :class:`AmmOptError` subclass whose message
names the offending field, the value received, and what is allowed, so that no traceback from
deep inside numpy, cvxpy, POT or torch reaches the user.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AmmOptError",
    "AmmOptWarning",
    "BackendUnavailableError",
    "DistributionError",
    "FileFormatError",
    "InaccurateSolutionWarning",
    "MenuError",
    "OptionError",
    "OutputPathError",
    "ProblemError",
    "ResourceLimitError",
    "SolverFailedError",
    "UnknownBackendError",
    "UnsupportedProblemError",
]


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class AmmOptError(Exception):
    """Base class of every error amm_opt raises on purpose.

    Parameters
    ----------
    message
        What went wrong, in words.
    field
        Name of the offending argument or file field, if there is one.
    value
        The value received (shown abbreviated).
    allowed
        What would have been accepted: the fix.
    """

    _no_value = object()

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = _no_value,
        allowed: str | None = None,
    ) -> None:
        self.field = field
        self.value = None if value is self._no_value else value
        self.allowed = allowed
        parts = []
        if field is not None:
            parts.append(f"{field}: {message}")
        else:
            parts.append(message)
        if value is not self._no_value:
            parts.append(f"got {_short(value)}")
        if allowed is not None:
            parts.append(f"allowed: {allowed}")
        super().__init__("; ".join(parts))


class ProblemError(AmmOptError, ValueError):
    """A :class:`~amm_opt.Problem` argument is invalid."""


class DistributionError(ProblemError):
    """A value distribution (``Uniform``, ``Beta``, ...) is invalid."""


class MenuError(AmmOptError, ValueError):
    """A :class:`~amm_opt.Menu` is invalid or does not fit the problem."""


class OptionError(AmmOptError, TypeError):
    """An unknown or invalid solver / evaluation option."""


class UnknownBackendError(AmmOptError, ValueError):
    """No backend is registered under the requested name."""


class BackendUnavailableError(AmmOptError, ImportError):
    """The backend exists but its optional dependencies are not installed or licensed."""


class UnsupportedProblemError(AmmOptError, ValueError):
    """The backend or method cannot handle this kind of problem (say which one can)."""


class SolverFailedError(AmmOptError, RuntimeError):
    """A solver failed and produced no usable result."""


class FileFormatError(AmmOptError, ValueError):
    """A JSON/TOML/npz file is malformed or of an unsupported schema version."""


class OutputPathError(AmmOptError, OSError):
    """An output file cannot be written where asked (missing or read-only folder, a path that is
    a folder or lies under a file, a name too long) or its write failed (a full disk)."""


class AmmOptWarning(UserWarning):
    """Base class of amm_opt warnings."""


class InaccurateSolutionWarning(AmmOptWarning):
    """A solver returned a solution it reports as inaccurate; bounds are still valid."""


class ResourceLimitError(AmmOptError, MemoryError):
    """A request would need more memory (or more points, items, rows) than the stated limit;
    the message gives the estimate, the limit and how to lower the request or raise the limit."""
