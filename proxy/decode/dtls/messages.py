"""Handshake message bodies (the bytes after the 12-byte DTLS handshake header).

:func:`parse_body` turns ``(msg_type, body)`` into one frozen dataclass per
message (``ClientHello``, ``ServerKeyExchange``...). Every class has ``NAME`` (the
RFC name), keeps raw values (ints, bytes) and unknown parts verbatim, and a
``spans`` dict: field name (and list items such as ``cipher_suites[3]``) ->
``(start, end)`` offsets in the body shifted by ``base``. ``spans`` is left out of
comparisons and of JSON. :class:`DecodeError` is the only exception raised.

Some bodies depend on what was negotiated earlier; :class:`ParseContext` carries
it (the session layer fills it from the ServerHello). Without it the parser
guesses sensibly (e.g. a CertificateVerify with or without the TLS 1.2 algorithm
field is told apart by its lengths).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, ClassVar

from proxy.decode.dtls import extensions as exts
from proxy.decode.dtls import registry as reg
from proxy.decode.dtls.extensions import Extension, parse_extensions
from proxy.decode.dtls.reader import DecodeError, Reader
from proxy.decode.dtls.x509 import CertificateSummary, summarize_certificate
from proxy.events import jsonable

Span = tuple[int, int]

HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
"""ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3: SHA-256 of "HelloRetryRequest")."""


@dataclass(slots=True)
class ParseContext:
    """What the parser needs to know from earlier messages.

    Not frozen (made per datagram; a frozen dataclass's ``__init__`` costs about
    four times as much, docs/performance.md), but never changed once made."""

    version: int | None = None
    """Negotiated (or record-layer) version: 0xFEFD, 0xFEFF, 0x0100... None if unknown."""
    cipher_suite: int | None = None
    """Negotiated cipher suite (from the ServerHello); decides key exchange formats."""
    is_dtls13: bool = False
    """DTLS 1.3 was negotiated (supported_versions): TLS 1.3 body formats."""


_NO_CONTEXT = ParseContext()
DTLS_BAD_VER = 0x0100
"""OpenSSL 0.9.8's pre-RFC DTLS version (``DTLS1_BAD_VER``)."""


def _ext_lookup(extensions: tuple[Extension, ...], ext_type: int | str) -> Extension | None:
    t = reg.EXT[ext_type] if isinstance(ext_type, str) else ext_type
    return exts.find(extensions, t)


# ------------------------------------------------------------------ hellos


@dataclass(frozen=True)
class ClientHello:
    """ClientHello (RFC 6347 §4.2.1; DTLS 1.3 uses the same layout with legacy fields)."""

    NAME: ClassVar[str] = "ClientHello"
    client_version: int
    random: bytes
    session_id: bytes
    cookie: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: tuple[int, ...]
    extensions: tuple[Extension, ...]
    has_extensions_block: bool = True
    """False when the message ends after compression_methods (no extensions at all)."""
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )

    def extension(self, ext_type: int | str) -> Extension | None:
        """The first extension of that type (number or IANA name), or None."""
        return _ext_lookup(self.extensions, ext_type)

    def offered_versions(self) -> tuple[int, ...]:
        """supported_versions when present and decoded, else ``(client_version,)``."""
        e = self.extension(43)
        if e is not None and isinstance(e.value, tuple):
            return tuple(v for v in e.value if isinstance(v, int))
        return (self.client_version,)


@dataclass(frozen=True)
class ServerHello:
    """ServerHello (RFC 6347 §4.2.1, RFC 9147 §5.4)."""

    NAME: ClassVar[str] = "ServerHello"
    server_version: int
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[Extension, ...]
    has_extensions_block: bool = True
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )

    @property
    def is_hello_retry_request(self) -> bool:
        """True for a HelloRetryRequest (see :class:`HelloRetryRequest`)."""
        return self.random == HRR_RANDOM

    def extension(self, ext_type: int | str) -> Extension | None:
        """The first extension of that type (number or IANA name), or None."""
        return _ext_lookup(self.extensions, ext_type)

    def selected_version(self) -> int:
        """supported_versions when present and decoded (DTLS 1.3), else ``server_version``."""
        e = self.extension(43)
        if e is not None and isinstance(e.value, int) and not isinstance(e.value, bool):
            return e.value
        return self.server_version


