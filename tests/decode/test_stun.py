"""STUN parsing: real ICE checks from the shared captures, then broken ones."""

from __future__ import annotations

import contextlib
import struct
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.decode.dtls.reader import DecodeError
from proxy.decode.stun import parse_stun

# webrtc-stun.pcap frame 1 (controlling agent, USE-CANDIDATE) and frame 2 (its answer)
BINDING_REQUEST = bytes.fromhex(
    "000100582112a4422598a65b9710b89865bc344000060019547735586d47414254553535753646323a3331"
    "65353862623600000000250000002400046e7f00ff802a00089e681f4a7b38b1cc000800147320f87b2afd"
    "14aae987eac3a85b6bcb31cea55080280004287c8926"
)
BINDING_SUCCESS = bytes.fromhex(
    "0101002c2112a4422598a65b9710b89865bc34400020000800015b2ae1841fac00080014f493acdab4af84"
    "cc57677e1584af9e25cf59526d802800046eef2e05"
)
# webrtc-stun.pcap frame 3: controlled agent's check
CONTROLLED_REQUEST = bytes.fromhex(
    "000100542112a4427cfaa5c3c0d752b57eb45c130006001933316535386262363a547735586d4741425455"
    "353575364632000000002400047effffff80290008ffffffffe312d76800080014352c3e664a7d60a60daa"
    "7fb08e0b0963e3fce062802800041521c353"
)
# stun_dtls_rtp.pcapng frame 1: Chromium, with GOOG-NETWORK-INFO (0xc057)
CHROMIUM_REQUEST = bytes.fromhex(
    "000100602112a4426f3653685355524a684e466b0006001f65613357745f396141536f6f65676f4b414169"
    "4b4169414445413a386a623600c05700040003000a802a0008c798f641adc04a9f002400046e7f1eff0008"
    "001455cc08ee9d10e633cd893835c973c3b7e7ffeb9d802800044c9a4a83"
)


def build(msg_type: int, attrs: list[tuple[int, bytes]], txid: bytes = b"T" * 12) -> bytes:
    body = b""
    for t, v in attrs:
        body += struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)
    return struct.pack("!HHI", msg_type, len(body), 0x2112A442) + txid + body


def test_controlling_binding_request() -> None:
    info = parse_stun(BINDING_REQUEST)
    assert (info.method, info.cls) == ("binding", "request")
    assert info.transaction_id == "2598a65b9710b89865bc3440"
    assert dict(info.attributes) == {
        "USERNAME": "Tw5XmGABTU55u6F2:31e58bb6",
        "USE-CANDIDATE": "yes",
        "PRIORITY": "1853817087",
        "ICE-CONTROLLING": "tie-breaker 0x9e681f4a7b38b1cc",
        "MESSAGE-INTEGRITY": "present",
        "FINGERPRINT": "0x287c8926 ok",
    }


def test_success_answer_carries_xor_mapped_address() -> None:
    info = parse_stun(BINDING_SUCCESS)
    assert (info.method, info.cls) == ("binding", "success")
    assert info.transaction_id == parse_stun(BINDING_REQUEST).transaction_id
    assert info.attributes["XOR-MAPPED-ADDRESS"] == "192.150.187.238:31288"


def test_controlled_request() -> None:
    info = parse_stun(CONTROLLED_REQUEST)
    assert info.attributes["ICE-CONTROLLED"] == "tie-breaker 0xffffffffe312d768"
    assert "USE-CANDIDATE" not in info.attributes


def test_chromium_network_info_is_named() -> None:
    info = parse_stun(CHROMIUM_REQUEST)
    assert info.attributes["GOOG-NETWORK-INFO"] == "0003000a"
    assert info.unknown_attributes == ()
    assert info.attributes["FINGERPRINT"].endswith(" ok")


def test_error_response_role_conflict() -> None:
    data = build(0x0111, [(0x0009, b"\0\0\x04\x57Role Conflict")])
    info = parse_stun(data)
    assert (info.method, info.cls) == ("binding", "error")
    assert info.attributes == {"ERROR-CODE": "487 Role Conflict"}


def test_ipv6_xor_mapped_address() -> None:
    txid = bytes(range(12))
    addr = bytes.fromhex("20010db8000000000000000000000001")
    mask = struct.pack("!I", 0x2112A442) + txid
    xored = bytes(a ^ b for a, b in zip(addr, mask, strict=True))
    value = b"\0\x02" + struct.pack("!H", 5000 ^ 0x2112) + xored
    info = parse_stun(build(0x0101, [(0x0020, value)], txid))
    assert info.attributes["XOR-MAPPED-ADDRESS"] == "[2001:db8::1]:5000"


def test_unknown_attribute_and_goog_ping_are_kept() -> None:
    data = build(0x0200, [(0x7FFF, b"abc")])  # GOOG-PING request, comprehension-optional attr
    info = parse_stun(data)
    assert (info.method, info.cls) == ("goog_ping", "request")
    assert info.unknown_attributes == (0x7FFF,)


def test_no_fingerprint_and_bad_fingerprint() -> None:
    assert "FINGERPRINT" not in parse_stun(build(0x0001, [(0x0006, b"a:b")])).attributes
    head = build(0x0001, [(0x0006, b"a:b")])
    good = zlib.crc32(head[:2] + struct.pack("!H", len(head) - 20 + 8) + head[4:]) ^ 0x5354554E
    ok = build(0x0001, [(0x0006, b"a:b"), (0x8028, struct.pack("!I", good))])
    bad = build(0x0001, [(0x0006, b"a:b"), (0x8028, struct.pack("!I", good ^ 1))])
    assert parse_stun(ok).attributes["FINGERPRINT"].endswith(" ok")
    assert "mismatch" in parse_stun(bad).attributes["FINGERPRINT"]


@pytest.mark.parametrize(
    ("data", "offset", "reason"),
    [
        (b"\x00\x01\x00", 2, "needs 2 bytes"),
        (b"\x80" + BINDING_REQUEST[1:], 0, "not STUN"),
        (BINDING_REQUEST[:-4], 2, "only 84 bytes follow"),
        (BINDING_REQUEST + b"\0\0\0\0", 108, "4 bytes after"),
        (BINDING_REQUEST[:3] + b"\x57" + BINDING_REQUEST[4:] + b"\0" * 3, 2, "multiple of 4"),
    ],
)
def test_malformed_header(data: bytes, offset: int, reason: str) -> None:
    with pytest.raises(DecodeError) as exc:
        parse_stun(data)
    assert exc.value.offset == offset
    assert reason in exc.value.reason


def test_truncated_attribute_reports_its_offset() -> None:
    data = build(0x0001, [(0x0006, b"abcd")])
    data = data[:22] + struct.pack("!H", 40) + data[24:]  # USERNAME claims 40 bytes, has 4
    with pytest.raises(DecodeError) as exc:
        parse_stun(data)
    assert exc.value.offset == 24
    assert "USERNAME" in exc.value.reason


def test_bad_address_family() -> None:
    with pytest.raises(DecodeError, match="unknown address family 7"):
        parse_stun(build(0x0101, [(0x0020, b"\0\x07\0\0\1\2\3\4")]))


@given(st.binary(max_size=120), st.integers(0, 107), st.integers(0, 255))
def test_only_decode_error_escapes(junk: bytes, pos: int, value: int) -> None:
    for data in (junk, BINDING_REQUEST[:pos] + bytes([value]) + BINDING_REQUEST[pos + 1 :]):
        with contextlib.suppress(DecodeError):
            parse_stun(data)
