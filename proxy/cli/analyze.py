"""``dtlsproxy analyze CAPTURE``: decode a pcap/pcapng offline, as a ladder or JSONL.

Exit codes: 0 analysed (also when no DTLS was found: the summary says so),
1 the file is not a readable capture, 2 usage error (also a key log or SDP that cannot be
read, an output file that cannot be created), 3 writing the output failed (disk full...),
4 with ``--check``: a session did not establish or has a finding, 141 the reader of
stdout closed it (``| head``; nothing printed). Captures may be
gzip-compressed, or a pipe.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

from proxy.analyze.pipeline import Key, analyze_share
from proxy.capture.jsonl import event_to_json
from proxy.capture.outfile import OutputError, open_output
from proxy.capture.pcap import Capture, CaptureError
from proxy.events import Event

if TYPE_CHECKING:  # the ladder and reports are imported for their formats only (start-up)
    from proxy.analyze.ladder import SessionLadder
    from proxy.report import ReportOptions, SessionBlock
    from proxy.verdict import VerdictEngine

REPORTS = ("html", "markdown")
"""Formats made by :mod:`proxy.report`."""

EXIT_OK = 0
EXIT_BAD_CAPTURE = 1
EXIT_WRITE_FAILED = 3
EXIT_FINDINGS = 4
"""With ``--check``: a session did not establish, or has a finding."""
EXIT_BROKEN_PIPE = 141
"""As a shell reports a program ended by SIGPIPE (``git log | head`` exits so too)."""


def add_parser(sub: Any) -> None:
    """Register ``analyze``."""
    p = sub.add_parser(
        "analyze",
        help="decode a capture file (pcap/pcapng) offline",
        description="Decode every DTLS handshake in a capture (any port: DTLS is found by "
        "content) and print a ladder per session, or JSONL events (same schema as the live "
        "log, docs/log-schema.md). Exit codes: 0 ok (also when no DTLS was found), "
        "1 not a readable capture, 2 usage (also an unreadable key log or SDP, an "
        "unwritable -o), 3 writing the output failed, 4 with --check: a session did not "
        "establish or has a finding, 141 stdout closed by its reader "
        "(| head). CAPTURE may be gzip-compressed (.pcapng.gz) or a pipe.",
        epilog="example: dtlsproxy analyze call.pcapng --format jsonl -o call.jsonl",
    )
    p.add_argument("capture", metavar="CAPTURE", help="pcap or pcapng file")
    p.add_argument(
        "--keylog", action="append", default=[], type=Path, metavar="FILE",
        help="NSS key log (CLIENT_RANDOM lines); repeatable, e.g. one per peer",
    )
    p.add_argument("--rsa-key", action="append", default=[], type=Path, metavar="FILE",
                   help="the server's RSA private key (PEM, unencrypted): the premaster of a "
                   "TLS_RSA_* handshake is decrypted with it (Wireshark's RSA keys list); "
                   "repeatable, each matched to the server certificate")
    p.add_argument("--no-capture-keys", action="store_true",
                   help="do not use the key log lines of the capture's own Decryption "
                   "Secrets Blocks (pcapng; used by default, as tshark does)")
    p.add_argument("--sdp", action="append", default=[], type=Path, metavar="FILE",
                   help="SDP offer/answer whose a=fingerprint lines the certificates must match")
    p.add_argument("--show-payloads", action="store_true",
                   help="show data channel messages (user data; decrypted with --keylog)")
    p.add_argument("--format", choices=("text", "jsonl", "html", "markdown"), default="text",
                   help="output format: text (a ladder per session), jsonl (every event), "
                   "html (one self-contained page to attach to a bug report), markdown (to "
                   "paste into a GitHub issue or a mail)")
    p.add_argument("--redact", action="append", default=[], metavar="WHAT",
                   help="for html and markdown: 'addresses' (every IP address becomes a "
                   "consistent pseudonym) and/or 'certificates' (fingerprints only); "
                   "repeatable or comma-separated")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="write to FILE instead of stdout (created mode 0600; an existing "
                   "file only with --force; a symbolic link is never followed)")
    p.add_argument("--force", action="store_true", help="replace the -o file if it exists")
    p.add_argument("-v", "--verbose", action="store_true", help="show every retransmitted copy")
    p.add_argument("--session", action="append", default=[], type=_session_id, metavar="ID",
                   help="show only this session (s1, s2... as the overview lists them); "
                   "repeatable")
    p.add_argument("--check", action="store_true",
                   help="exit 4 when a session did not establish or has a finding (for CI: "
                   "a capture of a handshake that must be clean)")
    p.add_argument("--peer-dump", action="append", default=[], type=Path, metavar="FILE",
                   help="a browser's own view: Chrome's webrtc-internals 'Create Dump' or "
                        "Firefox's about:webrtc data (repeatable): its SDPs are checked against "
                        "the session it matches (ICE ufrag), and its view shown beside the "
                        "proxy's; one process (--jobs 1)")
    p.add_argument("-j", "--jobs", type=_jobs, default=None, metavar="N",
                   help="processes that share the sessions between them (default: one per "
                   "CPU for a capture of 128 KiB or more, but no more than the sessions its "
                   "first 500 datagrams open); the output is the same for any N")


def _session_id(text: str) -> str:
    if not (text[:1] == "s" and text[1:].isdigit() and int(text[1:]) > 0):
        raise argparse.ArgumentTypeError(f"not a session id (s1, s2...): {text!r}")
    return text


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of processes: {text!r}") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"must be between 1 and 64, not {n}")
    return n


class _Progress:
    """A progress bar on stderr when it is a terminal and the analysis takes a while
    (shown after 0.5 s, updated twice a second): how much of the file is read, the frame."""

    WIDTH = 30

    def __init__(self) -> None:
        self.enabled = sys.stderr.isatty()
        self._next = time.monotonic() + 0.5

    def __call__(self, frame: int, capture: Capture) -> None:
        if self.enabled and time.monotonic() >= self._next:
            self._next = time.monotonic() + 0.5
            print("\r" + self.line(frame, capture.fraction_read()), end="", file=sys.stderr,
                  flush=True)

    @classmethod
    def line(cls, frame: int, fraction: float | None) -> str:
        """``analyzing [#######.......]  42%  frame 6066`` (no bar when the size is unknown)."""
        if fraction is None:
            return f"analyzing: frame {frame}"
        fraction = min(max(fraction, 0.0), 1.0)
        done = round(cls.WIDTH * fraction)
        bar = "#" * done + "." * (cls.WIDTH - done)
        return f"analyzing [{bar}] {fraction:4.0%}  frame {frame}"

    def done(self) -> None:
        if self.enabled:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off for a batch run, restored after.

    ``analyze`` keeps every event until it writes them: each collection scans ever more
    live objects and finds almost nothing (about 100 cyclic objects on a 1000-handshake
    capture), and one scan of the young generation at the raised threshold took ~50 ms
    of a 0.6 s run. Reference counting still frees everything else at once.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def main(args: argparse.Namespace) -> int:
    """Run the analysis; see the module docstring for exit codes."""
    with cyclic_gc_paused():
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    from proxy.analyze.parallel import ShareFailed
    from proxy.cli.inputs import capture_key_lines, load_secrets, read_peer_dumps, read_sdps
    from proxy.verdict import VerdictEngine, VerdictOptions

    try:
        embedded = None if getattr(args, "no_capture_keys", False) else capture_key_lines(
            args.capture)
        secrets = load_secrets(args.keylog, getattr(args, "rsa_key", []), embedded=embedded)
        hook = VerdictEngine(VerdictOptions(sdps=read_sdps(args.sdp),
                                            show_payloads=getattr(args, "show_payloads", False)),
                             secrets)
        args.peer_views = read_peer_dumps(getattr(args, "peer_dump", []))
    except ValueError as e:
        print(f"dtlsproxy analyze: {e}", file=sys.stderr)
        return 2
    hook.max_states = sys.maxsize  # offline: every session's rule state is kept
    try:
        args.report = report_options(args, args.capture)
    except ValueError as e:
        print(f"dtlsproxy analyze: {e}", file=sys.stderr)
        return 2
    try:  # before the analysis, not after it: 0600, no symlink, no clobbering
        out = _Output(open_output(args.output, force=args.force) if args.output else sys.stdout)
    except OutputError as e:
        print(f"dtlsproxy analyze: -o {e}", file=sys.stderr)
        return 2
    warnings: list[str] = []
    progress = _Progress()
    try:
        try:
            if args.format == "jsonl":
                tally = _Tally(args.session)
                write_lines(tally.count(_jsonl_lines(args, hook, warnings, progress)), out)
                trouble, shown = tally.trouble(), tally.shown
            elif args.format in REPORTS:
                from proxy.report import document

                blocks = _blocks(args, hook, warnings, progress)
                out.write(document(blocks, args.format, args.report))
                trouble = [block.sid for block in blocks if block.troubled]
                shown = {block.sid for block in blocks}
            else:
                ladders = _blocks(args, hook, warnings, progress)
                _write_text(args, ladders, out)
                trouble = _trouble({ladder.sid: ladder.state or "" for ladder in ladders},
                                   {ladder.sid for ladder in ladders if ladder.findings},
                                   {ladder.sid: ladder.note or "" for ladder in ladders})
                shown = {ladder.sid for ladder in ladders}
            out.flush()
        finally:
            progress.done()
            out.close()
    except (CaptureError, ShareFailed) as e:  # a child's failure: no traceback either
        print(f"dtlsproxy analyze: {e}", file=sys.stderr)
        if args.output and os.path.isfile(args.output) and not os.path.islink(args.output):
            os.unlink(args.output)  # created above: nothing (or half an analysis) in it
        return EXIT_BAD_CAPTURE
    except BrokenPipeError:  # `dtlsproxy analyze ... | head`: the reader has had enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing left to flush at exit
        return EXIT_BROKEN_PIPE
    except _WriteFailed as e:
        print(f"dtlsproxy analyze: writing {args.output or 'to stdout'} failed: "
              f"{e.error.strerror or e.error}", file=sys.stderr)
        return EXIT_WRITE_FAILED
    missing = [sid for sid in args.session if sid not in shown]
    if missing:
        warnings.append(f"no session {', '.join(missing)} in {args.capture}")
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.check and trouble:
        print(f"dtlsproxy analyze: --check: {len(trouble)} session(s) failed or have a "
              f"finding: {', '.join(trouble)}", file=sys.stderr)
        return EXIT_FINDINGS
    return EXIT_OK


class _WriteFailed(Exception):
    """Writing the output failed (not reading the capture): ``error`` says why."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _Output:
    """The output stream; an OSError writing it (but a closed pipe) is :class:`_WriteFailed`,
    so that it is told apart from one reading the capture."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as e:
            raise _WriteFailed(e) from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise _WriteFailed(e) from None

    def close(self) -> None:
        if self.stream is sys.stdout:
            return
        try:
            self.stream.close()
        except BrokenPipeError:
            raise
        except OSError as e:
            raise _WriteFailed(e) from None


def _jobs_for(args: argparse.Namespace) -> int:
    """The processes to analyse in (with several, the legs of each handshake are found
    first, in a light pre-pass: they stay in one process)."""
    from proxy.analyze.parallel import default_jobs
    from proxy.analyze.pipeline import leg_groups

    jobs: int | None = args.jobs
    if getattr(args, "peer_views", None):
        if jobs is not None and jobs > 1:
            print("warning: --peer-dump: analysed in one process (--jobs 1)", file=sys.stderr)
        return 1
    if jobs is None:
        jobs = default_jobs(args.capture)
    elif jobs > 1 and not os.path.isfile(args.capture):
        print(f"dtlsproxy analyze: {args.capture} is not a regular file (a pipe?): analysed "
              "in one process (each of --jobs reads the whole capture)", file=sys.stderr)
        jobs = 1
    if jobs > 1:
        args.leg_groups = leg_groups(args.capture)  # the legs of a handshake: one process
    return jobs


def _jsonl_lines(args: argparse.Namespace, hook: VerdictEngine, warnings: list[str],
                 progress: _Progress) -> Iterator[str]:
    """The JSONL lines in one process's order, as they are made (streamed: a capture of
    any size is written with the memory of its sessions' state, not of its output)."""
    from proxy.analyze.parallel import run_shares

    jobs = _jobs_for(args)
    if jobs == 1:  # no keys to sort by
        only = args.session
        for _, ev in _share_events(args, hook, (0, 1), warnings, progress):
            if not only or ev.session in only:
                yield event_to_json(ev)
        return

    def work(share: tuple[int, int]) -> Iterator[tuple[Key, str]]:
        return _jsonl_share(args, hook, share, warnings, progress)

    for _, line in run_shares(jobs, work):
        yield line


def _blocks(args: argparse.Namespace, hook: VerdictEngine, warnings: list[str],
            progress: _Progress) -> list[Any]:
    """A :class:`SessionLadder` (text) or :class:`SessionBlock` (reports) per session, in
    one process's order (all of them: the overview that comes first needs every one)."""
    from proxy.analyze.parallel import run_shares

    def work(share: tuple[int, int]) -> list[tuple[Key, Any]]:
        events = [ev for _, ev in _share_events(args, hook, share, warnings, progress)
                  if not args.session or ev.session in args.session]
        if args.format in REPORTS:
            return _report_blocks(args, events)
        return _ladder_blocks(args, events)

    return [block for _, block in run_shares(_jobs_for(args), work)]


def _write_text(args: argparse.Namespace, ladders: list[SessionLadder], out: _Output) -> None:
    from proxy.analyze.changes import change_overview
    from proxy.analyze.ladder import overview

    shapes = [ladder.shape for ladder in ladders if ladder.shape is not None]
    lines = overview(ladders) + change_overview(shapes) + [
        line for ladder in ladders for line in ladder.lines]
    if not ladders:
        lines = [f"no DTLS or STUN found in {args.capture}"
                 + (f" for {', '.join(args.session)}" if args.session else "")]
    out.write("\n".join(lines) + "\n")


_TROUBLE_STATES = frozenset({"failed", "stalled", "handshaking", "alert", "unconfirmed"})
"""States of a session ``--check`` fails on (``idle``: ICE only, no DTLS tried;
``unconfirmed``: both Finished sent, but the capture does not show the last flight
accepted)."""


def _trouble(state: dict[str, str], found: set[str],
             notes: dict[str, str] | None = None) -> list[str]:
    """The sessions that did not establish (and tried) or have a finding, in order; one
    without a finding says why when it was not judged (unconfirmed, one direction)."""
    def why(sid: str) -> str:
        if sid in found:
            return ""
        if (notes or {}).get(sid, "").startswith("only one direction captured"):
            return " (one direction captured)"
        return " (unconfirmed)" if state[sid] == "unconfirmed" else ""

    return [sid + why(sid) for sid in state if state[sid] in _TROUBLE_STATES or sid in found]


class _Tally:
    """What ``--check`` and ``--session`` need to know of the JSONL lines written: each
    session's last state, the sessions with a verdict, the sessions asked for that were
    seen."""

    def __init__(self, wanted: list[str]) -> None:
        self.state: dict[str, str] = {}
        self.notes: dict[str, str] = {}
        self.found: set[str] = set()
        self.shown: set[str] = set()
        self._wanted = [(sid, f'"session":"{sid}"') for sid in wanted]

    def count(self, lines: Iterable[str]) -> Iterator[str]:
        """``lines``, passed through, counted on the way."""
        import json

        for line in lines:
            if line.startswith('{"event":"session",'):
                ev = json.loads(line)
                self.state[ev["session"]] = ev["state"]
                self.notes[ev["session"]] = ev["note"] or ""
            elif line.startswith('{"event":"verdict",'):
                self.found.add(json.loads(line)["session"])
            for sid, needle in self._wanted:
                if needle in line:
                    self.shown.add(sid)
            yield line

    def trouble(self) -> list[str]:
        """The sessions that did not establish (and tried) or have a finding, in order."""
        return _trouble(self.state, self.found, self.notes)


def _share_events(args: argparse.Namespace, hook: VerdictEngine, share: tuple[int, int],
                  warnings: list[str], progress: _Progress) -> Iterator[tuple[Key, Event]]:
    """One share's events; share 0 (this process) reports warnings and progress."""
    from proxy.session import Tracker

    first = share[0] == 0
    tracker = Tracker(verdict_hook=hook, max_sessions=sys.maxsize)
    stream = analyze_share(
        args.capture, share,
        tracker=tracker,
        on_warning=warnings.append if first else None,
        on_frame=progress if first else None,
        legs=getattr(args, "leg_groups", None),
    )
    views = getattr(args, "peer_views", None)
    if views:
        from proxy.analyze.peers import with_peer_views

        return with_peer_views(stream, views, tracker, hook)
    return stream


def _jsonl_share(args: argparse.Namespace, hook: VerdictEngine, share: tuple[int, int],
                 warnings: list[str], progress: _Progress) -> Iterator[tuple[Key, str]]:
    encode = event_to_json
    only = args.session
    for key, ev in _share_events(args, hook, share, warnings, progress):
        if not only or ev.session in only:
            yield key, encode(ev)


def _ladder_blocks(args: argparse.Namespace, events: list[Event]
                   ) -> list[tuple[Key, SessionLadder]]:
    from proxy.analyze.ladder import render_blocks

    return [((0, 0, int(ladder.sid[1:]), 0), ladder)
            for ladder in render_blocks(events, verbose=args.verbose)]


def _report_blocks(args: argparse.Namespace, events: list[Event]
                   ) -> list[tuple[Key, SessionBlock]]:
    from proxy.report import session_blocks

    return [((0, 0, int(block.sid[1:]), 0), block)
            for block in session_blocks(events, args.format, args.report)]


def report_options(args: argparse.Namespace, source: str) -> ReportOptions | None:
    """The report's options from ``--format`` and ``--redact`` (None for text and JSONL);
    ValueError for ``--redact`` without a report format, or a bad value."""
    if args.format not in REPORTS:
        if args.redact:
            raise ValueError("--redact applies to --format html or markdown")
        return None
    from proxy.report import ReportOptions
    from proxy.report.redact import parse_redactions

    return ReportOptions.of(parse_redactions(args.redact), source=os.path.basename(source))


class _Writable(Protocol):
    def write(self, text: str, /) -> object: ...


def write_jsonl(events: Iterable[Event], out: _Writable) -> None:
    """One JSON object per event (docs/log-schema.md): ``event_to_dict`` as compact JSON."""
    write_lines(map(event_to_json, events), out)


def write_lines(lines: Iterable[str], out: _Writable) -> None:
    """Each line and a newline, written in batches."""
    batch: list[str] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= 512:
            batch.append("")
            out.write("\n".join(batch))
            batch.clear()
    if batch:
        batch.append("")
        out.write("\n".join(batch))
