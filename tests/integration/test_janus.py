"""A real Janus (Debian's package, echotest plugin) and a real WebRTC peer (aiortc).

Each scenario runs in its own private network namespace (tests/janus/): Janus and
aiortc gather a host candidate on 10.99.0.1 there, nothing can leave the machine.
Runs are cached per scenario so several tests read the facts of one call; every
run is checked to leave no process and no namespace behind.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chrome import Chromium
from tests.browser.report_page import (
    click_culprit,
    keep_screenshots,
    open_report,
    report_browser,  # noqa: F401 (the fixture)
)
from tests.conftest import require_tool
from tests.janus import sdp as sdpmod
from tests.janus.harness import BedResult, BedRun, run_bed, start_bed
from tests.janus.peer import ECHO_REPLY
from tests.janus.proxylog import ProxyLog

pytestmark = pytest.mark.peers

CV_OF_CLIENT = "who=client,msg=CertificateVerify,action=corrupt,offset=-1"
FINISHED_OF_CLIENT = "who=client,msg=Finished,encrypted=1,action=corrupt,offset=-1,count=always"
FINISHED_OF_SERVER = "who=server,msg=Finished,encrypted=1,action=corrupt,offset=-1,count=always"
PROXY = "dtlsproxy"
FLIGHTS = [
    ("client->server", 1, ("ClientHello",)),
    ("server->client", 4, ("ServerHello", "Certificate", "ServerKeyExchange",
                           "CertificateRequest", "ServerHelloDone")),
    ("client->server", 5, ("Certificate", "ClientKeyExchange", "CertificateVerify",
                           "ChangeCipherSpec", "Finished")),
    ("server->client", 6, ("ChangeCipherSpec", "Finished")),
]  # fmt: skip
"""The full DTLS 1.2 handshake of every clean call (no HelloVerifyRequest: no cookie)."""
SLOW = {  # started in the background when the first Janus test runs (Janus gives up after 20 s)
    "finished_timeout": dict(
        relay=PROXY, dtls_role="client", faults=(FINISHED_OF_CLIENT,), keylog=True,
        expect_failure=True, call_timeout=40.0,
    ),
    # issue 14 item 1: Janus (client) never accepts aiortc's flight 6 (its Finished corrupted)
    "final_flight_rejected": dict(
        relay=PROXY, dtls_role="server", faults=(FINISHED_OF_SERVER,), keylog=True,
        expect_failure=True, call_timeout=40.0,
    ),
}  # fmt: skip
WRONG_FINGERPRINT = "sha-256 " + ":".join(["00"] * 32)
WRONG_FP = dict(relay=PROXY, dtls_role="client", scenario="wrong_fingerprint")
JANUS_LEG = "10.99.0.1:6000"
"""The proxy's side B: sessions with this endpoint are the proxy <-> Janus leg."""
AIORTC_LEG = "10.99.0.1:5000"
"""The proxy's side A: the aiortc <-> proxy leg."""


class Beds:
    """Bed runs shared by the tests: one per distinct arguments, slow ones started early."""

    def __init__(self, tmp: pytest.TempPathFactory):
        self.tmp = tmp
        self.runs: dict[tuple[tuple[str, Any], ...], BedRun] = {}

    def start(self, **kw: Any) -> BedRun:
        """Start (once) the run with these :func:`start_bed` arguments."""
        key = tuple(sorted(kw.items()))
        if key not in self.runs:
            self.runs[key] = start_bed(self.tmp.mktemp("janus"), **kw)
        return self.runs[key]

    def __call__(self, **kw: Any) -> BedResult:
        """The finished run: no crash, nothing left behind."""
        result = self.start(**kw).wait()
        assert not result.leftovers, result.explain()
        assert "crash" not in result.data, result.explain()
        return result


@pytest.fixture(scope="session")
def bed(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Beds]:
    """The shared :class:`Beds`; needs janus, unshare and ip (CI fails without them).

    Slow scenarios start at once in the background when a selected test uses them;
    at the end, runs still going are killed (and checked for leftovers).
    """
    require_tool("janus")
    require_tool("unshare")
    require_tool("ip")
    beds = Beds(tmp_path_factory)
    selected = " ".join(item.name for item in request.session.items)
    for name, kw in SLOW.items():
        if name in selected:
            beds.start(**kw)
    yield beds
    for run in beds.runs.values():
        run.kill()
        assert not run.wait().leftovers, run.wait().explain()


