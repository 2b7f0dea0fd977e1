"""Where peer views meet the proxy's sessions (sans-IO, shared by ``run`` and ``analyze``).

:class:`PeerDesk` reads the proxy's events and takes peer views; it answers with the
events to publish (:class:`~proxy.events.PeerState`, :class:`~proxy.events.PeerNote`,
:class:`~proxy.events.PeerViews`, ``views_disagree`` verdicts) and the SDPs to give the
verdict rules, per session (:class:`SdpUpdate`). A view that matches nothing yet waits
(bounded) for the STUN that will tie it. The caller applies the SDPs (live: the relay's
recorder; offline: the engine, then ``Tracker.recheck``) and feeds the events those
produce back to :meth:`PeerDesk.observe`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from proxy.events import Event, PeerNote, PeerState, PeerViews, SessionClosed
from proxy.peerstate.compare import Views
from proxy.peerstate.janus import JanusNote
from proxy.peerstate.match import Match, SessionIndex
from proxy.peerstate.views import PeerView, describe_pair

MAX_VIEWS = 1024
"""Views kept (each with a few of the notes said before it matched)."""
MAX_NOTES = 32


@dataclass(frozen=True, slots=True)
class SdpUpdate:
    """The SDPs the checks of one session should now use: ``(source, text)``."""

    session: str
    sdps: tuple[tuple[str, str], ...]


@dataclass
class _Entry:
    view: PeerView
    matches: list[Match] = field(default_factory=list)
    notes: list[JanusNote] = field(default_factory=list)
    states: dict[str, PeerState] = field(default_factory=dict)
    sdps: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


Answer = tuple[list[Event], list[SdpUpdate]]


class PeerDesk:
    """Peer views -> matched sessions -> events and SDP updates."""

    def __init__(self) -> None:
        self.index = SessionIndex()
        self.views = Views()
        self.entries: dict[str, _Entry] = {}
        self.by_session: dict[str, set[str]] = {}
        self.unmatched_stun = False
        """Set when STUN named a session no view matches, or a matched session changed state
        (the Janus poller looks now: the SDPs before the handshake, the DTLS block after)."""

    def matched(self, key: str) -> bool:
        """Whether the view ``key`` is tied to a session."""
        e = self.entries.get(key)
        return e is not None and bool(e.matches)

    def observe(self, events: list[Event], now: float) -> Answer:
        """The proxy's events (never the desk's own: they are skipped)."""
        events = [e for e in events if not isinstance(e, PeerState | PeerNote | PeerViews)
                  and not (e.EVENT == "verdict" and getattr(e, "code", "") == "views_disagree")]
        out: Answer = ([], [])
        if not events:
            return out
        changed = self.index.observe(events)
        touched = self.views.observe(events)
        if changed:
            for key, entry in list(self.entries.items()):  # new evidence: match again
                before = {m.session for m in entry.matches}
                self._add(out, self._match(key, now))
                touched -= before
            if any(sid not in self.by_session for sid in changed):
                self.unmatched_stun = True
        if touched & set(self.by_session):
            self.unmatched_stun = True  # a matched call changed state: worth a fresh look
        for sid in touched:
            for key in list(self.by_session.get(sid, ())):
                e = self.entries.get(key)
                if e is not None:
                    self._add(out, self._publish(e, [m for m in e.matches if m.session == sid],
                                                 now))
        for ev in events:
            if isinstance(ev, SessionClosed):
                self.by_session.pop(ev.session, None)
        return out

    def offer(self, view: PeerView, notes: list[JanusNote] | None, now: float) -> Answer:
        """A peer's view, new or updated, and what it just said."""
        found = self.entries.get(view.key)
        if found is None:
            if len(self.entries) >= MAX_VIEWS:
                self._forget_one()
            found = self.entries[view.key] = _Entry(view)
        found.view = view
        if notes:
            found.notes.extend(notes)
            del found.notes[:-MAX_NOTES]
        return self._match(view.key, now)

    @staticmethod
    def _add(out: Answer, more: Answer) -> None:
        out[0].extend(more[0])
        out[1].extend(more[1])

    def _forget_one(self) -> None:
        for key, entry in self.entries.items():
            if not entry.matches or entry.view.closed:
                self.entries.pop(key)
                return
        self.entries.pop(next(iter(self.entries)))

    def _match(self, key: str, now: float) -> Answer:
        entry = self.entries[key]
        matches = self.index.match(entry.view)
        if matches and entry.matches and _same(matches, entry.matches, entry.view):
            matches = entry.matches  # the same sessions, evidence as good: keep the first
        if matches:
            for m in matches:
                self.by_session.setdefault(m.session, set()).add(key)
            entry.matches = matches
        if entry.matches:
            return self._publish(entry, entry.matches, now)
        return [], []

    def _publish(self, entry: _Entry, matches: list[Match], now: float) -> Answer:
        v = entry.view
        events: list[Event] = []
        updates: list[SdpUpdate] = []
        for m in matches:
            sid = m.session
            for n in entry.notes:
                events.append(PeerNote(n.ts or now, sid, v.name, n.what, n.value, n.detail))
            sdps = tuple((s.source, s.text) for s in v.sdps())
            if sdps and entry.sdps.get(sid) != sdps:
                entry.sdps[sid] = sdps
                updates.append(SdpUpdate(sid, sdps))
            state = PeerState(
                v.ts or now, sid, v.name, v.peer, m.by, v.ice_state, v.dtls_state, v.dtls_role,
                describe_pair(v.selected_pair) if v.selected_pair else None,
                v.local_fingerprint, v.remote_fingerprint, v.srtp_profile, v.tls_version,
                v.hangup, v.webrtcup, tuple(s.source for s in v.sdps()))
            old = entry.states.get(sid)
            if old is None or dataclasses.replace(old, ts=state.ts) != state:
                entry.states[sid] = state
                events.append(state)
            events.extend(self.views.compare(v, m, now))
        entry.notes.clear()
        return events, updates


def _same(new: list[Match], old: list[Match], view: PeerView) -> bool:
    """Whether ``old`` still says what ``new`` says: the same sessions, evidence at least as
    strong, and (ICE ufrags) the view's current ones (an ICE restart brings new ones)."""
    if {m.session for m in new} != {m.session for m in old}:
        return False
    if new[0].strength != old[0].strength:
        return new[0].strength < old[0].strength
    local, remote = view.ufrags()
    return old[0].strength != 4 or (f"'{local}:{remote}'" in old[0].by
                                    or f"'{remote}:{local}'" in old[0].by)
