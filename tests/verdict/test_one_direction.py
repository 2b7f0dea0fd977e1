"""A capture of one direction only (an asymmetric route, a capture filter on one host's
address): real captures with the other direction taken out. The session says "only one
direction captured", its roles come from the ServerHello when no ClientHello is there,
and nothing the missing direction would explain is a finding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxy.analyze.pipeline import analyze_capture, client_hello_random
from proxy.capture.pcap import PcapngWriter, read_capture
from proxy.events import CheckReport, Event, FlightComplete, SessionSummary, Verdict
from proxy.session import Tracker
from proxy.verdict import VerdictEngine
from tests.conftest import CAPTURES, ROOT


def one_way(tmp: Path, name: str, from_client: bool) -> Path:
    """``name`` with only the client's datagrams (or only the server's)."""
    dgs = list(read_capture(CAPTURES / name))
    client = next(d.src for d in dgs if client_hello_random(d.data) is not None)
    out = tmp / f"{name}.{'c2s' if from_client else 's2c'}.pcapng"
    with PcapngWriter(out) as w:
        for d in dgs:
            if (d.src == client) == from_client:
                w.write(d)
    return out


def analyze(path: Path) -> list[Event]:
    return list(analyze_capture(path, tracker=Tracker(verdict_hook=VerdictEngine())))


def summary(events: list[Event]) -> SessionSummary:
    return [e for e in events if isinstance(e, SessionSummary)][-1]


@pytest.mark.parametrize("name", ["dtls1_2.pcap", "webrtc-stun.pcap",
                                  "capture-chrome-Chromium_123.0.6312.0_.pcap"])
@pytest.mark.parametrize("from_client", [True, False])
def test_one_direction_is_said_and_nothing_it_explains_is_a_finding(
        tmp_path: Path, name: str, from_client: bool) -> None:
    events = analyze(one_way(tmp_path, name, from_client))
    assert [e for e in events if isinstance(e, Verdict)] == []
    s = summary(events)
    me, peer = ("client", "server") if from_client else ("server", "client")
    assert s.note is not None and s.note.startswith(
        f"only one direction captured ({me}->{peer}): nothing from the {peer} is in the "
        f"capture, yet the {me} answered it"), s.note
    assert s.state == "handshaking"  # neither established nor failed: not known
    (report,) = [e for e in events if isinstance(e, CheckReport)]
    assert report.passed  # no check failed: those the missing side would settle say so
    capture = {c.name: c for c in report.evidence}["capture"]
    assert capture.passed is None


def test_roles_come_from_the_server_hello_and_flights_keep_their_numbers(
        tmp_path: Path) -> None:
    for from_client, flights in ((False, [2, 4, 6]), (True, [1, 3, 5])):
        events = analyze(one_way(tmp_path, "dtls1_2.pcap", from_client))
        s = summary(events)
        assert (s.client, s.server) == ("192.168.17.58:60934", "165.227.57.17:4400")
        assert [e.flight for e in events if isinstance(e, FlightComplete)] == flights


def test_a_client_hello_nobody_answers_is_still_a_silent_peer(tmp_path: Path) -> None:
    """One direction alone proves nothing when the captured side shows no answer: a
    ClientHello retransmitted to a silent server is still ``peer_silent``."""
    events = analyze(one_way(tmp_path, "capture-chrome-Chromium_123.0.6312.0_.pcap", True))
    assert summary(events).note and "only one direction" in summary(events).note  # flight 5
    hello = next(iter(read_capture(CAPTURES / "capture-chrome-Chromium_123.0.6312.0_.pcap")))
    out = tmp_path / "hello.pcapng"
    with PcapngWriter(out) as w:
        for k in range(4):  # the ClientHello and three retransmissions, nothing back
            w.write(type(hello)(hello.ts + k, hello.src, hello.dst, hello.data, k + 1))
    (v,) = [e for e in analyze(out) if isinstance(e, Verdict)]
    assert v.code == "peer_silent"


def test_check_names_the_one_direction_capture(tmp_path: Path) -> None:
    path = one_way(tmp_path, "dtls1_2.pcap", False)
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(path), "--check"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 4
    assert r.stderr.strip().endswith("a finding: s1 (one direction captured)")
