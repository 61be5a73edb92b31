"""Menu families to and from files: versioned JSON metadata plus a ``torch.save`` weights file.

``save_family(family, "f.json")`` writes ``f.<sha256[:16]>.pt`` (the weights: a list of float64
tensors, nothing else; named after its content) and then ``f.json`` (format
``amm_opt.menu_family``, schema :data:`SCHEMA_VERSION`: the family's spec, architecture, snapping
tolerance, training record, and the weights file's name and sha256), each atomically; the
previous weights file is removed afterwards, so a failed write leaves the previous pair
readable. ``load_family`` checks the header, the hash, and every tensor's dtype and shape before
building the family, and reads the weights with ``torch.load(weights_only=True)``: nothing is
unpickled. A round trip is bit-identical.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AmmOptError, FileFormatError
from ..io import json_data
from ..paths import (
    MAX_ARRAY_BYTES,
    check_output_path,
    input_path,
    read_bytes,
    read_json,
    write_atomic,
)
from .family import MenuFamily
from .network import Architecture
from .spec import FamilySpec

__all__ = ["FORMAT", "SCHEMA_VERSION", "load_family", "save_family"]

FORMAT = "amm_opt.menu_family"
#: Version of the JSON layout; files of a newer version are refused.
SCHEMA_VERSION = 1
_WEIGHTS_FORMAT = "amm_opt.menu_family.weights/1"
_WRITTEN_BY = "a file written by amm_opt.amortised.save_family"


def _weights_name(path: Path, digest: str) -> str:
    return f"{path.stem}.{digest[:16]}.pt"


def _previous_weights(path: Path) -> Path | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError, RecursionError):
        return None
    name = data.get("weights", {}).get("file") if isinstance(data, dict) and \
        data.get("format") == FORMAT and isinstance(data.get("weights"), dict) else None
    if isinstance(name, str) and re.fullmatch(re.escape(path.stem) + r"\.[0-9a-f]{16}\.pt", name):
        return path.with_name(name)
    return None


def save_family(family: MenuFamily, path: str | Path) -> None:
    """Write ``family`` to ``path`` (JSON) and its weights beside it (see the module)."""
    import torch

    target = check_output_path(path, "path", suffixes=(".json",))
    buffer = io.BytesIO()
    torch.save({"format": _WEIGHTS_FORMAT,
                "layers": [torch.from_numpy(np.array(w, dtype=np.float64))
                           for w in family.weights]}, buffer)
    blob = buffer.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    arch = family.architecture
    payload = {"format": FORMAT, "schema": SCHEMA_VERSION, "spec": family.spec.to_dict(),
               "architecture": {"items": arch.items, "hidden": list(arch.hidden),
                                "logit_gain": arch.logit_gain},
               "snap": family.snap, "info": json_data(family.info),
               "weights": {"file": _weights_name(target, digest), "sha256": digest}}
    text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
    previous = _previous_weights(target)
    weights = target.with_name(_weights_name(target, digest))
    created = not weights.exists()
    write_atomic(weights, blob, field="path")
    try:
        write_atomic(target, text.encode("utf-8"), field="path")
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                weights.unlink()
        raise
    if previous is not None and previous != weights:
        with contextlib.suppress(OSError):
            previous.unlink()


def _bad(field: str, what: str, value: Any) -> FileFormatError:
    return FileFormatError(what, field=field, value=value, allowed=_WRITTEN_BY)


def load_family(path: str | Path) -> MenuFamily:
    """Read a family written by :func:`save_family` (damaged or foreign files raise
    :class:`~amm_opt.errors.FileFormatError`)."""
    import torch

    source = input_path(path)
    data = read_json(source, _WRITTEN_BY)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise _bad("format", f"is not {FORMAT!r}", data.get("format") if isinstance(
            data, dict) else type(data).__name__)
    schema = data.get("schema")
    if isinstance(schema, bool) or not isinstance(schema, int) or not 1 <= schema <= \
            SCHEMA_VERSION:
        raise _bad("schema", f"is not a version this amm_opt reads (1..{SCHEMA_VERSION})",
                   schema)
    missing = {"spec", "architecture", "snap", "info", "weights"} - set(data)
    if missing:
        raise _bad(str(source), f"lacks {sorted(missing)}", sorted(data))
    try:
        spec = FamilySpec.from_dict(data["spec"])
        a = data["architecture"]
        arch = Architecture(items=a["items"], hidden=tuple(a["hidden"]),
                            logit_gain=a["logit_gain"])
    except (AmmOptError, KeyError, TypeError) as exc:
        raise _bad("spec", f"does not describe a family ({exc})", str(source)) from None
    ref = data["weights"]
    if not isinstance(ref, dict) or not isinstance(ref.get("file"), str) or \
            not re.fullmatch(r"[^/\\\0]+\.[0-9a-f]{16}\.pt", ref["file"]) or \
            not isinstance(ref.get("sha256"), str):
        raise _bad("weights", "must name a weights file beside the JSON and its sha256", ref)
    wpath = source.with_name(ref["file"])
    blob = read_bytes(wpath, MAX_ARRAY_BYTES, "weights", _WRITTEN_BY)
    if hashlib.sha256(blob).hexdigest() != ref["sha256"]:
        raise _bad("weights", "do not match the sha256 the JSON records (a damaged file or "
                              "one from another save)", str(wpath))
    try:
        obj = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for unreadable files
        raise _bad("weights", f"torch cannot read them ({type(exc).__name__})",
                   str(wpath)) from None
    if not isinstance(obj, dict) or obj.get("format") != _WEIGHTS_FORMAT or \
            not isinstance(obj.get("layers"), list) or \
            not all(isinstance(t, torch.Tensor) and t.dtype == torch.float64
                    for t in obj["layers"]):
        raise _bad("weights", "are not a list of float64 tensors", str(wpath))
    weights = [t.numpy().copy() for t in obj["layers"]]
    info = data["info"] if isinstance(data["info"], dict) else {}
    try:
        return MenuFamily(spec=spec, architecture=arch, weights=weights,
                          snap=data["snap"], info=info)
    except AmmOptError as exc:
        raise _bad("weights", f"do not fit the family ({exc})", str(wpath)) from None
