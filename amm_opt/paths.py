"""File access: output paths checked before any work, atomic writes, guarded reading.

:func:`check_output_path` is called before a solve (``--out``, ``--plot``) or before the first
training step (``checkpoint_path``), so that a missing or read-only folder, a path under a file
or a name the file system refuses fails at once with an :class:`~amm_opt.errors.OutputPathError`
naming the option, not after hours of work. It creates nothing: a missing folder is an error
(create it yourself), never created silently.

:func:`write_atomic` writes to a temporary file in the destination folder, flushes it to disk and
renames it over the destination, so a reader sees the old file or the new one, never a torn one;
a failed write (a full disk) leaves the old file as it was and removes the temporary file.

The reading helpers (:func:`read_bytes`, :func:`read_json`, :func:`read_toml`, :func:`read_npz`,
:func:`read_npy`) refuse damaged or crafted files with a :class:`~amm_opt.errors.FileFormatError`
before they can exhaust memory or the stack: sizes are checked before reading
(:data:`MAX_FILE_BYTES`, :data:`MAX_ARRAY_BYTES`), nesting is limited (:data:`MAX_DEPTH`), text
must be UTF-8, and arrays must be plain numbers whose headers match their data.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import secrets
import stat
import struct
import tokenize
import tomllib
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FileFormatError, OutputPathError

__all__ = ["MAX_ARRAY_BYTES", "MAX_DEPTH", "MAX_FILE_BYTES", "array_to_json", "check_depth",
           "check_output_path", "checked_array", "checked_integer", "checked_integers",
           "checked_number", "checked_object", "checked_string", "input_path", "number_to_json",
           "read_bytes", "read_json", "read_npy", "read_npz", "read_text", "read_toml",
           "write_atomic"]

# Used where the file system does not report its limits (os.pathconf is POSIX-only).
_NAME_MAX = 255
_PATH_MAX = 4096


def _limits(folder: Path) -> tuple[int, int]:
    """``(longest file name, longest path)`` in bytes on the file system of ``folder``."""
    probe = folder
    try:
        # is_dir raises (not False) for a path beyond the system's limits: use the defaults then
        while not probe.is_dir() and probe != probe.parent:
            probe = probe.parent
        return (int(os.pathconf(probe, "PC_NAME_MAX")), int(os.pathconf(probe, "PC_PATH_MAX")))
    except (AttributeError, OSError, ValueError):
        return _NAME_MAX, _PATH_MAX


def _fail(field: str, path: Any, message: str, allowed: str) -> OutputPathError:
    return OutputPathError(message, field=field, value=str(path), allowed=allowed)


def _blocking_file(folder: Path) -> Path | None:
    """The first ancestor of ``folder`` that exists but is not a folder (None if there is none)."""
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def check_output_path(path: Any, field: str, suffixes: Iterable[str] | None = None) -> Path:
    """Check that a file can be written at ``path``; return it as a :class:`~pathlib.Path`.

    The folder must exist and be writable; ``path`` must not be a folder, lie under a file, be
    an existing non-regular file (a device, a pipe), contain a NUL character, or have a name or
    length beyond the file system's limits; with ``suffixes`` its suffix must be one of them
    (case-insensitive). Nothing is created. Raises :class:`~amm_opt.errors.OutputPathError`
    naming ``field`` (e.g. ``"--out"``, ``"checkpoint_path"``).
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise _fail(field, path, "must be a file path", "a str or pathlib.Path")
    text = os.fspath(path)
    if not isinstance(text, str) or not text:
        raise _fail(field, path, "must be a non-empty file path", "a str or pathlib.Path")
    if "\0" in text:
        raise _fail(field, text.replace("\0", "\\0"), "contains a NUL character",
                    "a file name without NUL")
    out = Path(text)
    if text.endswith(("/", os.sep)) or out.name in ("", ".", ".."):
        raise _fail(field, text, "names a folder, not a file", "a file path such as out.json")
    if suffixes is not None:
        allowed = tuple(s.lower() for s in suffixes)
        if out.suffix.lower() not in allowed:
            raise _fail(field, text, "has an unsupported suffix",
                        "a file name ending in " + ", ".join(allowed))
    folder = out.parent
    name_max, path_max = _limits(folder)
    if len(os.fsencode(out.name)) > name_max:
        raise _fail(field, text, f"has a file name of {len(os.fsencode(out.name))} bytes, "
                    f"longer than this file system allows", f"at most {name_max} bytes")
    if len(os.fsencode(os.path.abspath(text))) >= path_max:
        raise _fail(field, text, "is longer than this file system allows",
                    f"a path of fewer than {path_max} bytes")
    try:
        if not folder.is_dir():
            blocker = _blocking_file(folder)
            if blocker is not None:
                raise _fail(field, text, f"lies under {str(blocker)!r}, which is a file",
                            "a path in an existing folder")
            raise _fail(field, text, f"is in a folder that does not exist ({str(folder)!r})",
                        "an existing folder (create it first)")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise _fail(field, text, f"is in a folder that is not writable ({str(folder)!r})",
                        "a path in a folder you can write to")
        if out.is_dir():
            raise _fail(field, text, "is a folder", "a file path inside it, e.g. "
                        f"{str(out / 'result.json')!r}")
        if out.exists() and not out.is_file():
            raise _fail(field, text, "exists and is not a regular file (a device or a pipe)",
                        "a regular file path")
    except OutputPathError:
        raise
    except OSError as exc:
        raise _fail(field, text, f"cannot be checked ({exc.strerror or exc})",
                    "a path in an existing, writable folder") from None
    return out


