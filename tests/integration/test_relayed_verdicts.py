"""Real OpenSSL peers through a real ``dtlsproxy run``, its pcapng analysed as a user would.

Issue 14: a failed handshake is never called established, and the verdict blames the
right message, on every leg of the relay's own capture.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.peers.capture import record_udp_exchange, write_pcap
from tests.peers.openssl_cli import OpenSslClient, OpenSslServer
from tests.peers.relayed import ROOT, RelayedRun, relay_openssl
from tests.peers.scenarios import CertFiles
from tests.peers.wire import CERTIFICATE_VERIFY, flip_last_byte_of

pytestmark = pytest.mark.peers

CLIENT_FINISHED = "who=client,msg=Finished,encrypted=1,action=corrupt,offset=-1,count=always"


def analyze(capture: RelayedRun | Path, *args: str) -> list[dict[str, Any]]:
    path = capture.pcap if isinstance(capture, RelayedRun) else capture
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(path), "--format",
                        "jsonl", *args], capture_output=True, text=True, cwd=ROOT, check=True)
    return [json.loads(line) for line in r.stdout.splitlines()]


def of(events: list[dict[str, Any]], kind: str, sid: str | None = None) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == kind and (sid is None or e["session"] == sid)]


def leg(events: list[dict[str, Any]], endpoint: str) -> str:
    """The session of the leg that has ``endpoint`` (the relay's capture has two)."""
    (sid,) = [e["session"] for e in of(events, "session_opened") if endpoint in e["endpoints"]]
    return str(sid)


@pytest.fixture(scope="module")
def resumed_finished_corrupted(tmp_path_factory: pytest.TempPathFactory,
                               ecdsa_certs: tuple[CertFiles, CertFiles]) -> RelayedRun:
    """A resumed handshake (the client sends the last flight) whose client Finished is
    corrupted on every copy on its way to the server: s_server keeps retransmitting its
    flight (ServerHello, ChangeCipherSpec, Finished)."""
    openssl = require_tool("openssl")
    return relay_openssl(openssl, tmp_path_factory.mktemp("relayed"), "resumed", *ecdsa_certs,
                         [CLIENT_FINISHED], resume=True, run_for=4.5)


def test_resumption_mirror_server_never_accepts_the_clients_final_flight(
        resumed_finished_corrupted: RelayedRun) -> None:
    run = resumed_finished_corrupted
    live = [json.loads(line) for line in run.log.read_text().splitlines()]
    offline = analyze(run, "--keylog", str(run.keylog))
    for log in (live, offline):
        sessions = {e["session"] for e in of(log, "session")}
        for sid in sessions:
            states = [e["state"] for e in of(log, "session", sid)]
            assert "established" not in states and states[-1] == "failed", (sid, states)
            assert of(log, "session", sid)[-1]["resumption"] is True
    (v,) = of(live, "verdict")  # live, the decoder sees the datagrams as the server got them
    assert v["code"] == "final_flight_rejected"
    assert v["culprit"]["dir"] == "client->server" and v["culprit"]["type"] == "Finished"
    assert v["reason"].startswith("the server never accepted the client's final flight: it "
                                  "retransmitted flight 4 2 times after receiving flight 5")
    # offline, both legs: the Finished differs between them (the relay did it), and on the
    # server's leg, the corrupted copy fails authentication with the key log
    (received,) = of(offline, "verdict", leg(offline, run.upstream))
    assert received["code"] == "altered_in_transit" and received["certain"] is True
    assert received["reason"].startswith("Finished differs between leg ")
    assert ("; the server never accepted the client's final flight: it retransmitted flight "
            "4 2 times after receiving flight 5; the client Finished fails authentication"
            ) in received["reason"]


def test_fragments_lost_in_the_first_copy_of_flight_4_are_filled_by_its_retransmission(
        tmp_path: Path, ecdsa_certs: tuple[CertFiles, CertFiles]) -> None:
    """Issue 14 item 3, live and offline: s_server's fallback MTU splits flight 4 in four
    datagrams; the relay drops the one with the end of the Certificate and the start of
    the ServerKeyExchange. One flight 4, no false finding."""
    openssl = require_tool("openssl")
    run = relay_openssl(openssl, tmp_path, "gaps", *ecdsa_certs,
                        ["who=server,msg=ServerKeyExchange,action=drop,count=1"])
    live = [json.loads(line) for line in run.log.read_text().splitlines()]
    offline = analyze(run)
    flight4 = ["ServerHello", "Certificate", "ServerKeyExchange", "CertificateRequest",
               "ServerHelloDone"]
    for log in (live, of(offline, "flight", leg(offline, run.listen)),
                of(offline, "flight", leg(offline, run.upstream))):
        assert [(e["flight"], e["messages"]) for e in of(log, "flight")
                if e["dir"] == "server->client"][:2] == [(2, ["HelloVerifyRequest"]),
                                                          (4, flight4)]
    assert [e["action"] for e in of(live, "fault")] == ["drop"]
    assert of(live, "verdict") == [] and of(offline, "verdict") == []
    for sid in (leg(offline, run.listen), leg(offline, run.upstream)):
        assert of(offline, "session", sid)[-1]["state"] == "established"


@pytest.mark.parametrize("fixture", ["openssl_ecdsa_capture", "gnutls_openssl_capture"])
@pytest.mark.parametrize("with_keys", [True, False])
def test_close_notify_after_data_both_ways_is_an_orderly_shutdown(
        fixture: str, with_keys: bool, request: pytest.FixtureRequest) -> None:
    """Issue 14 item 4: s_client (or gnutls-cli) and s_server exchange a line each way,
    then the client quits: its close_notify is answered by the server's. Established,
    no verdict, with or without the key log that reads the two alerts."""
    cap = request.getfixturevalue(fixture)
    args = ["--keylog", str(cap.keylog)] if with_keys else []
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(cap.pcap), "--format",
                        "jsonl", "--check", *args], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines()]
    assert of(events, "verdict") == []
    assert [e["state"] for e in of(events, "session")][-1] == "established"
    alerts = [(a["dir"], a["description_name"]) for a in of(events, "alert")]
    names = "close_notify" if with_keys else None
    assert alerts == [("client->server", names), ("server->client", names)]
    (report,) = of(events, "checks")
    assert report["passed"] is True


