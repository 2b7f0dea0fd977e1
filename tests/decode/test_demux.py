"""RFC 7983 / RFC 9443 first-byte demultiplexing."""

from __future__ import annotations

import pytest

from proxy.decode.demux import KINDS, classify, is_media

# one real first datagram of each kind (shared captures) plus RFC range edges
STUN_BINDING = bytes.fromhex("000100582112a4422598a65b")
DTLS12_CLIENT_HELLO = bytes.fromhex("16fefd000000000000000000")
DTLS13_UNIFIED = bytes.fromhex("2e0c5a0029")
RTP_OPUS = bytes.fromhex("90ef22d5f84a18216d1c3cfa")
RTCP_XR = bytes.fromhex("80cf0004eda706e6")


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (STUN_BINDING, "stun"),
        (b"\x03", "stun"),
        (b"\x04", "other"),
        (b"\x0f", "other"),
        (b"\x10", "zrtp"),
        (b"\x13", "zrtp"),
        (b"\x14", "dtls"),  # change_cipher_spec
        (DTLS12_CLIENT_HELLO, "dtls"),
        (DTLS13_UNIFIED, "dtls"),
        (b"\x3f", "dtls"),
        (b"\x40\x00", "turn"),
        (b"\x4f", "turn"),
        (b"\x50", "other"),
        (b"\x7f", "other"),
        (RTP_OPUS, "rtp"),
        (RTCP_XR, "rtcp"),
        (b"\x80\xc8", "rtcp"),  # SR
        (b"\x80\xdf", "rtcp"),  # 223: last RTCP type
        (b"\x80\xe0", "rtp"),  # 224: RTP PT 96 with marker set
        (b"\x80\xbf", "rtp"),  # 191: RTP PT 63 with marker set
        (b"\x80", "rtp"),  # one byte: cannot be RTCP
        (b"\xbf\x00", "rtp"),
        (b"\xc0\xc8", "other"),
        (b"\xff", "other"),
        (b"", "other"),
    ],
)
def test_classify(data: bytes, kind: str) -> None:
    assert classify(data) == kind


def test_every_first_byte_maps_to_a_known_kind() -> None:
    counts: dict[str, int] = {}
    for b in range(256):
        kind = classify(bytes([b, 0]))
        assert kind in KINDS
        counts[kind] = counts.get(kind, 0) + 1
    assert counts == {"stun": 4, "zrtp": 4, "dtls": 44, "turn": 16, "rtp": 64, "other": 124}


def test_is_media_is_the_rtp_and_rtcp_classes_of_classify() -> None:
    """The relay's deferred stage only counts media: is_media agrees with classify on
    every first byte (and on the real RTP and RTCP datagrams), so RFC 7983 has one owner."""
    for data in (RTP_OPUS, RTCP_XR, STUN_BINDING, DTLS12_CLIENT_HELLO, DTLS13_UNIFIED, b""):
        assert is_media(data) == (classify(data) in ("rtp", "rtcp"))
    for b in range(256):
        for second in (0x00, 0xC8):
            data = bytes([b, second])
            assert is_media(data) == (classify(data) in ("rtp", "rtcp")), data