def assert_clean_call(r: BedResult) -> None:
    """Janus says webrtcup, the data channel echoes, audio comes back."""
    call = r.call
    assert call["ok"], r.explain()
    assert "webrtcup" in r.janus_events(), r.janus_events()
    assert call["echo"] == {"sent": "ping", "received": ECHO_REPLY.format("ping")}
    assert call["media"]["frames"] >= 25
    assert "Fingerprint is a match!" in r.janus_log
    assert call["aiortc"]["srtp_profile"] == "SRTP_AEAD_AES_256_GCM"
    assert call["aiortc"]["protocol"] == "DTLSv1.2"


# ------------------------------------------------------------ without a relay


def test_direct_call_actpass_offer_makes_janus_the_dtls_client(bed: Beds) -> None:
    r = bed(relay="none", dtls_role="server")
    assert_clean_call(r)
    assert sdpmod.setup_values(r.call["offer_to_janus"]) == ["actpass", "actpass"]
    assert set(sdpmod.setup_values(r.call["answer_from_janus"])) == {"active"}
    assert "Setting connect state (DTLS client)" in r.janus_log
    assert r.call["aiortc"]["role"] == "server"
    assert r.call["aiortc"]["cipher"] == "ECDHE-ECDSA-CHACHA20-POLY1305"


def test_direct_call_active_offer_makes_aiortc_the_dtls_client(bed: Beds) -> None:
    r = bed(relay="none", dtls_role="client")
    assert_clean_call(r)
    assert set(sdpmod.setup_values(r.call["offer_to_janus"])) == {"active"}
    assert set(sdpmod.setup_values(r.call["answer_from_janus"])) == {"passive"}
    assert "Setting accept state (DTLS server)" in r.janus_log
    assert r.call["aiortc"]["role"] == "client"
    # aiortc's cipher list puts AES128-GCM first and Janus (server) follows the client
    assert r.call["aiortc"]["cipher"] == "ECDHE-ECDSA-AES128-GCM-SHA256"


def test_direct_call_uses_the_namespace_address_only(bed: Beds) -> None:
    r = bed(relay="none", dtls_role="server")
    assert r.data["netns"]["routes"] == [
        "10.99.0.0/24 dev d0 proto kernel scope link src 10.99.0.1"
    ]
    assert {h for h, _ in sdpmod.udp_addresses(r.call["answer_from_janus"])} == {"10.99.0.1"}
    assert {h for h, _ in sdpmod.udp_addresses(r.call["offer_local"])} == {"10.99.0.1"}


# ---------------------------------------- through a trivial relay (the bed's control)


def test_trivial_relay_carries_the_whole_call(bed: Beds) -> None:
    r = bed(relay="trivial", dtls_role="server")
    assert_clean_call(r)
    counts = r.relay["counts"]
    for direction in ("a->b", "b->a"):
        for kind in ("stun", "dtls", "rtp"):
            assert counts.get(f"{direction} {kind}", 0) > 0, (direction, kind, counts)
    assert r.relay["refused"] == {"a": {}, "b": {}}
    assert_no_direct_path(r, tuple(r.relay["addresses"]["a"]), tuple(r.relay["addresses"]["b"]))
    assert tuple(r.relay["peers"]["a"]) in sdpmod.udp_addresses(r.call["offer_local"])
    assert tuple(r.relay["peers"]["b"]) in sdpmod.udp_addresses(r.call["answer_from_janus"])


def assert_no_direct_path(r: BedResult, relay_a: Any, relay_b: Any) -> None:
    """Each peer only learned the relay's address, and ICE selected it."""
    janus_real = sdpmod.udp_addresses(r.call["answer_from_janus"])
    aiortc_real = sdpmod.udp_addresses(r.call["offer_local"])
    assert sdpmod.udp_addresses(r.call["offer_to_janus"]) == {relay_b}
    assert sdpmod.udp_addresses(r.call["answer_to_aiortc"]) == {relay_a}
    assert r.janus_remote_candidates() == {relay_b}
    assert tuple(r.call["aiortc"]["selected_pair"]["remote"]) == relay_a
    assert not (janus_real | aiortc_real) & {relay_a, relay_b}


