r"""The points of a sweep: parameter names, the Cartesian product, one problem per point.

A sweep varies parameters of a base :class:`~amm_opt.Problem`. A parameter is named by a path
into the problem's description (:meth:`Problem.to_dict`):

* ``belief`` (a number, or one number per good), ``belief[i]`` (good ``i``, from 0);
* ``adverse_selection`` (:math:`\lambda`);
* ``allocation`` (a pair ``(low, high)`` or per-good pairs), ``allocation[i]``;
* ``values`` (a distribution or its dictionary) and its parameters ``values.a``,
  ``values.low``, ..., ``values.marginals[0].b`` for a :class:`~amm_opt.Product`.

``over`` is either a mapping ``name -> sequence of values`` (the Cartesian product, the first
name varying slowest) or an explicit sequence of mappings ``name -> value`` (one per point).

A point is identified by the SHA-256 of its canonical JSON (:func:`point_key`), so the same
values give the same key in every run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..distributions import Distribution
from ..errors import OptionError, ProblemError, ResourceLimitError
from ..io import json_data
from ..limits import require_memory
from ..problem import Problem

__all__ = ["MAX_POINTS", "POINT_BYTES", "SWEEPABLE", "canonical", "check_point_count",
           "parameter_path", "point_key", "point_problem", "problem_data", "sweep_points"]

#: Points one sweep may have (a store row per point; beyond this, split the sweep).
MAX_POINTS = 1_000_000
#: Memory a point costs the driver before it runs (its parameters, key and task), an estimate
#: on the high side for scalar parameters.
POINT_BYTES = 4096

#: Top-level names a sweep may vary (``goods`` fixes the shapes, so it cannot vary).
SWEEPABLE = ("belief", "adverse_selection", "allocation", "values")

_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_NAMES_HELP = ("belief, belief[i], adverse_selection, allocation, allocation[i], values, "
               "values.<parameter> (e.g. values.a, values.marginals[0].b)")


def parameter_path(name: Any) -> tuple[str | int, ...]:
    """``"values.marginals[0].a"`` -> ``("values", "marginals", 0, "a")``; a bad name raises
    :class:`~amm_opt.errors.OptionError`."""
    if not isinstance(name, str) or not name:
        raise OptionError("must be a non-empty string", field="over", value=name,
                          allowed=_NAMES_HELP)
    parts: list[str | int] = []
    pos = 0
    while pos < len(name):
        match = _TOKEN.match(name, pos)
        if match is None or (pos == 0 and name.startswith((".", "["))):
            raise OptionError("is not a parameter name", field="over", value=name,
                              allowed=_NAMES_HELP)
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        pos = match.end()
    if parts[0] not in SWEEPABLE:
        raise OptionError("names no sweepable parameter", field="over", value=name,
                          allowed=_NAMES_HELP)
    return tuple(parts)


def canonical(value: Any, name: str = "value", *, floats: bool = False) -> Any:
    """A JSON-ready copy of a value (numpy to Python, distributions as dictionaries, keys
    sorted); non-finite numbers are refused. With ``floats`` every integer becomes a float, so
    that ``0`` and ``0.0`` are the same parameter value (and the same point key)."""
    if isinstance(value, Distribution):
        value = value.to_dict()
    data = json_data(value)

    def check(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: check(x) for k, x in sorted(v.items())}
        if isinstance(v, list):
            return [check(x) for x in v]
        if isinstance(v, bool) or v is None or isinstance(v, str):
            if isinstance(v, str) and v in ("inf", "-inf", "nan"):
                raise OptionError("must be finite", field=f"over[{name!r}]", value=value,
                                  allowed="finite numbers")
            return v
        if isinstance(v, (int, float)):
            if isinstance(v, float) and not math.isfinite(v):
                raise OptionError("must be finite", field=f"over[{name!r}]", value=value,
                                  allowed="finite numbers")
            return float(v) if floats else v
        raise OptionError("is not a parameter value", field=f"over[{name!r}]", value=value,
                          allowed="numbers, lists of numbers, or a distribution")

    return check(data)


def check_point_count(count: int, field: str = "over") -> None:
    """Refuse a sweep of more than :data:`MAX_POINTS` points, or one whose points would not
    fit the memory limit (:func:`amm_opt.limits.require_memory`), before any is built."""
    if count > MAX_POINTS:
        raise ResourceLimitError(f"has {count} points, more than a sweep may have ({MAX_POINTS})",
                                 field=field, value=count,
                                 allowed="fewer values per parameter, or several sweeps into "
                                         "the same store")
    require_memory(count * POINT_BYTES, f"a sweep of {count} points", field,
                   "fewer values per parameter")


def sweep_points(over: Any) -> list[dict[str, Any]]:
    """The points of ``over``: the Cartesian product of a mapping, or an explicit list.

    Examples
    --------
    >>> sweep_points({"belief": [0.25, 0.75], "adverse_selection": [0.0, 0.5]})[1]
    {'belief': 0.25, 'adverse_selection': 0.5}
    """
    if isinstance(over, Mapping):
        if not over:
            raise OptionError("is empty", field="over", value=over,
                              allowed="at least one parameter with values")
        names = list(over)
        axes = []
        for name in names:
            parameter_path(name)
            values = over[name]
            if isinstance(values, (str, bytes, Mapping)) or not isinstance(
                    values, (Sequence, np.ndarray)):
                raise OptionError("must be a sequence of values", field=f"over[{name!r}]",
                                  value=values, allowed="e.g. [0.0, 0.25, 0.5] or "
                                  "numpy.linspace(0, 0.9, 10)")
            values = list(values)
            if not values:
                raise OptionError("has no values", field=f"over[{name!r}]", value=values,
                                  allowed="at least one value")
            axes.append([canonical(v, name, floats=True) for v in values])
        check_point_count(math.prod(len(a) for a in axes))
        points = [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    elif isinstance(over, Sequence) and not isinstance(over, (str, bytes)):
        check_point_count(len(over))
        points = []
        for i, point in enumerate(over):
            if not isinstance(point, Mapping) or not point:
                raise OptionError("must be a non-empty mapping name -> value",
                                  field=f"over[{i}]", value=point,
                                  allowed="e.g. {'belief': 0.5, 'adverse_selection': 0.1}")
            for name in point:
                parameter_path(name)
            points.append({name: canonical(v, name, floats=True) for name, v in point.items()})
        if not points:
            raise OptionError("is empty", field="over", value=over, allowed="at least one point")
    else:
        raise OptionError("must be a mapping or a list of mappings", field="over", value=over,
                          allowed="{'belief': [...], 'adverse_selection': [...]} or "
                                  "[{'belief': 0.5}, ...]")
    keys = [point_key(p) for p in points]
    if len(set(keys)) != len(keys):
        raise OptionError("holds the same point twice", field="over",
                          value=next(p for p, k in zip(points, keys, strict=True)
                                     if keys.count(k) > 1), allowed="distinct points")
    return points


def point_key(params: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the point's canonical JSON: equal values, equal keys."""
    text = json.dumps(dict(params), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def problem_data(problem: Problem) -> dict[str, Any]:
    """The base problem as JSON data (what sweeps vary and what their key hashes)."""
    if not isinstance(problem, Problem):
        raise OptionError("must be a Problem", field="problem", value=problem,
                          allowed="amm_opt.Problem(...)")
    if problem.update is not None:
        raise ProblemError("cannot be swept: a custom update rule has no description to send "
                           "to workers or to hash", field="problem.update", value=problem.update,
                           allowed="the linear update (update=None) with adverse_selection")
    return canonical(problem.to_dict(), "problem")


def point_problem(base: Mapping[str, Any], params: Mapping[str, Any]) -> Problem:
    """The problem at one point: ``base`` (from :func:`problem_data`) with ``params`` set.

    A value the problem refuses raises its :class:`~amm_opt.errors.ProblemError`; a path that
    does not fit the description (an index past the goods) raises one naming the parameter.
    """
    data = json.loads(json.dumps(dict(base)))
    for name, value in params.items():
        path = parameter_path(name)
        target: Any = data
        for i, step in enumerate(path[:-1]):
            target = _step(target, step, name, path[: i + 1], data)
        last = path[-1]
        if isinstance(last, int):
            if not isinstance(target, list) or not 0 <= last < len(target):
                raise ProblemError("indexes past the problem's description",
                                   field=f"parameter {name!r}", value=value,
                                   allowed=f"an index below {len(target)}"
                                   if isinstance(target, list) else "no index here")
            target[last] = value
        else:
            if not isinstance(target, dict):
                raise ProblemError("does not fit the problem's description",
                                   field=f"parameter {name!r}", value=value,
                                   allowed=_NAMES_HELP)
            target[last] = value
    return Problem.from_dict(data)


def _step(target: Any, step: str | int, name: str, done: tuple[Any, ...],
          data: dict[str, Any]) -> Any:
    """One step down the description; a scalar belief or allocation is expanded per good."""
    if isinstance(step, int):
        if not isinstance(target, list) or not 0 <= step < len(target):
            raise ProblemError("indexes past the problem's description",
                               field=f"parameter {name!r}", value=step,
                               allowed="an index below the number of goods")
        return target[step]
    if not isinstance(target, dict) or step not in target:
        raise ProblemError("does not fit the problem's description", field=f"parameter {name!r}",
                           value=step, allowed=_NAMES_HELP)
    child = target[step]
    if len(done) == 1 and step in ("belief", "allocation") and not isinstance(child, list):
        child = [child] * int(data["goods"])
        target[step] = child
    if len(done) == 1 and step == "allocation" and child and not isinstance(child[0], list):
        child = [list(child) for _ in range(int(data["goods"]))]
        target[step] = child
    return child
