"""A real Janus (Debian's package, echotest plugin) and a real WebRTC peer (aiortc).

Each scenario runs in its own private network namespace (tests/janus/): Janus and
aiortc gather a host candidate on 10.99.0.1 there, nothing can leave the machine.
Runs are cached per scenario so several tests read the facts of one call; every
run is checked to leave no process and no namespace behind.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.janus import sdp as sdpmod
from tests.janus.harness import BedResult, run_bed
from tests.janus.peer import ECHO_REPLY

pytestmark = pytest.mark.peers

Bed = Callable[..., BedResult]


@pytest.fixture(scope="session")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Bed:
    """``bed(relay=..., dtls_role=..., scenario=...)``: one run per distinct arguments."""
    require_tool("janus")
    require_tool("unshare")
    require_tool("ip")
    cache: dict[tuple[tuple[str, object], ...], BedResult] = {}

    def get(**kw: object) -> BedResult:
        key = tuple(sorted(kw.items()))
        if key not in cache:
            name = "-".join(str(v) for _, v in key) or "default"
            cache[key] = run_bed(tmp_path_factory.mktemp(f"janus-{name}"), **kw)  # type: ignore[arg-type]
        result = cache[key]
        assert not result.leftovers, result.explain()
        assert "crash" not in result.data, result.explain()
        return result

    return get


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


def test_direct_call_actpass_offer_makes_janus_the_dtls_client(bed: Bed) -> None:
    r = bed(relay="none", dtls_role="server")
    assert_clean_call(r)
    assert sdpmod.setup_values(r.call["offer_to_janus"]) == ["actpass", "actpass"]
    assert set(sdpmod.setup_values(r.call["answer_from_janus"])) == {"active"}
    assert "Setting connect state (DTLS client)" in r.janus_log
    assert r.call["aiortc"]["role"] == "server"
    assert r.call["aiortc"]["cipher"] == "ECDHE-ECDSA-CHACHA20-POLY1305"


def test_direct_call_active_offer_makes_aiortc_the_dtls_client(bed: Bed) -> None:
    r = bed(relay="none", dtls_role="client")
    assert_clean_call(r)
    assert set(sdpmod.setup_values(r.call["offer_to_janus"])) == {"active"}
    assert set(sdpmod.setup_values(r.call["answer_from_janus"])) == {"passive"}
    assert "Setting accept state (DTLS server)" in r.janus_log
    assert r.call["aiortc"]["role"] == "client"
    assert r.call["aiortc"]["cipher"].startswith("ECDHE-ECDSA-")


def test_direct_call_uses_the_namespace_address_only(bed: Bed) -> None:
    r = bed(relay="none", dtls_role="server")
    assert r.data["netns"]["routes"] == [
        "10.99.0.0/24 dev d0 proto kernel scope link src 10.99.0.1"
    ]
    assert {h for h, _ in sdpmod.udp_addresses(r.call["answer_from_janus"])} == {"10.99.0.1"}
    assert {h for h, _ in sdpmod.udp_addresses(r.call["offer_local"])} == {"10.99.0.1"}


# ------------------------------------------------------- through a trivial relay


@pytest.mark.parametrize("role", ["server", "client"])
def test_trivial_relay_carries_the_whole_call(bed: Bed, role: str) -> None:
    r = bed(relay="trivial", dtls_role=role)
    assert_clean_call(r)
    assert r.call["aiortc"]["role"] == role
    counts = r.relay["counts"]
    for direction in ("a->b", "b->a"):
        for kind in ("stun", "dtls", "rtp"):
            assert counts.get(f"{direction} {kind}", 0) > 0, (direction, kind, counts)
    assert r.relay["refused"] == {"a": {}, "b": {}}


@pytest.mark.parametrize("role", ["server", "client"])
def test_trivial_relay_leaves_no_direct_path(bed: Bed, role: str) -> None:
    r = bed(relay="trivial", dtls_role=role)
    relay_a = tuple(r.relay["addresses"]["a"])
    relay_b = tuple(r.relay["addresses"]["b"])
    janus_real = sdpmod.udp_addresses(r.call["answer_from_janus"])
    aiortc_real = sdpmod.udp_addresses(r.call["offer_local"])
    # each side only ever learned the relay's address...
    assert sdpmod.udp_addresses(r.call["offer_to_janus"]) == {relay_b}
    assert sdpmod.udp_addresses(r.call["answer_to_aiortc"]) == {relay_a}
    assert r.janus_remote_candidates() == {relay_b}
    # ...ICE selected it, and the relay's peers are the real endpoints
    assert tuple(r.call["aiortc"]["selected_pair"]["remote"]) == relay_a
    assert tuple(r.relay["peers"]["a"]) in aiortc_real
    assert tuple(r.relay["peers"]["b"]) in janus_real
    assert not (janus_real | aiortc_real) & {relay_a, relay_b}


def test_wrong_fingerprint_in_the_offer_makes_janus_hang_up(bed: Bed) -> None:
    r = bed(relay="trivial", dtls_role="server", scenario="wrong_fingerprint")
    assert r.call["ok"], r.explain()
    assert "Fingerprint is NOT a match" in r.janus_log
    events = r.janus_events()
    assert "webrtcup" not in events
    hangups = [e for e in r.call["janus_events"] if e["janus"] == "hangup"]
    assert hangups and hangups[0]["reason"] == "DTLS alert", r.call["janus_events"]
    assert r.call["media"]["frames"] == 0


# ------------------------------------------------------------------- hygiene


def test_a_killed_bed_leaves_no_process_and_no_namespace(tmp_path: Path) -> None:
    require_tool("janus")
    r = run_bed(tmp_path, relay="trivial", scenario="hang", timeout=20.0, kill_when_ready=True)
    assert r.returncode is None, "the hang scenario must have been killed"
    assert r.data["janus"]["pid"] > 0, r.explain()  # Janus was really running
    assert r.leftovers == []


def test_no_named_test_namespace_exists() -> None:
    if shutil.which("ip") is None:
        pytest.skip("iproute2 not installed")
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "dtlsproxy" not in out