# --------------------------------------------------- through dtlsproxy run: clean


def assert_proxy_saw_the_call(r: BedResult, client: str, server: str) -> None:
    """The proxy's log holds the whole handshake, the roles, and media both ways."""
    log = r.proxy_log
    assert r.proxy["exit"] == 0, r.explain()
    assert log.flights() == FLIGHTS
    s = log.summary()
    assert (s["client_label"], s["server_label"]) == (client, server)
    assert s["version"] == "DTLS 1.2"
    assert s["srtp_profile"] == "SRTP_AEAD_AES_256_GCM"
    assert s["extended_master_secret"] is True
    assert "established" in log.states()
    for direction in ("client->server", "server->client"):
        assert s["counters"].get(f"dtls {direction}", 0) >= 2, s["counters"]
        assert s["counters"].get(f"stun {direction}", 0) >= 1, s["counters"]
        assert log.rtp_packets()[direction] >= 10, log.rtp_packets()  # ~30 sent
    assert log.of("verdict") == []
    assert log.of("fault") == []
    (report,) = log.of("checks")  # the clean handshake's CheckReport: every check held
    assert report["passed"] is True, report
    checks = {c["name"]: c["passed"] for c in report["evidence"]}
    aiortc_role = "client" if client == "aiortc" else "server"
    assert checks[f"{aiortc_role} certificate fingerprint vs SDP"] is True  # --sdp offer.sdp
    assert checks["client CertificateVerify signature"] is True
    assert checks["server ServerKeyExchange signature"] is True
    offline = r.analyze(sdp=True)  # both legs of the proxy's pcapng, checked against both SDPs
    assert len(offline.of("session_opened")) == 2
    assert offline.of("verdict") == []
    assert_no_direct_path(r, ("10.99.0.1", 5000), ("10.99.0.1", 6000))
    (latched,) = log.notices("latched")  # side B latched Janus's real address
    assert latched["message"].startswith("side B (janus) peer is 10.99.0.1:200")


def test_proxy_clean_call_janus_as_dtls_client(bed: Beds) -> None:
    r = bed(relay=PROXY, dtls_role="server")
    assert_clean_call(r)
    assert_proxy_saw_the_call(r, client="janus", server="aiortc")
    s = r.proxy_log.summary()
    assert s["cipher_suite"] == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    hello = r.proxy_log.client_hello()
    assert len(hello["body"]["cipher_suites"]) == 16  # Janus's OpenSSL default list
    assert hello["dir"] == "client->server"
    # which stacks are talking (proxy/identify/stacks.toml)
    assert (s["client_stack"]["name"], s["client_stack"]["confidence"]) == ("Janus (OpenSSL)",
                                                                            "high")
    assert s["server_stack"]["name"] == "aiortc (OpenSSL)"  # OpenSSL's hello, aiortc's CN
    assert hello["ja4"].startswith("dd2i16")


def test_proxy_clean_call_aiortc_as_dtls_client(bed: Beds) -> None:
    r = bed(relay=PROXY, dtls_role="client")
    assert_clean_call(r)
    assert_proxy_saw_the_call(r, client="aiortc", server="janus")
    log = r.proxy_log
    assert log.summary()["cipher_suite"] == "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    stacks = log.summary()["client_stack"], log.summary()["server_stack"]
    assert [(g["name"], g["confidence"]) for g in stacks] == [("aiortc (OpenSSL)", "high"),
                                                              ("Janus (OpenSSL)", "high")]
    # Janus's server flight: one record per message, several records per datagram
    (flight4,) = [e for e in log.of("flight") if e["flight"] == 4]
    per_frame = log.records_per_frame("server->client")
    assert sum(per_frame[f] for f in flight4["frames"]) == 5
    assert max(per_frame[f] for f in flight4["frames"]) >= 2


