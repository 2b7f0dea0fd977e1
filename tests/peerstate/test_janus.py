"""Janus's own view from its real replies and events (tests/data/peerstate: Janus 1.1.2,
an echotest call from aiortc in the bed's namespace, Admin API and sample event handler)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.peerstate.janus import JanusHandles, parse_events
from proxy.peerstate.views import PeerDataError, parse_pair

DATA = Path(__file__).resolve().parents[1] / "data" / "peerstate"


def events(name: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for line in (DATA / f"janus-1.1.2-events-{name}.txt").read_text().splitlines():
        out.extend(parse_events(line))
    return out


def call(name: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((DATA / f"janus-1.1.2-call-{name}.json").read_text())
    return data


def test_handle_info_gives_both_sdps_and_the_dtls_block() -> None:
    reply = json.loads((DATA / "janus-1.1.2-handle-info-clean.json").read_text())
    view, notes = JanusHandles().info(reply, now=1000.0)
    assert view.name == "Janus handle 5705518251734011"
    assert view.remote_sdp is not None and view.local_sdp is not None
    assert view.remote_sdp.source == "remote SDP as applied by Janus handle 5705518251734011"
    assert view.ufrags() == ("No78", "aunl")
    assert view.dtls_role == "client"  # dtls-role active
    assert view.dtls_state == "connected"
    assert view.srtp_profile == "SRTP_AEAD_AES_256_GCM"
    assert view.selected_pair == (("10.99.0.1", 20001), ("10.99.0.1", 55707))
    assert view.local_fingerprint == view.sdp_fingerprints()[0]  # its own certificate
    assert view.remote_fingerprint == view.sdp_fingerprints()[1]  # the offer's
    assert view.webrtcup is True
    # Janus's monotonic microseconds placed on the wall clock by current_time
    assert view.dtls_started is not None and view.dtls_ready is not None
    assert 0 < view.dtls_ready - view.dtls_started < 1
    assert view.dtls_ready < 1000.0
    assert [(n.what, n.value) for n in notes][:3] == [
        ("ice", "ready"), ("dtls", "connected"),
        ("selected-pair", "10.99.0.1:20001 <-> 10.99.0.1:55707")]


def test_a_second_identical_reply_says_nothing_new() -> None:
    reply = json.loads((DATA / "janus-1.1.2-handle-info-clean.json").read_text())
    handles = JanusHandles()
    handles.info(reply, 1000.0)
    view, notes = handles.info(reply, 1002.0)
    assert notes == []
    assert len(view.sdp_history) == 2


def test_events_of_a_clean_call_in_order() -> None:
    handles = JanusHandles()
    said = []
    for ev in events("clean"):
        view, notes = handles.event(ev)
        said += [(n.what, n.value) for n in notes if n.handle is not None]
    assert said == [
        ("handle", "attached"), ("sdp", "remote offer"), ("ice", "gathering"),
        ("candidate", "remote"), ("candidate", "remote"), ("candidate", "local"),
        ("sdp", "local answer"), ("ice", "connecting"),
        ("selected-pair", "10.99.0.1:20001 [host,udp] <-> 10.99.0.1:55707 [host,udp]"),
        ("ice", "connected"), ("ice", "ready"), ("dtls", "trying"), ("dtls", "connected"),
        ("webrtcup", "webrtcup"), ("media", "audio receiving true"), ("hangup", "Janus API"),
        ("handle", "detached")]
    (view,) = handles.views.values()
    assert view.remote_sdp is not None and view.remote_sdp.text == call("clean")["offer_to_janus"]
    assert view.remote_sdp.source == ("remote SDP as applied by Janus handle 5705518251734011 "
                                      "(offer)")
    assert view.local_sdp is not None and view.local_sdp.type == "answer"
    assert view.hangup == "Janus API" and view.closed


def test_events_of_the_wrong_fingerprint_call_end_in_a_dtls_alert_hangup() -> None:
    handles = JanusHandles()
    for ev in events("wrong-fingerprint"):
        handles.event(ev)
    (view,) = handles.views.values()
    assert view.dtls_state == "failed"
    assert view.hangup == "DTLS alert"
    assert view.sdp_fingerprints()[1] == ":".join(["00"] * 32)  # the broken offer's
    assert view.hangup_ts is not None and view.dtls_started is not None
    assert 0 < view.hangup_ts - view.dtls_started < 1


def test_core_and_session_events_have_no_handle() -> None:
    handles = JanusHandles()
    first = events("clean")[0]
    view, notes = handles.event(first)
    assert view is None
    assert [(n.what, n.value, n.detail) for n in notes] == [("core", "started", "Janus 1.1.2")]


def test_bad_posts_are_named() -> None:
    with pytest.raises(PeerDataError, match="not JSON"):
        parse_events(b"{nope")
    with pytest.raises(PeerDataError, match="not a Janus event"):
        parse_events(b"[1, 2]")
    with pytest.raises(PeerDataError, match="handle_id"):
        JanusHandles().info({"janus": "success", "info": {}}, 0.0)


def test_selected_pair_text() -> None:
    assert parse_pair("10.0.0.1:20001 [host,udp] <-> [2001:db8::1]:5000 [srflx,udp]") == (
        ("10.0.0.1", 20001), ("2001:db8::1", 5000))
    assert parse_pair("garbage") is None
