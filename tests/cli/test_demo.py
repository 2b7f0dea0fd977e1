"""`dtlsproxy demo`: real OpenSSL peers (pyOpenSSL) through the in-process relay.

Each built-in scenario must end with the verdict that names its culprit; the tour
must show a clean handshake and the seed's failure; and the TUI demo must show the
banner in a real terminal (tmux) and quit with exit status 0.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.bus import Bus
from proxy.demo.scenarios import scenario_names, start_demo
from proxy.events import CheckReport, Event, FaultApplied, SessionSummary, Verdict
from tests.conftest import ROOT
from tests.tmux import TmuxApp


async def _run(names: list[str]) -> list[Event]:
    bus = Bus()
    sub = bus.subscribe()
    demo = await start_demo(names, bus)
    try:
        await demo.run_calls(gap=0.1)
    finally:
        await demo.close()
    return sub.drain()


def run_demo(*names: str) -> list[Event]:
    return asyncio.run(_run(list(names)))


EXPECTED = {
    "bad-certificate-verify": ("certificate_verify_bad_signature", "client->server",
                               "CertificateVerify", True),
    "bad-server-key-exchange": ("server_key_exchange_bad_signature", "server->client",
                                "ServerKeyExchange", True),
    "bad-finished": ("finished_auth_failed", "client->server", "Finished", True),
    "drop-flight-4": ("flight_lost", "server->client", "ServerHello", False),
    "fingerprint-mismatch": ("fingerprint_mismatch", "client->server", "Certificate", True),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_scenario_names_its_culprit(name: str) -> None:
    events = run_demo(name)
    code, direction, culprit, certain = EXPECTED[name]
    verdicts = [e for e in events if isinstance(e, Verdict)]
    assert [v.code for v in verdicts][:1] == [code], [v.reason for v in verdicts]
    v = verdicts[0]
    assert v.culprit is not None
    assert (v.culprit.dir, v.culprit.type) == (direction, culprit)
    assert v.certain is certain
    if name != "fingerprint-mismatch":  # the SDP check needs no fault rule
        assert any(isinstance(e, FaultApplied) for e in events)


def test_tour_is_a_clean_handshake_then_the_seed_failure() -> None:
    events = run_demo(*scenario_names(None))
    final = {e.session: e for e in events if isinstance(e, SessionSummary)}
    assert (final["s1"].state, final["s2"].state) == ("established", "failed")
    assert final["s1"].srtp_profile == "SRTP_AES128_CM_HMAC_SHA1_80"
    assert final["s1"].cookie and final["s1"].client_label == "browser-1"
    clean = [e for e in events if isinstance(e, CheckReport) and e.session == "s1"]
    assert clean and clean[-1].passed
    assert not [e for e in events if isinstance(e, Verdict) and e.session == "s1"]
    (v,) = [e for e in events if isinstance(e, Verdict) and e.session == "s2"]
    assert v.code == "certificate_verify_bad_signature"
    assert "does not verify under the client certificate's key" in v.reason


def test_unknown_scenario_is_a_usage_error() -> None:
    r = subprocess.run([sys.executable, "-m", "proxy", "demo", "--fault", "nope"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert "unknown scenario 'nope'; choose one of: tour, none, bad-certificate-verify" in r.stderr


def test_demo_in_a_real_terminal_shows_the_culprit_and_quits(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "dtlsproxy"
    with TmuxApp(f"{exe} demo --fault bad-certificate-verify", tmp_path, (170, 48)) as term:
        screen = term.wait_for(lambda s: "decrypt_error" in s and "culprit" in s, timeout=20)
        banner = [ln for ln in screen.splitlines() if "decrypt_error" in ln]
        assert banner, screen
        assert "CertificateVerify" in screen
        assert "server (gateway) sent fatal decrypt_error in answer to client flight 5" in screen
        assert term.quit() == "0"