def test_readme_recipe_janus_toml_and_sdp_rewrite_cli(bed: Beds) -> None:
    """The README's "Debugging Janus" recipe followed literally:
    ``dtlsproxy run --config configs/janus.toml`` (both sides latched, labels
    browser/janus) and both SDPs through ``dtlsproxy sdp rewrite --to``."""
    r = bed(relay="recipe", dtls_role="server")
    assert_clean_call(r)
    log = ProxyLog.load(r.workdir / "janus-session.jsonl")
    assert log.flights() == FLIGHTS
    s = log.summary()
    assert (s["client_label"], s["server_label"], s["state"]) == ("janus", "browser", "established")
    assert log.rtp_packets()["client->server"] >= 10
    assert log.rtp_packets()["server->client"] >= 10
    assert (r.workdir / "janus-session.pcapng").stat().st_size > 0
    assert_no_direct_path(r, ("10.99.0.1", 5000), ("10.99.0.1", 6000))


# --------------------------------------------------- through dtlsproxy run: faults


def fault_run(bed: Beds, role: str, rule: str) -> BedResult:
    r = bed(relay=PROXY, dtls_role=role, faults=(rule,), expect_failure=True)
    assert "webrtcup" not in r.janus_events()
    assert r.call["media"]["frames"] == 0
    return r


def test_fault_aiortc_certificate_verify_janus_sends_decrypt_error(bed: Beds) -> None:
    """Acceptance 3: aiortc is the DTLS client; the proxy flips its signature's last byte."""
    r = fault_run(bed, "client", CV_OF_CLIENT)
    log = r.proxy_log
    (fault,) = log.of("fault")
    assert "CertificateVerify" in fault["detail"]
    assert "Handshake error: error:0A00007B:SSL routines::bad signature" in r.janus_log
    (alert,) = log.of("alert")
    assert (alert["dir"], alert["level_name"], alert["description_name"]) == (
        "server->client", "fatal", "decrypt_error",
    )  # fmt: skip
    assert alert["answers_flight"] == 5
    assert janus_hangups(r) == ["DTLS alert"]
    assert r.call["aiortc"]["state"] == "failed"  # aiortc got Janus's alert
    assert log.summary()["client_label"] == "aiortc"


def test_fault_aiortc_certificate_verify_offline_verdict(bed: Beds) -> None:
    """The proxy's pcapng, leg B (what Janus received), through ``dtlsproxy analyze``:
    both legs are in it, so the CertificateVerify is seen altered between them, by the
    proxy itself, and Janus's decrypt_error follows."""
    r = fault_run(bed, "client", CV_OF_CLIENT)
    (v,) = leg_verdicts(r.analyze(), JANUS_LEG)
    assert_altered_cv(v, received=True)


def assert_altered_cv(v: dict[str, Any], received: bool) -> None:
    """``altered_in_transit`` on the CertificateVerify; ``received``: on the leg nearer
    the server (its signature fails there), else on the one nearer the client."""
    assert_verdict_is(v, "altered_in_transit", "client->server", "CertificateVerify")
    assert v["certain"] is True
    assert re.match(r"CertificateVerify \(message_seq \d\) differs between leg s\d \(as sent by "
                    r"the client\) and leg s\d \(as received by the server\) at byte \d+ of its "
                    r"body: altered in transit, by dtlsproxy itself", v["reason"]), v["reason"]
    failed = failed_checks(v)
    assert "legs agree" in failed
    assert ("client CertificateVerify signature" in failed) is received
    assert "Finished" not in v["culprit"]["type"]
    assert v["reason"].endswith("the server answered decrypt_error" if received else
                                "the server answered with fatal decrypt_error"), v["reason"]


