"""Light STUN parsing for ICE (RFC 8489, RFC 8445 attributes, RFC 8656 TURN names).

A minimal parser of our own rather than ``aioice.stun.parse_message``, because:

* importing ``aioice.stun`` runs ``aioice/__init__``, which imports ``asyncio``,
  ``socket``, ``dnspython`` and ``ifaddr`` (~75 ms): not acceptable in the sans-IO
  core (the session Tracker calls this);
* it raises ``ValueError`` on an unknown method (e.g. Chromium's GOOG-PING, method
  0x080) and on a FINGERPRINT mismatch, silently skips unknown attributes and
  attributes after MESSAGE-INTEGRITY, and lets ``struct.error`` escape on a
  truncated attribute. A debugger must show all of that instead.

:func:`parse_stun` raises only :class:`proxy.decode.dtls.reader.DecodeError`.
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from proxy.decode.dtls.reader import DecodeError, Reader
from proxy.events import format_address

MAGIC_COOKIE: Final = 0x2112A442
_FINGERPRINT_XOR: Final = 0x5354554E
HEADER_LENGTH: Final = 20

METHODS: Final[Mapping[int, str]] = {
    0x001: "binding",
    0x003: "allocate",
    0x004: "refresh",
    0x006: "send",
    0x007: "data",
    0x008: "create_permission",
    0x009: "channel_bind",
    0x00A: "connect",
    0x00B: "connection_bind",
    0x00C: "connection_attempt",
    0x080: "goog_ping",
}
"""STUN/TURN method numbers (IANA) and Chromium's GOOG-PING."""

CLASSES: Final = ("request", "indication", "success", "error")
"""Index = the two class bits C1C0."""

ATTRIBUTE_NAMES: Final[Mapping[int, str]] = {
    0x0001: "MAPPED-ADDRESS",
    0x0006: "USERNAME",
    0x0008: "MESSAGE-INTEGRITY",
    0x0009: "ERROR-CODE",
    0x000A: "UNKNOWN-ATTRIBUTES",
    0x000C: "CHANNEL-NUMBER",
    0x000D: "LIFETIME",
    0x0012: "XOR-PEER-ADDRESS",
    0x0013: "DATA",
    0x0014: "REALM",
    0x0015: "NONCE",
    0x0016: "XOR-RELAYED-ADDRESS",
    0x0019: "REQUESTED-TRANSPORT",
    0x001C: "MESSAGE-INTEGRITY-SHA256",
    0x001D: "PASSWORD-ALGORITHM",
    0x001E: "USERHASH",
    0x0020: "XOR-MAPPED-ADDRESS",
    0x0024: "PRIORITY",
    0x0025: "USE-CANDIDATE",
    0x8022: "SOFTWARE",
    0x8023: "ALTERNATE-SERVER",
    0x8028: "FINGERPRINT",
    0x8029: "ICE-CONTROLLED",
    0x802A: "ICE-CONTROLLING",
    0x802B: "RESPONSE-ORIGIN",
    0x802C: "OTHER-ADDRESS",
    0xC057: "GOOG-NETWORK-INFO",
    0xC059: "GOOG-LAST-ICE-CHECK-RECEIVED",
}
"""Attribute type -> name. Types not listed are reported in ``unknown_attributes``."""

_ADDRESS: Final = frozenset({0x0001, 0x8023, 0x802B, 0x802C})
_XOR_ADDRESS: Final = frozenset({0x0012, 0x0016, 0x0020})
_TEXT: Final = frozenset({0x0006, 0x0014, 0x0015, 0x8022})
_UINT32: Final = frozenset({0x000D, 0x0024})
_PRESENT: Final = frozenset({0x0025})
_TIEBREAKER: Final = frozenset({0x8029, 0x802A})


