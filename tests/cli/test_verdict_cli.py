"""Scenario 1 with the real OpenSSL command line: s_client -> forwarder (flips the last byte
of the client's CertificateVerify with the relay's fault rule) -> s_server, recorded as
pcapng; ``dtlsproxy analyze`` on it names the culprit and the reason in its first screen.
"""

from __future__ import annotations

import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from proxy.capture.pcap import PcapngWriter
from proxy.events import Datagram
from proxy.relay.faults import FaultEngine, parse_rule
from tests.conftest import require_tool
from tests.peers.fixtures import write_cert_files
from tests.peers.openssl_cli import OpenSslClient, OpenSslServer

Address = tuple[str, int]
CORRUPT_CV = "who=client,msg=CertificateVerify,action=corrupt,offset=-1"


class FaultyForwarder:
    """client -> listen -> server and back on loopback, applying fault rules client->server.

    ``datagrams`` holds what crossed, as the relay's Tracker sees it (after the fault),
    with the client's view of the 5-tuple.
    """

    def __init__(self, server: Address, rules: list[str]) -> None:
        self.server = server
        self.faults = FaultEngine([parse_rule(r) for r in rules])
        self.datagrams: list[Datagram] = []
        self.lock = threading.Lock()
        self.listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.listen.bind(("127.0.0.1", 0))
        self.up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.up.bind(("127.0.0.1", 0))
        self.client: Address | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @property
    def addr(self) -> Address:
        h, p = self.listen.getsockname()[:2]
        return (str(h), int(p))

    def run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.listen, selectors.EVENT_READ)
        sel.register(self.up, selectors.EVENT_READ)
        try:
            while not self.stop.is_set():
                for key, _ in sel.select(timeout=0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    data, src = sock.recvfrom(65535)
                    now = time.time()
                    if sock is self.listen:
                        self.client = (str(src[0]), int(src[1]))
                        emissions, _ = self.faults.apply(data, "a")
                        self.record(now, self.client, self.addr,
                                    emissions[0].data if emissions else data)
                        for e in emissions:
                            self.up.sendto(e.data, self.server)
                    elif self.client is not None:
                        self.record(now, self.addr, self.client, data)
                        self.listen.sendto(data, self.client)
        finally:
            sel.close()

    def record(self, ts: float, src: Address, dst: Address, data: bytes) -> None:
        with self.lock:
            self.datagrams.append(Datagram(ts, src, dst, data, len(self.datagrams) + 1))

    def alert_seen(self) -> bool:
        with self.lock:
            return any(d.data[:1] == b"\x15" for d in self.datagrams)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.listen.close()
        self.up.close()


@pytest.fixture(scope="module")
def cv_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    openssl = require_tool("openssl")
    d = tmp_path_factory.mktemp("cli")
    scert, ccert = write_cert_files(d, "server"), write_cert_files(d, "client")
    with OpenSslServer(openssl, scert.cert, scert.key) as server:
        fwd = FaultyForwarder(server.wait_ready(), [CORRUPT_CV])
        try:
            with OpenSslClient(openssl, fwd.addr, ccert.cert, ccert.key):
                deadline = time.monotonic() + 15
                while not fwd.alert_seen() and time.monotonic() < deadline:
                    time.sleep(0.05)
                time.sleep(0.2)
        finally:
            fwd.close()
    assert fwd.alert_seen(), "s_server sent no alert"
    path = d / "scenario1.pcapng"
    w = PcapngWriter(path)
    for dg in fwd.datagrams:
        w.write(dg)
    w.close()
    return path


def test_analyze_prints_culprit_and_reason_in_first_screen(cv_capture: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(cv_capture)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    screen = r.stdout.splitlines()[:25]
    assert ("  VERDICT: client CertificateVerify signature does not verify under the client "
            "certificate's key (EC P-256, ecdsa_secp256r1_sha256): the server answered "
            "decrypt_error") in screen, r.stdout
    culprit = [line for line in screen if line.startswith("    culprit: ")]
    assert culprit and culprit[0].startswith(
        "    culprit: client->server flight 5 CertificateVerify (message_seq 4)"), r.stdout


def test_analyze_jsonl_has_the_verdict_event(cv_capture: Path) -> None:
    import json

    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(cv_capture),
                        "--format", "jsonl"], capture_output=True, text=True, timeout=60)
    events = [json.loads(line) for line in r.stdout.splitlines()]
    (v,) = [e for e in events if e["event"] == "verdict"]
    assert v["code"] == "certificate_verify_bad_signature" and v["certain"] is True
    assert v["culprit"]["type"] == "CertificateVerify" and v["culprit"]["flight"] == 5
    failed = [c["name"] for c in v["evidence"] if c["passed"] is False]
    assert failed == ["client CertificateVerify signature"]
