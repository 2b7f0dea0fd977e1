"""Reverse mode: ``listen`` -> ``upstream`` (like socat), one upstream socket per client.

A datagram from a new client address opens a socket connected to the upstream
(``asyncio_dgram.connect``); replies arriving on it go back to that client from the
listen socket. Idle clients are closed after ``idle_timeout``; beyond
``max_sessions`` new clients are refused (reported). An ICMP port unreachable from
the upstream arrives on the client's connected socket and is reported as a Notice.

The decoder sees ``client -> upstream`` and ``upstream -> client`` datagrams (the
conversation as it would be without the proxy).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from proxy.decode.keylog import KeyLog
from proxy.events import Address, format_address
from proxy.relay.faults import Emission, FaultEngine, FaultRule
from proxy.relay.recorder import Recorder
from proxy.relay.sockets import Endpoint, bind_socket, open_endpoint, open_upstream

PENDING_MAX = 64
"""Datagrams kept for a new client while its upstream socket opens."""

LISTEN_LABEL = "client"
UPSTREAM_LABEL = "upstream"


class Client:
    """One client source address and its upstream socket."""

    __slots__ = ("addr", "engine", "ep", "hold_timer", "last", "pending", "rx", "tx",
                 "up_addr")

    def __init__(self, addr: Address, engine: FaultEngine | None) -> None:
        self.addr = addr
        self.ep: Endpoint | None = None
        self.up_addr: Address = ("0.0.0.0", 0)
        self.pending: list[bytes] = []
        self.last = time.time()
        self.rx = 0
        self.tx = 0
        self.engine = engine
        self.hold_timer: asyncio.TimerHandle | None = None
        """Releases what a reorder/coalesce rule holds past its time."""


class ListenProtocol(asyncio.DatagramProtocol):
    """Datagrams from clients: forward to the client's upstream socket."""

    def __init__(self, relay: ReverseRelay) -> None:
        self.relay = relay

    def datagram_received(self, data: bytes, addr: Any) -> None:  # hot path
        relay = self.relay
        client = relay.clients.get(addr)
        if client is None:
            client = relay.new_client(addr)
            if client is None:
                return
        ep = client.ep
        ts = time.time()
        client.last = ts
        client.rx += 1
        if ep is None:
            if len(client.pending) < PENDING_MAX:
                client.pending.append(data)
            return
        if client.engine is None:
            if data:
                ep.transport.sendto(data)
            else:  # the transports drop an empty payload: sent on the socket itself
                ep.send_empty(None)
                relay.empty += 1
            rec = relay.recorder
            if rec.active:
                rec.record(ts, addr, relay.upstream, data, LISTEN_LABEL, relay.listen_addr,
                           client.up_addr)
        else:
            relay.forward_with_faults(client, data, "a", ts)

    def error_received(self, exc: Exception) -> None:
        self.relay.on_error(None, exc)


class ListenProtocol6(ListenProtocol):
    """IPv6 listen socket: keep (host, port) of the 4-tuple addresses."""

    def datagram_received(self, data: bytes, addr: Any) -> None:
        ListenProtocol.datagram_received(self, data, addr[:2])


class UpstreamProtocol(asyncio.DatagramProtocol):
    """Datagrams from the upstream on one client's socket: back to that client."""

    def __init__(self, relay: ReverseRelay, client: Client) -> None:
        self.relay = relay
        self.client = client

    def datagram_received(self, data: bytes, addr: Any) -> None:  # hot path
        relay = self.relay
        client = self.client
        ts = time.time()
        client.last = ts
        client.tx += 1
        if client.engine is None:
            if data:
                relay.listen_transport.sendto(data, client.addr)
            else:
                relay.send(None, b"", client.addr)
                relay.empty += 1
            rec = relay.recorder
            if rec.active:
                rec.record(ts, relay.upstream, client.addr, data, UPSTREAM_LABEL,
                           client.up_addr, relay.listen_addr)
        else:
            relay.forward_with_faults(client, data, "b", ts)

    def error_received(self, exc: Exception) -> None:
        self.relay.on_error(self.client, exc)


