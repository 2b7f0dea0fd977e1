"""`dtlsproxy view FILE.jsonl`: reopen an exported or live JSONL log in the TUI (no network)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from proxy.cli.tui import Tui


def add_parser(sub: Any) -> None:
    """Register `view`."""
    p = sub.add_parser(
        "view",
        help="open a JSONL event log (exported with `e`, or written by run/analyze) in the TUI",
        description="Reopen a JSONL event log in the TUI, with no network: sessions, "
        "ladder, alerts and culprits as they were seen.",
    )
    p.add_argument("file", type=Path, help="JSONL log: one event object per line")
    p.add_argument("--history", type=int, default=5000,
                   help="events kept per session (default 5000)")


def main(args: argparse.Namespace) -> int:
    """Load the log, then run the app until the user quits. Exit 1 on an unreadable log."""
    from proxy.capture.eventlog import LogFormatError, events_from_jsonl

    path: Path = args.file
    try:
        events = events_from_jsonl(path)
    except OSError as exc:
        print(f"dtlsproxy view: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except LogFormatError as exc:
        print(f"dtlsproxy view: {path}: {exc}", file=sys.stderr)
        return 1
    tui: Tui | None = args.tui
    if tui is None:
        print("dtlsproxy view: no terminal UI here (run the `dtlsproxy` command, not "
              "`python -m proxy`)", file=sys.stderr)
        return 2
    tui.view(events, {"view": str(path)}, history=args.history, export_dir=path.parent)
    return 0
