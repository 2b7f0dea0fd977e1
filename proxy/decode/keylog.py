"""NSS key log files (``SSLKEYLOGFILE``): parse, merge several, detect disagreement.

One :class:`KeyLog` may hold several files (e.g. one written by each peer). It
keeps every secret per source, so two files that give different master secrets
for the same client_random are visible through :meth:`KeyLog.conflicts`; that
disagreement is itself a finding (the peers derived different keys).

Secrets never appear in ``repr``/``str``, in problems or in conflicts: bad lines
are reported by source, line number and what is wrong with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

CLIENT_RANDOM = "CLIENT_RANDOM"
TLS13_LABELS = (
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
    "EARLY_EXPORTER_SECRET",
    "EXPORTER_SECRET",
)
"""TLS/DTLS 1.3 labels kept (``<label> <client_random> <secret>``)."""
LABELS = (CLIENT_RANDOM, *TLS13_LABELS)

_HEX = re.compile(r"^[0-9a-fA-F]*$")
_LABEL_TOKEN = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
_RSA_LINE = re.compile(r"^RSA Session-ID:(?P<sid>\S*) Master-Key:(?P<mk>\S*)$")
MISSING_HINT = "cannot decrypt Finished / encrypted alerts without it"


class KeyLogError(Exception):
    """A key log file could not be opened or read (the message says what that blocks)."""


@dataclass(frozen=True, slots=True)
class KeyLogProblem:
    """A line that was skipped: where, and what is wrong (never the secret itself)."""

    source: str
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.problem}"


@dataclass(frozen=True, slots=True, repr=False)
class KeyLogEntry:
    """One secret line. ``secret`` is excluded from repr/str."""

    label: str
    client_random: bytes
    """32-byte client random (for ``RSA Session-ID`` lines: the session id)."""
    secret: bytes = field(repr=False)
    source: str
    line: int

    def __repr__(self) -> str:
        return (
            f"KeyLogEntry({self.label} {self.client_random.hex()[:16]}... "
            f"from {self.source}:{self.line})"
        )

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class KeyLogConflict:
    """Sources that disagree on the secret for one (label, client_random)."""

    label: str
    client_random: bytes
    groups: tuple[tuple[str, ...], ...]
    """One tuple of ``source:line`` per distinct secret (secrets are not shown)."""

    def __str__(self) -> str:
        parts = " vs ".join(", ".join(g) for g in self.groups)
        return (
            f"{self.label} for client_random {self.client_random.hex()[:16]}... "
            f"differs between {parts}"
        )


class KeyLog:
    """Secrets from one or more NSS key log files, keyed by (label, client_random)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, bytes], list[KeyLogEntry]] = {}
        self.rsa_sessions: list[KeyLogEntry] = []
        """``RSA Session-ID`` lines (kept, not used for decryption)."""
        self.problems: list[KeyLogProblem] = []
        """Lines that were skipped, with the reason."""
        self.sources: list[str] = []
        """Files (or text sources) loaded, in order."""
        self._followed: dict[str, tuple[int, int]] = {}
        """File path -> (bytes consumed, lines consumed): files are followed as they grow
        (a browser's SSLKEYLOGFILE gets a line per handshake while the proxy runs)."""

    # ------------------------------------------------------------ loading

    @classmethod
    def load(cls, *paths: str | Path) -> KeyLog:
        """Read every file in ``paths`` (raises :class:`KeyLogError` for a missing one)."""
        log = cls()
        for p in paths:
            log.add_file(p)
        return log

    def add_file(self, path: str | Path) -> None:
        """Read one key log file into this log, and follow it (see :meth:`refresh`)."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise KeyLogError(f"key log file {p} not found: {MISSING_HINT}") from None
        except OSError as exc:
            raise KeyLogError(
                f"key log file {p} cannot be read ({exc.strerror or exc}): {MISSING_HINT}"
            ) from None
        self.sources.append(str(p))
        self._followed[str(p)] = (0, 0)
        self._consume(str(p), data)

    def _consume(self, source: str, data: bytes) -> None:
        """Parse the complete lines of ``data`` (bytes after what ``source`` gave so far)."""
        done, lines = self._followed[source]
        end = data.rfind(b"\n") + 1
        if end == 0:
            return
        text = data[:end].decode("utf-8", errors="replace")
        self._parse_text(text, source, first_line=lines + 1)
        self._followed[source] = (done + end, lines + text.count("\n"))

    def refresh(self) -> bool:
        """Read lines appended to followed files since the last read; True if any."""
        grew = False
        for source, (done, _lines) in list(self._followed.items()):
            try:
                with open(source, "rb") as f:
                    f.seek(done)
                    data = f.read()
            except OSError:
                continue
            if data:
                before = len(self._entries)
                self._consume(source, data)
                grew = grew or len(self._entries) != before
        return grew

    def add_text(self, text: str, source: str = "<text>") -> None:
        """Parse key log ``text``; ``source`` names it in problems and conflicts."""
        self.sources.append(source)
        self._parse_text(text, source)

    def _parse_text(self, text: str, source: str, first_line: int = 1) -> None:
        for number, raw in enumerate(text.splitlines(), start=first_line):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            problem = self._parse_line(line, source, number)
            if problem is not None:
                self.problems.append(KeyLogProblem(source, number, problem))

    def _parse_line(self, line: str, source: str, number: int) -> str | None:
        if line.startswith("RSA Session-ID:"):
            m = _RSA_LINE.match(line)
            if m is None:
                return "RSA Session-ID line is not 'RSA Session-ID:<hex> Master-Key:<hex>'"
            sid, err1 = _unhex(m["sid"], "session id", None)
            mk, err2 = _unhex(m["mk"], "master key", (48,))
            if err1 or err2:
                return f"RSA Session-ID: {err1 or err2}"
            assert sid is not None and mk is not None
            self.rsa_sessions.append(KeyLogEntry("RSA Session-ID", sid, mk, source, number))
            return None
        fields = line.split()
        label = fields[0]
        if label not in LABELS:
            shown = label if _LABEL_TOKEN.match(label) else "(not a label)"
            return f"unknown label {shown}; line ignored"
        if len(fields) != 3:
            return f"{label}: expected 3 fields (label, client random, secret), got {len(fields)}"
        cr, err = _unhex(fields[1], "client random", (32,))
        if err:
            return f"{label}: {err}"
        lengths = (48,) if label == CLIENT_RANDOM else (32, 48, 64)
        secret, err = _unhex(fields[2], "secret", lengths)
        if err:
            return f"{label}: {err}"
        assert cr is not None and secret is not None
        self._entries.setdefault((label, cr), []).append(
            KeyLogEntry(label, cr, secret, source, number)
        )
        return None

    # ------------------------------------------------------------ lookup

    def master_secret(self, client_random: bytes) -> bytes | None:
        """The DTLS 1.2 master secret for ``client_random`` (first one seen), or None.

        When sources disagree, :meth:`conflicts` says so; this returns the first.
        """
        return self.secret(CLIENT_RANDOM, client_random)

    def master_secrets(self, client_random: bytes) -> dict[str, bytes]:
        """Master secret per source for ``client_random`` (the first line of each source)."""
        return self.secrets(CLIENT_RANDOM, client_random)

    def secret(self, label: str, client_random: bytes) -> bytes | None:
        """The first secret for (label, client_random), or None (after re-reading
        followed files, which may have grown since)."""
        entries = self._entries.get((label, client_random))
        if not entries and self._followed and self.refresh():
            entries = self._entries.get((label, client_random))
        return entries[0].secret if entries else None

    def known(self, label: str, client_random: bytes) -> bytes | None:
        """The first secret for (label, client_random) read so far (no file is re-read)."""
        entries = self._entries.get((label, client_random))
        return entries[0].secret if entries else None

    def secrets(self, label: str, client_random: bytes) -> dict[str, bytes]:
        """Secret per source for (label, client_random)."""
        if (label, client_random) not in self._entries and self._followed:
            self.refresh()
        out: dict[str, bytes] = {}
        for e in self._entries.get((label, client_random), []):
            out.setdefault(e.source, e.secret)
        return out

    def entries(self) -> Iterator[KeyLogEntry]:
        """Every secret line kept (RSA Session-ID lines excluded), in load order per key."""
        for group in self._entries.values():
            yield from group

    def client_randoms(self, label: str = CLIENT_RANDOM) -> list[bytes]:
        """Client randoms that have a ``label`` secret."""
        return [cr for (lab, cr) in self._entries if lab == label]

    def conflicts(self) -> list[KeyLogConflict]:
        """(label, client_random) pairs whose lines disagree on the secret."""
        out: list[KeyLogConflict] = []
        for (label, cr), group in self._entries.items():
            by_secret: dict[bytes, list[str]] = {}
            for e in group:
                by_secret.setdefault(e.secret, []).append(f"{e.source}:{e.line}")
            if len(by_secret) > 1:
                out.append(KeyLogConflict(label, cr, tuple(tuple(v) for v in by_secret.values())))
        return out

    def __contains__(self, client_random: object) -> bool:
        return (CLIENT_RANDOM, client_random) in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return (
            f"KeyLog({len(self.sources)} source(s), {len(self._entries)} secret(s), "
            f"{len(self.problems)} problem(s), {len(self.conflicts())} conflict(s))"
        )

    __str__ = __repr__


def _unhex(text: str, what: str, lengths: Iterable[int] | None) -> tuple[bytes | None, str | None]:
    if not _HEX.match(text) or len(text) % 2:
        return None, f"{what} is not hex ({len(text)} characters)"
    value = bytes.fromhex(text)
    allowed = tuple(lengths) if lengths is not None else None
    if allowed is not None and len(value) not in allowed:
        want = " or ".join(str(n) for n in allowed)
        return None, f"{what} is {len(value)} bytes, expected {want}"
    return value, None
