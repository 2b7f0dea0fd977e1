"""``dtlsproxy`` command line: run | demo | analyze | view | sdp.

The console script is ``ui.cli:main``, which passes the Textual UI in as ``tui``
(:mod:`proxy.tui`); ``python -m proxy.cli`` has no UI and runs headless.

Each subcommand lives in its own module ``proxy.cmd_<name>`` exposing
``add_parser(subparsers)`` and ``main(args) -> int``; this file only wires them.
When the command line names a subcommand, only that module is imported (start-up
time of ``dtlsproxy analyze``); otherwise (``--help``, no or an unknown command)
every subcommand is registered.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence

from proxy.tui import Tui

SUBCOMMANDS = ("demo", "run", "analyze", "view", "sdp")

EXIT_OK = 0
EXIT_USAGE = 2

ANALYZE_GC_THRESHOLD = (100_000, 50, 100)
"""``gc.set_threshold`` of ``analyze``: a batch run that keeps every event collects
garbage less often (about 10% of its CPU time on a large capture); the long-running
relay keeps Python's defaults."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered (or just ``only``)."""
    parser = argparse.ArgumentParser(
        prog="dtlsproxy",
        description="DTLS debugging proxy for WebRTC: forwards every datagram untouched, "
        "decodes the handshake, names the culprit of a failure.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS if only is None else (only,):
        module = importlib.import_module(f"proxy.cmd_{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, tui: Tui | None = None) -> int:
    """Parse ``argv`` and run the subcommand; ``tui`` shows the terminal UI when given."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    chosen = args_list[0] if args_list and args_list[0] in SUBCOMMANDS else None
    parser = build_parser(chosen)
    args = parser.parse_args(args_list)
    args.tui = tui
    module = importlib.import_module(f"proxy.cmd_{args.command}")
    if args.command == "analyze":
        gc.set_threshold(*ANALYZE_GC_THRESHOLD)
    try:
        rc: int = module.main(args)
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