@dataclass(frozen=True)
class HelloRetryRequest(ServerHello):
    """A ServerHello whose random is :data:`HRR_RANDOM` (DTLS 1.3): asks for a new ClientHello."""

    NAME: ClassVar[str] = "HelloRetryRequest"

    def selected_group(self) -> int | None:
        """The key_share group the server asks for, or None."""
        e = self.extension(51)
        if e is not None and isinstance(e.value, int):
            return e.value
        return None


@dataclass(frozen=True)
class HelloVerifyRequest:
    """HelloVerifyRequest (RFC 6347 §4.2.1): the stateless cookie exchange."""

    NAME: ClassVar[str] = "HelloVerifyRequest"
    server_version: int
    cookie: bytes
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


# ------------------------------------------------------------ certificates


@dataclass(frozen=True)
class CertificateEntry:
    """One certificate of a Certificate message: DER bytes and what they say."""

    der: bytes
    summary: CertificateSummary | None
    error: str | None
    """Why the DER did not parse as a certificate, else None."""
    offset: int
    """Absolute offset of the entry's 3-byte length."""
    extensions: tuple[Extension, ...] = ()
    """Per-entry extensions (DTLS 1.3 only)."""
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )

    def __json__(self) -> dict[str, Any]:
        out: dict[str, Any] = {"summary": jsonable(self.summary), "der": self.der.hex()}
        if self.error is not None:
            out["error"] = self.error
        if self.extensions:
            out["extensions"] = jsonable(self.extensions)
        return out


@dataclass(frozen=True)
class Certificate:
    """Certificate: the sender's chain, end-entity first (may be empty for a client)."""

    NAME: ClassVar[str] = "Certificate"
    entries: tuple[CertificateEntry, ...]
    certificate_request_context: bytes | None = None
    """DTLS 1.3 only."""
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )

    @property
    def end_entity(self) -> CertificateEntry | None:
        """The first certificate (the sender's own), or None if the list is empty."""
        return self.entries[0] if self.entries else None


# ------------------------------------------------------------ key exchange


@dataclass(frozen=True)
class ServerKeyExchange:
    """ServerKeyExchange (RFC 5246 §7.4.3, RFC 8422 §5.4, RFC 4279, RFC 5489).

    ``kind`` says which form was decoded: ``ecdhe``, ``dhe``, ``psk``,
    ``ecdhe_psk``, ``dhe_psk``, ``rsa_psk`` or ``raw`` (unknown suite or format:
    everything is in ``raw``). ``params_raw`` is exactly the signed
    ServerECDHParams / ServerDHParams bytes; the signature covers
    ``client_random + server_random + params_raw``.
    """

    NAME: ClassVar[str] = "ServerKeyExchange"
    kind: str
    params_raw: bytes = b""
    curve_type: int | None = None
    named_curve: int | None = None
    point: bytes | None = None
    dh_p: bytes | None = None
    dh_g: bytes | None = None
    dh_ys: bytes | None = None
    psk_identity_hint: bytes | None = None
    signature_algorithm: int | None = None
    """TLS 1.2 SignatureAndHashAlgorithm; None in DTLS 1.0 or when unsigned."""
    signature: bytes | None = None
    """None for anonymous and PSK key exchanges."""
    raw: bytes = b""
    """Bytes not decoded (the whole body for ``raw``; explicit-curve parameters)."""
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )

    def signed_data(self, client_random: bytes, server_random: bytes) -> bytes:
        """What the signature covers: ``client_random + server_random + params_raw``."""
        return client_random + server_random + self.params_raw


