"""Two-sided mode: socket A (given to one peer) <-> socket B (given to the other).

What arrives on A goes out of B to B's peer, and the reverse. Each side's peer is
fixed, latched from the first datagram (``latch-first``), or any source of an
allow-list (``allow``: the latest allowed sender is the destination). Anything else
is dropped and reported, never forwarded.

Once a side knows its peer, a second socket on the same port, connected to that
peer (SO_REUSEPORT), carries the peer's traffic both ways: the kernel gives it the
peer's datagrams and reports an ICMP port unreachable on it (ConnectionRefusedError),
on uvloop as on the stdlib loop. The unconnected socket keeps receiving everyone else
(latching, refusals).

Forward first: ``datagram_received`` sends before anything else; the decode work is
queued to the :class:`~proxy.relay.recorder.Recorder`. The decoder sees each relayed
datagram as the two peers would without the proxy: ``src`` = the sender's address,
``dst`` = the other side's peer, ``side`` = the receiving side's label. A datagram
that cannot be forwarded yet (the other side has no peer) is dropped, reported once,
and not decoded.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable
from time import time as _now
from typing import Any

import asyncio_dgram

from proxy.events import Address, format_address
from proxy.relay.config import CallConfig, Network, SideConfig
from proxy.relay.faults import Emission, FaultEngine
from proxy.relay.recorder import Recorder
from proxy.relay.sockets import Endpoint, bind_socket, open_connected, open_endpoint

MAX_PEER_SOCKETS = 8
"""Connected per-peer sockets kept per side (allow-list policy may see several)."""

MAX_REFUSED_SOURCES = 1024
"""Refused sources counted one by one per report (the rest are counted together)."""

REFUSAL_REPORT_EVERY = 10.0
"""Seconds between two summaries of the refusals (across every call and source)."""

NAMED_SOURCES = 5
"""Sources a summary names (the busiest first)."""


class Refusals:
    """Every refused datagram of a relay, told in few notices whatever the spray: the
    first refusal at once (with why), then at most one summary every
    ``REFUSAL_REPORT_EVERY`` seconds across every call, side and source (how many, from
    how many sources, the busiest named). Memory is bounded (``MAX_REFUSED_SOURCES``)."""

    def __init__(self, recorder: Recorder, every: float = REFUSAL_REPORT_EVERY) -> None:
        self.recorder = recorder
        self.every = every
        self.total = 0
        """Datagrams refused in all (never forwarded)."""
        self._first_told = False
        self._since = 0.0
        self._count = 0
        self._sources: dict[tuple[Address, str], int] = {}
        self._others = 0
        """Refusals from sources beyond ``MAX_REFUSED_SOURCES`` in this interval."""

    def refuse(self, side: Side, addr: Address) -> None:
        """Count one refused datagram from ``addr`` on ``side``."""
        self.total += 1
        if not self._first_told:
            self._first_told = True
            self._since = time.time()
            self.recorder.notice(
                "warning", "refused",
                f"datagram from {format_address(addr)} on side {side.name.upper()} "
                f"({side.label}) refused and dropped: {side.refusal_reason()}",
            )
            return
        self._count += 1
        key = (addr, side.where)
        n = self._sources.get(key)
        if n is not None:
            self._sources[key] = n + 1
        elif len(self._sources) < MAX_REFUSED_SOURCES:
            self._sources[key] = 1
        else:
            self._others += 1

    def report(self, now: float, final: bool = False) -> None:
        """The summary of the refusals since the last one, when it is due (or ``final``)."""
        if not self._count or (not final and now - self._since < self.every):
            return
        busiest = sorted(self._sources.items(), key=lambda kv: -kv[1])[:NAMED_SOURCES]
        named = ", ".join(f"{format_address(a)} on {where} ({n})" for (a, where), n in busiest)
        sources = len(self._sources) + (1 if self._others else 0)
        rest = len(self._sources) - len(busiest)
        more = f" and {rest}{'+' if self._others else ''} more" if rest or self._others else ""
        self.recorder.notice(
            "warning", "refused",
            f"{self._count} more datagrams refused and dropped in {now - self._since:.0f} s, "
            f"from {sources}{'+' if self._others else ''} source(s): {named}{more}",
        )
        self._since, self._count, self._others = now, 0, 0
        self._sources.clear()


def _allowed(addr: Address, allow: tuple[Network | Address, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(addr[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for entry in allow:
        if isinstance(entry, tuple):
            if ipaddress.ip_address(entry[0]) == ip and entry[1] == addr[1]:
                return True
        elif ip in entry:
            return True
    return False


class SideProtocol(asyncio.DatagramProtocol):
    """Receives one socket's datagrams and forwards them to the other side's peer."""

    def __init__(self, side: Side, connected_to: Address | None = None) -> None:
        self.side = side
        self.connected_to = connected_to

    def datagram_received(self, data: bytes, addr: Any) -> None:  # the hot path
        side = self.side
        if addr != side.peer and not side.admit(addr):
            return
        other = side.other
        dst = other.peer
        if side.faults is None and dst is not None:
            sock = other.send_sock  # forward first
            if sock is None or other.send_queued():
                other.send_queue(data, dst)
            else:
                try:
                    sock.send(data)
                except BlockingIOError:  # socket buffer full: the transport queues it
                    other.send_queue(data, dst)
                except OSError as exc:  # e.g. ICMP port unreachable, as error_received
                    other.call.on_error(other, exc, dst)
            ts = _now()
            side.rx += 1
            if not data:
                side.empty += 1
            side.last_rx = ts
            rec = side.recorder
            if rec.active:
                rec.record(ts, addr, dst, data, side.label, side.addr, other.addr)
            return
        ts = _now()
        side.rx += 1
        if not data:
            side.empty += 1
        side.last_rx = ts
        if side.faults is not None:
            side.call.forward_with_faults(side, data, addr, ts)
        else:
            side.call.no_peer(side, ts)

    def error_received(self, exc: Exception) -> None:
        self.side.call.on_error(self.side, exc, self.connected_to)


class SideProtocol6(SideProtocol):
    """IPv6 sockets report (host, port, flowinfo, scope_id): keep (host, port)."""

    def datagram_received(self, data: bytes, addr: Any) -> None:
        SideProtocol.datagram_received(self, data, addr[:2])


def side_protocol(side: Side, connected_to: Address | None = None) -> SideProtocol:
    """The protocol for a socket of ``side`` (IPv6 sockets get the address-trimming one)."""
    cls = SideProtocol6 if ":" in side.addr[0] else SideProtocol
    return cls(side, connected_to)


class Side:
    """One socket of a call and what it knows about its peer."""

    def __init__(self, call: Call, name: str, cfg: SideConfig) -> None:
        self.call = call
        self.name = name
        self.cfg = cfg
        self.label = cfg.label
        self.peer: Address | None = cfg.peer
        self.endpoint: Endpoint | None = None
        self.addr: Address = cfg.bind
        self.send_ep: Endpoint
        """The endpoint this side sends to its peer on (set with :meth:`send_on`)."""
        self.send_transport: asyncio.DatagramTransport
        """``send_ep``'s transport."""
        self.send_sock: socket.socket | None = None
        """``send_transport``'s socket when it is connected to the peer: the hot path
        sends on it directly while the transport has nothing queued (order is kept),
        0.45 us less per datagram than ``transport.sendto(data, addr)`` (~3.3 us, on
        uvloop and the stdlib loop alike: the address is converted on every call)."""
        self.peer_endpoints: dict[Address, Endpoint] = {}
        self.other: Side = self
        self.faults = call.faults
        self.recorder = call.recorder
        self.rx = 0
        self.empty = 0
        """Zero-length datagrams received (and forwarded: they are datagrams too)."""
        self.last_rx: float | None = None
        self.where = f"side {name.upper()} ({self.label})" + (
            f" of {call.name}" if call.name != "call" else "")
        """How a refusal summary names this side."""
        self.warned = False
        self.quiet_reported = False

    def admit(self, addr: Address) -> bool:
        """Policy check for a datagram from ``addr`` that is not the current peer."""
        cfg = self.cfg
        if cfg.policy == "latch-first" and self.peer is None:
            self.peer = addr
            self._latch(addr, f"peer is {format_address(addr)} (latched from its first datagram)")
            return True
        if cfg.policy == "allow" and _allowed(addr, cfg.allow):
            if addr not in self.peer_endpoints:
                self._latch(addr, f"now sends to {format_address(addr)} (allowed source)")
            self.peer = addr
            ep = self.peer_endpoints.get(addr)
            if ep is not None:
                self.send_on(ep, connected=True)
            else:
                self.send_on(self._main_endpoint(), connected=False)
            return True
        self._refuse(addr)
        return False

    def _latch(self, addr: Address, what: str) -> None:
        """Name ``addr`` after this side, say so, and open its connected socket."""
        if self.label != self.name:
            self.call.recorder.set_label(addr, self.label)
        self.call.recorder.notice(
            "info", "latched", f"side {self.name.upper()} ({self.label}) {what}"
        )
        self.call.open_peer_socket(self, addr)

    def send_on(self, ep: Endpoint, *, connected: bool) -> None:
        """Send to the peer on ``ep``; ``connected``: its socket is connected to the peer."""
        self.send_ep = ep
        self.send_transport = transport = ep.transport
        self.send_sock = ep.sock if connected else None
        # both loops' datagram transports have it (typeshed lists it for write transports)
        self.send_queued: Callable[[], int] = transport.get_write_buffer_size  # type: ignore[attr-defined]

    def send_queue(self, data: bytes, dst: Address) -> None:
        """Send through the transport (which queues what the socket cannot take yet); a
        zero-length datagram, which the transports drop, on the socket itself."""
        if data:
            self.send_transport.sendto(data, dst)
        else:
            self.send_ep.send_empty(dst)

    def _main_endpoint(self) -> Endpoint:
        assert self.endpoint is not None
        return self.endpoint

    def _refuse(self, addr: Address) -> None:
        self.call.refusals.refuse(self, addr)

    def refusal_reason(self) -> str:
        """Why this side refuses a stranger."""
        peer = format_address(self.peer) if self.peer else "?"
        return {
            "latch-first": f"side is latched to {peer}",
            "fixed": f"side's peer is fixed to {peer}",
            "allow": "source not in the allow-list",
        }[self.cfg.policy]

    def close(self) -> None:
        for ep in self.peer_endpoints.values():
            ep.close()
        self.peer_endpoints.clear()
        if self.endpoint is not None:
            self.endpoint.close()


