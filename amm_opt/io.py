"""Menus, results and problems to and from files: versioned JSON, ``.npz`` for large arrays.

Every file is a JSON object ``{"format": "amm_opt.<kind>", "schema": SCHEMA_VERSION, ...}``.
Arrays with more than :data:`INLINE_LIMIT` numbers go to a sidecar ``<stem>.<hash>.npz`` (no
pickle; named after its sha256, which the JSON records under ``"sidecar"``), referenced as
``{"npz": "<file name>", "key": ...}``; a JSON and sidecar that do not match are refused.
Non-finite numbers are the strings ``"inf"``, ``"-inf"``, ``"nan"`` everywhere. Problems can
also be read from hand-written TOML.

Writes are atomic (:func:`amm_opt.paths.write_atomic`): the sidecar first, under its new name,
then the JSON in one rename, then the old sidecar is removed; a failed write (a full disk)
leaves the previous pair readable. The folder must exist: missing folders are never created.
Loading refuses a damaged or crafted file with :class:`~amm_opt.errors.FileFormatError`: the
guards of :mod:`amm_opt.paths` (sizes before reading, UTF-8, nesting, plain-number arrays), wrong
types anywhere, NaN bounds, a lower bound above the upper one beyond its stated error.

>>> import tempfile, pathlib
>>> from amm_opt import Menu
>>> from amm_opt.io import load_menu, save_menu
>>> path = pathlib.Path(tempfile.mkdtemp()) / "menu.json"
>>> save_menu(Menu([[0.5, -0.5]], [0.1]), path)
>>> load_menu(path).prices.tolist()
[0.1, 0.0]
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .certificates.serial import certificate_from, certificate_payload
from .errors import AmmOptError, FileFormatError, OptionError
from .evaluate import Evaluation
from .menu import Menu
from .paths import (
    MAX_ARRAY_BYTES,
    MAX_FILE_BYTES,
    array_to_json,
    check_output_path,
    checked_array,
    checked_number,
    checked_object,
    checked_string,
    input_path,
    number_to_json,
    read_bytes,
    read_json,
    read_npy,
    read_npz,
    read_toml,
    write_atomic,
)
from .problem import Problem
from .result import Bounds, Result, Status

__all__ = ["INLINE_LIMIT", "SCHEMA_VERSION", "json_data", "load_menu", "load_problem",
           "load_result", "menu_from_dict", "menu_to_dict", "problem_from_data", "read_samples",
           "result_to_json", "save_menu", "save_problem", "save_result"]

#: Version 2 added the result's typed ``message``, ``solve_seconds`` and ``certificate``;
#: version 3 names the sidecar after its content and records its sha256. Versions 1 and 2 are
#: still read (their sidecars unchecked: they carry no hash).
SCHEMA_VERSION = 3
#: Arrays with more numbers than this are stored in the ``.npz`` sidecar, not inline.
INLINE_LIMIT = 20_000

# A lower bound above the upper one by more than this many of its standard errors plus a
# relative 1e-9 makes a result file inconsistent (the rule of amm_opt.validation.certify).
_BRACKET_SIGMAS = 4.0
_BRACKET_RTOL = 1e-9


# ---------------------------------------------------------------------------- reading
def _read_json(path: Any, *kinds: str) -> tuple[Path, dict[str, Any]]:
    path = input_path(path)
    data = read_json(path, f"a file written by amm_opt.io.save_{kinds[0]}")
    _check_header(data, kinds, str(path))
    return path, data


def _check_header(data: Any, kinds: tuple[str, ...], where: str) -> None:
    formats = [f"amm_opt.{kind}" for kind in kinds]
    if not isinstance(data, dict):
        raise FileFormatError(f"must hold a JSON object, not {type(data).__name__}",
                              field="path", value=where,
                              allowed=f"{{'format': '{formats[0]}', 'schema': ...}}")
    if data.get("format") not in formats:
        raise FileFormatError("is not the right kind of amm_opt file", field="format",
                              value=data.get("format"), allowed=" or ".join(formats))
    schema = data.get("schema")
    if isinstance(schema, bool) or not isinstance(schema, int) or \
            not 1 <= schema <= SCHEMA_VERSION:
        raise FileFormatError("has an unsupported schema version", field="schema", value=schema,
                              allowed=f"1..{SCHEMA_VERSION} (upgrade amm_opt to read newer files)")


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise FileFormatError("is missing", field=f"{where}.{key}",
                              allowed=f"a '{key}' entry as written by amm_opt.io")
    return data[key]


# ---------------------------------------------------------------------------- array storage
_SIDECAR_SPEC = "a sidecar entry {'file': '<stem>.<hash>.npz', 'sha256': '<64 hex digits>'}"


class _Arrays:
    """Collects large arrays for one file's ``.npz`` sidecar (write) or reads them back (load).

    ``json_path`` None: everything inline (text for stdout); reading references then fails.
    For reading, ``data`` is the file's JSON object (its ``sidecar`` entry and ``schema``).
    """

    def __init__(self, json_path: Path | None, data: dict[str, Any] | None = None) -> None:
        self.json_path = json_path
        self.pending: dict[str, np.ndarray] = {}
        self.refs: list[dict[str, str]] = []
        self._loaded: dict[str, np.ndarray] | None = None
        self.spec: dict[str, str] | None = None
        self.schema = SCHEMA_VERSION if data is None else data.get("schema")
        if data is not None and data.get("sidecar") is not None:
            spec = checked_object(data["sidecar"], "sidecar")
            name, sha = spec.get("file"), spec.get("sha256")
            if not (isinstance(name, str) and isinstance(sha, str) and
                    re.fullmatch(r"[0-9a-f]{64}", sha)):
                raise FileFormatError("is malformed", field="sidecar", value=spec,
                                      allowed=_SIDECAR_SPEC)
            self.spec = {"file": _plain_name(name, "sidecar.file"), "sha256": sha}

    # writing
    def put(self, key: str, array: Any) -> Any:
        arr = np.asarray(array, dtype=float)
        if self.json_path is None or arr.size <= INLINE_LIMIT:
            return array_to_json(arr)
        self.pending[key] = arr
        ref = {"npz": "", "key": key}
        self.refs.append(ref)
        return ref

    def finish(self) -> tuple[str, bytes, str] | None:
        """Serialise the pending arrays: ``(file name, bytes, sha256)``, or None if none."""
        if not self.pending or self.json_path is None:
            return None
        buffer = io.BytesIO()
        np.savez_compressed(buffer, allow_pickle=False, **self.pending)
        data = buffer.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        stem = os.fsencode(self.json_path.stem)[:200].decode("utf-8", "ignore")
        name = f"{stem}.{sha[:16]}.npz"
        for ref in self.refs:
            ref["npz"] = name
        return name, data, sha

    # reading
    def get(self, value: Any, field: str) -> np.ndarray:
        if not isinstance(value, dict):
            return checked_array(value, field)
        if set(value) != {"npz", "key"} or not all(isinstance(v, str) for v in value.values()):
            raise FileFormatError("is neither an array nor an .npz reference", field=field,
                                  value=sorted(value), allowed="a list of numbers or "
                                  "{'npz': file, 'key': name}")
        if self._loaded is None:
            self._loaded = self._load(value["npz"], field)
        key = value["key"]
        if key not in self._loaded:
            raise FileFormatError("names an array the .npz file lacks", field=field, value=key,
                                  allowed=", ".join(sorted(self._loaded)))
        return np.asarray(self._loaded[key], dtype=float)

    def _load(self, name: str, field: str) -> dict[str, np.ndarray]:
        name = _plain_name(name, field)
        if self.json_path is None:
            raise FileFormatError("refers to an .npz file, but there is no file to read it "
                                  "beside", field=field, value=name, allowed="inline arrays")
        if isinstance(self.schema, int) and self.schema >= 3:
            if self.spec is None:
                raise FileFormatError("refers to an .npz sidecar, but the file records none",
                                      field=field, value=name, allowed=_SIDECAR_SPEC)
            if name != self.spec["file"]:
                raise FileFormatError("refers to another .npz file than the recorded sidecar",
                                      field=field, value=name, allowed=self.spec["file"])
        path = self.json_path.with_name(name)
        allowed = "the .npz written beside the JSON file"
        data = read_bytes(path, MAX_ARRAY_BYTES, field, allowed)
        if self.spec is not None and hashlib.sha256(data).hexdigest() != self.spec["sha256"]:
            raise FileFormatError(
                "and its .npz sidecar are inconsistent: the sidecar's sha256 differs from the "
                "one the JSON file records (they were not written together, or one is damaged)",
                field=field, value=str(path), allowed="the .npz written together with the JSON")
        return read_npz(data, field, str(path))


def _plain_name(name: str, field: str) -> str:
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise FileFormatError("must be a plain file name in the JSON file's folder",
                              field=field, value=name, allowed="e.g. 'result.0123abcd.npz'")
    return name


# ---------------------------------------------------------------------------- JSON helpers
def json_data(obj: Any) -> Any:
    """A JSON-safe copy: numpy to Python, non-finite floats as strings, objects via to_dict
    (what the files hold; also for printing JSON that strict parsers accept)."""
    if isinstance(obj, dict):
        return {str(k): json_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_data(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_data(obj.tolist()) if obj.size <= INLINE_LIMIT else f"<array {obj.shape}>"
    if isinstance(obj, np.generic):
        return json_data(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)  # 'inf', '-inf', 'nan': JSON has no literal for them
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "to_dict"):
        return json_data(obj.to_dict())
    return repr(obj)


def _previous_sidecar(path: Path) -> Path | None:
    """The sidecar the amm_opt file now at ``path`` refers to (None if none or unreadable)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not str(data.get("format", "")).startswith("amm_opt."):
        return None
    spec = data.get("sidecar")
    stem = re.escape(path.stem)
    if isinstance(spec, dict) and isinstance(spec.get("file"), str) and \
            re.fullmatch(stem + r"\.[0-9a-f]{16}\.npz", spec["file"]):
        return path.with_name(spec["file"])
    if data.get("schema") in (1, 2) and '"npz"' in text:
        return path.with_suffix(".npz")
    return None


