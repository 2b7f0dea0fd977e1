"""The relay in-process with plain UDP peers on loopback: transparency, policies, errors.

Each test starts ``start_relay`` on ephemeral ports and talks to it with ordinary
sockets; the events it publishes are read from the bus.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
import random
import socket
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from proxy.bus import Bus, Subscription
from proxy.events import Event, Notice, format_address
from proxy.relay import RelayError, start_relay
from proxy.relay.config import RelayConfig, from_mapping, validate
from proxy.relay.sockets import set_buffers

LOOPS = ["asyncio", "uvloop"]


def run_on(loop_name: str, coro_fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
    if loop_name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as r:
            r.run(coro_fn())
    else:
        asyncio.run(coro_fn())


def config(**relay: Any) -> RelayConfig:
    relay.setdefault("silence_after", 0)
    return validate(from_mapping({"relay": relay}))


class Peer(asyncio.DatagramProtocol):
    """A plain UDP endpoint that keeps what it receives."""

    def __init__(self) -> None:
        self.got: list[tuple[bytes, tuple[str, int]]] = []
        self.errors: list[Exception] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.event = asyncio.Event()

    @classmethod
    async def open(cls, host: str = "127.0.0.1", port: int = 0) -> Peer:
        """Bound to ``host:port`` with a 4 MiB receive buffer (bursts must not overflow it)."""
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                             socket.SOCK_DGRAM)
        set_buffers(sock, 4 * 1024 * 1024)
        sock.bind((host, port))
        loop = asyncio.get_running_loop()
        _, proto = await loop.create_datagram_endpoint(cls, sock=sock)
        return proto

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.got.append((data, addr[:2]))
        self.event.set()

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)

    @property
    def addr(self) -> tuple[str, int]:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[:2]

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, to)

    async def wait_for(self, n: int, timeout: float = 5.0) -> list[bytes]:
        async def until() -> None:
            while len(self.got) < n:
                self.event.clear()
                await self.event.wait()

        await asyncio.wait_for(until(), timeout)
        return [d for d, _ in self.got]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def notices(sub: Subscription, code: str) -> list[Notice]:
    return [e for e in sub.drain() if isinstance(e, Notice) and e.code == code]


async def settle(seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)


def free_port(host: str = "127.0.0.1") -> int:
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def blast(sender: Peer, to: tuple[str, int], payloads: list[bytes]) -> None:
    """Send at a few thousand datagrams/s (bursts of 50, then yield ~5 ms)."""
    for i in range(0, len(payloads), 50):
        for p in payloads[i : i + 50]:
            sender.send(p, to)
        await asyncio.sleep(0.005)


def payloads(n: int, seed: int) -> list[bytes]:
    rnd = random.Random(seed)
    return [i.to_bytes(4, "big") + rnd.randbytes(rnd.randrange(0, 1400)) for i in range(n)]


def digests(items: list[bytes]) -> list[str]:
    return [hashlib.sha256(x).hexdigest() for x in items]


# ------------------------------------------------------------- transparency


@pytest.mark.parametrize("loop_name", LOOPS)
@pytest.mark.parametrize("policy", ["fixed", "latch-first"])
def test_every_datagram_arrives_byte_identical_and_in_order(loop_name: str, policy: str) -> None:
    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        bus = Bus()
        sub = bus.subscribe()
        kw: dict[str, Any] = {"side_a": "127.0.0.1:0", "side_b": "127.0.0.1:0"}
        if policy == "fixed":
            kw |= {"peer_a": format_address(a.addr), "peer_b": format_address(b.addr)}
        relay = await start_relay(config(**kw), bus)
        try:
            if policy == "latch-first":
                a.send(b"\x00hello from a", relay.side_a_addr)  # latches A; B unknown: dropped
                await settle()
                b.send(b"\x00hello from b", relay.side_b_addr)  # latches B, reaches A
                assert await a.wait_for(1) == [b"\x00hello from b"]
                a.got.clear()
            to_b, to_a = payloads(2000, 1), payloads(2000, 2)
            await asyncio.gather(blast(a, relay.side_a_addr, to_b),
                                 blast(b, relay.side_b_addr, to_a))
            got_b = await b.wait_for(len(to_b))
            got_a = await a.wait_for(len(to_a))
            assert digests(got_b) == digests(to_b)
            assert digests(got_a) == digests(to_a)
            # each peer only ever hears from the proxy's socket it was given
            assert {addr for _, addr in b.got} == {relay.side_b_addr}
            assert {addr for _, addr in a.got} == {relay.side_a_addr}
            assert not [n for n in notices(sub, "refused")]
        finally:
            await relay.close()
            a.close()
            b.close()

    run_on(loop_name, main)


def test_asyncio_dgram_engine_is_transparent_too() -> None:
    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        relay = await start_relay(
            validate(from_mapping({"relay": {
                "side_a": "127.0.0.1:0", "side_b": "127.0.0.1:0", "engine": "dgram",
                "peer_a": format_address(a.addr), "peer_b": format_address(b.addr)}})),
            Bus(),
        )
        try:
            to_b = payloads(500, 3)
            await blast(a, relay.side_a_addr, to_b)
            assert digests(await b.wait_for(500)) == digests(to_b)
        finally:
            await relay.close()

    asyncio.run(main())


def test_ipv6_and_several_calls() -> None:
    async def main() -> None:
        pa = free_port("::1")
        pb = free_port("::1")
        cfg = validate(from_mapping({"call": [
            {"name": "one", "side_a": "[::1]:0", "side_b": "[::1]:0"},
            {"name": "two", "side_a": f"[::1]:{pa}", "side_b": f"[::1]:{pb}"},
        ], "relay": {"silence_after": 0}}))
        relay = await start_relay(cfg, Bus())
        try:
            assert [c.name for c in relay.calls] == ["one", "two"]
            assert relay.calls[1].a.addr == ("::1", pa)
            for call in relay.calls:
                a, b = await Peer.open("::1"), await Peer.open("::1")
                b.send(b"\x00latch b", call.b.addr)
                a.send(b"\x00latch a", call.a.addr)
                await settle()
                b.send(b"\x00to a via " + call.name.encode(), call.b.addr)
                assert (await a.wait_for(1))[-1] == b"\x00to a via " + call.name.encode()
                a.close()
                b.close()
        finally:
            await relay.close()

    asyncio.run(main())


# ------------------------------------------------------------------- policies


def test_latching_then_a_stranger_is_refused_and_reported() -> None:
    async def main() -> None:
        a, b, stranger = await Peer.open(), await Peer.open(), await Peer.open()
        bus = Bus()
        sub = bus.subscribe()
        relay = await start_relay(config(side_a="127.0.0.1:0", side_b="127.0.0.1:0",
                                         label_a="browser"), bus)
        try:
            b.send(b"\x00b first", relay.side_b_addr)
            await settle()
            a.send(b"\x00a first", relay.side_a_addr)
            assert await b.wait_for(1) == [b"\x00a first"]
            stranger.send(b"\x00let me in", relay.side_a_addr)
            stranger.send(b"\x00let me in again", relay.side_a_addr)
            await settle(0.1)
            assert b.got == [(b"\x00a first", relay.side_b_addr)]  # nothing else got through
            events = sub.drain()
            latched = [e.message for e in events if isinstance(e, Notice) and e.code == "latched"]
            assert latched == [
                f"side B (b) peer is {format_address(b.addr)} (latched from its first datagram)",
                f"side A (browser) peer is {format_address(a.addr)} "
                "(latched from its first datagram)",
            ]
            refused = [e.message for e in events if isinstance(e, Notice) and e.code == "refused"]
            assert refused == [
                f"datagram from {format_address(stranger.addr)} on side A (browser) refused "
                f"and dropped: side is latched to {format_address(a.addr)}"
            ]
            no_peer = [e.message for e in events if isinstance(e, Notice) and e.code == "no_peer"]
            assert len(no_peer) == 1 and "side A (browser) has no peer yet" in no_peer[0]
        finally:
            await relay.close()

    asyncio.run(main())


def test_allow_list_admits_networks_and_refuses_the_rest() -> None:
    async def main() -> None:
        ok4, ok6, b = await Peer.open(), await Peer.open("::1"), await Peer.open()
        bus = Bus()
        sub = bus.subscribe()
        relay = await start_relay(config(side_a="[::]:0", side_b="127.0.0.1:0",
                                         allow_a=["127.0.0.0/8", "::1"],
                                         peer_b=format_address(b.addr)), bus)
        outsider = await Peer.open("::1")
        try:
            port = relay.side_a_addr[1]
            ok4.send(b"\x00from v4", ("127.0.0.1", port))
            assert await b.wait_for(1) == [b"\x00from v4"]
            b.send(b"\x00reply 1", relay.side_b_addr)
            assert await ok4.wait_for(1) == [b"\x00reply 1"]  # latest allowed sender
            ok6.send(b"\x00from v6", ("::1", port))
            assert (await b.wait_for(2))[-1] == b"\x00from v6"
            b.send(b"\x00reply 2", relay.side_b_addr)
            assert await ok6.wait_for(1) == [b"\x00reply 2"]
            await relay.close()
            relay = await start_relay(config(side_a="127.0.0.1:0", side_b="127.0.0.1:0",
                                             allow_a=["10.0.0.0/8"],
                                             peer_b=format_address(b.addr)), bus)
            sub.drain()
            outsider.close()
            ok4.send(b"\x00not allowed", relay.side_a_addr)
            await settle(0.1)
            assert len(b.got) == 2
            refused = notices(sub, "refused")
            assert [n.message for n in refused] == [
                f"datagram from {format_address(ok4.addr)} on side A (a) refused and dropped: "
                "source not in the allow-list"
            ]
        finally:
            await relay.close()

    asyncio.run(main())


# --------------------------------------------------------------------- errors


@pytest.mark.parametrize("loop_name", LOOPS)
def test_icmp_port_unreachable_is_a_notice_and_the_relay_keeps_running(loop_name: str) -> None:
    async def main() -> None:
        a = await Peer.open()
        dead = free_port()
        bus = Bus()
        sub = bus.subscribe()
        relay = await start_relay(
            config(side_a="127.0.0.1:0", side_b="127.0.0.1:0", peer_b=f"127.0.0.1:{dead}"), bus
        )
        try:
            for _ in range(3):
                a.send(b"\x00anyone?", relay.side_a_addr)
                await settle()
            icmp = notices(sub, "icmp_unreachable")
            assert [n.message for n in icmp] == [
                f"ICMP port unreachable from 127.0.0.1:{dead} (side B, b): nothing listens "
                "there; is that peer running, and on that port?"
            ]
            assert icmp[0].level == "error"
            # the peer comes up on that port: traffic flows again
            late = await Peer.open("127.0.0.1", dead)
            a.send(b"\x00now?", relay.side_a_addr)
            assert await late.wait_for(1) == [b"\x00now?"]
            late.close()
        finally:
            await relay.close()

    run_on(loop_name, main)


def test_silent_side_and_one_way_traffic_are_reported() -> None:
    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        bus = Bus()
        sub = bus.subscribe()
        relay = await start_relay(
            validate(from_mapping({"call": [
                {"name": "quiet", "side_a": "127.0.0.1:0", "side_b": "127.0.0.1:0"},
                {"name": "oneway", "side_a": "127.0.0.1:0", "side_b": "127.0.0.1:0",
                 "peer_b": format_address(b.addr), "label_b": "janus"},
            ], "relay": {"silence_after": 0.2}})),
            bus,
        )
        try:
            quiet, oneway = relay.calls
            for _ in range(3):
                a.send(b"\x00ping", oneway.a.addr)
            await b.wait_for(3)
            relay.tick()
            assert notices(sub, "silent_side") == []  # too early
            await asyncio.sleep(0.25)
            relay.tick()
            relay.tick()  # said once only
            events = [e for e in sub.drain() if isinstance(e, Notice)]
            silent = [e.message for e in events if e.code == "silent_side"]
            assert silent == [
                f"nothing from side A (a) yet; is the peer pointed at "
                f"{format_address(quiet.a.addr)}?",
                f"nothing from side B (b) yet; is the peer pointed at "
                f"{format_address(quiet.b.addr)}?",
            ]
            (one_way,) = [e.message for e in events if e.code == "one_way"]
            assert one_way.startswith(
                "one-way traffic: 3 datagrams a->janus, nothing back from side B (janus) in "
                f"0.2 s; is its peer pointed at {format_address(oneway.b.addr)}?"
            )
            assert "bypasses the proxy" in one_way
        finally:
            await relay.close()

    asyncio.run(main())


def test_a_side_that_stops_while_the_other_still_sends_is_reported_once() -> None:
    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        bus = Bus()
        sub = bus.subscribe()
        relay = await start_relay(
            config(side_a="127.0.0.1:0", side_b="127.0.0.1:0", silence_after=0.2,
                   peer_a=format_address(a.addr), peer_b=format_address(b.addr),
                   label_b="janus"), bus)
        try:
            b.send(b"\x00janus alive", relay.side_b_addr)
            a.send(b"\x00browser alive", relay.side_a_addr)
            await b.wait_for(1)
            for _ in range(3):  # A keeps sending, B has gone quiet
                await asyncio.sleep(0.1)
                a.send(b"\x00still here", relay.side_a_addr)
                relay.tick()
            relay.tick()
            (quiet,) = notices(sub, "side_silent")
            assert quiet.message.startswith("side B (janus) has sent nothing for ")
            assert quiet.message.endswith(" s while side A (a) still sends: did that peer "
                                          "stop, restart or change address?")
            b.send(b"\x00back", relay.side_b_addr)  # re-armed once B talks again
            await a.wait_for(2)
            relay.tick()
            assert notices(sub, "side_silent") == []
        finally:
            await relay.close()

    asyncio.run(main())


def test_port_in_use_and_address_not_available() -> None:
    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
            taken.bind(("127.0.0.1", 0))
            port = taken.getsockname()[1]
            with pytest.raises(RelayError) as info:
                await start_relay(config(side_a=f"127.0.0.1:{port}", side_b="127.0.0.1:0"),
                                  Bus())
            assert str(info.value) == (
                f"cannot bind side A 127.0.0.1:{port}: port {port} is already in use "
                "(another dtlsproxy, or the peer itself?); pick another port or stop that process"
            )
        with pytest.raises(RelayError) as info:
            await start_relay(config(side_a="127.0.0.1:0", side_b="192.0.2.1:0"), Bus())
        assert str(info.value) == (
            "cannot bind side B 192.0.2.1:0: address 192.0.2.1 is not available on this "
            "machine (use one of its own addresses, or 0.0.0.0 / ::)"
        )
        # a second relay on the first one's ports is refused too (SO_REUSEPORT is not a loophole)
        first = await start_relay(config(side_a="127.0.0.1:0", side_b="127.0.0.1:0"), Bus())
        try:
            with pytest.raises(RelayError, match="already in use"):
                await start_relay(config(side_a=format_address(first.side_a_addr),
                                         side_b="127.0.0.1:0"), Bus())
        finally:
            await first.close()

    asyncio.run(main())


# ---------------------------------------------------------------- reverse mode


class Echo(Peer):
    def datagram_received(self, data: bytes, addr: Any) -> None:
        super().datagram_received(data, addr)
        assert self.transport is not None
        self.transport.sendto(b"echo:" + data, addr)


def reverse_config(upstream: tuple[str, int], **kw: Any) -> RelayConfig:
    return validate(from_mapping({"relay": {"listen": "127.0.0.1:0",
                                            "upstream": format_address(upstream), **kw}}))


@pytest.mark.parametrize("loop_name", LOOPS)
def test_reverse_mode_with_50_concurrent_clients(loop_name: str) -> None:
    async def main() -> None:
        echo = await Echo.open()
        relay = await start_relay(reverse_config(echo.addr), Bus())
        clients = [await Peer.open() for _ in range(50)]
        try:
            async def talk(i: int, c: Peer) -> None:
                for j in range(20):
                    c.send(b"\x00" + f"client {i} message {j}".encode(), relay.listen_addr)
                    if j % 5 == 4:
                        await asyncio.sleep(0.002)
                got = await c.wait_for(20)
                assert got == [b"echo:\x00" + f"client {i} message {j}".encode()
                               for j in range(20)]
                assert {addr for _, addr in c.got} == {relay.listen_addr}

            await asyncio.gather(*(talk(i, c) for i, c in enumerate(clients)))
            sources = {addr for _, addr in echo.got}
            assert len(sources) == 50  # one upstream socket per client
            assert relay.listen_addr not in sources
            assert relay.reverse is not None and len(relay.reverse.clients) == 50
        finally:
            await relay.close()
            for c in clients:
                c.close()
            echo.close()

    run_on(loop_name, main)


def test_reverse_session_cap_idle_timeout_and_unreachable_upstream() -> None:
    async def main() -> None:
        echo = await Echo.open()
        bus = Bus()
        sub = bus.subscribe()
        relay = await start_relay(reverse_config(echo.addr, max_sessions=3, idle_timeout=0.2),
                                  bus)
        clients = [await Peer.open() for _ in range(5)]
        try:
            for c in clients:
                c.send(b"\x00hi", relay.listen_addr)
                await settle(0.02)
            await settle(0.1)
            assert [len(c.got) for c in clients] == [1, 1, 1, 0, 0]
            cap = notices(sub, "session_cap")
            assert [n.message for n in cap] == [
                f"datagram from new client {format_address(clients[3].addr)} refused: "
                "session cap (3) reached (1 refused so far)"
            ]
            await asyncio.sleep(0.25)
            relay.tick()
            assert relay.reverse is not None and relay.reverse.clients == {}
            (idle,) = notices(sub, "idle_closed")
            assert idle.message.startswith("closed 3 idle client(s) after 0.2 s: ")
            clients[4].send(b"\x00my turn", relay.listen_addr)
            assert await clients[4].wait_for(1) == [b"echo:\x00my turn"]
        finally:
            await relay.close()
        dead = free_port()
        relay = await start_relay(reverse_config(("127.0.0.1", dead)), bus)
        try:
            for _ in range(3):
                clients[0].send(b"\x00anyone?", relay.listen_addr)
                await settle()
            assert [n.message for n in notices(sub, "icmp_unreachable")] == [
                f"ICMP port unreachable from upstream 127.0.0.1:{dead} (relaying for "
                f"{format_address(clients[0].addr)}): nothing listens there; is the upstream "
                "running, and on that port?"
            ]
        finally:
            await relay.close()
            for c in clients:
                c.close()

    asyncio.run(main())


# ------------------------------------------------------------ faults, capture


def test_fault_rules_apply_in_the_relay_and_are_events() -> None:
    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        bus = Bus()
        sub = bus.subscribe()
        cfg = validate(from_mapping({
            "relay": {"side_a": "127.0.0.1:0", "side_b": "127.0.0.1:0", "silence_after": 0,
                      "peer_a": format_address(a.addr), "peer_b": format_address(b.addr)},
            "fault": [
                {"side": "a", "content": "stun", "action": "drop", "nth": 2},
                {"side": "a", "content": "other", "action": "duplicate"},
                {"side": "b", "content": "stun", "action": "delay", "ms": 100},
            ],
        }))
        relay = await start_relay(cfg, bus)
        try:
            for i in range(3):
                a.send(b"\x00\x01stun " + bytes([i]), relay.side_a_addr)
            a.send(b"\xff other", relay.side_a_addr)
            got = await b.wait_for(4)
            assert got == [b"\x00\x01stun \x00", b"\x00\x01stun \x02", b"\xff other",
                           b"\xff other"]
            b.send(b"\x00\x01late", relay.side_b_addr)
            await settle(0.05)
            assert a.got == []
            assert await a.wait_for(1) == [b"\x00\x01late"]
            await settle()
            faults = [e for e in sub.drain() if e.EVENT == "fault"]
            assert [(f.action, f.frame, f.dir) for f in faults] == [
                ("drop", 2, "a->b"), ("duplicate", 4, "a->b"), ("delay", 5, "b->a")]
        finally:
            await relay.close()

    asyncio.run(main())


def test_pcapng_holds_both_legs(tmp_path: Path) -> None:
    from proxy.capture.pcap import read_capture
    from proxy.export.pcapng import PcapngTap

    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        relay = await start_relay(config(side_a="127.0.0.1:0", side_b="127.0.0.1:0",
                                         peer_a=format_address(a.addr),
                                         peer_b=format_address(b.addr)), Bus())
        tap = PcapngTap(tmp_path / "legs.pcapng")
        relay.add_tap(tap)
        try:
            a.send(b"\x16one", relay.side_a_addr)
            await b.wait_for(1)
            b.send(b"\x16two", relay.side_b_addr)
            await a.wait_for(1)
            await settle()
        finally:
            await relay.close()
            tap.close()
        legs = [(d.src, d.dst, d.data) for d in read_capture(tmp_path / "legs.pcapng")]
        assert legs == [
            (a.addr, relay.side_a_addr, b"\x16one"),
            (relay.side_b_addr, b.addr, b"\x16one"),
            (b.addr, relay.side_b_addr, b"\x16two"),
            (relay.side_a_addr, a.addr, b"\x16two"),
        ]
        assert os.stat(tmp_path / "legs.pcapng").st_mode & 0o777 == 0o600

    asyncio.run(main())


def test_pcapng_inbound_leg_has_the_bytes_as_received_before_a_fault(tmp_path: Path) -> None:
    from proxy.capture.pcap import read_capture
    from proxy.export.pcapng import PcapngTap

    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        cfg = validate(from_mapping({
            "relay": {"side_a": "127.0.0.1:0", "side_b": "127.0.0.1:0", "silence_after": 0,
                      "peer_a": format_address(a.addr), "peer_b": format_address(b.addr)},
            "fault": [{"side": "a", "content": "other", "action": "corrupt", "offset": -1}],
        }))
        relay = await start_relay(cfg, Bus())
        tap = PcapngTap(tmp_path / "legs.pcapng")
        relay.add_tap(tap)
        try:
            a.send(b"\xffabc", relay.side_a_addr)
            assert await b.wait_for(1) == [b"\xffab\x9c"]  # last byte ^ 0xff
            await settle()
        finally:
            await relay.close()
            tap.close()
        legs = [(d.src, d.dst, d.data) for d in read_capture(tmp_path / "legs.pcapng")]
        assert legs == [
            (a.addr, relay.side_a_addr, b"\xffabc"),  # as peer A sent it
            (relay.side_b_addr, b.addr, b"\xffab\x9c"),  # as peer B got it
        ]

    asyncio.run(main())


def test_decoder_failure_never_stops_forwarding() -> None:
    class Broken:
        def receive(self, d: Any) -> list[Event]:
            raise ValueError("decoder bug")

        def tick(self, now: float) -> list[Event]:
            return []

        def finish(self, now: float) -> list[Event]:
            return []

    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        bus = Bus()
        sub = bus.subscribe()
        relay = await start_relay(config(side_a="127.0.0.1:0", side_b="127.0.0.1:0",
                                         peer_a=format_address(a.addr),
                                         peer_b=format_address(b.addr)), bus, tracker=Broken())
        try:
            for i in range(5):
                a.send(b"\x16" + bytes([i]), relay.side_a_addr)
            assert len(await b.wait_for(5)) == 5
            await settle()
            errors = notices(sub, "decoder_error")
            assert [n.message for n in errors] == [
                "decoder failed on frame 1: ValueError('decoder bug')"]
        finally:
            await relay.close()

    asyncio.run(main())




def test_decoder_behind_sheds_media_decoding_but_never_dtls() -> None:
    from proxy.relay.recorder import Recorder
    from proxy.session import Tracker

    async def main() -> None:
        bus = Bus()
        sub = bus.subscribe()
        rec = Recorder(bus, Tracker())
        a, b = ("127.0.0.1", 1000), ("127.0.0.1", 2000)
        old = time.time() - 1.0  # queued a second ago: the decoder is behind
        rtp = bytes([0x80, 96]) + bytes(10) + b"media"
        for _ in range(3):
            rec.record(old, a, b, rtp, "a", a, b)
        rec.record(old, a, b, b"\x16\xfe\xfd" + bytes(10), "a", a, b)  # DTLS: always decoded
        rec.drain()
        events = sub.drain()
        assert rec.shed == 3
        # the DTLS datagram was decoded; no media datagram reached the tracker
        assert [(e.EVENT, e.kind) for e in events if e.EVENT == "datagram"] == [
            ("datagram", "dtls")]
        assert not [e for e in events if e.EVENT == "media"]
        (behind,) = [e for e in events if isinstance(e, Notice)]
        assert behind.code == "decoder_behind"
        assert behind.message == ("decoder could not keep up with the traffic: 3 media "
                                  "datagrams were forwarded but not counted")

    asyncio.run(main())



def test_recorder_batches_count_media_exactly_like_receive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The recorder counts media per (src, dst) run within a drained batch: the WebRTC
    capture (STUN, DTLS, SRTP both ways) followed by 3.5 s of RTP both ways at 200/s per
    direction with a STUN binding request every 25 packets, drained 32 datagrams at a time,
    gives the same events in the same order as the tracker fed datagram by datagram."""
    from proxy.capture.pcap import read_capture
    from proxy.relay import recorder
    from proxy.session import Tracker

    # never shed, count everything: neither for the decoder's share of the time nor for
    # its lag (the datagrams' times start when the test does; building the expected events
    # first can take more than SHED_AFTER on a loaded machine)
    monkeypatch.setattr(recorder, "DECODE_SHARE", 1.0)
    monkeypatch.setattr(recorder, "SHED_AFTER", float("inf"))
    capture = Path(__file__).resolve().parents[3] / "shared" / "captures" / "stun_dtls_rtp.pcapng"
    flow = list(read_capture(capture))
    start = time.time()
    flow = [dataclasses.replace(d, ts=start + (d.ts - flow[0].ts), frame=i + 1, side="a")
            for i, d in enumerate(flow)]
    a, b = flow[0].src, flow[0].dst
    stun = next(d.data for d in flow if d.data[0] < 4)
    t = flow[-1].ts
    for i in range(1400):
        src, dst = (a, b) if i % 2 else (b, a)
        rtp = bytes([0x80, 96]) + i.to_bytes(2, "big") + bytes(4) + (0xA0 + i % 2).to_bytes(
            4, "big") + bytes(100 + i % 7)
        t += 0.0025
        flow.append(dataclasses.replace(flow[0], ts=t, src=src, dst=dst, data=rtp,
                                        frame=len(flow) + 1))
        if i % 25 == 24:
            flow.append(dataclasses.replace(flow[0], ts=t, data=stun, frame=len(flow) + 1))
    slow = Tracker()
    expected = [e for d in flow for e in slow.receive(d)] + slow.finish(t + 0.01)

    async def main() -> list[Event]:
        bus = Bus()
        sub = bus.subscribe()
        fast = Tracker()
        rec = recorder.Recorder(bus, fast)
        for i in range(0, len(flow), 32):
            for d in flow[i : i + 32]:
                rec.record(d.ts, d.src, d.dst, d.data, "a", d.src, d.dst)
            rec.drain()
        assert rec.shed == 0
        return sub.drain() + fast.finish(t + 0.01)

    got = asyncio.run(main())
    media = [e for e in expected if e.EVENT == "media"]
    assert len(media) >= 8 and sum(e.rtp_packets for e in media) == 11 + 1400
    assert got == expected
