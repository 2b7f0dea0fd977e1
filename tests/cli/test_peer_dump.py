"""``run --peer-dump`` and ``analyze --peer-dump`` on the command line: a file that is not
a dump is named with what is wrong; a dump's peer connections are announced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "peerstate"


def _dump(path: Path) -> Path:
    """A webrtc-internals dump of the SDPs of a real aiortc <-> Janus call."""
    call = json.loads((DATA / "janus-1.1.2-call-clean.json").read_text())
    log = [{"time": "2026-12-04T21:22:50.000Z", "type": "setLocalDescriptionOnSuccess",
            "value": f"type: offer, sdp: {call['offer_to_janus']}"},
           {"time": "2026-12-04T21:22:50.100Z", "type": "setRemoteDescriptionOnSuccess",
            "value": f"type: answer, sdp: {call['answer_from_janus']}"}]
    path.write_text(json.dumps({"PeerConnections": {"7-1": {"updateLog": log, "stats": {}}},
                                "UserAgent": "test"}))
    return path


def test_run_names_a_bad_peer_dump(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": 1}')
    res = subprocess.run([sys.executable, "-m", "proxy", "run", "--side-a", "127.0.0.1:0",
                          "--side-b", "127.0.0.1:0", "--headless", "--duration", "1",
                          "--peer-dump", str(bad)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    assert "--peer-dump bad.json: neither a webrtc-internals dump" in res.stderr


def test_run_announces_the_dump_and_keeps_relaying(tmp_path: Path) -> None:
    dump = _dump(tmp_path / "webrtc_internals_dump.txt")
    res = subprocess.run([sys.executable, "-m", "proxy", "run", "--side-a", "127.0.0.1:0",
                          "--side-b", "127.0.0.1:0", "--headless", "--duration", "1",
                          "--peer-dump", str(dump)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "1 peer connections; matched to sessions as their STUN arrives" in res.stderr


def test_analyze_names_a_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "dump.txt"
    bad.write_text("not json")
    cap = ROOT / "tests" / "data" / "openssl-refragmented-retransmission.pcapng"
    res = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(cap), "--peer-dump",
                          str(bad)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 2
    assert "--peer-dump dump.txt: not JSON" in res.stderr
