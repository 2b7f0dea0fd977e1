"""Janus's own view through dtlsproxy run: the Admin API and the sample event handler
instead of --sdp files (issue 21). A real Janus 1.1.2 and aiortc in the bed's namespace;
``--peer-view`` mode (tests/janus/bed.py): Janus with admin_http and its event handler
pointing at the proxy, which is given no SDP at all."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.integration.test_janus import (
    CV_OF_CLIENT,
    PROXY,
    Beds,
    assert_clean_call,
    failed_checks,
    janus_hangups,
)
from tests.janus.bed import ADMIN_SECRET, EVENTS_CREDENTIALS
from tests.janus.harness import BedResult

pytestmark = pytest.mark.peers

HANDLE = re.compile(r"Janus handle \d+")


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Beds]:
    """Bed runs shared by this module's tests (each scenario runs once)."""
    require_tool("janus")
    require_tool("unshare")
    require_tool("ip")
    beds = Beds(tmp_path_factory)
    for kw in (CLEAN, WRONG_FP, CV_FAULT, RESTART, WRONG_SECRET, ADMIN_DOWN):
        beds.start(**kw)  # all in the background at once: each has its own namespace
    yield beds
    for run in beds.runs.values():
        run.kill()
        assert not run.wait().leftovers, run.wait().explain()


CLEAN = dict(relay=PROXY, dtls_role="server", peer_view="on")
WRONG_FP = dict(relay=PROXY, dtls_role="client", scenario="wrong_fingerprint", peer_view="on")
CV_FAULT = dict(relay=PROXY, dtls_role="client", faults=(CV_OF_CLIENT,), expect_failure=True,
                peer_view="on")
RESTART = dict(relay=PROXY, dtls_role="server", scenario="restart", expect_failure=True,
               call_timeout=6.0, peer_view="on")
WRONG_SECRET = dict(relay=PROXY, dtls_role="server", peer_view="wrong-secret")
ADMIN_DOWN = dict(relay=PROXY, dtls_role="server", peer_view="admin-down")


def no_sdp_given(r: BedResult) -> None:
    cmd = r.proxy["command"]
    assert "--sdp" not in cmd and "--janus-admin" in cmd, cmd


def notices(r: BedResult, code: str) -> list[str]:
    return [n["message"] for n in r.proxy_log.notices(code)]


def views(r: BedResult) -> list[dict[str, Any]]:
    return r.proxy_log.of("views")


def test_clean_call_fingerprints_checked_against_the_sdps_janus_applied(bed: Beds) -> None:
    r = bed(**CLEAN)
    assert_clean_call(r)
    no_sdp_given(r)
    log = r.proxy_log
    assert log.of("verdict") == []
    report = log.of("checks")[-1]  # again if an SDP came after the handshake
    checks = {c["name"]: c for c in report["evidence"]}
    for role in ("client", "server"):
        c = checks[f"{role} certificate fingerprint vs SDP"]
        assert c["passed"] is True, c
        (source,) = [k for k in c["values"] if k.startswith("SDP a=fingerprint")]
        assert HANDLE.search(source), source
    # aiortc (the server here) is checked against the offer Janus applied, Janus against
    # its own answer
    server = checks["server certificate fingerprint vs SDP"]["values"]
    assert any("remote SDP as applied by Janus handle" in k for k in server)
    states = log.of("peer")
    assert states[0]["matched_by"].startswith("ICE ufrag '"), states[0]
    assert {s["peer"] for s in states} == {"janus"}
    # Janus answers a=setup:active: it says it is the DTLS client, as the wire shows
    assert states[-1]["dtls_role"] == "client", states[-1]
    assert log.summary()["client_label"] == "janus"


def test_clean_call_both_views_agree(bed: Beds) -> None:
    r = bed(**CLEAN)
    agreed = [v for v in views(r) if v["agree"] is True]
    assert agreed, views(r)
    last = agreed[-1]
    assert "DTLS state connected" in last["peer_says"] and "webrtcup" in last["peer_says"]
    assert last["proxy_says"].startswith("proxy: handshake established (DTLS 1.2")
    assert [v for v in views(r) if v["agree"] is False] == []
    said = {(e["what"], e["value"]) for e in r.proxy_log.of("peer_event")}
    assert {("dtls", "connected"), ("webrtcup", "webrtcup"), ("ice", "ready")} <= said


def test_wrong_fingerprint_live_verdict_without_sdp(bed: Beds) -> None:
    """The offer's a=fingerprint broken; Janus completes the handshake, then hangs up
    without an alert. With only the Admin API and events, the live verdict names aiortc's
    Certificate and the SDP Janus applied."""
    r = bed(**WRONG_FP)
    no_sdp_given(r)
    assert janus_hangups(r) == ["DTLS alert"]
    (v,) = r.proxy_log.of("verdict")
    assert v["code"] == "fingerprint_mismatch", v
    assert v["culprit"]["type"] == "Certificate" and v["culprit"]["dir"] == "client->server"
    assert failed_checks(v) == ["client certificate fingerprint vs SDP"]
    (check,) = [c for c in v["evidence"] if c["passed"] is False]
    assert any(re.fullmatch(r"SDP a=fingerprint \(remote SDP as applied by Janus handle \d+ "
                            r"\(offer\)\)", k) for k in check["values"]), check
    assert ":".join(["00"] * 32) in str(check["values"])


