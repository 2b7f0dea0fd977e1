"""A TURN server (RFC 8656 over RFC 8489 STUN), sans-IO: bytes and time in, bytes out.

The asyncio glue (:mod:`proxy.relay.turn`) owns the sockets. It hands this server every
message a client sends (:meth:`TurnServer.from_client`) and every datagram a peer sends
to a relayed address (:meth:`TurnServer.from_peer`), and gets back what to send and
where. Relay sockets are opened and closed through the :class:`RelayPorts` it gives.
Log-worthy things (allocations, refusals) collect in :attr:`TurnServer.events`; the glue
publishes and clears them.

What it implements: long-term credentials always (401 with REALM and NONCE, then
MESSAGE-INTEGRITY or MESSAGE-INTEGRITY-SHA256, 438 stale nonce, 441 when a request on
an allocation comes from another user), plain Binding requests, Allocate (idempotent on
retransmission, 437 for another transaction on the same 5-tuple), Refresh (LIFETIME 0
deletes), CreatePermission (per peer IP, 300 s), ChannelBind (600 s; RFC 8656's
0x4000-0x4FFF and RFC 5766's wider 0x4000-0x7FFF), Send/Data indications and
ChannelData both ways (towards the client as ChannelData once a channel is bound, else
Data indications), expiry of everything, 420 for unknown comprehension-required
attributes, IPv4 and IPv6, clients over UDP or TCP (ChannelData padded on TCP).
EVEN-PORT (with the R bit: the next port is held for 30 s behind a RESERVATION-TOKEN, as
coturn's turnutils_uclient asks for its RTCP allocation). Not implemented: DONT-FRAGMENT
(answered 420), TCP allocations to peers (RFC 6062: 442), oAuth (RFC 7635).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from proxy.decode.dtls.reader import DecodeError
from proxy.events import Address, Event, Notice, TurnAllocation, format_address
from proxy.turn import stun
from proxy.turn.auth import Credentials, Nonces
from proxy.turn.policy import OWN_RELAYED, PeerPolicy, normal_ip

ClientKey = tuple[str, Address, Address]
"""How a client reaches the server: (``udp``/``tcp``, client address, server address)."""

KNOWN_ATTRIBUTES = frozenset({
    stun.MAPPED_ADDRESS, stun.USERNAME, stun.MESSAGE_INTEGRITY, stun.ERROR_CODE,
    stun.UNKNOWN_ATTRIBUTES, stun.CHANNEL_NUMBER, stun.LIFETIME, stun.XOR_PEER_ADDRESS,
    stun.DATA_ATTR, stun.REALM, stun.NONCE, stun.XOR_RELAYED_ADDRESS,
    stun.REQUESTED_ADDRESS_FAMILY, stun.REQUESTED_TRANSPORT, stun.MESSAGE_INTEGRITY_SHA256,
    stun.EVEN_PORT, stun.RESERVATION_TOKEN,
    stun.XOR_MAPPED_ADDRESS, 0x0024, 0x0025,  # PRIORITY, USE-CANDIDATE (ICE, harmless)
})  # fmt: skip
"""Comprehension-required attributes (type < 0x8000) understood here; any other -> 420."""

CHANNEL_MIN, CHANNEL_MAX = 0x4000, 0x7FFF
"""RFC 8656 narrowed channels to 0x4000-0x4FFF; RFC 5766 clients (coturn's
turnutils_uclient) still use up to 0x7FFF, so both are accepted."""

NOTICE_EVERY = 10.0
"""Seconds between two notices of the same kind about the same client or peer."""

RESERVATION_LIFETIME = 30.0
"""Seconds a port held by EVEN-PORT's R bit waits for its RESERVATION-TOKEN."""

STATS_EVERY = 2.0
"""Seconds between allocation updates while only its byte counts change."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What the ``[turn]`` table sets that the protocol logic needs."""

    credentials: Credentials = field(default_factory=Credentials)
    peers: PeerPolicy = field(default_factory=PeerPolicy)
    default_lifetime: int = 600
    max_lifetime: int = 3600
    permission_lifetime: int = 300
    channel_lifetime: int = 600
    nonce_lifetime: int = 600
    max_allocations: int = 100
    max_allocations_per_user: int = 10
    max_permissions: int = 64
    """Peer IPs with a permission, per allocation."""
    max_channels: int = 64
    """Channels bound, per allocation."""
    software: str = "dtlsproxy"


