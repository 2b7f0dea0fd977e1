"""Recording off the forwarding path: the pcapng of both legs and the JSONL log are
written by a child process.

The relay's process only pickles what is to be written (a drain's legs, a batch of
events) into frames and writes them to a pipe without ever blocking: the pcapng
encoding (dpkt, ~40 us per leg), the JSONL rendering (structlog) and the disk writes
happen in the child (``python -m proxy.export.offload``), on another core. When the
child cannot keep up, the pipe fills, then a bounded queue of frames here
(``max_pending`` bytes); beyond it a frame is dropped and counted (``dropped``: the
datagrams not captured, the events not logged) and :meth:`Recording.report` says so in
a ``recording_behind`` Notice. Datagrams are never dropped: they were forwarded before
they were recorded.

The output files are opened here, by :mod:`proxy.capture.outfile` (0600, no symlink,
an existing pcapng only with ``force``, the log appended to), so that a problem is an
error at start; the child gets the open files. It reports back on a second pipe, one
JSON object a line: an output that failed (``{"failed": "pcap", "error": ...}``), and
what it wrote at the end.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxy.capture.outfile import open_fd
from proxy.events import Event, Notice
from proxy.export.pcapng import Leg

MAX_PENDING = 16 << 20
"""Bytes of frames kept here while the pipe to the writer is full."""

PIPE_BYTES = 1 << 20
"""Pipe buffer asked of the kernel (``F_SETPIPE_SZ``; 64 KiB by default)."""

REPORT_EVERY = 5.0
"""Seconds between two ``recording_behind`` notices."""

CLOSE_TIMEOUT = 30.0
"""Seconds :meth:`Recording.close` waits for the writer to take and write the rest."""

_HEAD = struct.Struct("<I")
_LEGS, _EVENTS = "L", "E"


@dataclass
class Counts:
    """Records queued for the writer and records dropped, per output."""

    queued: dict[str, int] = field(default_factory=lambda: {"pcap": 0, "log": 0})
    dropped: dict[str, int] = field(default_factory=lambda: {"pcap": 0, "log": 0})


class Recording:
    """The relay's recording outputs, written by a child process (see the module doc).

    ``pcap``: pcapng of both legs of every datagram (refused if it exists, unless
    ``force``); ``log``: the JSONL log (appended to, rotated at ``log_max_bytes``);
    ``pcap_keys``: key log files whose lines for the captured handshakes go into the
    pcapng (Decryption Secrets Blocks, ``run --pcap-keys``).
    Raises :class:`proxy.capture.outfile.OutputError` when an output cannot be opened,
    OSError when the writer cannot be started.
    """

    def __init__(self, *, pcap: Path | None = None, log: Path | None = None,
                 force: bool = False, log_max_bytes: int = 100 * 1024 * 1024,
                 log_backups: int = 3, max_pending: int = MAX_PENDING,
                 pcap_keys: Sequence[Path] = ()) -> None:
        self.pcap, self.log = pcap, log
        self.max_pending = max_pending
        self.counts = Counts()
        self.failed: dict[str, str] = {}
        """Output -> why the writer stopped writing it."""
        self.written: dict[str, int] = {}
        """Output -> records the writer wrote (known once it ended)."""
        self._frames: deque[tuple[memoryview, str, int]] = deque()
        self._pending = 0
        self._reported: dict[str, int] = {"pcap": 0, "log": 0}
        self._report_ts = 0.0
        self._status = b""
        fds: list[int] = []
        spec: dict[str, Any] = {"log_max_bytes": log_max_bytes, "log_backups": log_backups,
                                "pcap_keys": [str(p) for p in pcap_keys]}
        try:
            if pcap is not None:
                spec["pcap"] = (str(pcap), open_fd(pcap, force=force))
                fds.append(spec["pcap"][1])
            if log is not None:
                spec["log"] = (str(log), open_fd(log, append=True))
                fds.append(spec["log"][1])
            data_r, self._data_w = os.pipe()
            fds.append(data_r)
            self._status_r, status_w = os.pipe()
            fds.append(status_w)
            with contextlib.suppress(OSError):  # Linux; a bigger buffer is only a hint
                fcntl.fcntl(self._data_w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            os.set_blocking(self._data_w, False)
            os.set_blocking(self._status_r, False)
            spec["status"] = status_w
            self.child = subprocess.Popen(
                [sys.executable, "-m", "proxy.export.offload", json.dumps(spec)],
                stdin=data_r, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=fds, close_fds=True,  # nothing on the terminal (the TUI owns it)
            )
        finally:
            for fd in fds:
                os.close(fd)
        self.closed = False

    # ------------------------------------------------------------ the relay side

    def tap(self, batch: Sequence[tuple[float, list[Leg]]]) -> None:
        """Queue the legs of a drain's datagrams for the pcapng (a Recorder tap)."""
        if self.pcap is not None and batch:
            self._queue(_LEGS, list(batch), "pcap", len(batch))

    def events(self, events: list[Event]) -> None:
        """Queue events for the JSONL log (a bus subscriber's handler)."""
        if self.log is not None and events:
            self._queue(_EVENTS, events, "log", len(events))

    def _queue(self, kind: str, payload: object, output: str, n: int) -> None:
        if self.closed:
            return
        frame = pickle.dumps((kind, payload), protocol=pickle.HIGHEST_PROTOCOL)
        self.flush()
        if self._pending + len(frame) > self.max_pending:
            self.counts.dropped[output] += n  # the writer is this far behind: not kept
            return
        self.counts.queued[output] += n
        self._frames.append((memoryview(_HEAD.pack(len(frame)) + frame), output, n))
        self._pending += len(frame) + _HEAD.size
        self.flush()

    def flush(self) -> None:
        """Hand queued frames to the pipe, as much as it takes now (never blocks)."""
        frames = self._frames
        while frames:
            view, output, n = frames[0]
            try:
                sent = os.write(self._data_w, view)
            except BlockingIOError:
                return
            except OSError:  # the writer is gone: what it did not get is lost
                self._lose_queue()
                return
            self._pending -= sent
            if sent == len(view):
                frames.popleft()
            else:
                frames[0] = (view[sent:], output, n)
                return

    def _lose_queue(self) -> None:
        for _, output, n in self._frames:
            self.counts.dropped[output] += n
            self.counts.queued[output] -= n
        self._frames.clear()
        self._pending = 0

    def report(self, now: float, final: bool = False) -> list[Event]:
        """Notices for the bus: a failed output (once), records dropped since the last
        report (at most every :data:`REPORT_EVERY` s, and at the end)."""
        self.flush()
        out: list[Event] = []
        for output, error in self._read_status():
            if output == "writer":
                text = f"the recording process failed ({error}): nothing more is recorded"
            else:
                path = self.pcap if output == "pcap" else self.log
                text = f"writing {path} failed: {error}; no more records go there"
            out.append(Notice(now, "", "error", "recording_failed",
                              text + " (forwarding goes on)"))
        if not self.closed and "writer" not in self.failed and self.child.poll() is not None:
            self.failed["writer"] = f"exit {self.child.returncode}"
            out.append(Notice(now, "", "error", "recording_failed",
                              f"the recording process ended (exit {self.child.returncode}): "
                              "nothing more is recorded (forwarding goes on)"))
        dropped = self.counts.dropped
        new = {k: dropped[k] - self._reported[k] for k in dropped}
        if any(new.values()) and (final or now - self._report_ts >= REPORT_EVERY):
            self._reported = dict(dropped)
            self._report_ts = now
            parts = []
            if new["pcap"]:
                parts.append(f"{new['pcap']} datagrams not captured in {self.pcap}")
            if new["log"]:
                parts.append(f"{new['log']} events not logged to {self.log}")
            total = (f" ({dropped['pcap']} datagrams and {dropped['log']} events in all)"
                     if final else "")
            out.append(Notice(now, "", "warning", "recording_behind",
                              f"recording could not keep up: {', '.join(parts)}{total}; "
                              "every datagram was forwarded"))
        return out

    def _read_status(self) -> list[tuple[str, str]]:
        """New failures the writer reported (and, at its end, what it wrote)."""
        try:
            while chunk := os.read(self._status_r, 65536):
                self._status += chunk
        except (BlockingIOError, OSError):
            pass
        failures = []
        *lines, self._status = self._status.split(b"\n")
        for line in lines:
            msg = json.loads(line)
            if "failed" in msg and msg["failed"] not in self.failed:
                self.failed[msg["failed"]] = msg["error"]
                failures.append((msg["failed"], msg["error"]))
            if "written" in msg:
                self.written = msg["written"]
        return failures

    def close(self, timeout: float = CLOSE_TIMEOUT) -> list[Event]:
        """Hand the writer the rest (waiting at most ``timeout`` s), let it finish, and
        return the final notices (a failure, drops including those of this close)."""
        if self.closed:
            return []
        deadline = time.monotonic() + timeout
        while self._frames and time.monotonic() < deadline:
            self.flush()
            if self._frames:
                select.select([], [self._data_w], [], max(0.0, deadline - time.monotonic()))
        self._lose_queue()  # what the writer would not take in time
        self.closed = True
        os.close(self._data_w)
        try:
            self.child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.child.kill()
            self.child.wait()
        with contextlib.suppress(OSError):
            os.set_blocking(self._status_r, True)
        out = self.report(time.time(), final=True)
        os.close(self._status_r)
        return out


