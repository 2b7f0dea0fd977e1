"""Hello extensions (ClientHello, ServerHello, HelloRetryRequest, DTLS 1.3 messages).

:func:`parse_extensions` reads the two-byte-length extensions block. Each
:class:`Extension` keeps its raw ``data``; known types also get a decoded
``value``. A malformed extension body does not lose the message: it stays raw
with ``error`` set and parsing goes on with the next extension. Only a broken
block framing (an extension running past the block) raises :class:`DecodeError`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from proxy.decode.dtls import registry as reg
from proxy.decode.dtls.reader import DecodeError, Reader
from proxy.events import jsonable

Span = tuple[int, int]

# Message contexts an extension block can appear in.
CLIENT_HELLO = "client_hello"
SERVER_HELLO = "server_hello"
HELLO_RETRY_REQUEST = "hello_retry_request"
ENCRYPTED_EXTENSIONS = "encrypted_extensions"
CERTIFICATE_REQUEST = "certificate_request"
CERTIFICATE = "certificate"
NEW_SESSION_TICKET = "new_session_ticket"
CONTEXTS = frozenset(
    {
        CLIENT_HELLO,
        SERVER_HELLO,
        HELLO_RETRY_REQUEST,
        ENCRYPTED_EXTENSIONS,
        CERTIFICATE_REQUEST,
        CERTIFICATE,
        NEW_SESSION_TICKET,
    }
)


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="backslashreplace")


@dataclass(frozen=True, slots=True)
class ServerName:
    """One server_name entry (type 0 = host_name)."""

    name_type: int
    name: bytes

    def __json__(self) -> dict[str, Any]:
        return {"name_type": self.name_type, "name": _text(self.name)}


@dataclass(frozen=True, slots=True)
class UseSrtp:
    """use_srtp (RFC 5764 §4.1.1): protection profiles and the MKI."""

    profiles: tuple[int, ...]
    mki: bytes


@dataclass(frozen=True, slots=True)
class KeyShareEntry:
    """key_share entry: a named group and its public value."""

    group: int
    key_exchange: bytes


@dataclass(frozen=True, slots=True)
class PskIdentity:
    """pre_shared_key identity (ClientHello)."""

    identity: bytes
    obfuscated_ticket_age: int


@dataclass(frozen=True, slots=True)
class OfferedPsks:
    """pre_shared_key in a ClientHello: identities and their binders."""

    identities: tuple[PskIdentity, ...]
    binders: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """status_request in a ClientHello (RFC 6066 §8)."""

    status_type: int
    responder_ids: tuple[bytes, ...]
    request_extensions: bytes


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    """status_request in a DTLS 1.3 CertificateEntry: the stapled OCSP response."""

    status_type: int
    response: bytes


@dataclass(frozen=True, slots=True)
class Alpn:
    """application_layer_protocol_negotiation: protocol names (one in a ServerHello)."""

    protocols: tuple[bytes, ...]

    def __json__(self) -> list[str]:
        return [_text(p) for p in self.protocols]


@dataclass(frozen=True, slots=True)
class Extension:
    """One extension as it was on the wire, plus its decoded value when known."""

    type: int
    data: bytes
    """The extension body, verbatim."""
    value: Any
    """Decoded value (see :func:`parse_extensions` for the type per extension), or None
    when the type is not decoded or the body is malformed."""
    error: str | None
    """Why the body could not be decoded (reason and absolute offset), else None."""
    offset: int
    """Absolute offset of the extension's type field."""
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )
    """``type``, ``length``, ``data`` and decoded items (``value[0]``...) -> (start, end)."""

    @property
    def name(self) -> str:
        """IANA name (``use_srtp``), ``GREASE (0x0a0a)``, or hex."""
        return reg.name(reg.EXTENSION_TYPES, self.type)

    @property
    def end(self) -> int:
        """Absolute offset just past the extension."""
        return self.offset + 4 + len(self.data)

    def __json__(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "name": self.name}
        if self.value is not None:
            out["value"] = jsonable(self.value)
        else:
            out["data"] = self.data.hex()
        if self.error is not None:
            out["error"] = self.error
        return out


# ------------------------------------------------------------------ helpers

Parser = Callable[[Reader, str, dict[str, Span]], Any]


def _uint_list(
    r: Reader, len_size: int, item_size: int, spans: dict[str, Span], what: str
) -> tuple[int, ...]:
    at = r.offset
    with r.pull_block(len_size, what) as n:
        if n % item_size:
            raise DecodeError(at, f"{what}: length {n} is not a multiple of {item_size}")
        start = r.offset
        out = uints(r.pull_bytes(n, what), item_size)
        ends = range(start, start + n + 1, item_size)
        spans.update(zip(item_keys("value", len(out)), pairwise(ends), strict=True))
    return out


