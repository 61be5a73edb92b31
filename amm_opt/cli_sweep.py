"""``amm-opt sweep`` and ``amm-opt sweep-plot`` (registered by :mod:`amm_opt.cli`).

::

    amm-opt sweep --paper --adverse-selection 0:0.9:10 --backend grid_lp --set grid=32 \\
        --store runs/lambda.sqlite
    amm-opt sweep --paper --param 'belief[0]=0:1:20' --param 'belief[1]=0:1:20' \\
        --backend separate --store runs/c.sqlite --scheduler local:2
    amm-opt sweep-plot runs/lambda.sqlite --kind curve --out lambda.png

A SPEC is ``START:STOP:COUNT`` (COUNT evenly spaced values, both ends included), a list
``A,B,C``, or one number. The base problem comes from ``--problem FILE``, ``--paper`` or
``--goods N`` with ``--values``; swept values replace its parameters. Exit codes: 0 every point
done, 1 some point failed (each is listed with its error), 2 bad input, 130 interrupted: the
points finished so far are stored and the same command resumes.

This module does not import :mod:`amm_opt.cli`; the command line passes it the two helpers it
shares (the problem from flags, ``--set`` parsing).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .errors import BackendUnavailableError, OptionError, ProblemError
from .sweep.points import check_point_count

__all__ = ["add_sweep_parser", "add_sweep_plot_parser", "parse_spec", "run_sweep",
           "run_sweep_plot"]

_SPEC = "START:STOP:COUNT, a list A,B,C, or one number"


def parse_spec(text: str, flag: str) -> list[float]:
    """Values of a SPEC (see the module docstring).

    Examples
    --------
    >>> parse_spec("0.2:0.8:4", "--belief")
    [0.2, 0.4, 0.6000000000000001, 0.8]
    >>> parse_spec("0,0.25", "--adverse-selection")
    [0.0, 0.25]
    """
    parts = text.split(":")
    try:
        if len(parts) == 3:
            start, stop = float(parts[0]), float(parts[1])
            count = float(parts[2])
            if not count.is_integer() or count < 1:
                raise ValueError
            check_point_count(int(count), flag)
            values = np.linspace(start, stop, int(count)).tolist()
        elif len(parts) == 1:
            values = [float(t) for t in text.split(",")]
        else:
            raise ValueError
    except ValueError:
        raise ProblemError("is not a range or list of numbers", field=flag, value=text,
                           allowed=_SPEC + " (COUNT a positive integer)") from None
    if not all(math.isfinite(v) for v in values):
        raise ProblemError("must be finite", field=flag, value=text, allowed=_SPEC)
    return values


def add_sweep_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``sweep`` subcommand's parser."""
    p = sub.add_parser("sweep", help="solve a problem over a grid of parameters, stored and "
                                     "resumable",
                       description="Solve the problem at every point of the Cartesian product "
                                   "of the swept values; each finished point is committed to "
                                   "the --store file, and running the same command again "
                                   "computes only the missing points.")
    group = p.add_argument_group("base problem (--problem, --paper, or --goods with flags)")
    group.add_argument("--problem", metavar="FILE", help="problem file (.json or .toml)")
    group.add_argument("--paper", action="store_true", help="the paper's two-good instance")
    group.add_argument("--goods", type=int, metavar="N", help="number of goods")
    group.add_argument("--values", metavar="SPEC", help="value distribution, as for "
                                                        "`amm-opt solve --values`")
    group.add_argument("--allocation", metavar="LOW,HIGH", help="allocation box per good "
                                                                "(write --allocation=-1,1)")
    group.add_argument("--selling-only", action="store_true", help="allocation [0,1], belief 0")
    axes = p.add_argument_group("swept parameters (SPEC: " + _SPEC + ")")
    axes.add_argument("--belief", metavar="SPEC", help="the belief of every good")
    axes.add_argument("--adverse-selection", metavar="SPEC", help="lambda, in [0, 1)")
    axes.add_argument("--param", action="append", default=[], metavar="NAME=SPEC",
                      help="any parameter, repeatable: belief[0], allocation[1], values.a, ...")
    run = p.add_argument_group("solving and storing")
    run.add_argument("--backend", default=None, help="engine name (default: automatic)")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="backend option, repeatable (e.g. --set grid=32)")
    run.add_argument("--store", metavar="FILE", help="SQLite store (.sqlite, .sqlite3 or .db; "
                                                     "created if missing); without it nothing "
                                                     "is kept")
    run.add_argument("--scheduler", metavar="ADDRESS|local:N|inline",
                     help="a Dask scheduler address, local:N for a local Dask cluster of N "
                          "single-threaded workers, or inline; default local processes")
    run.add_argument("--workers", type=int, metavar="N", help="local processes (default: CPUs)")
    run.add_argument("--retry-failed", action="store_true", help="run failed points again")
    run.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    run.add_argument("--parquet", metavar="FILE", help="also write the table as Parquet")
    run.add_argument("--progress", action="store_true", help="show a progress bar")
    return p


