"""List the longest functions in proxy/ and ui/ by lines (a readability check, issue 19).

    python scripts/longest.py [--most N] [DIR ...]

A function's length is its span in lines (decorators and docstring included), nested
functions counted inside their parent too. Prints `lines  path:line  qualified.name`, longest
first, then the total of the listed lengths.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path


def functions(path: Path) -> list[tuple[int, str, int, str]]:
    """(lines, path, first line, qualified name) of every function in one file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str, int, str]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                end = child.end_lineno or child.lineno
                found.append((end - start + 1, str(path), start, prefix + child.name))
                walk(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, prefix + child.name + ".")

    walk(tree, "")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", default=["proxy", "ui"])
    parser.add_argument("--most", type=int, default=20)
    args = parser.parse_args()
    found = [
        item
        for root in args.dirs
        for path in sorted(Path(root).rglob("*.py"))
        for item in functions(path)
    ]
    found.sort(key=lambda item: (-item[0], item[1], item[2]))
    top = found[: args.most]
    for lines, path, start, name in top:
        print(f"{lines:5d}  {path}:{start}  {name}")
    print(f"{sum(item[0] for item in top):5d}  total of the {len(top)} longest")


if __name__ == "__main__":
    main()
