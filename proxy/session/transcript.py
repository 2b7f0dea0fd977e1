"""The handshake transcript exactly as RFC 6347 §4.2.6 defines it.

Every handshake message in order, each as if sent in one fragment (12-byte header
with fragment_offset 0 and fragment_length = length, then the body), each
retransmission once; the first ClientHello and the HelloVerifyRequest are NOT
part of it. The verdict rules hash prefixes of it to verify CertificateVerify
and Finished.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One message in the transcript."""

    sender: int
    """Index of the sending endpoint (0 or 1)."""
    msg_type: int
    message_seq: int
    raw: bytes
    """12-byte unfragmented header + body."""


class Transcript:
    """Ordered handshake messages of the current handshake."""

    def __init__(self) -> None:
        self.entries: list[TranscriptEntry] = []

    def add(self, sender: int, msg_type: int, message_seq: int, raw: bytes) -> None:
        """Append a first-copy message."""
        self.entries.append(TranscriptEntry(sender, msg_type, message_seq, raw))

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

    def all_bytes(self) -> bytes:
        """Every message so far."""
        return b"".join(e.raw for e in self.entries)
