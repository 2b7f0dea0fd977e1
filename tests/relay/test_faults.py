"""Fault rules: parsed from the --fault syntax and TOML tables, applied to real handshakes.

Transcripts: the datagrams of shared captures go in (client = side a, server = side b),
and we check exactly which datagrams come out changed, dropped, doubled or delayed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.capture.pcap import read_capture
from proxy.decode.dtls.handshake import parse_fragments
from proxy.decode.dtls.record import Record, parse_records
from proxy.events import Datagram
from proxy.relay.faults import FaultEngine, FaultRuleError, parse_rule, rule_from_mapping


def load(captures_dir: Path, name: str, frames: range | None = None) -> list[Datagram]:
    dgs = list(read_capture(captures_dir / name))
    return [d for d in dgs if frames is None or d.frame in frames]


def run(rules: list[str], dgs: list[Datagram], seed: int = 0):
    """Feed the datagrams (first sender = side a); return {frame: [emissions]} and events."""
    engine = FaultEngine([parse_rule(r) for r in rules], seed)
    first = dgs[0].src
    out = {}
    events = []
    for d in dgs:
        side = "a" if d.src == first else "b"
        emissions, evs = engine.apply(d.data, side, frame=d.frame, ts=d.ts)
        out[d.frame] = emissions
        events.extend(evs)
    return out, events


def changed_frames(dgs: list[Datagram], out) -> dict[int, str]:
    """frame -> what happened to it, for the frames that did not pass unchanged once."""
    by_frame = {d.frame: d for d in dgs}
    res = {}
    for frame, ems in out.items():
        if len(ems) == 1 and ems[0].data == by_frame[frame].data and ems[0].delay == 0:
            continue
        if not ems:
            res[frame] = "dropped"
        elif len(ems) > 1:
            res[frame] = f"x{len(ems)}"
        elif ems[0].delay:
            res[frame] = f"delayed {ems[0].delay:g}"
        else:
            res[frame] = "modified"
    return res


def body_offset_of(data: bytes, msg_type: int) -> tuple[int, int]:
    """(datagram offset of the message body, body length in this fragment)."""
    for rec in parse_records(data):
        if isinstance(rec, Record) and rec.content_type == 22 and rec.epoch == 0:
            for f in parse_fragments(rec.fragment, rec.payload_offset):
                if f.msg_type == msg_type:
                    return f.offset + 12, f.fragment_length
    raise AssertionError("message not found")


# ------------------------------------------------------------------ parsing


def test_rule_syntax_round_trips_into_fields() -> None:
    r = parse_rule("who=client,msg=CertificateVerify,action=corrupt,offset=-1")
    assert (r.who, r.msg, r.action, r.offset, r.count) == ("client", 15, "corrupt", -1, 1)
    assert r.text == "who=client,msg=CertificateVerify,action=corrupt,offset=-1"
    r = parse_rule("who=server,flight=4,action=drop,count=always")
    assert (r.flight, r.count) == (4, None)
    r = parse_rule("side=a,content=handshake,action=delay,ms=200")
    assert (r.side, r.content, r.ms) == ("a", "handshake", 200)
    r = parse_rule("msg=finished,encrypted=1,action=corrupt,offset=-1,count=1")
    assert (r.msg, r.encrypted) == (20, True)


def test_toml_table_gives_the_same_rule() -> None:
    table = {"who": "client", "msg": "CertificateVerify", "action": "corrupt", "offset": -1}
    assert rule_from_mapping(table).offset == -1
    assert rule_from_mapping(table).msg == parse_rule(
        "who=client,msg=CertificateVerify,action=corrupt,offset=-1"
    ).msg


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("who=client,action=explode", "action", "expected one of drop, duplicate"),
        ("who=clint,action=drop", "who", "expected client or server"),
        ("msg=CertVerify,action=drop", "msg", "unknown handshake message 'CertVerify'"),
        ("flight=four,action=drop", "flight", "expected an integer"),
        ("colour=red,action=drop", "colour", "unknown key"),
        ("who=client", "action", "missing"),
        ("action=delay", "ms", "delay needs ms="),
        ("action=drop,count=sometimes", "count", "expected an integer"),
        ("action=drop,p=2", "p", "probability"),
        ("action=drop,drop", "drop", "expected key=value"),
    ],
)
def test_bad_rules_name_the_key(text: str, key: str, message: str) -> None:
    with pytest.raises(FaultRuleError) as info:
        parse_rule(text)
    assert info.value.key == key
    assert message in info.value.message


# ----------------------------------------------------------------- applying


def test_corrupt_last_byte_of_client_certificate_verify(captures_dir: Path) -> None:
    dgs = load(captures_dir, "webrtc-stun.pcap")
    out, events = run(["who=client,msg=CertificateVerify,action=corrupt,offset=-1"], dgs)
    assert changed_frames(dgs, out) == {13: "modified"}
    original = next(d.data for d in dgs if d.frame == 13)
    start, length = body_offset_of(original, 15)
    target = start + length - 1
    new = out[13][0].data
    diff = [i for i in range(len(new)) if new[i] != original[i]]
    assert diff == [target]
    assert new[target] == original[target] ^ 0xFF
    assert [(e.action, e.frame) for e in events] == [("corrupt", 13)]
    assert "CertificateVerify body" in events[0].detail


def test_corrupt_follows_a_fragmented_message_into_the_right_datagram(
    captures_dir: Path,
) -> None:
    # server Certificate (1712 bytes) spans frames 23 and 24 in five+three fragments
    dgs = load(captures_dir, "dtls_certificate_fragments.pcap", range(21, 27))
    out, _ = run(["who=server,msg=Certificate,action=corrupt,offset=-1"], dgs)
    assert changed_frames(dgs, out) == {24: "modified"}
    out, _ = run(["who=server,msg=Certificate,action=corrupt,offset=0"], dgs)
    assert changed_frames(dgs, out) == {23: "modified"}
    out, _ = run(["who=server,msg=Certificate,action=corrupt,offset=1000"], dgs)
    assert changed_frames(dgs, out) == {23: "modified"}
    out, _ = run(["who=server,msg=Certificate,action=corrupt,offset=1100"], dgs)
    assert changed_frames(dgs, out) == {24: "modified"}


def test_drop_server_flight_4_once_or_always(captures_dir: Path) -> None:
    dgs = load(captures_dir, "dtls1_2.pcap")
    out, events = run(["who=server,flight=4,action=drop"], dgs)
    assert changed_frames(dgs, out) == {6: "dropped"}
    assert [e.action for e in events] == ["drop"]
    out, _ = run(["who=server,flight=4,action=drop,count=always"], dgs)
    assert changed_frames(dgs, out) == {f: "dropped" for f in range(6, 13)}
    out, _ = run(["flight=3,action=drop,count=always"], dgs)  # the ClientHello with cookie
    assert changed_frames(dgs, out) == {4: "dropped", 5: "dropped"}
    out, _ = run(["flight=2,action=duplicate"], dgs)  # HelloVerifyRequest
    assert changed_frames(dgs, out) == {3: "x2"}


def test_first_encrypted_handshake_record_is_the_finished(captures_dir: Path) -> None:
    dgs = load(captures_dir, "dtls1_2.pcap")
    out, events = run(["msg=Finished,encrypted=1,action=corrupt,offset=-1,count=1"], dgs)
    assert changed_frames(dgs, out) == {13: "modified"}
    original = next(d.data for d in dgs if d.frame == 13)
    assert out[13][0].data[:-1] == original[:-1]
    assert out[13][0].data[-1] == original[-1] ^ 0xFF
    assert "payload" in events[0].detail
    out, _ = run(["who=server,msg=Finished,encrypted=1,action=drop"], dgs)
    assert changed_frames(dgs, out) == {15: "dropped"}


def test_copy_and_nth_select_retransmissions(captures_dir: Path) -> None:
    # frames 21 and 22: the same ClientHello sent twice
    dgs = load(captures_dir, "dtls_certificate_fragments.pcap", range(21, 27))
    out, _ = run(["msg=ClientHello,copy=retransmission,action=drop"], dgs)
    assert changed_frames(dgs, out) == {22: "dropped"}
    out, _ = run(["msg=ClientHello,copy=first,action=drop,count=always"], dgs)
    assert changed_frames(dgs, out) == {21: "dropped"}
    out, _ = run(["content=handshake,nth=3,action=truncate,bytes=5"], dgs)
    assert changed_frames(dgs, out) == {23: "modified"}
    assert len(out[23][0].data) == 1280 - 5


def test_content_side_and_delay(captures_dir: Path) -> None:
    dgs = load(captures_dir, "webrtc-stun.pcap")
    out, events = run(["side=a,content=stun,action=delay,ms=200,count=always"], dgs)
    # side a = the first sender (192.168.6.82): its STUN datagrams 1, 4, 5, 8, 12
    assert changed_frames(dgs, out) == {f: "delayed 0.2" for f in (1, 4, 5, 8, 12)}
    assert len(events) == 5
    out, _ = run(["content=alert,action=drop,count=always"], dgs)
    assert changed_frames(dgs, out) == {}


def test_probability_is_deterministic_for_a_seed(captures_dir: Path) -> None:
    dgs = load(captures_dir, "dtls_certificate_fragments.pcap", range(1, 21))
    rule = ["content=appdata,action=drop,count=always,p=0.5"]
    first, _ = run(rule, dgs, seed=7)
    again, _ = run(rule, dgs, seed=7)
    assert changed_frames(dgs, first) == changed_frames(dgs, again)
    dropped = changed_frames(dgs, first)
    assert 0 < len(dropped) < 13  # 13 application-data datagrams, about half dropped
