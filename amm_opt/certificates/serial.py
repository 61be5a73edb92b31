"""Certificates in result files: their constructor fields as JSON, and back.

``arrays`` is the result file's array store (``amm_opt.io``): ``put(key, array)`` returns what
the JSON holds for an array (inline numbers or a reference into the ``.npz`` sidecar), ``get(value,
field)`` reads it back. A transport certificate recomputes its bound from the stored plan when it
is rebuilt, so a file cannot carry a bound its plan does not prove.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np

from ..errors import AmmOptError, FileFormatError
from ..paths import (
    checked_integer,
    checked_integers,
    checked_number,
    checked_string,
    number_to_json,
)

__all__ = ["certificate_from", "certificate_payload"]


def _plain_value(value: Any) -> Any:
    """A certificate's scalar or tuple field as JSON data (non-finite floats as strings)."""
    if isinstance(value, (list, tuple)):
        return [_plain_value(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return number_to_json(value)
    return value


def _certificate_classes() -> dict[str, Any]:
    from . import LPCertificate, TransportCertificate

    return {"lp": LPCertificate, "transport": TransportCertificate}


def certificate_payload(cert: Any, arrays: Any) -> dict[str, Any] | None:
    """A certificate's constructor fields (arrays through the sidecar when large)."""
    if cert is None:
        return None
    kind = next(k for k, cls in _certificate_classes().items() if isinstance(cert, cls))
    out: dict[str, Any] = {"type": kind}
    for f in fields(cert):
        if not f.init:
            continue
        value = getattr(cert, f.name)
        if isinstance(value, np.ndarray):
            out[f.name] = arrays.put(f"certificate.{f.name}", value)
        else:
            out[f.name] = _plain_value(value)
    return out


def _certificate_field(annotation: str, value: Any, where: str, arrays: Any) -> Any:
    """Read one certificate field by its declared type (unknown types pass through)."""
    optional = annotation.replace(" ", "").endswith("|None")
    base = annotation.replace(" ", "").removesuffix("|None")
    if value is None and optional:
        return None
    if base == "float":
        return checked_number(value, where)
    if base == "int":
        return checked_integer(value, where)
    if base == "str":
        return checked_string(value, where)
    if base.startswith("tuple[int"):
        if not isinstance(value, list):
            raise FileFormatError("must be a list of integers", field=where, value=value,
                                  allowed="e.g. [16, 16]")
        return tuple(checked_integer(v, where) for v in value)
    if base in ("FloatArray", "IntArray") or base.startswith("NDArray"):
        arr = arrays.get(value, where)
        return arr if base == "FloatArray" else checked_integers(arr, where)
    return value


def certificate_from(data: Any, arrays: Any) -> Any:
    """Rebuild a certificate; a transport certificate recomputes (re-proves) its bound."""
    if data is None:
        return None
    classes = _certificate_classes()
    if not isinstance(data, dict) or data.get("type") not in classes:
        raise FileFormatError("is not a certificate", field="certificate",
                              value=type(data).__name__,
                              allowed="null or an object with type 'lp' or 'transport'")
    cls = classes[data["type"]]
    kwargs = {f.name: _certificate_field(str(f.type), data[f.name], f"certificate.{f.name}",
                                         arrays)
              for f in fields(cls) if f.init and f.name in data}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, IndexError, AmmOptError) as exc:
        raise FileFormatError(f"cannot be rebuilt ({exc})", field="certificate",
                              value=data["type"], allowed="a certificate written by "
                              "save_result") from None
