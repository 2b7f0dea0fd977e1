"""The TUI's model, ladder rows, culprit rule, filter and JSONL loader, without a screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.capture.eventlog import LogFormatError, events_from_jsonl, events_from_lines
from proxy.events import AlertSeen, MediaStats, MessageSeen, Verdict, event_to_dict
from tests.ui_scenarios import (
    C2S,
    all_scenarios,
    clean_handshake,
    decrypt_error,
    retransmission_storm,
)
from ui.alerts import banner_text, find_culprit
from ui.filtering import parse_filter
from ui.ladder import build_rows
from ui.model import Model


def model_of(*event_lists: list) -> Model:
    m = Model()
    for evs in event_lists:
        m.absorb(evs)
    return m


def lane_names(rows: list) -> list[tuple[str, str]]:
    return [(r.cells[0].plain, r.cells[2].plain.strip("─▶◀ ")) for r in rows]


def test_clean_handshake_ladder_is_flights_1_to_6_with_traffic_counters() -> None:
    st = model_of(clean_handshake())
    s1 = st.sessions["s1"]
    rows = build_rows(s1)
    kinds = [r.kind for r in rows]
    assert kinds[0] == "traffic" and kinds[-1] == "traffic"
    msgs = [(r.cells[0].plain, r.type, s1.is_c2s(r.dir)) for r in rows if r.kind == "message"]
    assert msgs == [
        ("F1", "ClientHello", True),
        ("F2", "HelloVerifyRequest", False),
        ("F3", "ClientHello", True),
        ("F4", "ServerHello", False),
        ("", "Certificate", False),
        ("", "ServerKeyExchange", False),
        ("", "CertificateRequest", False),
        ("", "ServerHelloDone", False),
        ("F5", "Certificate", True),
        ("", "ClientKeyExchange", True),
        ("", "CertificateVerify", True),
        ("", "ChangeCipherSpec", True),
        ("", "Finished", True),
        ("F6", "ChangeCipherSpec", False),
        ("", "Finished", False),
    ]
    encrypted = [r.cells[2].plain for r in rows if r.type == "Finished"]
    assert all("[Finished (encrypted)]" in t for t in encrypted)
    assert "RTP 300 pkts" in rows[-1].cells[2].plain
    assert s1.state == "established"
    assert find_culprit(s1) is None and banner_text(s1) is None


def test_culprit_is_last_message_of_answered_flight_until_the_verdict_names_it() -> None:
    events = decrypt_error()
    cut = next(i for i, e in enumerate(events) if isinstance(e, Verdict))
    m = model_of(events[:cut])
    st = m.sessions["s2"]
    c = find_culprit(st)
    assert c is not None and not c.from_verdict
    assert (c.message.type, c.message.dir, c.message.flight) == ("Finished", C2S, 5)
    assert banner_text(st) == (
        "server (janus) sent fatal decrypt_error in answer to client flight 5; "
        "culprit: Finished — last message of client flight 5 (no verdict yet)"
    )
    m.absorb(events[cut:])
    c = find_culprit(st)
    assert c is not None and c.from_verdict and c.message.type == "CertificateVerify"
    text = banner_text(st)
    assert text is not None and text.startswith(
        "server (janus) sent fatal decrypt_error in answer to client flight 5; "
        "culprit: CertificateVerify — the client's CertificateVerify signature"
    )
    rows = build_rows(st, culprit_seq=c.seq)
    marked = [r for r in rows if r.culprit]
    assert [r.type for r in marked] == ["CertificateVerify"]
    assert [r.kind for r in rows].count("alert") == 1
    assert [r.kind for r in rows].count("fault") == 1
    assert [r.kind for r in rows].count("verdict") == 1


def test_storm_collapses_copies_into_one_row_and_expands_on_request() -> None:
    st = model_of(retransmission_storm(copies=6)).sessions["s3"]
    rows = build_rows(st)
    groups = [r for r in rows if r.kind == "copies"]
    assert len(groups) == 1
    assert "client flight 3 ×6" in groups[0].cells[2].plain
    assert "server flight 4 ×6" in groups[0].cells[2].plain
    assert groups[0].cells[3].plain.startswith("⚡ 5 faults · 30 msgs over")
    assert not any(r.kind == "copy" for r in rows)
    opened = build_rows(st, expanded={groups[0].key})
    copies = [r for r in opened if r.kind == "copy"]
    assert [r.kind for r in opened].count("fault") == 1 + 5
    assert len(copies) == 5 * 6  # 5 resends x (1 ClientHello + 5 flight-4 messages)
    assert "(copy 6)" in copies[-1].cells[2].plain
    assert st.state == "stalled"


def test_history_cap_bounds_every_store_and_counts_evictions() -> None:
    m = Model(history=50)
    base = clean_handshake("s9")
    m.absorb(base)
    media = [MediaStats(2e9 + i, "s9", C2S, 1.0, 10, 1000, 1, {}) for i in range(10_000)]
    m.absorb(media)
    st = m.sessions["s9"]
    assert len(st.items) <= 50 and len(st.log) <= 50 and len(st.bulk) <= 50
    assert st.evicted > 9000
    # media never floods the ladder: it keeps counting in the last traffic block
    assert st.items[-1].rtp_packets == 300 + 100_000  # type: ignore[union-attr]
    assert any(isinstance(ev, MessageSeen) for ev in st.items)


def test_session_cap_forgets_closed_sessions_first() -> None:
    m = Model(max_sessions=2)
    m.absorb(clean_handshake("s1") + decrypt_error("s2"))
    m.absorb(retransmission_storm("s3"))
    assert list(m.sessions) in (["s2", "s3"], ["s1", "s3"])
    assert m.forgotten_sessions == 1


@pytest.mark.parametrize(
    ("text", "sessions", "types", "dirs", "alerts"),
    [
        ("s2", ("s2",), (), (), False),
        ("t:Certificate d:c2s", (), ("certificate",), ("c2s",), False),
        ("alerts finished", (), ("finished",), (), True),
        ("session:janus dir:server->client", ("janus",), (), ("server->client",), False),
    ],
)
def test_filter_parses_terms(text: str, sessions: tuple, types: tuple, dirs: tuple,
                             alerts: bool) -> None:
    f = parse_filter(text)
    assert (f.sessions, f.types, f.dirs, f.alerts_only) == (sessions, types, dirs, alerts)


def test_filter_keeps_matching_rows_and_sessions() -> None:
    m = model_of(all_scenarios())
    f = parse_filter("alerts")
    assert [st.sid for st in m if f.session_ok(st)] == ["s2"]
    s1 = m.sessions["s1"]
    f = parse_filter("t:certificate d:s2c")
    kept = [r.type for r in build_rows(s1) if f.row_ok(s1, r)]
    assert kept == ["Certificate", "CertificateRequest"]


def test_jsonl_round_trip_rebuilds_equal_events(tmp_path: Path) -> None:
    events = all_scenarios()
    path = tmp_path / "log.jsonl"
    path.write_text("".join(json.dumps(event_to_dict(e)) + "\n" for e in events))
    back = events_from_jsonl(path)
    assert back == events  # body is compare=False; everything else is exact
    alert = next(e for e in back if isinstance(e, AlertSeen))
    assert alert.frames == (8,) and isinstance(alert.frames, tuple)
    verdict = next(e for e in back if isinstance(e, Verdict))
    assert verdict.culprit is not None and verdict.culprit.type == "CertificateVerify"
    msg = next(e for e in back if isinstance(e, MessageSeen) and e.type == "Certificate")
    assert isinstance(msg.raw, bytes) and msg.raw[0] == 11
    assert msg.body.entries[0].summary.subject == "CN=WebRTC"  # parsed again from raw


def test_loader_names_the_bad_line() -> None:
    good = json.dumps(event_to_dict(clean_handshake()[0]))
    with pytest.raises(LogFormatError, match="line 2: not JSON"):
        events_from_lines([good, "{oops"])
    with pytest.raises(LogFormatError, match="line 1: not an event object"):
        events_from_lines(['{"ts": 1}'])
    assert events_from_lines([good, "", '{"event": "from_the_future", "ts": 1}']) != []


def test_hangup_alerts_after_a_clean_handshake_are_rows_not_failures() -> None:
    """Peers exchange encrypted alerts (close_notify) when a call that worked hangs up:
    shown in the ladder, never a banner or a culprit."""
    evs = clean_handshake()
    t = evs[-1].ts + 1
    c2s = next(e for e in evs if isinstance(e, MessageSeen)).dir
    s2c = "server->client" if c2s == "client->server" else c2s
    hangup = [
        AlertSeen(t, "s1", c2s, (99,), 1, True, None, None, None, None, 6),
        AlertSeen(t, "s1", s2c, (100,), 1, True, None, None, None, None, 5),
    ]
    st = model_of(evs, hangup).sessions["s1"]
    assert st.summary is not None and st.summary.state == "established"
    assert find_culprit(st) is None and banner_text(st) is None
    assert sum(isinstance(i, AlertSeen) for i in st.items) == 2
    st2 = model_of(decrypt_error(verdict=False)).sessions["s2"]
    assert find_culprit(st2) is not None


def test_reopened_log_has_parsed_bodies_again() -> None:
    """`dtlsproxy view` shows the same decoded fields as the live view: bodies are parsed
    again from the raw bytes the log keeps."""
    from proxy.analyze.pipeline import analyze_capture
    from proxy.decode.dtls.messages import Certificate, ClientHello
    from tests.conftest import CAPTURES

    live = list(analyze_capture(CAPTURES / "capture-firefox-Mozilla_Firefox_125.0.pcap"))
    lines = [json.dumps(event_to_dict(e)) for e in live]
    back = [e for e in events_from_lines(lines) if isinstance(e, MessageSeen)]
    first = {e.type: e.body for e in reversed(back)}
    assert isinstance(first["ClientHello"], ClientHello)
    assert isinstance(first["Certificate"], Certificate)
    assert first["Certificate"].entries[0].summary is not None