@dataclass(frozen=True)
class ClientKeyExchange:
    """ClientKeyExchange; ``kind`` as in :class:`ServerKeyExchange` plus ``rsa``."""

    NAME: ClassVar[str] = "ClientKeyExchange"
    kind: str
    point: bytes | None = None
    """ECDH public point (``ecdhe``, ``ecdhe_psk``)."""
    dh_yc: bytes | None = None
    encrypted_pre_master_secret: bytes | None = None
    psk_identity: bytes | None = None
    raw: bytes = b""
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


# ---------------------------------------------------------- authentication


@dataclass(frozen=True)
class CertificateRequest:
    """CertificateRequest (RFC 5246 §7.4.4; DTLS 1.0 has no signature algorithms;
    DTLS 1.3 has a context and extensions instead)."""

    NAME: ClassVar[str] = "CertificateRequest"
    certificate_types: tuple[int, ...] = ()
    signature_algorithms: tuple[int, ...] | None = None
    certificate_authorities: tuple[bytes, ...] = ()
    """DER-encoded DistinguishedNames, verbatim."""
    certificate_request_context: bytes | None = None
    extensions: tuple[Extension, ...] = ()
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class CertificateVerify:
    """CertificateVerify: signature over the transcript with the sender's certificate key."""

    NAME: ClassVar[str] = "CertificateVerify"
    signature_algorithm: int | None
    """SignatureAndHashAlgorithm / SignatureScheme; None in DTLS 1.0."""
    signature: bytes
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class ServerHelloDone:
    """ServerHelloDone (empty)."""

    NAME: ClassVar[str] = "ServerHelloDone"
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class HelloRequest:
    """HelloRequest (empty; server asks for renegotiation)."""

    NAME: ClassVar[str] = "HelloRequest"
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class Finished:
    """Finished: verify_data (12 bytes in DTLS 1.0/1.2, hash length in 1.3)."""

    NAME: ClassVar[str] = "Finished"
    verify_data: bytes
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class NewSessionTicket:
    """NewSessionTicket (RFC 5077; DTLS 1.3 form adds age_add, nonce, extensions)."""

    NAME: ClassVar[str] = "NewSessionTicket"
    lifetime: int
    ticket: bytes
    ticket_age_add: int | None = None
    ticket_nonce: bytes | None = None
    extensions: tuple[Extension, ...] = ()
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class EncryptedExtensions:
    """EncryptedExtensions (DTLS 1.3)."""

    NAME: ClassVar[str] = "EncryptedExtensions"
    extensions: tuple[Extension, ...]
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class KeyUpdate:
    """KeyUpdate (DTLS 1.3): 0 update_not_requested, 1 update_requested."""

    NAME: ClassVar[str] = "KeyUpdate"
    request_update: int
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class EndOfEarlyData:
    """EndOfEarlyData (TLS 1.3; RFC 9147 §5.6 keeps it out of DTLS 1.3, shown if sent)."""

    NAME: ClassVar[str] = "EndOfEarlyData"
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class RequestConnectionId:
    """RequestConnectionId (RFC 9147 §9.2): asks the peer for ``num_cids`` more CIDs."""

    NAME: ClassVar[str] = "RequestConnectionId"
    num_cids: int
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class NewConnectionId:
    """NewConnectionId (RFC 9147 §9.1): CIDs the sender will accept; ``usage`` 0
    cid_immediate (switch now), 1 cid_spare."""

    NAME: ClassVar[str] = "NewConnectionId"
    cids: tuple[bytes, ...]
    usage: int
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )


@dataclass(frozen=True)
class Ack:
    """An ACK record (DTLS 1.3, content type 26, RFC 9147 §7): the record numbers
    (epoch, sequence) the sender has received."""

    NAME: ClassVar[str] = "ACK"
    record_numbers: tuple[tuple[int, int], ...]
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )

    def __json__(self) -> dict[str, Any]:
        return {"record_numbers": [{"epoch": e, "sequence": q} for e, q in self.record_numbers]}


