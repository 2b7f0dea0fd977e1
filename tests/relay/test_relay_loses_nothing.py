"""The relay loses nothing, whatever it records: zero-length datagrams are datagrams too;
a recorder that cannot write (its process stopped) costs records, counted and told,
never a datagram; a spray of spoofed sources is one notice per interval; a client closed
for idleness is a closed session whose decoder state is gone."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from proxy.bus import Bus
from proxy.capture.pcap import read_capture
from proxy.events import Notice, SessionClosed, format_address
from proxy.export import run_subscriber
from proxy.export.offload import Recording
from proxy.relay import start_relay
from proxy.relay.config import from_mapping, validate
from proxy.session import Tracker
from tests.conftest import CAPTURES
from tests.relay.test_relay import LOOPS, Peer, config, notices, run_on, settle

HELLO = next(d.data for d in read_capture(CAPTURES / "dtls1_2.pcap"))
"""The first datagram of a real DTLS 1.2 ClientHello (fragmented over two)."""


class RawEcho(asyncio.DatagramProtocol):
    """An upstream that sends every datagram back as it is (zero-length ones too)."""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(data, addr) if data else self._raw(addr)

    def _raw(self, addr: Any) -> None:  # the transport would drop b"": the socket sends it
        import socket

        sock = socket.socket(fileno=os.dup(self.transport.get_extra_info("socket").fileno()))
        try:
            sock.sendto(b"", addr)
        finally:
            sock.close()

    @property
    def addr(self) -> tuple[str, int]:
        return self.transport.get_extra_info("sockname")[:2]


def send(peer: Peer, data: bytes, to: tuple[str, int]) -> None:
    """``peer.send``, a zero-length datagram too (the asyncio transport would drop it)."""
    if data:
        peer.send(data, to)
        return
    import socket

    assert peer.transport is not None
    fileno = peer.transport.get_extra_info("socket").fileno()
    with socket.socket(fileno=os.dup(fileno)) as sock:
        sock.sendto(b"", to)


def summary(sub: Any) -> str:
    (n,) = notices(sub, "relay_summary")
    return n.message


@pytest.mark.parametrize("loop_name", LOOPS)
def test_zero_length_datagrams_are_forwarded_and_counted_two_sided(loop_name: str) -> None:
    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        bus = Bus()
        sub = bus.subscribe()
        # side A latches (its first datagram goes out before side B has a connected
        # socket: the transport path), side B is fixed (the connected socket path)
        relay = await start_relay(config(side_a="127.0.0.1:0", side_b="127.0.0.1:0",
                                         peer_b=format_address(b.addr)), bus)
        try:
            send(a, b"", relay.side_a_addr)
            assert await b.wait_for(1) == [b""]
            send(b, b"", relay.side_b_addr)
            assert await a.wait_for(1) == [b""]
            a.send(b"\x16after", relay.side_a_addr)
            send(a, b"", relay.side_a_addr)
            assert await b.wait_for(3) == [b"", b"\x16after", b""]
            await settle()
        finally:
            await relay.close()
            a.close()
            b.close()
        assert summary(sub) == "relayed 4 datagrams (3 of them zero-length)"

    run_on(loop_name, main)


def test_zero_length_datagrams_through_faults_and_reverse_mode() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        _, echo = await loop.create_datagram_endpoint(RawEcho, local_addr=("127.0.0.1", 0))
        bus = Bus()
        sub = bus.subscribe()
        relay = await start_relay(validate(from_mapping({"relay": {
            "listen": "127.0.0.1:0", "upstream": format_address(echo.addr)}})), bus)
        client = await Peer.open()
        try:
            send(client, b"", relay.listen_addr)  # while its upstream socket opens: kept
            assert await client.wait_for(1) == [b""]
            send(client, b"", relay.listen_addr)
            assert await client.wait_for(2) == [b"", b""]
        finally:
            await relay.close()
        assert summary(sub) == "relayed 4 datagrams (4 of them zero-length)"
        # a fault rule on the other kind of datagram: the empty one still goes through
        a, b = await Peer.open(), await Peer.open()
        relay = await start_relay(validate(from_mapping({
            "relay": {"side_a": "127.0.0.1:0", "side_b": "127.0.0.1:0", "silence_after": 0,
                      "peer_a": format_address(a.addr), "peer_b": format_address(b.addr)},
            "fault": [{"content": "dtls", "action": "drop", "count": "always"}],
        })), bus)
        try:
            send(a, b"", relay.side_a_addr)
            a.send(HELLO, relay.side_a_addr)
            send(a, b"", relay.side_a_addr)
            assert await b.wait_for(2) == [b"", b""]
            await settle()
            assert b.got == [(b"", relay.side_b_addr)] * 2  # the ClientHello was dropped
        finally:
            await relay.close()

    asyncio.run(main())


def wire_recording(relay: Any, bus: Bus, rec: Recording) -> asyncio.Task[None]:
    """As `dtlsproxy run` wires its outputs: the tap, the reporter, the log subscriber."""
    relay.add_tap(rec.tap)
    relay.recorder.add_reporter(rec.report)
    return asyncio.get_running_loop().create_task(run_subscriber(bus.subscribe(), rec.events))


def test_forwarding_goes_on_while_the_recording_process_writes_nothing(tmp_path: Path) -> None:
    """The writer process is stopped (SIGSTOP: it reads and writes nothing, forever):
    every datagram is still forwarded, in order; the records that do not fit in the
    bounded queue are dropped, counted and told in a notice; once the writer runs again,
    what was queued is written, and captured + dropped = relayed."""
    pcap, log = tmp_path / "run.pcapng", tmp_path / "run.jsonl"
    total = 3000

    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        bus = Bus()
        sub = bus.subscribe(maxlen=1_000_000)
        relay = await start_relay(config(side_a="127.0.0.1:0", side_b="127.0.0.1:0",
                                         peer_a=format_address(a.addr),
                                         peer_b=format_address(b.addr)), bus)
        rec = Recording(pcap=pcap, log=log, max_pending=64 * 1024)
        task = wire_recording(relay, bus, rec)
        os.kill(rec.child.pid, signal.SIGSTOP)
        try:
            sent = [b"\x00" + i.to_bytes(4, "big") + bytes(995) for i in range(total)]
            for i in range(0, total, 100):  # in lockstep: the kernel drops nothing here
                for data in sent[i : i + 100]:
                    a.send(data, relay.side_a_addr)
                await b.wait_for(i + 100)
            assert [d for d, _ in b.got] == sent  # every one, in order
            await settle(0.1)
            relay.tick(time.time() + 10)
            behind = notices(sub, "recording_behind")  # the relay's ticks told some already
            assert rec.counts.dropped["pcap"] > 0 and rec.counts.dropped["log"] > 0
            assert behind and all(
                n.message.startswith("recording could not keep up: ")
                and n.message.endswith("; every datagram was forwarded") for n in behind)

            def told(what: str) -> int:  # each notice counts what is new since the last
                return sum(int(m.group(1)) for n in behind
                           if (m := re.search(rf"(\d+) {what}", n.message)))

            assert told(f"datagrams not captured in {pcap}") == rec.counts.dropped["pcap"]
            assert told(f"events not logged to {log}") == rec.counts.dropped["log"]
        finally:
            os.kill(rec.child.pid, signal.SIGCONT)
            await relay.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            final = rec.close()
            a.close()
            b.close()
        assert not any(isinstance(e, Notice) and e.code == "recording_failed" for e in final)
        captured = len(list(read_capture(pcap))) // 2  # two legs per datagram
        assert captured == rec.written["pcap"] == rec.counts.queued["pcap"]
        assert captured + rec.counts.dropped["pcap"] == total
        assert 0 < captured < total
        assert os.stat(pcap).st_mode & 0o777 == 0o600 and os.stat(log).st_mode & 0o777 == 0o600
        # the log: what was queued was written, the rest was dropped and told
        assert rec.written["log"] == rec.counts.queued["log"]
        assert len(log.read_text().splitlines()) == rec.written["log"]

    asyncio.run(main())


def test_a_recording_that_keeps_up_records_every_datagram(tmp_path: Path) -> None:
    pcap, log = tmp_path / "run.pcapng", tmp_path / "run.jsonl"
    hs = list(read_capture(CAPTURES / "dtls1_2.pcap"))

    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        bus = Bus()
        relay = await start_relay(config(side_a="127.0.0.1:0", side_b="127.0.0.1:0",
                                         peer_a=format_address(a.addr),
                                         peer_b=format_address(b.addr)), bus)
        rec = Recording(pcap=pcap, log=log)
        task = wire_recording(relay, bus, rec)
        client = hs[0].src
        try:
            for n, d in enumerate(hs, 1):
                if d.src == client:
                    a.send(d.data, relay.side_a_addr)
                    await b.wait_for(sum(1 for x in hs[:n] if x.src == client))
                else:
                    b.send(d.data, relay.side_b_addr)
                    await a.wait_for(sum(1 for x in hs[:n] if x.src != client))
            await settle(0.1)
        finally:
            await relay.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert rec.close() == []
        legs = [d.data for d in read_capture(pcap)]
        assert legs == [d.data for d in hs for _ in (0, 1)]
        text = log.read_text()
        assert text.count('"event":"datagram"') == len(hs)
        assert text.count('"event":"flight"') == 6  # flights 1-6 of the real handshake
        assert '"code":"relay_summary"' in text

    asyncio.run(main())


def test_a_spray_of_spoofed_sources_is_one_notice_per_interval() -> None:
    async def main() -> None:
        a, b = await Peer.open(), await Peer.open()
        bus = Bus()
        sub = bus.subscribe()
        relay = await start_relay(config(side_a="127.0.0.1:0", side_b="127.0.0.1:0",
                                         peer_a=format_address(a.addr),
                                         peer_b=format_address(b.addr),
                                         label_a="browser"), bus)
        strangers = [await Peer.open() for _ in range(200)]
        try:
            for s in strangers:
                s.send(b"\x16spoofed", relay.side_a_addr)
                s.send(b"\x16again", relay.side_a_addr)
            await settle(0.3)
            a.send(b"\x16real", relay.side_a_addr)
            assert await b.wait_for(1) == [b"\x16real"]  # nothing else got through
            first = notices(sub, "refused")
            assert [n.message for n in first] == [
                f"datagram from {format_address(strangers[0].addr)} on side A (browser) "
                f"refused and dropped: side's peer is fixed to {format_address(a.addr)}"]
            relay.tick(time.time() + 1)
            assert notices(sub, "refused") == []  # not yet: one summary per 10 s
            relay.tick(time.time() + 11)
            (summary_notice,) = notices(sub, "refused")
            msg = summary_notice.message
            assert msg.startswith("399 more datagrams refused and dropped in ")
            assert ", from 200 source(s): " in msg and msg.endswith(" and 195 more")
            assert f"{format_address(strangers[1].addr)} on side A (browser) (2)" in msg
            relay.tick(time.time() + 30)
            assert notices(sub, "refused") == []  # nothing new, nothing said
        finally:
            await relay.close()
            for p in (a, b, *strangers):
                p.close()
        assert summary(sub) == "relayed 1 datagrams (0 of them zero-length); refused 400 " \
            "from sources not allowed"

    asyncio.run(main())


class Server(RawEcho):
    """Answers with the real server's first flight (HelloVerifyRequest)."""

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(HVR, addr)


