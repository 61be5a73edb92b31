"""The ``amm-opt`` command line: ``solve``, ``evaluate``, ``backends``, ``certify``, ``compare``,
``plot``, ``sweep`` and ``sweep-plot`` (those two in :mod:`amm_opt.cli_sweep`).

Exit codes: 0 success, 2 bad input (a wrong flag, file, option or output path: the message says
which and how to fix it), 1 failure (a solver failed, a file could not be written, or an internal
error; for ``certify`` a bracket that does not hold, for ``compare`` a regression beyond the
tolerances), 130 interrupted. No traceback is printed (set ``AMM_OPT_TRACEBACK=1`` to see one
for an internal error). Output paths (``--out``, ``--plot``) are checked before any work; their
folder must exist. Every subcommand is a function ``_cmd_<name>(args) -> int`` registered in
:data:`_COMMANDS` together with its parser builder.

Problems come from a file (``--problem FILE``: JSON written by :func:`amm_opt.io.save_problem`, or
hand-written TOML), from ``--paper`` (the paper's two-good instance), or from flags::

    amm-opt solve --goods 2 --values beta:2:2 --belief 0.5 --adverse-selection 0.25
    amm-opt solve --paper --backend grid_lp --set target_gap=1e-3 --out result.json --plot menu.png
    amm-opt evaluate result.json --paper
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .cli_allocation import ALLOCATION_HELP, parse_allocation
from .distributions import Beta, Distribution, Samples, TruncatedNormal, Uniform
from .errors import (
    AmmOptError,
    BackendUnavailableError,
    FileFormatError,
    OutputPathError,
    ProblemError,
    SolverFailedError,
)
from .paths import check_output_path, input_path, read_json
from .problem import Problem

__all__ = ["build_parser", "main"]

_VALUES_HELP = ("value distribution per good: uniform[:LOW:HIGH], beta:A:B[:LOW:HIGH], "
                "normal:MEAN:STD:LOW:HIGH (truncated), samples:FILE (.npy or .csv, one row per "
                "trader); default uniform:0:1")


# ---------------------------------------------------------------------------- problem flags
def _add_problem_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("problem (give --problem, --paper, or --goods with flags)")
    group.add_argument("--problem", metavar="FILE", help="problem file (.json or .toml)")
    group.add_argument("--paper", action="store_true",
                       help="the paper's instance: 2 goods, U[0,1]^2, belief (1/2,1/2), [-1,1]^2")
    group.add_argument("--goods", type=int, metavar="N", help="number of goods")
    group.add_argument("--values", metavar="SPEC", help=_VALUES_HELP)
    group.add_argument("--belief", metavar="C",
                       help="market maker's belief: one number or C1,C2,..")
    group.add_argument("--adverse-selection", type=float, metavar="LAMBDA",
                       help="weight of the trader's value in the posterior, in [0, 1)")
    group.add_argument("--allocation", metavar="SET", help=ALLOCATION_HELP)
    group.add_argument("--selling-only", action="store_true",
                       help="the multi-item monopolist: allocation [0,1], belief 0, no adverse "
                            "selection")


def _numbers(text: str, flag: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",")]
    except ValueError:
        raise ProblemError("must be comma-separated numbers", field=flag, value=text,
                           allowed="e.g. 0.5 or 0.4,0.6") from None


def parse_values(spec: str) -> Distribution:
    """A distribution from a ``--values`` spec (see ``amm-opt solve --help``)."""
    kind, _, rest = spec.partition(":")
    kind = kind.strip().lower()
    if kind == "samples":
        return Samples(_read_samples(rest))
    makers: dict[str, tuple[Callable[..., Distribution], tuple[int, ...]]] = {
        "uniform": (Uniform, (0, 2)), "beta": (Beta, (2, 4)), "normal": (TruncatedNormal, (4,)),
    }
    if kind not in makers:
        raise ProblemError("has an unknown distribution", field="--values", value=spec,
                           allowed=_VALUES_HELP)
    make, counts = makers[kind]
    try:
        params = [float(t) for t in rest.split(":")] if rest else []
    except ValueError:
        raise ProblemError("has a parameter that is not a number", field="--values", value=spec,
                           allowed=_VALUES_HELP) from None
    if len(params) not in counts:
        raise ProblemError(f"needs {' or '.join(map(str, counts))} parameters for {kind}",
                           field="--values", value=spec, allowed=_VALUES_HELP)
    return make(*params)


def _read_samples(name: str) -> np.ndarray:
    from .io import read_samples

    return read_samples(name, "--values samples:FILE")


_FLAG_OF = {"goods": "--goods", "belief": "--belief", "adverse_selection": "--adverse-selection",
            "allocation": "--allocation"}
_VALUE_FIELDS = {"values", "Beta", "Uniform", "TruncatedNormal", "Samples", "Product"}


def problem_from_args(args: argparse.Namespace) -> Problem:
    """The problem described by the problem flags (exactly one source); an invalid one is a
    ProblemError naming the flag."""
    try:
        return _problem_from_flags(args)
    except ProblemError as exc:
        field = exc.field or ""
        if field in _FLAG_OF:
            raise ProblemError(str(exc).removeprefix(f"{field}: "), field=_FLAG_OF[field]
                               ) from None
        if field.split(".")[0] in _VALUE_FIELDS:
            raise ProblemError(str(exc), field="--values") from None
        raise


def _problem_from_flags(args: argparse.Namespace) -> Problem:
    from .io import load_problem

    sources = [name for name, given in (("--problem", args.problem is not None),
                                        ("--paper", args.paper),
                                        ("--goods", args.goods is not None)) if given]
    if len(sources) != 1:
        raise ProblemError("exactly one problem source is needed", field="problem",
                           value=sources or "none", allowed="--problem FILE, --paper, or --goods N "
                           "with --values/--belief/...")
    if args.problem is not None:
        if any(v is not None for v in (args.values, args.belief, args.allocation)):
            raise ProblemError("cannot be combined with --values/--belief/--allocation",
                               field="--problem", value=args.problem,
                               allowed="put those in the problem file")
        problem = _from_file("--problem", load_problem, args.problem)
        if args.adverse_selection is None:
            return problem
        data = problem.to_dict() if problem.has_density else None
        if data is None:
            return Problem(goods=problem.goods, values=problem.values, belief=problem.belief,
                           adverse_selection=args.adverse_selection,
                           allocation=problem.allocation)
        data["adverse_selection"] = args.adverse_selection
        return Problem.from_dict(data)
    lam = 0.0 if args.adverse_selection is None else args.adverse_selection
    if args.paper:
        return Problem.paper_two_goods(lam)
    values = parse_values(args.values) if args.values else Uniform(0.0, 1.0)
    allocation: Any = (0.0, 1.0) if args.selling_only else (-1.0, 1.0)
    if args.allocation is not None:
        allocation = parse_allocation(args.allocation, args.goods, allocation)
    if args.belief is not None:
        belief: Any = _numbers(args.belief, "--belief")
        belief = belief[0] if len(belief) == 1 else belief
    elif args.selling_only:
        belief = 0.0
    else:
        raise ProblemError("is missing", field="--belief", allowed="e.g. --belief 0.5 (or "
                           "--selling-only for belief 0)")
    return Problem(goods=args.goods, values=values, belief=belief, adverse_selection=lam,
                   allocation=allocation)


def _from_file(flag: str, load: Callable[[str], Any], path: str) -> Any:
    """``load(path)``, with any error about the file named after the flag that gave it."""
    try:
        return load(path)
    except AmmOptError as exc:
        raise FileFormatError(str(exc).removeprefix("path: "), field=flag) from None


def _json(data: Any) -> str:
    """Strict JSON (non-finite numbers as 'inf', '-inf', 'nan', as in amm_opt's files)."""
    from .io import json_data

    return json.dumps(json_data(data), indent=2, allow_nan=False)


def _options(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings to backend options (values parsed as JSON, else kept as text)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ProblemError("must look like KEY=VALUE", field="--set", value=pair,
                               allowed="e.g. --set steps=2000 --set lp_solver=CLARABEL")
        try:
            out[key.strip()] = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON (or absurdly nested): kept as text
            out[key.strip()] = raw
    return out


# ---------------------------------------------------------------------------- subcommands
def _build_solve(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("solve", help="design a menu and bound the optimal profit",
                       description="Solve a problem and print the menu, its evaluated profit and "
                                   "the certified bounds.")
    _add_problem_flags(p)
    p.add_argument("--backend", default=None,
                   help="engine name (see `amm-opt backends`); default: automatic choice")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="backend option, repeatable (e.g. --set steps=2000)")
    p.add_argument("--out", metavar="FILE", help="write the result as JSON")
    p.add_argument("--plot", metavar="FILE", help="write the allocation-region map (2 goods; "
                                                  ".png or .svg)")
    p.add_argument("--progress", action="store_true", help="show a progress bar where the "
                                                           "backend supports one")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def _cmd_solve(args: argparse.Namespace) -> int:
    from . import solving
    from .io import result_to_json, save_result
    from .solvers import choose_backend, get_solver_class

    problem = problem_from_args(args)
    options = _options(args.set)
    _check_outputs(args.out, args.plot)
    if args.progress:
        name = args.backend or choose_backend(problem)[0]
        if "progress" in get_solver_class(name).option_names():
            options.setdefault("progress", True)
    result = solving.solve(problem, backend=args.backend, **options)
    print(result_to_json(result, problem) if args.json else result.summary())
    choice = result.stats.get("backend_choice", {})
    if choice.get("automatic") and not args.json:
        print(f"backend chosen automatically: {choice.get('reason', '')}")
    if args.out:
        try:
            save_result(result, args.out, problem=problem)
        except OutputPathError as exc:
            raise _as_flag(exc, "--out") from None
        print(f"result written to {args.out}", file=sys.stderr)
    if args.plot:
        _write_plot(problem, result.menu, args.plot)
    return 0


def _check_outputs(out: str | None, plot: str | None, plot_flag: str = "--plot") -> None:
    """Check the output paths before any work (the folder must exist: nothing is created)."""
    if out is not None:
        check_output_path(out, "--out")
    if plot is not None:
        from .plot.figures import FORMATS

        check_output_path(plot, plot_flag, suffixes=FORMATS)


def _as_flag(exc: OutputPathError, flag: str) -> OutputPathError:
    """The write error ``exc`` with the flag that named the file."""
    error = OutputPathError(exc.args[0].split(": ", 1)[-1], field=flag)
    error.errno = exc.errno
    return error


def _write_plot(problem: Problem, menu: Any, path: str) -> None:
    if menu is None or problem.goods != 2:
        print(f"no plot written: region maps need a menu on 2 goods (goods = {problem.goods}, "
              f"menu = {'none' if menu is None else 'given'})", file=sys.stderr)
        return
    from .plot.regions import plot_regions

    plot_regions(problem, menu, path=path)
    print(f"plot written to {path}", file=sys.stderr)


def _build_evaluate(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("evaluate", help="exact expected profit of a menu on a problem",
                       description="Evaluate a menu (a menu or result JSON file) on a problem.")
    p.add_argument("menu", metavar="MENU", help="menu or result file (.json)")
    _add_problem_flags(p)
    p.add_argument("--method", default="auto",
                   help="auto, exact, quadrature, qmc or sample-mean (default auto)")
    p.add_argument("--json", action="store_true", help="print the evaluation as JSON")
    return p


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate
    from .io import load_menu

    menu = _from_file("MENU", load_menu, args.menu)
    problem = problem_from_args(args)
    ev = evaluate(problem, menu, method=args.method)
    if args.json:
        print(_json({"profit": ev.profit, "stderr": ev.stderr, "method": ev.method,
                     "confidence_interval": list(ev.confidence_interval),
                     "item_probability": ev.item_probability, "item_profit": ev.item_profit}))
        return 0
    print(menu.table(probability=ev.item_probability, profit=ev.item_profit))
    error = "exact" if ev.stderr == 0 else f"± {ev.stderr:.2g}"
    print(f"expected profit: {ev.profit:.8g} ({ev.method}, {error})")
    return 0


def _build_backends(sub: Any) -> argparse.ArgumentParser:
    return sub.add_parser("backends", help="list the engines, whether each is usable here, and "
                                           "how to install the missing ones")


def _cmd_backends(args: argparse.Namespace) -> int:
    from .solvers import SOLVERS, get_solver_class

    rows = [("backend", "usable", "gives", "status / install hint", "what it does")]
    for name in SOLVERS:
        cls = get_solver_class(name)
        usable, why = cls.availability()
        gives = "+".join(w for w, on in (("menu", cls.provides_menu),
                                         ("upper bound", cls.provides_upper)) if on)
        rows.append((name, "yes" if usable else "no", gives, why, cls.description))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  "
              + row[4])
    return 0


# ---------------------------------------------------------------------------- validation commands
def _problem_given(args: argparse.Namespace) -> bool:
    return args.problem is not None or args.paper or args.goods is not None


def _read_menu_file(path: str, flag: str = "MENU") -> tuple[Any, Problem | None]:
    """A menu from a menu, result or golden file, and the problem stored with it (if any)."""
    return _from_file(flag, _menu_and_problem, path)


def _menu_and_problem(path: str) -> tuple[Any, Problem | None]:
    from .io import load_menu, problem_from_data
    from .validation import load_golden

    try:
        data = read_json(input_path(path, "MENU"), "a menu, result or golden file")
    except FileFormatError:
        data = None  # load_menu reports unreadable or malformed files with the right message
    if isinstance(data, dict) and data.get("format") == "amm_opt.golden":
        golden = load_golden(path)
        return golden.menu, golden.problem
    menu = load_menu(path)
    stored = data.get("problem") if isinstance(data, dict) else None
    return menu, (problem_from_data(stored, str(path)) if isinstance(stored, dict) else None)


def _resolve_problem(args: argparse.Namespace, stored: Problem | None, what: str) -> Problem:
    if _problem_given(args) or stored is None:
        if not _problem_given(args):
            raise ProblemError(f"is needed: {what} holds no problem", field="problem",
                               value="none", allowed="--problem FILE, --paper, or --goods N ...")
        return problem_from_args(args)
    if args.adverse_selection is not None:  # the stored problem at another lambda
        data = stored.to_dict()
        data["adverse_selection"] = args.adverse_selection
        return Problem.from_dict(data)
    return stored


def _upper_spec(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _build_certify(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("certify", help="bracket the optimum with a menu's profit and an upper "
                                       "bound; check the menu",
                       description="Evaluate a menu (menu, result or golden file) exactly, get "
                                   "an upper bound from an engine or a number, check the menu "
                                   "(allocation box, IR, IC, u(c) = 0) and print a verdict. "
                                   "Exit 0 when the bracket holds, 1 when the menu is infeasible "
                                   "or its profit exceeds the upper bound.")
    p.add_argument("menu", metavar="MENU", help="menu, result or golden file (.json)")
    _add_problem_flags(p)
    p.add_argument("--upper", metavar="ENGINE|NUMBER",
                   help="engine that certifies an upper bound (grid_lp, ot_dual) or a number; "
                        "default: none (lower bound and checks only)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="option of the --upper engine, repeatable (e.g. --set grid=64)")
    p.add_argument("--json", action="store_true", help="print the certificate as JSON")
    return p


def _cmd_certify(args: argparse.Namespace) -> int:
    from .validation import certify

    menu, stored = _read_menu_file(args.menu)
    problem = _resolve_problem(args, stored, args.menu)
    options = _options(args.set)
    if options and args.upper is None:
        raise ProblemError("needs --upper ENGINE", field="--set", value=args.set,
                           allowed="--set only configures the --upper engine")
    cert = certify(problem, menu, upper=_upper_spec(args.upper), upper_options=options)
    print(_json(cert.to_dict()) if args.json else cert.summary())
    return 0 if cert.ok else 1


def _build_compare(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("compare", help="compare a candidate menu with a baseline (regression "
                                       "check)",
                       description="Compare a candidate menu with a baseline (menu, result or "
                                   "golden file): profit difference, share of types whose trade "
                                   "changes, largest price change among matched items. Exit 1 "
                                   "when the candidate regresses beyond the tolerances, else 0.")
    p.add_argument("baseline", metavar="BASELINE", help="menu, result or golden file (.json)")
    p.add_argument("candidate", metavar="CANDIDATE", help="menu, result or golden file (.json)")
    _add_problem_flags(p)
    p.add_argument("--profit-rtol", type=float, default=1e-3, metavar="R",
                   help="largest allowed relative profit loss (default 1e-3)")
    p.add_argument("--max-changed-share", type=float, default=None, metavar="S",
                   help="largest allowed share of types whose trade changes (default: no limit)")
    p.add_argument("--max-price-change", type=float, default=None, metavar="D",
                   help="largest allowed price change of a matched item (default: no limit)")
    p.add_argument("--match-tol", type=float, default=1e-6, metavar="T",
                   help="allocations closer than this are the same trade (default 1e-6)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    return p


def _cmd_compare(args: argparse.Namespace) -> int:
    from .validation import compare_menus

    base, stored = _read_menu_file(args.baseline, "BASELINE")
    cand, stored_c = _read_menu_file(args.candidate, "CANDIDATE")
    problem = _resolve_problem(args, stored or stored_c, args.baseline)
    diff = compare_menus(base, cand, problem, match_tol=args.match_tol)
    reasons = diff.regressions(profit_rtol=args.profit_rtol,
                               max_changed_share=args.max_changed_share,
                               max_price_difference=args.max_price_change)
    if args.json:
        print(_json({**diff.to_dict(), "regressions": reasons}))
    else:
        print(diff.summary())
        print("REGRESSION: " + "; ".join(reasons) if reasons else
              "no regression beyond the tolerances")
    return 1 if reasons else 0


def _build_plot(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser("plot", help="draw a menu's choice regions or a transport plan",
                       description="regions (2 goods): the value box coloured by chosen trade; "
                                   "slices (3+ goods): the same on 2-D slices; transport: run "
                                   "ot_dual on the problem and draw its plan (2 goods).")
    p.add_argument("menu", metavar="MENU", nargs="?",
                   help="menu, result or golden file (regions and slices)")
    _add_problem_flags(p)
    p.add_argument("--kind", choices=("regions", "slices", "transport"), default=None,
                   help="default: regions for 2 goods, slices for more")
    p.add_argument("--out", metavar="FILE", required=True, help="output .png, .svg or .pdf")
    p.add_argument("--title", default=None, help="figure title")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="ot_dual option for --kind transport (e.g. --set grid=32)")
    return p


def _cmd_plot(args: argparse.Namespace) -> int:
    from . import plot
    from .plot.figures import figure_path, save_figure

    _check_outputs(None, args.out, "--out")
    if args.kind == "transport":
        from .solving import solve

        problem = problem_from_args(args)
        result = solve(problem, backend="ot_dual", **_options(args.set))
        path = figure_path(args.out)
        ax = plot.plot_transport(result.certificate)
        if args.title:
            ax.set_title(args.title)
        save_figure(ax.figure, path)
        print(f"transport bound {result.bounds.upper:.8g}; plot written to {args.out}",
              file=sys.stderr)
        return 0
    if args.menu is None:
        raise ProblemError("is needed", field="MENU", value="none",
                           allowed="a menu, result or golden file (or --kind transport)")
    menu, stored = _read_menu_file(args.menu)
    problem = _resolve_problem(args, stored, args.menu)
    kind = args.kind or ("regions" if problem.goods == 2 else "slices")
    draw = plot.plot_regions if kind == "regions" else plot.plot_slices
    draw(problem, menu, path=args.out, title=args.title)
    print(f"plot written to {args.out}", file=sys.stderr)
    return 0


def _lazy(module: str, name: str, *extra: Any) -> Callable[[Any], Any]:
    """``module.name(arg, *extra)``, importing ``module`` only when the command is used (the
    sweep and amortised commands pull in pandas, dask or torch)."""
    def call(arg: Any) -> Any:
        return getattr(importlib.import_module(module), name)(arg, *extra)

    return call


_COMMANDS: dict[str, tuple[Callable[[Any], argparse.ArgumentParser],
                           Callable[[argparse.Namespace], int]]] = {
    "solve": (_build_solve, _cmd_solve),
    "evaluate": (_build_evaluate, _cmd_evaluate),
    "backends": (_build_backends, _cmd_backends),
    "certify": (_build_certify, _cmd_certify),
    "compare": (_build_compare, _cmd_compare),
    "plot": (_build_plot, _cmd_plot),
    "sweep": (_lazy("amm_opt.cli_sweep", "add_sweep_parser"),
              _lazy("amm_opt.cli_sweep", "run_sweep", problem_from_args, _options)),
    "sweep-plot": (_lazy("amm_opt.cli_sweep", "add_sweep_plot_parser"),
                   _lazy("amm_opt.cli_sweep", "run_sweep_plot")),
    "amortise": (_lazy("amm_opt.amortised.cli", "add_parser"),
                 _lazy("amm_opt.amortised.cli", "run")),
}


def build_parser() -> argparse.ArgumentParser:
    """The ``amm-opt`` argument parser with every registered subcommand."""
    from .version import __version__

    parser = argparse.ArgumentParser(
        prog="amm-opt", description="Profit-optimal multi-good market makers with certified "
                                    "bounds.")
    parser.add_argument("--version", action="version", version=f"amm-opt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (build, run) in _COMMANDS.items():
        p = build(sub)
        p.set_defaults(run=run, command=name,
                       flags=frozenset(s for a in p._actions for s in a.option_strings))
    return parser


def _message(exc: AmmOptError, flags: frozenset[str]) -> str:
    """The error's text, its field written as the flag that set it (``method`` → ``--method``)."""
    field = exc.field or ""
    flag = "--" + field.replace("_", "-")
    if field and not field.startswith("-") and flag in flags:
        return f"{flag}: " + str(exc).removeprefix(f"{field}: ")
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``amm-opt``; returns the exit code (0 ok, 2 bad input, 1 failure)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return int(exc.code or 0)
    name = f"amm-opt {args.command}"
    try:
        return int(args.run(args))
    except SolverFailedError as exc:
        print(f"{name}: solver failure: {exc}", file=sys.stderr)
        return 1
    except BackendUnavailableError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    except OutputPathError as exc:  # errno set: the write itself failed (e.g. a full disk)
        print(f"{name}: {'cannot write' if exc.errno else 'bad input'}: {exc}", file=sys.stderr)
        return 1 if exc.errno else 2
    except AmmOptError as exc:
        print(f"{name}: bad input: {_message(exc, args.flags)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. a figure that could not be written
        print(f"{name}: file system error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line, not a traceback, unless asked for
        if os.environ.get("AMM_OPT_TRACEBACK"):
            raise
        print(f"{name}: internal error (please report it with the command line): "
              f"{type(exc).__name__}: {exc} (AMM_OPT_TRACEBACK=1 shows the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
