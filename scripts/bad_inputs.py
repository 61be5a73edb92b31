"""Try hundreds of bad or edge inputs on amm_opt and classify what happens.

Usage (from the repository root)::

    .venv/bin/python scripts/bad_inputs.py                       # every case, 2 at a time
    .venv/bin/python scripts/bad_inputs.py --filter checkpoint   # ids/categories containing it
    .venv/bin/python scripts/bad_inputs.py --out bad_inputs.json --jobs 2
    .venv/bin/python scripts/bad_inputs.py --list                # the cases, not run

The cases and their oracles are data in ``scripts/bad_inputs_cases.py``. Each case runs in its
own process, in a fresh temporary folder, with a timeout, and is classified as

* ``clear error``  an ``amm_opt.errors.AmmOptError`` (API), or exit code 1/2 with a message and
  no traceback (CLI);
* ``traceback``    any other exception, a CLI traceback, a crash or another exit code;
* ``hang``         the timeout was hit (or a time limit was overrun by more than
  max(10%, 2 s));
* ``wrong number`` an oracle proved a returned number wrong;
* ``ok``           a sensible success.

Children run with ``AMM_OPT_MEMORY_LIMIT=4GiB`` and an 12 GiB address-space limit so that a
missing size guard shows up as a raw ``MemoryError`` instead of taking the machine down.
The script never modifies the package; it prints one line per case and a final tally, and
writes the per-case table as JSON with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUTCOMES = ("clear error", "ok", "traceback", "hang", "wrong number")
_ADDRESS_LIMIT = 12 << 30
_MEMORY_LIMIT = "4GiB"


# ---------------------------------------------------------------------------- child side
def _short(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _where(exc: BaseException) -> str:
    """Innermost frame of the traceback (file:line), to tell package bugs from harness bugs."""
    tb = traceback.extract_tb(exc.__traceback__)
    if not tb:
        return ""
    frame = tb[-1]
    name = frame.filename
    for root in (str(REPO) + os.sep, sys.prefix + os.sep):
        if name.startswith(root):
            name = name[len(root):]
    return f" [at {name}:{frame.lineno}]"


def _run_api(case: dict, ns: dict) -> tuple[str, str]:
    import bad_inputs_cases as bic

    from amm_opt.errors import AmmOptError

    try:
        exec(compile(case["code"], f"<case {case['id']}>", "exec"), ns)
    except bic.WrongNumber as exc:
        return "wrong number", _short(exc)
    except bic.Overrun as exc:
        return "hang", _short(exc)
    except AmmOptError as exc:
        return "clear error", _short(f"{type(exc).__name__}: {exc}")
    except BaseException as exc:
        if _raised_by_caller(exc):
            # The case's own code raised it (a user callback that fails, or Python's check of a
            # call's keywords): amm_opt passing the caller's exception through unchanged is the
            # right behaviour, not a traceback of ours.
            return "clear error", _short(f"the caller's own {type(exc).__name__} passed "
                                         f"through unchanged: {exc}")
        return "traceback", _short(f"{type(exc).__name__}: {exc}", 260) + _where(exc)
    return "ok", _short(ns.get("MSG", ""))


def _raised_by_caller(exc: BaseException) -> bool:
    """Whether the innermost frame of ``exc`` is the case's own code (not amm_opt's)."""
    tb = traceback.extract_tb(exc.__traceback__)
    return bool(tb) and tb[-1].filename.startswith("<case ")


def _cli_command(case: dict) -> list[str]:
    if case.get("entry"):
        return [str(Path(sys.executable).with_name("amm-opt")), *list(case["argv"])]
    return [sys.executable, "-m", "amm_opt.cli", *list(case["argv"])]


def _run_cli(case: dict, ns: dict) -> tuple[str, str]:
    import bad_inputs_cases as bic

    if case.get("setup"):
        try:
            exec(compile(case["setup"], f"<setup {case['id']}>", "exec"), ns)
        except BaseException as exc:
            return "harness error", _short(f"setup failed: {type(exc).__name__}: {exc}")
    limit = max(5, int(case["timeout"]) - 8)
    try:
        proc = subprocess.run(_cli_command(case), capture_output=True, text=True,
                              timeout=limit, errors="replace")
    except subprocess.TimeoutExpired:
        return "hang", f"no answer within {limit} s"
    except (ValueError, OSError) as exc:  # e.g. a NUL byte in an argument: exec refuses it
        return "clear error", _short(f"the OS refuses the command line: {exc}")
    rc, out, err = proc.returncode, proc.stdout, proc.stderr
    lines = [ln for ln in err.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    if "Traceback (most recent call last)" in err:
        return "traceback", _short(f"exit {rc}: {last}")
    if "internal error" in err:  # the CLI's catch-all: a raw exception behind one line
        return "traceback", _short(f"exit {rc}: {last}")
    if rc == 0 or rc == case.get("expect_rc"):
        if case.get("check"):
            ns.update(rc=rc, out=out, err=err, MSG="")
            try:
                exec(compile(case["check"], f"<check {case['id']}>", "exec"), ns)
            except bic.WrongNumber as exc:
                return "wrong number", _short(exc)
            except BaseException as exc:
                return "traceback", _short(f"check failed: {type(exc).__name__}: {exc}")
            return "ok", _short(ns.get("MSG") or f"exit {rc}")
        tail = [ln for ln in out.splitlines() if ln.strip()]
        return "ok", _short(f"exit {rc}: " + (tail[-1] if tail else last))
    if rc in (1, 2):
        if not last:
            return "traceback", f"exit {rc} without any message"
        note = f" ({len(lines)} stderr lines)" if len(lines) > 1 else ""
        return "clear error", _short(f"exit {rc}: {last}{note}")
    return "traceback", _short(f"exit {rc} (crash?): {last}")


def _execute(case: dict, result_file: str) -> None:
    """Run one case in this (fresh) process and write its outcome to ``result_file``."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (_ADDRESS_LIMIT, _ADDRESS_LIMIT))
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    t0 = time.perf_counter()
    result = {"outcome": "harness error", "message": "child did not finish"}
    try:
        import warnings

        warnings.simplefilter("ignore")
        import bad_inputs_cases as bic

        ns = bic.namespace()
        runner = _run_api if case["kind"] == "api" else _run_cli
        outcome, message = runner(case, ns)
        result.update(outcome=outcome, message=message)
    except BaseException as exc:
        result.update(outcome="harness error",
                      message=_short(f"{type(exc).__name__}: {exc}") + _where(exc))
    result["seconds"] = round(time.perf_counter() - t0, 2)
    Path(result_file).write_text(json.dumps(result))