HELLO_FRAGMENTS = [d.data for d in read_capture(CAPTURES / "dtls1_2.pcap")][:2]
"""The real ClientHello, in the two datagrams its client fragmented it into."""
HVR = [d.data for d in read_capture(CAPTURES / "dtls1_2.pcap")][2]


def test_reverse_idle_clients_get_session_closed_and_their_state_released() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        _, echo = await loop.create_datagram_endpoint(Server, local_addr=("127.0.0.1", 0))
        bus = Bus()
        sub = bus.subscribe()
        cfg = validate(from_mapping({"relay": {"listen": "127.0.0.1:0", "idle_timeout": 0.2,
                                               "upstream": format_address(echo.addr)}}))
        relay = await start_relay(cfg, bus)
        tracker = relay.recorder.tracker
        assert isinstance(tracker, Tracker)
        engine: Any = tracker.verdict_hook
        clients = [await Peer.open() for _ in range(3)]
        try:
            for c in clients:
                for fragment in HELLO_FRAGMENTS:
                    c.send(fragment, relay.listen_addr)
                await c.wait_for(2)
            await settle()
            relay.tick()
            assert len(tracker.sessions) == 3 and len(engine._states) == 3
            sub.drain()
            await asyncio.sleep(0.25)
            relay.tick()
            events = sub.drain()
            closed = [e for e in events if isinstance(e, SessionClosed)]
            assert sorted(e.session for e in closed) == ["s1", "s2", "s3"]
            assert {e.reason for e in closed} == {"idle timeout"}
            assert tracker.sessions == {} and engine._states == {}
            assert tracker.session_for(clients[0].addr, echo.addr) is None
            clients[0].send(HELLO_FRAGMENTS[0], relay.listen_addr)  # back: a new session
            await clients[0].wait_for(3)
            await settle()
            relay.tick()
            assert list(tracker.sessions) == ["s4"]
        finally:
            await relay.close()
            for c in clients:
                c.close()

    asyncio.run(main())


