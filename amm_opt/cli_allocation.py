"""The ``--allocation`` flag of the command line: a box, a named polytope or a vertices file.

Accepted forms (``GOODS`` comes from ``--goods``):

* ``LOW,HIGH``: the box :math:`[LOW, HIGH]^n` (write ``--allocation=-1,1``);
* ``unit_demand`` or ``unit_demand:UNITS``: :math:`\\{x \\ge 0, \\sum x \\le UNITS\\}`;
* ``pure_swap`` or ``pure_swap:GIVE,GET``: swap good ``GIVE`` for good ``GET`` (default 1, 0);
* ``budget:B``: the default box (``[-1, 1]`` or ``[0, 1]`` with ``--selling-only``) cut by
  :math:`\\sum x \\le B`;
* ``vertices:FILE``: the convex hull of the rows of a ``.npy`` or ``.csv`` file (one vertex
  per row, relative to the working folder).
"""

from __future__ import annotations

from typing import Any

from .allocation import Polytope
from .errors import AmmOptError, ProblemError

__all__ = ["ALLOCATION_HELP", "parse_allocation"]

ALLOCATION_HELP = ("allocation set: LOW,HIGH (a box per good, write --allocation=-1,1; default "
                   "-1,1), unit_demand[:UNITS], pure_swap[:GIVE,GET], budget:B (the default box "
                   "with sum x <= B) or vertices:FILE (.npy/.csv, one vertex per row)")
_ALLOWED = "e.g. --allocation=-1,1, unit_demand, pure_swap:1,0, budget:1, vertices:v.csv"


def _floats(text: str, what: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ProblemError(f"{what} must be numbers separated by commas", field="--allocation",
                           value=text, allowed=_ALLOWED) from None


def parse_allocation(text: str, goods: int, box: tuple[float, float]) -> Any:
    """The ``allocation=`` argument of :class:`~amm_opt.Problem` for the flag's ``text``;
    ``box`` is the default box (for ``budget:B``). Errors name ``--allocation``."""
    kind, _, arg = text.strip().partition(":")
    try:
        if kind == "unit_demand":
            return Polytope.unit_demand(goods, *(_floats(arg, "UNITS")[:1] if arg else []))
        if kind == "pure_swap":
            pair = [int(v) for v in _floats(arg, "GIVE,GET")] if arg else [1, 0]
            if len(pair) != 2:
                raise ProblemError("needs two goods GIVE,GET", field="--allocation",
                                   value=text, allowed="e.g. pure_swap:1,0")
            return Polytope.pure_swap(goods, give=pair[0], get=pair[1])
        if kind == "budget":
            budget = _floats(arg, "B")
            if len(budget) != 1:
                raise ProblemError("needs one budget B", field="--allocation", value=text,
                                   allowed="e.g. budget:1")
            return Polytope.budget([box[0]] * goods, [box[1]] * goods, budget[0])
        if kind == "vertices":
            from .io import read_samples

            return Polytope.from_vertices(read_samples(arg, "--allocation vertices:FILE"))
    except ProblemError as exc:
        if exc.field == "--allocation":
            raise
        raise ProblemError(str(exc), field="--allocation") from None
    except AmmOptError as exc:          # the vertices file: missing, unreadable, malformed
        raise ProblemError(str(exc), field="--allocation") from None
    low_high = _floats(text, "LOW,HIGH")
    if len(low_high) != 2:
        raise ProblemError("must be two numbers LOW,HIGH or a named set", field="--allocation",
                           value=text, allowed=_ALLOWED)
    return tuple(low_high)
