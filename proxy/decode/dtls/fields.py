"""Render any parsed handshake body as a tree of named fields with byte spans.

The TUI shows the tree next to a hex view: selecting a node highlights
``span`` (start, end) in the bytes. Names come from :mod:`proxy.decode.dtls.registry`
(``0xc02b TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256``); values without a name
stay raw. The walk is generic over the body dataclasses and their ``spans``;
only fields whose numbers have names get special rendering.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from proxy.decode.dtls import registry as reg
from proxy.decode.dtls.extensions import (
    Alpn,
    Extension,
    KeyShareEntry,
    OfferedPsks,
    ServerName,
    StatusRequest,
    UseSrtp,
)
from proxy.decode.dtls.x509 import CertificateSummary

Span = tuple[int, int]

HEX_PREVIEW = 24
"""Bytes shown in a value before it is cut with an ellipsis."""


@dataclass(frozen=True, slots=True)
class FieldNode:
    """One line of the tree: ``label: value``, where it is in the bytes, and its children."""

    label: str
    value: str
    span: Span | None
    children: tuple[FieldNode, ...] = ()


def hex_preview(b: bytes, limit: int = HEX_PREVIEW) -> str:
    """``n bytes: 0a1b...`` (the hex cut after ``limit`` bytes); ``empty`` for b""."""
    if not b:
        return "empty"
    shown = b[:limit].hex()
    return f"{len(b)} bytes: {shown}{'…' if len(b) > limit else ''}"


HANDSHAKE_HEADER = 12
"""Bytes of the DTLS handshake header in front of a message body (RFC 6347 4.2.2)."""


def header_node(raw: bytes, name: str = "") -> FieldNode:
    """The 12-byte DTLS handshake header of ``raw`` (header + body), field by field."""
    if len(raw) < HANDSHAKE_HEADER:
        return FieldNode("handshake header", "(absent)", None)

    def num(lo: int, hi: int) -> str:
        return str(int.from_bytes(raw[lo:hi], "big"))

    return FieldNode("handshake header", "12 bytes", (0, HANDSHAKE_HEADER), (
        FieldNode("msg_type", f"{raw[0]} {name}".strip(), (0, 1)),
        FieldNode("length", num(1, 4), (1, 4)),
        FieldNode("message_seq", num(4, 6), (4, 6)),
        FieldNode("fragment_offset", num(6, 9), (6, 9)),
        FieldNode("fragment_length", num(9, 12), (9, 12)),
    ))


def _shift(span: Span | None, base: int) -> Span | None:
    return None if span is None else (span[0] + base, span[1] + base)


def _named(table: reg.Table) -> Callable[[int], str]:
    return lambda v: reg.label(table, v)


def _sig(v: int) -> str:
    return f"0x{v:04x} {reg.signature_scheme_name(v)}"


_SCALARS: dict[str, Callable[[int], str]] = {
    "client_version": _named(reg.VERSIONS),
    "server_version": _named(reg.VERSIONS),
    "cipher_suite": _named(reg.CIPHER_SUITES),
    "compression_method": _named(reg.COMPRESSION_METHODS),
    "named_curve": _named(reg.SUPPORTED_GROUPS),
    "curve_type": _named(reg.EC_CURVE_TYPES),
    "signature_algorithm": _sig,
}

_LISTS: dict[str, tuple[str, Callable[[int], str]]] = {
    "cipher_suites": ("suites", _named(reg.CIPHER_SUITES)),
    "compression_methods": ("methods", _named(reg.COMPRESSION_METHODS)),
    "signature_algorithms": ("algorithms", _sig),
    "certificate_types": ("types", _named(reg.CERTIFICATE_TYPES)),
}

# extension type -> how to name its integer items
_EXT_ITEMS: dict[int, Callable[[int], str]] = {
    10: _named(reg.SUPPORTED_GROUPS),
    11: _named(reg.EC_POINT_FORMATS),
    13: _sig,
    50: _sig,
    43: _named(reg.VERSIONS),
    45: _named(reg.PSK_KEY_EXCHANGE_MODES),
    19: _named(reg.CERT_TYPE_VALUES),
    20: _named(reg.CERT_TYPE_VALUES),
    1: _named(reg.MAX_FRAGMENT_LENGTHS),
}


def _short(names: list[str], noun: str) -> str:
    if len(names) <= 3:
        return ", ".join(names) if names else f"no {noun}"
    return f"{len(names)} {noun}"


def _text(b: bytes) -> str:
    return b.decode("utf-8", errors="backslashreplace")


def _ext_value(ext: Extension, base: int) -> tuple[str, tuple[FieldNode, ...]]:
    v = ext.value
    sp = ext.spans

    def item(i: int) -> Span | None:
        return _shift(sp.get(f"value[{i}]"), base)

    if isinstance(v, bool):
        return "present", ()
    if isinstance(v, tuple) and all(isinstance(x, int) for x in v):
        fmt = _EXT_ITEMS.get(ext.type, str)
        kids = tuple(FieldNode(f"[{i}]", fmt(x), item(i)) for i, x in enumerate(v))
        return _short([fmt(x).split(" ", 1)[-1] for x in v], "items"), kids
    if isinstance(v, int):
        if ext.type == 51:
            return reg.label(reg.SUPPORTED_GROUPS, v), ()
        fmt = _EXT_ITEMS.get(ext.type, str)
        return fmt(v), ()
    if isinstance(v, bytes):
        return hex_preview(v), ()
    if isinstance(v, UseSrtp):
        names = [reg.label(reg.SRTP_PROFILES, p) for p in v.profiles]
        srtp = [FieldNode(f"profile[{i}]", n, item(i)) for i, n in enumerate(names)]
        srtp.append(FieldNode("mki", hex_preview(v.mki), _shift(sp.get("mki"), base)))
        return _short([n.split(" ", 1)[-1] for n in names], "profiles"), tuple(srtp)
    if isinstance(v, Alpn):
        protos = [_text(p) for p in v.protocols]
        kids = tuple(FieldNode(f"[{i}]", p, item(i)) for i, p in enumerate(protos))
        return ", ".join(protos), kids
    if isinstance(v, KeyShareEntry):
        return _key_share_label(v), ()
    if isinstance(v, tuple) and all(isinstance(x, KeyShareEntry) for x in v):
        kids = tuple(FieldNode(f"[{i}]", _key_share_label(x), item(i)) for i, x in enumerate(v))
        return _short([reg.name(reg.SUPPORTED_GROUPS, x.group) for x in v], "shares"), kids
    if isinstance(v, tuple) and all(isinstance(x, ServerName) for x in v):
        names = [_text(x.name) for x in v]
        kids = tuple(FieldNode(f"[{i}]", n, item(i)) for i, n in enumerate(names))
        return (", ".join(names) or "empty (acknowledged)"), kids
    if isinstance(v, OfferedPsks):
        kids = tuple(
            FieldNode(f"identity[{i}]", hex_preview(p.identity), None)
            for i, p in enumerate(v.identities)
        )
        return f"{len(v.identities)} identities", kids
    if isinstance(v, StatusRequest):
        return reg.name(reg.CERTIFICATE_STATUS_TYPES, v.status_type), ()
    return str(v), ()


def _key_share_label(e: KeyShareEntry) -> str:
    return f"{reg.label(reg.SUPPORTED_GROUPS, e.group)} ({len(e.key_exchange)} bytes)"


def extension_node(ext: Extension, base: int = 0) -> FieldNode:
    """One extension: ``use_srtp (14): SRTP_AES128_CM_HMAC_SHA1_80`` with its items."""
    span = _shift((ext.offset, ext.end), base)
    label = f"{ext.name} ({ext.type})"
    if ext.error is not None:
        raw = FieldNode("data", hex_preview(ext.data), _shift(ext.spans.get("data"), base))
        return FieldNode(label, f"malformed: {ext.error}", span, (raw,))
    if ext.value is None:
        return FieldNode(label, hex_preview(ext.data), span)
    value, kids = _ext_value(ext, base)
    return FieldNode(label, value, span, kids)


def certificate_nodes(s: CertificateSummary) -> tuple[FieldNode, ...]:
    """The summary of one certificate as leaf nodes (no spans: they are inside the DER)."""
    key = (
        s.key_type
        + (f" {s.curve}" if s.curve else "")
        + (f" {s.key_size} bits" if s.key_size and not s.curve else "")
    )
    return (
        FieldNode("subject", s.subject, None),
        FieldNode("issuer", s.issuer, None),
        FieldNode("not_before", s.not_before, None),
        FieldNode("not_after", s.not_after, None),
        FieldNode("key", key, None),
        FieldNode("signature_algorithm", s.signature_algorithm, None),
        FieldNode("self_signed", str(s.self_signed), None),
        FieldNode("fingerprint sha-256", s.fingerprint_sha256, None),
    )


def _node(name: str, value: Any, spans: dict[str, Span], base: int) -> FieldNode | None:
    span = _shift(spans.get(name), base)
    if value is None:
        return None
    if name in _SCALARS and isinstance(value, int):
        return FieldNode(name, _SCALARS[name](value), span)
    if name in _LISTS and isinstance(value, tuple):
        noun, fmt = _LISTS[name]
        kids = tuple(
            FieldNode(f"[{i}]", fmt(v), _shift(spans.get(f"{name}[{i}]"), base))
            for i, v in enumerate(value)
        )
        return FieldNode(name, f"{len(value)} {noun}", span, kids)
    if name == "extensions" and isinstance(value, tuple):
        kids = tuple(extension_node(e, base) for e in value if isinstance(e, Extension))
        return FieldNode(name, f"{len(kids)} extensions", span, kids)
    if name == "entries" and isinstance(value, tuple):
        kids = tuple(
            _entry_node(i, e, _shift(spans.get(f"entries[{i}]"), base), base)
            for i, e in enumerate(value)
        )
        return FieldNode("certificates", f"{len(kids)} certificates", span, kids)
    if isinstance(value, bool):
        return FieldNode(name, str(value), span)
    if isinstance(value, int):
        return FieldNode(name, str(value), span)
    if isinstance(value, str):
        return FieldNode(name, value, span)
    if isinstance(value, bytes):
        return FieldNode(name, hex_preview(value), span)
    if isinstance(value, tuple):
        kids = tuple(
            n
            for i, v in enumerate(value)
            if (n := _node(f"{name}[{i}]", v, spans, base)) is not None
        )
        return FieldNode(name, f"{len(value)} items", span, kids)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return FieldNode(name, type(value).__name__, span, field_tree(value, base))
    return FieldNode(name, str(value), span)


def _entry_node(i: int, e: Any, span: Span | None, base: int) -> FieldNode:
    summary: CertificateSummary | None = getattr(e, "summary", None)
    kids: tuple[FieldNode, ...]
    if summary is not None:
        kids = certificate_nodes(summary)
        value = summary.subject
    else:
        kids = (FieldNode("error", str(getattr(e, "error", "")), None),)
        value = "does not parse"
    der: bytes = getattr(e, "der", b"")
    der_span = _shift(getattr(e, "spans", {}).get("der"), base)
    kids = (*kids, FieldNode("der", hex_preview(der), der_span))
    exts: tuple[Extension, ...] = getattr(e, "extensions", ())
    if exts:
        kids = (*kids, *(extension_node(x, base) for x in exts))
    return FieldNode(f"certificate[{i}]", value, span, kids)


def field_tree(body: Any, base: int = 0) -> tuple[FieldNode, ...]:
    """Nodes for every field of a body dataclass (None fields left out).

    ``base`` is added to every span recorded at parse time (parse with base 0,
    then pass the body's offset in the datagram to point into the datagram).
    """
    if not dataclasses.is_dataclass(body) or isinstance(body, type):
        return (FieldNode("value", str(body), None),)
    spans: dict[str, Span] = getattr(body, "spans", {}) or {}
    out: list[FieldNode] = []
    for f in dataclasses.fields(body):
        if f.name == "spans" or f.name.startswith("_"):
            continue
        node = _node(f.name, getattr(body, f.name), spans, base)
        if node is not None:
            out.append(node)
    return tuple(out)
