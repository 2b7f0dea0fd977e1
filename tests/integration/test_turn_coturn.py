"""dtlsproxy's TURN server refereed by coturn's own client (issue 13).

One bed run (module fixture, :mod:`tests.turnbed.coturn`): two real ``dtlsproxy run
--turn`` processes in a private network namespace, ``turnutils_peer`` echoing, and
``turnutils_uclient`` in each mode: ChannelData (its default, RFC 5766 channel numbers),
Send indications (``-s``), TCP to the TURN port (``-t``), IPv6 relaying (``-x``), TURN
REST API credentials (``-W``), a wrong password; then the security rules.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_tool
from tests.turnbed.coturn import run_bed

pytestmark = [pytest.mark.peers, pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    for tool in ("turnutils_uclient", "turnutils_peer", "unshare"):
        require_tool(tool)
    res = run_bed(tmp_path_factory.mktemp("coturn"))
    assert "crash" not in res.data, res.data.get("crash")
    assert res.leftovers == []
    return res


def log(bed: Any, name: str) -> list[dict[str, Any]]:
    path: Path = bed.workdir / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def totals(output: str) -> tuple[int, int, int]:
    """(sent, received, lost) from turnutils_uclient's summary lines."""
    sent, recv = map(int, re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)$", output,
                                     re.M)[-1])
    lost = int(re.findall(r"Total lost packets (\d+)", output)[-1])
    return sent, recv, lost


@pytest.mark.parametrize("mode", ["channel", "send", "tcp", "tcp_send", "ipv6", "rest_api"])
def test_every_packet_is_echoed_through_the_relay(bed: Any, mode: str) -> None:
    run = bed.data["runs"][mode]
    assert run["rc"] == 0, run["output"][-1500:]
    assert totals(run["output"]) == (10, 10, 0), run["output"][-1500:]


def test_allocations_are_logged_with_their_channels_and_bytes(bed: Any) -> None:
    allocs = [e for e in log(bed, "open") if e["event"] == "allocation"]
    last: dict[str, dict[str, Any]] = {}
    for e in allocs:
        last[e["allocation"]] = e
    assert {e["transport"] for e in last.values()} == {"udp", "tcp"}
    assert all(e["state"] == "closed" for e in last.values())
    # uclient binds channels from RFC 5766's range 0x4000-0x7FFF
    channels = {int(c, 16) for e in allocs for c in e["channels"]}
    assert channels and all(0x4000 <= c <= 0x7FFF for c in channels)
    assert any(e["relayed"].startswith("[::1]:") for e in allocs)  # -x: IPv6 relay
    assert any(re.fullmatch(r"\d+:alice", e["username"]) for e in allocs)  # REST API user
    moved = [e for e in last.values() if e["to_peer"][0] and e["from_peer"][0]]
    assert moved and all(e["to_peer"][1] >= 200 * e["to_peer"][0] - 200 for e in moved)


def test_the_relayed_traffic_is_decoded_as_sessions_client_to_peer(bed: Any) -> None:
    events = log(bed, "open")
    opened = [e for e in events if e["event"] == "session_opened"]
    assert opened and all(e["labels"][0] in ("user",) or ":alice" in e["labels"][0]
                          or e["labels"][1] in ("user",) for e in opened), opened
    peers = {e["endpoints"][1] for e in opened} | {e["endpoints"][0] for e in opened}
    assert "127.0.0.1:3480" in peers and "[::1]:3480" in peers


def test_wrong_password_is_refused(bed: Any) -> None:
    run = bed.data["runs"]["wrong_password"]
    assert run["rc"] != 0 and "Cannot complete Allocation" in run["output"]
    notices = [e["message"] for e in log(bed, "open") if e.get("code") == "turn_auth"]
    assert any("wrong password for 'user'" in m for m in notices), notices


def test_unauthenticated_allocate_gets_401_and_allocates_nothing(bed: Any) -> None:
    assert bed.data["unauthenticated"] == {"cls": 3, "code": 401, "realm": "dtlsproxy",
                                           "nonce": True}
    # the open proxy's allocations all belong to authenticated users
    users = {e["username"] for e in log(bed, "open") if e["event"] == "allocation"}
    assert users and "" not in users


def test_loopback_peer_refused_by_default(bed: Any) -> None:
    run = bed.data["runs"]["loopback_refused"]
    assert run["rc"] != 0 and "403" in run["output"], run["output"][-800:]
    refused = [e["message"] for e in log(bed, "strict") if e.get("code") == "turn_peer_refused"]
    assert refused and all("127.0.0.1 is a loopback address" in m for m in refused), refused
    assert not [e for e in log(bed, "strict") if e["event"] == "session_opened"]


def test_allocation_beyond_the_quota_refused(bed: Any) -> None:
    assert bed.data["quota"] == [None, None, 486]
    quota = [e["message"] for e in log(bed, "strict") if e.get("code") == "turn_quota"]
    assert quota == ["TURN: allocation for 'quota' at " + quota[0].split(" at ")[1]]
    assert "quota of 2 allocations per user" in quota[0]


def test_pcapng_has_both_legs_and_tshark_reads_the_turn_messages(bed: Any) -> None:
    import subprocess

    tshark = require_tool("tshark")
    out = subprocess.run([tshark, "-r", str(bed.workdir / "open.pcapng"), "-T", "fields",
                          "-e", "stun.type", "-e", "stun.channel", "-e", "udp.srcport",
                          "-e", "udp.dstport"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines() if line]
    types = {r[0] for r in rows}
    # Allocate request/success, ChannelBind, Send and Data indications (hex types)
    assert {"0x0003", "0x0103", "0x0009", "0x0016", "0x0017"} <= types, types
    assert any(r[1] for r in rows), "ChannelData on the client leg"
    # the other leg: relayed address <-> turnutils_peer, the bare payloads
    peer_leg = [r for r in rows if "3480" in (r[2], r[3]) and not r[0] and not r[1]]
    assert len(peer_leg) >= 2 * 10 * 6, len(peer_leg)