def _until(check: Any, limit: float = 20.0) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("not within the limit")


def test_a_full_disk_or_a_dead_writer_is_told_and_costs_only_records(tmp_path: Path) -> None:
    legs = [(("127.0.0.1", 5000), ("127.0.0.1", 6000), HELLO)] * 2
    note = Notice(1.0, "", "info", "x", "an event to log")
    # /dev/full: every write fails with ENOSPC; the log beside it goes on
    rec = Recording(pcap=Path("/dev/full"), log=tmp_path / "run.jsonl")
    for _ in range(20):
        rec.tap([(1.0, legs)] * 50)
    rec.events([note] * 10)
    failed = _until(lambda: [e for e in rec.report(time.time())
                             if isinstance(e, Notice) and e.code == "recording_failed"])
    assert [e.message for e in failed] == [
        "writing /dev/full failed: No space left on device; no more records go there "
        "(forwarding goes on)"]
    rec.events([note] * 5)
    rec.close()
    assert rec.written["log"] == 15 == len((tmp_path / "run.jsonl").read_text().splitlines())
    # the writer killed: said once; what it cannot take any more is dropped and counted
    rec = Recording(log=tmp_path / "second.jsonl")
    os.kill(rec.child.pid, signal.SIGKILL)
    rec.child.wait()
    for _ in range(5):
        rec.events([note] * 100)
    told = [e.message for e in rec.report(time.time(), final=True) if isinstance(e, Notice)]
    assert told[0] == ("the recording process ended (exit -9): nothing more is recorded "
                       "(forwarding goes on)")
    assert rec.counts.dropped["log"] == 500 and rec.counts.queued["log"] == 0
    assert told[1].startswith("recording could not keep up: 500 events not logged to ")
    rec.close()
