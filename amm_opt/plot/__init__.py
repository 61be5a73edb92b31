"""Pictures of menus and bounds (matplotlib, imported only when a function draws).

* :func:`plot_regions` — who chooses what on a two-good value box;
* :func:`plot_slices` — the same on 2-D slices of a three-good box;
* :func:`plot_profit_curve` — profit and certified brackets against a parameter (e.g. λ);
* :func:`plot_transport` — the transport plan behind an ``ot_dual`` bound.
"""

from .curves import plot_profit_curve
from .regions import plot_regions, plot_slices, trade_colours
from .transport import plot_transport

__all__ = ["plot_profit_curve", "plot_regions", "plot_slices", "plot_transport",
           "trade_colours"]
