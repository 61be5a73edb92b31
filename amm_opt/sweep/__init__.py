"""Parameter sweeps: many solves on local processes or a Dask cluster, in a resumable store.

:func:`sweep` solves a problem at every point of a grid of parameters and stores each point in
an SQLite file (:class:`SweepStore`) the moment it finishes; running the same sweep again
computes only the points not stored yet. See ``docs/sweeps.md``.
"""

from .points import point_key, point_problem, sweep_points
from .run import sweep
from .store import SweepStore, menu_from_text

__all__ = ["SweepStore", "menu_from_text", "point_key", "point_problem", "sweep",
           "sweep_points"]
