"""NSS key log parsing: good lines, bad lines (no secret echoed), several files, conflicts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proxy.decode.keylog import KeyLog, KeyLogError

CR = bytes(range(32))
MS_A = bytes([0xAA]) * 48
MS_B = bytes([0xBB]) * 48
SECRET_HEXES = (MS_A.hex(), MS_B.hex(), "cc" * 32)


def write_private(path: Path, text: str) -> Path:
    """Key logs hold secrets: create them 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


def assert_no_secret(text: str) -> None:
    for h in SECRET_HEXES:
        assert h not in text.lower()
        assert h[:24] not in text.lower()


def test_shared_capture_keylog_parses(captures_dir: Path) -> None:
    log = KeyLog.load(captures_dir / "dtls12-aes128ccm8-dsb.keys.derived.txt")
    cr = bytes.fromhex("588e5f9dc778cef22405f42f9bea25928bd0312ce14d642d034d24f4fab672fc")
    ms = log.master_secret(cr)
    assert ms is not None and ms.hex().startswith("7057f3d706cf")
    assert cr in log
    assert len(log.rsa_sessions) == 1 and log.rsa_sessions[0].secret == ms
    assert log.problems == [] and log.conflicts() == []
    assert "7057f3d7" not in repr(log) and "7057f3d7" not in str(log)


def test_tls13_labels_and_comments() -> None:
    log = KeyLog()
    log.add_text(
        "# written by a test\n\n"
        f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR.hex()} {'11' * 32}\n"
        f"SERVER_HANDSHAKE_TRAFFIC_SECRET {CR.hex()} {'22' * 32}\n"
        f"CLIENT_TRAFFIC_SECRET_0 {CR.hex()} {'33' * 48}\n"
        f"SERVER_TRAFFIC_SECRET_0 {CR.hex()} {'44' * 48}\n"
        f"EXPORTER_SECRET {CR.hex()} {'55' * 32}\n",
        "tls13.keys",
    )
    assert log.problems == []
    assert log.secret("SERVER_TRAFFIC_SECRET_0", CR) == bytes([0x44]) * 48
    assert log.secret("EXPORTER_SECRET", CR) == bytes([0x55]) * 32
    assert log.master_secret(CR) is None
    assert CR not in log  # no DTLS 1.2 master secret for it


def test_bad_lines_report_line_and_problem_without_the_secret() -> None:
    log = KeyLog()
    log.add_text(
        f"CLIENT_RANDOM {CR.hex()}\n"  # 1: missing secret
        f"CLIENT_RANDOM {CR.hex()[:-2]} {MS_A.hex()}\n"  # 2: 31-byte random
        f"CLIENT_RANDOM {CR.hex()} {MS_A.hex()[:-2]}zz\n"  # 3: not hex
        f"CLIENT_RANDOM {CR.hex()} {MS_A.hex()[:64]}\n"  # 4: 32-byte master secret
        f"{MS_B.hex()} {CR.hex()} {MS_A.hex()}\n"  # 5: a secret where the label goes
        "RSA Session-ID:00 Master-Key\n",  # 6
        "bad.keys",
    )
    got = [(p.line, p.problem) for p in log.problems]
    assert [n for n, _ in got] == [1, 2, 3, 4, 5, 6]
    assert "expected 3 fields" in got[0][1]
    assert "client random is 31 bytes, expected 32" in got[1][1]
    assert "secret is not hex" in got[2][1]
    assert "secret is 32 bytes, expected 48" in got[3][1]
    assert got[4][1] == "unknown label (not a label); line ignored"
    assert str(log.problems[0]).startswith("bad.keys:1: ")
    assert_no_secret(" ".join(str(p) for p in log.problems) + repr(log.problems))
    assert len(log) == 0


def test_two_peers_disagree_on_master_secret(tmp_path: Path) -> None:
    client = write_private(tmp_path / "client.keys", f"CLIENT_RANDOM {CR.hex()} {MS_A.hex()}\n")
    server = write_private(
        tmp_path / "server.keys",
        f"CLIENT_RANDOM {'ff' * 32} {MS_A.hex()}\nCLIENT_RANDOM {CR.hex()} {MS_B.hex()}\n",
    )
    log = KeyLog.load(client, server)
    assert log.master_secrets(CR) == {str(client): MS_A, str(server): MS_B}
    assert log.master_secret(CR) == MS_A  # first source wins; conflicts() tells
    [conflict] = log.conflicts()
    assert conflict.client_random == CR and conflict.label == "CLIENT_RANDOM"
    assert conflict.groups == ((f"{client}:1",), (f"{server}:2",))
    assert "differs between" in str(conflict)
    for text in (repr(log), str(log), str(conflict), repr(conflict), repr(list(log.entries()))):
        assert_no_secret(text)
    assert "1 conflict(s)" in repr(log)


def test_agreeing_files_are_not_a_conflict(tmp_path: Path) -> None:
    line = f"CLIENT_RANDOM {CR.hex()} {MS_A.hex()}\n"
    a = write_private(tmp_path / "a.keys", line)
    b = write_private(tmp_path / "b.keys", line)
    log = KeyLog.load(a, b)
    assert log.conflicts() == [] and len(log.master_secrets(CR)) == 2


def test_missing_file_says_what_it_blocks(tmp_path: Path) -> None:
    with pytest.raises(KeyLogError, match="cannot decrypt Finished / encrypted alerts"):
        KeyLog.load(tmp_path / "nope.keys")


def test_followed_file_is_reread_when_a_secret_is_missing(tmp_path: Path) -> None:
    """A browser's SSLKEYLOGFILE grows during the run: a miss re-reads appended lines
    (complete lines only; a half-written line waits for its newline)."""
    cr1, cr2 = bytes(32), bytes([1]) * 32
    ms1, ms2 = bytes([2]) * 48, bytes([3]) * 48
    path = tmp_path / "keys.log"
    path.write_text(f"CLIENT_RANDOM {cr1.hex()} {ms1.hex()}\n")
    log = KeyLog.load(path)
    assert log.master_secret(cr2) is None
    line = f"CLIENT_RANDOM {cr2.hex()} {ms2.hex()}\n"
    with path.open("a") as f:
        f.write(line[:40])
    assert log.master_secret(cr2) is None
    with path.open("a") as f:
        f.write(line[40:])
    assert log.master_secret(cr2) == ms2
    assert log.master_secret(cr1) == ms1 and len(log.client_randoms()) == 2
    assert not log.problems
