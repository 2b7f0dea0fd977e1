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
