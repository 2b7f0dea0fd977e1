"""The data channel of the aiortc <-> Janus echotest, read from the proxy's own capture of
that call (both legs, tests/data/janus-aiortc-datachannel.*) with aiortc's key log:
DTLS 1.2 application data decrypted, SCTP followed to ESTABLISHED, the "echo" channel's
OPEN and ACK, and Janus's echo seen only with --show-payloads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"
CAP = DATA / "janus-aiortc-datachannel.pcapng"
KEYS = DATA / "janus-aiortc-datachannel.keys"


def analyze(*extra: str) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "proxy", "analyze", str(CAP), "--format", "jsonl", "-j", "1",
         *extra], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode in (0, 4), out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def last_channels(events: list[dict[str, object]], sid: str) -> dict[str, object]:
    return [e for e in events if e["event"] == "datachannels" and e["session"] == sid][-1]


def test_echo_channel_with_key_log_no_payloads() -> None:
    events = analyze("--keylog", str(KEYS))
    chunks = [e["chunk"] for e in events if e["event"] == "sctp" and e["session"] == "s1"]
    assert chunks[:6] == ["INIT", "INIT", "INIT ACK", "INIT ACK", "COOKIE ECHO", "COOKIE ECHO"]
    assert "DATA_CHANNEL_OPEN" in chunks and "DATA_CHANNEL_ACK" in chunks
    dc = last_channels(events, "s1")
    assert dc["state"] == "established"
    (ch,) = dc["channels"]  # type: ignore[misc]
    assert ch["label"] == "echo" and ch["state"] == "open" and ch["ordered"] is True
    assert ch["reliability"] == "reliable" and ch["opened_by"] == "client->server"
    assert ch["messages"]["client->server"] >= 1 and ch["messages"]["server->client"] >= 1
    assert ch["bytes"]["server->client"] >= len("Janus EchoTest here! You wrote: ping")
    # user data stays out of the log unless asked
    assert not [e for e in events if e["event"] == "dc_message"]
    assert "Janus EchoTest" not in json.dumps(events)


def test_echo_message_shown_with_show_payloads() -> None:
    events = analyze("--keylog", str(KEYS), "--show-payloads")
    texts = {(e["session"], e["dir"], e["text"]) for e in events if e["event"] == "dc_message"}
    assert ("s1", "client->server", "ping") in texts
    assert ("s1", "server->client", "Janus EchoTest here! You wrote: ping") in texts
    msg = next(e for e in events if e["event"] == "dc_message")
    assert msg["label"] == "echo" and msg["ppid"] == "WebRTC String"


def test_without_key_log_says_what_it_blocks() -> None:
    events = analyze("--no-capture-keys")
    dc = last_channels(events, "s1")
    assert dc["state"] == "encrypted" and dc["channels"] == []
    note = str(dc["note"])
    assert "CLIENT_RANDOM line in the key log" in note and "--keylog" in note
    assert not [e for e in events if e["event"] == "sctp"]
