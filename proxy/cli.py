"""``dtlsproxy`` command line: run | demo | analyze | view | sdp.

Each subcommand lives in its own module ``proxy.cmd_<name>`` exposing
``add_parser(subparsers)`` and ``main(args) -> int``; this file only wires them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = ("demo", "run", "analyze", "view", "sdp")

EXIT_OK = 0
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="dtlsproxy",
        description="DTLS debugging proxy for WebRTC: forwards every datagram untouched, "
        "decodes the handshake, names the culprit of a failure.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"proxy.cmd_{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``dtlsproxy`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(f"proxy.cmd_{args.command}")
    try:
        rc: int = module.main(args)
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main())
