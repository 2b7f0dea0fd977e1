"""TURN mode in-process, on loopback: aiortc's TURN client (aioice) carries a real
pyOpenSSL DTLS client through ``start_relay`` to a pyOpenSSL server (the peer).

The relay forwards, and the Tracker sees the inner conversation (client <-> peer), with
the encapsulation each datagram came in; fault rules change the DTLS inside the
allocation as in two-sided mode; the pcapng tap gets both legs as on the wire.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aioice.turn import create_turn_endpoint

from proxy.bus import Bus
from proxy.demo.peers.pyopenssl_peer import DtlsEndpoint, EndpointConfig
from proxy.demo.peers.udp_runner import PeerResult, UdpPeer, _Inbox
from proxy.events import (
    DatagramSeen,
    Event,
    FaultApplied,
    FlightComplete,
    Notice,
    SessionOpened,
    SessionSummary,
    TurnAllocation,
    Verdict,
)
from proxy.relay import start_relay
from proxy.relay.config import RelayConfig, apply_flags, validate

CV_FAULT = "who=client,msg=CertificateVerify,action=corrupt,offset=-1"


def turn_config(*faults: str, **flags: Any) -> RelayConfig:
    return validate(apply_flags(RelayConfig(), {
        "turn": "127.0.0.1:0", "turn_user": ["alice:secret"], "turn_allow_loopback": True,
        "silence_after": 0, "faults": list(faults) or None, **flags,
    }))


async def call(cfg: RelayConfig, transport: str = "udp") -> tuple[
        PeerResult, PeerResult, list[Event], list[Any]]:
    """A DTLS handshake client --TURN--> relay --> server; (client, server, events, legs)."""
    bus = Bus()
    sub = bus.subscribe(maxlen=100_000)
    relay = await start_relay(cfg, bus)
    legs: list[Any] = []
    relay.add_tap(lambda batch: legs.extend(leg for _, ls in batch for leg in ls))
    server = await UdpPeer.bind(DtlsEndpoint(EndpointConfig(role="server")))
    turn, inbox = await create_turn_endpoint(
        _Inbox, server_addr=relay.turn_addr, username="alice", password="secret",
        transport=transport)
    client = UdpPeer(DtlsEndpoint(EndpointConfig(role="client")), turn, inbox)  # type: ignore[arg-type]
    try:
        results = await asyncio.gather(
            client.run(server.local_addr, timeout=8), server.run(None, timeout=8))
    finally:
        turn.close()
        server.close()
        await asyncio.sleep(0.3)  # the Refresh LIFETIME 0 of the TURN client's close
        await relay.close()
    return results[0], results[1], sub.drain(), legs


def test_dtls_through_a_turn_allocation_is_one_session_client_to_peer() -> None:
    client, server, events, legs = asyncio.run(call(turn_config()))
    assert client.ok and server.ok, (client.error, server.error)
    [opened] = [e for e in events if isinstance(e, SessionOpened)]
    peer = f"127.0.0.1:{server.local_addr[1]}"
    assert opened.labels[0] == "alice" and opened.endpoints[1] == peer
    assert [f.flight for f in events if isinstance(f, FlightComplete)] == [1, 4, 5, 6]
    summary = [e for e in events if isinstance(e, SessionSummary)][-1]
    assert (summary.state, summary.client_label) == ("established", "alice")
    # aioice binds a channel before its first send: every datagram came as ChannelData
    vias = {e.via for e in events if isinstance(e, DatagramSeen)}
    assert vias == {"t1 channel 0x4000"}  # the allocation, then the encapsulation
    allocs = [e for e in events if isinstance(e, TurnAllocation)]
    assert allocs[0].state == "active" and allocs[-1].state == "closed"
    assert allocs[-1].channels == {"0x4000": peer}
    assert allocs[-1].to_peer[0] >= 3 and allocs[-1].from_peer[0] >= 2
    # both legs: the client's ChannelData to the TURN port, the bare DTLS to the peer
    to_peer = [d for _, dst, d in legs if dst == server.local_addr]
    assert to_peer and all(20 <= d[0] <= 23 for d in to_peer)  # DTLS records
    to_turn = [d for _, dst, d in legs if dst == relay_turn_addr(events)]
    assert [d[4:] for d in to_turn if d[:2] == b"\x40\x00"] == to_peer


def relay_turn_addr(events: list[Event]) -> tuple[str, int]:
    """The TURN port, from the ``listening`` notice."""
    msg = next(e.message for e in events if isinstance(e, Notice) and e.code == "listening")
    host, port = msg.split("TURN on udp ", 1)[1].split(",", 1)[0].rsplit(":", 1)
    return (host, int(port))


def test_turn_over_tcp() -> None:
    client, server, events, _ = asyncio.run(call(turn_config(), "tcp"))
    assert client.ok and server.ok, (client.error, server.error)
    assert {e.via for e in events if isinstance(e, DatagramSeen)} == {"t1 channel 0x4000/tcp"}
    allocs = [e for e in events if isinstance(e, TurnAllocation)]
    assert allocs[0].transport == "tcp" and allocs[-1].state == "closed"


def test_fault_rule_corrupts_the_certificate_verify_inside_the_allocation() -> None:
    client, server, events, _ = asyncio.run(call(turn_config(CV_FAULT)))
    assert not client.ok and not server.ok
    assert server.alert is not None and server.alert.name == "decrypt_error"
    [fault] = [e for e in events if isinstance(e, FaultApplied)]
    assert (fault.dir, fault.session) == ("client->server", "s1")
    [verdict] = [e for e in events if isinstance(e, Verdict)]
    assert verdict.code == "certificate_verify_bad_signature"
    assert verdict.culprit is not None and verdict.culprit.type == "CertificateVerify"
    assert verdict.culprit.frames == (fault.frame,)


@pytest.mark.parametrize("transport", ["udp"])
def test_turn_beside_two_sided_mode_in_one_process(transport: str) -> None:
    cfg = turn_config(side_a="127.0.0.1:0", side_b="127.0.0.1:0")
    client, server, events, _ = asyncio.run(call(cfg, transport))
    assert client.ok and server.ok
    listening = [e.message for e in events if isinstance(e, Notice) and e.code == "listening"]
    assert len(listening) == 3 and listening[-1].startswith("TURN on udp 127.0.0.1:")
