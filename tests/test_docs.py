"""The documentation builds without a single Sphinx warning, and refers only to this repository.

The build runs the same command as ``scripts/docs.sh`` (``sphinx -W --keep-going``) into a
temporary directory, so it also catches docstrings that autodoc cannot render.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Places that must not point outside the repository (the design notes the docs were written
# from live elsewhere; everything a reader needs is in docs/). The patterns are assembled so
# that this file does not match itself.
_SCANNED = ("docs", "README.md", "BENCHMARKS.md", "amm_opt", "tests", "examples", "benchmarks")
_FORBIDDEN = (".." + "/shared", "shared" + "/design")
_SKIP_DIRS = {"_build", "__pycache__", ".pytest_cache"}


def _text_files() -> list[Path]:
    files: list[Path] = []
    for name in _SCANNED:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in sorted(path.rglob("*"))
                      if p.is_file() and not _SKIP_DIRS.intersection(p.relative_to(ROOT).parts)]
    return files


def test_no_references_outside_the_repository() -> None:
    offenders = []
    for path in _text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary data (npz, png): nothing to read
        for number, line in enumerate(text.splitlines(), start=1):
            if any(pattern in line for pattern in _FORBIDDEN):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "references outside the repository:\n" + "\n".join(offenders)


def test_docs_build_without_warnings(tmp_path: Path) -> None:
    for module in ("sphinx", "myst_parser"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install 'amm-opt[docs]')")
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(ROOT / "docs"), str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, (f"sphinx exited with {proc.returncode}\n--- stdout\n"
                                  f"{proc.stdout}\n--- stderr\n{proc.stderr}")
    for page in ("index", "model", "api", "architecture", "adding_a_backend",
                 "math/evaluation", "math/grid_lp", "math/transport", "math/rochetnet"):
        assert (out / f"{page}.html").is_file(), f"{page}.html was not written"
