r"""Draw a transport certificate for two goods: the discretised measure and where mass moves.

Positive mass (:math:`\nu^+` on grid vertices) is drawn in blue, negative mass (:math:`\nu^-` at
cell barycentres) in red with marker area proportional to mass, the atom at :math:`c` as a star,
and every arc of the plan as a segment whose width grows with the mass it carries (arcs out of
the atom in grey: the atom spread over the no-trade region, as in the paper's Figs. 3 and 11).
A ``"plan"`` certificate (dense POT) joins sources to sinks directly; a ``"flow"`` certificate
(grid flow) shows the flow on the grid's arcs.

Matplotlib is imported only when plotting, through :class:`matplotlib.figure.Figure`, so no
pyplot backend or global state is touched (the figure renders with Agg when saved).
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np

from ..certificates.transport import TransportCertificate
from ..errors import OptionError, UnsupportedProblemError
from .figures import figure_path, require_matplotlib, save_figure

__all__ = ["plot_transport"]

_KIND_ATOM = 2


def plot_transport(certificate: TransportCertificate, path: str | PathLike[str] | None = None,
                   ax: Any = None, *, max_arcs: int = 5000) -> Any:
    r"""Plot the measure and the plan of a two-good transport certificate.

    The plan shown is the one whose cost bounds the profit,

    .. math::

        \sum_e f_e\, d(p_{i_e}, p_{j_e}) \;\ge\; \max_{u \in U} \int u\, d\mu .

    Parameters
    ----------
    certificate : TransportCertificate
        From ``solve(problem, backend="ot_dual").certificate``; ``goods`` must be 2.
    path : str or path, optional
        Save the figure there (format from the suffix).
    ax : matplotlib Axes, optional
        Draw into it; a new figure is created otherwise.
    max_arcs : int
        Draw at most this many arcs, the heaviest ones (the plot states how many were left out).

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not isinstance(certificate, TransportCertificate):
        raise OptionError("must be a TransportCertificate", field="certificate",
                          value=certificate,
                          allowed="result.certificate from backend='ot_dual'")
    if certificate.goods != 2:
        raise UnsupportedProblemError("plots exist for two goods only", field="certificate",
                                      value=f"{certificate.goods} goods",
                                      allowed="a certificate of a two-good problem")
    if isinstance(max_arcs, bool) or not isinstance(max_arcs, (int, np.integer)) or \
            max_arcs < 0:
        raise OptionError("must be a non-negative integer", field="max_arcs", value=max_arcs,
                          allowed="e.g. 5000")
    out = figure_path(path)
    require_matplotlib()
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = None
    if ax is None:
        fig = Figure(figsize=(6.0, 6.0))
        ax = fig.add_subplot()
    cert = certificate
    pts, masses = cert.points, cert.masses
    src, dst, flow = cert.plan
    order = np.argsort(flow)[::-1][: int(max_arcs)]
    left_out = flow.size - order.size
    if order.size:
        widths = 0.3 + 2.7 * np.sqrt(flow[order] / flow[order].max())
        from_atom = cert.point_kind[src[order]] == _KIND_ATOM
        colours = np.where(from_atom[:, None], [[0.55, 0.55, 0.55, 0.5]],
                           [[0.1, 0.1, 0.1, 0.7]])
        segments = np.stack([pts[src[order]], pts[dst[order]]], axis=1)
        ax.add_collection(LineCollection(segments, linewidths=widths, colors=colours,
                                         zorder=3))
    pos = (masses > 0) & (cert.point_kind != _KIND_ATOM)
    neg = masses < 0
    # Largest marker about a third of a cell of a 6-inch figure (432 pt across); area in pt^2.
    full = (150.0 / max(max(cert.grid), 1)) ** 2
    biggest = float(np.abs(masses[pos | neg]).max()) if np.any(pos | neg) else 1.0
    area = full * np.abs(masses) / biggest
    ax.scatter(pts[pos, 0], pts[pos, 1], s=area[pos], c="tab:blue", alpha=0.8, zorder=2)
    ax.scatter(pts[neg, 0], pts[neg, 1], s=area[neg], c="tab:red", alpha=0.6, zorder=2)
    ax.scatter([cert.belief[0]], [cert.belief[1]], s=200, marker="*", c="gold",
               edgecolors="black", zorder=4)
    # The view is V, widened to the atom where the belief lies outside V (its arcs are drawn).
    lo = np.minimum(cert.value_low, cert.belief)
    hi = np.maximum(cert.value_high, cert.belief)
    pad = np.where(np.any(lo < cert.value_low) | np.any(hi > cert.value_high),
                   0.03 * (hi - lo), 0.0)
    ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
    ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
    ax.set_aspect("equal")
    ax.set_xlabel("value of good 1")
    ax.set_ylabel("value of good 2")
    title = f"{cert.kind} {cert.structure}, bound {cert.cost:.6g}"
    if left_out:
        title += f" ({left_out} lightest arcs not drawn)"
    ax.set_title(title)
    handles = [Line2D([], [], ls="", marker="o", color="tab:blue", label="ν⁺ (vertices)"),
               Line2D([], [], ls="", marker="o", color="tab:red", label="ν⁻ (barycentres)"),
               Line2D([], [], ls="", marker="*", color="gold", markeredgecolor="black",
                      markersize=12, label="atom at c"),
               Line2D([], [], color="0.1", label="plan (width ~ √mass)")]
    ax.legend(handles=handles, loc="upper right", fontsize="small", framealpha=0.9)
    save_figure(fig or ax.figure, out)
    return ax
