"""``amm-opt amortise``: train a menu family, print its certified accuracy map, print a menu.

``add_parser(subparsers)`` adds the ``amortise`` command (with ``train``, ``map`` and ``menu``)
to an :mod:`argparse` sub-parser collection and returns its parser; ``run(args)`` executes a
parsed command line and returns the exit code. Errors are :class:`~amm_opt.errors.AmmOptError`
subclasses, which ``amm-opt``'s ``main`` turns into one-line messages.

Examples::

    amm-opt amortise train --goods 2 --values uniform:0:1 --belief 0.25,0.75 \\
        --adverse-selection 0,0.6 --time-limit 570 --out family.json
    amm-opt amortise map family.json --points 25 --table map.md --heatmap map.png
    amm-opt amortise menu family.json --belief 0.5,0.4 --adverse-selection 0.2
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np

from ..distributions import Beta, Distribution, Uniform
from ..errors import OptionError, ProblemError
from ..paths import check_output_path, write_atomic
from .accuracy import accuracy_map, grid_parameters, heldout_parameters
from .files import load_family, save_family
from .spec import FamilySpec
from .trainer import AmortisedTrainer

__all__ = ["add_parser", "run"]

_VALUES = "uniform[:low:high] or beta:a:b[:low:high] (the same law for every good)"


def _numbers(text: str, flag: str, allowed: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",")]
    except ValueError:
        raise ProblemError("must be comma-separated numbers", field=flag, value=text,
                           allowed=allowed) from None


def _values(text: str) -> Distribution:
    kind, _, rest = text.partition(":")
    try:
        params = [float(t) for t in rest.split(":")] if rest else []
    except ValueError:
        raise ProblemError("has a parameter that is not a number", field="--values",
                           value=text, allowed=_VALUES) from None
    if kind.lower() == "uniform" and len(params) in (0, 2):
        return Uniform(*params)
    if kind.lower() == "beta" and len(params) in (2, 4):
        return Beta(*params)
    raise ProblemError("is not a value law this command knows", field="--values", value=text,
                       allowed=_VALUES)


def _belief(text: str) -> Any:
    allowed = "low,high for every good, or per-good pairs 'l1,h1;l2,h2'"
    pairs = [_numbers(part, "--belief", allowed) for part in text.split(";")]
    if any(len(p) != 2 for p in pairs):
        raise ProblemError("must be pairs low,high", field="--belief", value=text,
                           allowed=allowed)
    return pairs[0] if len(pairs) == 1 else pairs


def _ints(text: str, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise OptionError("must be comma-separated integers", field=flag, value=text,
                          allowed="e.g. 128,128") from None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``amortise`` (``train``, ``map``, ``menu``) to ``subparsers``; returns its parser."""
    p = subparsers.add_parser("amortise", help="menus for a whole family of beliefs and "
                                               "adverse-selection levels from one network",
                              description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="amortise_command", required=True, metavar="ACTION")
    t = sub.add_parser("train", help="train a menu family and save it")
    t.add_argument("--goods", type=int, default=2)
    t.add_argument("--values", default="uniform", help=_VALUES)
    t.add_argument("--belief", required=True, help="range low,high (or 'l1,h1;l2,h2')")
    t.add_argument("--adverse-selection", default="0,0", help="range low,high in [0, 1)")
    t.add_argument("--allocation", default="-1,1", help="allocation box low,high")
    t.add_argument("--items", type=int, default=64)
    t.add_argument("--hidden", default="128,128")
    t.add_argument("--steps", type=int, default=6000)
    t.add_argument("--batch-size", type=int, default=4096)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto")
    t.add_argument("--threads", type=int, default=1)
    t.add_argument("--time-limit", type=float, default=None)
    t.add_argument("--checkpoint", default=None, help="checkpoint file (resumable)")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    t.add_argument("--out", required=True, help="family JSON (weights written beside it)")
    m = sub.add_parser("map", help="certified accuracy map: exact profit of the family's menu "
                                   "against grid_lp's certified upper bound")
    m.add_argument("family")
    m.add_argument("--points", type=int, default=25, help="held-out Latin-hypercube points")
    m.add_argument("--seed", type=int, default=2024)
    m.add_argument("--grid-axes", default=None,
                   help="a grid instead: two parameter indices, e.g. 0,2 (-1 is lambda)")
    m.add_argument("--shape", default="5,5", help="grid shape with --grid-axes")
    m.add_argument("--grid", type=int, default=128, help="grid_lp cells per axis")
    m.add_argument("--table", default=None, help="write the Markdown table here")
    m.add_argument("--json", default=None, help="write the map as JSON here")
    m.add_argument("--heatmap", default=None, help="write the heatmap (.png/.svg/.pdf) here")
    u = sub.add_parser("menu", help="print the family's menu at one belief and lambda")
    u.add_argument("family")
    u.add_argument("--belief", required=True, help="c_1,...,c_n")
    u.add_argument("--adverse-selection", type=float, required=True)
    u.add_argument("--out", default=None, help="write the menu as JSON (amm_opt.io)")
    return p


