"""The handshake transcript exactly as RFC 6347 §4.2.6 defines it.

Every handshake message in order, each as if sent in one fragment (12-byte header
with fragment_offset 0 and fragment_length = length, then the body), each
retransmission once; the first ClientHello and the HelloVerifyRequest are NOT
part of it. "In order" is the handshake's order, not the arrival order: a peer
buffers messages that arrive early and processes them by message_seq, so entries
are kept sorted by (flight, message_seq) -- a ServerHello whose first copy was
lost and that arrives after the ServerHelloDone still hashes before it. The verdict
rules hash prefixes of it to verify CertificateVerify
and Finished.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class TranscriptEntry:
    """One message in the transcript.

    Not frozen (made per datagram; a frozen dataclass's ``__init__`` costs about
    four times as much, docs/performance.md), but never changed once made."""

    sender: int
    """Index of the sending endpoint (0 or 1)."""
    flight: int
    msg_type: int
    message_seq: int
    raw: bytes
    """12-byte unfragmented header + body."""


class Transcript:
    """Ordered handshake messages of the current handshake."""

    def __init__(self) -> None:
        self.entries: list[TranscriptEntry] = []

    def add(self, sender: int, flight: int, msg_type: int, message_seq: int, raw: bytes) -> None:
        """Insert a first-copy message at its place in the handshake order."""
        entry = TranscriptEntry(sender, flight, msg_type, message_seq, raw)
        i = len(self.entries)
        while i > 0 and (self.entries[i - 1].flight, self.entries[i - 1].message_seq) > (
            flight, message_seq
        ):
            i -= 1
        self.entries.insert(i, entry)

    def restart_after_cookie(self) -> None:
        """A HelloVerifyRequest arrived: the first ClientHello leaves the transcript."""
        self.entries.clear()

    def bytes_before(self, sender: int, msg_type: int) -> bytes | None:
        """Concatenated messages before ``sender``'s first message of ``msg_type``
        (e.g. what a CertificateVerify signs); None when that message is absent."""
        out: list[bytes] = []
        for e in self.entries:
            if e.sender == sender and e.msg_type == msg_type:
                return b"".join(out)
            out.append(e.raw)
        return None

    def bytes_through(self, sender: int, msg_type: int) -> bytes | None:
        """Concatenated messages up to and including ``sender``'s ``msg_type``."""
        out: list[bytes] = []
        for e in self.entries:
            out.append(e.raw)
            if e.sender == sender and e.msg_type == msg_type:
                return b"".join(out)
        return None

    def find(self, sender: int, msg_type: int) -> TranscriptEntry | None:
        """``sender``'s first message of ``msg_type``."""
        for e in self.entries:
            if e.sender == sender and e.msg_type == msg_type:
                return e
        return None
