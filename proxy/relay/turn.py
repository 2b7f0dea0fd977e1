"""TURN mode: dtlsproxy as the browser's TURN server (the sockets around proxy.turn).

The browser is given ``turn:PROXY:3478`` with ``iceTransportPolicy: 'relay'``: its
whole conversation with the other peer (ICE checks, DTLS, SRTP) then goes
client -> TURN port -> relay socket -> peer and back. The protocol state
(allocations, permissions, channels, credentials) is the sans-IO
:class:`proxy.turn.server.TurnServer`; this module owns the sockets: UDP and TCP
listeners on the TURN port, and one UDP relay socket per allocation, bound
synchronously on ``relay_ip`` within ``relay_ports`` (so the Allocate answer names it at
once) and then wrapped by asyncio-dgram.

Forward first, as in two-sided mode: the relayed payload is sent before anything else;
the :class:`~proxy.relay.recorder.Recorder` then gets the INNER datagram (client <->
peer, with how it travelled: ``send``/``data`` indication or ``channel 0x4000``), so the
Tracker, the verdicts, the log, the TUI and ``--headless`` see the DTLS conversation as
in two-sided mode, and the pcapng gets both legs as they were on the wire (client <->
TURN port, relayed address <-> peer). Fault rules apply to the inner DTLS.

A conversation is decoded under stable addresses: a TURN client is named by its
username and, within one conversation, by the client address it first used. A browser
often holds several allocations (one per local address it gathered on) and ICE may
move the DTLS from one to another mid-handshake; the session carries on, and each
datagram's ``via`` names the allocation that carried it (``t2 channel 0x4000``). Two
clients of this server talking to each other (two browsers) are one conversation: the
hop from one allocation to the other's relayed address is only tapped, and the arrival
is decoded as client -> client.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import random
import socket
import time
from collections.abc import Callable
from time import time as _now
from typing import Any

import asyncio_dgram

from proxy.decode.dtls.reader import DecodeError
from proxy.decode.keylog import KeyLog
from proxy.events import Address, TurnAllocation, format_address
from proxy.export.pcapng import Leg
from proxy.relay.config import TurnConfig
from proxy.relay.faults import FaultEngine, FaultRule
from proxy.relay.recorder import Recorder
from proxy.relay.sockets import Endpoint, RelayError, _explain_bind, set_buffers
from proxy.turn import stun
from proxy.turn.server import Allocation, ClientKey, ToPeer, TurnServer

TCP_WRITE_LIMIT = 1 << 20
"""Bytes queued towards a TCP client beyond which further datagrams are dropped (as UDP
would lose them) rather than buffered without bound."""

MAX_TCP_CONNECTIONS = 1024
MAX_CONVERSATIONS = 10_000
"""Conversations whose decoding addresses are remembered (the oldest are forgotten)."""
BIND_ATTEMPTS = 64
"""Random ports tried in ``relay_ports`` before an Allocate gets 508."""

Send = Callable[[bytes], None]
Party = tuple[object, ...]
"""Who talks in a relayed conversation: ``("turn", username[, client])`` or
``("peer", address)``."""


def _trim(addr: Any) -> Address:
    return (str(addr[0]), int(addr[1]))


class _ListenerProtocol(asyncio.DatagramProtocol):
    """The TURN port over UDP: every client message goes to the server."""

    def __init__(self, relay: TurnRelay, local: Address, endpoint: Endpoint) -> None:
        self.relay = relay
        self.local = local
        self.endpoint = endpoint
        """Kept: asyncio-dgram closes the transport when its stream is collected."""
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:  # the hot path
        client = (addr[0], addr[1])
        self.relay.from_client(("udp", client, self.local), data)

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP from a client that went away: its allocation expires


class _TcpClient(asyncio.Protocol):
    """One TURN client over TCP: STUN and (padded) ChannelData framed on the stream."""

    def __init__(self, relay: TurnRelay) -> None:
        self.relay = relay
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.key: ClientKey | None = None
        self.dropped = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = _trim(transport.get_extra_info("peername"))
        local = _trim(transport.get_extra_info("sockname"))
        self.key = ("tcp", peer, local)
        if len(self.relay.tcp) >= MAX_TCP_CONNECTIONS:
            self.relay.notice("warning", "turn_refused",
                              f"TURN: TCP connection from {format_address(peer)} refused: "
                              f"{MAX_TCP_CONNECTIONS} connections open")
            transport.close()
            return
        self.relay.tcp[self.key] = self

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        key = self.key
        assert key is not None
        while True:
            try:
                n = stun.stream_frame_length(buf)
            except DecodeError as exc:
                self.relay.notice("warning", "turn_malformed",
                                  f"TURN: {format_address(key[1])} over TCP: {exc.reason}; "
                                  "connection closed")
                if self.transport is not None:
                    self.transport.close()
                return
            if n is None or len(buf) < n:
                return
            msg = bytes(buf[:n])
            del buf[:n]
            self.relay.from_client(key, msg)

    def write(self, data: bytes) -> None:
        t = self.transport
        if t is None or t.is_closing():
            return
        if t.get_write_buffer_size() > TCP_WRITE_LIMIT:
            self.dropped += 1
            return
        t.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.key is not None and self.relay.tcp.get(self.key) is self:
            del self.relay.tcp[self.key]
            self.relay.tcp_closed(self.key)


class _RelayProtocol(asyncio.DatagramProtocol):
    """A relay socket: datagrams from peers to one allocation's relayed address."""

    def __init__(self, relay: TurnRelay, relayed: Address) -> None:
        self.relay = relay
        self.relayed = relayed

    def datagram_received(self, data: bytes, addr: Any) -> None:  # the hot path
        self.relay.from_peer(self.relayed, (addr[0], addr[1]), data)

    def error_received(self, exc: Exception) -> None:
        if isinstance(exc, ConnectionRefusedError):
            self.relay.notice("warning", "icmp_unreachable",
                              f"TURN: ICMP port unreachable on relayed address "
                              f"{format_address(self.relayed)}: a peer is not listening")