def _save(path: Any, arrays: _Arrays, payload: dict[str, Any]) -> None:
    """Write the sidecar (if any) under its new name, then the JSON, then drop the old sidecar."""
    sidecar = arrays.finish()
    if sidecar is not None:
        payload["sidecar"] = {"file": sidecar[0], "sha256": sidecar[2]}
    text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    previous = _previous_sidecar(path)
    new = None if sidecar is None else path.with_name(sidecar[0])
    created = new is not None and not new.exists()
    if new is not None:
        write_atomic(new, sidecar[1], field="path")
    try:
        write_atomic(path, text.encode("utf-8"), field="path")
    except BaseException:
        if created and new is not None:
            with contextlib.suppress(OSError):
                new.unlink()
        raise
    if previous is not None and previous != new:
        with contextlib.suppress(OSError):
            previous.unlink()


def _require_type(obj: Any, cls: type, field: str, allowed: str) -> None:
    if not isinstance(obj, cls):
        raise OptionError(f"must be a {cls.__name__}", field=field, value=type(obj).__name__,
                          allowed=allowed)


def _output(path: Any) -> Path:
    return check_output_path(path, "path")


# ---------------------------------------------------------------------------- menus
def menu_to_dict(menu: Menu, arrays: _Arrays | None = None) -> dict[str, Any]:
    """``{"allocations": ..., "prices": ...}`` (large arrays by reference when ``arrays``)."""
    if arrays is None:
        return menu.to_dict()
    return {"allocations": arrays.put("allocations", menu.allocations),
            "prices": arrays.put("prices", menu.prices)}