def _over(args: argparse.Namespace) -> dict[str, list[float]]:
    over: dict[str, list[float]] = {}
    if args.belief is not None:
        over["belief"] = parse_spec(args.belief, "--belief")
    if args.adverse_selection is not None:
        over["adverse_selection"] = parse_spec(args.adverse_selection, "--adverse-selection")
    for item in args.param:
        name, sep, spec = item.partition("=")
        if not sep or not name.strip():
            raise ProblemError("must look like NAME=SPEC", field="--param", value=item,
                               allowed="e.g. --param 'belief[1]=0:1:11'")
        if name.strip() in over:
            raise ProblemError("is swept twice", field="--param", value=name,
                               allowed="each parameter once")
        over[name.strip()] = parse_spec(spec, f"--param {name.strip()}")
    if not over:
        raise ProblemError("nothing is swept", field="--param", value="none",
                           allowed="--belief SPEC, --adverse-selection SPEC or --param NAME=SPEC")
    return over


def _base_problem(args: argparse.Namespace, over: dict[str, list[float]],
                  problem_from_args: Callable[[argparse.Namespace], Any]) -> Any:
    """The base problem: the swept belief's first value stands in where one is required."""
    needs_belief = args.goods is not None and not args.selling_only
    belief = None
    if needs_belief:
        first = over.get("belief", [None])[0]
        belief = None if first is None else repr(first)
    flags = argparse.Namespace(problem=args.problem, paper=args.paper, goods=args.goods,
                               values=args.values, belief=belief, adverse_selection=None,
                               allocation=args.allocation, selling_only=args.selling_only)
    return problem_from_args(flags)


def _executor(spec: str | None) -> tuple[Any, Callable[[], None]]:
    """(executor, close) for ``--scheduler``."""
    if spec is None:
        return None, lambda: None
    if spec == "inline":
        return "inline", lambda: None
    try:
        import distributed
    except ImportError:
        raise BackendUnavailableError("needs Dask", field="--scheduler", value=spec,
                                      allowed="pip install 'amm-opt[dask]'") from None
    if spec.startswith("local:"):
        count = spec.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise ProblemError("needs a worker count", field="--scheduler", value=spec,
                               allowed="local:N with N >= 1, e.g. local:2")
        from .sweep.execution import THREAD_VARIABLES

        cluster = distributed.LocalCluster(n_workers=int(count), threads_per_worker=1,
                                           processes=True, dashboard_address=None,
                                           env={name: "1" for name in THREAD_VARIABLES})
        client = distributed.Client(cluster)

        def close() -> None:
            client.close()
            cluster.close()

        return client, close
    try:
        client = distributed.Client(spec, timeout=30)
    except (OSError, TimeoutError, ValueError) as exc:
        raise OptionError(f"cannot be reached ({exc})", field="--scheduler", value=spec,
                          allowed="a running Dask scheduler, e.g. tcp://host:8786, or local:N"
                          ) from None
    return client, client.close


def run_sweep(args: argparse.Namespace, problem_from_args: Callable[[argparse.Namespace], Any],
              parse_options: Callable[[list[str]], dict[str, Any]]) -> int:
    """Run ``amm-opt sweep``; prints the table, returns the exit code."""
    from .paths import check_output_path
    from .sweep.run import sweep
    from .sweep.store import SweepStore

    over = _over(args)
    problem = _base_problem(args, over, problem_from_args)
    options = parse_options(args.set)
    for flag, path, suffix in (("--store", args.store, (".sqlite", ".db", ".sqlite3")),
                               ("--csv", args.csv, (".csv",)),
                               ("--parquet", args.parquet, (".parquet",))):
        if path is not None:
            check_output_path(path, flag, suffixes=suffix)
    if (args.csv or args.parquet) and not args.store:
        raise OptionError("needs --store", field="--csv" if args.csv else "--parquet",
                          value=args.csv or args.parquet, allowed="--store FILE as well")
    executor, close = _executor(args.scheduler)
    try:
        table = sweep(problem, over=over, backend=args.backend, store=args.store,
                      executor=executor, workers=args.workers, retry_failed=args.retry_failed,
                      progress=True if args.progress else None, **options)
    finally:
        close()
    info = table.attrs["sweep"]
    names = list(over)
    shown = table[[*names, "state", "status", "lower", "upper", "gap"]]
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    print(f"sweep {info['sweep'][:12]}: {len(table)} points, {info['computed']} computed, "
          f"{info['reused']} already stored, {info['failed']} failed"
          + (f"; store {args.store}" if args.store else ""))
    for _, row in table[table["state"] == "failed"].iterrows():
        where = ", ".join(f"{n}={row[n]:.6g}" for n in names)
        print(f"failed at {where}: {row['error']}", file=sys.stderr)
    if args.store and (args.csv or args.parquet):
        with SweepStore(args.store, readonly=True) as store:
            for path in (args.csv, args.parquet):
                if path:
                    store.export(path, info["sweep"])
                    print(f"table written to {path}", file=sys.stderr)
    return 1 if info["failed"] else 0


