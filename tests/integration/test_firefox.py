"""Firefox ESR WebRTC through ``dtlsproxy run``: DTLS 1.3 decrypted with Firefox's key log.

Two beds (tests/browser/bed.py), each in private network + PID namespaces, each with
one browser start per browser: two peer connections in one Firefox page, and one
Firefox with one Chromium making two calls one after the other (Firefox offers, so
Chromium is the DTLS client; then Chromium offers, so Firefox is the client). The
proxy follows Firefox's SSLKEYLOGFILE while it is written (``--keylog``): every
message is decrypted live, both CertificateVerify and both Finished verified. The
relay's pcapng then gives the same offline (``analyze --keylog``), and with the SDPs
the certificates match their fingerprints.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser.harness import BrowserBedResult, run_browser_bed
from tests.conftest import require_tool

pytestmark = pytest.mark.peers
ROOT = Path(__file__).resolve().parents[2]
C2S, S2C = "client->server", "server->client"
HANDSHAKE = [(C2S, 1, "ClientHello"), (S2C, 4, "ServerHello"), (S2C, 4, "EncryptedExtensions"),
             (S2C, 4, "CertificateRequest"), (S2C, 4, "Certificate"),
             (S2C, 4, "CertificateVerify"), (S2C, 4, "Finished"), (C2S, 5, "Certificate"),
             (C2S, 5, "CertificateVerify"), (C2S, 5, "Finished")]
"""WebRTC's DTLS 1.3 handshake: mutual authentication, one round trip."""
VERIFIED = ("client CertificateVerify signature", "server CertificateVerify signature",
            "client Finished", "server Finished", "records authenticate", "key logs agree",
            "SRTP profile", "key_share group", "message order")


def bed(tmp_path_factory: pytest.TempPathFactory, scenario: str) -> BrowserBedResult:
    require_tool("firefox-esr")
    if scenario != "firefox-pair":
        require_tool("chromedriver")
    res = run_browser_bed(tmp_path_factory.mktemp(scenario), scenario, timeout=120)
    assert res.returncode == 0 and "crash" not in res.data, res.explain()
    assert res.leftovers == [] and not res.profile_left, res.explain()
    return res


@pytest.fixture(scope="module")
def firefox_pair(tmp_path_factory: pytest.TempPathFactory) -> BrowserBedResult:
    return bed(tmp_path_factory, "firefox-pair")


@pytest.fixture(scope="module")
def firefox_chromium(tmp_path_factory: pytest.TempPathFactory) -> BrowserBedResult:
    return bed(tmp_path_factory, "firefox-chromium")


def handshakes(events: list[dict[str, Any]]) -> dict[str, list[tuple[str, Any, str]]]:
    """Per session, the first copies of its handshake messages (ACK and data left out)."""
    out: dict[str, list[tuple[str, Any, str]]] = {}
    for e in events:
        if e["event"] == "message" and e["copy"] == 1 and e["msg_type"] is not None:
            out.setdefault(e["session"], []).append((e["dir"], e["flight"], e["type"]))
    return out


def report(events: list[dict[str, Any]], session: str) -> dict[str, Any]:
    (r,) = [e for e in events if e["event"] == "checks" and e["session"] == session]
    return {c["name"]: c for c in r["evidence"]}


def offline(res: BrowserBedResult, *sdps: dict[str, Any]) -> list[dict[str, Any]]:
    """``dtlsproxy analyze`` of the relay's pcapng with Firefox's key log (and SDPs)."""
    args = [sys.executable, "-m", "proxy", "analyze", str(res.workdir / "proxy.pcapng"),
            "--keylog", str(res.workdir / "firefox.keys"), "--format", "jsonl"]
    for i, call in enumerate(sdps):
        for kind in ("offer", "answer"):
            p = res.workdir / f"{kind}{i}.sdp"
            p.write_text(call[kind]["sdp"])
            args += ["--sdp", str(p)]
    out = subprocess.run(args, capture_output=True, text=True, check=True, cwd=ROOT,
                         timeout=120).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_firefox_pair_every_message_decrypted_live(firefox_pair: BrowserBedResult) -> None:
    res = firefox_pair
    call = res.call
    assert call["state"] == ["connected", "connected"], res.explain()
    assert call["received"] == {"pc2": "ping from pc1", "pc1": "pong from pc2"}
    for name in ("pc1", "pc2"):
        assert call["stats"][name]["transport"]["tlsVersion"] == "FEFC"
    live = res.events()
    (session,) = list(handshakes(live))
    assert handshakes(live)[session] == HANDSHAKE
    c = report(live, session)
    for name in VERIFIED:
        assert c[name]["passed"] is True, (name, c.get(name))
    s = res.last_summary()
    assert (s["version"], s["state"]) == ("DTLS 1.3", "established")
    assert s["note"].endswith("DTLS 1.3 records decrypted with the key log")
    assert res.events("verdict") == [] and res.events("malformed") == []
    text = res.proxy_log.read_text()
    keys = [ln.split()[-1] for ln in (res.workdir / "firefox.keys").read_text().splitlines()
            if ln and not ln.startswith("#")]
    assert keys and not [k for k in keys if k in text]  # no secret in the log