@dataclass(frozen=True)
class UnknownBody:
    """A handshake type this decoder does not parse: kept verbatim."""

    NAME: ClassVar[str] = "Unknown"
    msg_type: int
    raw: bytes
    spans: dict[str, Span] = field(
        default_factory=dict, compare=False, repr=False, metadata={"json": False}
    )

    @property
    def type_name(self) -> str:
        """IANA name of the handshake type, or ``unknown (n)``."""
        return reg.name(reg.HANDSHAKE_TYPES, self.msg_type)


HandshakeBody = (
    ClientHello
    | ServerHello
    | HelloRetryRequest
    | HelloVerifyRequest
    | Certificate
    | ServerKeyExchange
    | ClientKeyExchange
    | CertificateRequest
    | CertificateVerify
    | ServerHelloDone
    | HelloRequest
    | Finished
    | NewSessionTicket
    | EncryptedExtensions
    | KeyUpdate
    | EndOfEarlyData
    | RequestConnectionId
    | NewConnectionId
    | UnknownBody
)


# ------------------------------------------------------------------ parsing


class _Body:
    """A reader over one body plus the spans being recorded."""

    def __init__(self, body: bytes, base: int, ctx: ParseContext) -> None:
        self.data = body
        self.r = Reader(body, base)
        self.base = base
        self.ctx = ctx
        self.spans: dict[str, Span] = {}

    def mark(self, name: str, start: int) -> None:
        self.spans[name] = (start, self.r.offset)

    def uint(self, name: str, size: int) -> int:
        start = self.r.offset
        v = self.r.pull_uint(size, name)
        self.mark(name, start)
        return v

    def fixed(self, name: str, n: int) -> bytes:
        start = self.r.offset
        v = self.r.pull_bytes(n, name)
        self.mark(name, start)
        return v

    def vector(self, name: str, len_size: int) -> bytes:
        start = self.r.offset
        v = self.r.pull_vector(len_size, name)
        self.mark(name, start)
        return v

    def uint_list(self, name: str, len_size: int, item_size: int) -> tuple[int, ...]:
        start = self.r.offset
        with self.r.pull_block(len_size, name) as n:
            if n % item_size:
                raise DecodeError(start, f"{name}: length {n} is not a multiple of {item_size}")
            first = self.r.offset
            out = exts.uints(self.r.pull_bytes(n, name), item_size)
            ends = range(first, first + n + 1, item_size)
            self.spans.update(zip(exts.item_keys(name, len(out)), pairwise(ends), strict=True))
        self.mark(name, start)
        return out

    def extensions(self, context: str) -> tuple[Extension, ...]:
        start = self.r.offset
        found = parse_extensions(self.r, context=context)
        self.mark("extensions", start)
        for i, e in enumerate(found):
            self.spans[f"extensions[{i}]"] = (e.offset, e.end)
        return found

    def peek_uint(self, at: int, size: int) -> int | None:
        """Integer ``at`` bytes past the cursor, or None if the body is too short."""
        p = self.r.pos + at
        if p + size > len(self.data):
            return None
        return int.from_bytes(self.data[p : p + size], "big")

    def done(self, what: str) -> None:
        if not self.r.eof():
            raise self.r.fail(f"{what}: {self.r.remaining()} unexpected bytes at the end")


def _client_hello(b: _Body) -> ClientHello:
    version = b.uint("client_version", 2)
    random = b.fixed("random", 32)
    session_id = b.vector("session_id", 1)
    if len(session_id) > 32:
        raise DecodeError(b.spans["session_id"][0], f"session_id of {len(session_id)} bytes")
    cookie = b.vector("cookie", 1)
    suites = b.uint_list("cipher_suites", 2, 2)
    compression = b.uint_list("compression_methods", 1, 1)
    has_ext = not b.r.eof()
    found = b.extensions(exts.CLIENT_HELLO) if has_ext else ()
    b.done("ClientHello")
    return ClientHello(
        version, random, session_id, cookie, suites, compression, found, has_ext, b.spans
    )


