"""`analyze` decrypts with the capture's own pcapng Decryption Secrets Block, as tshark
does: no --keylog needed (issue 14 item 5). The capture is Wireshark's own test file
(GnuTLS 3.5.8 PSK client and server, TLS_PSK_WITH_AES_128_CCM_8, ../shared/captures)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.conftest import CAPTURES

DSB = CAPTURES / "dtls12-aes128ccm8-dsb.pcapng"


def analyze(*args: str) -> list[dict[str, Any]]:
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", *args, "--format", "jsonl"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def evidence(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    checks = [e for e in events if e["event"] == "checks"]
    return {c["name"]: c for c in checks[-1]["evidence"]}


def test_both_finished_verify_with_the_capture_secrets_alone() -> None:
    events = analyze(str(DSB))
    ev = evidence(events)
    assert ev["client Finished"]["passed"] is True
    assert ev["server Finished"]["passed"] is True
    # the key log named is the capture's block (never the secret itself)
    assert ev["key logs agree"]["values"]["master secret 1"].endswith(
        "dtls12-aes128ccm8-dsb.pcapng (Decryption Secrets Block)")
    assert "ca19e028a8a372ad2d325f950fcaceed" not in json.dumps(events)
    alerts = [e for e in events if e["event"] == "alert"]
    assert [(a["description_name"], a["by_size"]) for a in alerts] == [("close_notify", False)]


def test_no_capture_keys_leaves_the_finished_unverified() -> None:
    ev = evidence(analyze(str(DSB), "--no-capture-keys"))
    assert ev["client Finished"]["passed"] is None
    assert "key log" in ev["client Finished"]["detail"]


def test_a_capture_without_secrets_blocks_is_analysed_as_before() -> None:
    ev = evidence(analyze(str(CAPTURES / "dtls1_2.pcap")))
    assert ev["server Finished"]["passed"] is None
