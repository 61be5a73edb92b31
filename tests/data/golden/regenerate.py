"""Rewrite the golden menus of this folder: ``python tests/data/golden/regenerate.py [--learned]``.

Reference goldens are the closed forms of ``amm_opt.references``. Learned goldens (``--learned``)
are engine runs with small, fixed settings (stored in each file), which the regression tests
re-run and compare with ``compare_menus``. Regenerate a learned golden only on purpose (after an
intended change of an engine), and say so in the commit message.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from amm_opt import references, solve
from amm_opt.solvers import available_backends
from amm_opt.validation import save_golden

HERE = Path(__file__).resolve().parent

# Small settings: each run takes about a second on a 2-core CPU.
LEARNED = {
    "rochetnet_r2_lam0": ("rochetnet", 0.0, {"steps": 1000, "menu_size": 32, "batch_size": 2048,
                                             "eval_every": 250, "validation_size": 4096,
                                             "seed": 0, "device": "cpu", "progress": False}),
    "separate_r2_lam0": ("separate", 0.0, {}),
    "grid_lp_r2_lam05": ("grid_lp", 0.5, {"grid": 16, "progress": False}),
}


def write_references() -> None:
    for name, ref in references.catalogue().items():
        save_golden(HERE / f"{name}.json", name, ref.problem, ref.menu,
                    source=f"reference {ref.name} (closed form)")


def write_learned(only: list[str] | None = None) -> None:
    usable = {name for name, (ok, _) in available_backends().items() if ok}
    for name, (backend, lam, settings) in LEARNED.items():
        if only and name not in only:
            continue
        if backend not in usable:
            print(f"skipped {name}: backend {backend} is not usable here")
            continue
        problem = references.r2_two_goods(lam).problem
        result = solve(problem, backend=backend, **settings)
        save_golden(HERE / f"{name}.json", name, problem, result.menu, source=backend,
                    settings={"backend": backend, "options": settings})
        print(f"{name}: profit {result.profit:.8g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--learned", action="store_true", help="also rerun the engines")
    parser.add_argument("--only", nargs="*", help="names of the learned goldens to rewrite")
    args = parser.parse_args()
    write_references()
    if args.learned:
        write_learned(args.only)


if __name__ == "__main__":
    main()
