"""The sweep store: one SQLite file (standard library, WAL) holding sweeps and their points.

A **sweep** is keyed by the SHA-256 of its base problem, backend, options and the package
version (:func:`sweep_key`); a **point** by its parameters (:func:`amm_opt.sweep.points.
point_key`). The primary key ``(sweep, point)`` makes a duplicated row impossible.

Only the driver writes. Each finished point is one transaction, committed before the next point
is recorded, so a run stopped at any moment (Ctrl-C, a killed process) leaves every finished
point stored and nothing half-written: SQLite's journal rolls back an interrupted transaction.
The journal is WAL with ``synchronous=NORMAL``: a commit survives the death of the process; a
power cut may lose the last few commits, never the file's consistency. Readers (plots, exports,
a second terminal) can read while a sweep writes.

Menus are stored as the versioned JSON of :mod:`amm_opt.io` and read back with
:func:`amm_opt.io.menu_from_dict` (:meth:`SweepStore.menu`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import BackendUnavailableError, FileFormatError, OptionError
from ..io import SCHEMA_VERSION, json_data, menu_from_dict
from ..menu import Menu
from ..paths import check_output_path, write_atomic

__all__ = ["POINT_COLUMNS", "STORE_SCHEMA", "SweepStore", "menu_from_text", "parameter_columns",
           "require_pandas", "sweep_key", "to_frame"]

#: Version of the tables below (stored in the file; a newer one is refused).
STORE_SCHEMA = 1

#: The columns of a point's row after its parameters, in table order.
POINT_COLUMNS = ("state", "status", "backend", "lower", "upper", "gap", "lower_stderr",
                 "lower_method", "upper_method", "message", "error", "warnings",
                 "solve_seconds", "point_seconds", "cpu_seconds", "attempts", "worker",
                 "finished", "menu")

_TABLES = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sweeps (
    sweep TEXT PRIMARY KEY, problem TEXT NOT NULL, backend TEXT, options TEXT NOT NULL,
    version TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    sweep TEXT NOT NULL REFERENCES sweeps(sweep), point TEXT NOT NULL, params TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('done', 'failed')), status TEXT NOT NULL,
    backend TEXT, lower REAL, upper REAL, gap REAL, lower_stderr REAL, lower_method TEXT,
    upper_method TEXT, message TEXT, error TEXT, warnings TEXT, solve_seconds REAL,
    point_seconds REAL, cpu_seconds REAL, attempts INTEGER, worker TEXT, finished REAL,
    menu TEXT, PRIMARY KEY (sweep, point));
"""
_PARQUET = "pip install 'amm-opt[dask]' (pandas and pyarrow)"


def require_pandas() -> Any:
    """``import pandas``, or :class:`~amm_opt.errors.BackendUnavailableError` with the fix."""
    try:
        import pandas
    except ImportError:
        raise BackendUnavailableError("is not installed", field="pandas", value="missing",
                                      allowed="pip install 'amm-opt[dask]'") from None
    return pandas


def _dumps(data: Any) -> str:
    return json.dumps(json_data(data), sort_keys=True, separators=(",", ":"), allow_nan=False)


