"""The TURN server's STUN codec against RFC 5769's test vectors and against aioice."""

from __future__ import annotations

import pytest

from proxy.decode.dtls.reader import DecodeError
from proxy.turn import stun


def hx(text: str) -> bytes:
    return bytes.fromhex("".join(text.split()))


# RFC 5769 §2.1-2.4, as printed in the RFC (2.1-2.3 pad with spaces, 0x20, on purpose)
SAMPLE_REQUEST = hx("""
    00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
    00 24 00 04 6e 00 01 ff 80 29 00 08 93 2f f9 b1 51 26 3b 36
    00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
    00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
    80 28 00 04 e5 7a 3b cf""")
SAMPLE_IPV4_RESPONSE = hx("""
    01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 08 00 01 a1 47 e1 12 a6 43
    00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
    80 28 00 04 c0 7d 4c 96""")
SAMPLE_IPV6_RESPONSE = hx("""
    01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
    80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
    00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
    00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
    80 28 00 04 c8 fb 0b 4c""")
LONG_TERM_REQUEST = hx("""
    00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
    00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
    00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
    00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
    00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66""")
SHORT_TERM_PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"
TXID = hx("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae")


def test_rfc5769_sample_request() -> None:
    msg = stun.parse(SAMPLE_REQUEST)
    assert (msg.method, msg.cls, msg.txid) == (stun.BINDING, stun.REQUEST, TXID)
    assert msg.text(stun.SOFTWARE) == "STUN test client"
    assert msg.text(stun.USERNAME) == "evtj:h6vY"
    assert stun.check_integrity(msg, SHORT_TERM_PASSWORD) == ("sha1", True)
    assert stun.check_integrity(msg, b"wrong") == ("sha1", False)
    assert stun.check_fingerprint(msg) is True


@pytest.mark.parametrize(
    ("data", "addr"),
    [
        (SAMPLE_IPV4_RESPONSE, ("192.0.2.1", 32853)),
        (SAMPLE_IPV6_RESPONSE, ("2001:db8:1234:5678:11:2233:4455:6677", 32853)),
    ],
)
def test_rfc5769_responses(data: bytes, addr: tuple[str, int]) -> None:
    msg = stun.parse(data)
    assert (msg.method, msg.cls) == (stun.BINDING, stun.SUCCESS)
    value = msg.get(stun.XOR_MAPPED_ADDRESS)
    assert value is not None and stun.parse_xor_address(value, msg.txid) == addr
    assert stun.xor_address(addr, msg.txid) == value
    assert stun.check_integrity(msg, SHORT_TERM_PASSWORD) == ("sha1", True)
    assert stun.check_fingerprint(msg) is True
    flipped = bytearray(data)
    flipped[-9] ^= 1  # inside MESSAGE-INTEGRITY
    assert stun.check_integrity(stun.parse(bytes(flipped)), SHORT_TERM_PASSWORD) == ("sha1", False)
    assert stun.check_fingerprint(stun.parse(bytes(flipped))) is False


def test_rfc5769_long_term_vector_saslprep_and_exact_encoding() -> None:
    msg = stun.parse(LONG_TERM_REQUEST)
    username = "\u30de\u30c8\u30ea\u30c3\u30af\u30b9"
    assert msg.text(stun.USERNAME) == username
    assert msg.text(stun.REALM) == "example.org"
    assert msg.text(stun.NONCE) == "f//499k954d6OL34oL9FSTvy64sA"
    assert stun.saslprep("The\u00adM\u00aatr\u2168") == "TheMatrIX"
    key = stun.long_term_key(username, "example.org", "The\u00adM\u00aatr\u2168")
    assert key == stun.long_term_key(username, "example.org", "TheMatrIX")
    assert stun.check_integrity(msg, key) == ("sha1", True)
    assert stun.check_integrity(msg, stun.long_term_key(username, "example.org", "thematrix")) == (
        "sha1", False)
    assert stun.check_fingerprint(msg) is None
    again = stun.build(
        stun.BINDING, stun.REQUEST, msg.txid,
        [(stun.USERNAME, username.encode()), (stun.NONCE, b"f//499k954d6OL34oL9FSTvy64sA"),
         (stun.REALM, b"example.org")],
        key=key, fingerprint=False,
    )
    assert again == LONG_TERM_REQUEST


def test_saslprep_refuses_control_characters() -> None:
    with pytest.raises(ValueError, match="U\\+0007"):
        stun.saslprep("pass\x07word")


