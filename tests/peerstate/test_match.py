"""Tying a peer's view to the proxy's sessions, and both views side by side: transcripts of
the proxy's events (the STUN it relays, the session's state) and Janus's real reply."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from proxy.events import (
    AlertSeen,
    DatagramSeen,
    SessionOpened,
    SessionSummary,
    StunSeen,
    Verdict,
)
from proxy.peerstate.compare import Views
from proxy.peerstate.janus import JanusHandles
from proxy.peerstate.match import Match, SessionIndex

DATA = Path(__file__).resolve().parents[1] / "data" / "peerstate"
T = 1000.0


def janus_view() -> object:
    reply = json.loads((DATA / "janus-1.1.2-handle-info-clean.json").read_text())
    view, _ = JanusHandles().info(reply, T)
    return view


def stun(sid: str, username: str, ts: float = T) -> StunSeen:
    return StunSeen(ts, sid, 1, "a->b", "binding", "request", "00", {"USERNAME": username})


def summary(sid: str, state: str, fps: dict[str, str] | None = None) -> SessionSummary:
    # the real call: Janus answered a=setup:active, it is the DTLS client
    return SessionSummary(T, sid, state, "10.99.0.1:20001", "10.99.0.1:55707", "janus", "aiortc",
                          "DTLS 1.2", fingerprints=fps or {})


def test_matched_by_the_ufrag_pair_in_the_stun_the_proxy_relays() -> None:
    view = janus_view()
    idx = SessionIndex()
    changed = idx.observe([
        SessionOpened(T, "s1", ("10.0.0.5:4000", "10.0.0.6:5000"), ("a", "b")),
        stun("s1", "zzzz:yyyy"),
        SessionOpened(T, "s2", ("10.99.0.1:55707", "10.99.0.1:20001"), ("a", "b")),
        stun("s2", "No78:aunl"),  # aiortc -> Janus: Janus's ufrag, then aiortc's
    ])
    assert changed == {"s1", "s2"}
    assert idx.match(view) == [Match("s2", "ICE ufrag 'No78:aunl'", 4)]  # type: ignore[arg-type]


def test_without_stun_the_selected_pair_then_the_candidates() -> None:
    view = janus_view()
    idx = SessionIndex()
    idx.observe([SessionOpened(T, "s1", ("10.99.0.1:55707", "10.99.0.1:20001"), ("a", "b"))])
    (m,) = idx.match(view)  # type: ignore[arg-type]
    assert (m.session, m.by, m.strength) == ("s1", "selected pair 10.99.0.1:20001", 3)
    other = dataclasses.replace(view, selected_pair=None)  # type: ignore[type-var]
    (m,) = idx.match(other)
    assert m.by == "candidate 10.99.0.1:20001"


def test_fingerprints_alone_only_when_they_tell_one_session() -> None:
    view = dataclasses.replace(janus_view(), selected_pair=None,  # type: ignore[type-var]
                               local_candidates=())
    fps = {"client": view.local_fingerprint, "server": view.remote_fingerprint}
    idx = SessionIndex()
    idx.observe([summary("s1", "established", fps)])
    assert [m.by for m in idx.match(view)] == ["certificate fingerprints"]
    idx.observe([summary("s2", "established", fps)])
    assert idx.match(view) == []  # Janus's one certificate in every call: not telling


def test_a_session_known_by_none_of_it_is_not_matched() -> None:
    idx = SessionIndex()
    idx.observe([SessionOpened(T, "s1", ("10.0.0.5:4000", "10.0.0.6:5000"), ("a", "b")),
                 stun("s1", "No78:other")])
    assert idx.match(janus_view()) == []  # type: ignore[arg-type]


def test_both_views_agree_on_a_clean_call() -> None:
    views = Views()
    views.observe([summary("s1", "established")])
    (ev,) = views.compare(janus_view(), Match("s1", "x", 4), T)  # type: ignore[arg-type]
    assert ev.agree is True
    assert ev.sentence.startswith("Janus handle 5705518251734011 says: ICE ready, DTLS state "
                                  "connected, DTLS client, webrtcup; proxy: handshake established")
    assert views.compare(janus_view(), Match("s1", "x", 4), T) == []  # said once


def test_a_pair_the_proxy_does_not_relay_is_a_finding() -> None:
    views = Views()
    s = dataclasses.replace(summary("s1", "established"), client="10.0.0.9:1", server="10.0.0.9:2")
    views.observe([s])
    out = views.compare(janus_view(), Match("s1", "x", 4), T)  # type: ignore[arg-type]
    (v,) = [e for e in out if isinstance(e, Verdict)]
    assert v.code == "views_disagree"
    assert v.reason.startswith("Janus handle 5705518251734011 says ICE selected 10.99.0.1:20001 "
                               "<-> 10.99.0.1:55707, a pair the proxy does not relay")
    views.own.add("10.99.0.1:55707")  # the proxy's own side: relayed after all
    views2 = Views()
    views2.own.add("10.99.0.1:55707")
    views2.observe([s])
    assert not [e for e in views2.compare(janus_view(), Match("s1", "x", 4), T)  # type: ignore[arg-type]
                if isinstance(e, Verdict)]


def test_opposite_dtls_roles_are_a_finding() -> None:
    views = Views()
    swapped = dataclasses.replace(summary("s1", "established"), client="10.99.0.1:55707",
                                  server="10.99.0.1:20001")
    views.observe([swapped])
    out = views.compare(janus_view(), Match("s1", "x", 4), T)  # type: ignore[arg-type]
    assert [e.reason for e in out if isinstance(e, Verdict)] == [
        "Janus handle 5705518251734011 says it is the DTLS client, but on the wire it acts as "
        "the server"]


def test_a_certificate_on_the_wire_that_is_not_the_peers_is_a_finding() -> None:
    view = janus_view()
    views = Views()
    views.observe([summary("s1", "established", {"server": "AA:BB", "client": "CC:DD"})])
    assert view.dtls_role == "client"  # type: ignore[attr-defined]
    out = views.compare(view, Match("s1", "x", 4), T)  # type: ignore[arg-type]
    reasons = [e.reason for e in out if isinstance(e, Verdict)]
    assert any("but the client certificate on the wire is CC:DD" in r for r in reasons), reasons


def test_peer_failed_where_the_proxy_saw_a_clean_handshake() -> None:
    view = dataclasses.replace(janus_view(), dtls_state="failed",  # type: ignore[type-var]
                               hangup="DTLS alert", hangup_ts=T + 0.08, webrtcup=False)
    views = Views()
    views.observe([summary("s1", "established"),
                   DatagramSeen(T, "s1", 9, "server->client", "dtls", 75)])
    out = views.compare(view, Match("s1", "x", 4), T)
    (said,) = [e for e in out if e.EVENT == "views"]
    assert said.sentence == ("Janus handle 5705518251734011 hung up (no alert on the wire; its "
                             "reason 'DTLS alert') 80 ms after the last DTLS datagram: the proxy "
                             "saw nothing wrong with the handshake itself")
    (v,) = [e for e in out if isinstance(e, Verdict)]
    assert v.reason.startswith("the proxy saw the handshake complete, but Janus handle "
                               "5705518251734011 says it failed")


def test_an_alert_on_the_wire_is_said_beside_the_proxys_culprit() -> None:
    view = dataclasses.replace(janus_view(), dtls_state="failed",  # type: ignore[type-var]
                               hangup="DTLS alert", hangup_ts=T + 0.01, webrtcup=False)
    views = Views()
    culprit = Verdict(T, "s1", "certificate_verify_bad_signature", None,
                      "client CertificateVerify signature does not verify")
    views.observe([summary("s1", "failed"), culprit,
                   AlertSeen(T, "s1", "server->client", (9,), 0, False, 2, "fatal", 51,
                             "decrypt_error", 5)])
    (said,) = views.compare(view, Match("s1", "x", 4), T)
    assert said.sentence == ("Janus handle 5705518251734011 says: ICE ready, DTLS state failed, "
                             "DTLS client, hung up, reason 'DTLS alert'; proxy: client "
                             "CertificateVerify signature does not verify")
    assert said.agree is True  # type: ignore[attr-defined]
