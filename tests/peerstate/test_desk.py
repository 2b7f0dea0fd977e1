"""The desk over time: a view waits for the STUN that ties it, a renegotiated SDP goes to
the checks again, an ICE restart's new ufrags still find the session (Janus's real
handle_info reply, the proxy's events as a transcript)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from proxy.events import PeerState, PeerViews, SessionOpened, StunSeen
from proxy.peerstate.desk import PeerDesk
from proxy.peerstate.janus import JanusHandles
from proxy.peerstate.views import SdpSeen

DATA = Path(__file__).resolve().parents[1] / "data" / "peerstate"
T = 1000.0


def reply() -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (DATA / "janus-1.1.2-handle-info-clean.json").read_text())
    return data


def stun(username: str) -> StunSeen:
    return StunSeen(T, "s1", 3, "a->b", "binding", "request", "00", {"USERNAME": username})


def opened() -> SessionOpened:
    return SessionOpened(T, "s1", ("10.0.0.8:4000", "10.0.0.9:5000"), ("a", "b"))


def test_a_view_waits_for_the_stun_that_ties_it() -> None:
    desk = PeerDesk()
    view, notes = JanusHandles().info(reply(), T)
    events, updates = desk.offer(view, notes, T)
    assert (events, updates) == ([], [])  # no session yet
    desk.observe([opened()], T)
    events, updates = desk.observe([stun("No78:aunl")], T)
    (u,) = updates
    assert u.session == "s1"
    assert [src for src, _ in u.sdps] == [
        "remote SDP as applied by Janus handle 5705518251734011",
        "local SDP of Janus handle 5705518251734011"]
    kinds = [type(e).__name__ for e in events]
    assert "PeerNote" in kinds and "PeerState" in kinds and "PeerViews" in kinds
    (state,) = [e for e in events if isinstance(e, PeerState)]
    assert state.matched_by == "ICE ufrag 'No78:aunl'"
    assert state.sdps == tuple(src for src, _ in u.sdps)


def test_stun_no_view_matches_asks_the_poller_to_look() -> None:
    desk = PeerDesk()
    desk.observe([opened(), stun("No78:aunl")], T)
    assert desk.unmatched_stun is True


def test_renegotiation_and_ice_restart_are_followed() -> None:
    handles = JanusHandles()
    desk = PeerDesk()
    desk.observe([opened(), stun("No78:aunl")], T)
    view, notes = handles.info(reply(), T)
    _, first = desk.offer(view, notes, T)
    assert len(first) == 1
    # the same reply again: nothing new for the checks
    assert desk.offer(handles.info(reply(), T + 1)[0], None, T + 1)[1] == []
    # an ICE restart: new ufrags in both SDPs, then checks with them
    r = reply()
    info = r["info"]
    assert isinstance(info, dict)
    sdps = info["sdps"]
    sdps["remote"] = sdps["remote"].replace("a=ice-ufrag:aunl", "a=ice-ufrag:zzzz")
    sdps["local"] = sdps["local"].replace("a=ice-ufrag:No78", "a=ice-ufrag:yyyy")
    view2, notes2 = handles.info(r, T + 2)
    assert view2.ufrags() == ("yyyy", "zzzz") and len(view2.sdp_history) == 4
    assert [n.what for n in notes2] == ["sdp", "sdp"]
    events, updates = desk.offer(view2, notes2, T + 2)
    (u,) = updates  # the new SDPs go to the checks of the session it already had
    assert u.session == "s1" and "a=ice-ufrag:zzzz" in u.sdps[0][1]
    events, _ = desk.observe([stun("yyyy:zzzz")], T + 3)
    states = [e for e in events if isinstance(e, PeerState)]
    assert [s.matched_by for s in states] == ["ICE ufrag 'yyyy:zzzz'"]


def test_views_sentence_is_said_again_only_when_it_changes() -> None:
    desk = PeerDesk()
    desk.observe([opened(), stun("No78:aunl")], T)
    view, _ = JanusHandles().info(reply(), T)
    first = [e for e in desk.offer(view, None, T)[0] if isinstance(e, PeerViews)]
    again = [e for e in desk.offer(view, None, T)[0] if isinstance(e, PeerViews)]
    assert len(first) == 1 and again == []
    hung = dataclasses.replace(view, hangup="Janus API", hangup_ts=T + 5)
    later = [e for e in desk.offer(hung, None, T + 5)[0] if isinstance(e, PeerViews)]
    assert len(later) == 1 and "hung up, reason 'Janus API'" in later[0].sentence


def test_sdp_seen_is_frozen() -> None:
    s = SdpSeen("local", "offer", "v=0", "x")
    assert dataclasses.is_dataclass(s)
