"""Menus, results and problems to and from files: versioned JSON, ``.npz`` for large arrays.

Every file is a JSON object ``{"format": "amm_opt.<kind>", "schema": SCHEMA_VERSION, ...}``.
Arrays with more than :data:`INLINE_LIMIT` numbers go to a sidecar ``<stem>.npz`` written with
``allow_pickle=False`` and referenced from the JSON as ``{"npz": "<file name>", "key": ...}``.
Nothing is ever pickled. Problems can also be read from hand-written TOML.

>>> import tempfile, pathlib
>>> from amm_opt import Menu
>>> from amm_opt.io import load_menu, save_menu
>>> path = pathlib.Path(tempfile.mkdtemp()) / "menu.json"
>>> save_menu(Menu([[0.5, -0.5]], [0.1]), path)
>>> load_menu(path).prices.tolist()
[0.1, 0.0]
"""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from .errors import AmmOptError, FileFormatError
from .evaluate import Evaluation
from .menu import Menu
from .problem import Problem
from .result import Bounds, Result, Status

__all__ = ["INLINE_LIMIT", "SCHEMA_VERSION", "load_menu", "load_problem", "load_result",
           "menu_from_dict", "menu_to_dict", "result_to_json", "save_menu", "save_problem",
           "save_result"]

#: Version 2 added the result's typed ``message``, ``solve_seconds`` and ``certificate``
#: (version 1 files, which kept the first two in ``stats``, are still read).
SCHEMA_VERSION = 2
#: Arrays with more numbers than this are stored in the ``.npz`` sidecar, not inline.
INLINE_LIMIT = 20_000


# ---------------------------------------------------------------------------- array storage
class _Arrays:
    """Collects large arrays for one file's ``.npz`` sidecar (write) or reads them back (load)."""

    def __init__(self, json_path: Path | None) -> None:
        # No path: everything inline (text for stdout); reading references then fails clearly.
        self.path = Path("<inline>.npz") if json_path is None else json_path.with_suffix(".npz")
        self.inline = json_path is None
        self.pending: dict[str, np.ndarray] = {}
        self._loaded: Any = None

    def put(self, key: str, array: Any) -> Any:
        arr = np.asarray(array, dtype=float)
        if self.inline or arr.size <= INLINE_LIMIT:
            return arr.tolist()
        self.pending[key] = arr
        return {"npz": self.path.name, "key": key}

    def get(self, value: Any, field: str) -> np.ndarray:
        if not isinstance(value, dict):
            return np.asarray(value, dtype=float)
        if set(value) != {"npz", "key"}:
            raise FileFormatError("is neither an array nor an .npz reference", field=field,
                                  value=sorted(value), allowed="a list of numbers or "
                                  "{'npz': file, 'key': name}")
        if self._loaded is None:
            path = self.path.with_name(str(value["npz"]))
            try:
                with np.load(path, allow_pickle=False) as npz:
                    self._loaded = {k: npz[k] for k in npz.files}
            except (OSError, ValueError) as exc:
                raise FileFormatError(f"cannot read the array file ({exc})", field=field,
                                      value=str(path), allowed="the .npz written beside the "
                                      "JSON file") from None
        key = str(value["key"])
        if key not in self._loaded:
            raise FileFormatError("names an array the .npz file lacks", field=field, value=key,
                                  allowed=", ".join(sorted(self._loaded)))
        return np.asarray(self._loaded[key], dtype=float)

    def flush(self) -> None:
        if self.pending:
            np.savez_compressed(self.path, **self.pending)


