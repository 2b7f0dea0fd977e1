"""The peers' own views, live: :class:`proxy.peerstate.desk.PeerDesk` on the relay's bus.

:class:`PeerHub` reads the proxy's events from the bus and takes peer views from their
sources (the Janus Admin API poller and event receiver, ``--peer-dump`` files); what the
desk answers is published, and the SDPs it ties to a session go to that session's
verdict rules through the recorder (checked again at once). Nothing here touches the
forwarding path: all of it runs after the bus delivers, on the relay's loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from proxy.bus import Bus
from proxy.peerstate.desk import Answer, PeerDesk
from proxy.peerstate.janus import JanusNote
from proxy.peerstate.views import PeerView
from proxy.relay.recorder import Recorder


class PeerHub:
    """Peer views -> matched sessions -> SDPs for the checks, and events."""

    def __init__(self, bus: Bus, recorder: Recorder) -> None:
        self.bus = bus
        self.recorder = recorder
        self.desk = PeerDesk()
        self.on_unmatched_stun: Callable[[], None] | None = None
        """Called when STUN names a session no view matches (the Janus poller looks now)."""
        self._scheduled = False
        self._sub = bus.subscribe(maxlen=200_000, notify=self._notify)

    @property
    def entries(self) -> dict[str, object]:
        """The views the desk holds, by key."""
        return dict(self.desk.entries)

    def matched(self, key: str) -> bool:
        """Whether the view ``key`` is tied to a session."""
        return self.desk.matched(key)

    def add_own(self, addresses: list[str]) -> None:
        """The proxy's own addresses (its sides): a peer's pair through them is relayed."""
        self.desk.views.own.update(addresses)

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
        events = self._sub.drain()
        if events:
            self._apply(self.desk.observe(events, time.time()))
        if self.desk.unmatched_stun:
            self.desk.unmatched_stun = False
            if self.on_unmatched_stun is not None:
                self.on_unmatched_stun()

    def offer(self, view: PeerView, notes: list[JanusNote] | None = None) -> None:
        """A peer's view, new or updated, and what it just said."""
        self._apply(self.desk.offer(view, notes, time.time()))

    def _apply(self, answer: Answer) -> None:
        events, updates = answer
        if events:
            self.bus.publish(events)
        for u in updates:  # its recheck is published, and comes back through drain()
            self.recorder.session_sdp(u.session, list(u.sdps))