def _server_hello(b: _Body) -> ServerHello:
    version = b.uint("server_version", 2)
    random = b.fixed("random", 32)
    session_id = b.vector("session_id", 1)
    suite = b.uint("cipher_suite", 2)
    compression = b.uint("compression_method", 1)
    hrr = random == HRR_RANDOM
    has_ext = not b.r.eof()
    context = exts.HELLO_RETRY_REQUEST if hrr else exts.SERVER_HELLO
    found = b.extensions(context) if has_ext else ()
    b.done("ServerHello")
    cls = HelloRetryRequest if hrr else ServerHello
    return cls(version, random, session_id, suite, compression, found, has_ext, b.spans)


def _hello_verify_request(b: _Body) -> HelloVerifyRequest:
    version = b.uint("server_version", 2)
    cookie = b.vector("cookie", 1)
    b.done("HelloVerifyRequest")
    return HelloVerifyRequest(version, cookie, b.spans)


def _certificate(b: _Body) -> Certificate:
    context: bytes | None = None
    if b.ctx.is_dtls13:
        context = b.vector("certificate_request_context", 1)
    entries: list[CertificateEntry] = []
    start = b.r.offset
    with b.r.pull_block(3, "certificate_list"):
        while not b.r.eof():
            entry_start = b.r.offset
            der = b.r.pull_vector(3, "certificate")
            if not der and not b.ctx.is_dtls13:
                raise DecodeError(entry_start, "empty certificate in certificate_list")
            spans = {"der": (entry_start + 3, b.r.offset)}
            entry_exts: tuple[Extension, ...] = ()
            if b.ctx.is_dtls13:
                s = b.r.offset
                entry_exts = parse_extensions(b.r, context=exts.CERTIFICATE)
                spans["extensions"] = (s, b.r.offset)
            summary: CertificateSummary | None = None
            error: str | None = None
            try:
                summary = summarize_certificate(der)
            except DecodeError as e:
                error = e.reason
            b.spans[f"entries[{len(entries)}]"] = (entry_start, b.r.offset)
            entries.append(CertificateEntry(der, summary, error, entry_start, entry_exts, spans))
    b.mark("entries", start)
    b.done("Certificate")
    return Certificate(tuple(entries), context, b.spans)


def _signature(b: _Body) -> tuple[int | None, bytes]:
    """digitally-signed: [SignatureAndHashAlgorithm] signature<0..2^16-1>."""
    with_alg: bool
    if b.ctx.is_dtls13 or (b.ctx.version is not None and not reg.is_dtls10(b.ctx.version)):
        with_alg = True
    elif reg.is_dtls10(b.ctx.version):
        with_alg = False
    else:  # version unknown: tell the forms apart by their lengths
        rem = b.r.remaining()
        n12 = b.peek_uint(2, 2)
        n10 = b.peek_uint(0, 2)
        with_alg = not (n10 is not None and n10 + 2 == rem and (n12 is None or n12 + 4 != rem))
    alg = b.uint("signature_algorithm", 2) if with_alg else None
    return alg, b.vector("signature", 2)


def _ecdh_params(b: _Body) -> tuple[int, int | None, bytes | None, bytes]:
    curve_type = b.uint("curve_type", 1)
    if curve_type != 3:  # explicit curves: not decoded, kept raw (and never signed-checked)
        start = b.r.offset
        rest = b.r.pull_rest()
        b.mark("raw", start)
        return curve_type, None, None, rest
    named_curve = b.uint("named_curve", 2)
    point = b.vector("point", 1)
    if not point:
        raise DecodeError(b.spans["point"][0], "empty ECDH point")
    return curve_type, named_curve, point, b""


def _dh_params(b: _Body) -> tuple[bytes, bytes, bytes]:
    return b.vector("dh_p", 2), b.vector("dh_g", 2), b.vector("dh_ys", 2)


