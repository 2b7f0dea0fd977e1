"""TURN mode with a real browser: headless Chromium, relay-only through ``dtlsproxy run
--turn``, to a real Janus (issue 13). No SDP is rewritten or edited: the page's only
change is its RTCConfiguration (the proxy as its one ICE server, iceTransportPolicy
'relay'), and each SDP reaches the other side exactly as it was made.

Each scenario runs once (module fixtures) in private network + PID namespaces, like
``test_browser.py`` (:mod:`tests.browser.bed`, the ``turn-*`` scenarios).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from typing import Any

import pytest

from tests.browser.bed import CV_FAULT, ECHO_REPLY, JANUS_PORT, MIN_PACKETS
from tests.browser.harness import BrowserBedResult
from tests.conftest import require_tool
from tests.integration.test_browser import _bed, handshake
from tests.janus.netns import BED_ADDRESS

pytestmark = [pytest.mark.peers, pytest.mark.slow, pytest.mark.timeout(120)]

JANUS = f"{BED_ADDRESS}:{JANUS_PORT}"


@pytest.fixture(scope="module")
def turn_server(tmp_path_factory: pytest.TempPathFactory) -> BrowserBedResult:
    """echotest: Chromium offers actpass, Janus answers active (Janus is the DTLS client)."""
    return _bed(tmp_path_factory, "turn-janus-server")


@pytest.fixture(scope="module")
def turn_client(tmp_path_factory: pytest.TempPathFactory) -> BrowserBedResult:
    """streaming: Janus offers, Chromium answers active (Chromium is the DTLS client)."""
    return _bed(tmp_path_factory, "turn-janus-client")


@pytest.fixture(scope="module")
def turn_cv_fault(tmp_path_factory: pytest.TempPathFactory) -> BrowserBedResult:
    return _bed(tmp_path_factory, "turn-cv-fault")


@pytest.fixture(scope="module")
def turn_echotest_fault(tmp_path_factory: pytest.TempPathFactory) -> BrowserBedResult:
    """The README's recipe: the echotest, the proxy corrupting Janus's CertificateVerify."""
    return _bed(tmp_path_factory, "turn-echotest-cv-fault")


@pytest.fixture(scope="module")
def turn_tcp(tmp_path_factory: pytest.TempPathFactory) -> BrowserBedResult:
    return _bed(tmp_path_factory, "turn-tcp")


@pytest.fixture(scope="module")
def turn_pair(tmp_path_factory: pytest.TempPathFactory) -> BrowserBedResult:
    return _bed(tmp_path_factory, "turn-chromium-pair")


def dtls_datagrams(res: BrowserBedResult) -> list[dict[str, Any]]:
    return [d for d in res.events("datagram") if d["kind"] == "dtls"]


def candidate_lines(sdp: str) -> list[str]:
    return [line for line in sdp.splitlines() if line.startswith("a=candidate:")]


def relayed_addresses(res: BrowserBedResult) -> set[str]:
    return {e["relayed"] for e in res.events("allocation")}


# ------------------------------------------------------- 1. echotest, Janus client


def test_relay_only_chromium_reaches_janus_through_the_proxy(turn_server: BrowserBedResult) -> None:
    res = turn_server
    call = res.call
    assert call["state"] == "connected", res.explain()
    assert call["dc_open"] is True and call["echo"] == ECHO_REPLY
    st = call["stats_flowing"]
    for kind in ("audio", "video"):
        assert st["outbound"][kind] >= MIN_PACKETS and st["inbound"][kind] >= MIN_PACKETS, st
    # every candidate Chromium offers is a relayed address on the proxy
    lines = candidate_lines(call["offer"]["local_sdp"])
    assert lines and all(" typ relay " in line for line in lines), lines
    offered = {f"{a}" for a in call["offer"]["local"]["candidates"]}
    assert {c.split()[1] for c in offered} <= relayed_addresses(res)
    # ... the selected pair runs from a relayed address to Janus's own host candidate
    pair = call["stats"]["pair"]
    assert f"{pair['local'][0]}:{pair['local'][1]}" in relayed_addresses(res)
    assert pair["remote"] == [BED_ADDRESS, JANUS_PORT]


def test_no_sdp_was_touched(turn_server: BrowserBedResult) -> None:
    call = turn_server.call
    assert call["offer"]["to_janus_sdp"] == call["offer"]["local_sdp"]
    # Janus heard only of the relayed candidates; its own is a plain host candidate
    assert call["answer"]["from_janus"]["candidates"] == [f"udp {JANUS}"]
    assert set(re.findall(r"Adding remote candidate \S+ \S+ type:relay \S+ --> (\S+)",
                          turn_server.janus_log)) <= relayed_addresses(turn_server)


def test_the_dtls_inside_the_allocation_is_one_session(turn_server: BrowserBedResult) -> None:
    res = turn_server
    dtls_sessions = {d["session"] for d in dtls_datagrams(res)}
    assert dtls_sessions == {"s1"}
    [opened] = [e for e in res.events("session_opened") if e["session"] == "s1"]
    assert "chromium" in opened["labels"] and JANUS in opened["endpoints"]
    assert [f["flight"] for f in res.events("flight", session="s1")] == [1, 4, 5, 6]
    assert handshake(res)[:2] == [("client->server", 1, "ClientHello"),
                                  ("server->client", 4, "ServerHello")]
    s = res.last_summary()
    assert (s["state"], s["version"]) == ("established", "DTLS 1.2")
    assert (s["client"], s["server_label"]) == (JANUS, "chromium")  # Janus answered active
    assert s["cipher_suite"] == "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"
    tr = res.call["stats"]["transport"]
    assert tr["dtlsRole"] == "server" and tr["dtlsCipher"] == s["cipher_suite"]
    # each datagram says which allocation carried it and how
    vias = {d["via"] for d in dtls_datagrams(res)}
    assert vias and all(re.fullmatch(r"t\d+ (send|data|channel 0x4[0-9a-f]{3})", v)
                        for v in vias), vias
    assert any("channel" in v for v in vias)
    assert res.events("verdict") == [] and res.events("malformed") == []


def test_allocations_are_in_the_log(turn_server: BrowserBedResult) -> None:
    allocs = turn_server.events("allocation")
    last: dict[str, dict[str, Any]] = {}
    for e in allocs:
        last[e["allocation"]] = e
    assert {e["username"] for e in allocs} == {"chromium"}
    assert all(e["state"] == "closed" for e in last.values())
    used = [e for e in allocs if JANUS in e["channels"].values()]
    assert used, allocs
    assert BED_ADDRESS in used[-1]["permissions"]
    # media both ways, summed: ICE may pick one of Chromium's allocations to send on and
    # Janus the other one's relayed address to answer to
    to_peer = sum(e["to_peer"][0] for e in last.values())
    from_peer = sum(e["from_peer"][0] for e in last.values())
    assert to_peer > 2 * MIN_PACKETS and from_peer > 2 * MIN_PACKETS, last


def test_pcapng_has_both_legs_and_wiresharks_dtls_stun_heuristic_reads_them(
    turn_server: BrowserBedResult,
) -> None:
    tshark = require_tool("tshark")
    out = subprocess.run(
        [tshark, "-r", str(turn_server.workdir / "proxy.pcapng"), "--enable-heuristic",
         "dtls_stun", "-Y", "dtls.handshake.type == 1", "-T", "fields", "-e", "udp.srcport",
         "-e", "udp.dstport", "-e", "stun.type", "-e", "stun.channel"],
        capture_output=True, text=True, check=True,
    ).stdout
    rows = [line.split("\t") for line in out.splitlines() if line]
    # Janus's ClientHello: on the relayed address <-> Janus leg bare, on the client leg
    # inside a Data indication or ChannelData (Wireshark finds it with dtls_stun)
    bare = [r for r in rows if str(JANUS_PORT) in r[:2] and not r[2] and not r[3]]
    wrapped = [r for r in rows if "3478" in r[:2] and (r[2] or r[3])]
    assert bare and wrapped, rows


# ---------------------------------------------------- 2. streaming, Chromium client


def test_chromium_as_dtls_client_with_no_sdp_edit(turn_client: BrowserBedResult) -> None:
    res = turn_client
    call = res.call
    assert call["state"] == "connected", res.explain()
    assert "a=setup:actpass" in call["offer"]["from_janus_sdp"]
    assert call["answer"]["local"]["setup"] and set(call["answer"]["local"]["setup"]) == {"active"}
    assert call["answer"]["to_janus_sdp"] == call["answer"]["local_sdp"]
    tr = call["stats"]["transport"]
    assert (tr["dtlsRole"], tr["dtlsState"]) == ("client", "connected")
    s = res.last_summary()
    assert (s["state"], s["client_label"], s["server"]) == ("established", "chromium", JANUS)
    assert s["note"] == "client offered DTLS 1.3 and 1.2; server chose 1.2"
    hello = res.events("message", type="ClientHello", copy=1)[0]
    assert len(hello["frames"]) == 2  # Chromium's two-datagram ClientHello, reassembled


# ----------------------------------------- 3. corrupted CertificateVerify, live verdict


def test_corrupted_certificate_verify_gets_the_live_verdict(
    turn_cv_fault: BrowserBedResult,
) -> None:
    res = turn_cv_fault
    [fault] = res.events("fault")
    assert (fault["rule"], fault["dir"], fault["session"]) == (CV_FAULT, "client->server", "s1")
    alerts = res.events("alert")
    assert (alerts[0]["dir"], alerts[0]["description_name"], alerts[0]["answers_flight"]) == (
        "server->client", "decrypt_error", 5)
    [verdict] = [v for v in res.events("verdict") if v["code"] != "handshake_incomplete"]
    assert verdict["code"] == "certificate_verify_bad_signature", verdict
    assert (verdict["culprit"]["type"], verdict["culprit"]["dir"]) == (
        "CertificateVerify", "client->server")
    assert verdict["culprit"]["frames"] == [fault["frame"]]
    assert [c["name"] for c in verdict["evidence"] if c["passed"] is False] == [
        "client CertificateVerify signature"]
    # the verdict was live: written during the call, the bed read it before hanging up
    assert res.call["live_verdict"]["code"] == "certificate_verify_bad_signature"
    assert res.last_summary()["state"] == "failed"
    assert "bad signature" in res.janus_log
    assert res.call["state"] == "failed"


def test_tui_names_the_culprit_of_the_turn_call(turn_cv_fault: BrowserBedResult) -> None:
    """What a user sees in the TUI: the banner and the CertificateVerify row selected."""
    from proxy.capture.eventlog import events_from_jsonl
    from ui.app import DtlsProxyApp
    from ui.ladder import LadderTable

    app = DtlsProxyApp(events=events_from_jsonl(turn_cv_fault.proxy_log))
    seen: dict[str, Any] = {}

    async def main() -> None:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            banner = app.query_one("#banner")
            seen["banner"] = str(banner.render())
            ladder = app.query_one(LadderTable)
            row = ladder.rows_shown[ladder.cursor_row]
            seen["row"] = row.cells[2].plain

    asyncio.run(main())
    assert re.search(r"decrypt_error in answer to client flight 5; culprit:\s+CertificateVerify",
                     seen["banner"]), seen
    assert "CertificateVerify" in seen["row"], seen


def test_readme_recipe_echotest_with_a_corrupted_janus_certificate_verify(
    turn_echotest_fault: BrowserBedResult,
) -> None:
    """README "Debugging Janus": one setting in the page, a fault on the proxy, the culprit."""
    res = turn_echotest_fault
    assert res.call["offer"]["to_janus_sdp"] == res.call["offer"]["local_sdp"]
    [fault] = res.events("fault")
    assert fault["dir"] == "client->server"
    s = res.last_summary()
    assert (s["state"], s["client"], s["server_label"]) == ("failed", JANUS, "chromium")
    alert = res.events("alert")[0]
    assert (alert["dir"], alert["description_name"]) == ("server->client", "decrypt_error")
    assert res.call["live_verdict"]["code"] == "certificate_verify_bad_signature"
    assert res.call["stats"]["transport"]["dtlsState"] == "failed"


# ------------------------------------------------------------------ 4. TURN over TCP


def test_chromium_over_turn_tcp(turn_tcp: BrowserBedResult) -> None:
    res = turn_tcp
    assert res.call["state"] == "connected" and res.call["echo"] == ECHO_REPLY, res.explain()
    assert {e["transport"] for e in res.events("allocation")} == {"tcp"}
    vias = {d["via"] for d in dtls_datagrams(res)}
    assert vias and all(v.endswith("/tcp") for v in vias), vias
    assert res.last_summary()["state"] == "established"
    closed = [e for e in res.events("allocation") if e["state"] == "closed"]
    assert closed and closed[-1]["reason"] in ("the client's TCP connection closed",
                                                "dtlsproxy stopped")


# --------------------------------------------------- 5. two Chromiums via the relay


def test_two_chromiums_through_the_relay_are_one_dtls13_session(
    turn_pair: BrowserBedResult,
) -> None:
    res = turn_pair
    assert res.call["state"] == ["connected", "connected"], res.explain()
    assert res.call["received"] == {"pc2": "ping from pc1", "pc1": "pong from pc2"}
    dtls = {d["session"] for d in dtls_datagrams(res)}
    assert dtls == {"s1"}
    [opened] = [e for e in res.events("session_opened") if e["session"] == "s1"]
    assert sorted(opened["labels"]) == ["pc1", "pc2"]
    s = res.last_summary()
    assert (s["state"], s["version"]) == ("established", "DTLS 1.3")
    hellos = [m["type"] for m in res.events("message", copy=1) if not m["encrypted"]]
    assert hellos == ["ClientHello", "ServerHello"]
    # by default two clients of the proxy reach each other (their relayed addresses)
    assert {e["username"] for e in res.events("allocation")} == {"pc1", "pc2"}
    assert not [n for n in res.events("notice") if n["code"] == "turn_peer_refused"]


# ------------------------- 5. Janus's own view: its Admin API and events, no SDP at all


def test_turn_mode_fingerprints_checked_against_the_sdps_janus_applied(
        turn_client: BrowserBedResult) -> None:
    """TURN mode with ``--janus-admin`` and ``--janus-events``: the proxy never sees the
    signalling, yet each certificate is checked against the SDP Janus applied (matched by
    the ICE ufrags in the STUN relayed inside the allocation)."""
    res = turn_client
    cmd = res.data["proxy"]["command"]
    assert "--janus-admin" in cmd and "--sdp" not in cmd
    # the report again when Janus's answer arrives after the handshake's: the last one
    report = res.events("checks")[-1]
    checks = {c["name"]: c for c in report["evidence"]}
    for role in ("client", "server"):
        c = checks[f"{role} certificate fingerprint vs SDP"]
        assert c["passed"] is True, c
        assert any(re.search(r"Janus handle \d+", k) for k in c["values"]), c
    states = res.events("peer")
    # Janus's own candidate is the session's endpoint at first; the ufrags once STUN flows
    assert states[0]["matched_by"] in ("candidate 10.99.0.1:20000", "selected pair "
                                       "10.99.0.1:20000") or states[0]["matched_by"].startswith(
        "ICE ufrag '"), states[0]
    assert states[-1]["matched_by"].startswith("ICE ufrag '"), states[-1]
    assert states[-1]["dtls_role"] == "server"  # Chromium is the client: Janus says so too
    assert [v for v in res.events("verdict") if v["code"] == "views_disagree"] == []


def test_turn_mode_janus_dtls_alert_next_to_the_culprit(
        turn_cv_fault: BrowserBedResult) -> None:
    res = turn_cv_fault
    said = [v["sentence"] for v in res.events("views")]
    assert any(re.match(r"Janus handle \d+ says: .*hung up, reason 'DTLS alert'; proxy: client "
                        r"CertificateVerify signature does not verify", s) for s in said), said
