"""Ticks (time passing with no datagram) skip a session that time can no longer change.

A long capture with many sessions would otherwise cost sessions x seconds: every tick
ran every session's verdict rules and summary. Datagrams in, events out, and the number
of times the rules were asked.
"""

from __future__ import annotations

from pathlib import Path

from proxy.capture.pcap import read_capture
from proxy.events import Datagram, Event, SessionSummary, Verdict
from proxy.session import Session, Tracker
from proxy.verdict import VerdictEngine


class Counting:
    """The verdict engine, counting the calls the Tracker makes to it."""

    def __init__(self) -> None:
        self.engine = VerdictEngine()
        self.calls = 0

    def __call__(self, s: Session, events: list[Event], now: float, final: bool) -> list[Event]:
        self.calls += 1
        return self.engine(s, events, now, final)

    def settled(self, s: Session) -> bool:
        return self.engine.settled(s)


def datagrams(captures_dir: Path, name: str) -> list[Datagram]:
    return list(read_capture(captures_dir / name))


def test_an_established_session_is_skipped_until_its_next_datagram(captures_dir: Path) -> None:
    hook = Counting()
    tr = Tracker(verdict_hook=hook)
    handshake = datagrams(captures_dir, "capture-firefox-Mozilla_Firefox_125.0.pcap")
    for d in handshake:
        tr.receive(d)
    t = handshake[-1].ts
    assert [ev for ev in tr.tick(t + 2) if not isinstance(ev, SessionSummary)] == []
    # 3 s without a retransmission of the client's flight 5 confirm the server's flight 6
    (summary,) = [ev for ev in tr.tick(t + 3) if isinstance(ev, SessionSummary)]
    assert summary.state == "established"
    asked = hook.calls
    for k in range(4, 60):  # a minute of ticks: the rules are not asked again
        assert tr.tick(t + k) == []
    assert hook.calls == asked
    tr.receive(handshake[-1])  # a datagram (a retransmitted copy): the next tick asks again
    asked = hook.calls
    assert tr.tick(t + 61) == []
    assert hook.calls == asked + 1


def test_a_stuck_handshake_keeps_its_ticks_and_gets_its_silence_verdict(
        captures_dir: Path) -> None:
    hook = Counting()
    tr = Tracker(verdict_hook=hook)
    hello = datagrams(captures_dir, "capture-firefox-Mozilla_Firefox_125.0.pcap")[0]
    for k in range(3):  # the ClientHello, retransmitted twice, never answered
        tr.receive(Datagram(hello.ts + k, hello.src, hello.dst, hello.data, k + 1))
    t = hello.ts + 2
    found: list[Verdict] = []
    for k in range(1, 30):
        asked = hook.calls
        found += [ev for ev in tr.tick(t + k) if isinstance(ev, Verdict)]
        if not found:
            assert hook.calls == asked + 1, k  # still waiting on time: asked at every tick
    assert [(v.code, v.ts) for v in found] == [("peer_silent", t + 10)]
