r"""OTDual: certified upper bounds from the transport dual, with POT.

After the conservative placement of the profit measure on a grid
(:func:`amm_opt.discretisation.discretize`), every feasible utility :math:`u` satisfies

.. math::

    \Pi(u) \;\le\; \sum_p m_p u(p) \;\le\;
    \min_{\pi \in \Gamma(\nu^+ + \delta_c,\; \nu^-)} \sum_{x, y} \pi_{xy}\, d(x, y),

because :math:`u(x) - u(y) \le d(x, y)` on every arc of a plan (:math:`d = \sigma_X(x - y)`, free
from the atom at :math:`c`, or the radial cost). Any feasible plan's cost is therefore a bound;
the one reported is recomputed from the plan by
:class:`~amm_opt.certificates.transport.TransportCertificate`. Which moves are free, and why, is
in ``docs/math/transport.md``. The belief :math:`c` may lie outside the value box: the costs,
the free atom and :math:`\bar u` hold for any :math:`c`, and the atom is then one more point,
off the grid (same page, "Beliefs outside V").

References
----------
Curry, Fan, Parkes, "Optimal Automated Market Makers: Differentiable Economics and Strong
Duality", arXiv 2402.09129; Daskalakis, Deckelbaum, Tzamos, "Strong Duality for a
Multiple-Good Monopolist", Econometrica 2017; Flamary et al., "POT: Python Optimal Transport",
JMLR 2021.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...certificates.transport import COST_KINDS
from ...discretisation import discretize
from ...errors import OptionError, ResourceLimitError, UnsupportedProblemError
from ...limits import memory_limit, require_memory
from ...options import Choice, Grid, Integer, Real, Rule, grid_cells, grid_points
from ...problem import Problem
from ...result import Bounds, Result, Status
from ..base import Solver
from ..checks import require_finite_measure
from .flow import FLOW_SOLVERS, flow_is_exact
from .pot import PlanOutcome

__all__ = ["OTDual"]

# Worse statuses first: the overall status of several ground costs is the worst one.
_STATUS_ORDER = (Status.FAILED, Status.INFEASIBLE, Status.ITERATION_LIMIT, Status.TIME_LIMIT,
                 Status.INACCURATE, Status.OPTIMAL)


def _reprice_radial(outcomes: list[PlanOutcome]) -> None:
    """Radial costs are pointwise below transport costs, so the transport plan is also a radial
    plan; use it where it proves more (the flow's radial optimum can lose to it by round-off, or
    for real when ray arcs are missing)."""
    by_kind = {o.kind: o for o in outcomes}
    radial, transport = by_kind.get("radial"), by_kind.get("transport")
    if radial is None or transport is None or transport.certificate is None:
        return
    candidate = transport.certificate.repriced("radial")
    if radial.certificate is None or candidate.cost < radial.certificate.cost:
        radial.certificate = candidate
        radial.info["repriced_transport_plan"] = True


@dataclass(frozen=True)
class OTDual(Solver):
    r"""Certified upper bounds and transport plans from the transport dual (no menu).

    .. math::

        \overline{\Pi} = \min_{f \ge 0,\; \text{net outflow} = m}
        \sum_{e = (x \to y)} f_e\, d_{kind}(x, y) \;\ge\; \max_{u \in U} \int u\,d\mu

    Parameters
    ----------
    grid : int, sequence of int, or sequence of arrays
        Cells per axis (or per good), or breakpoints per good (see
        :func:`amm_opt.discretisation.discretize`). The bound converges like O(h) as the grid
        refines.
    costs : str or sequence of str
        Ground costs to compute, from ``"transport"``, ``"radial"`` and ``"w1"`` (plain W1
        without the free atom: a loose sanity number). ``bounds.upper`` is the smallest
        certified one; all are in ``stats["transport_bounds"]``.
    method : {"auto", "flow", "dense"}
        ``"flow"``: min-cost flow on the grid graph (O(grid) memory; for ``"transport"`` on a
        box equal to the dense optimum, see :mod:`amm_opt.solvers.ot_dual.flow`). ``"dense"``:
        ``ot.emd`` on the (sources × sinks) cost matrix; its plan goes straight from sources to
        sinks, which is what the paper draws. ``"auto"`` picks the flow for a box, which was
        faster at every grid measured (BENCHMARKS.md). For a polytope allocation set the flow's
        lattice paths (axis and diagonal steps) can only overpay :math:`\sigma_X`: a valid but
        possibly looser bound. ``"auto"`` keeps the flow where its distances are provably exact
        (:func:`~amm_opt.solvers.ot_dual.flow.flow_is_exact`: two goods, every ray of the
        normal fan of :math:`X` a lattice step, as for unit demand, pure swaps and unit-weight
        budgets on a square grid) and otherwise picks the exact dense solver when its cost
        matrix fits ``max_dense_entries`` and memory, the flow when it does not.
    flow_solver : {"network_simplex", "highs"}
        POT's sparse network simplex (default, faster) or HiGHS on the arc LP.
    num_iter_max : int
        Network-simplex iteration limit; reaching it gives ``Status.ITERATION_LIMIT`` and no
        bound.
    max_dense_entries : int
        Largest cost matrix ``method="dense"`` builds (8 bytes each; POT needs about three
        times that in total).
    marginal_tol : float
        Marginal residual (relative to the positive mass) above which the result is marked
        ``INACCURATE``; the residual is charged in the bound in any case.
    max_points : int
        Largest discretisation (grid vertices plus cells) accepted; larger grids are refused
        before anything is built (:class:`~amm_opt.errors.ResourceLimitError`).
    time_limit : float or None
        Seconds for the whole run. A transport solve still running at the limit is stopped
        (the network simplex runs in a child process when a limit is set) and gives no bound;
        the result then has ``Status.TIME_LIMIT`` with the bounds of the costs that finished.

    Examples
    --------
    >>> from amm_opt import references, solve
    >>> problem, _, best = references.r2_two_goods(0.0)
    >>> res = solve(problem, backend="ot_dual", grid=16, costs="transport")
    >>> round(res.bounds.upper, 6), round(best, 6)
    (0.296875, 0.274601)
    >>> cert = res.certificate          # the flow that proves it
    >>> cert.kind, cert.structure, cert.cost == res.bounds.upper
    ('transport', 'flow', True)
    """

    grid: Any = 64
    costs: Any = ("transport", "radial")
    method: str = "auto"
    flow_solver: str = "network_simplex"
    num_iter_max: int = 100_000_000
    max_dense_entries: int = 200_000_000
    marginal_tol: float = 1e-9
    max_points: int = 1_000_000
    time_limit: float | None = None

    name: ClassVar[str] = "ot_dual"
    description: ClassVar[str] = "transport-dual certified upper bounds and plans (POT)"
    linear_update_only: ClassVar[str | None] = ("the transport dual is derived for the linear "
                                                 "update")
    requires: ClassVar[tuple[str, ...]] = ("ot",)
    extra: ClassVar[str | None] = "ot"
    provides_menu: ClassVar[bool] = False
    provides_upper: ClassVar[bool] = True
    needs_density: ClassVar[bool] = True
    # sigma_X of a polytope is a vertex maximum (certificates.transport.pair_costs); every
    # transport move stays valid for any convex X.
    supports_polytope_allocation: ClassVar[bool] = True
    # A belief outside V: every arc cost, the free atom and u_bar hold for any c in R^n
    # (docs/math/transport.md, "Beliefs outside V").
    supports_belief_outside_values: ClassVar[bool] = True

    option_rules: ClassVar[dict[str, Rule]] = {
        "grid": Grid(optional=False), "method": Choice(("auto", "flow", "dense")),
        "flow_solver": Choice(FLOW_SOLVERS), "num_iter_max": Integer(1, example="100_000_000"),
        "max_dense_entries": Integer(1), "marginal_tol": Real(0, open_low=True, example="1e-9"),
        "max_points": Integer(2), "time_limit": Real(0, open_low=True, optional=True),
    }

    def __post_init__(self) -> None:
        costs = (self.costs,) if isinstance(self.costs, str) else self.costs
        try:
            costs = tuple(costs)
        except TypeError:
            raise OptionError("is not a ground cost or a list of them", field="costs",
                              value=self.costs, allowed=", ".join(COST_KINDS)) from None
        bad = [c for c in costs if c not in COST_KINDS]
        if not costs or bad:
            raise OptionError("names an unknown ground cost" if bad else "is empty",
                              field="costs", value=self.costs,
                              allowed="one or more of " + ", ".join(COST_KINDS))
        object.__setattr__(self, "costs", tuple(dict.fromkeys(costs)))
        super().__post_init__()

    # ------------------------------------------------------------------ solving
    def check_problem(self, problem: Problem) -> None:
        super().check_problem(problem)
        cells = grid_cells(self.grid, problem.goods)
        vertices, count = grid_points(cells)
        points = vertices + count + 1
        if points > self.max_points:
            raise ResourceLimitError(
                f"a grid of {cells if len(cells) <= 4 else f'{cells[0]}^{len(cells)}'} cells "
                f"has {points:.4g} points, above max_points = {self.max_points}", field="grid",
                value=self.grid, allowed=f"a coarser grid (fewer goods), or max_points >= "
                                         f"{points}")
        # Grid-flow arcs: 2n per vertex (3^n - 1 for a polytope: diagonal neighbours too),
        # 2^n + 1 per cell; each arc's cost, ends and flow, and POT's copies of them.
        n = min(problem.goods, 60)
        per_vertex = 2 * n if problem.allocation_is_box else 3 ** n - 1
        arcs = per_vertex * vertices + (2 ** n + 1) * count
        require_memory(8.0 * 12 * arcs, f"the transport problem on {points:.4g} points",
                       "grid", "a coarser grid")

    def _choose_method(self, gm: Any, problem: Problem) -> str:
        from .dense import dense_size

        if self.method == "auto" and not flow_is_exact(problem, gm):
            sources, sinks = dense_size(gm)
            # On a polytope whose normal fan the lattice steps miss, the flow can only overpay
            # sigma_X (flow.py): the exact dense plan when it fits, the valid but looser flow
            # otherwise.
            fits = (sources * sinks <= self.max_dense_entries
                    and 3 * 8.0 * sources * sinks <= memory_limit())
            return "dense" if fits else "flow"
        if self.method == "dense":
            sources, sinks = dense_size(gm)
            if sources * sinks > self.max_dense_entries:
                raise UnsupportedProblemError(
                    f"method='dense' needs a {sources} x {sinks} cost matrix "
                    f"({sources * sinks * 8 / 2**30:.1f} GiB, about 3x that in total)",
                    field="grid", value=self.grid,
                    allowed="method='flow' (O(grid) memory), a coarser grid, or a larger "
                            "max_dense_entries")
            # The cost matrix, the plan and POT's copies: about three dense matrices.
            require_memory(3 * 8.0 * sources * sinks,
                           f"method='dense' ({sources} x {sinks} cost matrix)", "grid",
                           "method='flow' (O(grid) memory) or a coarser grid")
            return "dense"
        return "flow"

    def _solve_one(self, problem: Problem, gm: Any, kind: str, method: str,
                   deadline: float) -> PlanOutcome:
        if method == "dense":
            from .dense import solve_dense

            return solve_dense(problem, gm, kind, self.num_iter_max, deadline)
        from .flow import solve_flow

        return solve_flow(problem, gm, kind, self.num_iter_max, self.flow_solver, deadline)

    def compute(self, problem: Problem) -> Result:
        start = time.perf_counter()
        deadline = math.inf if self.time_limit is None else start + float(self.time_limit)
        gm = discretize(problem, self.grid)
        require_finite_measure(gm.point_masses()[1], gm.quadrature_error, problem)
        discretize_seconds = time.perf_counter() - start
        method = self._choose_method(gm, problem)
        outcomes = [self._solve_one(problem, gm, kind, method, deadline) for kind in self.costs]
        _reprice_radial(outcomes)

        per_kind: dict[str, Any] = {}
        bounds: dict[str, float] = {}
        statuses = []
        for out in outcomes:
            status = out.status
            cert = out.certificate
            if cert is not None:
                positive = float(np.maximum(cert.masses, 0.0).sum())
                # The deliberate rebalancing shift (see run_pot_emd) is not solver inaccuracy.
                allowed = self.marginal_tol * max(positive, 1.0) + out.info.get(
                    "rebalance_shift", 0.0)
                if cert.imbalance > allowed:
                    status = Status.INACCURATE
                bounds[out.kind] = cert.cost
            statuses.append(status)
            per_kind[out.kind] = {
                "status": status.value, "method": out.method, "seconds": out.seconds,
                "solver_message": out.message, "solver_cost": out.solver_cost,
                "certificate": None if cert is None else cert.summary(), **out.info}
        certified = [o for o in outcomes if o.certificate is not None]
        best = min(certified, key=lambda o: o.certificate.cost) if certified else None
        status = min(statuses, key=_STATUS_ORDER.index)
        stats: dict[str, Any] = {
            "discretize_seconds": discretize_seconds,
            "settings": self.settings(),
            "grid_shape": list(gm.shape),
            "method": method,
            "transport_bounds": bounds,
            "per_cost": per_kind,
            "quadrature_error": gm.quadrature_error,
            "certificates": {o.kind: o.certificate for o in certified},
        }
        upper = None if best is None else best.certificate.cost
        shape = "x".join(str(s) for s in gm.shape)
        upper_method = "" if best is None else (
            f"transport dual, {best.kind} cost, {shape} grid, {best.certificate.method}")
        return Result(menu=None, profit=None,
                      bounds=Bounds(upper=upper, upper_method=upper_method),
                      status=status, backend=self.name,
                      message="; ".join(f"{o.kind}: {o.message}" for o in outcomes),
                      certificate=None if best is None else best.certificate, stats=stats)