class _RelaySocket:
    """One allocation's relay socket: bound at once, wrapped by asyncio-dgram soon after."""

    def __init__(self, sock: socket.socket, addr: Address) -> None:
        self.sock = sock
        self.addr = addr
        self.endpoint: Endpoint | None = None
        self.task: asyncio.Task[None] | None = None
        self.closed = False

    def send(self, data: bytes, peer: Address) -> None:
        if self.endpoint is not None:
            if data:
                self.endpoint.transport.sendto(data, peer)
            else:  # a zero-length datagram to the peer: the transports would drop it
                self.endpoint.send_empty(peer)
            return
        with contextlib.suppress(OSError):  # not wrapped yet: a full buffer loses it, as UDP
            self.sock.sendto(data, peer)

    def close(self) -> None:
        self.closed = True
        if self.task is not None:
            self.task.cancel()
        if self.endpoint is not None:
            self.endpoint.close()
        else:
            self.sock.close()


class TurnRelay:
    """The TURN server's sockets, feeding :class:`TurnServer` and the recorder."""

    def __init__(
        self,
        cfg: TurnConfig,
        recorder: Recorder,
        *,
        rcvbuf: int,
        rules: tuple[FaultRule, ...] = (),
        fault_seed: int = 0,
    ) -> None:
        self.cfg = cfg
        self.recorder = recorder
        self.rcvbuf = rcvbuf
        self.rules = rules
        self.fault_seed = fault_seed
        self.fault_secrets: KeyLog | None = None
        """Key logs the fault rules decrypt with (encrypted messages altered inside)."""
        self.server = TurnServer(cfg.settings, self._ports(), is_own=self._is_own)
        self.udp: dict[Address, _ListenerProtocol] = {}
        self.tcp: dict[ClientKey, _TcpClient] = {}
        self.tcp_servers: list[asyncio.Server] = []
        self.relays: dict[Address, _RelaySocket] = {}
        self.addresses: list[tuple[str, Address]] = []
        """(transport, bound address) of every TURN port, as bound (port 0 resolved)."""
        self._own: dict[str, bool] = {}
        self._engines: dict[frozenset[Address], FaultEngine] = {}
        self._conv: dict[tuple[Party, Party], Address] = {}
        self._labelled: set[Address] = set()
        self.closed = False

    # --------------------------------------------------------------- startup

    async def start(self) -> None:
        """Bind the TURN port(s); raises RelayError with a user-facing message."""
        loop = asyncio.get_running_loop()
        try:
            for addr in self.cfg.listen:
                fam = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
                port = addr[1]
                if "udp" in self.cfg.transports:
                    sock = socket.socket(fam, socket.SOCK_DGRAM)
                    try:
                        set_buffers(sock, self.rcvbuf)
                        sock.bind(addr)
                    except OSError as exc:
                        sock.close()
                        raise _explain_bind(addr, exc, "TURN port (UDP)") from None
                    sock.setblocking(False)
                    port = sock.getsockname()[1]
                    stream = await asyncio_dgram.from_socket(sock)
                    ep = Endpoint(stream, sock)
                    local = ep.sockname
                    proto = _ListenerProtocol(self, local, ep)
                    ep.attach(proto)
                    self.udp[local] = proto
                    self.addresses.append(("udp", local))
                if "tcp" in self.cfg.transports:
                    tsock = socket.socket(fam, socket.SOCK_STREAM)
                    try:
                        tsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        tsock.bind((addr[0], port))
                    except OSError as exc:
                        tsock.close()
                        raise _explain_bind((addr[0], port), exc, "TURN port (TCP)") from None
                    tsock.setblocking(False)
                    srv = await loop.create_server(lambda: _TcpClient(self), sock=tsock,
                                                   backlog=128)
                    self.tcp_servers.append(srv)
                    self.addresses.append(("tcp", _trim(tsock.getsockname())))
        except BaseException:
            self.close()
            raise
        self.server.listeners = {a for _, a in self.addresses}
        c = self.cfg
        creds = c.settings.credentials
        who = f"{len(creds.users)} user(s)" + (", TURN REST API secret" if creds.secret else "")
        peers = c.settings.peers
        rules = "loopback " + ("allowed" if peers.allow_loopback else "refused")
        if peers.allowed:
            rules += ", only " + ", ".join(str(n) for n in peers.allowed)
        ports = ", ".join(f"{t} {format_address(a)}" for t, a in self.addresses)
        self.notice(
            "info", "listening",
            f"TURN on {ports} (realm {creds.realm!r}, {who}); relayed addresses on "
            f"{', '.join(c.relay_ips)} ports {c.relay_ports[0]}-{c.relay_ports[1]} (open "
            f"them with the TURN port in the firewall); peers: {rules}, link-local, "
            "multicast and this host's own addresses refused",
        )

    # -------------------------------------------------------- relay ports

    def _ports(self) -> _Ports:
        return _Ports(self)

    def _is_own(self, ip: str) -> bool:
        """Whether ``ip`` is an address of this machine (it can be bound), cached."""
        known = self._own.get(ip)
        if known is None:
            fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
            with socket.socket(fam, socket.SOCK_DGRAM) as probe:
                try:
                    probe.bind((ip, 0))
                    known = True
                except OSError:
                    known = False
            if len(self._own) < 4096:
                self._own[ip] = known
        return known

    # ------------------------------------------------------------- traffic

    def _send_to_client(self, key: ClientKey) -> Send | None:
        if key[0] == "udp":
            proto = self.udp.get(key[2])
            t = proto.transport if proto is not None else None
            if t is None:
                return None
            client = key[1]
            return lambda data: t.sendto(data, client)
        conn = self.tcp.get(key)
        return None if conn is None else conn.write

    def from_client(self, key: ClientKey, data: bytes) -> None:
        """A message from a TURN client (UDP datagram or framed from TCP)."""
        now = _now()
        server = self.server
        out = server.from_client(key, data, now)
        if isinstance(out, ToPeer):
            self._to_peer(key, data, out, now)
        else:
            legs: list[Leg] = [(key[1], key[2], data)] if key[0] == "udp" else []
            if out is not None:
                send = self._send_to_client(key)
                if send is not None:
                    send(out)
                    if key[0] == "udp":
                        legs.append((key[2], key[1], out))
            if legs and self.recorder.active:
                self.recorder.record(now, key[1], key[2], data, "turn", key[2], None,
                                     legs=legs, decode=False)
        if server.events:
            self._publish()

    def _to_peer(self, key: ClientKey, data: bytes, out: ToPeer, now: float) -> None:
        alloc = out.allocation
        rs = self.relays.get(alloc.relayed)
        if rs is None or rs.closed:
            return
        peer = out.peer
        internal = peer in self.server.by_relay
        client_leg: list[Leg] = [(key[1], key[2], data)] if key[0] == "udp" else []
        rec = self.recorder
        via = f"{alloc.id} {out.via}"
        if not self.rules or internal:  # forward first
            rs.send(out.payload, peer)
            if rec.active:
                src = key[1] if internal else self._as(("turn", alloc.username), ("peer", peer),
                                                       key[1])
                rec.record(now, src, peer, out.payload, alloc.username, key[2],
                           alloc.relayed, legs=[*client_leg, (alloc.relayed, peer, out.payload)],
                           via=via, decode=not internal)
            return
        frame = rec.next_frame()
        src = self._as(("turn", alloc.username), ("peer", peer), key[1])
        engine = self._engine(src, peer)
        emissions, events = engine.apply(
            out.payload, format_address(src), label="a", frame=frame, ts=now,
            dir=f"{alloc.username}->{format_address(peer)}",
        )
        loop = asyncio.get_running_loop()
        for e in emissions:
            if e.delay > 0:
                loop.call_later(e.delay, rs.send, e.data, peer)
            else:
                rs.send(e.data, peer)
        seen = emissions[0].data if emissions else out.payload
        legs = [*client_leg, *((alloc.relayed, peer, e.data) for e in emissions)]
        each = [e.data for e in emissions] if engine.reshapes or engine.lost else None
        rec.record(now, src, peer, seen, alloc.username, key[2], alloc.relayed,
                   frame=frame, extra=list(events), legs=legs, via=via, decode_each=each,
                   lost=engine.lost)

    def from_peer(self, relayed: Address, peer: Address, data: bytes) -> None:
        """A datagram from a peer to a relayed address."""
        now = _now()
        server = self.server
        alloc = server.by_relay.get(relayed)
        if alloc is None:
            return
        sender = server.by_relay.get(peer)  # another allocation of this server
        src, dst = self._decoded_as(alloc, peer, sender)
        rec = self.recorder
        peer_leg: list[Leg] = [] if sender is not None else [(peer, relayed, data)]
        key = alloc.key
        if self.rules:
            self._from_peer_faults(alloc, peer, src, dst, data, peer_leg, now)
        else:
            res = server.from_peer(alloc, peer, data, now)
            if res is None:
                if peer_leg and rec.active:
                    rec.record(now, peer, relayed, data, "peer", relayed, None,
                               legs=peer_leg, decode=False)
            else:
                send = self._send_to_client(key)
                if send is not None:
                    send(res[0])  # forward first
                if rec.active:
                    legs = [*peer_leg, (key[2], key[1], res[0])] if key[0] == "udp" else peer_leg
                    rec.record(now, src, dst, data, "peer", relayed, key[2], legs=legs,
                               via=f"{alloc.id} {res[1]}")
        if server.events:
            self._publish()

    def _as(self, me: Party, other: Party, actual: Address) -> Address:
        """The address ``me`` is decoded under in its conversation with ``other``: the
        first one it used there (its later allocations carry on the same session)."""
        k = (me, other)
        addr = self._conv.get(k)
        if addr is None:
            if len(self._conv) >= MAX_CONVERSATIONS:
                del self._conv[next(iter(self._conv))]
            addr = self._conv[k] = actual
        return addr

    def _decoded_as(
        self, alloc: Allocation, peer: Address, sender: Allocation | None
    ) -> tuple[Address, Address]:
        """(src, dst) a datagram from ``peer`` to ``alloc`` is decoded as: the peer, or for
        another client of this server that client; and this allocation's client."""
        me: Party = ("turn", alloc.username)
        if sender is None:
            return peer, self._as(me, ("peer", peer), alloc.client)
        other: Party = ("turn", sender.username)
        if sender.username == alloc.username:  # the username does not tell them apart
            me, other = (*me, alloc.client), (*other, sender.client)
        return self._as(other, me, sender.client), self._as(me, other, alloc.client)

    def _from_peer_faults(
        self, alloc: Allocation, peer: Address, src: Address, dst: Address, data: bytes,
        peer_leg: list[Leg], now: float,
    ) -> None:
        key = alloc.key
        rec = self.recorder
        frame = rec.next_frame()
        engine = self._engine(src, dst)
        emissions, events = engine.apply(
            data, format_address(src), label="b", frame=frame, ts=now,
            dir=f"{format_address(src)}->{alloc.username}",
        )
        send = self._send_to_client(key)
        loop = asyncio.get_running_loop()
        legs = list(peer_leg)
        via = ""
        for e in emissions:
            res = self.server.from_peer(alloc, peer, e.data, now)
            if res is None:
                continue
            via = f"{alloc.id} {res[1]}"
            if send is not None:
                if e.delay > 0:
                    loop.call_later(e.delay, send, res[0])
                else:
                    send(res[0])
            if key[0] == "udp":
                legs.append((key[2], key[1], res[0]))
        seen = emissions[0].data if emissions else data
        each = [e.data for e in emissions] if engine.reshapes or engine.lost else None
        rec.record(now, src, dst, seen, "peer", alloc.relayed, key[2], frame=frame,
                   extra=list(events), legs=legs, via=via, decode=bool(via) or not emissions,
                   decode_each=each, lost=engine.lost)

    def _engine(self, a: Address, b: Address) -> FaultEngine:
        pair = frozenset((a, b))
        engine = self._engines.get(pair)
        if engine is None:
            engine = FaultEngine(self.rules, self.fault_seed + len(self._engines),
                                 self.fault_secrets)
            self._engines[pair] = engine
        return engine

    def tcp_closed(self, key: ClientKey) -> None:
        self.server.connection_closed(key, _now())
        self._publish()

    # ------------------------------------------------------------ reporting

    def _publish(self) -> None:
        events = self.server.take_events()
        for ev in events:
            if isinstance(ev, TurnAllocation) and ev.state == "active":
                alloc = next((a for a in self.server.allocations.values()
                              if a.id == ev.allocation), None)
                if alloc is not None and alloc.client not in self._labelled:
                    self._labelled.add(alloc.client)
                    self.recorder.set_label(alloc.client, alloc.username)
        self.recorder.publish(list(events))

    def notice(self, level: str, code: str, message: str) -> None:
        self.recorder.notice(level, code, message)

    def tick(self, now: float) -> None:
        self.server.tick(now)
        if self.server.events:
            self._publish()

    def close(self) -> None:
        """Delete every allocation (closed events) and release every socket."""
        if self.closed:
            return
        self.closed = True
        self.server.close(time.time())
        if self.server.events:
            self._publish()
        for proto in self.udp.values():
            if proto.transport is not None:
                proto.transport.close()
        for conn in list(self.tcp.values()):
            if conn.transport is not None:
                conn.transport.close()
        for srv in self.tcp_servers:
            srv.close()
        for rs in list(self.relays.values()):
            rs.close()
        self.relays.clear()


