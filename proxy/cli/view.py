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
    p.add_argument("--format", choices=("tui", "html", "markdown"), default="tui",
                   help="tui (default): open the log in the terminal UI; html: write one "
                   "self-contained page to attach to a bug report; markdown: for a GitHub "
                   "issue or a mail (both to stdout, or -o FILE; no terminal needed)")
    p.add_argument("-o", "--output", metavar="FILE", help="with --format html/markdown: "
                   "write to FILE (created 0600) instead of stdout")
    p.add_argument("--force", action="store_true", help="replace the -o file if it exists")
    p.add_argument("--redact", action="append", default=[], metavar="WHAT",
                   help="with --format html/markdown: 'addresses' (consistent pseudonyms) "
                   "and/or 'certificates' (fingerprints only); repeatable or comma-separated")


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
    if args.format != "tui":
        return _report(args, events)
    if args.output or args.redact:
        print("dtlsproxy view: -o and --redact need --format html or markdown",
              file=sys.stderr)
        return 2
    tui: Tui | None = args.tui
    if tui is None:
        print("dtlsproxy view: no terminal UI here (run the `dtlsproxy` command, not "
              "`python -m proxy`)", file=sys.stderr)
        return 2
    tui.view(events, {"view": str(path)}, history=args.history, export_dir=path.parent)
    return 0


def _report(args: argparse.Namespace, events: list[Any]) -> int:
    """Write the log as an HTML or Markdown report. Exit 2 on a bad option or an output
    that cannot be created, 3 when writing fails."""
    from proxy.capture.outfile import open_output
    from proxy.report import ReportOptions, render
    from proxy.report.redact import parse_redactions

    try:
        opts = ReportOptions.of(parse_redactions(args.redact), source=args.file.name)
    except ValueError as exc:
        print(f"dtlsproxy view: {exc}", file=sys.stderr)
        return 2
    text = render(events, args.format, opts)
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        out = open_output(args.output, force=args.force)
    except OSError as exc:
        print(f"dtlsproxy view: -o {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        with out:
            out.write(text)
    except OSError as exc:
        print(f"dtlsproxy view: writing {args.output} failed: {exc.strerror or exc}",
              file=sys.stderr)
        return 3
    return 0
