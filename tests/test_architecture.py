"""The package's structure: no import cycle, no private name used across modules, one
subpackage per engine, validation independent of the engines."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "amm_opt"


def _module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports() -> dict[str, list[tuple[str, list[str]]]]:
    """module -> [(imported module, names)] for every import, lazy and TYPE_CHECKING included."""
    modules = _modules()
    out: dict[str, list[tuple[str, list[str]]]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found: list[tuple[str, list[str]]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _resolve(name, path.name == "__init__.py", node)
                names = [a.name for a in node.names]
                # "from . import x" may import a submodule x.
                for n in names:
                    if f"{target}.{n}" in modules:
                        found.append((f"{target}.{n}", []))
                found.append((target, names))
            elif isinstance(node, ast.Import):
                found.extend((a.name, []) for a in node.names)
        out[name] = [(t, n) for t, n in found if t in modules and t != name]
    return out


def test_no_import_cycle():
    graph = {m: sorted({t for t, _ in deps if not m.startswith(t + ".")})
             for m, deps in _imports().items()}
    # A package's __init__ re-exporting its submodules is not a cycle with them.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_no_private_name_crosses_a_module_boundary():
    bad = []
    for module, deps in _imports().items():
        for target, names in deps:
            if target.split(".")[-1].startswith("_") and not target.endswith("__init__"):
                bad.append(f"{module} imports private module {target}")
            bad.extend(f"{module} imports {target}.{n}" for n in names
                       if n.startswith("_") and n != "__version__")
    assert not bad, "\n".join(bad)


def test_one_subpackage_per_engine_with_a_short_init():
    for engine, cls in (("grid_lp", "GridLP"), ("ot_dual", "OTDual"),
                        ("rochetnet", "RochetNet")):
        init = PACKAGE / "solvers" / engine / "__init__.py"
        text = init.read_text(encoding="utf-8")
        assert f"import {cls}" in text and len(text.splitlines()) <= 12, engine
    assert (PACKAGE / "solvers" / "separate.py").exists()


def test_validation_never_imports_the_engines():
    for module, deps in _imports().items():
        if module.startswith("amm_opt.validation"):
            engines = [t for t, _ in deps if t.startswith("amm_opt.solvers")]
            assert not engines, f"{module} imports {engines}"


def test_no_module_is_longer_than_600_lines():
    long = {name: n for name, path in _modules().items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600}
    assert not long, long
