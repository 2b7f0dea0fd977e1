"""The peers' own views, live: matched to the proxy's sessions and put beside its own.

:class:`PeerHub` reads the proxy's events from the bus (the STUN it relays, each
session's state and verdicts) and takes peer views from their sources (the Janus Admin
API poller and event receiver, ``--peer-dump`` files). A view is tied to its sessions by
:class:`proxy.peerstate.match.SessionIndex`; then its SDPs go to the verdict rules of
those sessions (the fingerprint and a=setup checks run without ``--sdp``), and the
view, what the peer said, and the comparison with the proxy's view are published as
events. A view that matches nothing yet waits (bounded) for the STUN that will tie it.
Nothing here touches the forwarding path: all of it runs after the bus delivers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from proxy.bus import Bus
from proxy.events import Event, PeerNote, PeerState, PeerViews, SessionClosed
from proxy.peerstate.compare import Views
from proxy.peerstate.janus import JanusNote
from proxy.peerstate.match import Match, SessionIndex
from proxy.peerstate.views import PeerView, describe_pair
from proxy.relay.recorder import Recorder

MAX_PENDING = 1024
"""Views not matched to a session kept (each with a few of its notes)."""
MAX_NOTES = 32


@dataclass
class _Entry:
    view: PeerView
    matches: list[Match] = field(default_factory=list)
    notes: list[JanusNote] = field(default_factory=list)
    """Said before the view matched a session (published once it does)."""
    states: dict[str, PeerState] = field(default_factory=dict)
    sdps: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)


class PeerHub:
    """Peer views -> matched sessions -> SDPs for the checks, and events."""

    def __init__(self, bus: Bus, recorder: Recorder) -> None:
        self.bus = bus
        self.recorder = recorder
        self.index = SessionIndex()
        self.views = Views()
        self.entries: dict[str, _Entry] = {}
        self.by_session: dict[str, set[str]] = {}
        self.on_unmatched_stun: Callable[[], None] | None = None
        """Called when STUN names a session no view matches (the Janus poller looks now)."""
        self._scheduled = False
        self._sub = bus.subscribe(maxlen=200_000, notify=self._notify)

    def add_own(self, addresses: list[str]) -> None:
        """The proxy's own addresses (its sides): a peer's pair through them is relayed."""
        self.views.own.update(addresses)

    def close(self) -> None:
        """Stop reading the bus."""
        self.bus.unsubscribe(self._sub)

    def _notify(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.drain)

    def drain(self) -> None:
        """Read what the proxy published since the last call."""
        self._scheduled = False
        events = [e for e in self._sub.drain()
                  if not isinstance(e, PeerState | PeerNote | PeerViews)]
        if not events:
            return
        changed = self.index.observe(events)
        touched = self.views.observe(events)
        if changed:
            unmatched = False
            for key, entry in list(self.entries.items()):
                if not entry.matches or changed - {m.session for m in entry.matches}:
                    before = {m.session for m in entry.matches}
                    self._match(key)
                    if not entry.matches and not entry.view.closed:
                        unmatched = True
                    touched -= before
            if self.on_unmatched_stun is not None and (unmatched or any(
                    sid not in self.by_session for sid in changed)):
                self.on_unmatched_stun()
        for sid in touched:
            for key in list(self.by_session.get(sid, ())):
                e = self.entries.get(key)
                if e is not None:
                    self._publish(e, [m for m in e.matches if m.session == sid])
        for ev in events:
            if isinstance(ev, SessionClosed):
                self.by_session.pop(ev.session, None)

    def offer(self, view: PeerView, notes: list[JanusNote] | None = None) -> None:
        """A peer's view, new or updated, and what it just said."""
        found = self.entries.get(view.key)
        if found is None:
            if len(self.entries) >= MAX_PENDING:
                self._forget_one()
            found = self.entries[view.key] = _Entry(view)
        entry = found
        entry.view = view
        if notes:
            entry.notes.extend(notes)
            del entry.notes[:-MAX_NOTES]
        self._match(view.key)

    def _forget_one(self) -> None:
        for key, entry in self.entries.items():
            if not entry.matches or entry.view.closed:
                self.entries.pop(key)
                return
        self.entries.pop(next(iter(self.entries)))

    def _match(self, key: str) -> None:
        entry = self.entries[key]
        matches = self.index.match(entry.view)
        if matches and {m.session for m in matches} == {m.session for m in entry.matches}:
            matches = entry.matches  # the same sessions: keep the evidence first found
        if matches:
            for m in matches:
                self.by_session.setdefault(m.session, set()).add(key)
            entry.matches = matches
        if entry.matches:
            self._publish(entry, entry.matches)

    def _publish(self, entry: _Entry, matches: list[Match]) -> None:
        v = entry.view
        now = time.time()
        out: list[Event] = []
        for m in matches:
            sid = m.session
            for n in entry.notes:
                out.append(PeerNote(n.ts or now, sid, v.name, n.what, n.value, n.detail))
            sdps = tuple((s.source, s.text) for s in v.sdps())
            if sdps and entry.sdps.get(sid) != sdps:
                entry.sdps[sid] = sdps
                self.recorder.session_sdp(sid, list(sdps))
            state = PeerState(
                v.ts or now, sid, v.name, v.peer, m.by, v.ice_state, v.dtls_state, v.dtls_role,
                describe_pair(v.selected_pair) if v.selected_pair else None,
                v.local_fingerprint, v.remote_fingerprint, v.srtp_profile, v.tls_version,
                v.hangup, v.webrtcup, tuple(s.source for s in v.sdps()))
            old = entry.states.get(sid)
            if old is None or _differs(old, state):
                entry.states[sid] = state
                out.append(state)
            out.extend(self.views.compare(v, m, now))
        entry.notes.clear()
        if out:
            self.bus.publish(out)


def _differs(a: PeerState, b: PeerState) -> bool:
    """Whether a new state says something new (its time alone does not count)."""
    return dataclasses.replace(a, ts=b.ts) != b