def test_sha256_integrity_round_trip_and_tamper() -> None:
    key = stun.long_term_key("alice", "dtlsproxy", "secret")
    data = stun.build(stun.ALLOCATE, stun.REQUEST, TXID,
                      [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")], key=key, integrity="sha256")
    msg = stun.parse(data)
    assert msg.get(stun.MESSAGE_INTEGRITY_SHA256) is not None
    assert stun.check_integrity(msg, key) == ("sha256", True)
    assert stun.check_fingerprint(msg) is True
    bad = bytearray(data)
    bad[24] ^= 0x01  # REQUESTED-TRANSPORT's value
    assert stun.check_integrity(stun.parse(bytes(bad)), key) == ("sha256", False)


def test_attributes_after_integrity_do_not_count() -> None:
    key = b"k" * 16
    signed = stun.build(stun.REFRESH, stun.REQUEST, TXID, [], key=key, fingerprint=False)
    tail = stun._attr(stun.LIFETIME, b"\0\0\0\0")
    tampered = signed[:2] + (len(signed) - 20 + len(tail)).to_bytes(2, "big") + signed[4:] + tail
    msg = stun.parse(tampered)
    assert msg.get(stun.LIFETIME) is None
    assert stun.check_integrity(msg, key) == ("sha1", True)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (SAMPLE_REQUEST[:19], "shorter than its header"),
        (SAMPLE_REQUEST[:-1], "bytes follow"),
        (b"\x80" + SAMPLE_REQUEST[1:], "first two bits"),
        (SAMPLE_REQUEST[:4] + b"\0\0\0\0" + SAMPLE_REQUEST[8:], "magic cookie"),
        (SAMPLE_REQUEST[:20] + b"\x80\x22\x00\xff", "length 88, but 4"),
    ],
)
def test_malformed_messages_raise_decode_error(data: bytes, why: str) -> None:
    with pytest.raises(DecodeError, match=why):
        stun.parse(data)


def test_channel_data_and_stream_framing() -> None:
    assert stun.channel_data(0x4001, b"hello") == b"\x40\x01\x00\x05hello"
    padded = stun.channel_data(0x4001, b"hello", pad=True)
    assert padded == b"\x40\x01\x00\x05hello\0\0\0"
    assert stun.parse_channel_data(padded) == (0x4001, b"hello")
    assert stun.parse_channel_data(b"\x40\x01\x00\x09hello") is None
    assert stun.stream_frame_length(padded) == 12
    assert stun.stream_frame_length(padded, padded=False) == 9
    assert stun.stream_frame_length(SAMPLE_REQUEST) == len(SAMPLE_REQUEST)
    assert stun.stream_frame_length(b"\x00\x01") is None
    with pytest.raises(DecodeError, match="neither STUN nor ChannelData"):
        stun.stream_frame_length(b"\x80\x00\x00\x00")


def test_aioice_parses_what_we_build_and_we_parse_what_it_builds() -> None:
    """aiortc's ICE library as a second opinion on the TURN methods and attributes."""
    from aioice import stun as aio

    key = stun.long_term_key("alice", "dtlsproxy", "secret")
    ours = stun.build(
        stun.ALLOCATE, stun.SUCCESS, TXID,
        [(stun.XOR_RELAYED_ADDRESS, stun.xor_address(("10.0.0.7", 50000), TXID)),
         (stun.LIFETIME, (600).to_bytes(4, "big")),
         (stun.XOR_MAPPED_ADDRESS, stun.xor_address(("2001:db8::5", 4242), TXID))],
        key=key,
    )
    theirs = aio.parse_message(ours)  # checks FINGERPRINT
    assert theirs.check_message_integrity(key)
    assert theirs.message_method == aio.Method.ALLOCATE
    assert theirs.message_class == aio.Class.RESPONSE
    assert theirs.attributes["XOR-RELAYED-ADDRESS"] == ("10.0.0.7", 50000)
    assert theirs.attributes["XOR-MAPPED-ADDRESS"] == ("2001:db8::5", 4242)
    assert theirs.attributes["LIFETIME"] == 600

    req = aio.Message(aio.Method.CHANNEL_BIND, aio.Class.REQUEST, transaction_id=TXID)
    req.attributes["CHANNEL-NUMBER"] = 0x4000
    req.attributes["XOR-PEER-ADDRESS"] = ("192.0.2.9", 3480)
    req.attributes["USERNAME"] = "alice"
    req.add_message_integrity(key)
    req.add_fingerprint()
    msg = stun.parse(bytes(req))
    assert (msg.method, msg.cls) == (stun.CHANNEL_BIND, stun.REQUEST)
    assert msg.get(stun.CHANNEL_NUMBER) == b"\x40\x00\x00\x00"
    peer = msg.get(stun.XOR_PEER_ADDRESS)
    assert peer is not None and stun.parse_xor_address(peer, TXID) == ("192.0.2.9", 3480)
    assert stun.check_integrity(msg, key) == ("sha1", True)
    assert stun.check_fingerprint(msg) is True
