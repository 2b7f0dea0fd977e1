"""Path fault actions (issue 18): blackhole, reorder, refragment, coalesce, loss, rate,
jitter, the time window. Transcripts: the datagrams of shared captures go in (client =
side a, server = side b), the datagrams that come out are checked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.capture.pcap import read_capture
from proxy.decode.dtls.handshake import parse_fragments
from proxy.decode.dtls.record import Record, parse_records
from proxy.events import Datagram
from proxy.relay import reshape
from proxy.relay.faults import Emission, FaultEngine, FaultRuleError, parse_rule

FRAGS = "dtls_certificate_fragments.pcap"
"""OpenSSL DTLS 1.2: flight 4 is a 1,412-byte and a 289-byte datagram."""
SMALL = "dtls1_2.pcap"
"""DTLS 1.2 with a 200-byte MTU: flight 4 is seven datagrams."""


def load(captures_dir: Path, name: str) -> list[Datagram]:
    return list(read_capture(captures_dir / name))


def feed(engine: FaultEngine, dgs: list[Datagram]) -> list[tuple[int, list[Emission]]]:
    first = dgs[0].src
    return [(d.frame, engine.apply(d.data, "a" if d.src == first else "b", frame=d.frame,
                                   ts=d.ts)[0]) for d in dgs]


def messages(datagrams: list[bytes]) -> dict[tuple[int, int], bytes]:
    """(message_seq, msg_type) -> body, reassembled from every plaintext fragment."""
    parts: dict[tuple[int, int], bytearray] = {}
    for data in datagrams:
        for rec in parse_records(data):
            if isinstance(rec, Record) and rec.content_type == 22 and rec.epoch == 0:
                for fr in parse_fragments(rec.fragment, 0):
                    buf = parts.setdefault((fr.message_seq, fr.msg_type), bytearray(fr.length))
                    buf[fr.fragment_offset:fr.fragment_offset + fr.fragment_length] = fr.body
    return {k: bytes(v) for k, v in parts.items()}


def test_bad_path_rules_name_the_key() -> None:
    for text, key in (("action=blackhole", "above"), ("action=refragment", "size"),
                      ("action=refragment,size=20", "size"), ("action=loss", "p"),
                      ("action=loss,p=0.1,burst=0.5", "burst"), ("action=rate", "kbps"),
                      ("action=jitter", "ms"), ("action=reorder,after=0", "after"),
                      ("action=drop,from=x", "from")):
        with pytest.raises(FaultRuleError) as e:
            parse_rule(text)
        assert e.value.key == key, text
    assert parse_rule("action=blackhole,above=1200").count is None  # a path: always
    assert parse_rule("action=reorder").after == 1


def test_blackhole_loses_every_datagram_over_n_and_nothing_else(captures_dir: Path) -> None:
    dgs = load(captures_dir, FRAGS)
    engine = FaultEngine([parse_rule("action=blackhole,above=1200,icmp=1")])
    lost, passed = [], []
    first = dgs[0].src
    for d in dgs:
        out, events = engine.apply(d.data, "a" if d.src == first else "b", frame=d.frame)
        if out:
            assert [e.data for e in out] == [d.data] and not engine.lost
            passed.append(len(d.data))
        else:
            lost.append((d.frame, len(d.data)))
            assert engine.lost == "action=blackhole,above=1200,icmp=1"
            (ev,) = events
            assert ev.detail.startswith(f"lost {len(d.data)}-byte datagram (")
            assert ev.detail.endswith("): the path drops datagrams over 1200 bytes; would be "
                                      "ICMP too big (fragmentation needed, MTU 1200) "
                                      f"#{len(lost)}")
    assert lost[0] == (4, 1412) and all(n > 1200 for _f, n in lost)
    assert max(passed) <= 1200 and engine.icmp_too_big == len(lost)


def test_reorder_after_k_holds_a_datagram_until_k_later_ones_passed(captures_dir: Path
                                                                    ) -> None:
    dgs = load(captures_dir, SMALL)
    engine = FaultEngine([parse_rule("who=server,msg=Certificate,action=reorder,after=2")])
    out = dict(feed(engine, dgs))
    by = {d.frame: d.data for d in dgs}
    assert out[6] == []  # ServerHello + the Certificate's first fragment: held
    assert [e.data for e in out[7]] == [by[7]]
    assert [e.data for e in out[8]] == [by[8], by[6]]  # after 2 later datagrams
    assert engine.next_due() is None


def test_reorder_flight_releases_the_whole_flight_reversed(captures_dir: Path) -> None:
    dgs = load(captures_dir, SMALL)
    engine = FaultEngine([parse_rule("who=server,flight=4,action=reorder")])
    out = feed(engine, dgs)
    by = {d.frame: d.data for d in dgs}
    sent = [(f, [e.data for e in ems]) for f, ems in out if f in range(6, 14)]
    assert [f for f, ems in sent if not ems] == [6, 7, 8, 9, 10, 11]
    assert dict(sent)[12] == [by[f] for f in (12, 11, 10, 9, 8, 7, 6)]  # ServerHelloDone
    assert dict(sent)[13] == [by[13]]


def test_a_one_datagram_flight_is_reversed_record_by_record(captures_dir: Path) -> None:
    dgs = load(captures_dir, FRAGS)
    engine = FaultEngine([parse_rule("who=client,flight=5,action=reorder")])
    out = dict(feed(engine, dgs))
    recs = reshape.records(dgs[5].data)  # ClientKeyExchange, CCS, Finished
    assert len(recs) == 3 and [e.data for e in out[6]] == recs[::-1]


def test_a_held_datagram_goes_out_when_its_time_is_up(captures_dir: Path) -> None:
    dgs = load(captures_dir, FRAGS)
    engine = FaultEngine([parse_rule("who=client,msg=ClientHello,action=reorder,ms=50")])
    out, _events = engine.apply(dgs[0].data, "a", frame=1, ts=100.0)
    assert out == [] and engine.held and engine.next_due() == pytest.approx(100.05)
    assert engine.due(100.01) == []
    ((side, ems, evs),) = engine.due(100.06)
    assert side == "a" and [e.data for e in ems] == [dgs[0].data]
    assert evs[0].detail == "released 1 held datagram(s) (its time was up)"
    assert engine.next_due() is None


@pytest.mark.parametrize("name", [FRAGS, SMALL])
@pytest.mark.parametrize("size", [100, 300, 1200])
def test_refragment_recuts_every_handshake_message_to_the_same_bytes(
        captures_dir: Path, name: str, size: int) -> None:
    dgs = load(captures_dir, name)
    engine = FaultEngine([parse_rule(f"action=refragment,size={size}")])
    first = dgs[0].src
    for side in ("a", "b"):
        ins = [d.data for d in dgs if (d.src == first) == (side == "a")]
        outs: list[bytes] = []
        for data in ins:
            outs.extend(e.data for e in engine.apply(data, side)[0])
        assert messages(outs) == messages(ins)
        seqs = []
        for data in outs:
            for rec in parse_records(data):
                assert isinstance(rec, Record)
                if rec.epoch == 0:
                    seqs.append(rec.sequence)
                    if rec.content_type == 22:
                        assert rec.header_length + len(rec.fragment) <= size
            if any(isinstance(r, Record) and r.epoch == 0 and r.content_type == 22
                   for r in parse_records(data)):
                assert len(data) <= size or len(reshape.records(data)) == 1
        assert seqs == sorted(set(seqs))  # epoch 0 numbers strictly increase


@settings(max_examples=150, deadline=None)
@given(bodies=st.lists(st.binary(min_size=0, max_size=700), min_size=1, max_size=5),
       cut=st.integers(1, 400), size=st.integers(reshape.MIN_SIZE, 1500),
       version=st.sampled_from([0xFEFD, 0xFEFF]))
def test_refragment_output_reassembles_byte_for_byte(bodies: list[bytes], cut: int,
                                                     size: int, version: int) -> None:
    """Any messages, fragmented any way on input, come out re-cut and reassemble to the
    same bodies; every record fits; epoch 0 sequence numbers stay increasing."""
    datagrams = []
    seq = 0
    for i, body in enumerate(bodies):
        pieces = [body[o:o + cut] for o in range(0, len(body), cut)] or [b""]
        off = 0
        for p in pieces:
            frag = reshape.fragment(11, len(body), i, off, p)
            datagrams.append(reshape.plaintext_record(22, version, seq, frag))
            off += len(p)
            seq += 1
    engine = FaultEngine([parse_rule(f"action=refragment,size={size}")])
    outs = [e.data for d in datagrams for e in engine.apply(d, "a")[0]]
    assert messages(outs) == {(i, 11): b for i, b in enumerate(bodies)}
    seqs = [r.sequence for d in outs for r in parse_records(d) if isinstance(r, Record)]
    assert seqs == sorted(set(seqs))
    assert all(len(d) <= size for d in outs)


def test_coalesce_packs_the_records_of_several_datagrams_into_one(captures_dir: Path
                                                                  ) -> None:
    dgs = load(captures_dir, SMALL)
    engine = FaultEngine([parse_rule("who=server,flight=4,action=coalesce")])
    out = dict(feed(engine, dgs))
    flight4 = [d.data for d in dgs if d.frame in range(6, 13)]
    assert [f for f in range(6, 12) if out[f]] == []
    (packed,) = out[12]
    assert packed.data == b"".join(flight4)
    assert messages([packed.data]) == messages(flight4)


def test_loss_is_seeded_and_bursty_with_its_mean_rate() -> None:
    def run(seed: int) -> list[bool]:
        engine = FaultEngine([parse_rule("content=rtp,action=loss,p=0.1,burst=4")], seed)
        rtp = b"\x80\x60" + bytes(30)
        return [not engine.apply(rtp, "a")[0] for _ in range(20000)]

    a = run(1)
    assert a == run(1) and a != run(2)
    assert 0.08 < sum(a) / len(a) < 0.12
    bursts, n = [], 0
    for lost in [*a, False]:
        if lost:
            n += 1
        elif n:
            bursts.append(n)
            n = 0
    assert 3.3 < sum(bursts) / len(bursts) < 4.7  # independent loss would give ~1.1


def test_rate_queues_then_drops_at_its_limit() -> None:
    engine = FaultEngine([parse_rule("action=rate,kbps=80,queue=3000")])  # 10,000 B/s
    rtp = b"\x80\x60" + bytes(998)
    delays = []
    for _ in range(5):  # all at once
        out, _events = engine.apply(rtp, "a", ts=10.0)
        delays.append(out[0].delay if out else None)
    assert delays[:3] == pytest.approx([0.1, 0.2, 0.3]) and delays[3:] == [None, None]
    assert engine.lost == "action=rate,kbps=80,queue=3000"
    out, _ = engine.apply(rtp, "a", ts=10.3)  # the queue drained
    assert out[0].delay == pytest.approx(0.1)


def test_jitter_adds_a_seeded_delay_up_to_ms_and_window_limits_rules() -> None:
    engine = FaultEngine([parse_rule("content=rtp,action=jitter,ms=40,from=1,until=2")], 3)
    rtp = b"\x80\x60" + bytes(30)
    delays = [engine.apply(rtp, "a", ts=100.0 + t / 10)[0][0].delay for t in range(30)]
    assert delays[:10] == [0.0] * 10 and delays[20:] == [0.0] * 10
    inside = delays[10:20]
    assert all(0 < d <= 0.04 for d in inside) and len(set(inside)) == 10
