r"""Menus: finite lists of trades and prices, always with the no-trade option.

A trader of type ``v`` gets utility :math:`v \cdot x_k - p_k` from item ``k`` and picks

.. math::

    k^*(v) \in \arg\max_k \; v \cdot x_k - p_k ,

ties broken in favour of the market maker (highest profit :math:`p_k - x_k \cdot c'(v)`), then of
the lowest index, so the choice is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import MenuError, OptionError
from .parameters import points_array

if TYPE_CHECKING:
    from .problem import Problem

__all__ = ["Menu", "require_problem_and_menu"]

FloatArray = NDArray[np.float64]

# "Item k ties with the best item j at v" when u_k(v) >= u_j(v) - tol with
# tol = _TIE_RTOL * (1 + |v|.|x_k| + |p_k| + |v|.|x_j| + |p_j|): the round-off of each utility is
# a few ulps of the size of its own terms, so the tolerance scales with the two items compared
# and not with the largest price on the menu (an unaffordable item priced at 1e15 would otherwise
# make every item "tie"). 1e-12 of that size is far above round-off and far below any
# economically meaningful difference.
_TIE_RTOL = 1e-12
# Elements per (rows x items) work array in ``choose`` and ``utility``: 2^21 float64 values are
# 16 MiB, and ``choose`` holds about six such arrays at once.
_CHUNK_ELEMENTS = 1 << 21


def _rows_per_block(items: int) -> int:
    return max(1, _CHUNK_ELEMENTS // max(1, items))


@dataclass(frozen=True, eq=False)
class Menu:
    r"""A menu of trades ``allocations[k]`` at ``prices[k]``, plus no-trade ``(0, 0)``.

    Parameters
    ----------
    allocations : array of shape (K, goods)
        Trade vectors; ``x_i > 0`` the trader buys good ``i``, ``x_i < 0`` sells.
    prices : array of shape (K,)
        What the trader pays for each trade (negative: the trader is paid).

    Notes
    -----
    If no item is exactly ``(0, 0)``, one is appended; :attr:`no_trade_index` says where it is.

    Examples
    --------
    >>> from amm_opt import Menu
    >>> m = Menu([[1.0], [-1.0]], [0.75, -0.25])
    >>> m.size, m.no_trade_index
    (3, 2)
    >>> m.choose([[0.9], [0.5], [0.1]]).tolist()
    [0, 2, 1]
    """

    allocations: ArrayLike
    prices: ArrayLike
    no_trade_index: int = field(init=False)

    def __post_init__(self) -> None:
        try:
            x = np.array(self.allocations, dtype=np.float64)
            p = np.array(self.prices, dtype=np.float64)
        except (TypeError, ValueError):
            raise MenuError("allocations and prices must be numeric arrays", field="menu",
                            value=(self.allocations, self.prices),
                            allowed="allocations (K, goods), prices (K,)") from None
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] == 0:
            raise MenuError("must be 2-D", field="allocations", value=x.shape,
                            allowed="shape (K, goods)")
        if p.ndim != 1 or p.shape[0] != x.shape[0]:
            raise MenuError(f"has shape {p.shape} for {x.shape[0]} allocations", field="prices",
                            value=p.shape, allowed=f"shape ({x.shape[0]},)")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(p))):
            raise MenuError("contains NaN or inf", field="menu", value="array",
                            allowed="finite allocations and prices")
        zero = np.flatnonzero(np.all(x == 0.0, axis=1) & (p == 0.0))
        if zero.size:
            index = int(zero[0])
        else:
            x = np.vstack([x, np.zeros((1, x.shape[1]))])
            p = np.append(p, 0.0)
            index = x.shape[0] - 1
        x.setflags(write=False)
        p.setflags(write=False)
        object.__setattr__(self, "allocations", x)
        object.__setattr__(self, "prices", p)
        object.__setattr__(self, "no_trade_index", index)

    # ------------------------------------------------------------------ basic properties
    @property
    def goods(self) -> int:
        return int(self.allocations.shape[1])  # type: ignore[union-attr]

    @property
    def size(self) -> int:
        """Number of items, no-trade included."""
        return int(self.allocations.shape[0])  # type: ignore[union-attr]

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[FloatArray, float]]:
        for k in range(self.size):
            yield self.allocations[k], float(self.prices[k])  # type: ignore[index]

    def __repr__(self) -> str:
        return f"Menu(<{self.size} items, {self.goods} goods>)"

    # ------------------------------------------------------------------ trader behaviour
    def _points(self, v: ArrayLike) -> FloatArray:
        return points_array(v, self.goods, MenuError)

    def utilities(self, v: ArrayLike) -> FloatArray:
        """Utility of every item for every type, shape (m, K)."""
        v = self._points(v)
        return v @ np.asarray(self.allocations).T - np.asarray(self.prices)

    def utility(self, v: ArrayLike) -> FloatArray:
        r"""Trader utility :math:`u(v) = \max_k v \cdot x_k - p_k`, shape (m,)."""
        v = self._points(v)
        out = np.empty(v.shape[0])
        step = _rows_per_block(self.size)
        for s in range(0, v.shape[0], step):
            out[s:s + step] = self.utilities(v[s:s + step]).max(axis=1)
        return out

    def choose(self, v: ArrayLike, problem: Problem | None = None) -> NDArray[np.intp]:
        """Index of the chosen item for each type ``v`` (shape (m, goods)) → (m,).

        Items within a relative 1e-12 of the best utility (relative to the size of the two
        utilities' terms) tie; ties go to the item with the highest market-maker profit under
        ``problem``'s posterior (if given), then to the lowest index. Works in blocks of rows so
        that the (rows x items) arrays stay bounded in memory.
        """
        v = self._points(v)
        out = np.empty(v.shape[0], dtype=np.intp)
        x = np.asarray(self.allocations)
        p = np.asarray(self.prices)
        absx, absp = np.abs(x), np.abs(p)
        step = _rows_per_block(self.size)
        for s in range(0, v.shape[0], step):
            block = v[s:s + step]
            util = block @ x.T - p
            size = np.abs(block) @ absx.T + absp                       # terms of each utility
            best = util.argmax(axis=1)
            rows = np.arange(len(block))
            tol = _TIE_RTOL * (1.0 + size + size[rows, best][:, None])
            tied = util >= util[rows, best][:, None] - tol
            if problem is None:
                out[s:s + step] = np.argmax(tied, axis=1)             # lowest tied index
                continue
            profit = p[None, :] - problem.posterior(block) @ x.T
            score = np.where(tied, profit, -np.inf)
            out[s:s + step] = np.argmax(score, axis=1)  # argmax picks the lowest index on ties
        return out

    # ------------------------------------------------------------------ checks and edits
    def check_fits(self, problem: Problem, atol: float = 1e-9) -> None:
        """Raise :class:`MenuError` if the menu's goods or allocations do not fit ``problem``."""
        if self.goods != problem.goods:
            raise MenuError(f"has {self.goods} goods but the problem has {problem.goods}",
                            field="menu", value=self.goods, allowed=f"{problem.goods} goods")
        x = np.asarray(self.allocations)
        if not problem.allocation_is_box:
            scale = max(1.0, float(np.abs(problem.allocation_high - problem.allocation_low).max()))
            bad = np.flatnonzero(~problem.allocation_contains(x, atol * scale))
            if bad.size:
                raise MenuError(
                    f"{bad.size} items lie outside the allocation set (first: item {bad[0]} = "
                    f"{x[bad[0]].tolist()})", field="allocations", value=x[bad[0]].tolist(),
                    allowed=f"trades in the polytope {problem.allocation.name!r} "
                            "(convex combinations of its vertices)")
            return
        low = problem.allocation_low - atol
        high = problem.allocation_high + atol
        bad = np.flatnonzero(np.any((x < low) | (x > high), axis=1))
        if bad.size:
            raise MenuError(
                f"{bad.size} items lie outside the allocation box (first: item {bad[0]} = "
                f"{x[bad[0]].tolist()})", field="allocations", value=x[bad[0]].tolist(),
                allowed=f"low {problem.allocation_low.tolist()} <= x <= "
                        f"high {problem.allocation_high.tolist()}")

    def subset(self, keep: ArrayLike) -> Menu:
        """Menu with only the items selected by the boolean mask or index array ``keep``."""
        idx = np.asarray(keep)
        if idx.dtype == bool:
            if idx.shape != (self.size,):
                raise MenuError("a boolean mask needs one entry per item", field="keep",
                                value=idx.shape, allowed=f"shape ({self.size},)")
            idx = np.flatnonzero(idx)
        if idx.size and (idx.dtype.kind not in "iu" or idx.ndim != 1
                         or idx.min() < -self.size or idx.max() >= self.size):
            raise MenuError("must be item indices or a boolean mask", field="keep",
                            value=keep if idx.size <= 10 else f"{idx.size} entries",
                            allowed=f"integers in 0..{self.size - 1} or {self.size} booleans")
        return Menu(np.asarray(self.allocations)[idx], np.asarray(self.prices)[idx])

    def to_dict(self) -> dict[str, Any]:
        return {"allocations": np.asarray(self.allocations).tolist(),
                "prices": np.asarray(self.prices).tolist()}

    def table(self, probability: ArrayLike | None = None, profit: ArrayLike | None = None,
              precision: int = 4) -> str:
        """Human-readable table of the items (optionally with choice probability and profit)."""
        x = np.asarray(self.allocations)
        p = np.asarray(self.prices)
        head = ["#", "trade (x)", "price"]
        if probability is not None:
            head.append("P(chosen)")
        if profit is not None:
            head.append("profit share")
        rows = []
        for k in range(self.size):
            trade = "(" + ", ".join(f"{xi:+.{precision}g}" for xi in x[k]) + ")"
            row = [str(k), trade + (" no trade" if k == self.no_trade_index else ""),
                   f"{p[k]:+.{precision}f}"]
            if probability is not None:
                row.append(f"{float(np.asarray(probability)[k]):.{precision}f}")
            if profit is not None:
                row.append(f"{float(np.asarray(profit)[k]):+.{precision}f}")
            rows.append(row)
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
        return "\n".join(lines)


def require_problem_and_menu(problem: Any, menu: Any) -> None:
    """Raise :class:`OptionError` unless ``problem`` is a Problem and ``menu`` a Menu."""
    from .problem import Problem

    if not isinstance(problem, Problem):
        raise OptionError("must be a Problem", field="problem", value=problem,
                          allowed="amm_opt.Problem(...)")
    if not isinstance(menu, Menu):
        raise OptionError("must be a Menu", field="menu", value=menu,
                          allowed="amm_opt.Menu(allocations, prices) or result.menu")