class RelayPorts(Protocol):
    """The glue's relay sockets: one per allocation."""

    def open(self, family: int, key: ClientKey, even: bool = False) -> Address | None:
        """Bind a relay socket (family 1 IPv4, 2 IPv6; an even port if asked); its
        address, or None if none is free."""
        ...

    def open_at(self, relayed: Address) -> bool:
        """Bind a relay socket on exactly ``relayed`` (a reservation); False if taken."""
        ...

    def close(self, relayed: Address) -> None:
        """Release the relay socket of ``relayed``."""
        ...

    def families(self) -> frozenset[int]:
        """Address families a relay socket can be opened in."""
        ...


@dataclass(slots=True)
class Permission:
    expires: float
    own: bool
    """The peer IP is one of the proxy's relay addresses: only live relayed addresses on
    it may be sent to (:data:`proxy.turn.policy.OWN_RELAYED`)."""


@dataclass(slots=True)
class Channel:
    number: int
    peer: Address
    expires: float
    ip: str
    """The peer's IP as permissions are keyed (IPv4-mapped addresses as IPv4)."""


@dataclass(slots=True)
class ToPeer:
    """Send ``payload`` from ``allocation``'s relayed address to ``peer``."""

    allocation: Allocation
    peer: Address
    payload: bytes
    via: str
    """``send`` (a Send indication) or ``channel 0x4000``."""


@dataclass(slots=True)
class Allocation:
    """One allocation: a relayed address held for one client 5-tuple."""

    id: str
    key: ClientKey
    username: str
    integrity_key: bytes
    relayed: Address
    created: float
    lifetime: int
    expires: float
    txid: bytes
    """The Allocate transaction that made it (a retransmission gets the same answer)."""
    response: bytes
    permissions: dict[str, Permission] = field(default_factory=dict)
    """Peer IP -> its permission."""
    channels: dict[int, Channel] = field(default_factory=dict)
    by_peer: dict[Address, Channel] = field(default_factory=dict)
    to_peer: list[int] = field(default_factory=lambda: [0, 0])
    from_peer: list[int] = field(default_factory=lambda: [0, 0])
    reported: tuple[int, int, int, int] = (0, 0, 0, 0)
    reported_at: float = 0.0
    closed: str = ""

    @property
    def transport(self) -> str:
        return self.key[0]

    @property
    def client(self) -> Address:
        return self.key[1]


def _addr_key(addr: Address) -> tuple[str, int]:
    ip = normal_ip(addr[0])
    return (str(ip) if ip is not None else addr[0], addr[1])