# ---------------------------------------------------------------------------- JSON helpers
def _plain(obj: Any) -> Any:
    """A JSON-safe copy: numpy to Python, non-finite floats as strings, objects via to_dict."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist()) if obj.size <= INLINE_LIMIT else f"<array {obj.shape}>"
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)  # 'inf', '-inf', 'nan': JSON has no literal for them
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "to_dict"):
        return _plain(obj.to_dict())
    return repr(obj)


def _float_or_none(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FileFormatError("must be a number or null", field=field, value=value,
                              allowed="a JSON number, null, 'inf' or 'nan'")
    return float(value)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def _read_json(path: str | Path, *kinds: str) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileFormatError(f"cannot be read ({exc.strerror})", field="path", value=str(path),
                              allowed="an existing, readable file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                              f"{exc.msg})", field="path", value=str(path),
                              allowed=f"a file written by amm_opt.io.save_{kinds[0]}") from None
    _check_header(data, kinds, str(path))
    return data


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
    if not isinstance(schema, int) or not 1 <= schema <= SCHEMA_VERSION:
        raise FileFormatError("has an unsupported schema version", field="schema", value=schema,
                              allowed=f"1..{SCHEMA_VERSION} (upgrade amm_opt to read newer files)")


def _require(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise FileFormatError("is missing", field=f"{where}.{key}",
                              allowed=f"a '{key}' entry as written by amm_opt.io")
    return data[key]


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
    try:
        if arrays is not None:
            x = arrays.get(raw_x, f"{where}.allocations")
            p = arrays.get(raw_p, f"{where}.prices")
        else:
            x, p = np.asarray(raw_x, dtype=float), np.asarray(raw_p, dtype=float)
        return Menu(x, p)
    except FileFormatError:
        raise
    except (AmmOptError, ValueError, TypeError) as exc:
        raise FileFormatError(f"does not describe a valid menu ({exc})", field=where,
                              allowed="allocations of shape (K, goods) and K finite prices"
                              ) from None


def save_menu(menu: Menu, path: str | Path) -> None:
    """Write ``menu`` as versioned JSON (and ``<stem>.npz`` when it is large)."""
    path = Path(path)
    arrays = _Arrays(path)
    payload = {"format": "amm_opt.menu", "schema": SCHEMA_VERSION,
               "goods": menu.goods, "items": menu.size, **menu_to_dict(menu, arrays)}
    arrays.flush()
    _write_json(path, payload)


def load_menu(path: str | Path) -> Menu:
    """Read a menu written by :func:`save_menu` (or the ``menu`` of a result file)."""
    path = Path(path)
    data = _read_json(path, "menu", "result")
    if data["format"] == "amm_opt.result":
        if data.get("menu") is None:
            raise FileFormatError("holds a result without a menu (a bound-only backend)",
                                  field="menu", value=str(path),
                                  allowed="a result from a backend that returns a menu")
        return menu_from_dict(data["menu"], _Arrays(path))
    return menu_from_dict(data, _Arrays(path), where="menu file")


# ---------------------------------------------------------------------------- problems
def save_problem(problem: Problem, path: str | Path) -> None:
    """Write ``problem`` as JSON (samples of a sample-only problem go to the ``.npz`` sidecar)."""
    path = Path(path)
    arrays = _Arrays(path)
    body = problem.to_dict()
    if body["values"].get("type") == "samples":
        body["values"] = {"type": "samples",
                          "values": arrays.put("samples", problem.values.values)}
    arrays.flush()
    _write_json(path, {"format": "amm_opt.problem", "schema": SCHEMA_VERSION, **body})


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
    (``.npy`` or ``.csv``, one row per trader, relative to the problem file).
    """
    path = Path(path)
    if path.suffix.lower() == ".toml":
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FileFormatError(f"cannot be read ({exc.strerror})", field="path",
                                  value=str(path), allowed="an existing, readable file") from None
        except tomllib.TOMLDecodeError as exc:
            raise FileFormatError(f"is not valid TOML ({exc})", field="path", value=str(path),
                                  allowed="TOML with the keys of Problem.from_dict") from None
    else:
        data = _read_json(path, "problem")
        data = {k: v for k, v in data.items() if k not in ("format", "schema")}
    values = data.get("values")
    if isinstance(values, dict) and str(values.get("type", "")).lower() == "samples":
        data["values"] = {"type": "samples", "values": _samples(values, path)}
    return Problem.from_dict(data)