def _ske_for(kx: str | None, auth: str | None, b: _Body) -> ServerKeyExchange:
    signed = auth not in ("anon", "PSK")
    hint: bytes | None = None
    if kx in ("PSK", "ECDHE_PSK", "DHE_PSK", "RSA_PSK"):
        hint = b.vector("psk_identity_hint", 2)
        signed = False
    if kx in ("PSK", "RSA_PSK"):
        b.done("ServerKeyExchange")
        return ServerKeyExchange(kx.lower(), psk_identity_hint=hint, spans=b.spans)
    params_start = b.r.pos
    abs_start = b.r.offset
    if kx in ("ECDHE", "ECDHE_PSK"):
        curve_type, named_curve, point, raw = _ecdh_params(b)
        params_raw = b.data[params_start : b.r.pos]
        b.mark("params_raw", abs_start)
        alg, sig = (None, None)
        if signed and not raw:
            alg, sig = _signature(b)
        b.done("ServerKeyExchange")
        return ServerKeyExchange(
            kx.lower(),
            params_raw=params_raw,
            curve_type=curve_type,
            named_curve=named_curve,
            point=point,
            psk_identity_hint=hint,
            signature_algorithm=alg,
            signature=sig,
            raw=raw,
            spans=b.spans,
        )
    if kx in ("DHE", "DHE_PSK"):
        p, g, ys = _dh_params(b)
        params_raw = b.data[params_start : b.r.pos]
        b.mark("params_raw", abs_start)
        alg, sig = _signature(b) if signed else (None, None)
        b.done("ServerKeyExchange")
        return ServerKeyExchange(
            kx.lower(),
            params_raw=params_raw,
            dh_p=p,
            dh_g=g,
            dh_ys=ys,
            psk_identity_hint=hint,
            signature_algorithm=alg,
            signature=sig,
            spans=b.spans,
        )
    raise DecodeError(b.r.offset, f"no parser for key exchange {kx}")


def _server_key_exchange(b: _Body) -> ServerKeyExchange:
    suite = b.ctx.cipher_suite
    info = reg.cipher_suite_info(suite) if suite is not None else None
    kx = reg.key_exchange(suite) if suite is not None else None
    auth = info.authentication if info is not None else None
    if kx in ("ECDHE", "ECDHE_PSK", "DHE", "DHE_PSK", "PSK", "RSA_PSK"):
        return _ske_for(kx, auth, b)
    if kx is None:  # suite unknown: try ECDHE (curve_type 3), then DHE, else keep raw
        for guess in ("ECDHE", "DHE"):
            if guess == "ECDHE" and b.data[:1] != b"\x03":
                continue
            trial = _Body(b.data, b.base, b.ctx)
            try:
                return _ske_for(guess, None, trial)
            except DecodeError:
                continue
    return ServerKeyExchange("raw", raw=b.data, spans={"raw": (b.base, b.base + len(b.data))})


