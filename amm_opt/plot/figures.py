"""Figure plumbing shared by the plots: the matplotlib check, output paths, new axes, saving.

Figures are made with :class:`matplotlib.figure.Figure`, never pyplot, so no GUI backend or global
state is touched and plotting works on headless machines.
"""

from __future__ import annotations

import importlib.util
import io
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendUnavailableError, OptionError
from ..paths import check_output_path, write_atomic

__all__ = ["FORMATS", "figure_path", "new_axes", "require_matplotlib", "save_figure"]

#: File suffixes a figure can be saved under (the format is taken from the suffix).
FORMATS = (".png", ".svg", ".pdf")


def require_matplotlib() -> None:
    """Raise :class:`~amm_opt.errors.BackendUnavailableError` unless matplotlib is installed."""
    if importlib.util.find_spec("matplotlib") is None:
        raise BackendUnavailableError("is not installed", field="matplotlib", value="missing",
                                      allowed="pip install 'amm-opt[plot]'")


def figure_path(path: str | PathLike[str] | None) -> Path | None:
    """``path`` as a :class:`~pathlib.Path` after checking it can be written (suffix one of
    :data:`FORMATS`, existing writable folder: :func:`~amm_opt.paths.check_output_path`), so that a
    bad path fails before any plotting work. None passes through."""
    if path is None:
        return None
    return check_output_path(path, "path", FORMATS)


def new_axes(ax: Any, ncols: int = 1, size: tuple[float, float] = (6.4, 6.0)
             ) -> tuple[Any, list[Any]]:
    """``(figure, axes)``: the given ``ax`` (``ncols`` of them), or a new figure with ``ncols``."""
    from matplotlib.figure import Figure

    if ax is not None:
        axes = list(np.atleast_1d(ax).ravel())
        if len(axes) != ncols:
            raise OptionError(f"must hold {ncols} axes", field="ax", value=len(axes),
                              allowed=f"{ncols} matplotlib Axes (or None)")
        return axes[0].figure, axes
    fig = Figure(figsize=(size[0] * ncols, size[1]), layout="constrained")
    return fig, list(np.atleast_1d(fig.subplots(1, ncols)).ravel())


def save_figure(fig: Any, path: Path | None) -> None:
    """Render ``fig`` in memory and write it atomically to ``path`` (no folder is created)."""
    if path is not None:
        buffer = io.BytesIO()
        fig.savefig(buffer, dpi=150, format=path.suffix.lower()[1:], bbox_inches="tight")
        write_atomic(path, buffer.getvalue(), field="path")
