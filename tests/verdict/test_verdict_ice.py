"""ICE without DTLS: the real STUN checks of a WebRTC capture, but no ClientHello ever
(both peers waiting as DTLS server) -> a verdict once ``hello_after`` seconds passed."""

from __future__ import annotations

from proxy.capture.pcap import read_capture
from proxy.decode.demux import classify
from proxy.events import Datagram, Event, Verdict
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
