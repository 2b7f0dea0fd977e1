"""Hello extensions: real extension blocks in, decoded values (or kept-raw errors) out."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.decode.dtls import extensions as exts
from proxy.decode.dtls.extensions import (
    Alpn,
    CertificateStatus,
    KeyShareEntry,
    OfferedPsks,
    PskIdentity,
    ServerName,
    StatusRequest,
    UseSrtp,
    parse_extension_body,
    parse_extensions,
)
from proxy.decode.dtls.messages import ClientHello, parse_body
from proxy.decode.dtls.reader import DecodeError, Reader
from tests.decode.test_messages import (
    CHROME,
    FIREFOX,
    OPENSSL12,
    PSK_CCM8,
    WOLFSSL13,
    capture_messages,
)


def block(*items: tuple[int, bytes]) -> bytes:
    """An extensions block: two-byte total length, then type/length/data per extension."""
    inner = b"".join(struct.pack("!HH", t, len(d)) + d for t, d in items)
    return struct.pack("!H", len(inner)) + inner


def one(ext_type: int, data: bytes, context: str = exts.CLIENT_HELLO) -> exts.Extension:
    return parse_extension_body(ext_type, data, 100, context)


def test_chromium_client_hello_extensions(captures_dir: Path) -> None:
    ch = parse_body(1, capture_messages(CHROME)[0].body)
    assert isinstance(ch, ClientHello)
    got = {e.name: e.value for e in ch.extensions}
    assert got["extended_master_secret"] is True
    assert got["renegotiation_info"] == b""
    assert got["supported_groups"] == (29, 23, 24)
    assert got["ec_point_formats"] == (0,)
    assert got["session_ticket"] == b""
    assert got["signature_algorithms"][:3] == (0x0403, 0x0804, 0x0401)
    assert got["use_srtp"] == UseSrtp((0x0001, 0x0008, 0x0007), b"")
    assert all(e.error is None for e in ch.extensions)


def test_supported_versions_and_key_share_depend_on_the_message(captures_dir: Path) -> None:
    ch1, hrr, _ch2, sh = (parse_body(m.msg_type, m.body) for m in capture_messages(WOLFSSL13))
    assert ch1.extension("supported_versions").value == (0xFEFC,)  # type: ignore[union-attr]
    assert hrr.extension("supported_versions").value == 0xFEFC  # type: ignore[union-attr]
    shares = ch1.extension("key_share").value  # type: ignore[union-attr]
    assert isinstance(shares, tuple) and all(isinstance(s, KeyShareEntry) for s in shares)
    assert sh.extension("key_share").value.group == 23  # type: ignore[union-attr]
    assert len(sh.extension("key_share").value.key_exchange) == 65  # type: ignore[union-attr]
    assert ch1.extension("encrypt_then_mac").value is True  # type: ignore[union-attr]
    # HRR key_share carries only the selected group
    e = one(51, b"\x00\x1d", exts.HELLO_RETRY_REQUEST)
    assert e.value == 29 and e.error is None


def test_status_request_and_renegotiation_info_from_gnutls(captures_dir: Path) -> None:
    ch = parse_body(1, capture_messages(PSK_CCM8)[0].body)
    sr = ch.extension("status_request")  # type: ignore[union-attr]
    assert sr is not None and sr.value == StatusRequest(1, (), b"")
    assert ch.extension(0xFF01).value == b""  # type: ignore[union-attr]


def test_alpn_and_record_size_limit_from_firefox(captures_dir: Path) -> None:
    ch = parse_body(1, capture_messages(FIREFOX)[0].body)
    assert ch.extension(16).value == Alpn((b"webrtc", b"c-webrtc"))  # type: ignore[union-attr]
    assert ch.extension(28).value == 16384  # type: ignore[union-attr]


def test_unknown_extension_kept_raw_with_its_number(captures_dir: Path) -> None:
    ch = parse_body(1, capture_messages(OPENSSL12)[0].body)
    hb = ch.extension("heartbeat")  # type: ignore[union-attr]
    assert hb is not None and hb.type == 15 and hb.value is None and hb.data == b"\x01"
    grease = one(0x2A2A, b"\x00")
    assert grease.name == "GREASE (0x2a2a)" and grease.value is None and grease.error is None


def test_malformed_extension_keeps_the_message(captures_dir: Path) -> None:
    body = bytearray(capture_messages(CHROME)[0].body)
    ch = parse_body(1, bytes(body))
    srtp = ch.extension("use_srtp")  # type: ignore[union-attr]
    assert srtp is not None
    # break the SRTP profile list length (first two bytes of the extension data): 6 -> 5
    data_at = srtp.offset + 4
    body[data_at : data_at + 2] = b"\x00\x05"
    broken = parse_body(1, bytes(body))
    assert isinstance(broken, ClientHello)
    bad = broken.extension("use_srtp")
    assert bad is not None and bad.value is None and bad.data == bytes(body[data_at : srtp.end])
    assert bad.error is not None and "SRTPProtectionProfiles" in bad.error
    assert f"offset {data_at}" in bad.error
    assert [e.type for e in broken.extensions] == [e.type for e in ch.extensions]  # type: ignore[union-attr]
    # extensions after the broken one still decode
    assert broken.extension("supported_groups").value == (29, 23, 24)


def test_broken_block_framing_is_a_decode_error() -> None:
    data = block((23, b""), (14, b"\x00\x02\x00\x01\x00"))[:-2]  # last extension cut short
    with pytest.raises(DecodeError):
        parse_extensions(Reader(data), context=exts.CLIENT_HELLO)


@pytest.mark.parametrize(
    ("ext_type", "data", "context", "value"),
    [
        (
            0,
            b"\x00\x0e\x00\x00\x0bexample.com",
            exts.CLIENT_HELLO,
            (ServerName(0, b"example.com"),),
        ),
        (0, b"", exts.SERVER_HELLO, ()),
        (43, b"\x04\xfe\xfc\xfe\xfd", exts.CLIENT_HELLO, (0xFEFC, 0xFEFD)),
        (43, b"\xfe\xfc", exts.SERVER_HELLO, 0xFEFC),
        (44, b"\x00\x03abc", exts.HELLO_RETRY_REQUEST, b"abc"),
        (45, b"\x01\x01", exts.CLIENT_HELLO, (1,)),
        (41, b"\x00\x00", exts.SERVER_HELLO, 0),
        (
            41,
            b"\x00\x09\x00\x03tik\x00\x00\x00\x07\x00\x05\x04bind",
            exts.CLIENT_HELLO,
            OfferedPsks((PskIdentity(b"tik", 7),), (b"bind",)),
        ),
        (54, b"\x04\x01\x02\x03\x04", exts.SERVER_HELLO, b"\x01\x02\x03\x04"),
        (54, b"\x00", exts.CLIENT_HELLO, b""),
        (21, bytes(17), exts.CLIENT_HELLO, 17),
        (28, b"\x40\x00", exts.SERVER_HELLO, 16384),
        (14, b"\x00\x02\x00\x07\x02\xab\xcd", exts.SERVER_HELLO, UseSrtp((7,), b"\xab\xcd")),
        (5, b"", exts.SERVER_HELLO, True),
        (5, b"\x01\x00\x00\x02ok", exts.CERTIFICATE, CertificateStatus(1, b"ok")),
        (22, b"", exts.SERVER_HELLO, True),
        (
            51,
            b"\x00\x1d\x00\x03abc",
            exts.SERVER_HELLO,
            KeyShareEntry(29, b"abc"),
        ),
    ],
)
def test_decoded_values(ext_type: int, data: bytes, context: str, value: object) -> None:
    e = one(ext_type, data, context)
    assert e.error is None and e.value == value


@pytest.mark.parametrize(
    ("ext_type", "data", "why"),
    [
        (23, b"\x00", "expected an empty body"),
        (10, b"\x00\x03\x00\x17\x00", "not a multiple of 2"),
        (28, b"\x00\x10", "below 64"),
        (44, b"\x00\x00", "empty cookie"),
        (16, b"\x00\x01\x00", "empty ALPN"),
        (43, b"\xfe\xfc\x00", "bytes left after the value"),
    ],
)
def test_malformed_values_stay_raw(ext_type: int, data: bytes, why: str) -> None:
    e = one(ext_type, data, exts.SERVER_HELLO if ext_type == 43 else exts.CLIENT_HELLO)
    assert e.value is None and e.data == data
    assert e.error is not None and why in e.error


def test_spans_of_items() -> None:
    data = block((10, b"\x00\x04\x00\x1d\x00\x17"))
    (e,) = parse_extensions(Reader(data, base=50), context=exts.CLIENT_HELLO)
    assert e.offset == 52 and e.end == 52 + 4 + 6
    assert e.spans["value[0]"] == (58, 60) and e.spans["value[1]"] == (60, 62)
    assert data[e.spans["value[1]"][0] - 50 : e.spans["value[1]"][1] - 50] == b"\x00\x17"


@settings(max_examples=400, deadline=None)
@given(
    ext_type=st.sampled_from(sorted(exts.PARSERS)),
    context=st.sampled_from(sorted(exts.CONTEXTS)),
    data=st.binary(max_size=64),
)
def test_extension_bodies_never_raise(ext_type: int, context: str, data: bytes) -> None:
    e = parse_extension_body(ext_type, data, 0, context)
    assert e.data == data
    assert (e.value is None) == (e.error is not None)
