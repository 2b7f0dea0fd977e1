"""The SCTP packet (RFC 9260 §3): the 12-byte common header, then chunks.

Over DTLS (RFC 8261) one DTLS application data record carries one SCTP packet.
:func:`parse_packet` never raises: a packet that is not one at all is a
:class:`MalformedPacket` with the reason; a chunk that does not frame ends the chunk
list with ``error`` set (the chunks before it are kept), a chunk whose body does not
decode keeps its bytes and its ``error``.

The checksum: RFC 9260 uses CRC32c; over DTLS, RFC 8261 §4 lets a stack rely on
DTLS's integrity and RFC 9653 lets both sides agree (INIT's Zero Checksum
Acceptable) to send 0. :func:`checksum_status` says which is seen (``zero``,
``ok``, ``bad``); it is computed on demand (the tracker samples it), with
google-crc32c (the maintained C implementation that aiortc also uses).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.decode.dtls.reader import DecodeError
from proxy.decode.sctp import registry as reg
from proxy.decode.sctp.chunks import ChunkBody, parse_chunk_body

HEADER = 12


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk: its header and typed body (None when the body does not decode)."""

    type: int
    flags: int
    offset: int
    """Where it starts in the packet."""
    length: int
    """The chunk length field (header included, padding excluded)."""
    body: ChunkBody | None
    error: str | None = None
    raw: bytes = field(default=b"", repr=False)
    """The chunk's value bytes when its body did not decode (for the hex view)."""

    @property
    def name(self) -> str:
        """``DATA``, ``INIT ACK``... or ``unknown (N)``."""
        return reg.name(reg.CHUNK_TYPES, self.type)


@dataclass(frozen=True, slots=True)
class SctpPacket:
    """One SCTP packet as sent."""

    src_port: int
    dst_port: int
    verification_tag: int
    checksum: int
    """As sent, read little-endian as CRC32c is stored (RFC 9260 Appendix A)."""
    chunks: tuple[Chunk, ...]
    error: str | None = None
    """Why the chunk list ended early (a chunk that does not frame), else None."""


@dataclass(frozen=True, slots=True)
class MalformedPacket:
    """Bytes that are no SCTP packet at all (shorter than the common header)."""

    reason: str
    length: int


def parse_packet(data: bytes) -> SctpPacket | MalformedPacket:
    """The packet of ``data`` (a decrypted DTLS application data record). Never raises."""
    if len(data) < HEADER:
        return MalformedPacket(f"{len(data)} bytes: shorter than the 12-byte SCTP common "
                               "header", len(data))
    src = int.from_bytes(data[0:2], "big")
    dst = int.from_bytes(data[2:4], "big")
    vtag = int.from_bytes(data[4:8], "big")
    checksum = int.from_bytes(data[8:12], "little")
    chunks: list[Chunk] = []
    pos = HEADER
    error: str | None = None
    end = len(data)
    while pos < end:
        if end - pos < 4:
            error = f"offset {pos}: {end - pos} bytes left, not a 4-byte chunk header"
            break
        ctype, flags = data[pos], data[pos + 1]
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        name = reg.name(reg.CHUNK_TYPES, ctype)
        if length < 4:
            error = f"offset {pos}: {name} chunk length {length} is less than its header"
            break
        if pos + length > end:
            error = (f"offset {pos}: {name} chunk of {length} bytes runs past the packet "
                     f"({end - pos} left)")
            break
        value = data[pos + 4:pos + length]
        try:
            body: ChunkBody | None = parse_chunk_body(ctype, flags, value, pos + 4)
            problem = None
        except DecodeError as e:
            body, problem = None, f"offset {e.offset} in {name}: {e.reason}"
        chunks.append(Chunk(ctype, flags, pos, length, body, problem,
                            value if body is None else b""))
        pos += length + (-length) % 4
    if not chunks and error is None:
        error = "no chunk after the common header"
    return SctpPacket(src, dst, vtag, checksum, tuple(chunks), error)


def crc32c(data: bytes) -> int:
    """CRC32c (Castagnoli) of ``data``."""
    import google_crc32c

    return int(google_crc32c.value(data))


def checksum_status(data: bytes) -> str:
    """``zero`` (no checksum: RFC 9653, or a stack relying on DTLS), ``ok`` (CRC32c
    matches), ``bad`` (it does not: the packet was altered, or the sender computes it
    wrongly); ``short`` when there is no common header."""
    if len(data) < HEADER:
        return "short"
    sent = int.from_bytes(data[8:12], "little")
    if sent == 0:
        return "zero"
    return "ok" if crc32c(data[:8] + bytes(4) + data[12:]) == sent else "bad"
