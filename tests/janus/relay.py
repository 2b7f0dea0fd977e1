"""A trivial two-sided UDP relay: the bed's stand-in until ``dtlsproxy run`` exists.

Side A faces the WebRTC peer (aiortc), side B faces Janus. Each side latches the
first sender it hears from and refuses any other; a datagram received on one side
is sent from the other side's socket to the latched peer there, so each peer only
ever sees the relay's address. Datagrams are counted per direction and RFC 7983
class (first byte), which is how a test proves DTLS and RTP crossed the relay both
ways. A peer known in advance (from the SDP) can be given with :meth:`set_peer`.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from dataclasses import dataclass, field

Address = tuple[str, int]


def classify(first: int) -> str:
    """RFC 7983 class of a datagram from its first byte (rtp/rtcp split on PT 64-95)."""
    if first <= 3:
        return "stun"
    if 20 <= first <= 63:
        return "dtls"
    if 128 <= first <= 191:
        return "rtp"
    return "other"


def media_kind(data: bytes) -> str:
    """``classify`` plus RTP vs RTCP (RFC 5761: payload type 64-95 after masking is RTCP)."""
    kind = classify(data[0]) if data else "other"
    if kind == "rtp" and len(data) > 1 and 64 <= (data[1] & 0x7F) <= 95:
        return "rtcp"
    return kind


@dataclass
class _Side:
    name: str
    transport: asyncio.DatagramTransport | None = None
    address: Address = ("", 0)
    peer: Address | None = None
    refused: Counter[str] = field(default_factory=Counter)


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, relay: TrivialRelay, side: str):
        self.relay = relay
        self.side = side

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.relay._received(self.side, data, addr)


class TrivialRelay:
    """Relay between side ``a`` (WebRTC peer) and side ``b`` (Janus)."""

    def __init__(self, host: str):
        self.host = host
        self.sides = {"a": _Side("a"), "b": _Side("b")}
        self.counts: Counter[str] = Counter()
        """``"a->b dtls"`` -> datagrams forwarded."""

    async def start(self) -> None:
        """Bind both sides on ``host``, ephemeral ports."""
        loop = asyncio.get_running_loop()
        for name, side in self.sides.items():
            transport, _ = await loop.create_datagram_endpoint(
                functools.partial(_Protocol, self, name), local_addr=(self.host, 0)
            )
            side.transport = transport
            side.address = transport.get_extra_info("sockname")[:2]

    def address(self, side: str) -> Address:
        """The relay's socket on that side (what the SDP given to that side's peer carries)."""
        return self.sides[side].address

    def set_peer(self, side: str, peer: Address) -> None:
        """Fix the peer of a side (otherwise the first sender is latched)."""
        self.sides[side].peer = peer

    def peer(self, side: str) -> Address | None:
        """The latched or configured peer of a side."""
        return self.sides[side].peer

    def _received(self, side_name: str, data: bytes, addr: Address) -> None:
        side = self.sides[side_name]
        other = self.sides["b" if side_name == "a" else "a"]
        if side.peer is None:
            side.peer = addr
        elif side.peer != addr:
            side.refused[f"{addr[0]}:{addr[1]}"] += 1
            return
        direction = f"{side_name}->{other.name}"
        if other.peer is None or other.transport is None:
            self.counts[f"{direction} dropped"] += 1
            return
        other.transport.sendto(data, other.peer)
        self.counts[f"{direction} {media_kind(data)}"] += 1

    def close(self) -> None:
        """Close both sockets."""
        for side in self.sides.values():
            if side.transport is not None:
                side.transport.close()

    def summary(self) -> dict[str, object]:
        """Addresses, peers, counts and refusals (JSON-ready)."""
        return {
            "addresses": {n: list(s.address) for n, s in self.sides.items()},
            "peers": {n: list(s.peer) if s.peer else None for n, s in self.sides.items()},
            "counts": dict(self.counts),
            "refused": {n: dict(s.refused) for n, s in self.sides.items()},
        }
