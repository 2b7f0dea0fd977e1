"""`dtlsproxy run` (a subprocess) between real DTLS peers on loopback.

openssl s_client -> side A | proxy | side B -> openssl s_server (two-sided, the
server's address fixed, the client latched); gnutls-cli -> listen | proxy | upstream
-> s_server (reverse). Mutual ECDSA, use_srtp, a line of application data each way.
The JSONL log must hold the flights with the right messages; fault flags reproduce a
lost flight 4 (retransmission) and a decrypt_error.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from proxy.capture.pcap import read_capture
from proxy.decode.dtls.record import Record, parse_records
from tests.conftest import require_tool
from tests.peers.gnutls_cli import GnutlsClient
from tests.peers.openssl_cli import OpenSslClient, OpenSslServer
from tests.peers.process import ToolProcess
from tests.peers.scenarios import CertFiles
from tests.sdp_text import minimal_sdp

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.peers

CLIENT_LINE = "hello from the client through the proxy"
SERVER_LINE = "hello from the server through the proxy"

FLIGHT_4 = ["ServerHello", "Certificate", "ServerKeyExchange", "CertificateRequest",
            "ServerHelloDone"]
FLIGHT_5 = ["Certificate", "ClientKeyExchange", "CertificateVerify", "ChangeCipherSpec",
            "Finished"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proxy(ToolProcess):
    """``dtlsproxy run --headless`` as a child process."""

    def __init__(self, *args: str) -> None:
        super().__init__([sys.executable, "-m", "proxy", "run", "--headless",
                          "--silence-after", "0", *args],
                         env={"PYTHONPATH": str(ROOT), "NO_COLOR": "1"})

    def wait_ready(self) -> None:
        self.wait_for(r"INFO listening: .*(side B|reverse mode)", 20)

    def finish(self) -> str:
        """SIGINT (Ctrl-C): the relay closes its sessions and flushes the log."""
        return self.stop(signal.SIGINT, group=False)


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def flights(log: list[dict[str, Any]]) -> list[tuple[int, list[str]]]:
    return [(e["flight"], e["messages"]) for e in log if e["event"] == "flight"]


def exchange(client: OpenSslClient | GnutlsClient, server: OpenSslServer) -> None:
    server.wait_handshake(20)
    client.wait_handshake(20)
    client.send(f"{CLIENT_LINE}\n".encode())
    server.wait_for(CLIENT_LINE)
    server.send(f"{SERVER_LINE}\n".encode())
    client.wait_for(SERVER_LINE)
    client.quit()
    server.wait(10)


def two_sided(tmp_path: Path, server_addr: tuple[str, int], *extra: str) -> tuple[Proxy, int]:
    side_a = free_port()
    proxy = Proxy("--side-a", f"127.0.0.1:{side_a}", "--side-b", "127.0.0.1:0",
                  "--peer-b", f"127.0.0.1:{server_addr[1]}", "--label-a", "s_client",
                  "--label-b", "s_server", "--log-file", str(tmp_path / "run.jsonl"),
                  "--pcap", str(tmp_path / "run.pcapng"), *extra)
    proxy.wait_ready()
    return proxy, side_a


def test_openssl_handshake_and_data_survive_and_the_log_has_every_flight(
    ecdsa_certs: tuple[CertFiles, CertFiles], tmp_path: Path
) -> None:
    openssl = require_tool("openssl")
    server, client = ecdsa_certs
    with OpenSslServer(openssl, server.cert, server.key) as srv:
        addr = srv.wait_ready()
        proxy, side_a = two_sided(tmp_path, addr)
        with proxy, OpenSslClient(openssl, ("127.0.0.1", side_a), client.cert,
                                  client.key) as cli:
            exchange(cli, srv)
            console = proxy.finish()
    log = read_log(tmp_path / "run.jsonl")
    assert flights(log) == [
        (1, ["ClientHello"]),
        (2, ["HelloVerifyRequest"]),
        (3, ["ClientHello"]),
        (4, FLIGHT_4),
        (5, FLIGHT_5),
        (6, ["NewSessionTicket", "ChangeCipherSpec", "Finished"]),
    ]
    dirs = {e["flight"]: e["dir"] for e in log if e["event"] == "flight"}
    assert dirs[1] == dirs[5] == "client->server"
    assert dirs[4] == "server->client"
    (opened,) = [e for e in log if e["event"] == "session_opened"]
    assert opened["labels"] == ["s_client", "s_server"]  # the configured side labels
    summary = [e for e in log if e["event"] == "session"][-1]
    assert summary["state"] == "established"
    assert summary["srtp_profile"] == "SRTP_AES128_CM_HMAC_SHA1_80"
    assert not [e for e in log if e["event"] == "fault"]
    assert os.stat(tmp_path / "run.jsonl").st_mode & 0o777 == 0o600
    # headless console: one line per flight
    assert "flight 4: ServerHello, Certificate, ServerKeyExchange" in console
    assert "Traceback" not in console
    # the pcapng holds both legs: every datagram twice (in and out), byte-identical
    legs = [d.data for d in read_capture(tmp_path / "run.pcapng")]
    assert len(legs) % 2 == 0 and legs[0::2] == legs[1::2]


def test_an_sdp_saved_during_the_call_is_checked_at_once(
    ecdsa_certs: tuple[CertFiles, CertFiles], tmp_path: Path
) -> None:
    """--sdp files are followed: the answer, an empty file when the proxy starts, is
    saved after the handshake (here with a fingerprint no certificate has); within a
    second a notice says what was read, and the established session gets its finding
    without waiting for another datagram."""
    openssl = require_tool("openssl")
    server, client = ecdsa_certs
    answer = tmp_path / "answer.sdp"
    answer.write_text("")
    with OpenSslServer(openssl, server.cert, server.key) as srv:
        addr = srv.wait_ready()
        proxy, side_a = two_sided(tmp_path, addr, "--sdp", str(answer))
        with proxy, OpenSslClient(openssl, ("127.0.0.1", side_a), client.cert,
                                  client.key) as cli:
            exchange(cli, srv)
            proxy.wait_for(r"s1 established", 10)
            wrong = "AB:" * 31 + "CD"
            assert wrong != server.fingerprint
            answer.write_text(minimal_sdp("passive", wrong))
            proxy.wait_for(r"does not match the SDP a=fingerprint", 10)
            proxy.finish()
    log = read_log(tmp_path / "run.jsonl")
    notices = [e for e in log if e["event"] == "notice" and e["code"] == "sdp"]
    assert [n["message"] for n in notices] == [
        f"--sdp {answer}: empty for now: read when written",
        f"--sdp {answer} changed: a=setup passive; fingerprint sha-256 {wrong}; 0 candidates"]
    (verdict,) = [e for e in log if e["event"] == "verdict"]
    assert verdict["code"] == "fingerprint_mismatch"
    assert verdict["culprit"]["type"] == "Certificate"
    assert verdict["culprit"]["dir"] == "server->client"
    assert log.index(notices[1]) < log.index(verdict)


def test_gnutls_client_through_reverse_mode(
    ecdsa_certs: tuple[CertFiles, CertFiles], tmp_path: Path
) -> None:
    openssl = require_tool("openssl")
    gnutls = require_tool("gnutls-cli")
    server, client = ecdsa_certs
    listen = free_port()
    with OpenSslServer(openssl, server.cert, server.key) as srv:
        addr = srv.wait_ready()
        with Proxy("--listen", f"127.0.0.1:{listen}", "--upstream", f"127.0.0.1:{addr[1]}",
                   "--log-file", str(tmp_path / "gnutls.jsonl")) as proxy:
            proxy.wait_ready()
            with GnutlsClient(gnutls, ("127.0.0.1", listen), client.cert, client.key) as cli:
                exchange(cli, srv)
            proxy.finish()
    log = read_log(tmp_path / "gnutls.jsonl")
    got = [f for f, _ in flights(log)]
    assert got[:6] == [1, 2, 3, 4, 5, 6]
    assert dict(flights(log))[5] == FLIGHT_5
    assert [e for e in log if e["event"] == "session"][-1]["state"] == "established"


def test_dropping_the_first_flight_4_datagram_shows_the_retransmission(
    ecdsa_certs: tuple[CertFiles, CertFiles], tmp_path: Path
) -> None:
    openssl = require_tool("openssl")
    server, client = ecdsa_certs
    with OpenSslServer(openssl, server.cert, server.key) as srv:
        addr = srv.wait_ready()
        proxy, side_a = two_sided(tmp_path, addr, "--fault", "who=server,flight=4,action=drop")
        with proxy, OpenSslClient(openssl, ("127.0.0.1", side_a), client.cert,
                                  client.key) as cli:
            exchange(cli, srv)  # the handshake survives the loss
            proxy.finish()
    log = read_log(tmp_path / "run.jsonl")
    (fault,) = [e for e in log if e["event"] == "fault"]
    assert (fault["action"], fault["rule"]) == ("drop", "who=server,flight=4,action=drop")
    assert fault["session"] == "s1"
    copies = [e for e in log if e["event"] == "message" and e["flight"] == 4 and e["copy"] > 1]
    assert {e["type"] for e in copies} >= {"ServerHello"}
    # both timers fire: the client resends flight 3 (flight 4 incomplete), the server flight 4
    retrans = {(e["dir"], e["flight"]) for e in log if e["event"] == "flight_retransmitted"}
    assert ("server->client", 4) in retrans


def test_corrupt_certificate_verify_gets_decrypt_error_from_openssl(
    ecdsa_certs: tuple[CertFiles, CertFiles], tmp_path: Path
) -> None:
    openssl = require_tool("openssl")
    server, client = ecdsa_certs
    rule = "who=client,msg=CertificateVerify,action=corrupt,offset=-1"
    keys = tmp_path / "keys.log"  # created 0600 by the proxy, appended to by s_client
    with OpenSslServer(openssl, server.cert, server.key) as srv:
        addr = srv.wait_ready()
        proxy, side_a = two_sided(tmp_path, addr, "--fault", rule, "--keylog", str(keys))
        assert os.stat(keys).st_mode & 0o777 == 0o600
        with proxy, OpenSslClient(openssl, ("127.0.0.1", side_a), client.cert,
                                  client.key, keylog=keys) as cli:
            with pytest.raises(RuntimeError, match="alert decrypt error"):
                cli.wait_handshake(20)
            cli.wait(10)
            proxy.finish()
    # on the wire: s_server's plaintext fatal alert decrypt_error reached s_client
    legs = list(read_capture(tmp_path / "run.pcapng"))
    to_client = [d.data for d in legs if d.dst[1] == cli_port(legs, side_a)]
    alerts = [
        r.fragment for d in to_client for r in parse_records(d)
        if isinstance(r, Record) and r.content_type == 21 and r.epoch == 0
    ]
    assert alerts == [bytes([2, 51])]
    log = read_log(tmp_path / "run.jsonl")
    (fault,) = [e for e in log if e["event"] == "fault"]
    assert fault["action"] == "corrupt" and "CertificateVerify body" in fault["detail"]
    (alert,) = [e for e in log if e["event"] == "alert"]
    assert (alert["description_name"], alert["answers_flight"]) == ("decrypt_error", 5)
    assert alert["dir"] == "server->client"
    # the decoder saw the bytes the server judged: the verdict names the signature;
    # with the key log it could also decrypt and check the client Finished (which
    # covers the corrupted message too, so it cannot match)
    (verdict,) = [e for e in log if e["event"] == "verdict"]
    assert verdict["code"] == "certificate_verify_bad_signature"
    assert verdict["culprit"]["type"] == "CertificateVerify"
    checks = {c["name"]: c for c in verdict["evidence"]}
    assert checks["client CertificateVerify signature"]["passed"] is False
    assert "decrypts" in checks["client Finished"]["detail"]
    assert "CLIENT_RANDOM" not in (tmp_path / "run.jsonl").read_text()


def cli_port(legs: list[Any], side_a: int) -> int:
    """s_client's port: the source of the first datagram that reached side A."""
    first = next(d for d in legs if d.dst[1] == side_a)
    return int(first.src[1])


def test_cli_reports_port_in_use_in_one_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        proxy = Proxy("--side-a", f"127.0.0.1:{port}", "--side-b", "127.0.0.1:0")
        code = proxy.wait(20)
        out = proxy.stop()
    assert code == 1
    assert out.strip() == (
        f"dtlsproxy run: cannot bind side A 127.0.0.1:{port}: port {port} is already in use "
        "(another dtlsproxy, or the peer itself?); pick another port or stop that process"
    )
