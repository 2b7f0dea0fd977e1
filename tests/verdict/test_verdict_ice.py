"""ICE without DTLS: the real STUN checks of a WebRTC capture, but no ClientHello ever
(both peers waiting as DTLS server) -> a verdict once ``hello_after`` seconds passed."""

from __future__ import annotations

from pathlib import Path

from proxy.analyze.pipeline import analyze_capture
from proxy.capture.pcap import read_capture
from proxy.decode.demux import classify
from proxy.events import Datagram, Event, SessionSummary, Verdict
from proxy.session import Tracker
from proxy.verdict import VerdictEngine, VerdictOptions
from tests.conftest import CAPTURES


def stun_only() -> list[Datagram]:
    return [d for d in read_capture(CAPTURES / "webrtc-stun.pcap") if classify(d.data) == "stun"]


def feed(datagrams: list[Datagram], spread: float, end: float) -> list[Event]:
    tr = Tracker(verdict_hook=VerdictEngine(VerdictOptions(hello_after=5.0)))
    out: list[Event] = []
    t0 = datagrams[0].ts
    for i, d in enumerate(datagrams):
        ts = t0 + i * spread
        out += tr.receive(Datagram(ts, d.src, d.dst, d.data, d.frame))
        out += tr.tick(ts)
    out += tr.finish(t0 + end)
    return out


def test_ice_that_works_but_no_client_hello_is_a_setup_finding() -> None:
    stun = stun_only()
    assert len(stun) >= 4
    (v,) = [e for e in feed(stun, 0.5, 30.0) if isinstance(e, Verdict)]
    assert v.code == "no_client_hello" and v.culprit is None and not v.certain
    assert "ICE works" in v.reason and "both peers wait as DTLS server" in v.reason
    ice, hello = v.evidence
    assert ice.passed is True and hello.passed is False
    assert v.to_be_certain is not None and "a=setup" in v.to_be_certain


def test_unanswered_ice_says_no_pair_worked() -> None:
    requests_one_way = [d for d in stun_only() if d.data[0:2] == b"\x00\x01"][:1]
    (v,) = [e for e in feed(requests_one_way * 4, 2.0, 20.0) if isinstance(e, Verdict)]
    assert v.code == "no_client_hello"
    assert "no ICE check was ever answered" in v.reason


def test_dtls_that_starts_in_time_is_no_finding() -> None:
    dgs = list(read_capture(CAPTURES / "webrtc-stun.pcap"))
    events = feed(dgs, 0.01, 60.0)
    assert not [e for e in events if isinstance(e, Verdict)]


SERVER_EXCHANGE = Path(__file__).resolve().parents[1] / "data" / (
    "coturn-stun-and-turn-server-exchange.pcap")


def test_a_stun_or_turn_server_exchange_is_not_an_ice_path() -> None:
    """coturn and its clients (tests/data/README.md): Binding requests without ICE
    credentials, Allocate and Refresh. No 'both peers wait as DTLS server' for them:
    each is shown as what it is."""
    tr = Tracker(verdict_hook=VerdictEngine(VerdictOptions(hello_after=5.0)))
    events = list(analyze_capture(SERVER_EXCHANGE, tracker=tr))
    assert not [e for e in events if isinstance(e, Verdict)]
    notes = {e.session: e.note for e in events if isinstance(e, SessionSummary)}
    assert len(notes) == 17
    assert notes["s1"] == ("a STUN/TURN server exchange (binding): a client and its STUN or "
                           "TURN server, not an ICE path between two peers")
    assert all(n and n.startswith("a STUN/TURN server exchange (allocate")
               for sid, n in notes.items() if sid != "s1")
    assert any("refresh" in (n or "") for n in notes.values())


def test_the_wait_for_a_client_hello_survives_a_clock_jump() -> None:
    """webrtc-stun.pcap's ICE checks and handshake, its second half an hour later (two
    captures of one flow merged, their clocks an hour apart): the ClientHello came 17 ms
    after the first check, so no 'nobody sent a ClientHello'."""
    dgs = list(read_capture(CAPTURES / "webrtc-stun.pcap"))
    cut = 3  # after the third STUN message, before the ClientHello
    assert all(classify(d.data) == "stun" for d in dgs[:cut + 1])
    jumped = [Datagram(d.ts + (3600.0 if i > cut else 0.0), d.src, d.dst, d.data, d.frame)
              for i, d in enumerate(dgs)]
    for ice_only in (False, True):  # the jump with and without the handshake after it
        feed_ = [d for d in jumped if not ice_only or classify(d.data) == "stun"]
        tr = Tracker(verdict_hook=VerdictEngine(VerdictOptions(hello_after=5.0)))
        out: list[Event] = []
        for d in feed_:
            out += tr.receive(d) + tr.tick(d.ts)
        out += tr.finish(feed_[-1].ts)
        # before the jump, and after it, far less than hello_after of ICE time passed
        assert [e for e in out if isinstance(e, Verdict)] == [], ice_only