def test_wrong_fingerprint_janus_hung_up_after_a_handshake_the_proxy_saw_complete(
        bed: Beds) -> None:
    r = bed(**WRONG_FP)
    # Janus (the DTLS server) sends no alert; aiortc closes later, when Janus hangs up
    assert [a for a in r.proxy_log.of("alert") if a["dir"] == "server->client"] == []
    (hung,) = [v for v in views(r) if " hung up (" in v["sentence"]][-1:]
    assert re.match(r"Janus handle \d+ hung up \(no alert on the wire; its reason 'DTLS alert'\)"
                    r" \d+ ms after the last DTLS datagram: the client certificate's fingerprint "
                    r"is not the one in the remote SDP as applied by Janus handle \d+ \(offer\)",
                    hung["sentence"]), hung["sentence"]
    assert hung["agree"] is True  # both say it failed, and why


def test_corrupted_certificate_verify_janus_dtls_alert_next_to_the_culprit(bed: Beds) -> None:
    r = bed(**CV_FAULT)
    no_sdp_given(r)
    assert janus_hangups(r) == ["DTLS alert"]
    (v,) = r.proxy_log.of("verdict")
    assert v["code"] == "certificate_verify_bad_signature"
    last = views(r)[-1]
    assert re.match(r"Janus handle \d+ says: .*hung up, reason 'DTLS alert'; proxy: client "
                    r"CertificateVerify signature does not verify", last["sentence"]), last
    assert last["agree"] is True
    checks = {c["name"]: c["passed"] for c in v["evidence"]}
    assert checks["client certificate fingerprint vs SDP"] is True  # from Janus's SDPs


def test_janus_restarted_mid_call_notices_no_crash_forwarding_goes_on(bed: Beds) -> None:
    r = bed(**RESTART)
    restart = r.data["restart"]
    assert isinstance(restart, dict), restart
    assert r.proxy["exit"] == 0, r.explain()
    admin = notices(r, "janus_admin")
    assert any("unreachable (Connection refused)" in m for m in admin), admin
    assert any("answers again" in m for m in admin), admin
    assert any(m.startswith("Janus restarted") for m in admin), admin
    events = notices(r, "janus_events")
    assert any("Janus started (a restart" in m for m in events), events
    # aiortc kept sending through the proxy after Janus went away: still relayed, counted
    log = r.proxy_log
    after = [e for e in log.of("media") if _ts(e) > restart["stopped_at"]
             and e["rtp_packets"] > 0]
    assert after, "no media relayed after Janus stopped"
    assert log.of("notice") and not [n for n in log.of("notice")
                                     if n["code"] == "decoder_error"]


def test_wrong_secrets_are_said_once_and_the_call_is_untouched(bed: Beds) -> None:
    r = bed(**WRONG_SECRET)
    assert_clean_call(r)
    assert r.proxy["exit"] == 0
    (refused,) = [m for m in notices(r, "janus_admin") if "refused" in m]
    assert "refused the secret (error 403 Unauthorized request" in refused
    bad = [m for m in notices(r, "janus_events") if "refused a POST" in m]
    assert bad and "wrong credentials" in bad[0], notices(r, "janus_events")
    text = (r.workdir / "proxy.jsonl").read_text()
    assert "not-the-secret" not in text and "not-the-password" not in text
    assert ADMIN_SECRET not in text and EVENTS_CREDENTIALS[1] not in text


def test_admin_api_down_events_still_give_the_sdps(bed: Beds) -> None:
    r = bed(**ADMIN_DOWN)
    assert_clean_call(r)
    assert r.proxy["exit"] == 0
    (down,) = [m for m in notices(r, "janus_admin") if "unreachable" in m]
    assert "http://127.0.0.1:7077/admin unreachable (Connection refused)" in down
    report = r.proxy_log.of("checks")[-1]
    checks = {c["name"]: c["passed"] for c in report["evidence"]}
    assert checks["client certificate fingerprint vs SDP"] is True
    assert checks["server certificate fingerprint vs SDP"] is True


def _ts(e: dict[str, Any]) -> float:
    import datetime as dt

    return dt.datetime.fromisoformat(e["ts"].replace("Z", "+00:00")).timestamp()


def test_peer_view_in_the_tui_detail_and_the_report(bed: Beds) -> None:
    """The corrupted-CertificateVerify call's log in the TUI: the culprit's detail shows
    Janus's view beside it; ``dtlsproxy view --format markdown`` says it too."""
    import asyncio
    import subprocess
    import sys

    from proxy.capture.eventlog import events_from_jsonl
    from ui.app import DtlsProxyApp
    from ui.ladder import LadderTable

    r = bed(**CV_FAULT)
    log = r.workdir / "proxy.jsonl"
    app = DtlsProxyApp(events=events_from_jsonl(log))

    async def main() -> list[str]:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            ladder = app.query_one(LadderTable)
            cv = next(row for row in ladder.rows_shown if row.type == "CertificateVerify")
            ladder.select_key(cv.key)
            await pilot.pause()
            return [n.label.plain for n in app.query_one("#fields").root.children]

    labels = asyncio.run(main())
    (peer,) = [x for x in labels if x.startswith("peer's view: ")]
    assert re.match(r"peer's view: Janus handle \d+ says: .*hung up, reason 'DTLS alert'; "
                    r"proxy: client CertificateVerify signature does not verify", peer), peer
    md = subprocess.run([sys.executable, "-m", "proxy", "view", str(log), "--format",
                         "markdown"], capture_output=True, text=True, check=True).stdout
    assert re.search(r"\*\*Peer's view:\*\* Janus handle \d+ says: ", md), md[:2000]