class _Ports:
    """:class:`proxy.turn.server.RelayPorts` over real sockets in ``relay_ports``."""

    def __init__(self, relay: TurnRelay) -> None:
        self.relay = relay
        self.rng = random.Random()

    def families(self) -> frozenset[int]:
        return frozenset(2 if ":" in ip else 1 for ip in self.relay.cfg.relay_ips)

    def open(self, family: int, key: ClientKey, even: bool = False) -> Address | None:
        relay = self.relay
        ip = next((i for i in relay.cfg.relay_ips if (":" in i) == (family == 2)), None)
        if ip is None or relay.closed:
            return None
        lo, hi = relay.cfg.relay_ports
        for _ in range(BIND_ATTEMPTS):
            port = self.rng.randint(lo, hi)
            if even and port % 2:
                port = port - 1 if port > lo else port + 1
            addr = self._bind((ip, port))
            if addr is not None:
                return addr
        return None

    def open_at(self, relayed: Address) -> bool:
        return not self.relay.closed and self._bind(relayed) is not None

    def _bind(self, want: Address) -> Address | None:
        relay = self.relay
        fam = socket.AF_INET6 if ":" in want[0] else socket.AF_INET
        sock = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            set_buffers(sock, relay.rcvbuf)
            sock.bind(want)
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE:
                relay.notice("error", "turn_capacity",
                             f"TURN: cannot bind a relay socket on {want[0]}: {exc.strerror}")
            return None
        sock.setblocking(False)
        addr = _trim(sock.getsockname())
        rs = _RelaySocket(sock, addr)
        relay.relays[addr] = rs
        rs.task = asyncio.get_running_loop().create_task(self._wrap(rs))
        return addr

    async def _wrap(self, rs: _RelaySocket) -> None:
        stream = await asyncio_dgram.from_socket(rs.sock)
        ep = Endpoint(stream, rs.sock)
        if rs.closed:
            ep.close()
            return
        rs.endpoint = ep
        rs.task = None
        ep.attach(_RelayProtocol(self.relay, rs.addr))

    def close(self, relayed: Address) -> None:
        rs = self.relay.relays.pop(relayed, None)
        if rs is not None:
            rs.close()


def check_turn(cfg: TurnConfig) -> None:
    """Fail early (RelayError) on a relay IP this machine does not have."""
    for ip in cfg.relay_ips:
        fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
        with socket.socket(fam, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((ip, 0))
            except OSError as exc:
                raise RelayError(
                    f"--relay-ip {ip}: not an address of this machine ({exc.strerror}); "
                    "relay sockets are bound on it"
                ) from None
