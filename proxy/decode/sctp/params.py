"""SCTP TLV structures: the parameters of INIT, INIT ACK, HEARTBEAT and RE-CONFIG, and
the error causes of ABORT and ERROR (RFC 9260 §3.2.1, §3.3.10; RFC 6525 §4).

Both are type (2 bytes), length (2, header included, padding excluded), value, padded
to a multiple of 4. :func:`parse_tlvs` splits a run of them; the typed parsers read the
values the tracker uses. Every parser raises only
:class:`~proxy.decode.dtls.reader.DecodeError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.decode.dtls.reader import DecodeError, Reader
from proxy.decode.sctp import registry as reg


@dataclass(frozen=True, slots=True)
class Tlv:
    """One parameter or error cause as sent: its type (or cause code) and value."""

    type: int
    value: bytes
    offset: int
    """Where it starts in the packet."""

    @property
    def name(self) -> str:
        """The parameter's registered name (see :func:`cause_name` for causes)."""
        return reg.name(reg.PARAMETERS, self.type)


def parse_tlvs(data: bytes, base: int, what: str = "parameter") -> tuple[Tlv, ...]:
    """Split ``data`` (at packet offset ``base``) into TLVs. The last one's padding may be
    missing (RFC 9260 §3.2: a receiver ignores it)."""
    r = Reader(data, base)
    out: list[Tlv] = []
    while not r.eof():
        if r.remaining() < 4:
            raise r.fail(f"{r.remaining()} bytes after the last {what}: not a {what} header")
        start = r.offset
        t = r.pull_uint16(f"{what} type")
        length = r.pull_uint16(f"{what} length")
        if length < 4:
            raise DecodeError(start, f"{what} {t} has length {length}, less than its header")
        value = r.pull_bytes(length - 4, f"{what} {t} value")
        pad = (-length) % 4
        if pad:
            if r.remaining() >= pad:
                r.pull_bytes(pad)
            elif r.remaining():
                raise r.fail(f"{what} {t}: {r.remaining()} bytes of padding, not {pad}")
        out.append(Tlv(t, value, start))
    return tuple(out)


def cause_name(code: int) -> str:
    """The error cause's registered name."""
    return reg.name(reg.CAUSES, code)


@dataclass(frozen=True, slots=True)
class ErrorCause:
    """One error cause of an ABORT or ERROR chunk, with its detail in words."""

    code: int
    name: str
    detail: str
    """What the cause carries, readable: the abort reason text, the stream id, the
    unrecognized chunk type, the missing parameters..."""
    value: bytes


def _text(value: bytes) -> str:
    """Readable text of a cause's free-form value (stacks put UTF-8 text there)."""
    text = value.rstrip(b"\x00").decode("utf-8", "replace")
    if text and all(c.isprintable() for c in text):
        return repr(text)
    return value.hex() if value else ""


def error_cause(tlv: Tlv) -> ErrorCause:
    """The typed cause of one TLV (never raises: an odd value is shown as hex)."""
    v = tlv.value
    code = tlv.type
    detail = ""
    if code == 1 and len(v) >= 2:
        detail = f"stream {int.from_bytes(v[:2], 'big')}"
    elif code == 2 and len(v) >= 4:
        n = int.from_bytes(v[:4], "big")
        types = [int.from_bytes(v[i:i + 2], "big") for i in range(4, min(len(v), 4 + 2 * n), 2)]
        detail = "missing " + ", ".join(reg.name(reg.PARAMETERS, t) for t in types)
    elif code == 3 and len(v) >= 4:
        detail = f"cookie stale by {int.from_bytes(v[:4], 'big')} us"
    elif code == 6 and len(v) >= 1:
        detail = f"chunk type {v[0]} ({reg.name(reg.CHUNK_TYPES, v[0])})"
    elif code == 8:
        try:
            detail = ", ".join(t.name for t in parse_tlvs(v, 0))
        except DecodeError:
            detail = v.hex()
    elif code in (12, 13):
        detail = _text(v)
    elif v:
        detail = v.hex()
    return ErrorCause(code, cause_name(code), detail, v)


def parse_causes(data: bytes, base: int) -> tuple[ErrorCause, ...]:
    """The error causes of an ABORT or ERROR chunk's value."""
    return tuple(error_cause(t) for t in parse_tlvs(data, base, "error cause"))


# ------------------------------------------------------------------ RE-CONFIG (RFC 6525)


@dataclass(frozen=True, slots=True)
class ReconfigRequest:
    """One RE-CONFIG parameter: a stream reset or add-streams request, or a response."""

    type: int
    name: str
    request_seq: int
    """The request's (or the response's) sequence number."""
    streams: tuple[int, ...] = ()
    """Streams to reset (empty: all of them), for the reset requests."""
    response_seq: int | None = None
    """Outgoing SSN Reset Request: the request it answers."""
    last_tsn: int | None = None
    """Outgoing SSN Reset Request: the sender's last assigned TSN."""
    new_streams: int | None = None
    """Add Outgoing/Incoming Streams: how many."""
    result: int | None = None
    """Re-configuration Response: the result code."""

    @property
    def result_name(self) -> str | None:
        """The response's result in words."""
        return None if self.result is None else reg.name(reg.RECONFIG_RESULTS, self.result)


def reconfig_request(tlv: Tlv) -> ReconfigRequest:
    """The typed RE-CONFIG parameter of one TLV (raises DecodeError when too short)."""
    r = Reader(tlv.value, tlv.offset + 4)
    t = tlv.type
    seq = r.pull_uint(4, "request sequence number")
    if t == 13:
        resp = r.pull_uint(4, "response sequence number")
        last = r.pull_uint(4, "sender's last assigned TSN")
        return ReconfigRequest(t, tlv.name, seq, _streams(r), resp, last)
    if t == 14:
        return ReconfigRequest(t, tlv.name, seq, _streams(r))
    if t == 15:
        return ReconfigRequest(t, tlv.name, seq)
    if t == 16:
        result = r.pull_uint(4, "result")
        return ReconfigRequest(t, tlv.name, seq, result=result)
    if t in (17, 18):
        n = r.pull_uint16("number of new streams")
        return ReconfigRequest(t, tlv.name, seq, new_streams=n)
    return ReconfigRequest(t, tlv.name, seq)


def _streams(r: Reader) -> tuple[int, ...]:
    if r.remaining() % 2:
        raise r.fail(f"stream list of {r.remaining()} bytes is not 2-byte stream ids")
    return tuple(r.pull_uint16("stream id") for _ in range(r.remaining() // 2))
