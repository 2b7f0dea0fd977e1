"""RTP/RTCP headers (in clear under SRTP) and media counting per SSRC."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.decode.dtls.reader import DecodeError
from proxy.decode.rtp import MediaCounter, MediaInterval, RtcpHeader, RtpHeader, parse_rtp_header

# stun_dtls_rtp.pcapng frame 27: SRTP Opus packet with a one-byte header extension
SRTP_OPUS = bytes.fromhex(
    "90ef22d5f84a18216d1c3cfabede0007223b569c31000110ff4fe73484a6aed9180000000000000000000000"
    "536e1f450a23a9eded3ccde02d5a91eec869a0db99607997753dac4ad93bf55f17c3a6fc255469e4655f0ef4"
    "cd7d2f350212f4e5c52451"
)
# frame 24: SRTCP extended report (XR, 207)
SRTCP_XR = bytes.fromhex(
    "80cf0004eda706e65b0b93915eb3cd23bf23e75635883e412fef49bb4c75860f6a41612e80000001"
)


def test_srtp_header_in_clear() -> None:
    h = parse_rtp_header(SRTP_OPUS)
    assert h == RtpHeader(
        version=2,
        padding=False,
        extension=True,
        csrc_count=0,
        marker=True,
        payload_type=111,
        sequence=8917,
        timestamp=4165605409,
        ssrc=0x6D1C3CFA,
        extension_profile=0xBEDE,
        header_length=12 + 4 + 7 * 4,
    )


def test_srtcp_header() -> None:
    h = parse_rtp_header(SRTCP_XR)
    assert isinstance(h, RtcpHeader)
    assert (h.packet_type, h.packet_type_name, h.ssrc, h.length_words) == (
        207,
        "XR",
        0xEDA706E6,
        4,
    )


def test_csrcs() -> None:
    data = bytes.fromhex("8260000100000002deadbeef") + bytes.fromhex("0000000a0000000b") + b"x"
    h = parse_rtp_header(data)
    assert isinstance(h, RtpHeader)
    assert (h.csrcs, h.header_length, h.payload_type, h.marker) == ((10, 11), 20, 96, False)


@pytest.mark.parametrize(
    ("data", "offset", "reason"),
    [
        (b"\x40\x60" + bytes(10), 0, "RTP version 1"),
        (b"\x80\x60\x00", 2, "sequence"),
        (SRTP_OPUS[:13], 12, "extension profile"),
        (SRTP_OPUS[:30], 16, "header extension: needs 28 bytes"),
        (bytes.fromhex("8160000100000002deadbeef"), 12, "CSRC"),
        (SRTCP_XR[:7], 4, "sender SSRC"),
        (b"\x00\xc8" + bytes(6), 0, "RTCP version 0"),
    ],
)
def test_malformed(data: bytes, offset: int, reason: str) -> None:
    with pytest.raises(DecodeError) as exc:
        parse_rtp_header(data)
    assert exc.value.offset == offset
    assert reason in exc.value.reason


@given(st.binary(max_size=64))
def test_only_decode_error_escapes(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        parse_rtp_header(data)


def count(
    c: MediaCounter, ts: float, direction: str, kind: str, size: int, ssrc: int | None
) -> list[MediaInterval]:
    """Count one ``size``-byte packet (its SSRC field cut off when ``ssrc`` is None)."""
    pkt = bytearray(size)
    pkt[0], pkt[1] = 0x80, 200 if kind == "rtcp" else 96
    if ssrc is not None:
        at = 4 if kind == "rtcp" else 8
        pkt[at : at + 4] = ssrc.to_bytes(4, "big")
    else:
        del pkt[7:]
    intervals, rtp, rtcp = c.add_packets(direction, [(ts, bytes(pkt))])
    assert (rtp, rtcp) == ((0, 1) if kind == "rtcp" else (1, 0))
    return intervals


def test_counter_emits_one_interval_per_second_of_data_time() -> None:
    c = MediaCounter(interval=1.0)
    out: list[MediaInterval] = []
    # 50 packets/s for 2.5 s from a to b, one RTCP each second
    for i in range(125):
        ts = 100.0 + i * 0.02
        out += count(c, ts, "a->b", "rtp", 100, 0x1111)
        if i % 50 == 0:
            out += count(c, ts, "a->b", "rtcp", 60, 0x1111)
        if i == 25:
            out += count(c, 100.5, "b->a", "rtp", 80, 0x2222)
    # a->b closed its windows at 101.0 and 102.0 (data time); b->a is still open
    assert [(m.dir, m.end, m.rtp_packets, m.rtcp_packets) for m in out] == [
        ("a->b", 101.0, 50, 1),
        ("a->b", 102.0, 50, 1),
    ]
    out += c.tick(101.6)
    assert out[-1] == MediaInterval(
        dir="b->a",
        end=101.5,
        interval=1.0,
        rtp_packets=1,
        rtp_bytes=80,
        rtcp_packets=0,
        rtcp_bytes=0,
        ssrcs={"0x00002222": 1},
    )
    out += c.flush(now=102.48)
    last = out[-1]
    assert (last.dir, last.rtp_packets, last.rtcp_packets) == ("a->b", 25, 1)
    assert last.end == pytest.approx(102.48)
    assert last.interval == pytest.approx(0.48)
    assert sum(m.rtp_packets for m in out if m.dir == "a->b") == 125
    assert c.flush() == []


def test_counter_memory_is_bounded() -> None:
    c = MediaCounter(interval=1.0, max_ssrcs=4, max_directions=2)
    for ssrc in range(1000):
        count(c, 0.0, "a->b", "rtp", 12, ssrc)
    count(c, 0.0, "b->a", "rtp", 10, None)
    count(c, 0.0, "x->y", "rtp", 12, 1)
    (ab, ba) = c.flush()
    assert len(ab.ssrcs) == 5
    assert ab.ssrcs["other"] == 996
    assert (ba.malformed, ba.ssrcs) == (1, {})
    assert c.dropped == 1


def test_silence_gap_does_not_emit_empty_intervals() -> None:
    c = MediaCounter()
    assert count(c, 0.0, "d", "rtp", 12, 1) == []
    gap = count(c, 60.0, "d", "rtp", 12, 1)
    assert [(m.end, m.rtp_packets) for m in gap] == [(1.0, 1)]
    assert [(m.end, m.rtp_packets) for m in c.flush()] == [(61.0, 1)]
