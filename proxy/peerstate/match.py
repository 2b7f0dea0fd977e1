"""Which of the proxy's sessions a peer's view is about.

:class:`SessionIndex` reads the proxy's own events (the STUN it relays, the endpoints,
the certificates) and :meth:`SessionIndex.match` ties a :class:`PeerView` to sessions,
strongest evidence first:

1. **ICE ufrag**: a STUN USERNAME ``A:B`` (RFC 8445 7.2.2: the receiver's ufrag, then the
   sender's) made of the view's local and remote ufrags;
2. **selected pair**: the address the peer says ICE selected for itself is an endpoint;
3. **candidates**: one of the peer's own candidates is an endpoint;
4. **fingerprints**: both certificates on the wire are the ones of the view (one alone
   is not enough: Janus uses one certificate for every handle).

Every session matched at the strongest level is returned (a relay's own capture shows the
same handshake on two legs). Memory is bounded: a few usernames per session, sessions
forgotten beyond :data:`MAX_SESSIONS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.events import Event, SessionClosed, SessionOpened, SessionSummary, StunSeen
from proxy.peerstate.views import PeerView

MAX_SESSIONS = 20_000
MAX_USERNAMES = 8
"""USERNAMEs kept per session (ICE restarts add new ones; checks repeat the same)."""


@dataclass(frozen=True, slots=True)
class Match:
    """A session a view is about, and the evidence."""

    session: str
    by: str
    """``ICE ufrag 'aunl:No78'``, ``selected pair 10.0.0.1:20001``, ..."""
    strength: int
    """4 ufrag pair, 3 selected pair, 2 candidates, 1 fingerprints."""


@dataclass
class _Known:
    endpoints: tuple[str, str] = ("", "")
    usernames: list[str] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    closed: bool = False


class SessionIndex:
    """What identifies each session: its STUN usernames, endpoints and certificates."""

    def __init__(self) -> None:
        self.sessions: dict[str, _Known] = {}

    def observe(self, events: list[Event]) -> set[str]:
        """Read the proxy's events; returns the sessions that got a new identifying fact
        (a new USERNAME, certificates): views not yet matched may match them now."""
        changed: set[str] = set()
        for ev in events:
            if isinstance(ev, StunSeen):
                name = ev.attributes.get("USERNAME")
                if name and ev.cls == "request":
                    k = self._get(ev.session)
                    if name not in k.usernames:
                        k.usernames.append(name)
                        del k.usernames[:-MAX_USERNAMES]
                        changed.add(ev.session)
            elif isinstance(ev, SessionOpened):
                self._get(ev.session).endpoints = ev.endpoints
            elif isinstance(ev, SessionSummary) and ev.fingerprints:
                k = self._get(ev.session)
                if dict(ev.fingerprints) != k.fingerprints:
                    k.fingerprints = dict(ev.fingerprints)
                    changed.add(ev.session)
            elif isinstance(ev, SessionClosed) and ev.session in self.sessions:
                self.sessions[ev.session].closed = True
        return changed

    def _get(self, sid: str) -> _Known:
        k = self.sessions.get(sid)
        if k is None:
            if len(self.sessions) >= MAX_SESSIONS:
                self.sessions.pop(next(iter(self.sessions)))
            k = self.sessions[sid] = _Known()
        return k

    def usernames(self, sid: str) -> list[str]:
        """The STUN USERNAMEs seen in a session's requests."""
        k = self.sessions.get(sid)
        return list(k.usernames) if k is not None else []

    def endpoints(self, sid: str) -> tuple[str, str]:
        """``host:port`` of the session's two endpoints (empty strings when unknown)."""
        k = self.sessions.get(sid)
        return k.endpoints if k is not None else ("", "")

    def match(self, view: PeerView) -> list[Match]:
        """The sessions ``view`` is about (empty when none is known yet)."""
        best: list[Match] = []
        for sid, k in self.sessions.items():
            m = _match_one(view, sid, k)
            if m is None:
                continue
            if not best or m.strength > best[0].strength:
                best = [m]
            elif m.strength == best[0].strength:
                best.append(m)
        if best and best[0].strength == 1 and len(best) > 1:
            return []  # the same two certificates in several sessions: not telling
        return best


def _addr(a: tuple[str, int]) -> str:
    return f"[{a[0]}]:{a[1]}" if ":" in a[0] else f"{a[0]}:{a[1]}"


def _match_one(view: PeerView, sid: str, k: _Known) -> Match | None:
    local, remote = view.ufrags()
    if local and remote:
        for pair in (f"{local}:{remote}", f"{remote}:{local}"):
            if pair in k.usernames:
                return Match(sid, f"ICE ufrag '{pair}'", 4)
    ends = set(k.endpoints)
    if view.selected_pair is not None and _addr(view.selected_pair[0]) in ends:
        return Match(sid, f"selected pair {_addr(view.selected_pair[0])}", 3)
    for c in view.local_candidates:
        if _addr(c) in ends:
            return Match(sid, f"candidate {_addr(c)}", 2)
    fps = set(k.fingerprints.values())
    mine, theirs = view.local_fingerprint, view.remote_fingerprint
    sdp_mine, sdp_theirs = view.sdp_fingerprints()
    mine = mine or sdp_mine
    theirs = theirs or sdp_theirs
    if mine and theirs and {mine.upper(), theirs.upper()} <= fps and len(fps) == 2:
        return Match(sid, "certificate fingerprints", 1)
    return None
