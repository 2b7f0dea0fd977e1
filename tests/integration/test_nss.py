"""DTLS 1.3 between two real NSS tstclnt (Firefox ESR's NSS 3.125, RFC 9147) through
``dtlsproxy run``, decrypted live with the key logs the peers write while it runs.

tstclnt -P client -> run --listen | reverse relay | --upstream -> tstclnt -P server,
each peer with its own SSLKEYLOGFILE, both given to the proxy with --keylog (created
empty, 0600, by the proxy before the peers start: it follows them as they grow). Then
the same capture offline (``analyze``), a HelloRetryRequest and a resumption, a
CertificateVerify altered and re-encrypted by a fault rule (the client's decrypt_error,
decrypted, names it) and a ciphertext corrupted on the way (a record that fails to
authenticate).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from proxy.capture.pcap import read_capture_secrets
from tests.conftest import IN_CI, require_tool
from tests.peers.nss import NssOptions, NssPeer, available, make_cert_db, nss_server
from tests.relay.test_relay_peers import Proxy, free_port, read_log

pytestmark = pytest.mark.peers
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_tool("tstclnt")
    why = available()
    if why is not None:
        if IN_CI:
            pytest.fail(why)
        pytest.skip(why)
    return make_cert_db(tmp_path_factory.mktemp("nssdb"))


def run_through_proxy(tmp: Path, db: Path, *faults: str, server: NssOptions | None = None,
                      client: NssOptions | None = None, talk: bool = True,
                      wait: float = 2.0, two_sided: bool = False,
                      pcap_keys: bool = False, until: str | None = None
                      ) -> list[dict[str, Any]]:
    """One tstclnt exchange through ``dtlsproxy run``; the JSONL log. Reverse mode (a
    socket toward the server per client), or ``two_sided``: one socket toward the server
    for every client port of 127.0.0.1 (``--allow-a``), as a browser-facing relay has
    (tstclnt's server serves its second connection only from the first one's port).
    ``until``: a regex of the proxy's console to wait for (up to 30 s, a loaded machine
    is slow) after ``wait``, before the proxy is stopped."""
    skeys, ckeys = tmp / "server.keys", tmp / "client.keys"
    args = ["--pcap-keys"] if pcap_keys else []
    for f in faults:
        args += ["--fault", f]
    with nss_server(tmp, db, server) as (srv, port):
        listen = free_port()
        where = (["--side-a", f"127.0.0.1:{listen}", "--allow-a", "127.0.0.1",
                  "--side-b", "127.0.0.1:0", "--peer-b", f"127.0.0.1:{port}"] if two_sided
                 else ["--listen", f"127.0.0.1:{listen}", "--upstream", f"127.0.0.1:{port}"])
        proxy = Proxy(*where, "--keylog", str(ckeys), "--keylog", str(skeys),
                      "--log-file", str(tmp / "run.jsonl"), "--pcap", str(tmp / "run.pcapng"),
                      *args)
        with proxy:
            proxy.wait_ready()
            for k in (ckeys, skeys):  # made by the proxy before the peers write to them
                assert os.stat(k).st_mode & 0o777 == 0o600
            with NssPeer("client", "127.0.0.1", listen, db, ckeys, client) as cli:
                if talk:  # a peer that aborted the handshake has exited: nothing to say
                    with contextlib.suppress(BrokenPipeError):
                        cli.send(b"hello from the client through the proxy\n")
                    time.sleep(0.5)
                    with contextlib.suppress(BrokenPipeError):
                        srv.send(b"hello from the server through the proxy\n")
                time.sleep(wait)
                if until is not None:
                    proxy.wait_for(until, 30)
            proxy.finish()
    return read_log(tmp / "run.jsonl")


def messages(log: list[dict[str, Any]], session: str = "s1") -> list[tuple[str, Any, str]]:
    return [(e["dir"], e["flight"], e["type"]) for e in log
            if e["event"] == "message" and e["session"] == session and e["copy"] == 1]


def checks(log: list[dict[str, Any]], session: str = "s1") -> dict[str, Any]:
    (report,) = [e for e in log if e["event"] == "checks" and e["session"] == session]
    return {c["name"]: c["passed"] for c in report["evidence"]}


C2S, S2C = "client->server", "server->client"


@pytest.fixture(scope="module")
def one_rtt(db: Path, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("nss-1rtt")
    return tmp, run_through_proxy(tmp, db, pcap_keys=True)


def test_live_every_message_decrypted_and_verified(
        one_rtt: tuple[Path, list[dict[str, Any]]]) -> None:
    tmp, log = one_rtt
    got = messages(log)
    for m in [(S2C, 4, "ServerHello"), (S2C, 4, "EncryptedExtensions"), (S2C, 4, "Certificate"),
              (S2C, 4, "CertificateVerify"), (S2C, 4, "Finished"), (C2S, 5, "Finished"),
              (S2C, 6, "ACK")]:
        assert m in got, (m, got)
    c = checks(log)
    for name in ("server CertificateVerify signature", "server Finished", "client Finished",
                 "records authenticate", "key logs agree"):
        assert c[name] is True, name
    (summary,) = [e for e in log if e["event"] == "session" and e["state"] == "established"][-1:]
    assert summary["version"] == "DTLS 1.3"
    assert summary["note"].startswith("DTLS 1.3 records decrypted with the key log")
    text = (tmp / "run.jsonl").read_text()
    secrets = [ln.split()[-1] for ln in (tmp / "client.keys").read_text().splitlines()
               if ln and not ln.startswith("#")]
    assert len(secrets) == 5 and not [x for x in secrets if x in text]
    records = [e for e in log if e["event"] == "record" and e["unified"]]
    assert records and all(e["decrypted"] and e["sequence"] is not None for e in records)


def test_offline_analyze_of_the_relay_pcap_decrypts_the_same(
        one_rtt: tuple[Path, list[dict[str, Any]]]) -> None:
    tmp, _live = one_rtt
    out = subprocess.run(
        [sys.executable, "-m", "proxy", "analyze", str(tmp / "run.pcapng"), "--keylog",
         str(tmp / "client.keys"), "--format", "jsonl"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60, check=True)
    import json

    offline = [json.loads(x) for x in out.stdout.splitlines()]
    legs = {e["session"] for e in offline if e["event"] == "session_opened"}
    assert len(legs) == 2  # client <-> proxy and proxy <-> server
    for sid in legs:
        assert (S2C, 4, "CertificateVerify") in messages(offline, sid)
        assert checks(offline, sid)["server Finished"] is True


def test_the_relay_pcapng_carries_the_handshakes_secrets(
        one_rtt: tuple[Path, list[dict[str, Any]]]) -> None:
    """--pcap-keys: a Decryption Secrets Block with this handshake's key log lines (the
    two legs share the ClientHello), read back with no --keylog."""
    tmp, _live = one_rtt
    assert os.stat(tmp / "run.pcapng").st_mode & 0o777 == 0o600
    lines = read_capture_secrets(tmp / "run.pcapng")
    keys = {ln for ln in (tmp / "client.keys").read_text().splitlines()
            if ln and not ln.startswith("#")}
    assert set(lines) == keys and len(lines) == 5
    out = subprocess.run(  # no --keylog: analyze uses the capture's own secrets, as tshark
        [sys.executable, "-m", "proxy", "analyze", str(tmp / "run.pcapng"), "--format", "jsonl"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60, check=True)
    import json

    offline = [json.loads(x) for x in out.stdout.splitlines()]
    legs = {e["session"] for e in offline if e["event"] == "session_opened"}
    assert len(legs) == 2
    for sid in legs:
        assert (S2C, 4, "CertificateVerify") in messages(offline, sid)
        assert checks(offline, sid)["server Finished"] is True
        assert checks(offline, sid)["client Finished"] is True


def test_hello_retry_request_through_the_proxy(db: Path, tmp_path: Path) -> None:
    log = run_through_proxy(tmp_path, db, server=NssOptions(groups="x25519"),
                            client=NssOptions(groups="P256,x25519"))
    got = [m for m in messages(log) if m[2] != "ACK"]  # NSS may ACK the HRR (epoch 0)
    assert got[:4] == [(C2S, 1, "ClientHello"), (S2C, 2, "HelloRetryRequest"),
                       (C2S, 3, "ClientHello"), (S2C, 4, "ServerHello")]
    c = checks(log)
    assert c["HelloRetryRequest"] is True and c["client Finished"] is True


def test_resumption_through_the_proxy(db: Path, tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text("client says hi\n")
    server = NssOptions(tickets=True, connections=2, quit_after_handshake=True)
    client = NssOptions(tickets=True, connections=2, request_file=tmp_path / "c.txt")
    log = run_through_proxy(tmp_path, db, server=server, client=client, talk=False,
                            two_sided=True, until=r"s2 client->server flight 3: .*Finished")
    sessions = [e["session"] for e in log if e["event"] == "session_opened"]
    assert len(sessions) == 2
    second = messages(log, sessions[1])
    assert (S2C, 2, "ServerHello") in second and (C2S, 3, "Finished") in second
    assert not [m for m in second if m[2] == "Certificate"]
    summaries = [e for e in log if e["event"] == "session" and e["session"] == sessions[1]]
    assert summaries[-1]["resumption"] is True and summaries[-1]["state"] == "established"
    assert checks(log, sessions[1])["client Finished"] is True


def test_corrupted_certificate_verify_gets_the_clients_decrypt_error(
        db: Path, tmp_path: Path) -> None:
    rule = "who=server,msg=CertificateVerify,action=corrupt,offset=-1"
    log = run_through_proxy(tmp_path, db, rule)
    (fault,) = [e for e in log if e["event"] == "fault"]
    assert "encrypted it again" in fault["detail"]
    alerts = [e for e in log if e["event"] == "alert"]
    assert alerts and alerts[0]["dir"] == C2S and alerts[0]["encrypted"]
    assert alerts[0]["description_name"] == "decrypt_error"  # decrypted with the key log
    assert alerts[0]["answers_flight"] == 4
    (verdict,) = [e for e in log if e["event"] == "verdict"
                  and e["code"] == "certificate_verify_bad_signature"]
    assert verdict["culprit"]["type"] == "CertificateVerify"
    assert verdict["culprit"]["dir"] == S2C and verdict["certain"]
    assert "client answered decrypt_error" in verdict["reason"]
    states = [e["state"] for e in log if e["event"] == "session"]
    assert states[-1] == "failed" and "established" not in states


def test_corrupted_ciphertext_is_a_record_that_failed_to_authenticate(
        db: Path, tmp_path: Path) -> None:
    rule = "who=server,content=dtls,encrypted=1,action=corrupt,offset=-1,count=1"
    log = run_through_proxy(tmp_path, db, rule, wait=3.0)
    (fault,) = [e for e in log if e["event"] == "fault"]
    failed = [e for e in log if e["event"] == "message" and e.get("error")
              and "record failed to authenticate" in e["error"]]
    assert failed and failed[0]["frames"] == [fault["frame"]]
    assert any(e["event"] == "verdict" and e["code"] == "record_auth_failed" for e in log)



def test_readme_dtls13_demo_script(db: Path) -> None:
    """The README's DTLS 1.3 demo (scripts/dtls13-demo.sh --headless): the proxy alters
    the server's CertificateVerify inside its record, the client's decrypt_error is
    decrypted, the verdict names the CertificateVerify."""
    out = subprocess.run(["bash", str(ROOT / "scripts" / "dtls13-demo.sh"), "--headless"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=60, cwd=ROOT,
                         env={**os.environ, "PY": sys.executable, "NO_COLOR": "1",
                              "PYTHONPATH": str(ROOT)}).stdout
    assert "FAULT corrupt" in out and "encrypted it again" in out, out
    assert "ALERT fatal decrypt_error (decrypted) (answers flight 4)" in out, out
    assert "VERDICT certificate_verify_bad_signature: server CertificateVerify" in out, out