def _samples(values: dict[str, Any], path: Path) -> np.ndarray:
    if "file" in values:
        sample_path = path.parent / str(values["file"])
        try:
            if sample_path.suffix.lower() == ".csv":
                arr = np.loadtxt(sample_path, delimiter=",", ndmin=2)
            else:
                arr = np.load(sample_path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise FileFormatError(f"cannot be read ({exc})", field="values.file",
                                  value=str(sample_path),
                                  allowed="a .npy or .csv file of trader values") from None
        return np.asarray(arr, dtype=float)
    return _Arrays(path).get(_require(values, "values", "values"), "values.values")


# ---------------------------------------------------------------------------- results
def _result_payload(result: Result, arrays: _Arrays, problem: Problem | None) -> dict[str, Any]:
    ev = result.evaluation
    payload: dict[str, Any] = {
        "format": "amm_opt.result", "schema": SCHEMA_VERSION,
        "backend": result.backend, "status": result.status.value,
        "profit": _plain(result.profit), "bounds": _plain(result.bounds.to_dict()),
        "menu": None if result.menu is None else menu_to_dict(result.menu, arrays),
        "evaluation": None if ev is None else {
            "profit": ev.profit, "stderr": ev.stderr, "method": ev.method,
            "item_probability": arrays.put("item_probability", ev.item_probability),
            "item_profit": arrays.put("item_profit", ev.item_profit),
            "confidence_interval": list(ev.confidence_interval), "details": _plain(ev.details)},
        "message": result.message,
        "solve_seconds": _plain(result.solve_seconds),
        "certificate": _certificate_payload(result.certificate, arrays),
        "stats": _plain(result.stats),
    }
    if problem is not None and problem.update is None and problem.has_density:
        payload["problem"] = problem.to_dict()
    return payload


_TRANSPORT_INDEX_FIELDS = ("point_kind", "source", "target")
_LP_INDEX_FIELDS = ("pair_source", "pair_target")


def _certificate_payload(cert: Any, arrays: _Arrays) -> dict[str, Any] | None:
    """A certificate's constructor fields (arrays through the sidecar when large)."""
    from dataclasses import fields

    from .certificates import LPCertificate, TransportCertificate

    if cert is None:
        return None
    kind = "lp" if isinstance(cert, LPCertificate) else "transport"
    assert isinstance(cert, (LPCertificate, TransportCertificate))
    out: dict[str, Any] = {"type": kind}
    for f in fields(cert):
        if not f.init:
            continue
        value = getattr(cert, f.name)
        if isinstance(value, np.ndarray):
            out[f.name] = arrays.put(f"certificate.{f.name}", value)
        else:
            out[f.name] = _plain(value)
    return out


def _certificate_from(data: Any, arrays: _Arrays) -> Any:
    """Rebuild a certificate; a transport certificate recomputes (re-proves) its bound."""
    from dataclasses import fields

    from .certificates import LPCertificate, TransportCertificate

    if data is None:
        return None
    if not isinstance(data, dict) or data.get("type") not in ("lp", "transport"):
        raise FileFormatError("is not a certificate", field="certificate",
                              value=type(data).__name__,
                              allowed="null or an object with type 'lp' or 'transport'")
    cls = LPCertificate if data["type"] == "lp" else TransportCertificate
    index = _LP_INDEX_FIELDS if cls is LPCertificate else _TRANSPORT_INDEX_FIELDS
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if not f.init or f.name not in data:
            continue
        value = data[f.name]
        where = f"certificate.{f.name}"
        if isinstance(value, (list, dict)) and f.name != "grid":
            arr = arrays.get(value, where)
            value = arr.astype(np.int64) if f.name in index else arr
        elif isinstance(value, str) and value in ("inf", "-inf", "nan"):
            value = float(value)
        kwargs[f.name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, AmmOptError) as exc:
        raise FileFormatError(f"cannot be rebuilt ({exc})", field="certificate",
                              value=data["type"], allowed="a certificate written by "
                              "save_result") from None


def result_to_json(result: Result, problem: Problem | None = None) -> str:
    """The JSON text :func:`save_result` would write, with every array inline."""
    return json.dumps(_result_payload(result, _Arrays(None), problem), indent=2, allow_nan=False)


def save_result(result: Result, path: str | Path, problem: Problem | None = None) -> None:
    """Write ``result`` (menu, bounds, status, stats, evaluation; and ``problem`` if given).

    Statistics that are not JSON data (callables, certificates) are stored by their ``repr``;
    the numbers users rely on (menu, profit, bounds, status, per-item statistics) round-trip.
    """
    path = Path(path)
    arrays = _Arrays(path)
    payload = _result_payload(result, arrays, problem)
    arrays.flush()
    _write_json(path, payload)


def load_result(path: str | Path) -> Result:
    """Read a result written by :func:`save_result`."""
    path = Path(path)
    data = _read_json(path, "result")
    arrays = _Arrays(path)
    raw_status = _require(data, "status", "result")
    try:
        status = Status(raw_status)
    except ValueError:
        raise FileFormatError("is not a known status", field="status", value=raw_status,
                              allowed=", ".join(s.value for s in Status)) from None
    b = _require(data, "bounds", "result")
    if not isinstance(b, dict):
        raise FileFormatError("must be an object", field="bounds", value=b,
                              allowed="{'lower': ..., 'upper': ...}")
    bounds = Bounds(lower=_float_or_none(b.get("lower"), "bounds.lower"),
                    upper=_float_or_none(b.get("upper"), "bounds.upper"),
                    lower_method=str(b.get("lower_method", "")),
                    upper_method=str(b.get("upper_method", "")),
                    lower_stderr=_float_or_none(b.get("lower_stderr", 0.0), "bounds.lower_stderr")
                    or 0.0)
    menu = None if data.get("menu") is None else menu_from_dict(data["menu"], arrays)
    evaluation = None
    e = data.get("evaluation")
    if e is not None:
        if not isinstance(e, dict):
            raise FileFormatError("must be an object or null", field="evaluation", value=e,
                                  allowed="the evaluation written by save_result")
        ci = e.get("confidence_interval", [math.nan, math.nan])
        evaluation = Evaluation(
            profit=float(_require(e, "profit", "evaluation")),
            stderr=float(e.get("stderr", 0.0)), method=str(e.get("method", "")),
            item_probability=arrays.get(_require(e, "item_probability", "evaluation"),
                                        "evaluation.item_probability"),
            item_profit=arrays.get(_require(e, "item_profit", "evaluation"),
                                   "evaluation.item_profit"),
            confidence_interval=(float(ci[0]), float(ci[1])),
            details=dict(e.get("details") or {}))
    stats = data.get("stats") or {}
    if not isinstance(stats, dict):
        raise FileFormatError("must be an object", field="stats", value=type(stats).__name__,
                              allowed="a JSON object")
    if data.get("schema") == 1:
        message = str(stats.get("solver_message", ""))
        seconds = _float_or_none(stats.get("solve_seconds"), "stats.solve_seconds")
        certificate = None
    else:
        message = str(data.get("message", ""))
        seconds = _float_or_none(data.get("solve_seconds"), "solve_seconds")
        certificate = _certificate_from(data.get("certificate"), arrays)
    return Result(menu=menu, profit=_float_or_none(data.get("profit"), "profit"), bounds=bounds,
                  status=status, backend=str(data.get("backend", "")), message=message,
                  solve_seconds=math.nan if seconds is None else seconds,
                  certificate=certificate, stats=stats, evaluation=evaluation)