def menu_from_dict(data: Any, arrays: _Arrays | None = None, where: str = "menu") -> Menu:
    """Inverse of :func:`menu_to_dict`; shape errors surface as :class:`FileFormatError`."""
    if not isinstance(data, dict):
        raise FileFormatError("must be an object", field=where, value=type(data).__name__,
                              allowed="{'allocations': [[...]], 'prices': [...]}")
    raw_x = _require(data, "allocations", where)
    raw_p = _require(data, "prices", where)
    arrays = arrays if arrays is not None else _Arrays(None)
    x = arrays.get(raw_x, f"{where}.allocations")
    p = arrays.get(raw_p, f"{where}.prices")
    try:
        return Menu(x, p)
    except (AmmOptError, ValueError, TypeError) as exc:
        raise FileFormatError(f"does not describe a valid menu ({exc})", field=where,
                              allowed="allocations of shape (K, goods) and K finite prices"
                              ) from None


def save_menu(menu: Menu, path: str | Path) -> None:
    """Write ``menu`` as versioned JSON (and a ``.npz`` sidecar when it is large).

    The write is atomic; the folder must exist (:class:`~amm_opt.errors.OutputPathError`
    otherwise, and for a full disk, with the old file left as it was).
    """
    _require_type(menu, Menu, "menu", "amm_opt.Menu(allocations, prices)")
    path = _output(path)
    arrays = _Arrays(path)
    payload = {"format": "amm_opt.menu", "schema": SCHEMA_VERSION,
               "goods": menu.goods, "items": menu.size, **menu_to_dict(menu, arrays)}
    _save(path, arrays, payload)


