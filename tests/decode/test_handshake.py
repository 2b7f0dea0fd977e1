"""Handshake fragments and reassembly: fragments in, complete messages (and copies) out."""

from __future__ import annotations

import itertools
import random

import pytest

from proxy.decode.dtls.handshake import (
    HandshakeFragment,
    Reassembler,
    encode_header,
    parse_fragments,
)
from proxy.decode.dtls.reader import DecodeError

BODY = bytes(range(256)) * 4  # a 1024-byte "Certificate"


def frag(
    seq: int, off: int, data: bytes, length: int = len(BODY), t: int = 11
) -> HandshakeFragment:
    return HandshakeFragment(t, length, seq, off, len(data), data, 0)


def pieces(cuts: list[int]) -> list[HandshakeFragment]:
    edges = [0, *cuts, len(BODY)]
    return [frag(2, a, BODY[a:b]) for a, b in itertools.pairwise(edges)]


def test_parse_fragments_two_in_one_record() -> None:
    m1 = encode_header(14, 0, 3)
    m2 = encode_header(16, 4, 4) + b"abcd"
    f = parse_fragments(m1 + m2, base=13)
    assert [(x.msg_type, x.message_seq, x.length, x.body, x.offset) for x in f] == [
        (14, 3, 0, b"", 13),
        (16, 4, 4, b"abcd", 25),
    ]


def test_fragment_beyond_message_length_is_a_decode_error() -> None:
    bad = (
        b"\x0b"
        + (10).to_bytes(3, "big")
        + b"\x00\x01"
        + (8).to_bytes(3, "big")
        + (4).to_bytes(3, "big")
        + b"wxyz"
    )
    with pytest.raises(DecodeError) as e:
        parse_fragments(bad, base=13)
    assert e.value.offset == 19 and "exceeds message length 10" in e.value.reason


def test_out_of_order_and_overlapping_fragments_reassemble_once() -> None:
    r = Reassembler()
    fs = pieces([300, 700])
    out = [
        r.add(f, frame=i + 1)[0]
        for i, f in enumerate([fs[2], fs[0], frag(2, 250, BODY[250:400]), fs[1]])
    ]
    assert out[:3] == [None, None, None]
    msg = out[3]
    assert msg is not None and msg.body == BODY and msg.copy == 1 and msg.fragmented
    assert msg.frames == (1, 2, 3, 4)
    assert msg.raw[:12] == encode_header(11, 1024, 2)


def test_retransmission_split_at_different_boundaries_is_a_copy_not_an_overlap() -> None:
    # OpenSSL retransmits with a smaller MTU guess: different fragment boundaries.
    r = Reassembler()
    results = [r.add(f, frame=1)[0] for f in pieces([500])]
    assert results[-1] is not None and results[-1].copy == 1
    results2 = [r.add(f, frame=2 + i) for i, f in enumerate(pieces([200, 400, 600, 800]))]
    assert all(p is None for _, p in results2), "no overlap/conflict reported"
    msgs = [m for m, _ in results2 if m is not None]
    assert len(msgs) == 1
    assert (msgs[0].copy, msgs[0].body, msgs[0].differs) == (2, BODY, False)
    assert msgs[0].frames == (2, 3, 4, 5, 6)


def test_duplicated_fragments_before_completion_are_merged() -> None:
    r = Reassembler()
    fs = pieces([512])
    assert r.add(fs[0], 1) == (None, None)
    assert r.add(fs[0], 2) == (None, None)
    m, p = r.add(fs[1], 3)
    assert p is None and m is not None and m.copy == 1 and m.frames == (1, 2, 3)


def test_lost_fragment_completed_by_retransmission_at_other_boundaries() -> None:
    r = Reassembler()
    first = pieces([300, 700])
    r.add(first[0], 1)
    r.add(first[2], 1)  # middle fragment lost
    m, _ = r.add(frag(2, 250, BODY[250:800]), 2)
    assert m is not None and m.copy == 1 and m.body == BODY


def test_contradicting_bytes_and_headers_are_reported() -> None:
    r = Reassembler()
    r.add(frag(2, 0, BODY[:600]), 1)
    _, p = r.add(frag(2, 500, b"\xff" * 100), 2)
    assert p is not None and "different bytes" in p.reason
    _, p = r.add(frag(2, 0, b"x", length=99), 3)
    assert p is not None and "length 99" in p.reason


def test_random_fragmentation_always_reassembles() -> None:
    rng = random.Random(7)
    for _ in range(200):
        r = Reassembler()
        cuts = sorted(rng.sample(range(1, len(BODY)), rng.randint(0, 8)))
        fs = pieces(cuts)
        rng.shuffle(fs)
        done = [m for m, _ in (r.add(f, 1) for f in fs) if m is not None]
        assert len(done) == 1 and done[0].body == BODY