# ------------------------------------------------------------------ the writer


def _write_status(fd: int, **msg: object) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, json.dumps(msg).encode() + b"\n")


def _writer(spec: dict[str, Any]) -> int:
    """The child: frames from stdin into the outputs until the relay closes the pipe."""
    from proxy.export.jsonl import JsonlWriter
    from proxy.export.pcapng import PcapngTap

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the relay's to handle
    status = int(spec["status"])
    tap = log = None
    if "pcap" in spec:
        path, fd = spec["pcap"]
        keys = spec.get("pcap_keys") or []
        follow = None
        if keys:  # run --pcap-keys: the handshakes' key log lines into the pcapng
            from proxy.capture.dsb import SecretsFollower

            follow = SecretsFollower(keys)
        tap = PcapngTap(Path(path), file=os.fdopen(fd, "wb"), secrets=follow)
    if "log" in spec:
        path, fd = spec["log"]
        log = JsonlWriter(Path(path), spec["log_max_bytes"], spec["log_backups"],
                          file=os.fdopen(fd, "a", encoding="utf-8", newline="\n"))
    written = {"pcap": 0, "log": 0}
    source = sys.stdin.buffer
    while True:
        head = source.read(_HEAD.size)
        if len(head) < _HEAD.size:
            break
        (n,) = _HEAD.unpack(head)
        frame = source.read(n)
        if len(frame) < n:
            break
        kind, payload = pickle.loads(frame)
        try:
            if kind == _LEGS and tap is not None:
                tap(payload)
                written["pcap"] += len(payload)
            elif kind == _EVENTS and log is not None:
                log.write(payload)
                written["log"] += len(payload)
        except OSError as exc:  # disk full...: this output stops, the other goes on
            output = "pcap" if kind == _LEGS else "log"
            _write_status(status, failed=output, error=exc.strerror or str(exc))
            if kind == _LEGS:
                tap = None
            else:
                log = None
    for out in (tap, log):
        if out is not None:
            with contextlib.suppress(OSError):
                out.close()
    _write_status(status, written=written)
    return 0


def _main(spec: dict[str, Any]) -> int:
    try:
        return _writer(spec)
    except BaseException as exc:  # told to the relay, which says it (no terminal here)
        _write_status(int(spec["status"]), failed="writer", error=repr(exc))
        return 1


if __name__ == "__main__":
    sys.exit(_main(json.loads(sys.argv[1])))