_ITEM_KEYS: dict[str, list[str]] = {}


def item_keys(name: str, count: int) -> list[str]:
    """``name[0]`` ... ``name[count - 1]`` (span keys of list items; built once)."""
    keys = _ITEM_KEYS.get(name)
    if keys is None:
        if len(_ITEM_KEYS) >= 256:
            _ITEM_KEYS.clear()
        keys = _ITEM_KEYS[name] = []
    while len(keys) < count:
        keys.append(f"{name}[{len(keys)}]")
    return keys[:count]


def uints(data: bytes, item_size: int) -> tuple[int, ...]:
    """``data`` (a multiple of ``item_size`` bytes) as big-endian unsigned integers."""
    if item_size == 1:
        return tuple(data)
    if item_size == 2:
        return struct.unpack(f">{len(data) // 2}H", data)
    return tuple(int.from_bytes(data[i : i + item_size], "big")
                 for i in range(0, len(data), item_size))


def _empty(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    if not r.eof():
        raise r.fail(f"expected an empty body, found {r.remaining()} bytes")
    return True


def _server_name(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    if r.eof():  # ServerHello / EncryptedExtensions: empty acknowledgement
        return ()
    out: list[ServerName] = []
    with r.pull_block(2, "server_name_list"):
        while not r.eof():
            start = r.offset
            t = r.pull_uint8("name_type")
            out.append(ServerName(t, r.pull_vector(2, "server name")))
            spans[f"value[{len(out) - 1}]"] = (start, r.offset)
    return tuple(out)


def _groups(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    return _uint_list(r, 2, 2, spans, "named_group_list")


def _point_formats(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    return _uint_list(r, 1, 1, spans, "ec_point_format_list")


def _sig_algs(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    return _uint_list(r, 2, 2, spans, "supported_signature_algorithms")


def _use_srtp(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    profiles = _uint_list(r, 2, 2, spans, "SRTPProtectionProfiles")
    start = r.offset
    mki = r.pull_vector(1, "srtp_mki")
    spans["mki"] = (start, r.offset)
    return UseSrtp(profiles, mki)


def _alpn(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    out: list[bytes] = []
    with r.pull_block(2, "protocol_name_list"):
        while not r.eof():
            start = r.offset
            p = r.pull_vector(1, "protocol name")
            if not p:
                raise r.fail("empty ALPN protocol name")
            out.append(p)
            spans[f"value[{len(out) - 1}]"] = (start, r.offset)
    return Alpn(tuple(out))


def _session_ticket(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    return r.pull_rest()


def _renegotiation_info(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    return r.pull_vector(1, "renegotiated_connection")


def _supported_versions(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    if context == CLIENT_HELLO:
        return _uint_list(r, 1, 2, spans, "versions")
    return r.pull_uint16("selected_version")


def _key_share_entry(r: Reader) -> KeyShareEntry:
    group = r.pull_uint16("group")
    return KeyShareEntry(group, r.pull_vector(2, "key_exchange"))


def _key_share(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    if context == HELLO_RETRY_REQUEST:
        return r.pull_uint16("selected_group")
    if context == SERVER_HELLO:
        return _key_share_entry(r)
    out: list[KeyShareEntry] = []
    with r.pull_block(2, "client_shares"):
        while not r.eof():
            start = r.offset
            out.append(_key_share_entry(r))
            spans[f"value[{len(out) - 1}]"] = (start, r.offset)
    return tuple(out)


def _cookie(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    c = r.pull_vector(2, "cookie")
    if not c:
        raise r.fail("empty cookie")
    return c


def _psk_modes(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    return _uint_list(r, 1, 1, spans, "ke_modes")


def _pre_shared_key(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    if context != CLIENT_HELLO:
        return r.pull_uint16("selected_identity")
    identities: list[PskIdentity] = []
    with r.pull_block(2, "identities"):
        while not r.eof():
            ident = r.pull_vector(2, "identity")
            identities.append(PskIdentity(ident, r.pull_uint(4, "obfuscated_ticket_age")))
    binders: list[bytes] = []
    with r.pull_block(2, "binders"):
        while not r.eof():
            binders.append(r.pull_vector(1, "binder"))
    return OfferedPsks(tuple(identities), tuple(binders))


def _connection_id(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    return r.pull_vector(1, "cid")


def _record_size_limit(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    v = r.pull_uint16("record_size_limit")
    if v < 64:
        raise DecodeError(r.offset - 2, f"record_size_limit {v} is below 64")
    return v


def _padding(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    return len(r.pull_rest())


def _status_request(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    if r.eof():  # ServerHello acknowledgement
        return True
    status_type = r.pull_uint8("status_type")
    if context == CERTIFICATE:
        return CertificateStatus(status_type, r.pull_vector(3, "OCSPResponse"))
    if status_type != 1:  # only ocsp has a defined body
        return StatusRequest(status_type, (), r.pull_rest())
    ids: list[bytes] = []
    with r.pull_block(2, "responder_id_list"):
        while not r.eof():
            ids.append(r.pull_vector(2, "responder_id"))
    return StatusRequest(status_type, tuple(ids), r.pull_vector(2, "request_extensions"))


def _max_fragment_length(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    return r.pull_uint8("max_fragment_length")


def _cert_types(r: Reader, context: str, spans: dict[str, Span]) -> Any:
    if context == CLIENT_HELLO:
        return _uint_list(r, 1, 1, spans, "certificate_types")
    return r.pull_uint8("certificate_type")


PARSERS: dict[int, Parser] = {
    0: _server_name,
    1: _max_fragment_length,
    5: _status_request,
    10: _groups,
    11: _point_formats,
    13: _sig_algs,
    14: _use_srtp,
    16: _alpn,
    19: _cert_types,
    20: _cert_types,
    21: _padding,
    22: _empty,
    23: _empty,
    28: _record_size_limit,
    35: _session_ticket,
    41: _pre_shared_key,
    43: _supported_versions,
    44: _cookie,
    45: _psk_modes,
    49: _empty,
    50: _sig_algs,
    51: _key_share,
    53: _connection_id,
    54: _connection_id,
    65281: _renegotiation_info,
}
"""Extension type -> body parser. Value types: server_name ``tuple[ServerName]`` (empty in
a ServerHello); supported_groups, signature_algorithms(_cert) ``tuple[int]``; ec_point_formats,
psk_key_exchange_modes ``tuple[int]``; use_srtp :class:`UseSrtp`; ALPN :class:`Alpn`;
encrypt_then_mac, extended_master_secret, post_handshake_auth ``True``; session_ticket,
cookie, renegotiation_info, connection_id ``bytes``; supported_versions ``tuple[int]``
(ClientHello) or ``int``; key_share ``tuple[KeyShareEntry]`` (ClientHello),
:class:`KeyShareEntry` (ServerHello) or ``int`` (HelloRetryRequest selected group);
pre_shared_key :class:`OfferedPsks` (ClientHello) or ``int``; record_size_limit,
max_fragment_length ``int``; padding ``int`` (its length); status_request
:class:`StatusRequest`, ``True`` (acknowledged) or :class:`CertificateStatus` (in a
DTLS 1.3 CertificateEntry)."""


def parse_extension_body(ext_type: int, data: bytes, offset: int, context: str) -> Extension:
    """Decode one extension whose type field starts at absolute ``offset``."""
    spans: dict[str, Span] = {
        "type": (offset, offset + 2),
        "length": (offset + 2, offset + 4),
        "data": (offset + 4, offset + 4 + len(data)),
    }
    parser = PARSERS.get(ext_type)
    if parser is None:
        return Extension(ext_type, data, None, None, offset, spans)
    r = Reader(data, offset + 4)
    try:
        value = parser(r, context, spans)
        if not r.eof():
            raise r.fail(f"{r.remaining()} bytes left after the value")
    except DecodeError as e:
        reason = f"{e.reason} (at offset {e.offset})"
        return Extension(ext_type, data, None, reason, offset, spans)
    return Extension(ext_type, data, value, None, offset, spans)


def parse_extensions(reader: Reader, *, context: str) -> tuple[Extension, ...]:
    """Read ``Extension extensions<0..2^16-1>`` at the reader's cursor.

    ``context`` is one of :data:`CONTEXTS` (``client_hello``, ``server_hello``,
    ``hello_retry_request``...): some extensions have a different body per message.
    """
    out: list[Extension] = []
    with reader.pull_block(2, "extensions"):
        while not reader.eof():
            start = reader.offset
            ext_type = reader.pull_uint16("extension type")
            data = reader.pull_vector(2, f"extension {reg.name(reg.EXTENSION_TYPES, ext_type)}")
            out.append(parse_extension_body(ext_type, data, start, context))
    return tuple(out)


def find(extensions: tuple[Extension, ...], ext_type: int) -> Extension | None:
    """The first extension of ``ext_type``, or None."""
    for e in extensions:
        if e.type == ext_type:
            return e
    return None