def _train(args: argparse.Namespace) -> int:
    alloc = _numbers(args.allocation, "--allocation", "low,high")
    spec = FamilySpec(args.goods, _values(args.values), belief=_belief(args.belief),
                      adverse_selection=_numbers(args.adverse_selection,
                                                 "--adverse-selection", "low,high in [0, 1)"),
                      allocation=alloc)
    check_output_path(args.out, "--out", suffixes=(".json",))
    trainer = AmortisedTrainer(items=args.items, hidden=_ints(args.hidden, "--hidden"),
                               steps=args.steps, batch_size=args.batch_size, seed=args.seed,
                               device=args.device, threads=args.threads,
                               time_limit=args.time_limit, checkpoint_path=args.checkpoint,
                               resume=args.resume)
    family = trainer.train(spec)
    save_family(family, args.out)
    info = family.info
    print(f"trained {info['steps_run']} steps in {info['train_seconds']:.1f} s "
          f"({info['stop_reason']}); family written to {args.out}", file=sys.stderr)
    return 0


def _map(args: argparse.Namespace) -> int:
    for path, flag, suffixes in ((args.table, "--table", None), (args.json, "--json",
                                                                 (".json",))):
        if path is not None:
            check_output_path(path, flag, suffixes=suffixes)
    family = load_family(args.family)
    if args.grid_axes is not None:
        axes = _ints(args.grid_axes, "--grid-axes")
        shape = _ints(args.shape, "--shape")
        points = grid_parameters(family.spec, axes, shape)  # type: ignore[arg-type]
        amap = accuracy_map(family, points, upper_options={"grid": args.grid},
                            grid_shape=shape, axes=tuple(a % family.spec.dim for a in axes))
    else:
        points = heldout_parameters(family.spec, args.points, args.seed)
        amap = accuracy_map(family, points, upper_options={"grid": args.grid})
    table = amap.table()
    print(table)
    if args.table is not None:
        write_atomic(args.table, (table + "\n").encode(), field="--table")
    if args.json is not None:
        write_atomic(args.json, (json.dumps(amap.to_dict(), indent=1) + "\n").encode(),
                     field="--json")
    if args.heatmap is not None:
        from .heatmap import plot_accuracy_map

        plot_accuracy_map(amap, args.heatmap)
    return 0


def _menu(args: argparse.Namespace) -> int:
    family = load_family(args.family)
    belief = np.array(_numbers(args.belief, "--belief", "c_1,...,c_n"))
    menu = family.menu(belief, args.adverse_selection)
    if args.out is not None:
        from ..io import save_menu

        save_menu(menu, args.out)
    print(menu.table())
    return 0


def run(args: argparse.Namespace) -> int:
    """Execute ``amm-opt amortise ...``; returns the exit code."""
    action = {"train": _train, "map": _map, "menu": _menu}[args.amortise_command]
    return action(args)
