"""The layers, by folder: the sans-IO core touches no sockets, no event loop and no UI,
and no module imports from a layer above its own. Proven on the source (every import,
even inside a function) and in a fresh interpreter."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PROXY = Path(__file__).resolve().parent.parent / "proxy"

SANS_IO = ("decode", "identify", "session", "datachannel", "verdict", "compare", "turn",
           "peerstate",
           "events.py", "sdp.py")
"""Below the line: bytes and time in, events out."""

FORBIDDEN_IN_CORE = ("asyncio", "asyncio_dgram", "socket", "selectors", "textual", "ui", "uvloop")

MAY_IMPORT: dict[str, set[str]] = {
    # folder (or top-level module) -> the proxy parts it may import (itself included)
    "events.py": set(),
    "decode": {"events.py"},
    "sdp.py": {"events.py"},
    "identify": {"events.py", "decode"},
    # the session hands its decrypted application data to its SCTP association
    "session": {"events.py", "decode", "identify", "datachannel"},
    "datachannel": {"events.py", "decode", "sdp.py"},
    "verdict": {"events.py", "decode", "session", "datachannel", "sdp.py"},
    "turn": {"events.py", "decode"},
    "peerstate": {"events.py"},
    "compare": {"events.py", "decode", "identify", "session"},
    "capture": {"events.py", "decode"},
    "bus.py": {"events.py"},
    "export": {"events.py", "bus.py", "capture"},
    "relay": {"events.py", "bus.py", "decode", "identify", "session", "verdict", "compare",
              "sdp.py", "capture", "export", "turn", "peerstate"},
    "analyze": {"events.py", "decode", "identify", "session", "verdict", "compare", "sdp.py",
                "capture", "turn", "peerstate"},
    "report": {"events.py", "decode", "analyze", "compare", "capture"},
    "demo": {"events.py", "bus.py", "decode", "session", "verdict", "relay", "capture",
             "export"},
    "cli": {"events.py", "bus.py", "decode", "identify", "session", "verdict", "compare",
            "sdp.py", "capture", "export", "relay", "analyze", "demo", "turn", "report",
            "peerstate", "__init__.py"},
    "__main__.py": {"cli"},
    "__init__.py": set(),
}


def _part(path: Path) -> str:
    """The layer a source file belongs to: its folder under proxy/, or its own name."""
    rel = path.relative_to(PROXY)
    return rel.parts[0]


def _target(module: str) -> str | None:
    """The layer an imported ``proxy.*`` module belongs to."""
    parts = module.split(".")
    if parts[0] != "proxy":
        return None
    if len(parts) == 1:
        return "__init__.py"
    head = parts[1]
    return head if (PROXY / head).is_dir() else f"{head}.py"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "proxy":
                names += [f"proxy.{a.name}" for a in node.names]
    return names


def test_every_file_belongs_to_a_known_layer() -> None:
    parts = {_part(p) for p in PROXY.rglob("*.py")}
    assert parts <= set(MAY_IMPORT), sorted(parts - set(MAY_IMPORT))


def test_no_upward_imports() -> None:
    bad = []
    for path in sorted(PROXY.rglob("*.py")):
        part = _part(path)
        for name in _imports(path):
            target = _target(name)
            if target is not None and target != part and target not in MAY_IMPORT[part]:
                bad.append(f"{path.relative_to(PROXY)} imports {name} ({part} -> {target})")
    assert bad == []


def test_the_sans_io_core_touches_no_socket_loop_or_ui() -> None:
    bad = []
    for path in sorted(PROXY.rglob("*.py")):
        if _part(path) not in SANS_IO:
            continue
        for name in _imports(path):
            if name.split(".")[0] in FORBIDDEN_IN_CORE:
                bad.append(f"{path.relative_to(PROXY)}: {name}")
    assert bad == []


def test_no_proxy_source_imports_textual_or_ui_even_lazily() -> None:
    """Not even inside a function: the UI is handed in through proxy.cli.tui by ui.cli."""
    bad = [
        f"{path.relative_to(PROXY)}: {name}"
        for path in sorted(PROXY.rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in ("textual", "ui")
    ]
    assert bad == []


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    """The walker finds imports inside functions (what the checks above rely on)."""
    src = tmp_path / "m.py"
    src.write_text("def f():\n    import asyncio\n    from proxy.relay import x\n")
    assert _imports(src) == ["asyncio", "proxy.relay"]
    assert _target("proxy.relay.app") == "relay" and _target("proxy.events") == "events.py"


def test_proxy_imports_without_textual() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import proxy\n"
        "for m in pkgutil.walk_packages(proxy.__path__, 'proxy.'):\n"
        "    if m.name not in ('proxy.__main__', 'proxy.cli.__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules\n"
        "             if n in ('textual', 'ui') or n.startswith(('textual.', 'ui.')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"proxy pulled in: {out.stdout.strip()}"