def sweep_key(problem: Mapping[str, Any], backend: str | None, options: Mapping[str, Any],
              version: str) -> str:
    """SHA-256 (hex) of the base problem, backend, options and package version."""
    text = _dumps({"problem": dict(problem), "backend": backend, "options": dict(options),
                   "version": version})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class SweepStore:
    """A sweep store in the SQLite file ``path`` (created if missing; ``None`` or
    ``":memory:"``: in memory, for a sweep that keeps nothing).

    Parameters
    ----------
    path : str, path or None
        The ``.sqlite`` file; its folder must exist.
    readonly : bool
        Open an existing store only to read it (plots, exports).

    Examples
    --------
    >>> store = SweepStore(None)
    >>> store.sweeps()
    []
    """

    def __init__(self, path: str | os.PathLike[str] | None, *, readonly: bool = False) -> None:
        self.path: Path | None = None
        if path is None or os.fspath(path) == ":memory:":
            if readonly:
                raise OptionError("cannot be read from memory", field="store", value=path,
                                  allowed="the path of an existing store")
            target = ":memory:"
        else:
            self.path = Path(os.fspath(path))
            if readonly:
                if not self.path.is_file():
                    raise FileFormatError("does not exist", field="store", value=str(path),
                                          allowed="a store written by amm_opt.sweep")
                target = f"file:{self.path.resolve().as_posix()}?mode=ro"
            else:
                check_output_path(self.path, "store")
                target = str(self.path)
        try:
            self._conn = sqlite3.connect(target, uri=readonly, timeout=30.0,
                                         isolation_level=None, check_same_thread=False)
            if not readonly:
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                with self._transaction():
                    for statement in filter(str.strip, _TABLES.split(";")):
                        self._conn.execute(statement)
                    self._conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                                       (str(STORE_SCHEMA),))
            self._check_schema()
        except sqlite3.DatabaseError as exc:
            with contextlib.suppress(Exception):
                self._conn.close()
            raise FileFormatError(f"is not a usable sweep store ({exc})", field="store",
                                  value=str(path), allowed="an SQLite file written by "
                                  "amm_opt.sweep, or a new file name") from None

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _transaction(self) -> Any:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _check_schema(self) -> None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        if row is None or not str(row[0]).isdigit() or not 1 <= int(row[0]) <= STORE_SCHEMA:
            raise FileFormatError("has an unsupported store schema", field="store",
                                  value=None if row is None else row[0],
                                  allowed=f"1..{STORE_SCHEMA} (upgrade amm_opt to read it)")

    def close(self) -> None:
        """Close the file (every recorded point is already committed)."""
        self._conn.close()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ writing
    def add_sweep(self, key: str, problem: Mapping[str, Any], backend: str | None,
                  options: Mapping[str, Any], version: str) -> None:
        """Register a sweep (nothing happens if it is already there)."""
        with self._transaction():
            self._conn.execute("INSERT OR IGNORE INTO sweeps VALUES (?, ?, ?, ?, ?, ?)",
                               (key, _dumps(problem), backend, _dumps(options), version,
                                time.time()))

    def record(self, sweep: str, params: Mapping[str, Any], row: Mapping[str, Any]) -> None:
        """Store one finished point in its own transaction (a failed row may be replaced, a
        done one never: re-recording it is refused by the primary key)."""
        values = [row.get(c) for c in POINT_COLUMNS]
        values[POINT_COLUMNS.index("warnings")] = _dumps(row.get("warnings") or [])
        columns = ", ".join(("sweep", "point", "params", *POINT_COLUMNS))
        marks = ", ".join("?" * (3 + len(POINT_COLUMNS)))
        update = ", ".join(f"{c} = excluded.{c}" for c in ("params", *POINT_COLUMNS))
        with self._transaction():
            self._conn.execute(
                f"INSERT INTO points ({columns}) VALUES ({marks}) ON CONFLICT (sweep, point) "
                f"DO UPDATE SET {update} WHERE points.state = 'failed'",
                (sweep, row["key"], _dumps(params), *values))

    # ------------------------------------------------------------------ reading
    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep in the store: key, problem, backend, options, version, points stored."""
        rows = self._conn.execute(
            "SELECT s.sweep, s.problem, s.backend, s.options, s.version, s.created, "
            "COUNT(p.point), SUM(p.state = 'failed') FROM sweeps s LEFT JOIN points p "
            "ON p.sweep = s.sweep GROUP BY s.sweep ORDER BY s.created").fetchall()
        return [{"sweep": r[0], "problem": json.loads(r[1]), "backend": r[2],
                 "options": json.loads(r[3]), "version": r[4], "created": r[5],
                 "points": r[6], "failed": int(r[7] or 0)} for r in rows]

    def sweep(self, key: str) -> dict[str, Any]:
        """One sweep's description; a key prefix is enough when it is unambiguous."""
        found = [s for s in self.sweeps() if s["sweep"].startswith(str(key))]
        if len(found) != 1:
            raise OptionError("names no sweep of this store" if not found else
                              "is ambiguous", field="sweep", value=key,
                              allowed=", ".join(s["sweep"][:12] for s in self.sweeps())
                              or "none: the store is empty")
        return found[0]

    def states(self, sweep: str) -> dict[str, str]:
        """Point key -> ``"done"`` or ``"failed"`` for the points stored under ``sweep``."""
        return dict(self._conn.execute("SELECT point, state FROM points WHERE sweep = ?",
                                       (sweep,)).fetchall())

    def rows(self, sweep: str, points: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The stored rows of ``sweep`` (all, or those of ``points`` in that order)."""
        cur = self._conn.execute(
            f"SELECT point, params, {', '.join(POINT_COLUMNS)} FROM points WHERE sweep = ? "
            "ORDER BY rowid", (sweep,))
        out = {}
        for r in cur.fetchall():
            row = dict(zip(("point", "params", *POINT_COLUMNS), r, strict=True))
            row["params"] = json.loads(row["params"])
            row["warnings"] = json.loads(row["warnings"] or "[]")
            out[row["point"]] = row
        if points is None:
            return list(out.values())
        return [out[p] for p in points if p in out]

    def menu(self, sweep: str, point: str) -> Menu | None:
        """The menu stored for a point (None for a failed point or a bound-only backend)."""
        r = self._conn.execute("SELECT menu FROM points WHERE sweep = ? AND point = ?",
                               (sweep, point)).fetchone()
        if r is None:
            raise OptionError("is not stored", field="point", value=point,
                              allowed="a point key of this sweep")
        return menu_from_text(r[0])

    def frame(self, sweep: str | None = None, points: Iterable[str] | None = None) -> Any:
        """A pandas DataFrame: one row per point, parameters first (see :func:`to_frame`)."""
        keys = [s["sweep"] for s in self.sweeps()] if sweep is None else [self.sweep(sweep)
                                                                          ["sweep"]]
        rows = []
        for key in keys:
            rows.extend({"sweep": key, **r} for r in self.rows(key, points))
        frame = to_frame(rows)
        if len(keys) == 1:
            frame.attrs["sweep"] = self.sweep(keys[0])
        return frame

    def export(self, path: str | os.PathLike[str], sweep: str | None = None) -> Path:
        """Write the table to ``.csv`` or ``.parquet`` (atomic; the folder must exist)."""
        out = check_output_path(path, "path", suffixes=(".csv", ".parquet"))
        frame = self.frame(sweep)
        for col in frame.columns:  # lists (vector parameters, warnings) as JSON text
            if frame[col].map(lambda v: isinstance(v, (list, dict))).any():
                frame[col] = frame[col].map(_dumps)
        frame.attrs = {}
        if out.suffix.lower() == ".csv":
            data = frame.to_csv(index=False).encode("utf-8")
        else:
            try:
                import pyarrow  # noqa: F401
            except ImportError:
                raise BackendUnavailableError("is needed for Parquet", field="pyarrow",
                                              value="missing", allowed=_PARQUET) from None
            import io

            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False)
            data = buffer.getvalue()
        write_atomic(out, data, field="path")
        return out

    def integrity(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` (``"ok"`` for a sound file)."""
        return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])


