"""Checks of the checkers' own arguments: option mappings, evaluate's keywords, counts, seeds.

A mistyped argument of ``certify`` or ``crosscheck`` must be an :class:`~amm_opt.errors.OptionError`
naming it, not a ``TypeError`` from deep inside :func:`amm_opt.evaluate` or numpy.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import OptionError
from ..evaluate import evaluate
from ..options import Integer, check_value, is_real

__all__ = ["EVALUATE_OPTIONS", "check_count", "check_seed", "options_mapping", "real_or_none"]

#: The keyword options of :func:`amm_opt.evaluate` (what ``evaluate_options`` may hold).
EVALUATE_OPTIONS = frozenset(name for name, p in inspect.signature(evaluate).parameters.items()
                             if p.kind is inspect.Parameter.KEYWORD_ONLY)


def options_mapping(value: Any, field: str, allowed: Iterable[str] | None = None
                    ) -> dict[str, Any]:
    """``value`` (a mapping of option names, or None) as a dict; unknown names refused when
    ``allowed`` is given."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise OptionError("must be a mapping of option names to values", field=field,
                          value=type(value).__name__, allowed="a dict such as {'grid': 64}")
    out = dict(value)
    if not all(isinstance(k, str) for k in out):
        raise OptionError("must have option names (strings) as keys", field=field,
                          value=sorted(map(repr, out)), allowed="a dict such as {'grid': 64}")
    if allowed is not None:
        unknown = sorted(set(out) - set(allowed))
        if unknown:
            raise OptionError("names unknown options", field=field, value=unknown,
                              allowed=", ".join(sorted(allowed)))
    return out


def check_count(value: Any, field: str, high: int) -> None:
    """A positive integer up to ``high`` (counts of probe points: larger is a typo)."""
    check_value(field, value, Integer(1, high, example="4096"))


def check_seed(value: Any) -> None:
    check_value("seed", value, Integer(0, 2**63 - 1, example="0"))


def real_or_none(value: Any, field: str) -> float | None:
    """A finite number or None."""
    if value is None:
        return None
    if not is_real(value):
        raise OptionError("must be a finite number", field=field, value=value,
                          allowed="a float such as 0.2746 (or None)")
    return float(value)