def test_fault_aiortc_certificate_verify_report_in_chromium(
        bed: Beds, report_browser: Chromium, tmp_path: Path) -> None:  # noqa: F811
    """The HTML report of the proxy's pcapng (both legs, both SDPs) in headless Chromium:
    the leg Janus received names the CertificateVerify; nothing is loaded; the culprit's
    row is on the first screen once its session is chosen in the overview; a click opens
    its decoded fields and bytes."""
    r = fault_run(bed, "client", CV_OF_CLIENT)
    (v,) = leg_verdicts(r.analyze(sdp=True), JANUS_LEG)
    page = tmp_path / "janus-bad-certificate-verify.html"
    subprocess.run([sys.executable, "-m", "proxy", "analyze", str(r.workdir / "proxy.pcapng"),
                    "--sdp", str(r.workdir / "offer.sdp"), "--sdp", str(r.workdir / "answer.sdp"),
                    "--format", "html", "-o", str(page)], check=True, capture_output=True)
    seen = open_report(report_browser, page, tmp_path / "shots", session=v["session"])
    keep_screenshots(seen)
    assert (seen.console, seen.requests, seen.resources) == ([], [], [])
    assert seen.overflow == {"phone": 0, "desktop": 0}
    for size in ("phone", "desktop"):
        box = seen.culprit[size]
        assert box is not None and box["inside"], (size, box, seen.screenshots[size])
    detail = click_culprit(report_browser)
    assert detail["open"] and detail["visible"], detail
    assert "◆ CULPRIT" in detail["summary"] and "CertificateVerify" in detail["summary"]
    text = page.read_text()
    section = text[text.index(f'id="{v["session"]}" data-state="failed"'):]
    assert "client CertificateVerify signature does not verify" in section[:2000]


def test_fault_aiortc_certificate_verify_verdict(bed: Beds) -> None:
    r = fault_run(bed, "client", CV_OF_CLIENT)
    v = assert_verdict(r, "certificate_verify_bad_signature", "client->server", "CertificateVerify")
    assert failed_checks(v) == ["client CertificateVerify signature"], v["evidence"]
    assert v["certain"] is True


def test_fault_janus_certificate_verify_aiortc_sends_decrypt_error(bed: Beds) -> None:
    """Acceptance 4: Janus is the DTLS client; the proxy flips its signature's last byte."""
    r = fault_run(bed, "server", CV_OF_CLIENT)
    log = r.proxy_log
    (fault,) = log.of("fault")
    assert "CertificateVerify" in fault["detail"]
    (alert,) = log.of("alert")
    assert (alert["dir"], alert["level_name"], alert["description_name"]) == (
        "server->client", "fatal", "decrypt_error",
    )  # fmt: skip
    assert "SSL routines::tlsv1 alert decrypt error" in r.janus_log
    assert janus_hangups(r) == ["DTLS alert"]
    assert log.summary()["client_label"] == "janus"


def test_fault_janus_certificate_verify_offline_verdict(bed: Beds) -> None:
    """Leg A (what aiortc received) names Janus's CertificateVerify."""
    r = fault_run(bed, "server", CV_OF_CLIENT)
    (v,) = leg_verdicts(r.analyze(), AIORTC_LEG)
    assert_altered_cv(v, received=True)


def test_fault_pcapng_leg_before_the_fault_has_the_bytes_as_received(bed: Beds) -> None:
    """Leg B carries Janus's CertificateVerify as Janus sent it: its signature verifies
    there. Alone, that leg could only suspect the Finished; with leg A beside it, the
    CertificateVerify is seen altered between the two, and no Finished is blamed."""
    r = fault_run(bed, "server", CV_OF_CLIENT)
    (before,) = leg_verdicts(r.analyze(), JANUS_LEG)
    assert_altered_cv(before, received=False)
    passed = [c["name"] for c in before["evidence"] if c["passed"] is True]
    assert "client CertificateVerify signature" in passed


def test_fault_janus_certificate_verify_verdict(bed: Beds) -> None:
    r = fault_run(bed, "server", CV_OF_CLIENT)
    v = assert_verdict(r, "certificate_verify_bad_signature", "client->server", "CertificateVerify")
    assert failed_checks(v) == ["client CertificateVerify signature"], v["evidence"]
    assert v["certain"] is True