def load_menu(path: str | Path) -> Menu:
    """Read a menu written by :func:`save_menu` (or the ``menu`` of a result file)."""
    path, data = _read_json(path, "menu", "result")
    if data["format"] == "amm_opt.result":
        if data.get("menu") is None:
            raise FileFormatError("holds a result without a menu (a bound-only backend)",
                                  field="menu", value=str(path),
                                  allowed="a result from a backend that returns a menu")
        return menu_from_dict(data["menu"], _Arrays(path, data))
    return menu_from_dict(data, _Arrays(path, data), where="menu file")


# ---------------------------------------------------------------------------- problems
def save_problem(problem: Problem, path: str | Path) -> None:
    """Write ``problem`` as JSON (samples of a sample-only problem go to the ``.npz`` sidecar).

    Atomic, in an existing folder (as :func:`save_menu`).
    """
    _require_type(problem, Problem, "problem", "amm_opt.Problem(...)")
    path = _output(path)
    arrays = _Arrays(path)
    body = problem.to_dict()
    if body["values"].get("type") == "samples":
        body["values"] = {"type": "samples",
                          "values": arrays.put("samples", problem.values.values)}
    _save(path, arrays, {"format": "amm_opt.problem", "schema": SCHEMA_VERSION, **body})


def load_problem(path: str | Path) -> Problem:
    """Read a problem from JSON (as written by :func:`save_problem`) or hand-written TOML.

    A TOML file holds the keys of :meth:`Problem.from_dict` at top level, e.g.::

        goods = 2
        belief = 0.5
        adverse_selection = 0.25
        allocation = [-1.0, 1.0]
        [values]
        type = "uniform"
        low = 0.0
        high = 1.0

    Sample-only values may name a file: ``[values] type = "samples"  file = "trades.npy"``
    (``.npy`` or ``.csv``, one row per trader, relative to the problem file). A polytope
    allocation set is a table ``[allocation]`` with ``type = "polytope"`` and ``vertices`` (or
    ``file = "vertices.csv"``, one vertex per row), ``type = "inequalities"`` with ``A``, ``b``
    (and ``E``, ``f``), or a named set (``type = "unit_demand"``, ``"pure_swap"``,
    ``"budget"``) with its arguments (:func:`amm_opt.allocation.allocation_from_dict`).
    """
    path = input_path(path)
    if path.suffix.lower() == ".toml":
        data: dict[str, Any] = read_toml(path, "TOML with the keys of Problem.from_dict")
        arrays = _Arrays(path, {"schema": SCHEMA_VERSION})
    else:
        path, data = _read_json(path, "problem")
        arrays = _Arrays(path, data)
        data = {k: v for k, v in data.items() if k not in ("format", "schema", "sidecar")}
    values = data.get("values")
    if isinstance(values, dict) and str(values.get("type", "")).lower() == "samples":
        data["values"] = {"type": "samples", "values": _samples(values, path, arrays)}
    allocation = data.get("allocation")
    if isinstance(allocation, dict) and allocation.get("type") == "polytope" and \
            "file" in allocation:
        name = checked_string(allocation["file"], "allocation.file")
        vertices = read_samples(path.parent / input_path(name, "allocation.file"),
                                "allocation.file")
        rest = {k: v for k, v in allocation.items() if k != "file"}
        data["allocation"] = {**rest, "vertices": vertices}
    return problem_from_data(data, str(path))


def problem_from_data(data: Any, where: str) -> Problem:
    """:meth:`Problem.from_dict` on data read from a file; any failure is an AmmOptError."""
    try:
        return Problem.from_dict(data)
    except AmmOptError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError,
            ZeroDivisionError) as exc:
        raise FileFormatError(f"does not describe a problem ({type(exc).__name__}: {exc})",
                              field="problem", value=where,
                              allowed="the keys and values of Problem.from_dict") from None


