"""Mutated DTLS 1.3 handshakes through the decrypting path: real NSS flows with their key
logs (tests/data/dtls13), some datagrams altered (bits flipped, cut, spliced from other
records): the Tracker raises nothing, and no verdict rule crashes (the engine would
swallow it into ``errors``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.capture.pcap import read_capture
from proxy.cli.inputs import load_secrets
from proxy.events import Datagram
from proxy.session import Tracker
from proxy.verdict import VerdictEngine

DATA = Path(__file__).resolve().parent.parent / "data" / "dtls13"
NAMES = ("1rtt", "hrr", "resume", "chacha")


@cache
def flow(name: str) -> tuple[Datagram, ...]:
    return tuple(read_capture(DATA / f"nss-{name}.pcap"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_dtls13_flows_with_keys_never_crash(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(NAMES))
    grams = flow(name)
    engine = VerdictEngine(secrets=load_secrets([str(DATA / f"nss-{name}.keys")]))
    tracker = Tracker(verdict_hook=engine)
    out = []
    for d in grams:
        payload = bytearray(d.data)
        if data.draw(st.integers(0, 3)) == 0 and payload:
            op = data.draw(st.sampled_from(["flip", "cut", "splice"]))
            if op == "flip":
                i = data.draw(st.integers(0, len(payload) - 1))
                payload[i] ^= 1 << data.draw(st.integers(0, 7))
            elif op == "cut":
                payload = payload[:data.draw(st.integers(0, len(payload)))]
            else:
                other = grams[data.draw(st.integers(0, len(grams) - 1))].data
                a = data.draw(st.integers(0, len(other)))
                payload[data.draw(st.integers(0, len(payload))):] = other[a:]
        out += tracker.receive(Datagram(d.ts, d.src, d.dst, bytes(payload), d.frame))
        out += tracker.tick(d.ts)
    out += tracker.finish(grams[-1].ts + 60)
    assert engine.errors == []
    crashed = [c.name for e in out for c in getattr(e, "evidence", ()) if
               c.name.startswith("rule ")]
    assert crashed == []
