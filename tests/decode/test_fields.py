"""Field trees: every decoded body rendered with registry names and byte spans
that a hex view can highlight."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from proxy.decode.dtls.extensions import parse_extension_body
from proxy.decode.dtls.fields import FieldNode, extension_node, field_tree
from proxy.decode.dtls.messages import parse_body
from tests.decode.test_messages import (
    ALL_CAPTURES,
    CHROME,
    FIREFOX,
    WEBRTC10,
    capture_messages,
    parse_session,
)


def walk(nodes: tuple[FieldNode, ...], depth: int = 0) -> Iterator[tuple[int, FieldNode]]:
    for n in nodes:
        yield depth, n
        yield from walk(n.children, depth + 1)


def find(nodes: tuple[FieldNode, ...], label: str) -> FieldNode:
    return next(n for _d, n in walk(nodes) if n.label == label)


def test_client_hello_tree_names_and_spans(captures_dir: Path) -> None:
    body = capture_messages(CHROME)[0].body
    tree = field_tree(parse_body(1, body))
    suites = find(tree, "cipher_suites")
    assert suites.value == "11 suites"
    first = suites.children[0]
    assert first.value == "0xc02b TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    assert first.span is not None and body[first.span[0] : first.span[1]] == b"\xc0\x2b"
    version = find(tree, "client_version")
    assert version.value == "0xfefd DTLS 1.2" and version.span == (0, 2)
    srtp = find(tree, "use_srtp (14)")
    assert srtp.span is not None and body[srtp.span[0] : srtp.span[0] + 2] == b"\x00\x0e"
    assert [c.value for c in srtp.children][:3] == [
        "0x0001 SRTP_AES128_CM_HMAC_SHA1_80",
        "0x0008 SRTP_AEAD_AES_256_GCM",
        "0x0007 SRTP_AEAD_AES_128_GCM",
    ]
    groups = find(tree, "supported_groups (10)")
    assert groups.value == "x25519, secp256r1, secp384r1"


def check_nesting(nodes: tuple[FieldNode, ...], outer: tuple[int, int]) -> int:
    """Every span lies inside its nearest ancestor's span; returns the spans checked."""
    count = 0
    for n in nodes:
        inner = outer
        if n.span is not None:
            assert outer[0] <= n.span[0] <= n.span[1] <= outer[1], n
            inner = n.span
            count += 1
        count += check_nesting(n.children, inner)
    return count


def test_spans_nest_and_stay_inside_the_body(captures_dir: Path) -> None:
    checked = 0
    for name in ALL_CAPTURES:
        for m, body in parse_session(capture_messages(name)):
            checked += check_nesting(field_tree(body), (0, len(m.body)))
            at12 = parse_body(m.msg_type, m.body, base=12)
            checked += check_nesting(field_tree(at12), (12, 12 + len(m.body)))
    assert checked > 1000


def test_base_shifts_every_span(captures_dir: Path) -> None:
    body = parse_body(1, capture_messages(FIREFOX)[0].body)
    plain = [n.span for _d, n in walk(field_tree(body))]
    shifted = [n.span for _d, n in walk(field_tree(body, 100))]
    assert [None if s is None else (s[0] + 100, s[1] + 100) for s in plain] == shifted


def test_dtls10_server_key_exchange_tree(captures_dir: Path) -> None:
    ske = next(
        b for _m, b in parse_session(capture_messages(WEBRTC10)) if b.NAME == "ServerKeyExchange"
    )
    tree = field_tree(ske)
    assert find(tree, "kind").value == "ecdhe"
    assert find(tree, "curve_type").value == "0x03 named_curve"
    assert find(tree, "named_curve").value.endswith("secp256r1")
    assert all(n.label != "signature_algorithm" for _d, n in walk(tree))  # None: left out


def test_certificate_tree_shows_the_fingerprint(captures_dir: Path) -> None:
    cert = next(b for _m, b in parse_session(capture_messages(CHROME)) if b.NAME == "Certificate")
    tree = field_tree(cert)
    assert find(tree, "certificates").value == "1 certificates"
    assert find(tree, "certificate[0]").value == "CN=WebRTC"
    fp = find(tree, "fingerprint sha-256").value
    assert fp == cert.entries[0].summary.fingerprint_sha256


def test_malformed_and_unknown_extensions() -> None:
    bad = extension_node(parse_extension_body(10, b"\x00\x03\x00\x17\x00", 0, "client_hello"))
    assert bad.label == "supported_groups (10)" and bad.value.startswith("malformed: ")
    assert bad.children[0].label == "data" and bad.children[0].span == (4, 9)
    unknown = extension_node(parse_extension_body(0x1234, b"\x01\x02", 0, "client_hello"))
    assert unknown.label == "0x1234 (4660)" and unknown.value == "2 bytes: 0102"


def test_unknown_body_is_raw() -> None:
    tree = field_tree(parse_body(99, b"\xde\xad"))
    assert find(tree, "raw").value == "2 bytes: dead"
    assert find(tree, "raw").span == (0, 2)
