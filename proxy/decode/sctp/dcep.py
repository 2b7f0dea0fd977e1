"""The Data Channel Establishment Protocol (RFC 8832): DATA_CHANNEL_OPEN and
DATA_CHANNEL_ACK, carried in SCTP DATA with PPID 50.

:func:`parse_dcep` raises only :class:`~proxy.decode.dtls.reader.DecodeError`.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.decode.dtls.reader import DecodeError, Reader
from proxy.decode.sctp import registry as reg

DATA_CHANNEL_ACK = 0x02
DATA_CHANNEL_OPEN = 0x03


@dataclass(frozen=True, slots=True)
class DataChannelOpen:
    """DATA_CHANNEL_OPEN (RFC 8832 §5.1)."""

    channel_type: int
    priority: int
    reliability: int
    """Max retransmissions (REXMIT) or lifetime in ms (TIMED); 0 for reliable channels."""
    label: str
    protocol: str

    @property
    def type_name(self) -> str:
        """``DATA_CHANNEL_RELIABLE``..."""
        return reg.name(reg.CHANNEL_TYPES, self.channel_type)

    @property
    def ordered(self) -> bool:
        """Messages are delivered in order (the 0x80 bit is clear)."""
        return not self.channel_type & 0x80

    @property
    def reliability_text(self) -> str:
        """``reliable``, ``max 3 retransmissions``, ``max lifetime 500 ms``."""
        kind = self.channel_type & 0x7F
        if kind == 0x01:
            return f"max {self.reliability} retransmissions"
        if kind == 0x02:
            return f"max lifetime {self.reliability} ms"
        if kind == 0x00:
            return "reliable"
        return f"unknown reliability ({self.reliability})"


@dataclass(frozen=True, slots=True)
class DataChannelAck:
    """DATA_CHANNEL_ACK (RFC 8832 §5.2)."""


def _utf8(raw: bytes, what: str, r: Reader) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise r.fail(f"{what} is not UTF-8 (byte {e.start})") from None


def parse_dcep(data: bytes, base: int = 0) -> DataChannelOpen | DataChannelAck:
    """The DCEP message of a PPID 50 user message. Raises DecodeError."""
    r = Reader(data, base)
    kind = r.pull_uint8("DCEP message type")
    if kind == DATA_CHANNEL_ACK:
        return DataChannelAck()  # RFC 8832 §5.2: extra bytes are not an error we report
    if kind != DATA_CHANNEL_OPEN:
        raise DecodeError(base, f"DCEP message type {kind} is neither DATA_CHANNEL_OPEN (3) "
                                "nor DATA_CHANNEL_ACK (2)")
    ctype = r.pull_uint8("channel type")
    prio = r.pull_uint16("priority")
    rel = r.pull_uint(4, "reliability parameter")
    label_len = r.pull_uint16("label length")
    proto_len = r.pull_uint16("protocol length")
    label = _utf8(r.pull_bytes(label_len, "label"), "label", r)
    proto = _utf8(r.pull_bytes(proto_len, "protocol"), "protocol", r)
    if not r.eof():
        raise r.fail(f"{r.remaining()} bytes after the DATA_CHANNEL_OPEN's protocol")
    return DataChannelOpen(ctype, prio, rel, label, proto)