@dataclass(frozen=True, slots=True)
class StunInfo:
    """What a STUN message says, rendered for display (see :class:`proxy.events.StunSeen`)."""

    method: str
    """``binding``, ``allocate``..., or ``0x0abc`` for an unknown method."""
    cls: str
    """``request``, ``indication``, ``success`` or ``error``."""
    transaction_id: str
    """12 bytes, lowercase hex (16 bytes of RFC 3489 ``magic cookie + id`` when classic)."""
    attributes: Mapping[str, str] = field(default_factory=dict)
    """Attribute name -> rendered value (USERNAME, XOR-MAPPED-ADDRESS, USE-CANDIDATE,
    ICE-CONTROLLING/ICE-CONTROLLED tie-breaker, PRIORITY, ERROR-CODE, SOFTWARE,
    MESSAGE-INTEGRITY, FINGERPRINT...)."""
    unknown_attributes: tuple[int, ...] = ()
    """Types of attributes this parser does not render, in order."""
    method_code: int = 0
    classic: bool = False
    """No RFC 5389 magic cookie (RFC 3489 message)."""


def _method_and_class(message_type: int) -> tuple[int, int]:
    method = (
        (message_type & 0x000F) | ((message_type & 0x00E0) >> 1) | ((message_type & 0x3E00) >> 2)
    )
    cls = ((message_type & 0x0010) >> 4) | ((message_type & 0x0100) >> 7)
    return method, cls


def _address(r: Reader, value_len: int, xor: bool, txid: bytes, name: str) -> str:
    start = r.offset
    r.pull_uint8(f"{name} reserved")
    family = r.pull_uint8(f"{name} family")
    port = r.pull_uint16(f"{name} port")
    if family == 1:
        size = 4
    elif family == 2:
        size = 16
    else:
        raise DecodeError(start + 1, f"{name}: unknown address family {family}")
    if value_len != 4 + size:
        raise DecodeError(start, f"{name}: length {value_len} does not fit family {family}")
    raw = r.pull_bytes(size, f"{name} address")
    if xor:
        port ^= MAGIC_COOKIE >> 16
        mask = MAGIC_COOKIE.to_bytes(4, "big") + txid
        raw = bytes(a ^ b for a, b in zip(raw, mask, strict=False))
    host = str(ipaddress.ip_address(raw))
    return format_address((host, port))


def _render(
    attr_type: int, name: str, value: bytes, base: int, txid: bytes, data: bytes, attr_start: int
) -> str:
    r = Reader(value, base)
    if attr_type in _XOR_ADDRESS or attr_type in _ADDRESS:
        return _address(r, len(value), attr_type in _XOR_ADDRESS, txid, name)
    if attr_type in _TEXT:
        return value.decode("utf-8", errors="backslashreplace")
    if attr_type in _UINT32:
        if len(value) != 4:
            raise DecodeError(base, f"{name}: length {len(value)}, expected 4")
        return str(r.pull_uint(4, name))
    if attr_type in _PRESENT:
        if value:
            raise DecodeError(base, f"{name}: length {len(value)}, expected 0")
        return "yes"
    if attr_type in _TIEBREAKER:
        if len(value) != 8:
            raise DecodeError(base, f"{name}: length {len(value)}, expected 8")
        return f"tie-breaker 0x{value.hex()}"
    if attr_type == 0x0009:  # ERROR-CODE
        r.pull_uint16("ERROR-CODE reserved")
        klass = r.pull_uint8("ERROR-CODE class") & 0x07
        number = r.pull_uint8("ERROR-CODE number")
        reason = r.pull_rest().decode("utf-8", errors="backslashreplace")
        return f"{klass * 100 + number} {reason}".rstrip()
    if attr_type == 0x8028:  # FINGERPRINT
        if len(value) != 4:
            raise DecodeError(base, f"{name}: length {len(value)}, expected 4")
        got = int.from_bytes(value, "big")
        want = zlib.crc32(data[:attr_start]) ^ _FINGERPRINT_XOR
        return f"0x{got:08x} " + ("ok" if got == want else f"mismatch (expected 0x{want:08x})")
    return value.hex()


