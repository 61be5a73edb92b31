"""Sphinx configuration for the amm_opt documentation (Markdown pages via MyST).

Build with ``bash scripts/docs.sh`` (warnings are errors). Nothing here reaches the network:
there is no intersphinx, and the package is imported from this checkout.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "amm_opt"
author = "amm_opt developers"
copyright = "amm_opt developers"

try:
    import amm_opt

    release = amm_opt.__version__
except Exception:  # pragma: no cover - the build reports the import error through autodoc
    release = "0.1.0"
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: $...$ and $$...$$ math, amsmath environments, anchors for section links.
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# autodoc / autosummary: real imports (torch, cvxpy and POT are imported lazily by the engines, so
# documenting the solver classes does not import them). Summary tables only, no generated stubs.
autosummary_generate = False
autodoc_default_options = {
    "members": True,
    "show-inheritance": False,
}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_class_signature = "mixed"
autodoc_inherit_docstrings = False
autoclass_content = "class"

# napoleon: numpydoc sections. ``Attributes`` become ``:ivar:`` fields so that dataclass fields are
# not described twice (once by napoleon, once by autodoc).
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True
napoleon_use_param = True
napoleon_use_rtype = False
napoleon_preprocess_types = False

html_theme = "alabaster"
html_title = "amm_opt"
html_static_path: list[str] = []
