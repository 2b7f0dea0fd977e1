"""The comparable fields of one handshake message: ``name -> Field`` in a fixed order.

Values are short display strings (registry names, hex for unknowns). Fields whose
values differ on every handshake by design (randoms, key shares, signatures, ciphertext,
cookies, tickets) are ``volatile``: a diff reports them as "differ, as expected" unless
asked for everything; their lengths and presence are ordinary fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.decode.dtls import registry as reg
from proxy.decode.dtls.extensions import Extension, KeyShareEntry
from proxy.decode.dtls.messages import (
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    ClientKeyExchange,
    Finished,
    HelloVerifyRequest,
    NewSessionTicket,
    ServerHello,
    ServerKeyExchange,
)
from proxy.events import MessageSeen, jsonable

VOLATILE_EXTENSIONS = frozenset({0x0029, 0x0033, 0x0015, 0x0023})
"""pre_shared_key, key_share, padding, session_ticket: their values change every time."""


@dataclass(frozen=True)
class Field:
    """One value of a message."""

    text: str
    volatile: bool = False
    tolerance: float | None = None
    """For a time (``+0.123s``): differences up to this many seconds are the same."""


def _hex_len(b: bytes | None) -> str:
    return "absent" if b is None else f"{len(b)} bytes"


def _names(table: reg.Table, values: tuple[int, ...] | list[int]) -> str:
    return ", ".join(reg.name(table, v) for v in values) or "none"


def _ext_value(e: Extension) -> str:
    if e.type == 0x0033:  # key_share: the groups, the keys are volatile
        v = e.value
        entries = v if isinstance(v, tuple) else (v,)
        groups = [reg.name(reg.SUPPORTED_GROUPS, x.group) for x in entries
                  if isinstance(x, KeyShareEntry)]
        groups += [reg.name(reg.SUPPORTED_GROUPS, x) for x in entries if isinstance(x, int)]
        return ", ".join(groups) or "empty"
    if e.type in (0x000A,):
        return _names(reg.SUPPORTED_GROUPS, tuple(v for v in (e.value or ()) if isinstance(v, int)))
    if e.type in (0x000D, 0x0032):
        return ", ".join(reg.signature_scheme_name(v) for v in (e.value or ())
                         if isinstance(v, int)) or "none"
    if e.value is None:
        return e.data.hex() or "empty"
    return str(jsonable(e.value))


def _extensions(out: dict[str, Field], exts: tuple[Extension, ...]) -> None:
    out["extensions"] = Field(", ".join(e.name for e in exts) or "none")
    for e in exts:
        key = f"extension {e.name}"
        if e.type in VOLATILE_EXTENSIONS and e.type != 0x0033:
            out[key] = Field(_hex_len(e.data), True)
            continue
        out[key] = Field(_ext_value(e))
        if e.type == 0x0033:
            out["key_share values"] = Field(e.data.hex(), True)


def _certificate(out: dict[str, Field], body: Certificate) -> None:
    out["chain length"] = Field(str(len(body.entries)))
    for i, entry in enumerate(body.entries):
        p = "certificate" if i == 0 else f"chain[{i}]"
        s = entry.summary
        if s is None:
            out[f"{p} error"] = Field(entry.error or "does not parse")
            out[f"{p} sha-256"] = Field(_hex_len(entry.der))
            continue
        out[f"{p} sha-256"] = Field(s.fingerprint_sha256)
        out[f"{p} subject"] = Field(s.subject)
        out[f"{p} issuer"] = Field(s.issuer)
        key = s.key_type + (f" {s.curve}" if s.curve else "") + (
            f" {s.key_size} bits" if s.key_size and not s.curve else "")
        out[f"{p} key"] = Field(key)
        out[f"{p} validity"] = Field(f"{s.not_before} to {s.not_after}")
        out[f"{p} signature algorithm"] = Field(s.signature_algorithm)
        out[f"{p} serial"] = Field(s.serial)


def body_fields(body: Any) -> dict[str, Field]:
    """The fields of a parsed handshake body (empty for None)."""
    out: dict[str, Field] = {}
    if isinstance(body, ClientHello):
        out["version"] = Field(reg.name(reg.VERSIONS, body.client_version))
        out["random"] = Field(body.random.hex(), True)
        out["session_id"] = Field(_hex_len(body.session_id) if body.session_id else "empty")
        out["cookie"] = Field(_hex_len(body.cookie) if body.cookie else "empty")
        out["cipher_suites"] = Field(_names(reg.CIPHER_SUITES, body.cipher_suites))
        out["compression_methods"] = Field(_names(reg.COMPRESSION_METHODS,
                                                  body.compression_methods))
        _extensions(out, body.extensions)
    elif isinstance(body, ServerHello):
        out["version"] = Field(reg.name(reg.VERSIONS, body.server_version))
        out["random"] = Field(body.random.hex(), True)
        out["session_id"] = Field(_hex_len(body.session_id) if body.session_id else "empty")
        out["cipher_suite"] = Field(reg.name(reg.CIPHER_SUITES, body.cipher_suite))
        out["compression_method"] = Field(reg.name(reg.COMPRESSION_METHODS,
                                                   body.compression_method))
        _extensions(out, body.extensions)
    elif isinstance(body, HelloVerifyRequest):
        out["version"] = Field(reg.name(reg.VERSIONS, body.server_version))
        out["cookie length"] = Field(str(len(body.cookie)))
        out["cookie"] = Field(body.cookie.hex(), True)
    elif isinstance(body, Certificate):
        _certificate(out, body)
    elif isinstance(body, ServerKeyExchange):
        out["kind"] = Field(body.kind)
        if body.named_curve is not None:
            out["group"] = Field(reg.name(reg.SUPPORTED_GROUPS, body.named_curve))
        if body.signature_algorithm is not None:
            out["signature scheme"] = Field(reg.signature_scheme_name(body.signature_algorithm))
        for name in ("point", "dh_p", "dh_g", "dh_ys"):
            value = getattr(body, name)
            if value is not None:
                out[f"{name} length"] = Field(str(len(value)))
                out[name] = Field(value.hex(), name != "dh_p" and name != "dh_g")
        if body.signature is not None:
            out["signature length"] = Field(str(len(body.signature)), True)
            out["signature"] = Field(body.signature.hex(), True)
    elif isinstance(body, CertificateRequest):
        out["certificate types"] = Field(", ".join(str(t) for t in body.certificate_types))
        if body.signature_algorithms is not None:
            out["signature schemes"] = Field(", ".join(
                reg.signature_scheme_name(v) for v in body.signature_algorithms))
        out["certificate authorities"] = Field(str(len(body.certificate_authorities)))
    elif isinstance(body, ClientKeyExchange):
        out["kind"] = Field(body.kind)
        for name in ("point", "dh_yc", "encrypted_pre_master_secret"):
            value = getattr(body, name)
            if value is not None:
                out[f"{name} length"] = Field(str(len(value)))
                out[name] = Field(value.hex(), True)
    elif isinstance(body, CertificateVerify):
        if body.signature_algorithm is not None:
            out["signature scheme"] = Field(reg.signature_scheme_name(body.signature_algorithm))
        out["signature length"] = Field(str(len(body.signature)), True)  # ECDSA DER varies
        out["signature"] = Field(body.signature.hex(), True)
    elif isinstance(body, Finished):
        out["verify_data"] = Field(body.verify_data.hex(), True)
    elif isinstance(body, NewSessionTicket):
        out["lifetime"] = Field(str(body.lifetime))
        out["ticket length"] = Field(str(len(body.ticket)))
        out["ticket"] = Field(body.ticket.hex(), True)
    return out


def message_fields(m: MessageSeen, copies: int = 1) -> dict[str, Field]:
    """Body fields, then what the wire shows of the message (sizes, fragmentation,
    retransmissions); ciphertext of an encrypted message is volatile."""
    out = body_fields(m.body)
    if m.encrypted and m.body is None:
        out["ciphertext"] = Field(m.raw.hex() or f"{m.length} bytes", True)
    if m.error:
        out["decode error"] = Field(m.error)
    # a message with a signature (DER ECDSA: 70-72 bytes) varies in length by design
    signed = isinstance(m.body, CertificateVerify | ServerKeyExchange)
    out["length"] = Field(str(m.length), signed)
    out["datagrams"] = Field(str(len(m.frames)))
    out["copies"] = Field(str(copies))
    return out