def test_firefox_pair_offline_with_the_sdps(firefox_pair: BrowserBedResult) -> None:
    events = offline(firefox_pair, firefox_pair.call)
    legs = handshakes(events)
    assert legs and all(msgs == HANDSHAKE for msgs in legs.values())
    for sid in legs:
        c = report(events, sid)
        for name in (*VERIFIED, "client certificate fingerprint vs SDP",
                     "server certificate fingerprint vs SDP"):
            assert c[name]["passed"] is True, (name, c.get(name))


def test_firefox_and_chromium_both_dtls_roles(firefox_chromium: BrowserBedResult) -> None:
    res = firefox_chromium
    first, second = res.call["firefox_offers"], res.call["chromium_offers"]
    for call in (first, second):
        assert call["state"] == ["connected", "connected"], res.explain()
    # the answerer is the DTLS client: Chromium in the first call, Firefox in the second
    assert first["stats"]["cr1"]["transport"]["dtlsRole"] == "client"
    assert second["stats"]["ff2"]["transport"]["dtlsRole"] == "client"
    live = res.events()
    sessions = handshakes(live)
    assert len(sessions) == 2 and all(m == HANDSHAKE for m in sessions.values()), sessions
    for sid in sessions:
        c = report(live, sid)
        for name in VERIFIED:
            assert c[name]["passed"] is True, (sid, name, c.get(name))
    offered = [e["offered_versions"] for e in live if e["event"] == "session"
               and e["session"] in sessions and e["state"] == "established"]
    # Chromium's ClientHello (first call) offers DTLS 1.3 and 1.2; Firefox's adds TLS 1.2
    assert ["DTLS 1.3", "DTLS 1.2"] in offered and ["DTLS 1.3", "DTLS 1.2", "TLS 1.2"] in offered
    assert res.events("verdict") == []


def test_firefox_and_chromium_offline_with_firefox_key_log(
        firefox_chromium: BrowserBedResult) -> None:
    res = firefox_chromium  # no SDPs: analyze takes one call's (two answers = two clients)
    events = offline(res)
    legs = handshakes(events)
    assert len(legs) >= 2 and all(msgs == HANDSHAKE for msgs in legs.values())
    for sid in legs:
        assert report(events, sid)["client Finished"]["passed"] is True
    assert [e for e in events if e["event"] == "verdict"] == []


def test_about_webrtc_export_feeds_analyze(firefox_pair: BrowserBedResult) -> None:
    """The page's own view in about:webrtc's data shape ({"reports": [...]} with each
    peer connection's sdpHistory and candidate pairs; the bed writes it from the page)
    given to ``analyze --peer-dump`` with the relay's pcapng: both peer connections tied to
    the sessions by their ICE ufrags, and Firefox's DTLS 1.3 certificates (opened with its
    key log) checked against the SDPs Firefox applied, with no --sdp."""
    from proxy.peerstate.dumps import parse_dump

    export = firefox_pair.workdir / "about_webrtc.json"
    views = parse_dump(export.read_text(), export.name)
    assert [v.peer for v in views] == ["firefox", "firefox"]
    out = subprocess.run(
        [sys.executable, "-m", "proxy", "analyze", str(firefox_pair.workdir / "proxy.pcapng"),
         "--peer-dump", str(export), "--keylog", str(firefox_pair.workdir / "firefox.keys"),
         "--format", "jsonl"],
        capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in out.stdout.splitlines()]
    sessions = {e["session"] for e in events if e["event"] == "session_opened"}
    states = [e for e in events if e["event"] == "peer"]
    for view in views:
        local, remote = view.ufrags()
        assert local and remote
        mine = [s for s in states if s["source"] == view.name]
        assert {s["session"] for s in mine} == sessions, mine
        assert mine[0]["matched_by"] in (f"ICE ufrag '{local}:{remote}'",
                                         f"ICE ufrag '{remote}:{local}'")
        assert view.selected_pair is not None
    fingerprint_checks = [c for e in events if e["event"] == "checks"
                          for c in e["evidence"] if "fingerprint vs SDP" in c["name"]]
    assert fingerprint_checks and all(c["passed"] is True for c in fingerprint_checks)
    assert all(any("Firefox peer connection" in k for k in c["values"])
               for c in fingerprint_checks)
