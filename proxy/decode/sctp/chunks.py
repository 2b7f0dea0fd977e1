"""SCTP chunk bodies (RFC 9260 §3.3, RFC 8260 I-DATA, RFC 3758 FORWARD-TSN, RFC 6525
RE-CONFIG): one frozen dataclass and one parser per chunk type.

:func:`parse_chunk_body` turns ``(type, flags, value)`` into the body; it raises only
:class:`~proxy.decode.dtls.reader.DecodeError`. Unknown chunk types keep their value
verbatim (:class:`UnknownChunk`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.decode.dtls.reader import Reader
from proxy.decode.sctp import registry as reg
from proxy.decode.sctp.params import (
    ErrorCause,
    ReconfigRequest,
    Tlv,
    parse_causes,
    parse_tlvs,
    reconfig_request,
)

DATA = 0
INIT = 1
INIT_ACK = 2
SACK = 3
HEARTBEAT = 4
HEARTBEAT_ACK = 5
ABORT = 6
SHUTDOWN = 7
SHUTDOWN_ACK = 8
ERROR = 9
COOKIE_ECHO = 10
COOKIE_ACK = 11
SHUTDOWN_COMPLETE = 14
I_DATA = 64
RE_CONFIG = 130
FORWARD_TSN = 192
I_FORWARD_TSN = 194

FLAG_E = 0x01
FLAG_B = 0x02
FLAG_U = 0x04
FLAG_I = 0x08
FLAG_T = 0x01
"""ABORT and SHUTDOWN COMPLETE: the verification tag is reflected."""


@dataclass(frozen=True, slots=True)
class Data:
    """DATA (RFC 9260 §3.3.1) or I-DATA (RFC 8260 §2.1): one fragment of a user message.

    For I-DATA, ``ssn`` is None, ``mid`` the message id, and ``ppid`` is only present on
    the first fragment (``fsn`` on the others)."""

    tsn: int
    stream: int
    ssn: int | None
    ppid: int | None
    user_data: bytes = field(repr=False)
    unordered: bool = False
    beginning: bool = True
    ending: bool = True
    immediate: bool = False
    mid: int | None = None
    fsn: int | None = None

    @property
    def ppid_name(self) -> str | None:
        """The payload protocol identifier in words."""
        return None if self.ppid is None else reg.name(reg.PPIDS, self.ppid)


@dataclass(frozen=True, slots=True)
class Init:
    """INIT or INIT ACK (RFC 9260 §3.3.2, §3.3.3): the association's parameters."""

    initiate_tag: int
    a_rwnd: int
    outbound_streams: int
    inbound_streams: int
    initial_tsn: int
    parameters: tuple[Tlv, ...] = ()

    def param(self, t: int) -> Tlv | None:
        """The first parameter of type ``t``."""
        return next((p for p in self.parameters if p.type == t), None)

    @property
    def extensions(self) -> tuple[str, ...]:
        """Chunk types of the Supported Extensions parameter (RFC 5061 §4.2.7), by name."""
        p = self.param(0x8008)
        return () if p is None else tuple(reg.name(reg.CHUNK_TYPES, b) for b in p.value)

    @property
    def forward_tsn(self) -> bool:
        """Forward-TSN-Supported (partial reliability, RFC 3758) is announced."""
        return self.param(0xC000) is not None or "FORWARD-TSN" in self.extensions

    @property
    def zero_checksum(self) -> str | None:
        """Zero Checksum Acceptable (RFC 9653): its error detection method, by name."""
        p = self.param(0x8001)
        if p is None:
            return None
        method = int.from_bytes(p.value[:4], "big") if len(p.value) >= 4 else -1
        return reg.name(reg.ERROR_DETECTION_METHODS, method)

    @property
    def cookie_length(self) -> int | None:
        """INIT ACK: the State Cookie's length (it is opaque)."""
        p = self.param(7)
        return None if p is None else len(p.value)


@dataclass(frozen=True, slots=True)
class Sack:
    """SACK (RFC 9260 §3.3.4)."""

    cumulative_tsn: int
    a_rwnd: int
    gaps: tuple[tuple[int, int], ...] = ()
    """Gap ack blocks (start, end), offsets from ``cumulative_tsn``."""
    duplicates: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """HEARTBEAT or HEARTBEAT ACK (RFC 9260 §3.3.5, §3.3.6): the sender's opaque info."""

    info: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Abort:
    """ABORT or ERROR (RFC 9260 §3.3.7, §3.3.10): the error causes."""

    causes: tuple[ErrorCause, ...] = ()
    reflected: bool = False
    """ABORT's T bit: the verification tag is the sender's own, reflected."""


@dataclass(frozen=True, slots=True)
class Shutdown:
    """SHUTDOWN (RFC 9260 §3.3.8)."""

    cumulative_tsn: int


@dataclass(frozen=True, slots=True)
class CookieEcho:
    """COOKIE ECHO (RFC 9260 §3.3.11): the State Cookie of the INIT ACK, sent back."""

    cookie: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Empty:
    """COOKIE ACK, SHUTDOWN ACK, SHUTDOWN COMPLETE: nothing but the header."""

    reflected: bool = False


@dataclass(frozen=True, slots=True)
class ForwardTsn:
    """FORWARD-TSN (RFC 3758 §3.2) or I-FORWARD-TSN (RFC 8260 §2.3): messages abandoned."""

    new_cumulative_tsn: int
    streams: tuple[tuple[int, int], ...] = ()
    """(stream, SSN) for FORWARD-TSN; (stream, MID) for I-FORWARD-TSN."""
    unordered: tuple[bool, ...] = ()
    """I-FORWARD-TSN: the U flag of each entry."""


