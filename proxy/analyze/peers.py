"""``analyze --peer-dump``: a browser's own view beside a capture's sessions.

The capture's events go through :class:`proxy.peerstate.desk.PeerDesk` as they come out
of the Tracker: once a dump's peer connection is tied to a session (the ICE ufrags of its
SDPs in the STUN of the capture, usually before the ClientHello), its SDPs are that
session's (the fingerprint and a=setup checks use them) and the session is checked again
at once; the desk's events (``peer``, ``views``, ``views_disagree``) come in the stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from proxy.events import Event
from proxy.peerstate.desk import Answer, PeerDesk
from proxy.peerstate.views import PeerView
from proxy.session import Tracker
from proxy.verdict import VerdictEngine

K = TypeVar("K")


def with_peer_views(stream: Iterator[tuple[K, Event]], views: list[PeerView],
                    tracker: Tracker, engine: VerdictEngine) -> Iterator[tuple[K, Event]]:
    """``stream`` with the peer views' events (each after the event that caused it, with
    its key) and the SDP checks the views make possible."""
    desk = PeerDesk()
    pending: list[tuple[K, Answer]] = []
    first = True
    for key, ev in stream:
        yield key, ev
        if first:  # the views wait for the sessions they will match
            first = False
            for v in views:
                pending.append((key, desk.offer(v, None, ev.ts)))
        pending.append((key, desk.observe([ev], ev.ts)))
        while pending:
            k, (events, updates) = pending.pop(0)
            for e in events:
                yield k, e
            for u in updates:
                engine.use_session_sdp(u.session, list(u.sdps))
            if updates:
                again = tracker.recheck(ev.ts)
                for e in again:
                    yield k, e
                pending.append((k, desk.observe(again, ev.ts)))