CV_OF_CLIENT = "who=client,msg=CertificateVerify,action=corrupt,offset=-1"


@pytest.fixture(scope="module")
def certificate_verify_corrupted(tmp_path_factory: pytest.TempPathFactory,
                                 ecdsa_certs: tuple[CertFiles, CertFiles]) -> RelayedRun:
    """The relay flips the last byte of s_client's CertificateVerify on its way to
    s_server, which answers decrypt_error. The relay's pcapng: both legs."""
    openssl = require_tool("openssl")
    return relay_openssl(openssl, tmp_path_factory.mktemp("relayed"), "cv", *ecdsa_certs,
                         [CV_OF_CLIENT], run_for=2.0)


def test_both_legs_name_the_certificate_verify_altered_by_the_relay(
        certificate_verify_corrupted: RelayedRun) -> None:
    """Issue 14 item 2: the same handshake twice in the relay's own capture. On the
    client's leg the CertificateVerify is intact (its signature verifies there), yet the
    finding is the same as on the server's leg: altered between the two, by dtlsproxy
    itself; no Finished is blamed anywhere."""
    run = certificate_verify_corrupted
    events = analyze(run)
    sent, received = leg(events, run.listen), leg(events, run.upstream)
    head = (f"CertificateVerify (message_seq 4) differs between leg {sent} (as sent by the "
            f"client) and leg {received} (as received by the server) at byte ")
    for sid, signature in ((sent, True), (received, False)):
        (v,) = of(events, "verdict", sid)
        assert v["code"] == "altered_in_transit" and v["certain"] is True, v
        assert v["reason"].startswith(head), v["reason"]
        assert ": altered in transit, by dtlsproxy itself" in v["reason"]
        assert (v["culprit"]["dir"], v["culprit"]["type"]) == ("client->server",
                                                              "CertificateVerify")
        checks = {c["name"]: c["passed"] for c in v["evidence"]}
        assert checks["legs agree"] is False
        assert checks["client CertificateVerify signature"] is signature
        legs = [e["legs"] for e in of(events, "session", sid)][-1]
        assert legs == [received if sid == sent else sent]
    assert not [v for v in of(events, "verdict") if "Finished" in v["culprit"]["type"]]
    # the same output whatever the number of processes (legs stay in one)
    assert analyze(run, "--jobs", "2") == events
    text = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(run.pcap)],
                          capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert (f"  legs {sent} = {received}: one handshake seen at 2 points, its messages "
            "compared") in text.splitlines()[:3]


def test_two_captures_merged_with_mergecap_name_the_altered_message(
        tmp_path: Path, ecdsa_certs: tuple[CertFiles, CertFiles]) -> None:
    """Issue 14 item 2 without dtlsproxy: s_client -> A -> B -> s_server, two recording
    forwarders, A flips the last byte of the CertificateVerify. A's capture (as the
    client sent it) and B's (as the server got it), merged by Wireshark's mergecap."""
    openssl = require_tool("openssl")
    mergecap = require_tool("mergecap")
    server, client = ecdsa_certs

    def corrupt(direction: str, data: bytes) -> bytes:
        return flip_last_byte_of(CERTIFICATE_VERIFY, data) if direction == "c2s" else data

    with OpenSslServer(openssl, server.cert, server.key, srtp=None) as srv:
        addr = srv.wait_ready()
        with record_udp_exchange(addr) as b, record_udp_exchange(b.listen_addr,
                                                                 transform=corrupt) as a:
            with OpenSslClient(openssl, a.listen_addr, client.cert, client.key, srtp=None):
                srv.wait_for("alert|error", 20)
                time.sleep(0.5)
            caps = [write_pcap(tmp_path / f"{n}.pcap", r.snapshot()) for n, r in (("a", a),
                                                                                   ("b", b))]
    merged = tmp_path / "merged.pcapng"
    subprocess.run([mergecap, "-w", str(merged), *map(str, caps)], check=True,
                   capture_output=True)
    events = analyze(merged)
    sessions = [e["session"] for e in of(events, "session_opened")]
    assert len(sessions) == 2
    for sid in sessions:
        (v,) = of(events, "verdict", sid)
        assert v["code"] == "altered_in_transit", v
        assert re.match(r"CertificateVerify \(message_seq 4\) differs between leg s1 \(as sent "
                        r"by the client\) and leg s2 \(as received by the server\) at byte \d+ "
                        r"of its body: altered in transit(;|$)", v["reason"]), v["reason"]
        assert "dtlsproxy" not in v["reason"]  # nobody marked those captures