def menu_from_text(text: str | None) -> Menu | None:
    """A menu from its stored versioned JSON (None stays None)."""
    if text is None:
        return None
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != "amm_opt.menu" or \
            not isinstance(data.get("schema"), int) or not 1 <= data["schema"] <= SCHEMA_VERSION:
        raise FileFormatError("holds a menu in an unknown format", field="menu",
                              value=str(data)[:60],
                              allowed=f"amm_opt.menu, schema 1..{SCHEMA_VERSION}")
    return menu_from_dict(data, where="menu")


def parameter_columns(frame: Any) -> list[str]:
    """The parameter columns of a sweep table (those before ``sweep`` / ``point``)."""
    names = []
    for col in frame.columns:
        if col in ("sweep", "point"):
            break
        names.append(col)
    return names


def to_frame(rows: list[dict[str, Any]]) -> Any:
    """Rows (``params`` a mapping) to a DataFrame: parameter columns first, then the point key,
    then :data:`POINT_COLUMNS`, plus ``relative_gap`` after ``gap``."""
    pandas = require_pandas()
    names: list[str] = []
    for row in rows:
        names.extend(n for n in row["params"] if n not in names)
    records = []
    for row in rows:
        rec = {n: row["params"].get(n) for n in names}
        if "sweep" in row:
            rec["sweep"] = row["sweep"]
        rec["point"] = row["point"]
        for col in POINT_COLUMNS:
            rec[col] = row.get(col)
            if col == "gap":
                lo, gap = row.get("lower"), row.get("gap")
                rec["relative_gap"] = (gap / abs(lo) if lo else float("inf")) \
                    if gap is not None and lo is not None else None
        records.append(rec)
    columns = [*names, *(["sweep"] if any("sweep" in r for r in rows) else []), "point",
               *POINT_COLUMNS[:6], "relative_gap", *POINT_COLUMNS[6:]]
    frame = pandas.DataFrame.from_records(records, columns=columns)
    for col in ("lower", "upper", "gap", "relative_gap", "lower_stderr", "solve_seconds",
                "point_seconds", "cpu_seconds", "finished"):
        frame[col] = pandas.to_numeric(frame[col], errors="coerce").astype("float64")
    return frame
