"""``dtlsproxy`` command line: run | demo | analyze | view | sdp.

The console script is ``ui.cli:console``, which passes the Textual UI in as ``tui``
(:mod:`proxy.cli.tui`); ``python -m proxy`` has no UI and runs headless.

Each subcommand lives in its own module ``proxy.cli.<name>`` exposing
``add_parser(subparsers)`` and ``main(args) -> int`` (:class:`Command`); :data:`COMMANDS`
is the one table of them. When the command line names a subcommand, only that module is
imported (start-up time of ``dtlsproxy analyze``); otherwise (``--help``, no or an
unknown command) every subcommand is registered.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, Protocol

from proxy.cli.tui import Tui


class Command(Protocol):
    """What a subcommand module provides."""

    def add_parser(self, sub: Any) -> None:
        """Register the subcommand's parser on ``sub`` (argparse subparsers)."""

    def main(self, args: argparse.Namespace) -> int:
        """Run it; the exit code."""


def _demo() -> Command:
    from proxy.cli import demo

    return demo


def _run() -> Command:
    from proxy.cli import run

    return run


def _analyze() -> Command:
    from proxy.cli import analyze

    return analyze


def _view() -> Command:
    from proxy.cli import view

    return view


def _sdp() -> Command:
    from proxy.cli import sdp

    return sdp


def _diff() -> Command:
    from proxy.cli import diff

    return diff


COMMANDS: dict[str, Callable[[], Command]] = {
    "demo": _demo,
    "run": _run,
    "analyze": _analyze,
    "view": _view,
    "sdp": _sdp,
    "diff": _diff,
}
"""Subcommand name -> its module, imported on first use."""

SUBCOMMANDS = tuple(COMMANDS)

EXIT_OK = 0
EXIT_USAGE = 2


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with every subcommand registered (or just ``only``)."""
    parser = argparse.ArgumentParser(
        prog="dtlsproxy",
        description="DTLS debugging proxy for WebRTC: forwards every datagram untouched, "
        "decodes the handshake, names the culprit of a failure.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS if only is None else (only,):
        COMMANDS[name]().add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None, tui: Tui | None = None) -> int:
    """Parse ``argv`` and run the subcommand; ``tui`` shows the terminal UI when given."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    chosen = args_list[0] if args_list and args_list[0] in SUBCOMMANDS else None
    gc_enabled = gc.isenabled()
    if chosen == "analyze":
        # a batch run that keeps every event: the cycle collector only costs time
        # (proxy.cli.analyze.cyclic_gc_paused), from the imports on; the relay keeps it
        gc.disable()
    try:
        parser = build_parser(chosen)
        args = parser.parse_args(args_list)
        args.tui = tui
        rc = COMMANDS[args.command]().main(args)
    except KeyboardInterrupt:
        return 130
    finally:
        if gc_enabled:
            gc.enable()
    return rc


def exit_after(rc: int, argv: Sequence[str]) -> NoReturn:
    """End the console script with ``rc``. After ``analyze``, which built every event
    of the capture, skip the interpreter's teardown of them (``os._exit`` once stdout
    and stderr are flushed; mypy ends the same way): about 0.02 s per run, all of it
    freeing memory the process gives back anyway. Every other command exits normally.
    """
    if argv[:1] == ["analyze"]:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # e.g. a closed pipe: exit as sys.exit would report it
            sys.exit(rc or 1)
        os._exit(rc)
    sys.exit(rc)


if __name__ == "__main__":
    exit_after(main(), sys.argv[1:])