def _open_temporary(folder: Path) -> tuple[int, Path]:
    """Create a new, empty temporary file in ``folder`` (short name, the usual permissions)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = folder / f".{secrets.token_hex(6)}.amm_opt.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {folder}")


def _sync_folder(folder: Path) -> None:
    """Flush the folder entry of a rename to disk where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes, field: str = "path") -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, fsync, rename.

    A symbolic link at ``path`` is followed (its target is replaced). An existing file keeps its
    permission bits. On failure the old file is untouched, the temporary file is removed, and an
    :class:`~amm_opt.errors.OutputPathError` naming ``field`` and the path is raised (its
    ``errno`` is that of the failed system call). The folder is not created.
    """
    target = Path(path)
    if target.is_symlink():
        target = Path(os.path.realpath(target))
    tmp: Path | None = None
    try:
        fd, tmp = _open_temporary(target.parent)
        try:
            fh = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            raise
        with fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(OSError):
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        error = OutputPathError(f"cannot be written ({exc.strerror or exc}); the previous file, "
                                "if any, is unchanged", field=field, value=str(path),
                                allowed="a writable path with enough free space")
        error.errno = exc.errno   # (strerror stays unset: it would replace the message)
        raise error from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    _sync_folder(target.parent)


# ---------------------------------------------------------------------------- checked values
_NON_FINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def number_to_json(x: Any) -> Any:
    """``x`` as a float, or ``'inf'``, ``'-inf'``, ``'nan'`` (JSON has no literal for them)."""
    x = float(x)
    return x if math.isfinite(x) else repr(x)


def checked_number(value: Any, field: str, *, optional: bool = False, nan: bool = True,
                   low: float | None = None) -> Any:
    """A float from a JSON number or 'inf'/'-inf'/'nan' (None only when ``optional``; NaN only
    when ``nan``; at least ``low`` when given, NaN aside)."""
    if value is None and optional:
        return None
    if isinstance(value, str) and value in _NON_FINITE:
        x = _NON_FINITE[value]
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FileFormatError("must be a number" + (" or null" if optional else ""),
                              field=field, value=value,
                              allowed="a JSON number, 'inf', '-inf' or 'nan'")
    else:
        try:
            x = float(value)
        except OverflowError:
            raise FileFormatError("is too large", field=field, value=value,
                                  allowed="a float64 number") from None
    if math.isnan(x) and not nan:
        raise FileFormatError("must not be NaN", field=field, value=value, allowed="a number")
    if low is not None and x < low:
        raise FileFormatError(f"must be at least {low}", field=field, value=value,
                              allowed=f"a number >= {low}")
    return x


def checked_integer(value: Any, field: str) -> int:
    """A JSON integer (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FileFormatError("must be an integer", field=field, value=value,
                              allowed="a JSON integer")
    return value


def checked_string(value: Any, field: str) -> str:
    """A JSON string."""
    if not isinstance(value, str):
        raise FileFormatError("must be a string", field=field, value=value,
                              allowed="a JSON string")
    return value


def checked_object(value: Any, field: str) -> dict[str, Any]:
    """A JSON object."""
    if not isinstance(value, dict):
        raise FileFormatError("must be an object", field=field, value=type(value).__name__,
                              allowed="a JSON object")
    return value


def array_to_json(arr: np.ndarray) -> Any:
    """Nested lists of floats, non-finite entries as ``'inf'``, ``'-inf'``, ``'nan'``."""
    if np.all(np.isfinite(arr)):
        return arr.tolist()
    out = arr.astype(object)
    bad = ~np.isfinite(arr)
    out[bad] = [repr(float(v)) for v in arr[bad]]
    return out.tolist()


def checked_array(value: Any, field: str) -> np.ndarray:
    """A float array from nested lists of numbers and 'inf'/'-inf'/'nan' (nothing else)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, bool) or not (isinstance(node, (int, float)) or
                                            (isinstance(node, str) and node in _NON_FINITE)):
            raise FileFormatError("must hold only numbers", field=field, value=node,
                                  allowed="nested lists of numbers, 'inf', '-inf' or 'nan'")
    try:
        return np.array(value, dtype=float)
    except (ValueError, TypeError, OverflowError) as exc:
        raise FileFormatError(f"is not a rectangular array of float64 numbers ({exc})",
                              field=field, allowed="nested lists of equal lengths") from None


def checked_integers(arr: np.ndarray, field: str) -> np.ndarray:
    """``arr`` as int64, refusing entries that are not integers."""
    if arr.size and not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)) and
                         np.all(np.abs(arr) < 2.0**62)):
        raise FileFormatError("must hold integers", field=field, allowed="integer indices")
    return arr.astype(np.int64)


# ---------------------------------------------------------------------------- guarded reading
#: Largest JSON or TOML file the loaders read, in bytes (checked before reading).
MAX_FILE_BYTES = 256 * 2**20
#: Largest array file (``.npz`` sidecar, ``.npy``, ``.csv``, checkpoint) the loaders read, and
#: the largest total the arrays of an ``.npz`` file may unpack to, in bytes.
MAX_ARRAY_BYTES = 8 * 2**30
#: Deepest nesting of lists and objects accepted in a JSON or TOML file.
MAX_DEPTH = 64


def input_path(path: Any, field: str = "path") -> Path:
    """``path`` as a :class:`~pathlib.Path`; a non-path or a NUL character is a FileFormatError."""
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise FileFormatError("must be a file path", field=field, value=path,
                              allowed="a str or pathlib.Path")
    text = os.fspath(path)
    if not isinstance(text, str) or "\0" in text:
        raise FileFormatError("is not a usable file name (it contains a NUL character)",
                              field=field, value=str(text).replace("\0", "\\0"),
                              allowed="a file name without NUL")
    return Path(text)


def read_bytes(path: Path, limit: int, field: str, allowed: str) -> bytes:
    """The bytes of a regular file, refusing other files and files over ``limit`` before reading
    (a device such as ``/dev/zero`` would otherwise never end)."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise FileFormatError("is not a regular file", field=field, value=str(path),
                                  allowed=allowed)
        if size > limit:
            raise FileFormatError(f"is {size} bytes, more than the {limit} bytes amm_opt reads",
                                  field=field, value=str(path), allowed=allowed)
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise FileFormatError(f"cannot be read ({exc.strerror or exc})", field=field,
                              value=str(path), allowed="an existing, readable file") from None
    if len(data) > limit:
        raise FileFormatError(f"is more than the {limit} bytes amm_opt reads", field=field,
                              value=str(path), allowed=allowed)
    return data


