"""Option rules: what each engine option may hold, declared as data and checked in one place.

An engine lists its rules in ``option_rules`` (``{option name: rule}``); :func:`check_options`
checks every value against its rule and raises :class:`~amm_opt.errors.OptionError` naming the
option, the value and what is allowed. The same rules serve functions with keyword options
(:func:`check_value`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import OptionError

__all__ = ["Choice", "Flag", "Function", "Grid", "Instance", "Integer", "Real", "Rule",
           "check_options",
           "check_training_target", "check_value", "grid_cells", "grid_points", "grid_setting",
           "is_integer", "is_real"]


def is_integer(value: Any) -> bool:
    """An ``int`` or numpy integer, not a ``bool``."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_real(value: Any) -> bool:
    """A finite ``int``/``float`` (or numpy scalar), not a ``bool``."""
    return isinstance(value, (int, float, np.integer, np.floating)) and \
        not isinstance(value, bool) and math.isfinite(float(value))


def _or_none(optional: bool) -> str:
    return " or None" if optional else ""


@dataclass(frozen=True)
class Integer:
    """An integer ``>= low`` (and ``<= high`` when given)."""

    low: int = 0
    high: int | None = None
    optional: bool = False
    example: str = ""

    def problem(self, value: Any) -> str | None:
        if not is_integer(value) or value < self.low or \
                (self.high is not None and value > self.high):
            span = f">= {self.low}" if self.high is None else f"in {self.low}..{self.high}"
            return f"an integer {span}{_or_none(self.optional)}" + \
                (f", e.g. {self.example}" if self.example else "")
        return None


@dataclass(frozen=True)
class Real:
    """A finite number in an interval; ``open_low``/``open_high`` exclude the ends."""

    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False
    optional: bool = False
    example: str = ""

    def problem(self, value: Any) -> str | None:
        if is_real(value):
            x = float(value)
            above = x > self.low if self.open_low else x >= self.low
            below = x < self.high if self.open_high else x <= self.high
            if above and below:
                return None
        left = "(" if self.open_low else "["
        right = ")" if self.open_high else "]"
        if self.low == 0 and self.open_low and math.isinf(self.high):
            span = "a positive finite number"
        elif self.low == 0 and math.isinf(self.high):
            span = "a non-negative finite number"
        else:
            span = f"a number in {left}{self.low:g}, {self.high:g}{right}"
        return span + _or_none(self.optional) + (f", e.g. {self.example}" if self.example else "")


@dataclass(frozen=True)
class Flag:
    """``True`` or ``False`` (or None, read as "automatic", when optional)."""

    optional: bool = False

    def problem(self, value: Any) -> str | None:
        if isinstance(value, bool):
            return None
        return "True or False" + (" or None (automatic)" if self.optional else "")


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of values."""

    choices: tuple[Any, ...]

    def problem(self, value: Any) -> str | None:
        try:
            if value in self.choices:
                return None
        except TypeError:      # unhashable or incomparable values are simply not choices
            pass
        return "one of " + ", ".join(repr(c) for c in self.choices)


@dataclass(frozen=True)
class Function:
    """A callable (or None)."""

    signature: str = "f(...)"
    optional: bool = True

    def problem(self, value: Any) -> str | None:
        if callable(value):
            return None
        return f"a function {self.signature}" + _or_none(self.optional)


@dataclass(frozen=True)
class Grid:
    """A grid description: cells per axis (int >= 1), one int per good, or breakpoint arrays
    per good (what :func:`amm_opt.discretisation.grid_axes` takes; it checks the details)."""

    optional: bool = True

    def problem(self, value: Any) -> str | None:
        allowed = ("cells per axis (int >= 1), one int per good, or breakpoint arrays per good"
                   + _or_none(self.optional))
        if is_integer(value):
            return None if value >= 1 else allowed
        if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
            return allowed
        return None


@dataclass(frozen=True)
class Instance:
    """An object of one class (or None), e.g. a :class:`~amm_opt.Menu`."""

    kind: type
    description: str
    optional: bool = True

    def problem(self, value: Any) -> str | None:
        if isinstance(value, self.kind):
            return None
        return self.description + _or_none(self.optional)


Rule = Integer | Real | Flag | Choice | Function | Grid | Instance


def check_value(name: str, value: Any, rule: Rule, where: str = "") -> None:
    """Raise :class:`OptionError` unless ``value`` satisfies ``rule`` (None passes optional
    rules)."""
    if value is None and getattr(rule, "optional", False):
        return
    allowed = rule.problem(value)
    if allowed is not None:
        field = name if not where else f"{name} ({where})"
        raise OptionError("is not allowed", field=field, value=value, allowed=allowed)


def check_options(obj: Any, rules: Mapping[str, Rule], where: str = "") -> None:
    """Check every attribute of ``obj`` named in ``rules`` against its rule."""
    for name, rule in rules.items():
        check_value(name, getattr(obj, name), rule, where)


def check_training_target(device: Any, checkpoint_path: Any, resume: Any) -> None:
    """The options every trainer shares: a torch device name, a checkpoint file, and
    ``resume`` only together with a checkpoint file."""
    if not isinstance(device, str) or not (
            device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise OptionError("is not a device name", field="device", value=device,
                          allowed="'auto', 'cpu', 'cuda' or 'cuda:N'")
    if checkpoint_path is not None and not isinstance(checkpoint_path, (str, os.PathLike)):
        raise OptionError("must be a file path", field="checkpoint_path",
                          value=checkpoint_path, allowed="a str or pathlib.Path")
    if resume and checkpoint_path is None:
        raise OptionError("needs a checkpoint file", field="resume", value=resume,
                          allowed="resume=True together with checkpoint_path=...")


def grid_cells(grid: Any, goods: int) -> tuple[int, ...]:
    """Cells per axis of a grid description, without building it (for size checks)."""
    if is_integer(grid):
        return (int(grid),) * goods
    try:
        return tuple(int(g) if is_integer(g) else max(len(g) - 1, 0) for g in grid)
    except TypeError:
        raise OptionError("is not a grid description", field="grid", value=grid,
                          allowed=Grid(optional=False).problem(grid) or "") from None


def grid_points(cells: Sequence[int]) -> tuple[int, int]:
    """``(vertices, cells)`` of a tensor grid with ``cells`` per axis (exact integers)."""
    return math.prod(c + 1 for c in cells), math.prod(cells)


def grid_setting(grid: Any) -> Any:
    """A grid description as JSON-friendly data (ints stay ints, arrays become lists)."""
    if grid is None or is_integer(grid):
        return None if grid is None else int(grid)
    return [int(g) if is_integer(g) else np.asarray(g, dtype=float).tolist() for g in grid]