def _samples(values: dict[str, Any], path: Path, arrays: _Arrays) -> np.ndarray:
    if "file" not in values:
        return arrays.get(_require(values, "values", "values"), "values.values")
    name = checked_string(values["file"], "values.file")
    return read_samples(path.parent / input_path(name, "values.file"), "values.file")


def read_samples(path: Any, field: str = "path") -> np.ndarray:
    """Trader values from a ``.npy`` file (no pickle) or a ``.csv`` file (one row per trader)."""
    path = input_path(path, field)
    allowed = "a .npy or .csv file of trader values, one row per trader"
    data = read_bytes(path, MAX_ARRAY_BYTES, field, allowed)
    if path.suffix.lower() != ".csv":
        return np.asarray(read_npy(data, field, str(path)), dtype=float)
    try:
        with warnings.catch_warnings():  # an empty file is reported by Samples, not as a warning
            warnings.simplefilter("ignore", UserWarning)
            return np.loadtxt(io.StringIO(data.decode("utf-8")), delimiter=",", ndmin=2)
    except (ValueError, IndexError) as exc:  # UnicodeDecodeError is a ValueError
        raise FileFormatError(f"cannot be read as CSV ({exc})", field=field, value=str(path),
                              allowed=allowed) from None


# ---------------------------------------------------------------------------- results
def _result_payload(result: Result, arrays: _Arrays, problem: Problem | None) -> dict[str, Any]:
    ev = result.evaluation
    payload: dict[str, Any] = {
        "format": "amm_opt.result", "schema": SCHEMA_VERSION,
        "backend": result.backend, "status": result.status.value,
        "profit": json_data(result.profit), "bounds": json_data(result.bounds.to_dict()),
        "menu": None if result.menu is None else menu_to_dict(result.menu, arrays),
        "evaluation": None if ev is None else {
            "profit": number_to_json(ev.profit), "stderr": number_to_json(ev.stderr),
            "method": ev.method,
            "item_probability": arrays.put("item_probability", ev.item_probability),
            "item_profit": arrays.put("item_profit", ev.item_profit),
            "confidence_interval": [number_to_json(v) for v in ev.confidence_interval],
            "details": json_data(ev.details)},
        "message": result.message,
        "solve_seconds": json_data(result.solve_seconds),
        "certificate": certificate_payload(result.certificate, arrays),
        "stats": json_data(result.stats),
    }
    if problem is not None and problem.update is None and problem.has_density:
        payload["problem"] = problem.to_dict()
    return payload


def result_to_json(result: Result, problem: Problem | None = None) -> str:
    """The JSON text :func:`save_result` would write, with every array inline."""
    return json.dumps(_result_payload(result, _Arrays(None), problem), indent=2, allow_nan=False)


def save_result(result: Result, path: str | Path, problem: Problem | None = None) -> None:
    """Write ``result`` (menu, bounds, status, stats, evaluation; and ``problem`` if given).

    Statistics that are not JSON data (callables, certificates) are stored by their ``repr``;
    the numbers users rely on (menu, profit, bounds, status, per-item statistics, the typed
    certificate) round-trip, non-finite ones included. Atomic, in an existing folder (as
    :func:`save_menu`).
    """
    _require_type(result, Result, "result", "what amm_opt.solve returns")
    if problem is not None:
        _require_type(problem, Problem, "problem", "amm_opt.Problem(...) or None")
    path = _output(path)
    arrays = _Arrays(path)
    _save(path, arrays, _result_payload(result, arrays, problem))


def _bounds_from(b: Any) -> Bounds:
    b = checked_object(b, "bounds")
    lower = checked_number(b.get("lower"), "bounds.lower", optional=True, nan=False)
    upper = checked_number(b.get("upper"), "bounds.upper", optional=True, nan=False)
    stderr = checked_number(b.get("lower_stderr", 0.0), "bounds.lower_stderr", optional=True,
                            nan=False, low=0.0)
    stderr = 0.0 if stderr is None else stderr
    if (lower is not None and math.isinf(lower)) or upper == -math.inf:
        raise FileFormatError("has an infinite lower or a -inf upper bound", field="bounds",
                              value=(lower, upper), allowed="a finite lower, an upper up to inf")
    if lower is not None and upper is not None and \
            lower - upper > _BRACKET_SIGMAS * stderr + _BRACKET_RTOL * (1.0 + abs(upper)):
        raise FileFormatError("has a lower bound above the upper bound beyond its stated error "
                              "(the file is inconsistent)", field="bounds",
                              value={"lower": lower, "upper": upper, "lower_stderr": stderr},
                              allowed="lower <= upper + 4 lower_stderr")
    return Bounds(lower=lower, upper=upper,
                  lower_method=checked_string(b.get("lower_method", ""), "bounds.lower_method"),
                  upper_method=checked_string(b.get("upper_method", ""), "bounds.upper_method"),
                  lower_stderr=stderr)


