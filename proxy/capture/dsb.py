"""Which key log lines go into a capture's Decryption Secrets Blocks, and when.

:class:`SecretsFollower` follows key log files (a peer's ``SSLKEYLOGFILE``, as it
grows) for the handshakes a capture holds: it learns each client_random from the
ClientHellos written, and hands out the lines of that client_random (DTLS 1.2
``CLIENT_RANDOM``, DTLS 1.3 ``*_TRAFFIC_SECRET*`` and exporter lines) once they are
in the key log, never the lines of other connections. It is asked before each
datagram is written (:meth:`before`), and re-reads the files before a datagram that
carries an encrypted record, so a line the peer wrote in time precedes the records it
opens (tshark reads a secrets block only before the packets it decrypts). A line
found after such a record makes the capture :attr:`late`: the writer then moves the
blocks to the front at the end (:func:`proxy.capture.pcap.move_secrets_first`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from proxy.decode.keylog import CLIENT_RANDOM, TLS13_LABELS, KeyLog

TLS13_TRAFFIC = TLS13_LABELS[1:5]
"""CLIENT/SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT/SERVER_TRAFFIC_SECRET_0."""
DSB_LABELS = (CLIENT_RANDOM, *TLS13_LABELS)
REFRESH = 0.2
"""Seconds between two reads of the key log files while a handshake's lines are missing
(before an encrypted record they are read at once)."""
WAIT = 30.0
"""Seconds after a ClientHello during which its key log lines are waited for."""


class SecretsFollower:
    """The key log lines of the handshakes a capture holds (see the module doc)."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self.keylog = KeyLog.load(*paths)
        self._randoms: dict[bytes, tuple[float, set[str]]] = {}
        self._refreshed = float("-inf")
        self._encrypted_seen = False
        self.late = False
        """Some lines came after encrypted records they may open."""

    def __repr__(self) -> str:
        return f"SecretsFollower({len(self._randoms)} handshake(s), {self.keylog!r})"

    def before(self, ts: float, data: bytes) -> list[str]:
        """Lines to write before the datagram ``data`` received at ``ts``."""
        cr = client_random_of(data)
        if cr is not None and cr not in self._randoms and len(self._randoms) < 100_000:
            self._randoms[cr] = (ts, set())
        protected = encrypted_dtls(data)
        lines = self._lines(ts, force=protected)
        if lines and self._encrypted_seen:
            self.late = True
        self._encrypted_seen = self._encrypted_seen or protected
        return lines

    def final(self) -> list[str]:
        """Lines that came after the last datagram (at the end of the capture)."""
        lines = self._lines(float("inf"), force=True)
        if lines and self._encrypted_seen:
            self.late = True
        return lines

    def _lines(self, ts: float, force: bool) -> list[str]:
        waiting = {c: d for c, (t0, d) in self._randoms.items()
                   if not complete(d) and (ts - t0 < WAIT or ts == float("inf"))}
        if not waiting or (not force and ts - self._refreshed < REFRESH):
            return []
        self._refreshed = ts
        self.keylog.refresh()
        out: list[str] = []
        for c, done in waiting.items():
            for label in DSB_LABELS:
                secret = None if label in done else self.keylog.known(label, c)
                if secret is not None:
                    done.add(label)
                    out.append(f"{label} {c.hex()} {secret.hex()}")
        return out


def client_random_of(data: bytes) -> bytes | None:
    """The client_random of a datagram that starts with a ClientHello's first fragment
    (a plaintext handshake record, type 1, fragment_offset 0), else None."""
    if len(data) < 13 + 12 + 34 or data[0] != 22 or data[13] != 1:
        return None
    if data[19:22] != b"\x00\x00\x00":  # fragment_offset
        return None
    return data[13 + 12 + 2:13 + 12 + 34]


def encrypted_dtls(data: bytes) -> bool:
    """The datagram holds an encrypted DTLS record: a DTLS 1.3 unified header, or a DTLS
    1.0/1.2 record of epoch > 0 (record headers walked, nothing else parsed)."""
    pos = 0
    while pos + 13 <= len(data):
        first = data[pos]
        if first & 0xE0 == 0x20:
            return True
        if not 20 <= first <= 25:
            return False
        if data[pos + 3:pos + 5] != b"\x00\x00":
            return True
        pos += 13 + int.from_bytes(data[pos + 11:pos + 13], "big")
    return False


def complete(done: set[str]) -> bool:
    """A handshake's lines are all written: DTLS 1.2's master secret, or DTLS 1.3's four
    traffic secrets."""
    return CLIENT_RANDOM in done or done.issuperset(TLS13_TRAFFIC)