def parse_stun(data: bytes) -> StunInfo:
    """Parse one STUN message (the whole UDP payload).

    Raises :class:`DecodeError` when the header is not STUN (top bits set, length not a
    multiple of 4 or not matching the datagram) or an attribute is truncated or malformed.
    A FINGERPRINT mismatch is reported in its rendered value, not raised.
    """
    r = Reader(data)
    message_type = r.pull_uint16("STUN message type")
    if message_type & 0xC000:
        raise DecodeError(0, f"not STUN: first two bits are not zero (type 0x{message_type:04x})")
    length = r.pull_uint16("STUN message length")
    if length % 4:
        raise DecodeError(2, f"STUN message length {length} is not a multiple of 4")
    cookie_and_id = r.pull_bytes(16, "STUN header")
    classic = int.from_bytes(cookie_and_id[:4], "big") != MAGIC_COOKIE
    txid = cookie_and_id[4:]
    if length > r.remaining():
        raise DecodeError(2, f"STUN message length {length}, only {r.remaining()} bytes follow")
    if length < r.remaining():
        raise DecodeError(
            HEADER_LENGTH + length, f"{r.remaining() - length} bytes after the STUN message"
        )
    method, cls = _method_and_class(message_type)
    attributes: dict[str, str] = {}
    unknown: list[int] = []
    while not r.eof():
        attr_start = r.offset
        attr_type = r.pull_uint16("attribute type")
        name = ATTRIBUTE_NAMES.get(attr_type, f"0x{attr_type:04x}")
        value_len = r.pull_uint16(f"{name} length")
        value_base = r.offset
        value = r.pull_bytes(value_len, name)
        pad = -value_len % 4
        r.pull_bytes(min(pad, r.remaining()), f"{name} padding")
        if attr_type not in ATTRIBUTE_NAMES:
            unknown.append(attr_type)
            continue
        if attr_type == 0x0008 or attr_type == 0x001C:  # MESSAGE-INTEGRITY(-SHA256)
            attributes[name] = "present"
            continue
        rendered = _render(attr_type, name, value, value_base, txid, data, attr_start)
        if name in attributes:  # keep every value of a repeated attribute
            attributes[name] += f", {rendered}"
        else:
            attributes[name] = rendered
    return StunInfo(
        method=METHODS.get(method, f"0x{method:03x}"),
        cls=CLASSES[cls],
        transaction_id=(cookie_and_id if classic else txid).hex(),
        attributes=attributes,
        unknown_attributes=tuple(unknown),
        method_code=method,
        classic=classic,
    )


TURN_METHODS: Final = frozenset({"allocate", "refresh", "send", "data", "create_permission",
                                 "channel_bind", "connect", "connection_bind",
                                 "connection_attempt"})
"""Methods a client uses with a TURN server (RFC 8656, RFC 6062), never between peers."""

ICE_ATTRIBUTES: Final = ("USERNAME", "PRIORITY", "ICE-CONTROLLING", "ICE-CONTROLLED",
                         "USE-CANDIDATE")
"""What an ICE connectivity check carries (RFC 8445 §7.1) and a plain STUN Binding
request to a STUN server does not."""


def stun_role(method: str, cls: str, attributes: Mapping[str, str]) -> str | None:
    """What a STUN request or indication is for: ``ice`` (a connectivity check between two
    peers, or Chromium's GOOG-PING), ``server`` (a client asking a STUN server for its
    address, or any TURN method: an exchange with a server, not an ICE path between
    peers); None for a response (it follows its request)."""
    if cls not in ("request", "indication"):
        return None
    if method == "goog_ping":
        return "ice"
    if method in TURN_METHODS:
        return "server"
    if method == "binding":
        if any(a in attributes for a in ICE_ATTRIBUTES):
            return "ice"
        return "server" if cls == "request" else None  # a keepalive indication: either
    return None


def plausible_stun(data: bytes) -> bool:
    """Whether a datagram is a STUN message beyond its first byte (to open a session on
    it): it parses (its length field matches, attributes fit) and has the RFC 5389 magic
    cookie, or is a classic RFC 3489 Binding. An mDNS or DNS message whose first byte is
    0-3 does not pass."""
    try:
        info = parse_stun(data)
    except DecodeError:
        return False
    return not info.classic or info.method == "binding"