def _evaluation_from(e: Any, arrays: _Arrays, menu: Menu | None) -> Evaluation | None:
    if e is None:
        return None
    e = checked_object(e, "evaluation")
    ci = e.get("confidence_interval", ["nan", "nan"])
    if not isinstance(ci, list) or len(ci) != 2:
        raise FileFormatError("must be a pair of numbers", field="evaluation.confidence_interval",
                              value=ci, allowed="[low, high]")
    stderr = checked_number(e.get("stderr", 0.0), "evaluation.stderr", low=0.0)
    items = {}
    for key in ("item_probability", "item_profit"):
        arr = arrays.get(_require(e, key, "evaluation"), f"evaluation.{key}")
        if arr.ndim != 1 or (menu is not None and arr.size != menu.size):
            raise FileFormatError("must hold one number per menu item", field=f"evaluation.{key}",
                                  value=arr.shape, allowed=f"{menu.size if menu else 'K'} numbers")
        items[key] = arr
    return Evaluation(
        profit=checked_number(_require(e, "profit", "evaluation"), "evaluation.profit"),
        stderr=stderr, method=checked_string(e.get("method", ""), "evaluation.method"),
        confidence_interval=(checked_number(ci[0], "evaluation.confidence_interval"),
                             checked_number(ci[1], "evaluation.confidence_interval")),
        details=dict(checked_object(e.get("details") or {}, "evaluation.details")), **items)


def _check_profit(profit: float | None, bounds: Bounds, evaluation: Evaluation | None) -> None:
    """The profit a result states is its menu's evaluation and its lower bound: one number."""
    stated = {"profit": profit, "bounds.lower": bounds.lower,
              "evaluation.profit": None if evaluation is None else evaluation.profit}
    known = {k: v for k, v in stated.items() if v is not None}
    if known and max(known.values()) - min(known.values()) > \
            1e-12 * (1.0 + max(abs(v) for v in known.values())):
        raise FileFormatError("states different profits for its menu (the file is "
                              "inconsistent)", field="profit", value=known,
                              allowed="profit = bounds.lower = evaluation.profit")


def load_result(path: str | Path) -> Result:
    """Read a result written by :func:`save_result`; a damaged or inconsistent file raises
    :class:`~amm_opt.errors.FileFormatError`."""
    path, data = _read_json(path, "result")
    arrays = _Arrays(path, data)
    raw_status = checked_string(_require(data, "status", "result"), "status")
    try:
        status = Status(raw_status)
    except ValueError:
        raise FileFormatError("is not a known status", field="status", value=raw_status,
                              allowed=", ".join(s.value for s in Status)) from None
    bounds = _bounds_from(_require(data, "bounds", "result"))
    menu = None if data.get("menu") is None else menu_from_dict(data["menu"], arrays)
    evaluation = _evaluation_from(data.get("evaluation"), arrays, menu)
    stats = checked_object(data.get("stats") or {}, "stats")
    if data["schema"] == 1:
        message = str(stats.get("solver_message", ""))
        seconds = checked_number(stats.get("solve_seconds"), "stats.solve_seconds", optional=True)
        certificate = None
    else:
        message = checked_string(data.get("message", ""), "message")
        seconds = checked_number(data.get("solve_seconds"), "solve_seconds", optional=True)
        certificate = certificate_from(data.get("certificate"), arrays)
    profit = checked_number(data.get("profit"), "profit", optional=True, nan=False)
    _check_profit(profit, bounds, evaluation)
    return Result(menu=menu, profit=profit,
                  bounds=bounds, status=status,
                  backend=checked_string(data.get("backend", ""), "backend"), message=message,
                  solve_seconds=math.nan if seconds is None else seconds,
                  certificate=certificate, stats=stats, evaluation=evaluation)
