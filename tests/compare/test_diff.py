"""``dtlsproxy diff``: the demo's clean call and its corrupted-CertificateVerify call (the
same two peers, real pyOpenSSL through the real relay) compared message by message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.capture.eventlog import events_from_jsonl
from proxy.compare.diff import diff_sessions, record_of

ROOT = Path(__file__).resolve().parents[2]
STACKS = ROOT / "tests" / "data" / "stacks"


def dtlsproxy(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's tour: s1 clean, s2 with the client's CertificateVerify corrupted."""
    log = tmp_path_factory.mktemp("tour") / "tour.jsonl"
    res = dtlsproxy("demo", "--headless", "--log-file", str(log))
    assert res.returncode == 0, res.stdout + res.stderr
    return log


def test_clean_vs_corrupted_certificate_verify_one_sentence(tour: Path) -> None:
    res = dtlsproxy("diff", f"{tour}#s1", f"{tour}#s2")
    assert res.returncode == 1, res.stderr  # they differ
    first = res.stdout.splitlines()[0]
    assert first.startswith("same client certificate (")
    assert "; same server certificate (" in first
    assert "messages identical except CertificateVerify signature (A's verifies, B's does not)" \
        in first
    assert first.endswith("A established; B failed: server sent fatal decrypt_error after "
                          "flight 5")
    rows = res.stdout.splitlines()
    cv = next(i for i, line in enumerate(rows) if "CertificateVerify" in line and "changed" in line)
    assert rows[cv + 1].strip() == "check: verifies -> does not verify"
    # ECDSA DER signatures are 70-72 bytes: their length may differ too, as expected
    assert "signature: differ, as expected" in [r.strip() for r in rows[cv + 2:cv + 5]]
    assert any(line.split()[:2] == ["only", "A"] and line.endswith("Finished") for line in rows)
    assert any("changed  state: established -> failed" in line for line in rows)


def test_jsonl_and_all(tour: Path) -> None:
    res = dtlsproxy("diff", f"{tour}#s1", f"{tour}#s2", "--format", "jsonl")
    objs = [json.loads(line) for line in res.stdout.splitlines()]
    assert objs[0]["kind"] == "summary" and objs[0]["state_b"] == "failed"
    cv = next(o for o in objs if o["kind"] == "message" and o["type"] == "CertificateVerify")
    fields = {f["name"]: f for f in cv["fields"]}
    assert cv["status"] == "changed"
    assert (fields["check"]["a"], fields["check"]["b"]) == ("verifies", "does not verify")
    assert fields["signature"]["status"] == "expected"
    assert fields["signature scheme"]["status"] == "same"
    hellos = [o for o in objs if o.get("type") == "ClientHello"]
    assert [o["status"] for o in hellos] == ["same", "same"]
    # --all: the values that always differ count too, and are shown
    everything = dtlsproxy("diff", f"{tour}#s1", f"{tour}#s2", "--all", "--format", "jsonl")
    objs = [json.loads(line) for line in everything.stdout.splitlines()]
    hello = next(o for o in objs if o.get("type") == "ClientHello")
    random = next(f for f in hello["fields"] if f["name"] == "random")
    assert hello["status"] == "changed" and random["status"] == "changed"


def test_a_session_against_itself_is_the_same(tour: Path) -> None:
    res = dtlsproxy("diff", f"{tour}#s1", f"{tour}#s1")
    assert res.returncode == 0
    assert "messages identical (randoms, keys and signatures differ, as expected)" in \
        res.stdout.splitlines()[0]
    assert res.stdout.splitlines()[0].endswith("both established")


def test_the_api_gives_the_same_sentence(tour: Path) -> None:
    events = events_from_jsonl(tour)
    d = diff_sessions(record_of(events, "s1"), record_of(events, "s2"))
    assert "messages identical except CertificateVerify signature" in d.summary
    changed = [m.type for m in d.messages if m.status == "changed"]
    # the client Finished is checked over the transcript as delivered (the corrupted
    # CertificateVerify in it): it fails too when the key log had the secret in time
    assert changed in (["CertificateVerify"], ["CertificateVerify", "Finished"])


def test_two_captures_of_different_stacks() -> None:
    a, b = STACKS / "openssl-3.0-cli.pcap", STACKS / "pyopenssl-openssl-4.0.pcap"
    res = dtlsproxy("diff", str(a), str(b))
    assert res.returncode == 1, res.stderr
    first = res.stdout.splitlines()[0]
    assert "different client certificate" in first and "different server certificate" in first
    assert "client stack OpenSSL 3.0.x (high) in A, OpenSSL 4.0.x (high) in B" in first
    hello = next(line for line in res.stdout.splitlines()
                 if "ClientHello" in line and "changed" in line)
    assert hello
    lines = [line.strip() for line in res.stdout.splitlines()]
    assert "extensions: only in B: renegotiation_info" in lines
    assert "cipher_suites: only in A: TLS_EMPTY_RENEGOTIATION_INFO_SCSV" in lines


@pytest.mark.parametrize(("args", "message"), [
    (["{log}#s9", "{log}#s1"], "has no session s9 (it has s1, s2)"),
    (["{log}", "{log}#s1"], "holds 2 sessions (s1, s2): name one"),
    (["/nonexistent.pcap#s1", "{log}#s1"], "No such file"),
])
def test_bad_selectors_say_what_exists(args: list[str], message: str, tour: Path) -> None:
    res = dtlsproxy("diff", *(a.format(log=tour) for a in args))
    assert res.returncode == 2
    assert message in res.stderr and res.stderr.startswith("dtlsproxy diff: ")
