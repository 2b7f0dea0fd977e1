"""JSONL event log through structlog, with a size cap and rotation.

One line per event, rendered by :func:`proxy.capture.jsonl.event_to_json` as
``dtlsproxy analyze --format jsonl`` does (:func:`render_line`; the schema of
``docs/log-schema.md``): the same event gives the same line in both. structlog is
configured once, here: its one processor renders the event object to its line
(anything else logged is encoded as its dict), and a size-capped file logger writes
it. When the file would pass ``max_bytes`` it is rotated (``log.jsonl`` ->
``log.jsonl.1`` ... ``.N``, ``backups`` kept; 0 = start the file again). The file
is created mode 0600 and an existing one is appended to, never through a symlink
(:mod:`proxy.capture.outfile`). Media is never logged per packet: the decoder only emits
MediaStats, and key material never enters an event.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import MutableMapping
from pathlib import Path
from typing import IO, Any

import structlog

from proxy.capture.jsonl import event_to_json
from proxy.capture.outfile import open_output
from proxy.events import Event

_ENCODER = json.JSONEncoder(separators=(",", ":"))
"""The encoder ``dtlsproxy analyze --format jsonl`` uses (compact, ASCII)."""


def render_line(ev: Event) -> str:
    """The JSONL line of one event (without the newline)."""
    return event_to_json(ev)


class RotatingFileLogger:
    """A structlog logger that appends lines to a file, rotating at ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int, backups: int,
                 file: IO[str] | None = None) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.rotations = 0
        self._open(file)

    def _open(self, file: IO[str] | None = None) -> None:
        """Open the log (0600, appended to, no symlink), or take ``file`` (opened so)."""
        self._f = open_output(self.path, append=True) if file is None else file
        if stat.S_ISREG(os.fstat(self._f.fileno()).st_mode):
            self.size = self._f.seek(0, os.SEEK_END)
        else:  # a FIFO or a device (/dev/null): nothing to rotate
            self.size, self.max_bytes = 0, 0

    def _rotate(self) -> None:
        self._f.close()
        self.rotations += 1
        if self.backups > 0:
            for i in range(self.backups - 1, 0, -1):
                src = self.path.with_name(f"{self.path.name}.{i}")
                if src.exists():
                    src.replace(self.path.with_name(f"{self.path.name}.{i + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._open()

    def msg(self, message: str) -> None:
        """Write one line (structlog calls this with the rendered JSON)."""
        n = len(message.encode("utf-8")) + 1
        if self.max_bytes and self.size > 0 and self.size + n > self.max_bytes:
            self._rotate()
        self._f.write(message + "\n")
        self.size += n

    info = msg

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()


def _render(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> str:
    """structlog's renderer: the event's JSONL line (any other call: its dict as JSON)."""
    ev = event_dict["event"]
    return event_to_json(ev) if isinstance(ev, Event) else _ENCODER.encode(event_dict)


class JsonlWriter:
    """Writes events as JSONL through a structlog logger (configured once, here)."""

    def __init__(self, path: Path, max_bytes: int = 100 * 1024 * 1024, backups: int = 3,
                 file: IO[str] | None = None) -> None:
        self.file = RotatingFileLogger(path, max_bytes, backups, file)
        self.log = structlog.wrap_logger(
            self.file,
            processors=[_render],
            cache_logger_on_first_use=True,
        )
        self.count = 0

    def write(self, events: list[Event]) -> None:
        """Log each event (one line each) and flush."""
        for ev in events:
            self.log.msg(ev)
            self.count += 1
        self.file.flush()

    def close(self) -> None:
        self.file.close()