def child(case_file: str, result_file: str) -> None:
    """``--child``: one case in a fresh interpreter (``--no-fork`` mode)."""
    _execute(json.loads(Path(case_file).read_text()), result_file)
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown (threads of torch/BLAS)


def zygote() -> None:
    """``--zygote``: import amm_opt (and torch) once, then fork one process per case.

    Reads one JSON request per line on stdin (case file, result file, work folder, timeout),
    forks a child in its own session with its output sent to files, kills the child's whole
    session at the timeout, and answers one JSON line on stdout. Single-threaded, so forking is
    safe; every case still runs in its own process, from the same pristine imported state.
    """
    import warnings

    warnings.simplefilter("ignore")
    sys.path.insert(0, str(HERE))
    import bad_inputs_cases  # noqa: F401
    import numpy  # noqa: F401
    import scipy.stats  # noqa: F401

    import amm_opt
    import amm_opt.cli
    import amm_opt.io
    import amm_opt.validation  # noqa: F401
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
    for line in sys.stdin:
        req = json.loads(line)
        case = json.loads(Path(req["case"]).read_text())
        pid = os.fork()
        if pid == 0:  # the case's own process
            try:
                os.setsid()
                os.chdir(req["work"])
                for fd, name in ((1, "stdout.txt"), (2, "stderr.txt")):
                    f = os.open(os.path.join(req["folder"], name),
                                os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(f, fd)
                    os.close(f)
                sys.stdin = open(os.devnull)
                _execute(case, req["result"])
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(0)
        deadline = time.monotonic() + float(req["timeout"])
        timed_out, status = False, 0
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                timed_out = True
                try:
                    os.killpg(pid, signal.SIGKILL)  # the case's session: it and its children
                except ProcessLookupError:
                    pass
                _, status = os.waitpid(pid, 0)
                break
            time.sleep(0.02)
        sys.stdout.write(json.dumps({"timed_out": timed_out, "status": status}) + "\n")
        sys.stdout.flush()


# ---------------------------------------------------------------------------- parent side
def _cleanup(folder: Path) -> None:
    subprocess.run(["chattr", "-R", "-i", str(folder)], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


def _child_env() -> dict:
    env = dict(os.environ)
    env.update(AMM_OPT_MEMORY_LIMIT=_MEMORY_LIMIT, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1",
               AMM_REPO=str(REPO), PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


class _Zygote:
    """One pre-imported forking server per worker thread."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--zygote"],
                                     cwd=REPO, env=_child_env(), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)

    def run(self, request: dict) -> dict | None:
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        return json.loads(line) if line else None

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def run_case(case: dict, scratch: Path, timeout_scale: float, zygote: _Zygote | None) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=case["id"][:40].replace("/", "_") + ".", dir=scratch))
    work = folder / "work"
    work.mkdir()
    case_file = folder / "case.json"
    result_file = folder / "result.json"
    case_file.write_text(json.dumps(case))
    timeout = float(case["timeout"]) * timeout_scale
    t0 = time.perf_counter()
    err = ""
    if zygote is not None:
        answer = zygote.run({"case": str(case_file), "result": str(result_file),
                             "work": str(work), "folder": str(folder), "timeout": timeout})
        timed_out = bool(answer and answer["timed_out"])
        returncode = None if answer is None else answer["status"]
        if (folder / "stderr.txt").exists():
            err = (folder / "stderr.txt").read_text(errors="replace")
    else:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child",
                                 str(case_file), str(result_file)], cwd=work, env=_child_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        try:
            _out, raw = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the child's own session
            except ProcessLookupError:
                pass
            _out, raw = proc.communicate()
        returncode = proc.returncode
        err = raw.decode("utf-8", "replace")
    seconds = round(time.perf_counter() - t0, 2)
    row = {"id": case["id"], "category": case["category"], "kind": case["kind"],
           "seconds": seconds}
    if timed_out:
        row.update(outcome="hang", message=f"timeout after {timeout:.0f} s")
    elif result_file.exists():
        got = json.loads(result_file.read_text())
        row.update(outcome=got["outcome"], message=got["message"])
    else:
        tail = err.strip().splitlines()[-1:]
        row.update(outcome="traceback",
                   message=_short(f"process died (status {returncode}): "
                                  f"{tail[0] if tail else 'no output'}"))
    _cleanup(folder)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="write the per-case table here (JSON)")
    parser.add_argument("--jobs", type=int, default=2, help="cases at a time (default 2)")
    parser.add_argument("--filter", default=None, help="run cases whose id or category "
                                                       "contains SUBSTRING")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--timeout-scale", type=float, default=1.0,
                        help="multiply every case's timeout (slow machines)")
    parser.add_argument("--no-fork", action="store_true",
                        help="start a fresh interpreter per case instead of forking a "
                             "pre-imported one (slower: about 1.5 s more per case)")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "RESULT"), help=argparse.SUPPRESS)
    parser.add_argument("--zygote", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return 0
    if args.zygote:
        zygote()
        return 0
    sys.path.insert(0, str(HERE))
    import bad_inputs_cases as bic

    cases = [c for c in bic.CASES if args.filter is None or args.filter in c["id"]
             or args.filter in c["category"]]
    if args.list:
        for c in cases:
            print(f"{c['id']:60s} {c['category']:20s} {c['kind']} {c['timeout']} s")
        print(f"{len(cases)} cases")
        return 0
    if not cases:
        print("no case matches", file=sys.stderr)
        return 2
    jobs = max(1, min(args.jobs, 2))
    scratch = Path(tempfile.mkdtemp(prefix="amm_bad_inputs."))
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    t0 = time.perf_counter()
    rows: list[dict] = []
    lock = threading.Lock()
    local = threading.local()
    zygotes: list[_Zygote] = []

    def one(case: dict) -> dict:
        zyg = None
        if not args.no_fork:
            zyg = getattr(local, "zygote", None)
            if zyg is None or zyg.proc.poll() is not None:
                zyg = local.zygote = _Zygote()
                with lock:
                    zygotes.append(zyg)
        row = run_case(case, scratch, args.timeout_scale, zyg)
        with lock:
            rows.append(row)
            print(f"[{len(rows):4d}/{len(cases)}] {row['id']:58s} {row['category']:18s} "
                  f"{row['outcome']:13s} {row['seconds']:6.1f}s  {row['message'][:160]}",
                  flush=True)
        return row
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(one, cases))
    finally:
        for zyg in zygotes:
            zyg.close()
        _cleanup(scratch)
    order = {c["id"]: i for i, c in enumerate(bic.CASES)}
    rows.sort(key=lambda r: order[r["id"]])
    tally = {k: sum(r["outcome"] == k for r in rows) for k in OUTCOMES}
    other = len(rows) - sum(tally.values())
    wall = time.perf_counter() - t0
    line = (f"tried {len(rows)} / clear error {tally['clear error']} / ok {tally['ok']} / "
            f"traceback {tally['traceback']} / hang {tally['hang']} / "
            f"wrong number {tally['wrong number']}")
    if other:
        line += f" / harness error {other}"
    print()
    bad = [r for r in rows if r["outcome"] not in ("clear error", "ok")]
    if bad:
        print("non-clear outcomes:")
        for r in bad:
            print(f"  {r['id']:58s} {r['outcome']:13s} {r['message']}")
        print()
    print(f"started {started}, {wall / 60:.1f} min on {jobs} process(es)")
    print(line)
    if args.out:
        per_cat: dict[str, dict[str, int]] = {}
        for r in rows:
            d = per_cat.setdefault(r["category"], {k: 0 for k in OUTCOMES})
            d[r["outcome"]] = d.get(r["outcome"], 0) + 1
        Path(args.out).write_text(json.dumps({
            "started": started, "minutes": round(wall / 60, 2), "jobs": jobs,
            "filter": args.filter, "tally": {"tried": len(rows), **tally,
                                             "harness error": other},
            "per_category": per_cat, "cases": rows}, indent=2) + "\n")
        print(f"table written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
