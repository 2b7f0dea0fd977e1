"""Which peers a TURN allocation may relay to: never an open relay.

A TURN server relays for anyone who holds credentials, to any address they name, from
the server's own address: left open, it reaches what its clients could not (services
on the server itself, its loopback, its private network). The default here refuses
loopback, link-local, multicast, unspecified and broadcast peers and the proxy's own
addresses. Its own addresses have one exception: another allocation's relayed address
(two clients of this server talking to each other, such as two browsers), checked per
datagram against the live allocations. An explicit allow list admits what the defaults
refuse (Janus on the proxy's own host); a deny list refuses more.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
IP = ipaddress.IPv4Address | ipaddress.IPv6Address

OWN_RELAYED = "own-relayed"
"""Verdict for a peer IP that is one of the proxy's relay addresses: allowed, but only
towards a live allocation's relayed address (the port is checked per datagram)."""


def normal_ip(text: str) -> IP | None:
    """An IP address, IPv4-mapped IPv6 taken as the IPv4 address it maps (no bypass)."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """The peer rules of ``[turn]``: ``allow_loopback_peers``, ``allowed_peers``,
    ``denied_peers``."""

    allow_loopback: bool = False
    allowed: tuple[Network, ...] = ()
    """Peers admitted even where the defaults refuse; when given, only these (and other
    allocations' relayed addresses) are relayed to."""
    denied: tuple[Network, ...] = ()

    def check(
        self, host: str, *, is_own: Callable[[str], bool], relay_ips: frozenset[str]
    ) -> str | None:
        """None: relay to ``host`` freely; :data:`OWN_RELAYED`: only to relayed addresses
        on it; else the reason it is refused (a sentence for the log)."""
        ip = normal_ip(host)
        if ip is None:
            return f"{host!r} is not an IP address"
        if any(ip in n for n in self.allowed):
            return None
        if any(ip in n for n in self.denied):
            return f"{ip} is in denied_peers"
        if ip.is_loopback and self.allow_loopback:
            return None
        if str(ip) in relay_ips:
            return OWN_RELAYED
        if self.allowed:
            return f"{ip} is not in allowed_peers"
        if ip.is_loopback:
            return (f"{ip} is a loopback address (refused by default; "
                    "--turn-allow-loopback for tests on one machine)")
        if ip.is_unspecified:
            return f"{ip} is the unspecified address"
        if ip.is_multicast:
            return f"{ip} is a multicast address"
        if ip.is_link_local:
            return f"{ip} is a link-local address"
        if isinstance(ip, ipaddress.IPv4Address) and (
            ip == ipaddress.IPv4Address("255.255.255.255") or ip in _THIS_NETWORK
        ):
            return f"{ip} is a broadcast or 'this network' address"
        if is_own(str(ip)):
            return (f"{ip} is one of the proxy's own addresses (to relay to a service on "
                    f"this host, such as Janus, allow it: --turn-allow-peer {ip})")
        return None


_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