def read_text(path: Path, field: str, allowed: str) -> str:
    """A UTF-8 text file of at most :data:`MAX_FILE_BYTES`."""
    data = read_bytes(path, MAX_FILE_BYTES, field, allowed)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"is not UTF-8 text (invalid byte at offset {exc.start})",
                              field=field, value=str(path), allowed=allowed) from None


def check_depth(data: Any, field: str, where: str) -> None:
    """Refuse lists and objects nested deeper than :data:`MAX_DEPTH` (without recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > MAX_DEPTH:
                raise FileFormatError(f"nests lists or objects more than {MAX_DEPTH} deep",
                                      field=field, value=where, allowed="a file written by "
                                      "amm_opt")
            stack.extend((v, depth + 1) for v in (node.values() if isinstance(node, dict)
                                                  else node))


def _no_constant(name: str) -> Any:
    raise ValueError(f"the non-standard constant {name} (amm_opt writes 'nan', 'inf')")


def read_json(path: Path, allowed: str, field: str = "path") -> Any:
    """Parse a JSON file read with :func:`read_text`; every failure is a FileFormatError."""
    text = read_text(path, field, allowed)
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                              f"{exc.msg})", field=field, value=str(path),
                              allowed=allowed) from None
    except RecursionError:
        raise FileFormatError("nests lists or objects too deeply", field=field,
                              value=str(path), allowed=allowed) from None
    except ValueError as exc:  # huge integer literals, NaN/Infinity constants
        raise FileFormatError(f"is not valid JSON ({exc})", field=field, value=str(path),
                              allowed=allowed) from None
    check_depth(data, field, str(path))
    return data


def read_toml(path: Path, allowed: str, field: str = "path") -> dict[str, Any]:
    """Parse a TOML file read with :func:`read_text`; every failure is a FileFormatError."""
    text = read_text(path, field, allowed)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise FileFormatError("nests lists or tables too deeply", field=field, value=str(path),
                              allowed=allowed) from None
    except ValueError as exc:  # TOMLDecodeError, or an integer with too many digits
        raise FileFormatError(f"is not valid TOML ({exc})", field=field, value=str(path),
                              allowed=allowed) from None
    check_depth(data, field, str(path))
    return data


# What zipfile, zlib and numpy's header parser (which tokenizes the header) raise on damage.
_ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, ValueError, OSError,
                   EOFError, KeyError, NotImplementedError, RuntimeError, struct.error,
                   OverflowError, IndexError, TypeError, SyntaxError, tokenize.TokenError)


def _check_npy_header(fh: Any, available: int, field: str, where: str) -> None:
    """A ``.npy`` header announcing plain numbers and exactly the data that follows it."""
    version = np.lib.format.read_magic(fh)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fh)
    elif version == (2, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    else:
        raise ValueError(f"unsupported .npy format version {version}")
    if dtype.hasobject or dtype.kind not in "biuf" or dtype.names is not None:
        raise FileFormatError("holds an array that is not plain numbers", field=field,
                              value=f"{where} (dtype {dtype})", allowed="float or int arrays")
    if math.prod(shape) * dtype.itemsize != available - fh.tell():
        raise FileFormatError("holds an array whose data does not match its header",
                              field=field, value=where, allowed="an undamaged .npy/.npz file")


def read_npz(data: bytes, field: str, where: str) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file's bytes (headers checked before any array is read)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if sum(info.file_size for info in infos) > MAX_ARRAY_BYTES:
                raise FileFormatError(f"unpacks to more than {MAX_ARRAY_BYTES} bytes",
                                      field=field, value=where, allowed="a smaller .npz file")
            out = {}
            for info in infos:
                with archive.open(info) as fh:
                    _check_npy_header(fh, info.file_size, field, where)
                with archive.open(info) as fh:
                    out[info.filename.removesuffix(".npy")] = np.lib.format.read_array(
                        fh, allow_pickle=False)
            return out
    except FileFormatError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise FileFormatError(f"cannot be read as .npz ({type(exc).__name__}: {exc})",
                              field=field, value=where, allowed="an .npz file written by "
                              "amm_opt") from None


def read_npy(data: bytes, field: str, where: str) -> np.ndarray:
    """The array of a ``.npy`` file's bytes (header checked first, never unpickled)."""
    try:
        _check_npy_header(io.BytesIO(data), len(data), field, where)
        return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except FileFormatError:
        raise
    except _ARCHIVE_ERRORS as exc:
        raise FileFormatError(f"cannot be read as .npy ({type(exc).__name__}: {exc})",
                              field=field, value=where, allowed="a .npy file of numbers") from None
