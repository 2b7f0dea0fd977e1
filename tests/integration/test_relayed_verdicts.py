"""Real OpenSSL peers through a real ``dtlsproxy run``, its pcapng analysed as a user would.

Issue 14: a failed handshake is never called established, and the verdict blames the
right message, on every leg of the relay's own capture.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.peers.relayed import ROOT, RelayedRun, relay_openssl
from tests.peers.scenarios import CertFiles

pytestmark = pytest.mark.peers

CLIENT_FINISHED = "who=client,msg=Finished,encrypted=1,action=corrupt,offset=-1,count=always"


def analyze(run: RelayedRun, *args: str) -> list[dict[str, Any]]:
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(run.pcap), "--format",
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
    # offline: the server's leg (upstream) holds the corrupted copy, proved with the key log
    (received,) = of(offline, "verdict", leg(offline, run.upstream))
    assert received["code"] == "final_flight_rejected" and received["certain"] is True
    assert "the client Finished fails authentication" in received["reason"]