@dataclass(frozen=True, slots=True)
class ReConfig:
    """RE-CONFIG (RFC 6525 §3.1): stream reset / add-streams requests and responses."""

    requests: tuple[ReconfigRequest, ...] = ()


@dataclass(frozen=True, slots=True)
class UnknownChunk:
    """A chunk type the decoder does not read (AUTH, ASCONF, PAD...): kept verbatim."""

    value: bytes = field(repr=False)


ChunkBody = (Data | Init | Sack | Heartbeat | Abort | Shutdown | CookieEcho | Empty
             | ForwardTsn | ReConfig | UnknownChunk)


def _data(r: Reader, flags: int) -> Data:
    tsn = r.pull_uint(4, "TSN")
    stream = r.pull_uint16("stream identifier")
    ssn = r.pull_uint16("stream sequence number")
    ppid = r.pull_uint(4, "payload protocol identifier")
    return Data(tsn, stream, ssn, ppid, r.pull_rest(), bool(flags & FLAG_U),
                bool(flags & FLAG_B), bool(flags & FLAG_E), bool(flags & FLAG_I))


def _idata(r: Reader, flags: int) -> Data:
    tsn = r.pull_uint(4, "TSN")
    stream = r.pull_uint16("stream identifier")
    r.pull_uint16("reserved")
    mid = r.pull_uint(4, "message identifier")
    word = r.pull_uint(4, "payload protocol identifier / fragment sequence number")
    first = bool(flags & FLAG_B)
    return Data(tsn, stream, None, word if first else None, r.pull_rest(),
                bool(flags & FLAG_U), first, bool(flags & FLAG_E), bool(flags & FLAG_I),
                mid, None if first else word)


def _init(r: Reader) -> Init:
    tag = r.pull_uint(4, "initiate tag")
    rwnd = r.pull_uint(4, "a_rwnd")
    os_ = r.pull_uint16("number of outbound streams")
    mis = r.pull_uint16("number of inbound streams")
    tsn = r.pull_uint(4, "initial TSN")
    base = r.offset
    return Init(tag, rwnd, os_, mis, tsn, parse_tlvs(r.pull_rest(), base))


def _sack(r: Reader) -> Sack:
    cum = r.pull_uint(4, "cumulative TSN ack")
    rwnd = r.pull_uint(4, "a_rwnd")
    n_gaps = r.pull_uint16("number of gap ack blocks")
    n_dups = r.pull_uint16("number of duplicate TSNs")
    gaps = tuple((r.pull_uint16("gap start"), r.pull_uint16("gap end")) for _ in range(n_gaps))
    dups = tuple(r.pull_uint(4, "duplicate TSN") for _ in range(n_dups))
    if not r.eof():
        raise r.fail(f"{r.remaining()} bytes after the SACK's gap blocks and duplicates")
    return Sack(cum, rwnd, gaps, dups)


def _heartbeat(r: Reader) -> Heartbeat:
    base = r.offset
    params = parse_tlvs(r.pull_rest(), base)
    info = next((p.value for p in params if p.type == 1), None)
    if info is None:
        raise r.fail("HEARTBEAT without its Heartbeat Info parameter")
    return Heartbeat(info)


def _forward_tsn(r: Reader, i_forward: bool) -> ForwardTsn:
    cum = r.pull_uint(4, "new cumulative TSN")
    entries: list[tuple[int, int]] = []
    unordered: list[bool] = []
    size = 8 if i_forward else 4
    if r.remaining() % size:
        raise r.fail(f"{r.remaining()} bytes of stream entries, not whole {size}-byte entries")
    while not r.eof():
        stream = r.pull_uint16("stream identifier")
        if i_forward:
            unordered.append(bool(r.pull_uint16("flags") & 1))
            entries.append((stream, r.pull_uint(4, "message identifier")))
        else:
            entries.append((stream, r.pull_uint16("stream sequence number")))
    return ForwardTsn(cum, tuple(entries), tuple(unordered))


def parse_chunk_body(chunk_type: int, flags: int, value: bytes, base: int) -> ChunkBody:
    """The body of one chunk (``value``: after its 4-byte header, padding excluded; ``base``:
    its offset in the packet). Raises DecodeError."""
    r = Reader(value, base)
    if chunk_type == DATA:
        return _data(r, flags)
    if chunk_type == I_DATA:
        return _idata(r, flags)
    if chunk_type in (INIT, INIT_ACK):
        return _init(r)
    if chunk_type == SACK:
        return _sack(r)
    if chunk_type in (HEARTBEAT, HEARTBEAT_ACK):
        return _heartbeat(r)
    if chunk_type in (ABORT, ERROR):
        return Abort(parse_causes(value, base), chunk_type == ABORT and bool(flags & FLAG_T))
    if chunk_type == SHUTDOWN:
        cum = r.pull_uint(4, "cumulative TSN ack")
        if not r.eof():
            raise r.fail(f"{r.remaining()} bytes after the SHUTDOWN's cumulative TSN")
        return Shutdown(cum)
    if chunk_type == COOKIE_ECHO:
        return CookieEcho(value)
    if chunk_type in (COOKIE_ACK, SHUTDOWN_ACK, SHUTDOWN_COMPLETE):
        if value:
            raise r.fail(f"{reg.name(reg.CHUNK_TYPES, chunk_type)} carries {len(value)} bytes")
        return Empty(chunk_type == SHUTDOWN_COMPLETE and bool(flags & FLAG_T))
    if chunk_type in (FORWARD_TSN, I_FORWARD_TSN):
        return _forward_tsn(r, chunk_type == I_FORWARD_TSN)
    if chunk_type == RE_CONFIG:
        return ReConfig(tuple(reconfig_request(t) for t in parse_tlvs(value, base)))
    return UnknownChunk(value)