class Call:
    """One pair of sockets relaying one call."""

    def __init__(
        self,
        cfg: CallConfig,
        recorder: Recorder,
        *,
        rcvbuf: int,
        faults: FaultEngine | None = None,
        engine: str = "protocol",
        silence_after: float = 10.0,
        refusals: Refusals | None = None,
    ) -> None:
        self.cfg = cfg
        self.refusals = refusals or Refusals(recorder)
        """Shared by every call of a relay (one summary for all)."""
        self.name = cfg.name
        self.recorder = recorder
        self.rcvbuf = rcvbuf
        self.faults = faults
        self.engine = engine
        self.silence_after = silence_after
        self.a = Side(self, "a", cfg.a)
        self.b = Side(self, "b", cfg.b)
        self.a.other, self.b.other = self.b, self.a
        self.started = time.time()
        self.granted: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._icmp_reported: dict[Address, float] = {}
        self._no_peer_reported: set[str] = set()
        self.no_peer_dropped = 0
        """Datagrams that arrived while the other side had no peer (not forwarded)."""
        self.closed = False
        self._hold_timer: asyncio.TimerHandle | None = None
        self._hold_due = 0.0

    @property
    def sides(self) -> tuple[Side, Side]:
        return (self.a, self.b)

    def direction(self, side: Side) -> str:
        """``labelA->labelB`` for datagrams received on ``side``."""
        return f"{side.label}->{side.other.label}"

    async def open(self) -> None:
        """Bind both sockets (raises RelayError with a clear message)."""
        socks = []
        try:
            for side in self.sides:
                sock = bind_socket(side.cfg.bind, self.rcvbuf, f"side {side.name.upper()}")
                socks.append(sock)
                self.granted[side.name] = int(sock.getsockopt(1, 8))  # SOL_SOCKET, SO_RCVBUF
        except Exception:
            for s in socks:
                s.close()
            raise
        for side, sock in zip(self.sides, socks, strict=True):
            ep = await open_endpoint(sock)
            side.endpoint = ep
            side.addr = ep.sockname
            side.send_on(ep, connected=False)
            self._attach(ep, side_protocol(side))
        for side in self.sides:
            if side.peer is not None:
                await self._open_peer(side, side.peer)
        self.started = time.time()

    def _attach(self, ep: Endpoint, proto: SideProtocol) -> None:
        if self.engine == "dgram":
            task = asyncio.get_running_loop().create_task(_pump(ep, proto))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            ep.attach(proto)

    def open_peer_socket(self, side: Side, peer: Address) -> None:
        """Start opening a connected socket to ``peer`` on ``side``'s port."""
        if self.closed or peer in side.peer_endpoints:
            return
        task = asyncio.get_running_loop().create_task(self._open_peer(side, peer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open_peer(self, side: Side, peer: Address) -> None:
        try:
            ep = await open_connected(side.addr, peer, self.rcvbuf)
        except OSError as exc:
            self.recorder.notice(
                "warning", "peer_socket",
                f"side {side.name.upper()}: no connected socket to {format_address(peer)} "
                f"({exc}); ICMP errors from it will not be reported",
            )
            return
        if self.closed:
            ep.close()
            return
        side.peer_endpoints[peer] = ep
        # From now on the kernel queues the peer's datagrams on the connected socket;
        # hand over what is still queued on the main socket first, so order is kept.
        main = side.endpoint
        if main is not None and main.sock is not None and self.engine != "dgram":
            proto = side_protocol(side)
            for _ in range(100_000):
                try:
                    data, addr = main.sock.recvfrom(65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    proto.error_received(exc)
                    break
                proto.datagram_received(data, addr)
        self._attach(ep, side_protocol(side, connected_to=peer))
        if side.peer == peer:
            side.send_on(ep, connected=True)
        while len(side.peer_endpoints) > MAX_PEER_SOCKETS:
            oldest = next(iter(side.peer_endpoints))
            if oldest == side.peer:
                break
            side.peer_endpoints.pop(oldest).close()

    def forward_with_faults(self, side: Side, data: bytes, src: Address, ts: float) -> None:
        """Forward through the fault engine (only when rules are configured)."""
        faults = self.faults
        assert faults is not None
        other = side.other
        dst = other.peer
        frame = self.recorder.next_frame()
        emissions, events = faults.apply(
            data, side.name, label=side.label, frame=frame, ts=ts, dir=self.direction(side)
        )
        if dst is None:
            self.no_peer(side, ts)
            self.recorder.publish(list(events))
            return
        self._send(other, dst, emissions)
        seen = emissions[0].data if emissions else data
        each = [e.data for e in emissions] if faults.reshapes or faults.lost else None
        self.recorder.record(
            ts, src, dst, seen, side.label, side.addr, other.addr,
            out=[e.data for e in emissions], frame=frame, extra=list(events), received=data,
            decode_each=each, lost=faults.lost,
        )
        self._arm_holds()

    def _send(self, other: Side, dst: Address, emissions: list[Emission]) -> None:
        loop = asyncio.get_running_loop()
        for e in emissions:
            if e.delay > 0:
                loop.call_later(e.delay, _send_later, other, e.data)
            else:
                other.send_queue(e.data, dst)

    def _arm_holds(self) -> None:
        """A timer for the earliest datagram a reorder/coalesce rule holds."""
        assert self.faults is not None
        due = self.faults.next_due()
        if due is None or self.closed:
            return
        if self._hold_timer is not None:
            if self._hold_due <= due:
                return
            self._hold_timer.cancel()
        self._hold_due = due
        self._hold_timer = asyncio.get_running_loop().call_later(
            max(0.0, due - time.time()), self._release_holds)

    def _release_holds(self) -> None:
        """Send what the fault rules held past its time (recorded as sent by the proxy)."""
        self._hold_timer = None
        if self.faults is None or self.closed:
            return
        now = time.time()
        for name, emissions, events in self.faults.due(now):
            side = self.a if name == "a" else self.b
            other, dst = side.other, side.other.peer
            if dst is None or side.peer is None:
                continue
            self._send(other, dst, emissions)
            datas = [e.data for e in emissions]
            self.recorder.record(
                now, side.peer, dst, datas[0] if datas else b"", side.label, side.addr,
                other.addr, extra=list(events),
                legs=[(other.addr, dst, d) for d in datas], decode_each=datas,
            )
        self._arm_holds()

    def no_peer(self, side: Side, ts: float) -> None:
        """A datagram arrived but the other side has no peer yet: dropped, said once."""
        other = side.other
        self.no_peer_dropped += 1
        if other.name in self._no_peer_reported:
            return
        self._no_peer_reported.add(other.name)
        self.recorder.notice(
            "warning", "no_peer",
            f"datagram from side {side.name.upper()} dropped: side {other.name.upper()} "
            f"({other.label}) has no peer yet; it latches on the first datagram that "
            f"arrives at {format_address(other.addr)}",
        )

    def on_error(self, side: Side, exc: Exception, peer: Address | None) -> None:
        """An error from a socket: ICMP port unreachable is reported, never fatal."""
        now = time.time()
        target = peer or side.peer
        if isinstance(exc, ConnectionRefusedError):
            key = target or side.addr
            last = self._icmp_reported.get(key)
            if last is not None and now - last < 5.0:
                return
            self._icmp_reported[key] = now
            who = format_address(target) if target else "the peer"
            self.recorder.notice(
                "error", "icmp_unreachable",
                f"ICMP port unreachable from {who} (side {side.name.upper()}, {side.label}): "
                "nothing listens there; is that peer running, and on that port?",
            )
            return
        self.recorder.notice(
            "error", "socket_error", f"side {side.name.upper()} socket error: {exc!r}"
        )

    def tick(self, now: float) -> None:
        """Silence and one-way warnings."""
        if self.silence_after <= 0 or now - self.started < self.silence_after:
            return
        for side in self.sides:
            other = side.other
            if side.rx > 0 and side.last_rx is not None:
                # went quiet after talking, while the other side still sends
                quiet_for = now - side.last_rx
                if quiet_for < self.silence_after:
                    side.quiet_reported = False
                elif (not side.quiet_reported and other.last_rx is not None
                      and now - other.last_rx < self.silence_after):
                    side.quiet_reported = True
                    self.recorder.notice(
                        "warning", "side_silent",
                        f"side {side.name.upper()} ({side.label}) has sent nothing for "
                        f"{quiet_for:.0f} s while side {other.name.upper()} ({other.label}) "
                        "still sends: did that peer stop, restart or change address?",
                    )
                continue
            if side.warned:
                continue
            side.warned = True
            where = format_address(side.addr)
            if other.rx > 0:
                self.recorder.notice(
                    "warning", "one_way",
                    f"one-way traffic: {other.rx} datagrams {other.label}->{side.label}, "
                    f"nothing back from side {side.name.upper()} ({side.label}) in "
                    f"{self.silence_after:g} s; is its peer pointed at {where}? One-way "
                    "traffic usually means a peer bypasses the proxy (rewrite BOTH offer "
                    "and answer: dtlsproxy sdp rewrite)",
                )
            else:
                self.recorder.notice(
                    "warning", "silent_side",
                    f"nothing from side {side.name.upper()} ({side.label}) yet; "
                    f"is the peer pointed at {where}?",
                )

    def close(self) -> None:
        self.closed = True
        if self._hold_timer is not None:
            self._hold_timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        for side in self.sides:
            side.close()


def _send_later(side: Side, data: bytes) -> None:
    if side.peer is not None and not side.call.closed:
        side.send_queue(data, side.peer)


async def _pump(ep: Endpoint, proto: asyncio.DatagramProtocol) -> None:
    """engine=dgram: asyncio-dgram's own recv() loop feeding the same handler."""
    while True:
        try:
            data, addr = await ep.stream.recv()
        except asyncio_dgram.TransportClosed:
            return
        except OSError as exc:
            proto.error_received(exc)
            continue
        proto.datagram_received(data, addr)
