"""`analyze --rsa-key`: a real OpenSSL 3.0 RSA key exchange (s_server/s_client -dtls1_2,
AES128-SHA at SECLEVEL=0) decrypted with the server's key (issue 14 item 5), and the
pre-RFC 0x0100 ClientKeyExchange without its length (tests/peers/bad_ver.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tests.conftest import DATA


def analyze(*args: str) -> list[dict[str, Any]]:
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", *args, "--format", "jsonl"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def evidence(events: list[dict[str, Any]]) -> dict[str, Any]:
    (c,) = [e for e in events if e["event"] == "checks"]
    return {x["name"]: x["passed"] for x in c["evidence"]}


def test_the_server_key_verifies_both_finished() -> None:
    cap = str(DATA / "openssl-rsa-key-exchange.pcap")
    got = evidence(analyze(cap, "--rsa-key", str(DATA / "openssl-rsa-key-exchange.server.key")))
    assert got["ClientKeyExchange premaster"] is True
    assert got["client Finished"] is True and got["server Finished"] is True
    plain = evidence(analyze(cap))
    assert plain["client Finished"] is None and plain["server Finished"] is None


def test_the_pre_rfc_client_key_exchange_has_no_length() -> None:
    def premaster(name: str) -> bytes:
        (m,) = [e for e in analyze(str(DATA / name)) if e["event"] == "message"
                and e["type"] == "ClientKeyExchange"]
        body = m["body"]
        return bytes.fromhex(body["encrypted_pre_master_secret"])

    bad = premaster("openssl-dtls10-rewritten-as-0x0100.pcapng")
    assert bad == premaster("openssl-dtls10-rsa-key-exchange.pcap") and len(bad) == 256
    key = serialization.load_pem_private_key(
        (DATA / "openssl-dtls10-rsa-key-exchange.server.key").read_bytes(), None)
    pm = key.decrypt(bad, padding.PKCS1v15())  # type: ignore[union-attr]
    assert len(pm) == 48 and pm[:2] == b"\xfe\xff"
