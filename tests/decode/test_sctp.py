"""The SCTP and DCEP decoder on real packets (the aiortc <-> Janus echotest's data
channel, decrypted with aiortc's key log: tests/data/sctp_aiortc_janus.json) and on
packets made from them by hand where no peer sends the chunk on its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.decode.dtls.reader import DecodeError
from proxy.decode.sctp import chunks as C
from proxy.decode.sctp.dcep import DataChannelAck, DataChannelOpen, parse_dcep
from proxy.decode.sctp.packet import (
    MalformedPacket,
    SctpPacket,
    checksum_status,
    crc32c,
    parse_packet,
)
from proxy.decode.sctp.params import parse_tlvs

DATA = Path(__file__).resolve().parent.parent / "data" / "sctp_aiortc_janus.json"


def real() -> list[tuple[int, str, bytes]]:
    doc = json.loads(DATA.read_text())
    return [(p["frame"], p["dir"], bytes.fromhex(p["sctp"])) for p in doc["packets"]]


def packet(frame: int) -> bytes:
    return next(b for f, _d, b in real() if f == frame)


def parsed(data: bytes) -> SctpPacket:
    p = parse_packet(data)
    assert isinstance(p, SctpPacket)
    return p


def with_crc(data: bytes) -> bytes:
    body = data[:8] + bytes(4) + data[12:]
    return data[:8] + crc32c(body).to_bytes(4, "little") + data[12:]


def test_every_real_packet_decodes_and_carries_a_real_crc32c() -> None:
    names = []
    for _f, _d, data in real():
        p = parsed(data)
        assert p.error is None and all(c.error is None for c in p.chunks)
        assert (p.src_port, p.dst_port) == (5000, 5000)
        assert checksum_status(data) == "ok"  # usrsctp and aiortc both compute it over DTLS
        names.append([c.name for c in p.chunks])
    assert names[:8] == [["INIT"], ["INIT"], ["INIT ACK"], ["INIT ACK"], ["COOKIE ECHO"],
                         ["COOKIE ECHO"], ["COOKIE ACK"], ["DATA"]]
    assert ["SACK", "DATA"] in names


def test_janus_init_announces_its_extensions() -> None:
    (init,) = parsed(packet(19)).chunks
    body = init.body
    assert isinstance(body, C.Init)
    assert (body.outbound_streams, body.inbound_streams, body.a_rwnd) == (300, 300, 131072)
    assert body.initiate_tag == 0x4DFFF23E
    assert body.extensions == ("FORWARD-TSN", "AUTH", "ASCONF", "ASCONF-ACK", "RE-CONFIG")
    assert body.forward_tsn and body.zero_checksum is None


def test_aiortc_init_ack_carries_its_state_cookie() -> None:
    (ack,) = parsed(packet(24)).chunks
    assert ack.name == "INIT ACK" and isinstance(ack.body, C.Init)
    assert ack.body.cookie_length == 24


def test_data_channel_open_and_ack_and_the_echo() -> None:
    (open_,) = parsed(packet(34)).chunks
    d = open_.body
    assert isinstance(d, C.Data) and d.ppid == 50 and d.ppid_name == "WebRTC DCEP"
    msg = parse_dcep(d.user_data)
    assert isinstance(msg, DataChannelOpen)
    assert (msg.label, msg.protocol, msg.type_name, msg.ordered) == (
        "echo", "", "DATA_CHANNEL_RELIABLE", True)
    assert msg.reliability_text == "reliable"
    (ack,) = parsed(packet(37)).chunks
    assert isinstance(ack.body, C.Data) and isinstance(parse_dcep(ack.body.user_data),
                                                       DataChannelAck)
    sack, echo = parsed(packet(49)).chunks
    assert isinstance(sack.body, C.Sack)
    assert isinstance(echo.body, C.Data) and echo.body.ppid == 51
    assert echo.body.user_data == b"Janus EchoTest here! You wrote: ping"
    assert echo.body.beginning and echo.body.ending and not echo.body.unordered


def test_a_flipped_checksum_is_bad_and_zero_is_zero() -> None:
    data = bytearray(packet(22))
    data[8] ^= 1
    assert checksum_status(bytes(data)) == "bad"
    data[8:12] = bytes(4)
    assert checksum_status(bytes(data)) == "zero"


def test_abort_with_user_initiated_cause() -> None:
    head = packet(22)[:12]
    cause = (12).to_bytes(2, "big") + (4 + 7).to_bytes(2, "big") + b"go away" + b"\x00"
    chunk = bytes([6, 0]) + (4 + 11).to_bytes(2, "big") + cause
    (abort,) = parsed(with_crc(head + chunk)).chunks
    assert abort.name == "ABORT" and isinstance(abort.body, C.Abort)
    (c,) = abort.body.causes
    assert (c.name, c.detail) == ("User-Initiated Abort", "'go away'")


def test_reconfig_outgoing_reset_names_its_streams() -> None:
    req = (13).to_bytes(2, "big") + (20).to_bytes(2, "big") + (1).to_bytes(4, "big") * 3
    req += (0).to_bytes(2, "big") + (2).to_bytes(2, "big")
    chunk = bytes([130, 0]) + (4 + len(req)).to_bytes(2, "big") + req
    (rc,) = parsed(packet(22)[:12] + chunk).chunks
    assert isinstance(rc.body, C.ReConfig)
    assert rc.body.requests[0].streams == (0, 2)
    assert rc.body.requests[0].name == "Outgoing SSN Reset Request"


def test_forward_tsn_and_i_data() -> None:
    fwd = bytes([192, 0, 0, 12]) + (7).to_bytes(4, "big") + bytes([0, 1, 0, 5])
    idata = bytes([64, 0x03, 0, 23]) + (9).to_bytes(4, "big") + bytes([0, 3, 0, 0])
    idata += (4).to_bytes(4, "big") + (51).to_bytes(4, "big") + b"hi!" + b"\x00"
    f, i = parsed(packet(22)[:12] + fwd + idata).chunks
    assert isinstance(f.body, C.ForwardTsn) and f.body.streams == ((1, 5),)
    assert isinstance(i.body, C.Data)
    assert (i.body.stream, i.body.mid, i.body.ppid, i.body.user_data) == (3, 4, 51, b"hi!")


@pytest.mark.parametrize("cut", [0, 5, 11])
def test_shorter_than_the_common_header_is_malformed(cut: int) -> None:
    p = parse_packet(packet(22)[:cut])
    assert isinstance(p, MalformedPacket) and "12-byte SCTP common header" in p.reason


def test_a_chunk_that_runs_past_the_packet_ends_the_list_with_a_reason() -> None:
    data = packet(49)
    p = parsed(data[:-10])
    assert [c.name for c in p.chunks] == ["SACK"]
    assert p.error is not None and "runs past the packet" in p.error


def test_a_body_that_does_not_decode_keeps_its_bytes_and_reason() -> None:
    chunk = bytes([3, 0, 0, 8]) + bytes(4)  # a SACK of 4 bytes: no a_rwnd
    (c,) = parsed(packet(22)[:12] + chunk).chunks
    assert c.body is None and c.error is not None and "a_rwnd" in c.error
    assert c.raw == bytes(4)


def test_dcep_errors_name_the_field() -> None:
    with pytest.raises(DecodeError, match="label"):
        parse_dcep(bytes([3, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0]) + b"abc")
    with pytest.raises(DecodeError, match="neither"):
        parse_dcep(b"\x07")
    with pytest.raises(DecodeError, match="less than its header"):
        parse_tlvs(bytes([0, 5, 0, 2]), 0)