def _client_key_exchange(b: _Body) -> ClientKeyExchange:
    suite = b.ctx.cipher_suite
    kx = reg.key_exchange(suite) if suite is not None else None
    identity: bytes | None = None
    if kx in ("PSK", "ECDHE_PSK", "DHE_PSK", "RSA_PSK"):
        identity = b.vector("psk_identity", 2)
    if kx in ("ECDHE", "ECDH", "ECDHE_PSK"):
        point = b.vector("point", 1)
        b.done("ClientKeyExchange")
        return ClientKeyExchange(
            kx.lower() if kx != "ECDH" else "ecdhe",
            point=point,
            psk_identity=identity,
            spans=b.spans,
        )
    if kx in ("DHE", "DH", "DHE_PSK"):
        yc = b.vector("dh_yc", 2) if not b.r.eof() or kx != "DH" else b""
        b.done("ClientKeyExchange")
        return ClientKeyExchange(
            "dhe_psk" if kx == "DHE_PSK" else "dhe",
            dh_yc=yc,
            psk_identity=identity,
            spans=b.spans,
        )
    if kx == "RSA" and b.ctx.version == DTLS_BAD_VER:
        # OpenSSL before 0.9.8f (DTLS1_BAD_VER, Cisco AnyConnect): as in SSLv3, the
        # EncryptedPreMasterSecret has no 2-byte length: the body is the ciphertext
        # (what Wireshark's dissect_ssl3_hnd_cli_keyex_rsa does for this version)
        start = b.r.offset
        enc = b.r.pull_rest()
        b.mark("encrypted_pre_master_secret", start)
        b.done("ClientKeyExchange")
        return ClientKeyExchange("rsa", encrypted_pre_master_secret=enc, spans=b.spans)
    if kx in ("RSA", "RSA_PSK"):
        enc = b.vector("encrypted_pre_master_secret", 2)
        b.done("ClientKeyExchange")
        return ClientKeyExchange(
            kx.lower(), encrypted_pre_master_secret=enc, psk_identity=identity, spans=b.spans
        )
    if kx == "PSK":
        b.done("ClientKeyExchange")
        return ClientKeyExchange("psk", psk_identity=identity, spans=b.spans)
    return ClientKeyExchange("raw", raw=b.data, spans={"raw": (b.base, b.base + len(b.data))})


def _certificate_request_12(b: _Body, with_algs: bool) -> CertificateRequest:
    types = b.uint_list("certificate_types", 1, 1)
    algs = b.uint_list("signature_algorithms", 2, 2) if with_algs else None
    cas: list[bytes] = []
    start = b.r.offset
    with b.r.pull_block(2, "certificate_authorities"):
        while not b.r.eof():
            s = b.r.offset
            cas.append(b.r.pull_vector(2, "DistinguishedName"))
            b.mark(f"certificate_authorities[{len(cas) - 1}]", s)
    b.mark("certificate_authorities", start)
    b.done("CertificateRequest")
    return CertificateRequest(types, algs, tuple(cas), spans=b.spans)


def _certificate_request(b: _Body) -> CertificateRequest:
    if b.ctx.is_dtls13:
        context = b.vector("certificate_request_context", 1)
        found = b.extensions(exts.CERTIFICATE_REQUEST)
        b.done("CertificateRequest")
        return CertificateRequest(
            certificate_request_context=context, extensions=found, spans=b.spans
        )
    if b.ctx.version is not None:
        return _certificate_request_12(b, not reg.is_dtls10(b.ctx.version))
    try:
        return _certificate_request_12(_Body(b.data, b.base, b.ctx), True)
    except DecodeError as first:
        try:
            return _certificate_request_12(_Body(b.data, b.base, b.ctx), False)
        except DecodeError:
            raise first from None


def _certificate_verify(b: _Body) -> CertificateVerify:
    alg, sig = _signature(b)
    b.done("CertificateVerify")
    return CertificateVerify(alg, sig, b.spans)


def _server_hello_done(b: _Body) -> ServerHelloDone:
    b.done("ServerHelloDone")
    return ServerHelloDone(b.spans)


def _hello_request(b: _Body) -> HelloRequest:
    b.done("HelloRequest")
    return HelloRequest(b.spans)


def _finished(b: _Body) -> Finished:
    start = b.r.offset
    data = b.r.pull_rest()
    b.mark("verify_data", start)
    return Finished(data, b.spans)


def _new_session_ticket(b: _Body) -> NewSessionTicket:
    lifetime = b.uint("lifetime", 4)
    if b.ctx.is_dtls13:
        age_add = b.uint("ticket_age_add", 4)
        nonce = b.vector("ticket_nonce", 1)
        ticket = b.vector("ticket", 2)
        found = b.extensions(exts.NEW_SESSION_TICKET)
        b.done("NewSessionTicket")
        return NewSessionTicket(lifetime, ticket, age_add, nonce, found, b.spans)
    ticket = b.vector("ticket", 2)
    b.done("NewSessionTicket")
    return NewSessionTicket(lifetime, ticket, spans=b.spans)


