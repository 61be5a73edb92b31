"""List the longest functions and classes of a source tree (code lines: no blanks, comments or
docstrings). Usage: python scripts/longest_functions.py [FOLDER] [--top N]"""

from __future__ import annotations

import argparse
import ast
import io
import pathlib
import tokenize


def code_lines(source: str, node: ast.AST) -> int:
    """Lines of ``node`` that hold code (not blank, not only a comment, not a docstring)."""
    lines = set(range(node.lineno, node.end_lineno + 1))
    doc_lines: set[int] = set()
    for sub in ast.walk(node):
        body = getattr(sub, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(getattr(body[0], "value", None), ast.Constant) and \
                isinstance(body[0].value.value, str):
            doc_lines |= set(range(body[0].lineno, body[0].end_lineno + 1))
    text = source.splitlines()
    comment_only = {t.start[0] for t in tokenize.generate_tokens(io.StringIO(source).readline)
                    if t.type == tokenize.COMMENT and text[t.start[0] - 1].strip().startswith("#")}
    return sum(1 for i in lines - doc_lines - comment_only if text[i - 1].strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", nargs="?", default="amm_opt")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--functions", action="store_true", help="functions only, no classes")
    args = parser.parse_args()
    root = pathlib.Path(args.folder)
    rows = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            kinds = (ast.FunctionDef, ast.AsyncFunctionDef) + \
                (() if args.functions else (ast.ClassDef,))
            if isinstance(node, kinds):
                kind = "class" if isinstance(node, ast.ClassDef) else "def"
                rows.append((code_lines(source, node), f"{path.relative_to(root)}:{node.lineno}",
                             f"{kind} {node.name}"))
    for n, where, what in sorted(rows, reverse=True)[: args.top]:
        print(f"{n:5d}  {what:32s} {where}")


if __name__ == "__main__":
    main()