def add_sweep_plot_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``sweep-plot`` subcommand's parser."""
    p = sub.add_parser("sweep-plot", help="draw a stored sweep: profit curve, gain heatmap, "
                                          "region maps",
                       description="curve: profit of a sweep against a parameter with the "
                                   "certified band, and the gain over the 'separate' sweep; "
                                   "heatmap: that gain over two parameters (the belief c); "
                                   "regions: the menus' choice regions, one panel per point. "
                                   "--list shows the sweeps of the store.")
    p.add_argument("store", metavar="STORE", help="the sweep store (.sqlite)")
    p.add_argument("--kind", choices=("curve", "heatmap", "regions"), default="curve")
    p.add_argument("--out", metavar="FILE", help="output .png, .svg or .pdf")
    p.add_argument("--sweep", metavar="KEY", help="the joint sweep (a key prefix; default the "
                                                  "one sweep whose backend is not separate)")
    p.add_argument("--baseline", metavar="KEY", help="the baseline sweep (default the one "
                                                     "'separate' sweep, if any)")
    p.add_argument("--x", default=None, help="parameter on the x axis (default "
                                             "adverse_selection; belief[0] for heatmaps)")
    p.add_argument("--y", default="belief[1]", help="heatmap y parameter (default belief[1])")
    p.add_argument("--max-panels", type=int, default=16, help="region maps drawn (default 16)")
    p.add_argument("--title", default=None, help="figure title")
    p.add_argument("--list", action="store_true", help="list the sweeps and exit")
    return p


def _pick(sweeps: list[dict[str, Any]], key: str | None, separate: bool, flag: str
          ) -> dict[str, Any] | None:
    if key is not None:
        found = [s for s in sweeps if s["sweep"].startswith(key)]
    else:
        found = [s for s in sweeps if (s["backend"] == "separate") == separate]
    if len(found) == 1:
        return found[0]
    if not found and separate and key is None:
        return None
    raise OptionError("matches no sweep" if not found else "is ambiguous: name one",
                      field=flag, value=key, allowed="; ".join(
                          f"{s['sweep'][:12]} ({s['backend']}, {s['points']} points)"
                          for s in sweeps) or "none: the store is empty")


def run_sweep_plot(args: argparse.Namespace) -> int:
    """Run ``amm-opt sweep-plot``."""
    from .paths import check_output_path
    from .plot.figures import FORMATS
    from .plot.sweep import plot_gain_heatmap, plot_region_maps, plot_sweep_profit
    from .sweep.store import SweepStore

    with SweepStore(args.store, readonly=True) as store:
        sweeps = store.sweeps()
        if args.list:
            for s in sweeps:
                print(f"{s['sweep'][:12]}  backend {s['backend']}  options {s['options']}  "
                      f"{s['points']} points ({s['failed']} failed)  amm_opt {s['version']}")
            return 0
        if args.out is None:
            raise OptionError("is needed", field="--out", value=None,
                              allowed="an output .png, .svg or .pdf (or --list)")
        check_output_path(args.out, "--out", suffixes=FORMATS)
        joint = _pick(sweeps, args.sweep, False, "--sweep")
        assert joint is not None
        frame = store.frame(joint["sweep"])
        base = _pick(sweeps, args.baseline, True, "--baseline")
        baseline = None if base is None else store.frame(base["sweep"])
    if args.kind == "curve":
        plot_sweep_profit(frame, baseline, x=args.x or "adverse_selection", path=args.out,
                          title=args.title)
    elif args.kind == "heatmap":
        if baseline is None:
            raise OptionError("is needed for a heatmap of the gain", field="--baseline",
                              value=None, allowed="a 'separate' sweep over the same points")
        plot_gain_heatmap(frame, baseline, x=args.x or "belief[0]", y=args.y, path=args.out,
                          title=args.title)
    else:
        plot_region_maps(frame, max_panels=args.max_panels, path=args.out, title=args.title)
    print(f"plot written to {args.out}", file=sys.stderr)
    return 0
