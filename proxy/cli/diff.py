"""``dtlsproxy diff A B``: two handshakes side by side, message by message.

A and B name sessions as ``FILE#ID`` (``good.pcapng#s1 bad.pcapng#s3``, or two sessions of
one file: ``call.pcapng#s1 call.pcapng#s7``); ``#ID`` may be left out when the file has one
session. A FILE is a capture (pcap/pcapng, analysed as ``analyze`` does) or a JSONL log
(``run --log-file``, ``analyze --format jsonl``, the TUI's export).

Exit codes (as diff(1)): 0 the handshakes are the same (but for the values that always
differ), 1 they differ, 2 trouble (unreadable file, unknown session, usage).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from proxy.events import Event, SessionOpened

EXIT_SAME = 0
EXIT_DIFFERENT = 1
EXIT_TROUBLE = 2


def add_parser(sub: Any) -> None:
    """Register ``diff``."""
    p = sub.add_parser(
        "diff",
        help="compare two handshakes (a good one and a bad one)",
        description="Compare two DTLS sessions message by message in flight order: same, "
        "changed (with the fields that differ: versions, suites, extensions, groups, "
        "schemes, SRTP, cookie, certificates by SHA-256, subject, key, validity, sizes, "
        "fragmentation, retransmissions, timing), only in A, only in B. Values that differ "
        "on every handshake (randoms, key shares, signatures, ciphertext) are 'differ, as "
        "expected' unless --all; a signature's verification result is compared. The first "
        "line is one sentence. Exit 0 same, 1 different, 2 trouble.",
        epilog="examples: dtlsproxy diff good.pcapng#s1 bad.pcapng#s1 | "
        "dtlsproxy diff call.jsonl#s1 call.jsonl#s7 --format jsonl",
    )
    p.add_argument("a", metavar="A", help="FILE#ID: the reference session (FILE: a capture or "
                   "a JSONL log; #ID may be left out when FILE holds one session)")
    p.add_argument("b", metavar="B", help="FILE#ID: the session compared with A")
    p.add_argument("--all", action="store_true",
                   help="show every field, and count values that always differ as changes")
    p.add_argument("--format", choices=("text", "jsonl"), default="text", help="output format")
    p.add_argument("--keylog", action="append", default=[], type=Path, metavar="FILE",
                   help="NSS key log for the captures (Finished checks); repeatable")
    p.add_argument("--sdp", action="append", default=[], type=Path, metavar="FILE",
                   help="SDP whose a=fingerprint lines the certificates must match")


class DiffError(Exception):
    """A selector that names nothing readable (the message says what and why)."""


def split_selector(text: str) -> tuple[Path, str | None]:
    """``FILE#ID`` -> (FILE, ID); ``FILE`` -> (FILE, None)."""
    path, sep, sid = text.rpartition("#")
    if not sep or not sid or "/" in sid:
        return Path(text), None
    return Path(path), sid


def _is_jsonl(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(1)
    except OSError as e:
        raise DiffError(f"{path}: {e.strerror}") from None
    return head == b"{"


def load_events(path: Path, keylogs: list[Path], sdp: list[Path]) -> list[Event]:
    """Every event of a JSONL log or of a capture (analysed with the verdict rules)."""
    if _is_jsonl(path):
        from proxy.capture.eventlog import LogFormatError, events_from_jsonl

        try:
            return events_from_jsonl(path)
        except (OSError, LogFormatError) as e:
            raise DiffError(f"{path}: {e}") from None
    from proxy.analyze.pipeline import analyze_capture
    from proxy.capture.pcap import CaptureError
    from proxy.cli.inputs import load_secrets, read_sdps
    from proxy.session import Tracker
    from proxy.verdict import VerdictEngine, VerdictOptions

    try:
        hook = VerdictEngine(VerdictOptions(sdps=read_sdps(sdp)), load_secrets(keylogs))
    except ValueError as e:
        raise DiffError(str(e)) from None
    try:
        return list(analyze_capture(path, tracker=Tracker(verdict_hook=hook,
                                                          max_sessions=sys.maxsize)))
    except CaptureError as e:
        raise DiffError(f"{path}: {e}") from None


def pick_session(events: list[Event], path: Path, sid: str | None) -> str:
    """The session the selector names (the only one when ``sid`` is None)."""
    ids = list(dict.fromkeys(ev.session for ev in events
                             if isinstance(ev, SessionOpened)))
    if sid is None:
        if len(ids) == 1:
            return ids[0]
        listing = ", ".join(ids) if ids else "none"
        raise DiffError(f"{path} holds {len(ids)} sessions ({listing}): name one, "
                        f"e.g. {path}#{ids[0] if ids else 's1'}")
    if sid not in ids:
        raise DiffError(f"{path} has no session {sid} (it has {', '.join(ids) or 'none'})")
    return sid


def main(args: argparse.Namespace) -> int:
    """Run the comparison; see the module docstring for exit codes."""
    from proxy.compare.diff import diff_sessions, record_of

    loaded: dict[Path, list[Event]] = {}
    records = []
    try:
        for text in (args.a, args.b):
            path, sid = split_selector(text)
            if path not in loaded:
                loaded[path] = load_events(path, args.keylog, args.sdp)
            events = loaded[path]
            chosen = pick_session(events, path, sid)
            records.append(record_of(events, chosen, f"{path}#{chosen}"))
    except DiffError as e:
        print(f"dtlsproxy diff: {e}", file=sys.stderr)
        return EXIT_TROUBLE
    result = diff_sessions(records[0], records[1], everything=args.all)
    if args.format == "jsonl":
        from proxy.compare.render import diff_jsonl

        lines = diff_jsonl(result)
        out = "".join(json.dumps(obj, separators=(",", ":")) + "\n" for obj in lines)
    else:
        from proxy.compare.render import diff_text

        out = diff_text(result, everything=args.all)
    try:
        sys.stdout.write(out)
        sys.stdout.flush()
    except BrokenPipeError:
        return 141
    different = any(m.status != "same" for m in result.messages) or any(
        f.status not in ("same", "expected") for f in result.session)
    return EXIT_DIFFERENT if different else EXIT_SAME