def _encrypted_extensions(b: _Body) -> EncryptedExtensions:
    found = b.extensions(exts.ENCRYPTED_EXTENSIONS)
    b.done("EncryptedExtensions")
    return EncryptedExtensions(found, b.spans)


def _key_update(b: _Body) -> KeyUpdate:
    v = b.uint("request_update", 1)
    b.done("KeyUpdate")
    return KeyUpdate(v, b.spans)


def _end_of_early_data(b: _Body) -> EndOfEarlyData:
    b.done("EndOfEarlyData")
    return EndOfEarlyData(b.spans)


def _request_connection_id(b: _Body) -> RequestConnectionId:
    n = b.uint("num_cids", 1)
    b.done("RequestConnectionId")
    return RequestConnectionId(n, b.spans)


def _new_connection_id(b: _Body) -> NewConnectionId:
    cids: list[bytes] = []
    start = b.r.offset
    with b.r.pull_block(2, "cids"):
        while not b.r.eof():
            s = b.r.offset
            cids.append(b.r.pull_vector(1, "cid"))
            b.mark(f"cids[{len(cids) - 1}]", s)
    b.mark("cids", start)
    usage = b.uint("usage", 1)
    b.done("NewConnectionId")
    return NewConnectionId(tuple(cids), usage, b.spans)


def parse_ack(content: bytes, base: int = 0) -> Ack:
    """The body of an ACK record (RFC 9147 §7): ``RecordNumber record_numbers<0..2^16-1>``,
    each a uint64 epoch and a uint64 sequence number. Raises DecodeError."""
    b = _Body(bytes(content), base, _NO_CONTEXT)
    numbers: list[tuple[int, int]] = []
    start = b.r.offset
    with b.r.pull_block(2, "record_numbers") as n:
        if n % 16:
            raise DecodeError(start, f"record_numbers: length {n} is not a multiple of 16")
        while not b.r.eof():
            s = b.r.offset
            numbers.append((b.r.pull_uint(8, "epoch"), b.r.pull_uint(8, "sequence_number")))
            b.mark(f"record_numbers[{len(numbers) - 1}]", s)
    b.mark("record_numbers", start)
    b.done("ACK")
    return Ack(tuple(numbers), b.spans)


def parse_body(
    msg_type: int, body: bytes, ctx: ParseContext | None = None, base: int = 0
) -> HandshakeBody:
    """Decode a reassembled handshake body; raises :class:`DecodeError` only.

    ``base`` is added to every span and error offset (pass the body's offset in
    the datagram, or 12 to point into the unfragmented message).
    """
    b = _Body(bytes(body), base, ctx or _NO_CONTEXT)
    if msg_type == 1:
        return _client_hello(b)
    if msg_type == 2:
        return _server_hello(b)
    if msg_type == 3:
        return _hello_verify_request(b)
    if msg_type == 4:
        return _new_session_ticket(b)
    if msg_type == 8:
        return _encrypted_extensions(b)
    if msg_type == 11:
        return _certificate(b)
    if msg_type == 12:
        return _server_key_exchange(b)
    if msg_type == 13:
        return _certificate_request(b)
    if msg_type == 14:
        return _server_hello_done(b)
    if msg_type == 0:
        return _hello_request(b)
    if msg_type == 15:
        return _certificate_verify(b)
    if msg_type == 16:
        return _client_key_exchange(b)
    if msg_type == 20:
        return _finished(b)
    if msg_type == 24:
        return _key_update(b)
    if msg_type == 5:
        return _end_of_early_data(b)
    if msg_type == 9:
        return _request_connection_id(b)
    if msg_type == 10:
        return _new_connection_id(b)
    return UnknownBody(msg_type, b.data, {"raw": (base, base + len(b.data))})