def test_fault_finished_timeout_janus_retries_then_gives_up(bed: Beds) -> None:
    """Acceptance 5: aiortc is the DTLS client; every copy of its Finished is corrupted.

    Janus (server) silently discards the record, both sides retransmit, and after
    20 s Janus gives up: no alert anywhere. (aiortc is the client here because, as
    a DTLS server, it logs no key before the client's Finished verifies.)
    """
    r = bed(**SLOW["finished_timeout"])
    log = r.proxy_log
    faults = log.of("fault")
    assert len(faults) >= 3, faults  # the first Finished and aiortc's retransmissions
    assert all("Finished payload" in f["detail"] for f in faults)
    assert log.of("alert") == []
    retransmitted = {(e["dir"], e["flight"]) for e in log.of("flight_retransmitted")}
    assert retransmitted == {("client->server", 5), ("server->client", 4)}
    assert "DTLS taking too much time for component 1 in stream 1" in r.janus_log
    assert janus_hangups(r) == ["DTLS timeout"]
    assert r.call["aiortc"]["state"] == "connecting"  # aiortc never heard back
    keylog = r.workdir / "aiortc.keylog"
    assert keylog.read_text().startswith("CLIENT_RANDOM ")
    assert keylog.stat().st_mode & 0o777 == 0o600


def test_fault_finished_timeout_offline_verdict_with_aiortc_key_log(bed: Beds) -> None:
    r = bed(**SLOW["finished_timeout"])
    offline = r.analyze(keylog=True)
    (v,) = leg_verdicts(offline, JANUS_LEG)  # both legs: altered between them, by the proxy
    assert_verdict_is(v, "altered_in_transit", "client->server", "Finished")
    assert {"legs agree", "client Finished", "retransmissions"} <= set(failed_checks(v))
    assert "; client Finished fails authentication: the server never answers" in v["reason"]
    assert v["certain"] is True


def test_fault_finished_timeout_verdict(bed: Beds) -> None:
    r = bed(**SLOW["finished_timeout"])
    # with aiortc's key log the proxy decrypts the record and sees it fail authentication
    v = assert_verdict(r, "finished_auth_failed", "client->server", "Finished")
    assert "client Finished" in failed_checks(v), v["evidence"]
    assert v["certain"] is True


def test_final_flight_rejected_janus_retransmits_flight_5_then_gives_up(bed: Beds) -> None:
    """Issue 14 item 1: Janus is the DTLS client; every copy of aiortc's Finished is
    corrupted. Janus discards it, retransmits its flight 5 (aiortc answers each copy with
    its flight 6) and hangs up after 20 s; aiortc accepted Janus's Finished and sends
    SRTP all along. Live, the proxy never calls the session established."""
    r = bed(**SLOW["final_flight_rejected"])
    assert janus_hangups(r) == ["DTLS timeout"]
    assert "DTLS taking too much time for component 1 in stream 1" in r.janus_log
    log = r.proxy_log
    assert len(log.of("fault")) >= 4  # the first Finished and its retransmissions
    states = log.states()
    assert "established" not in states and states[-1] == "failed", states
    assert log.rtp_packets()["server->client"] > 0  # aiortc's SRTP confirms nothing
    (v,) = log.of("verdict")
    assert_verdict_is(v, "final_flight_rejected", "server->client", "Finished")
    assert v["certain"] is True  # the proxy has aiortc's key log: the record fails
    assert re.match(r"the client never accepted the server's final flight: it retransmitted "
                    r"flight 5 [3-5] times after receiving flight 6; the server Finished fails "
                    r"authentication", v["reason"]), v["reason"]
    assert {"last flight accepted", "server Finished"} <= set(failed_checks(v))


def test_final_flight_rejected_offline_with_the_key_log_and_check(bed: Beds) -> None:
    r = bed(**SLOW["final_flight_rejected"])
    offline = r.analyze(keylog=True)
    (v,) = leg_verdicts(offline, JANUS_LEG)  # the leg where the Finished arrived corrupted
    assert_verdict_is(v, "altered_in_transit", "server->client", "Finished")
    assert "; the client never accepted the server's final flight" in v["reason"]
    assert v["certain"] is True
    check = subprocess.run(
        [sys.executable, "-m", "proxy", "analyze", str(r.workdir / "proxy.pcapng"), "--check"],
        capture_output=True, text=True)
    assert check.returncode == 4, check.stderr


