"""DTLS records (RFC 6347 §4.1, RFC 9146 tls12_cid, RFC 9147 §4 unified header).

:func:`parse_records` splits one datagram into records. It never raises: a
record that cannot be decoded becomes a :class:`MalformedRecord` with the offset
and the reason, and nothing after it in the datagram is trusted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from proxy.decode.dtls.reader import DecodeError, Reader

CT_CHANGE_CIPHER_SPEC = 20
CT_ALERT = 21
CT_HANDSHAKE = 22
CT_APPLICATION_DATA = 23
CT_HEARTBEAT = 24
CT_TLS12_CID = 25
CT_ACK = 26
KNOWN_CONTENT_TYPES = frozenset(range(20, 27))

# Record-layer versions seen in the wild: DTLS 1.0, 1.2, the DTLS 1.3 legacy value,
# and OpenSSL 0.9.8's pre-RFC 0x0100 (Cisco AnyConnect still sends it).
RECORD_VERSIONS = frozenset({0xFEFF, 0xFEFD, 0xFEFC, 0x0100})

HEADER_LENGTH = 13
_HEADER = struct.Struct(">BHHHIH")
"""type, version, epoch, sequence (16 + 32 bits), length."""
MAX_CID_GUESS = 32


@dataclass(slots=True)
class Record:
    """One record. For a unified header, ``epoch`` holds the low two epoch bits,
    ``sequence`` the (still encrypted) 8- or 16-bit sequence field, ``version`` 0.

    Not frozen (made per datagram; a frozen dataclass's ``__init__`` costs about
    four times as much, docs/performance.md), but never changed once made."""

    offset: int
    """Offset of the record header in the datagram."""
    content_type: int
    version: int
    epoch: int
    sequence: int
    header_length: int
    fragment: bytes
    unified: bool = False
    cid: bytes | None = None

    @property
    def length(self) -> int:
        """Length of the record payload."""
        return len(self.fragment)

    @property
    def end(self) -> int:
        """Offset just past the record in the datagram."""
        return self.offset + self.header_length + len(self.fragment)

    @property
    def payload_offset(self) -> int:
        """Offset of the payload (fragment) in the datagram."""
        return self.offset + self.header_length


@dataclass(frozen=True, slots=True)
class MalformedRecord:
    """Bytes that do not decode as a record: where, why, and the bytes from there on."""

    offset: int
    reason: str
    data: bytes


def looks_like_dtls(data: bytes) -> bool:
    """Cheap sanity check used to find DTLS on any port: the first record header
    is plausible (content type 20-26 with a known version, or a unified header)."""
    if not data:
        return False
    b = data[0]
    if b & 0xE0 == 0x20:
        return len(data) >= 2
    if b not in KNOWN_CONTENT_TYPES or len(data) < HEADER_LENGTH:
        return False
    return int.from_bytes(data[1:3], "big") in RECORD_VERSIONS


def plausible_dtls(data: bytes) -> bool:
    """Whether a datagram is DTLS beyond its first byte, enough to open a session on it
    (finding DTLS on any port): :func:`looks_like_dtls`, every record parses (a known
    version, a length within the datagram), and a DTLS 1.3 unified header carries its
    length, so the records cover the datagram exactly. A DNS query whose transaction id
    starts with 0x20-0x3f passes the RFC 7983 first-byte test, not this one."""
    if not looks_like_dtls(data):
        return False
    records = parse_records(data)
    for r in records:
        if isinstance(r, MalformedRecord):
            return False
        if r.unified and not data[r.offset] & 0x04:  # no length: it takes the rest
            return False
    return bool(records)


def parse_records(data: bytes, cid_length: int | None = None,
                  known_cids: tuple[bytes, ...] = ()) -> list[Record | MalformedRecord]:
    """All records of one datagram, in order.

    ``cid_length`` is the connection-id length negotiated for records this
    endpoint receives (RFC 9146, RFC 9147 §9); when None it is inferred per tls12_cid
    record. ``known_cids``: connection ids the receiver announced (DTLS 1.3
    NewConnectionId may give several, of other lengths): a unified header whose bytes
    start with one of them takes its length, the longest match first.
    """
    out: list[Record | MalformedRecord] = []
    pos = 0
    n = len(data)
    while pos < n:
        try:
            rec = _parse_one(data, pos, cid_length, known_cids)
        except DecodeError as e:
            out.append(MalformedRecord(e.offset, e.reason, data[pos:]))
            break
        out.append(rec)
        pos = rec.end
    return out


def _parse_one(data: bytes, pos: int, cid_length: int | None,
               known_cids: tuple[bytes, ...] = ()) -> Record:
    first = data[pos]
    if first & 0xE0 == 0x20:
        return _parse_unified(data, pos, cid_length, known_cids)
    if first not in KNOWN_CONTENT_TYPES:
        raise DecodeError(pos, f"unknown content type {first} (not a DTLS record)")
    if first != CT_TLS12_CID and len(data) - pos >= HEADER_LENGTH:
        # the common case in one unpack (hot path of the relay and of analyze)
        _t, version, epoch, seq_hi, seq_lo, length = _HEADER.unpack_from(data, pos)
        end = pos + HEADER_LENGTH + length
        if version in RECORD_VERSIONS and end <= len(data):
            return Record(pos, first, version, epoch, (seq_hi << 32) | seq_lo, HEADER_LENGTH,
                          data[pos + HEADER_LENGTH : end])
    r = Reader(data[pos:], base=pos)
    r.pull_uint8()
    version = r.pull_uint16("record version")
    if version not in RECORD_VERSIONS:
        raise DecodeError(pos + 1, f"unknown record version 0x{version:04x}")
    epoch = r.pull_uint16("epoch")
    seq = r.pull_uint48("sequence number")
    cid: bytes | None = None
    if first == CT_TLS12_CID:
        clen = cid_length if cid_length is not None else _guess_cid_length(data, r.offset)
        cid = r.pull_bytes(clen, "connection id")
    length = r.pull_uint16("record length")
    if length > r.remaining():
        raise DecodeError(
            pos, f"record length {length} overruns the datagram ({r.remaining()} bytes left)"
        )
    header_length = r.pos
    fragment = r.pull_bytes(length)
    return Record(pos, first, version, epoch, seq, header_length, fragment, cid=cid)


def _guess_cid_length(data: bytes, cid_at: int) -> int:
    """Infer a tls12_cid record's CID length: the one whose length field ends the
    record exactly at the end of the datagram or at another plausible record."""
    for clen in range(MAX_CID_GUESS + 1):
        lpos = cid_at + clen
        if lpos + 2 > len(data):
            break
        end = lpos + 2 + int.from_bytes(data[lpos : lpos + 2], "big")
        if end == len(data) or (end < len(data) and looks_like_dtls(data[end:])):
            return clen
    raise DecodeError(cid_at, "tls12_cid record: connection id length unknown and not inferable")


def _parse_unified(data: bytes, pos: int, cid_length: int | None,
                   known_cids: tuple[bytes, ...] = ()) -> Record:
    """RFC 9147 §4: ``001CSLEE`` then CID, 8/16-bit sequence, optional 16-bit length."""
    first = data[pos]
    r = Reader(data[pos:], base=pos)
    r.pull_uint8()
    cid: bytes | None = None
    if first & 0x10:
        for known in sorted(known_cids, key=len, reverse=True):
            if data.startswith(known, pos + 1):
                cid_length = len(known)
                break
        if cid_length is None:
            raise DecodeError(pos, "DTLS 1.3 record with a connection id of unknown length "
                                   "(no connection_id extension seen in the hellos)")
        cid = r.pull_bytes(cid_length, "connection id")
    seq = r.pull_uint16("sequence number") if first & 0x08 else r.pull_uint8("sequence number")
    if first & 0x04:
        length = r.pull_uint16("record length")
        if length > r.remaining():
            raise DecodeError(
                pos, f"record length {length} overruns the datagram ({r.remaining()} bytes left)"
            )
    else:
        length = r.remaining()
    header_length = r.pos
    fragment = r.pull_bytes(length)
    return Record(
        pos, CT_APPLICATION_DATA, 0, first & 0x03, seq, header_length, fragment, True, cid
    )
