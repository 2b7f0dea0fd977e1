"""What changed, and since when: a real ``dtlsproxy run`` (reverse mode) in front of
``openssl s_server``, whose certificate is swapped after three handshakes; the client
(``openssl s_client``) trusts only the first one. The live log, and ``analyze`` of the
relay's capture, say since when every handshake fails and that the server certificate
changed then."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.peers.openssl_cli import OpenSslClient, OpenSslServer
from tests.peers.process import ToolProcess
from tests.peers.scenarios import write_cert_files

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 3
SINCE = re.compile(
    r"since (\d\d:\d\d:\d\d) every handshake between 127\.0\.0\.1 and \S+ fails "
    r"\(3 of 3, fatal (\w+) after flight 4\); before it 3 of 3 succeeded; what changed at "
    r"\1: the server certificate \(([0-9A-F:]+)\.\.\., issued \d\d:\d\d:\d\d; before "
    r"([0-9A-F:]+)\.\.\.\)")


SINCE_BOTH_LEGS = re.compile(
    r"since (\d\d:\d\d:\d\d) every handshake fails \((\d+) of \2, fatal unknown_ca after "
    r"flight 4\); before it (\d+) of \3 succeeded; what changed at \1: the server "
    r"certificate \(")
"""The relay's capture has both legs of each handshake: twice the sessions, two pairs."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proxy(ToolProcess):
    def __init__(self, *args: str) -> None:
        super().__init__([sys.executable, "-m", "proxy", "run", "--headless",
                          "--silence-after", "0", *args],
                         env={"PYTHONPATH": str(ROOT), "NO_COLOR": "1"})


@pytest.fixture(scope="module")
def swapped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    openssl = require_tool("openssl")
    work = tmp_path_factory.mktemp("swap")
    old, new = write_cert_files(work, "server-old"), write_cert_files(work, "server-new")
    client_id = write_cert_files(work, "client")
    upstream, listen = _free_port(), _free_port()
    log, pcap = work / "run.jsonl", work / "run.pcapng"
    proxy = Proxy("--listen", f"127.0.0.1:{listen}", "--upstream", f"127.0.0.1:{upstream}",
                  "--log-file", str(log), "--pcap", str(pcap))
    with proxy:
        proxy.wait_for(r"INFO listening: .*reverse mode", 20)
        for i in range(2 * ROUNDS):
            cert = old if i < ROUNDS else new
            with OpenSslServer(openssl, cert.cert, cert.key, port=upstream) as srv:
                srv.wait_for(r"^ACCEPT", 10)
                with OpenSslClient(openssl, ("127.0.0.1", listen), client_id.cert,
                                   client_id.key, extra=["-verify", "1",
                                                         "-verify_return_error",
                                                         "-CAfile", str(old.cert)]) as cli:
                    if i < ROUNDS:
                        srv.wait_handshake(20)
                        cli.wait_handshake(20)
                        cli.send(b"media would flow now\n")  # data: the handshake is confirmed
                        srv.wait_for("media would flow now", 10)
                        cli.quit()
                        srv.wait(10)
                    else:  # s_client refuses the new certificate and exits
                        cli.wait(20)
        console = proxy.stop(signal.SIGINT, group=False)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return {"events": events, "console": console, "pcap": pcap, "old": old, "new": new}


def test_live_notice_says_since_when_and_what_changed(swapped: dict[str, Any]) -> None:
    notices = [e for e in swapped["events"] if e["event"] == "notice" and e["code"] == "change"]
    assert notices, swapped["console"][-2000:]
    m = SINCE.search(notices[-1]["message"])
    assert m, notices[-1]["message"]
    assert swapped["new"].fingerprint.startswith(m.group(3))
    assert swapped["old"].fingerprint.startswith(m.group(4))
    # the console of run shows it too
    assert SINCE.search(swapped["console"]), swapped["console"][-2000:]


def test_analyze_overview_of_the_relay_capture(swapped: dict[str, Any]) -> None:
    res = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(swapped["pcap"])],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    head = res.stdout.split("Session s1")[0]
    assert "What changed:" in head
    m = SINCE_BOTH_LEGS.search(head)
    assert m and m.group(2) == m.group(3) == str(2 * ROUNDS), head
    assert re.search(r"\n\s+6  established, client OpenSSL 3\.0\.x, server OpenSSL", head), head
    assert re.search(r"\n\s+6  failed \(fatal unknown_ca after flight 4\)", head), head


def test_failures_only_from_one_client_stack_and_two_datagram_hellos() -> None:
    """The correlation sentences, on shapes as the tracker keeps them (counts say all)."""
    from proxy.compare.changes import ChangeTracker, SessionShape

    t = ChangeTracker()
    for i in range(6):
        bad = i % 2 == 1
        t.shapes[f"s{i}"] = SessionShape(
            f"s{i}", 100.0 + i, client=f"10.0.0.{i}:5000", server="janus",
            state="failed" if bad else "established",
            failure="fatal handshake_failure after flight 1" if bad else None,
            client_stack="Chromium (libwebrtc, BoringSSL) 156" if bad else "Firefox (NSS) 125",
            hello_datagrams=2 if bad else 1)
    found = t.findings()
    assert ("failures only from clients with stack Chromium (libwebrtc, BoringSSL) 156 "
            "(3 of 3 failures; none of the 3 successes)") in found
    assert ("failures only when the ClientHello needs two datagrams (3 of 3 failures; none "
            "of the 3 successes)") in found
    assert not any(f.startswith("since") for f in found)  # alternating: no change in time


def test_the_reports_say_since_when_and_compare_with_a_session_that_worked(
        swapped: dict[str, Any]) -> None:
    """``--format html`` and ``markdown`` of the same capture: the overview's "what
    changed" sentence, and each failed session compared with one that established."""
    for fmt in ("html", "markdown"):
        res = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(swapped["pcap"]),
                              "--format", fmt], capture_output=True, text=True, timeout=120,
                             cwd=ROOT)
        assert res.returncode == 0, res.stderr
        text = res.stdout
        first = text.index("## s" if fmt == "markdown" else '<section class="session')
        head = text[:first]
        assert ("<h3>What changed</h3>" if fmt == "html" else "**What changed:**") in head
        m = SINCE_BOTH_LEGS.search(head)
        assert m and m.group(2) == m.group(3) == str(2 * ROUNDS), head
        compared = re.findall(r"Compared with (?:<a href=\"#)?(s\d+)", text)
        assert len(compared) == 2 * ROUNDS  # every failed session (both legs of each)
        sentence = re.search(r"(?:<p class=\"diffsum\">|\(established\):\*\* )(.*)", text)
        assert sentence and "different server certificate" in sentence.group(1), text[:3000]