class TurnServer:
    """The protocol state of one TURN server: allocations, permissions, channels."""

    def __init__(
        self,
        settings: Settings,
        ports: RelayPorts,
        *,
        is_own: Callable[[str], bool] = lambda ip: False,
        listeners: tuple[Address, ...] = (),
        nonces: Nonces | None = None,
    ) -> None:
        self.settings = settings
        self.ports = ports
        self.is_own = is_own
        self.listeners = set(listeners)
        """The TURN ports themselves: never a peer."""
        self.nonces = nonces or Nonces(settings.nonce_lifetime)
        self.allocations: dict[ClientKey, Allocation] = {}
        self.by_relay: dict[Address, Allocation] = {}
        self.events: list[Event] = []
        """Allocation updates and notices since the glue last took them."""
        self._next = 1
        self._noticed: dict[tuple[str, object], float] = {}
        self.reservations: dict[bytes, tuple[Address, float]] = {}
        """RESERVATION-TOKEN -> (held relayed address, until when)."""

    # ------------------------------------------------------------ interface

    @property
    def relay_ips(self) -> frozenset[str]:
        return frozenset(a.relayed[0] for a in self.by_relay.values())

    def from_client(self, key: ClientKey, data: bytes, now: float) -> bytes | ToPeer | None:
        """A message from a client: the reply to send it, what to relay, or nothing."""
        if data and 0x40 <= data[0] <= 0x7F:
            return self._channel_data(key, data, now)
        try:
            msg = stun.parse(data)
        except DecodeError as exc:
            self._notice(
                "warning", "turn_malformed", key[1], now,
                f"TURN: {format_address(key[1])} sent something that is neither STUN nor "
                f"ChannelData ({exc.reason}); dropped",
            )
            return None
        if stun.check_fingerprint(msg) is False:
            return None  # RFC 8489 §7.3: not a STUN message after all
        if msg.cls == stun.INDICATION:
            if msg.method == stun.SEND:
                return self._send_indication(key, msg, now)
            return None
        if msg.cls != stun.REQUEST:
            return None
        if msg.method == stun.BINDING:
            return self._binding(key, msg)
        if msg.method not in (stun.ALLOCATE, stun.REFRESH, stun.CREATE_PERMISSION,
                              stun.CHANNEL_BIND):
            return self._error(key, msg, 400, None, f"method 0x{msg.method:03x} not served here")
        authed = self._authenticate(key, msg, now)
        if isinstance(authed, bytes):
            return authed
        username, ikey, algo = authed
        unknown = [t for t, _ in msg.attributes if t < 0x8000 and t not in KNOWN_ATTRIBUTES]
        if unknown:
            names = ", ".join(f"0x{t:04x}" for t in unknown)
            self._notice("warning", "turn_unknown_attribute", key[1], now,
                         f"TURN: {format_address(key[1])} asked for {names}, which this server "
                         "does not support (such as DONT-FRAGMENT): 420")
            value = b"".join(struct.pack("!H", t) for t in unknown)
            return self._error(key, msg, 420, (ikey, algo),
                               extra=[(stun.UNKNOWN_ATTRIBUTES, value)])
        if msg.method == stun.ALLOCATE:
            return self._allocate(key, msg, username, ikey, algo, now)
        alloc = self.allocations.get(key)
        if alloc is None:
            return self._error(key, msg, 437, (ikey, algo), "no allocation for this 5-tuple")
        if username != alloc.username:
            self._notice("warning", "turn_auth", key[1], now,
                         f"TURN {alloc.id}: request as {username!r} on {alloc.username!r}'s "
                         "allocation: 441 Wrong Credentials")
            return self._error(key, msg, 441, (ikey, algo))
        if msg.method == stun.REFRESH:
            return self._refresh(alloc, msg, ikey, algo, now)
        if msg.method == stun.CREATE_PERMISSION:
            return self._create_permission(alloc, msg, ikey, algo, now)
        return self._channel_bind(alloc, msg, ikey, algo, now)

    def from_peer(
        self, alloc: Allocation, peer: Address, payload: bytes, now: float
    ) -> tuple[bytes, str] | None:
        """A datagram from ``peer`` to ``alloc``'s relayed address: what to send the client
        (ChannelData if a channel is bound to the peer, else a Data indication) and how
        (``via``), or None when no permission lets it in (RFC 8656 §10.3: dropped)."""
        if alloc.closed:
            return None
        ip = peer[0]  # as the relay socket reports it: the form permissions are kept in
        perm = alloc.permissions.get(ip)
        if perm is None or perm.expires < now:
            self._notice(
                "info", "turn_no_permission", (alloc.id, ip), now,
                f"TURN {alloc.id}: datagram from {format_address(peer)} to "
                f"{format_address(alloc.relayed)} dropped: {alloc.username}'s client has no "
                "permission for that peer (yet): normal for an ICE check that arrives "
                "before the client's CreatePermission",
            )
            return None
        counts = alloc.from_peer
        counts[0] += 1
        counts[1] += len(payload)
        ch = alloc.by_peer.get(peer)
        tcp = alloc.key[0] == "tcp"
        if ch is not None and ch.expires >= now:
            return stun.channel_data(ch.number, payload, pad=tcp), _via(ch, tcp)
        txid = _txid(alloc, counts[0])
        data = stun.build(
            stun.DATA, stun.INDICATION, txid,
            [(stun.XOR_PEER_ADDRESS, stun.xor_address(peer, txid)), (stun.DATA_ATTR, payload)],
            fingerprint=False,
        )
        return data, "data/tcp" if tcp else "data"

    def connection_closed(self, key: ClientKey, now: float) -> None:
        """A TCP client went away: its allocation goes too (RFC 8656 §3.1)."""
        alloc = self.allocations.get(key)
        if alloc is not None:
            self._delete(alloc, now, "the client's TCP connection closed")

    def tick(self, now: float) -> None:
        """Expire allocations, permissions, channels and reservations; report byte counts."""
        for token, (addr, until) in list(self.reservations.items()):
            if until < now:
                del self.reservations[token]
                self.ports.close(addr)
        for alloc in list(self.allocations.values()):
            if alloc.expires < now:
                self._delete(alloc, now, f"expired: no Refresh within its {alloc.lifetime} s")
                continue
            changed = False
            for ip, perm in list(alloc.permissions.items()):
                if perm.expires < now:
                    del alloc.permissions[ip]
                    changed = True
            for number, ch in list(alloc.channels.items()):
                if ch.expires < now:
                    del alloc.channels[number]
                    alloc.by_peer.pop(ch.peer, None)
                    changed = True
            counts = (*alloc.to_peer, *alloc.from_peer)
            if changed or (counts != alloc.reported and now - alloc.reported_at >= STATS_EVERY):
                self._report(alloc, now)
        cutoff = now - NOTICE_EVERY
        if len(self._noticed) > 4096:
            self._noticed = {k: t for k, t in self._noticed.items() if t > cutoff}

    def close(self, now: float) -> None:
        """Delete every allocation (the relay is shutting down)."""
        for addr, _ in self.reservations.values():
            self.ports.close(addr)
        self.reservations.clear()
        for alloc in list(self.allocations.values()):
            self._delete(alloc, now, "dtlsproxy stopped")

    def take_events(self) -> list[Event]:
        """The events since the last call."""
        out, self.events = self.events, []
        return out

    # ------------------------------------------------------------- requests

    def _binding(self, key: ClientKey, msg: stun.Message) -> bytes:
        unknown = [t for t, _ in msg.attributes if t < 0x8000 and t not in KNOWN_ATTRIBUTES]
        if unknown:
            value = b"".join(struct.pack("!H", t) for t in unknown)
            return self._error(key, msg, 420, None, extra=[(stun.UNKNOWN_ATTRIBUTES, value)])
        return stun.build(stun.BINDING, stun.SUCCESS, msg.txid,
                          [(stun.XOR_MAPPED_ADDRESS, stun.xor_address(key[1], msg.txid)),
                           (stun.SOFTWARE, self.settings.software.encode())])

    def _authenticate(
        self, key: ClientKey, msg: stun.Message, now: float
    ) -> tuple[str, bytes, str] | bytes:
        """(username, key, algorithm) of a request that passes, else the error reply."""
        creds = self.settings.credentials
        where = f"{key[0]}:{format_address(key[1])}"
        if not (msg.has(stun.MESSAGE_INTEGRITY) or msg.has(stun.MESSAGE_INTEGRITY_SHA256)):
            return self._challenge(key, msg, 401, now)
        username, realm, nonce = (msg.text(a) for a in (stun.USERNAME, stun.REALM, stun.NONCE))
        if username is None or realm is None or nonce is None:
            return self._error(key, msg, 400, None, "USERNAME, REALM or NONCE missing")
        if not self.nonces.valid(nonce, where, now):
            return self._challenge(key, msg, 438, now)
        ikey, why = creds.key(username, now) if realm == creds.realm else (None, "")
        if ikey is None:
            why = why or f"realm {realm!r}, expected {creds.realm!r}"
            self._notice("warning", "turn_auth", (key[1], "user"), now,
                         f"TURN: {format_address(key[1])} refused: {why}: 401")
            return self._challenge(key, msg, 401, now)
        checked = stun.check_integrity(msg, ikey)
        if checked is None or not checked[1]:
            self._notice("warning", "turn_auth", (key[1], "password"), now,
                         f"TURN: {format_address(key[1])} refused: wrong password for "
                         f"{username!r} (MESSAGE-INTEGRITY does not verify): 401")
            return self._challenge(key, msg, 401, now)
        return username, ikey, checked[0]

    def _challenge(self, key: ClientKey, msg: stun.Message, code: int, now: float) -> bytes:
        nonce = self.nonces.make(f"{key[0]}:{format_address(key[1])}", now)
        extra = [(stun.REALM, self.settings.credentials.realm.encode()),
                 (stun.NONCE, nonce.encode())]
        return self._error(key, msg, code, None, extra=extra)

    def _allocate(
        self, key: ClientKey, msg: stun.Message, username: str, ikey: bytes, algo: str,
        now: float,
    ) -> bytes:
        auth = (ikey, algo)
        existing = self.allocations.get(key)
        if existing is not None:
            if existing.txid == msg.txid:
                return existing.response  # a retransmission: the same answer
            return self._error(key, msg, 437, auth, "this 5-tuple already has an allocation")
        transport = msg.get(stun.REQUESTED_TRANSPORT)
        if transport is None or len(transport) != 4:
            return self._error(key, msg, 400, auth, "REQUESTED-TRANSPORT missing")
        if transport[0] != 17:
            return self._error(key, msg, 442, auth, "only UDP relaying (17)")
        family = 1  # RFC 8656 §7.2: IPv4 unless REQUESTED-ADDRESS-FAMILY says otherwise
        requested = msg.get(stun.REQUESTED_ADDRESS_FAMILY)
        even = msg.get(stun.EVEN_PORT)
        token = msg.get(stun.RESERVATION_TOKEN)
        if token is not None and (even is not None or requested is not None):
            return self._error(key, msg, 400, auth,
                               "RESERVATION-TOKEN with EVEN-PORT or REQUESTED-ADDRESS-FAMILY")
        if requested is not None:
            if len(requested) != 4 or requested[0] not in (1, 2):
                return self._error(key, msg, 440, auth)
            family = requested[0]
        if family not in self.ports.families():
            return self._error(key, msg, 440, auth,
                               f"no relay address of family IPv{4 if family == 1 else 6}")
        s = self.settings
        mine = sum(1 for a in self.allocations.values() if a.username == username)
        if mine >= s.max_allocations_per_user or len(self.allocations) >= s.max_allocations:
            which = ("per user" if mine >= s.max_allocations_per_user else "in total")
            limit = s.max_allocations_per_user if mine >= s.max_allocations_per_user else \
                s.max_allocations
            self._notice("warning", "turn_quota", (key[1], "alloc"), now,
                         f"TURN: allocation for {username!r} at {format_address(key[1])} "
                         f"refused: quota of {limit} allocations {which} reached: 486")
            return self._error(key, msg, 486, auth)
        if token is not None:
            held = self.reservations.pop(token, None)
            if held is None or held[1] < now:
                return self._error(key, msg, 508, auth, "no such reservation")
            relayed: Address | None = held[0]
        else:
            relayed = self.ports.open(family, key, even=even is not None)
        if relayed is None:
            self._notice("error", "turn_capacity", (key[1], "ports"), now,
                         f"TURN: no relay port free for {format_address(key[1])}: 508")
            return self._error(key, msg, 508, auth)
        lifetime = self._lifetime(msg)
        alloc = Allocation(
            id=f"t{self._next}", key=key, username=username, integrity_key=ikey,
            relayed=relayed, created=now, lifetime=lifetime, expires=now + lifetime,
            txid=msg.txid, response=b"",
        )
        self._next += 1
        attrs = [
            (stun.XOR_RELAYED_ADDRESS, stun.xor_address(relayed, msg.txid)),
            (stun.LIFETIME, struct.pack("!I", lifetime)),
            (stun.XOR_MAPPED_ADDRESS, stun.xor_address(key[1], msg.txid)),
        ]
        if even is not None and even[:1] >= b"\x80":  # R bit: hold the next port
            nxt = (relayed[0], relayed[1] + 1)
            if relayed[1] < 65535 and self.ports.open_at(nxt):
                held_token = _txid(alloc, self._next)[4:]
                self.reservations[held_token] = (nxt, now + RESERVATION_LIFETIME)
                attrs.append((stun.RESERVATION_TOKEN, held_token))
        alloc.response = self._success(key, msg, auth, attrs)
        self.allocations[key] = alloc
        self.by_relay[relayed] = alloc
        self._report(alloc, now)
        return alloc.response

    def _lifetime(self, msg: stun.Message) -> int:
        s = self.settings
        asked = msg.uint32(stun.LIFETIME)
        if asked is None:
            return s.default_lifetime
        return max(min(asked, s.max_lifetime), s.default_lifetime)

    def _refresh(
        self, alloc: Allocation, msg: stun.Message, ikey: bytes, algo: str, now: float
    ) -> bytes:
        auth = (ikey, algo)
        fam = msg.get(stun.REQUESTED_ADDRESS_FAMILY)
        if fam is not None and fam[:1] != (b"\x02" if ":" in alloc.relayed[0] else b"\x01"):
            return self._error(alloc.key, msg, 443, auth)
        if msg.uint32(stun.LIFETIME) == 0:
            self._delete(alloc, now, "the client sent Refresh with LIFETIME 0")
            return self._success(alloc.key, msg, auth, [(stun.LIFETIME, b"\0\0\0\0")])
        alloc.lifetime = self._lifetime(msg)
        alloc.expires = now + alloc.lifetime
        self._report(alloc, now)
        return self._success(alloc.key, msg, auth,
                             [(stun.LIFETIME, struct.pack("!I", alloc.lifetime))])

    def _peers(
        self, alloc: Allocation, msg: stun.Message, auth: tuple[bytes, str], now: float,
        *, exact: bool = False,
    ) -> list[tuple[Address, bool]] | bytes:
        """The XOR-PEER-ADDRESSes of a request, each with its own-relayed flag, or the
        error reply (400 missing, 443 family, 403 refused by the peer rules). ``exact``
        (ChannelBind names a port): a peer on a relay IP must be a live relayed address
        now, not only when a datagram is sent."""
        values = msg.all(stun.XOR_PEER_ADDRESS)
        if not values:
            return self._error(alloc.key, msg, 400, auth, "XOR-PEER-ADDRESS missing")
        out = []
        v6 = ":" in alloc.relayed[0]
        for value in values:
            try:
                peer = stun.parse_xor_address(value, msg.txid)
            except DecodeError as exc:
                return self._error(alloc.key, msg, 400, auth, f"XOR-PEER-ADDRESS: {exc.reason}")
            if (":" in peer[0]) != v6:
                return self._error(alloc.key, msg, 443, auth)
            verdict = self._check_peer(peer)
            if verdict == OWN_RELAYED and exact and peer not in self.by_relay:
                verdict = self._not_relayed(peer)
            if verdict is not None and verdict != OWN_RELAYED:
                self._notice("warning", "turn_peer_refused", (alloc.id, peer[0]), now,
                             f"TURN {alloc.id}: {alloc.username} asked to reach "
                             f"{format_address(peer)}: refused (403): {verdict}")
                return self._error(alloc.key, msg, 403, auth, "peer address not allowed")
            out.append((peer, verdict == OWN_RELAYED))
        return out

    def _not_relayed(self, peer: Address) -> str:
        """Why a peer on a relay IP that is no relayed address is refused."""
        why = self.settings.peers.check(peer[0], is_own=self.is_own, relay_ips=frozenset())
        return (f"{format_address(peer)} is on the proxy's relay address but is no "
                f"allocation's relayed address" + (f"; {why}" if why else ""))

    def _check_peer(self, peer: Address) -> str | None:
        if peer in self.listeners or (_wild(peer) & self.listeners and self.is_own(peer[0])):
            return f"{format_address(peer)} is this TURN server's own port"
        return self.settings.peers.check(peer[0], is_own=self.is_own, relay_ips=self.relay_ips)

    def _create_permission(
        self, alloc: Allocation, msg: stun.Message, ikey: bytes, algo: str, now: float
    ) -> bytes:
        auth = (ikey, algo)
        peers = self._peers(alloc, msg, auth, now)
        if isinstance(peers, bytes):
            return peers
        new = {_addr_key(p)[0] for p, _ in peers} - set(alloc.permissions)
        if len(alloc.permissions) + len(new) > self.settings.max_permissions:
            self._notice("warning", "turn_quota", (alloc.id, "perm"), now,
                         f"TURN {alloc.id}: more than {self.settings.max_permissions} "
                         "permissions refused: 508")
            return self._error(alloc.key, msg, 508, auth, "too many permissions")
        for peer, own in peers:
            self._permit(alloc, peer, own, now)
        self._report(alloc, now)
        return self._success(alloc.key, msg, auth, [])

    def _permit(self, alloc: Allocation, peer: Address, own: bool, now: float) -> None:
        ip = _addr_key(peer)[0]
        alloc.permissions[ip] = Permission(now + self.settings.permission_lifetime, own)

    def _channel_bind(
        self, alloc: Allocation, msg: stun.Message, ikey: bytes, algo: str, now: float
    ) -> bytes:
        auth = (ikey, algo)
        number_value = msg.get(stun.CHANNEL_NUMBER)
        if number_value is None or len(number_value) != 4:
            return self._error(alloc.key, msg, 400, auth, "CHANNEL-NUMBER missing")
        number = int.from_bytes(number_value[:2], "big")
        if not CHANNEL_MIN <= number <= CHANNEL_MAX:
            return self._error(alloc.key, msg, 400, auth, f"channel 0x{number:04x} out of range")
        peers = self._peers(alloc, msg, auth, now, exact=True)
        if isinstance(peers, bytes):
            return peers
        if len(peers) != 1:
            return self._error(alloc.key, msg, 400, auth, "one XOR-PEER-ADDRESS per ChannelBind")
        peer, own = peers[0]
        ch = alloc.channels.get(number)
        if ch is not None and ch.peer != peer:
            return self._error(alloc.key, msg, 400, auth,
                               f"channel 0x{number:04x} is bound to {format_address(ch.peer)}")
        other = alloc.by_peer.get(peer)
        if other is not None and other.number != number:
            return self._error(alloc.key, msg, 400, auth,
                               f"peer already bound to channel 0x{other.number:04x}")
        if ch is None and len(alloc.channels) >= self.settings.max_channels:
            self._notice("warning", "turn_quota", (alloc.id, "chan"), now,
                         f"TURN {alloc.id}: more than {self.settings.max_channels} channels "
                         "refused: 508")
            return self._error(alloc.key, msg, 508, auth, "too many channels")
        if ch is None:
            ch = Channel(number, peer, 0.0, _addr_key(peer)[0])
            alloc.channels[number] = ch
            alloc.by_peer[peer] = ch
        ch.expires = now + self.settings.channel_lifetime
        if _addr_key(peer)[0] not in alloc.permissions and \
                len(alloc.permissions) >= self.settings.max_permissions:
            return self._error(alloc.key, msg, 508, auth, "too many permissions")
        self._permit(alloc, peer, own, now)
        self._report(alloc, now)
        return self._success(alloc.key, msg, auth, [])

    # ------------------------------------------------------------- relaying

    def _allowed(self, alloc: Allocation, ip: str, peer: Address, now: float) -> bool:
        perm = alloc.permissions.get(ip)
        if perm is None or perm.expires < now:
            return False
        if perm.own and peer not in self.by_relay:
            self._notice("warning", "turn_peer_refused", (alloc.id, peer), now,
                         f"TURN {alloc.id}: datagram to {format_address(peer)} dropped: "
                         f"{self._not_relayed(peer)}")
            return False
        return True

    def _send_indication(self, key: ClientKey, msg: stun.Message, now: float) -> ToPeer | None:
        alloc = self.allocations.get(key)
        if alloc is None:
            return None
        value, payload = msg.get(stun.XOR_PEER_ADDRESS), msg.get(stun.DATA_ATTR)
        if value is None or payload is None:
            return None
        if any(t < 0x8000 and t not in KNOWN_ATTRIBUTES and t != stun.DONT_FRAGMENT
               for t, _ in msg.attributes):
            return None
        try:
            peer = stun.parse_xor_address(value, msg.txid)
        except DecodeError:
            return None
        if not self._allowed(alloc, _addr_key(peer)[0], peer, now):
            self._notice("info", "turn_no_permission", (alloc.id, "send", peer[0]), now,
                         f"TURN {alloc.id}: Send indication to {format_address(peer)} "
                         "dropped: no permission for that peer")
            return None
        alloc.to_peer[0] += 1
        alloc.to_peer[1] += len(payload)
        return ToPeer(alloc, peer, payload, "send/tcp" if key[0] == "tcp" else "send")

    def _channel_data(self, key: ClientKey, data: bytes, now: float) -> ToPeer | None:
        alloc = self.allocations.get(key)
        if alloc is None:
            return None
        parsed = stun.parse_channel_data(data)
        if parsed is None:
            return None
        ch = alloc.channels.get(parsed[0])
        if ch is None or ch.expires < now or not self._allowed(alloc, ch.ip, ch.peer, now):
            return None
        payload = parsed[1]
        alloc.to_peer[0] += 1
        alloc.to_peer[1] += len(payload)
        return ToPeer(alloc, ch.peer, payload, _via(ch, key[0] == "tcp"))

    # ------------------------------------------------------------ answering

    def _success(
        self, key: ClientKey, msg: stun.Message, auth: tuple[bytes, str],
        attrs: list[tuple[int, bytes]],
    ) -> bytes:
        attrs = [*attrs, (stun.SOFTWARE, self.settings.software.encode())]
        return stun.build(msg.method, stun.SUCCESS, msg.txid, attrs,
                          key=auth[0], integrity=auth[1])

    def _error(
        self, key: ClientKey, msg: stun.Message, code: int, auth: tuple[bytes, str] | None,
        reason: str | None = None, *, extra: list[tuple[int, bytes]] | None = None,
    ) -> bytes:
        phrase = stun.REASONS.get(code, "")
        text = f"{phrase}: {reason}" if reason else phrase
        attrs = [(stun.ERROR_CODE, stun.error_value(code, text)), *(extra or []),
                 (stun.SOFTWARE, self.settings.software.encode())]
        return stun.build(msg.method, stun.ERROR, msg.txid, attrs,
                          key=None if auth is None else auth[0],
                          integrity="sha1" if auth is None else auth[1])

    # ---------------------------------------------------------- bookkeeping

    def _delete(self, alloc: Allocation, now: float, reason: str) -> None:
        if alloc.closed:
            return
        alloc.closed = reason
        self.allocations.pop(alloc.key, None)
        self.by_relay.pop(alloc.relayed, None)
        self.ports.close(alloc.relayed)
        self._report(alloc, now)

    def _report(self, alloc: Allocation, now: float) -> None:
        alloc.reported = (*alloc.to_peer, *alloc.from_peer)  # type: ignore[assignment]
        alloc.reported_at = now
        self.events.append(TurnAllocation(
            ts=now, session="", allocation=alloc.id,
            state="closed" if alloc.closed else "active",
            client=format_address(alloc.client), transport=alloc.transport,
            username=alloc.username, relayed=format_address(alloc.relayed),
            lifetime=alloc.lifetime, expires=alloc.expires,
            permissions={ip: p.expires for ip, p in alloc.permissions.items()},
            channels={f"0x{n:04x}": format_address(c.peer) for n, c in alloc.channels.items()},
            to_peer=(alloc.to_peer[0], alloc.to_peer[1]),
            from_peer=(alloc.from_peer[0], alloc.from_peer[1]),
            reason=alloc.closed,
        ))

    def _notice(self, level: str, code: str, about: object, now: float, message: str) -> None:
        """A notice, at most one per ``NOTICE_EVERY`` seconds for the same thing."""
        k = (code, about)
        last = self._noticed.get(k)
        if last is not None and now - last < NOTICE_EVERY:
            return
        self._noticed[k] = now
        self.events.append(Notice(ts=now, session="", level=level, code=code, message=message))


def _via(ch: Channel, tcp: bool) -> str:
    return f"channel 0x{ch.number:04x}/tcp" if tcp else f"channel 0x{ch.number:04x}"


def _txid(alloc: Allocation, n: int) -> bytes:
    """A transaction id for a Data indication (unique per allocation and datagram)."""
    return alloc.relayed[1].to_bytes(2, "big") + n.to_bytes(10, "big")


def _wild(peer: Address) -> set[Address]:
    return {("0.0.0.0", peer[1]), ("::", peer[1])}
