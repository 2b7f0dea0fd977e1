"""The STUN/TURN codec a server needs (RFC 8489, RFC 8656): parse, check, build.

Why not ``aioice.stun``: it imports ``asyncio`` at the top (and its package imports
sockets and DNS), which the sans-IO core may not; it has no MESSAGE-INTEGRITY-SHA256
and no SASLprep; and it skips unknown attributes silently, while a server must answer
420 for an unknown comprehension-required one. The display parser
:mod:`proxy.decode.stun` renders values for people; this one keeps every attribute raw,
with its offset, for the checks (integrity, fingerprint) and the answers. Names and
numbers come from :mod:`proxy.decode.stun`. Checked against the RFC 5769 test vectors
and against aioice's encoder and parser (``tests/turn/test_stun_codec.py``).

:func:`parse` raises only :class:`proxy.decode.dtls.reader.DecodeError`.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import stringprep
import struct
import unicodedata
import zlib
from dataclasses import dataclass, field
from typing import Final

from proxy.decode.dtls.reader import DecodeError
from proxy.decode.stun import MAGIC_COOKIE
from proxy.events import Address

COOKIE_BYTES: Final = MAGIC_COOKIE.to_bytes(4, "big")
FINGERPRINT_XOR: Final = 0x5354554E

# classes (the two C bits)
REQUEST: Final = 0
INDICATION: Final = 1
SUCCESS: Final = 2
ERROR: Final = 3

# methods
BINDING: Final = 0x001
ALLOCATE: Final = 0x003
REFRESH: Final = 0x004
SEND: Final = 0x006
DATA: Final = 0x007
CREATE_PERMISSION: Final = 0x008
CHANNEL_BIND: Final = 0x009

# attributes
MAPPED_ADDRESS: Final = 0x0001
USERNAME: Final = 0x0006
MESSAGE_INTEGRITY: Final = 0x0008
ERROR_CODE: Final = 0x0009
UNKNOWN_ATTRIBUTES: Final = 0x000A
CHANNEL_NUMBER: Final = 0x000C
LIFETIME: Final = 0x000D
XOR_PEER_ADDRESS: Final = 0x0012
DATA_ATTR: Final = 0x0013
REALM: Final = 0x0014
NONCE: Final = 0x0015
XOR_RELAYED_ADDRESS: Final = 0x0016
REQUESTED_ADDRESS_FAMILY: Final = 0x0017
EVEN_PORT: Final = 0x0018
REQUESTED_TRANSPORT: Final = 0x0019
DONT_FRAGMENT: Final = 0x001A
MESSAGE_INTEGRITY_SHA256: Final = 0x001C
XOR_MAPPED_ADDRESS: Final = 0x0020
RESERVATION_TOKEN: Final = 0x0022
SOFTWARE: Final = 0x8022
FINGERPRINT: Final = 0x8028

REASONS: Final = {
    300: "Try Alternate",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    420: "Unknown Attribute",
    437: "Allocation Mismatch",
    438: "Stale Nonce",
    440: "Address Family not Supported",
    441: "Wrong Credentials",
    442: "Unsupported Transport Protocol",
    443: "Peer Address Family Mismatch",
    486: "Allocation Quota Reached",
    500: "Server Error",
    508: "Insufficient Capacity",
}
"""RFC 8489 §14.8 and RFC 8656 §19 reason phrases."""


def message_type(method: int, cls: int) -> int:
    """The 14-bit message type: method bits M0-M11 interleaved with class bits C0, C1."""
    return (
        (method & 0x000F)
        | ((method & 0x0070) << 1)
        | ((method & 0x0F80) << 2)
        | ((cls & 1) << 4)
        | ((cls & 2) << 7)
    )


def split_type(mtype: int) -> tuple[int, int]:
    """``(method, class)`` of a message type."""
    method = (mtype & 0x000F) | ((mtype & 0x00E0) >> 1) | ((mtype & 0x3E00) >> 2)
    return method, ((mtype & 0x0010) >> 4) | ((mtype & 0x0100) >> 7)


@dataclass(slots=True)
class Message:
    """One STUN message: method, class, transaction id and attributes, raw.

    ``attributes`` keeps every attribute in order as ``(type, value)``; ``offsets`` the
    offset of each one's header in ``raw`` (the integrity checks need them). A parsed
    message stops at the last attribute that counts (RFC 8489 §14.5: after
    MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT; nothing after
    FINGERPRINT).
    """

    method: int
    cls: int
    txid: bytes
    attributes: list[tuple[int, bytes]] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    raw: bytes = b""

    def get(self, attr: int) -> bytes | None:
        """The first value of ``attr``, or None."""
        for t, v in self.attributes:
            if t == attr:
                return v
        return None

    def all(self, attr: int) -> list[bytes]:
        """Every value of ``attr``, in order."""
        return [v for t, v in self.attributes if t == attr]

    def has(self, attr: int) -> bool:
        return any(t == attr for t, _ in self.attributes)

    def text(self, attr: int) -> str | None:
        """A UTF-8 attribute (USERNAME, REALM, NONCE, SOFTWARE), decoded leniently."""
        v = self.get(attr)
        return None if v is None else v.decode("utf-8", errors="replace")

    def uint32(self, attr: int) -> int | None:
        v = self.get(attr)
        return None if v is None or len(v) != 4 else int.from_bytes(v, "big")


def is_stun(data: bytes) -> bool:
    """First two bits zero, the magic cookie, a length that fits: an RFC 5389+ message."""
    return (
        len(data) >= 20
        and data[0] < 0x40
        and data[4:8] == COOKIE_BYTES
        and (data[2] << 8 | data[3]) % 4 == 0
    )


def parse(data: bytes) -> Message:
    """Parse one whole STUN message (RFC 5389+ only: the magic cookie is required).

    Trailing bytes after the message length are an error (a datagram is one message;
    a stream is framed by :func:`stream_frame_length` first).
    """
    if len(data) < 20:
        raise DecodeError(0, f"STUN message of {len(data)} bytes, shorter than its header")
    mtype, length = struct.unpack_from("!HH", data)
    if mtype & 0xC000:
        raise DecodeError(0, "not STUN: the first two bits are not zero")
    if data[4:8] != COOKIE_BYTES:
        raise DecodeError(4, "not an RFC 5389 STUN message: no magic cookie")
    if length % 4:
        raise DecodeError(2, f"STUN length {length} is not a multiple of 4")
    if 20 + length != len(data):
        raise DecodeError(2, f"STUN length {length}, but {len(data) - 20} bytes follow")
    method, cls = split_type(mtype)
    msg = Message(method, cls, data[8:20], raw=data)
    pos = 20
    integrity = fingerprint = False
    while pos < len(data):
        if pos + 4 > len(data):
            raise DecodeError(pos, "truncated attribute header")
        atype, alen = struct.unpack_from("!HH", data, pos)
        if pos + 4 + alen > len(data):
            raise DecodeError(pos, f"attribute 0x{atype:04x} of {alen} bytes overruns the message")
        value = data[pos + 4 : pos + 4 + alen]
        counts = not fingerprint and (
            not integrity or atype in (MESSAGE_INTEGRITY_SHA256, FINGERPRINT)
        )
        if counts:
            msg.attributes.append((atype, value))
            msg.offsets.append(pos)
        if atype in (MESSAGE_INTEGRITY, MESSAGE_INTEGRITY_SHA256):
            integrity = True
        elif atype == FINGERPRINT:
            fingerprint = True
        pos += 4 + alen + (-alen % 4)
    return msg


def stream_frame_length(buf: bytes | bytearray | memoryview, padded: bool = True) -> int | None:
    """Length of the first STUN message or ChannelData message in a TCP stream buffer.

    None: not enough bytes yet to tell. Raises DecodeError when the stream does not start
    with either (RFC 8656 §12.5: over TCP, ChannelData is padded to a multiple of 4).
    """
    if len(buf) < 4:
        return None
    first = buf[0]
    length = buf[2] << 8 | buf[3]
    if first < 0x40:
        return 20 + length
    if first < 0x80:
        return 4 + length + ((-length % 4) if padded else 0)
    raise DecodeError(0, f"neither STUN nor ChannelData on the stream (first byte 0x{first:02x})")


# ------------------------------------------------------------------- integrity


def saslprep(text: str) -> str:
    """RFC 4013 SASLprep (the profile RFC 5389 names for passwords; RFC 8489's OpaqueString
    gives the same result for the strings people type). Raises ValueError on a prohibited
    character."""
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c for c in text if not stringprep.in_table_b1(c)
    )
    out = unicodedata.normalize("NFKC", mapped)
    for c in out:
        if (
            stringprep.in_table_c12(c) or stringprep.in_table_c21_c22(c)
            or stringprep.in_table_c3(c) or stringprep.in_table_c4(c)
            or stringprep.in_table_c5(c) or stringprep.in_table_c6(c)
            or stringprep.in_table_c7(c) or stringprep.in_table_c8(c)
            or stringprep.in_table_c9(c) or stringprep.in_table_a1(c)
        ):  # fmt: skip
            raise ValueError(f"character U+{ord(c):04X} is not allowed in a STUN password")
    if any(stringprep.in_table_d1(c) for c in out) and (
        not (stringprep.in_table_d1(out[0]) and stringprep.in_table_d1(out[-1]))
        or any(stringprep.in_table_d2(c) for c in out)
    ):
        raise ValueError("bidirectional text not allowed in a STUN password")
    return out


def long_term_key(username: str | bytes, realm: str | bytes, password: str) -> bytes:
    """MD5(username ":" realm ":" SASLprep(password)): the RFC 8489 §9.2.2 key."""
    u = username if isinstance(username, bytes) else username.encode()
    r = realm if isinstance(realm, bytes) else realm.encode()
    return hashlib.md5(u + b":" + r + b":" + saslprep(password).encode()).digest()


def _prefix(msg: Message, index: int, attr_len: int) -> bytes:
    """The message up to attribute ``index``, its length field covering that attribute."""
    off = msg.offsets[index]
    head = msg.raw[:off]
    return head[:2] + struct.pack("!H", off - 20 + 4 + attr_len) + head[4:]


def check_integrity(msg: Message, key: bytes) -> tuple[str, bool] | None:
    """Check MESSAGE-INTEGRITY-SHA256 if present, else MESSAGE-INTEGRITY.

    Returns ``(algorithm, ok)`` with algorithm ``"sha256"`` or ``"sha1"``, or None when
    the message carries neither (RFC 8489 §9.2.4: the SHA-256 one wins when both are).
    """
    for i, (t, v) in enumerate(msg.attributes):
        if t == MESSAGE_INTEGRITY_SHA256:
            if not 16 <= len(v) <= 32 or len(v) % 4:
                return ("sha256", False)
            mac = hmac.new(key, _prefix(msg, i, len(v)), hashlib.sha256).digest()
            return ("sha256", hmac.compare_digest(mac[: len(v)], v))
    for i, (t, v) in enumerate(msg.attributes):
        if t == MESSAGE_INTEGRITY:
            if len(v) != 20:
                return ("sha1", False)
            mac = hmac.new(key, _prefix(msg, i, 20), hashlib.sha1).digest()
            return ("sha1", hmac.compare_digest(mac, v))
    return None


def check_fingerprint(msg: Message) -> bool | None:
    """FINGERPRINT valid (True), wrong (False), absent (None)."""
    for i, (t, v) in enumerate(msg.attributes):
        if t == FINGERPRINT:
            want = zlib.crc32(_prefix(msg, i, 4)) ^ FINGERPRINT_XOR
            return len(v) == 4 and int.from_bytes(v, "big") == want
    return None


# ---------------------------------------------------------------------- build


def _attr(atype: int, value: bytes) -> bytes:
    return struct.pack("!HH", atype, len(value)) + value + b"\0" * (-len(value) % 4)


def build(
    method: int,
    cls: int,
    txid: bytes,
    attributes: list[tuple[int, bytes]] | tuple[tuple[int, bytes], ...] = (),
    *,
    key: bytes | None = None,
    integrity: str = "sha1",
    fingerprint: bool = True,
) -> bytes:
    """Encode a message; with ``key``, MESSAGE-INTEGRITY (``integrity="sha1"``) or
    MESSAGE-INTEGRITY-SHA256 (``"sha256"``) over it; then FINGERPRINT if asked."""
    if len(txid) != 12:
        raise ValueError("a transaction id has 12 bytes")
    body = b"".join(_attr(t, v) for t, v in attributes)
    head = struct.pack("!HH", message_type(method, cls), 0) + COOKIE_BYTES + txid
    out = head + body
    if key is not None:
        algo, size = (hashlib.sha256, 32) if integrity == "sha256" else (hashlib.sha1, 20)
        atype = MESSAGE_INTEGRITY_SHA256 if integrity == "sha256" else MESSAGE_INTEGRITY
        covered = out[:2] + struct.pack("!H", len(body) + 4 + size) + out[4:]
        out += _attr(atype, hmac.new(key, covered, algo).digest())
    if fingerprint:
        covered = out[:2] + struct.pack("!H", len(out) - 20 + 8) + out[4:]
        out += _attr(FINGERPRINT, struct.pack("!I", zlib.crc32(covered) ^ FINGERPRINT_XOR))
    return out[:2] + struct.pack("!H", len(out) - 20) + out[4:]


def error_value(code: int, reason: str | None = None) -> bytes:
    """An ERROR-CODE value (class, number, reason phrase)."""
    text = (reason if reason is not None else REASONS.get(code, "")).encode()
    return struct.pack("!HBB", 0, code // 100, code % 100) + text


def parse_error(value: bytes) -> tuple[int, str]:
    """``(code, reason)`` of an ERROR-CODE value. Raises DecodeError."""
    if len(value) < 4:
        raise DecodeError(0, "ERROR-CODE shorter than 4 bytes")
    return (value[2] & 7) * 100 + value[3], value[4:].decode("utf-8", errors="replace")


# ------------------------------------------------------------------ addresses


def xor_address(addr: Address, txid: bytes) -> bytes:
    """An XOR-MAPPED/PEER/RELAYED-ADDRESS value."""
    ip = ipaddress.ip_address(addr[0])
    packed = ip.packed
    mask = COOKIE_BYTES + txid
    family = 1 if ip.version == 4 else 2
    xored = bytes(a ^ b for a, b in zip(packed, mask, strict=False))
    return struct.pack("!BBH", 0, family, addr[1] ^ (MAGIC_COOKIE >> 16)) + xored


def parse_xor_address(value: bytes, txid: bytes) -> Address:
    """Decode an XOR address value. Raises DecodeError."""
    if len(value) < 4:
        raise DecodeError(0, "address attribute shorter than 4 bytes")
    family = value[1]
    size = {1: 4, 2: 16}.get(family)
    if size is None:
        raise DecodeError(1, f"unknown address family {family}")
    if len(value) != 4 + size:
        raise DecodeError(0, f"address of family {family} with {len(value) - 4} bytes")
    port = (value[2] << 8 | value[3]) ^ (MAGIC_COOKIE >> 16)
    mask = COOKIE_BYTES + txid
    raw = bytes(a ^ b for a, b in zip(value[4:], mask, strict=False))
    return (str(ipaddress.ip_address(raw)), port)


def address_family(value: bytes) -> int | None:
    """The family byte of an address value (1 IPv4, 2 IPv6), None if too short."""
    return value[1] if len(value) >= 2 else None


# ---------------------------------------------------------------- ChannelData


def channel_data(number: int, payload: bytes, *, pad: bool = False) -> bytes:
    """A ChannelData message; ``pad`` to a multiple of 4 (required over TCP)."""
    head = struct.pack("!HH", number, len(payload))
    return head + payload + (b"\0" * (-len(payload) % 4) if pad else b"")


def parse_channel_data(data: bytes) -> tuple[int, bytes] | None:
    """``(channel, payload)``, or None when it is not a whole ChannelData message."""
    if len(data) < 4 or not 0x40 <= data[0] <= 0x7F:
        return None
    length = data[2] << 8 | data[3]
    if 4 + length > len(data):
        return None
    return (data[0] << 8 | data[1]), data[4 : 4 + length]