def test_fault_wrong_fingerprint_in_the_offer_janus_hangs_up_without_alert(bed: Beds) -> None:
    """Acceptance 6: the offer (and the proxy's copy of it) carries a wrong fingerprint.

    aiortc offers ``a=setup:active`` so the offer alone says the fingerprint is the
    DTLS client's (an ``actpass`` offer needs the answer too, which a proxy started
    before the answer cannot have).
    """
    r = bed(**WRONG_FP)
    assert r.call["ok"], r.explain()
    assert "webrtcup" not in r.janus_events()
    assert "Fingerprint is NOT a match" in r.janus_log
    assert janus_hangups(r) == ["DTLS alert"]  # Janus's name for it: no alert on the wire
    log = r.proxy_log
    assert log.summary()["client_label"] == "aiortc"
    assert [a for a in log.of("alert") if a["dir"] == "server->client"] == []
    offer = (r.workdir / "offer.sdp").read_text()
    assert sdpmod.fingerprints(offer) == [WRONG_FINGERPRINT] * 3
    assert "--sdp" in r.proxy["command"]


def test_fault_wrong_fingerprint_offline_verdict(bed: Beds) -> None:
    r = bed(**WRONG_FP)
    offline = r.analyze(sdp=True)
    for leg in (AIORTC_LEG, JANUS_LEG):
        (v,) = leg_verdicts(offline, leg)
        assert_fingerprint_verdict(r, v)


def test_fault_wrong_fingerprint_verdict(bed: Beds) -> None:
    r = bed(**WRONG_FP)
    (v,) = r.proxy_log.of("verdict")
    assert_fingerprint_verdict(r, v)


def assert_fingerprint_verdict(r: BedResult, v: dict[str, Any]) -> None:
    """``fingerprint_mismatch`` on aiortc's Certificate, both fingerprints shown."""
    assert_verdict_is(v, "fingerprint_mismatch", "client->server", "Certificate")
    assert failed_checks(v) == ["client certificate fingerprint vs SDP"], v["evidence"]
    shown = " ".join(c["detail"] + str(c["values"]) for c in v["evidence"]).upper()
    assert WRONG_FINGERPRINT.split()[1] in shown  # the offer's (wrong) fingerprint
    real = sdpmod.fingerprints(r.call["offer_local"])[0].split()[1]
    assert real.upper() in shown  # aiortc's real one


def janus_hangups(r: BedResult) -> list[str]:
    """Reasons of Janus's ``hangup`` events."""
    return [str(e.get("reason")) for e in r.call["janus_events"] if e["janus"] == "hangup"]


def assert_verdict(r: BedResult, code: str, direction: str, msg: str) -> dict[str, Any]:
    """Exactly one verdict in the live log (docs/verdicts.md), as :func:`assert_verdict_is`."""
    (verdict,) = r.proxy_log.of("verdict")
    assert_verdict_is(verdict, code, direction, msg)
    return verdict


def assert_verdict_is(verdict: dict[str, Any], code: str, direction: str, msg: str) -> None:
    """The verdict has ``code`` and blames ``msg`` sent ``direction``."""
    assert verdict["code"] == code, verdict
    assert verdict["culprit"]["type"] == msg, verdict
    assert verdict["culprit"]["dir"] == direction, verdict


def leg_verdicts(log: ProxyLog, endpoint: str) -> list[dict[str, Any]]:
    """Verdicts of the capture's sessions on one leg (``JANUS_LEG`` / ``AIORTC_LEG``)."""
    return log.verdicts_of(log.sessions_with(endpoint))


def failed_checks(verdict: dict[str, Any]) -> list[str]:
    """Names of the verdict's checks that failed."""
    return [c["name"] for c in verdict["evidence"] if c["passed"] is False]


# ------------------------------------------------------------------- hygiene


def test_a_killed_bed_leaves_no_process_and_no_namespace(tmp_path: Path) -> None:
    require_tool("janus")
    r = run_bed(tmp_path, relay="trivial", scenario="hang", timeout=20.0, kill_when_ready=True)
    assert r.returncode is None, "the hang scenario must have been killed"
    assert r.data.get("janus", {}).get("pid"), r.explain()  # Janus was really running
    assert r.leftovers == []


def test_no_named_test_namespace_exists() -> None:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 not installed")
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "dtlsproxy" not in out
