"""One handshake seen at several points: the sessions that are its legs.

A relay's own capture (``dtlsproxy run --pcap``) holds every datagram twice, as it
arrived and as it left; two captures merged (``mergecap``), or a capture on a middlebox,
do too. Each leg is a session of its own (other addresses), and they are the same
handshake: the same ClientHello random. :class:`LegIndex` (one per Tracker) finds them,
so the verdict rules can compare every message across the legs
(:mod:`proxy.verdict.legs`).

Sans-IO, bounded: a session leaves the index when the Tracker forgets it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.session.session import Session

MAX_LEGS = 8
"""Sessions kept per ClientHello random (a replayed hello could open many)."""


class LegIndex:
    """Sessions by the random of their first ClientHello."""

    def __init__(self) -> None:
        self._by_random: dict[bytes, list[Session]] = {}
        self._randoms: dict[str, list[bytes]] = {}
        """Session id -> the randoms it was filed under (to forget it)."""

    def add(self, s: Session, client_random: bytes) -> list[Session]:
        """File ``s`` under ``client_random``; the sessions it is newly a leg of."""
        legs = self._by_random.setdefault(client_random, [])
        if s in legs:
            return []  # the ClientHello again (with a cookie): paired already
        others = list(legs)
        if len(legs) < MAX_LEGS:
            legs.append(s)
            self._randoms.setdefault(s.sid, []).append(client_random)
        return others

    def legs(self, s: Session) -> list[Session]:
        """The other sessions with the same ClientHello random as ``s`` has now."""
        cr = s.neg.client_random
        if cr is None:
            return []
        return [x for x in self._by_random.get(cr, ()) if x is not s
                and x.neg.client_random == cr]

    def forget(self, s: Session) -> None:
        """``s`` is no longer tracked."""
        for cr in self._randoms.pop(s.sid, ()):
            legs = self._by_random.get(cr)
            if legs is not None:
                legs[:] = [x for x in legs if x is not s]
                if not legs:
                    del self._by_random[cr]