class ReverseRelay:
    """The listen socket and its clients."""

    def __init__(
        self,
        listen: Address,
        upstream: Address,
        recorder: Recorder,
        *,
        rcvbuf: int,
        idle_timeout: float,
        max_sessions: int,
        rules: tuple[FaultRule, ...] = (),
        fault_seed: int = 0,
    ) -> None:
        self.listen = listen
        self.upstream = upstream
        self.recorder = recorder
        self.rcvbuf = rcvbuf
        self.idle_timeout = idle_timeout
        self.max_sessions = max_sessions
        self.rules = rules
        self.fault_seed = fault_seed
        self.fault_secrets: KeyLog | None = None
        """Key logs the fault rules decrypt with (encrypted messages altered inside)."""
        self.clients: dict[Address, Client] = {}
        self.listen_addr: Address = listen
        self.listen_ep: Endpoint | None = None
        self.listen_transport: asyncio.DatagramTransport
        self.granted = 0
        self.empty = 0
        """Zero-length datagrams forwarded (either way)."""
        self.forwarded = 0
        """Datagrams relayed for clients no longer here (see :meth:`totals`)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._refused_cap = 0
        self._icmp_last: dict[Address, float] = {}
        self.closed = False

    async def open(self) -> None:
        """Bind the listen socket (raises RelayError)."""
        sock = bind_socket(self.listen, self.rcvbuf, "listen address", reuse_port=False)
        self.granted = int(sock.getsockopt(1, 8))
        ep = await open_endpoint(sock)
        self.listen_ep = ep
        self.listen_addr = ep.sockname
        self.listen_transport = ep.transport
        ep.attach(ListenProtocol6(self) if ":" in self.listen_addr[0] else ListenProtocol(self))

    def new_client(self, addr: Address) -> Client | None:
        """A datagram from a new source: open its upstream socket, or refuse (cap)."""
        if len(self.clients) >= self.max_sessions:
            self._refused_cap += 1
            if self._refused_cap == 1 or self._refused_cap % 1000 == 0:
                self.recorder.notice(
                    "warning", "session_cap",
                    f"datagram from new client {format_address(addr)} refused: session cap "
                    f"({self.max_sessions}) reached ({self._refused_cap} refused so far)",
                )
            return None
        engine = (FaultEngine(self.rules, self.fault_seed, self.fault_secrets)
                  if self.rules else None)
        client = Client(addr, engine)
        self.clients[addr] = client
        task = asyncio.get_running_loop().create_task(self._open_upstream(client))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return client

    async def _open_upstream(self, client: Client) -> None:
        try:
            ep = await open_upstream(self.upstream, self.rcvbuf)
        except OSError as exc:
            self.recorder.notice(
                "error", "upstream_socket",
                f"cannot open a socket to upstream {format_address(self.upstream)} for "
                f"{format_address(client.addr)}: {exc.strerror or exc}",
            )
            self.clients.pop(client.addr, None)
            return
        if self.closed or self.clients.get(client.addr) is not client:
            ep.close()
            return
        client.ep = ep
        client.up_addr = ep.sockname
        ep.attach(UpstreamProtocol(self, client))
        pending, client.pending = client.pending, []
        for data in pending:
            ts = time.time()
            if client.engine is None:
                self.send(ep, data, None)
                self.empty += not data
                self.recorder.record(ts, client.addr, self.upstream, data, LISTEN_LABEL,
                                     self.listen_addr, client.up_addr)
            else:
                self.forward_with_faults(client, data, "a", ts)

    def forward_with_faults(self, client: Client, data: bytes, side: str, ts: float) -> None:
        """Forward one datagram through the client's fault engine."""
        assert client.engine is not None and client.ep is not None
        frame = self.recorder.next_frame()
        if side == "a":
            src, dst, label = client.addr, self.upstream, LISTEN_LABEL
            ep: Endpoint | None = client.ep
            hop_in, hop_out = self.listen_addr, client.up_addr
            send_to: Address | None = None
        else:
            src, dst, label = self.upstream, client.addr, UPSTREAM_LABEL
            ep, hop_in, hop_out = None, client.up_addr, self.listen_addr
            send_to = client.addr
        engine = client.engine
        emissions, events = engine.apply(
            data, side, label=label, frame=frame, ts=ts,
            dir=f"{LISTEN_LABEL}->{UPSTREAM_LABEL}" if side == "a"
            else f"{UPSTREAM_LABEL}->{LISTEN_LABEL}",
        )
        self._emit(ep, send_to, emissions)
        self.empty += not data
        seen = emissions[0].data if emissions else data
        each = [e.data for e in emissions] if engine.reshapes or engine.lost else None
        self.recorder.record(ts, src, dst, seen, label, hop_in, hop_out,
                             out=[e.data for e in emissions], frame=frame, extra=list(events),
                             received=data, decode_each=each, lost=engine.lost)
        self._arm_holds(client)

    def _emit(self, ep: Endpoint | None, send_to: Address | None,
              emissions: list[Emission]) -> None:
        loop = asyncio.get_running_loop()
        for e in emissions:
            if e.delay > 0:
                loop.call_later(e.delay, _send_later, self, ep, e.data, send_to)
            else:
                self.send(ep, e.data, send_to)

    def _arm_holds(self, client: Client) -> None:
        assert client.engine is not None
        due = client.engine.next_due()
        if due is None or client.hold_timer is not None:
            return
        client.hold_timer = asyncio.get_running_loop().call_later(
            max(0.0, due - time.time()), self._release_holds, client)

    def _release_holds(self, client: Client) -> None:
        """Send what the client's fault rules held past its time."""
        client.hold_timer = None
        if client.engine is None or self.closed or client.ep is None:
            return
        now = time.time()
        for side, emissions, events in client.engine.due(now):
            if side == "a":
                src, dst, label = client.addr, self.upstream, LISTEN_LABEL
                ep, hop_out, send_to = client.ep, client.up_addr, None
            else:
                src, dst, label = self.upstream, client.addr, UPSTREAM_LABEL
                ep, hop_out, send_to = None, self.listen_addr, client.addr
            self._emit(ep, send_to, emissions)
            datas = [e.data for e in emissions]
            self.recorder.record(now, src, dst, datas[0] if datas else b"", label,
                                 hop_out, hop_out, extra=list(events),
                                 legs=[(hop_out, dst, d) for d in datas], decode_each=datas)
        self._arm_holds(client)

    def totals(self) -> tuple[int, int]:
        """(datagrams received from clients and the upstream, zero-length among them)."""
        return self.forwarded + sum(c.rx + c.tx for c in self.clients.values()), self.empty

    def send(self, ep: Endpoint | None, data: bytes, to: Address | None) -> None:
        """Send on ``ep`` (None: the listen socket), a zero-length datagram too (which the
        transports drop: sent on the socket itself)."""
        ep = ep or self.listen_ep
        assert ep is not None
        if data:
            ep.transport.sendto(data, to)
        else:
            ep.send_empty(to)

    def on_error(self, client: Client | None, exc: Exception) -> None:
        """ICMP port unreachable (upstream or a client) is reported, never fatal."""
        now = time.time()
        if isinstance(exc, ConnectionRefusedError):
            key = self.upstream if client is not None else self.listen_addr
            last = self._icmp_last.get(key)
            if last is not None and now - last < 5.0:
                return
            self._icmp_last[key] = now
            if client is not None:
                msg = (f"ICMP port unreachable from upstream {format_address(self.upstream)} "
                       f"(relaying for {format_address(client.addr)}): nothing listens there; "
                       "is the upstream running, and on that port?")
            else:
                msg = "ICMP port unreachable from a client: it closed its socket"
            self.recorder.notice("error", "icmp_unreachable", msg)
            return
        self.recorder.notice("error", "socket_error", f"socket error: {exc!r}")

    def tick(self, now: float) -> None:
        """Close idle clients: their sockets, and their sessions in the decoder (a
        ``session closed`` event each; the decoder's state for them is released)."""
        if self.idle_timeout <= 0:
            return
        idle = [c for c in self.clients.values() if now - c.last >= self.idle_timeout]
        for c in idle:
            self._forget(c)
            self.recorder.close_session(c.addr, self.upstream, "idle timeout")
        if idle:
            names = ", ".join(format_address(c.addr) for c in idle[:5])
            more = f" and {len(idle) - 5} more" if len(idle) > 5 else ""
            self.recorder.notice(
                "info", "idle_closed",
                f"closed {len(idle)} idle client(s) after {self.idle_timeout:g} s: {names}{more}",
            )

    def _forget(self, c: Client) -> None:
        self.clients.pop(c.addr, None)
        self.forwarded += c.rx + c.tx
        if c.ep is not None:
            c.ep.close()

    def close(self) -> None:
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        for c in list(self.clients.values()):
            self._forget(c)
        if self.listen_ep is not None:
            self.listen_ep.close()


def _send_later(relay: ReverseRelay, ep: Endpoint | None, data: bytes, to: Address | None
                ) -> None:
    if not relay.closed and (ep is None or not ep.transport.is_closing()):
        relay.send(ep, data, to)
