"""DTLS handshake fragments (RFC 6347 §4.2.2) and their reassembly.

A handshake record holds one or more fragments, each with the 12-byte header
``msg_type(1) length(3) message_seq(2) fragment_offset(3) fragment_length(3)``.
:class:`Reassembler` rebuilds messages per direction and ``message_seq`` from
fragments arriving out of order, overlapping or duplicated, and recognises
retransmissions as copies even when they are split at different boundaries
than the first transmission (OpenSSL does that; tshark 4.0 then wrongly reports
"New fragment overlaps old data").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from proxy.decode.dtls.reader import DecodeError, Reader

HEADER_LENGTH = 12
_HEADER = struct.Struct(">BBHHBHBH")
"""msg_type, length (8+16 bits), message_seq, fragment_offset (8+16), fragment_length (8+16)."""
MAX_MESSAGE_LENGTH = 1 << 20
"""Refuse to buffer messages claiming more than 1 MiB (certificate chains are far smaller)."""
MAX_PENDING = 64
"""Messages in reassembly per direction; the oldest is forgotten beyond this."""


@dataclass(slots=True)
class HandshakeFragment:
    """One fragment of a handshake message, as it appeared in a record.

    Not frozen (made per datagram; a frozen dataclass's ``__init__`` costs about
    four times as much, docs/performance.md), but never changed once made."""

    msg_type: int
    length: int
    message_seq: int
    fragment_offset: int
    fragment_length: int
    body: bytes
    offset: int
    """Offset of the 12-byte header in the datagram."""

    @property
    def whole(self) -> bool:
        """The fragment is the entire message."""
        return self.fragment_offset == 0 and self.fragment_length == self.length


def encode_header(msg_type: int, length: int, message_seq: int) -> bytes:
    """The 12-byte header of an unfragmented message (the transcript form)."""
    return (
        bytes([msg_type])
        + length.to_bytes(3, "big")
        + message_seq.to_bytes(2, "big")
        + b"\x00\x00\x00"
        + length.to_bytes(3, "big")
    )


def parse_fragments(fragment: bytes, base: int = 0) -> list[HandshakeFragment]:
    """All handshake fragments in a (plaintext) handshake record payload.

    ``base`` is the payload's offset in the datagram. Raises :class:`DecodeError`.
    """
    out: list[HandshakeFragment] = []
    n = len(fragment)
    if n >= HEADER_LENGTH:  # the common case: one whole message, one unpack
        msg_type, len_hi, len_lo, seq, off_hi, off_lo, flen_hi, flen_lo = _HEADER.unpack_from(
            fragment
        )
        length, frag_off = (len_hi << 16) | len_lo, (off_hi << 16) | off_lo
        frag_len = (flen_hi << 16) | flen_lo
        if n == HEADER_LENGTH + frag_len and frag_off + frag_len <= length:
            return [HandshakeFragment(msg_type, length, seq, frag_off, frag_len,
                                      fragment[HEADER_LENGTH:], base)]
    r = Reader(fragment, base)
    while not r.eof():
        start = r.offset
        msg_type = r.pull_uint8("handshake type")
        length = r.pull_uint24("handshake length")
        seq = r.pull_uint16("message_seq")
        frag_off = r.pull_uint24("fragment_offset")
        frag_len = r.pull_uint24("fragment_length")
        if frag_off + frag_len > length:
            raise DecodeError(
                start + 6,
                f"fragment {frag_off}+{frag_len} exceeds message length {length}",
            )
        body = r.pull_bytes(frag_len, "handshake fragment")
        out.append(HandshakeFragment(msg_type, length, seq, frag_off, frag_len, body, start))
    return out


@dataclass(slots=True)
class AssembledMessage:
    """A complete handshake message (one copy of it).

    Not frozen (made per datagram; a frozen dataclass's ``__init__`` costs about
    four times as much, docs/performance.md), but never changed once made."""

    msg_type: int
    message_seq: int
    body: bytes
    frames: tuple[int, ...]
    """Frames that carried the fragments of this copy, in arrival order."""
    copy: int
    """1 for the first complete transmission, n for the n-th."""
    fragmented: bool
    differs: bool = False
    """This copy's bytes differ from the first copy's."""

    @property
    def raw(self) -> bytes:
        """Header (as if unfragmented) + body: the transcript form."""
        return encode_header(self.msg_type, len(self.body), self.message_seq) + self.body


@dataclass
class _Copy:
    buf: bytearray
    covered: list[tuple[int, int]] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    pieces: int = 0

    def add(self, start: int, data: bytes, frame: int) -> bool:
        """Add bytes at ``start``; True when they contradict bytes already held."""
        end = start + len(data)
        conflict = False
        for a, b in self.covered:
            lo, hi = max(a, start), min(b, end)
            if lo < hi and self.buf[lo:hi] != data[lo - start : hi - start]:
                conflict = True
        self.buf[start:end] = data
        self.covered = _merge([*self.covered, (start, end)])
        if frame not in self.frames:
            self.frames.append(frame)
        self.pieces += 1
        return conflict

    def complete(self) -> bool:
        n = len(self.buf)
        return n == 0 or self.covered == [(0, n)]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans.sort()
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


@dataclass
class _Message:
    msg_type: int
    length: int
    current: _Copy
    copies_done: int = 0
    first_body: bytes | None = None


@dataclass(frozen=True, slots=True)
class FragmentProblem:
    """A fragment that could not be used (conflicting header or contents)."""

    message_seq: int
    reason: str


@dataclass(frozen=True, slots=True)
class PartialMessage:
    """A message still missing fragments: what arrived of it."""

    message_seq: int
    msg_type: int
    length: int
    covered: tuple[tuple[int, int], ...]
    """Byte ranges received, merged."""
    frames: tuple[int, ...]


class Reassembler:
    """Rebuilds the handshake messages of ONE direction."""

    def __init__(self) -> None:
        self._msgs: dict[int, _Message] = {}

    def partial(self) -> PartialMessage | None:
        """The lowest message_seq whose first copy is still incomplete, or None."""
        for seq in sorted(self._msgs):
            m = self._msgs[seq]
            if m.copies_done == 0 and m.current.covered:
                c = m.current
                return PartialMessage(seq, m.msg_type, m.length, tuple(c.covered),
                                      tuple(c.frames))
        return None

    def add(
        self, frag: HandshakeFragment, frame: int
    ) -> tuple[AssembledMessage | None, FragmentProblem | None]:
        """Feed one fragment; returns a message when this fragment completes a copy,
        and/or a problem when the fragment disagrees with what was seen before."""
        if frag.length > MAX_MESSAGE_LENGTH:
            return None, FragmentProblem(
                frag.message_seq, f"message length {frag.length} is implausibly large"
            )
        m = self._msgs.get(frag.message_seq)
        if m is None:
            if len(self._msgs) >= MAX_PENDING:
                del self._msgs[min(self._msgs)]
            m = _Message(frag.msg_type, frag.length, _Copy(bytearray(frag.length)))
            self._msgs[frag.message_seq] = m
        elif m.msg_type != frag.msg_type or m.length != frag.length:
            return None, FragmentProblem(
                frag.message_seq,
                f"fragment says type {frag.msg_type} length {frag.length}, earlier fragments of "
                f"message_seq {frag.message_seq} said type {m.msg_type} length {m.length}",
            )
        problem = None
        if m.current.add(frag.fragment_offset, frag.body, frame):
            problem = FragmentProblem(
                frag.message_seq,
                f"overlapping fragment at {frag.fragment_offset} carries different bytes",
            )
        if not m.current.complete():
            return None, problem
        done = m.current
        body = bytes(done.buf)
        m.copies_done += 1
        if m.first_body is None:
            m.first_body = body
        m.current = _Copy(bytearray(m.length))
        msg = AssembledMessage(
            m.msg_type,
            frag.message_seq,
            body,
            tuple(done.frames),
            m.copies_done,
            fragmented=done.pieces > 1 or not frag.whole,
            differs=body != m.first_body,
        )
        return msg, problem
