"""The core never imports textual (nor the ui package): proven in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys


def test_proxy_imports_without_textual() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import proxy\n"
        "for m in pkgutil.walk_packages(proxy.__path__, 'proxy.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules\n"
        "             if n in ('textual', 'ui') or n.startswith(('textual.', 'ui.')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"proxy pulled in: {out.stdout.strip()}"


def test_no_proxy_source_imports_textual_or_ui_even_lazily() -> None:
    """Not even inside a function: the UI is handed in through proxy.tui by ui.cli."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "proxy"
    bad = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad += [f"{path.name}: {n}" for n in names if n.split(".")[0] in ("textual", "ui")]
    assert bad == []
