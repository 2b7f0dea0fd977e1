""""Established" means confirmed (RFC 6347 4.2.4): the receiver of the last flight
accepted it. Real captures in, states and verdicts out.

``janus-client-rejects-server-finished.pcapng`` (tests/data/README.md): Janus (client)
never accepts aiortc's corrupted Finished and retransmits its flight 5 four times;
aiortc, which accepted Janus's Finished, sends SRTP and SCTP all the while.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxy.analyze.pipeline import analyze_capture
from proxy.capture.pcap import PcapngWriter, read_capture
from proxy.cli.inputs import load_secrets
from proxy.events import CheckReport, Event, SessionSummary, Verdict
from proxy.session import Tracker
from proxy.verdict import VerdictEngine
from tests.conftest import CAPTURES

DATA = Path(__file__).resolve().parents[1] / "data"
JANUS = DATA / "janus-client-rejects-server-finished.pcapng"
JANUS_KEYS = DATA / "janus-client-rejects-server-finished.keys"
ROOT = Path(__file__).resolve().parents[2]


JANUS_SIDE = ("10.99.0.1", 6000)
"""The proxy's side B: the leg between Janus and the proxy (s1 in the capture)."""


def analyze(path: Path, *keylogs: Path) -> list[Event]:
    tr = Tracker(verdict_hook=VerdictEngine(secrets=load_secrets(keylogs)))
    return list(analyze_capture(path, tracker=tr))


@pytest.fixture(scope="module")
def janus_leg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only the leg Janus saw (what a capture on Janus's host would hold)."""
    out = tmp_path_factory.mktemp("leg") / "janus-leg.pcapng"
    with PcapngWriter(out) as w:
        for d in read_capture(JANUS):
            if JANUS_SIDE in (d.src, d.dst):
                w.write(d)
    return out


def summaries(events: list[Event], sid: str) -> list[SessionSummary]:
    return [e for e in events if isinstance(e, SessionSummary) and e.session == sid]


def verdicts(events: list[Event], sid: str) -> list[Verdict]:
    return [e for e in events if isinstance(e, Verdict) and e.session == sid]


def checks(v: Verdict | CheckReport) -> dict[str, bool | None]:
    return {c.name: c.passed for c in v.evidence}


def test_client_that_keeps_retransmitting_flight_5_never_accepted_flight_6(
        janus_leg: Path) -> None:
    events = analyze(janus_leg, JANUS_KEYS)
    # s1: Janus <-> the proxy (Janus got the corrupted Finished); never called established
    states = [s.state for s in summaries(events, "s1")]
    assert "established" not in states and states[-1] == "failed"
    assert "unconfirmed" in states  # between flight 6 and the second retransmission
    final = summaries(events, "s1")[-1]
    assert final.counters["rtp server->client"] > 0  # the server's SRTP confirms nothing
    assert "rtp client->server" not in final.counters
    assert final.note == ("the client retransmitted flight 5 4 times after server flight 6: "
                          "it did not accept it")
    (v,) = verdicts(events, "s1")
    assert v.code == "final_flight_rejected" and v.certain
    assert v.reason == (
        "the client never accepted the server's final flight: it retransmitted flight 5 4 "
        "times after receiving flight 6; the server Finished fails authentication (altered "
        "in transit, or the two sides derived different keys)")
    assert v.culprit is not None
    assert (v.culprit.dir, v.culprit.flight, v.culprit.type) == ("server->client", 6, "Finished")
    c = checks(v)
    assert c["last flight accepted"] is False and c["server Finished"] is False
    assert c["client Finished"] is True  # the server accepted the client's: it answered
    assert not [e for e in events if isinstance(e, CheckReport) and e.session == "s1"]


def test_without_a_key_log_the_server_finished_is_the_suspect(janus_leg: Path) -> None:
    events = analyze(janus_leg)
    (v,) = verdicts(events, "s1")
    assert v.code == "final_flight_rejected" and not v.certain
    assert v.reason.endswith("; the server Finished is the suspect")
    assert v.to_be_certain == ("give a key log (--keylog, from either peer) to check "
                               "the server Finished")
    assert summaries(events, "s1")[-1].state == "failed"


def test_check_exits_4_on_the_rejected_final_flight(janus_leg: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(janus_leg), "--check",
                        "--keylog", str(JANUS_KEYS)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 4, r.stderr
    assert r.stderr.strip() == ("dtlsproxy analyze: --check: 1 session(s) failed or have a "
                                "finding: s1")
    assert "  VERDICT: the client never accepted the server's final flight" in r.stdout


def test_both_legs_name_the_finished_altered_between_them() -> None:
    """Issue 14 item 2 on the same capture: the relay's pcapng has both legs. The
    Finished differs between them; on the intact leg (s2) it verifies, on Janus's (s1) it
    does not: the same finding on both, the relay named as the one that changed it."""
    events = analyze(JANUS, JANUS_KEYS)
    head = ("Finished differs between leg s2 (as sent by the server) and leg s1 (as received "
            "by the client) at byte 39 of its record payload: altered in transit, by "
            "dtlsproxy itself (leg s1 is the relay's own --pcap")
    rejected = ("; the client never accepted the server's final flight: it retransmitted "
                "flight 5 4 times after receiving flight 6; the server Finished ")
    for sid, finished in (("s1", False), ("s2", True)):
        (v,) = verdicts(events, sid)
        assert v.code == "altered_in_transit" and v.certain, v
        assert v.reason.startswith(head) and rejected in v.reason, v.reason
        assert v.culprit is not None and (v.culprit.dir, v.culprit.type) == (
            "server->client", "Finished")
        c = checks(v)
        assert c["legs agree"] is False and c["server Finished"] is finished
        assert summaries(events, sid)[-1].legs == ({"s1": "s2", "s2": "s1"}[sid],)


def test_a_capture_that_ends_at_flight_6_is_unconfirmed_not_failed() -> None:
    events = analyze(CAPTURES / "capture-chrome-Chromium_123.0.6312.0_.pcap")
    assert summaries(events, "s1")[-1].state == "unconfirmed"
    assert verdicts(events, "s1") == []  # nothing failed either
    (report,) = [e for e in events if isinstance(e, CheckReport)]
    (c,) = [c for c in report.evidence if c.name == "last flight accepted"]
    assert c.passed is None
    assert c.detail.startswith("not known: the client sent no data after server flight 6 "
                               "and the capture shows 0.000 s after it")


def test_data_from_the_client_after_flight_6_confirms_it() -> None:
    events = analyze(CAPTURES / "stun_dtls_rtp.pcapng")
    states = [s.state for s in summaries(events, "s1")]
    assert states[-1] == "established" and "failed" not in states
    (report,) = [e for e in events if isinstance(e, CheckReport)]
    (c,) = [c for c in report.evidence if c.name == "last flight accepted"]
    assert c.passed is True
    assert c.values["confirmed by"] in ("application data", "SRTP")
