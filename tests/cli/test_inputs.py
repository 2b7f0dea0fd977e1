"""The files the verdicts need, loaded by the command line (proxy.cli.inputs): what each
problem says, the key log created 0600 and followed as it grows, no secret in a repr."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from proxy.cli.inputs import load_secrets, read_sdps
from proxy.demo.peers import make_identity, write_secret
from proxy.verdict import Secrets

RANDOM = "ab" * 32
SECRET = "cd" * 48


def test_a_missing_key_log_says_what_it_blocks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"key log file .*nope.keys not found: cannot "
                                         r"decrypt Finished / encrypted alerts without it"):
        load_secrets([tmp_path / "nope.keys"])


def test_run_creates_a_missing_key_log_0600_and_follows_it_as_it_grows(tmp_path: Path) -> None:
    path = tmp_path / "later.keys"
    secrets = load_secrets([path], create_keylogs=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.keylog is not None and secrets.rsa is None and secrets
    assert secrets.keylog.master_secret(bytes.fromhex(RANDOM)) is None
    with path.open("a") as f:  # a peer started after the proxy writes its line
        f.write(f"CLIENT_RANDOM {RANDOM} {SECRET}\n")
    assert secrets.keylog.master_secret(bytes.fromhex(RANDOM)) == bytes.fromhex(SECRET)
    assert SECRET not in repr(secrets) and "cdcd" not in repr(secrets)


def test_no_files_no_secrets() -> None:
    assert not load_secrets() and load_secrets() == Secrets()


def test_rsa_keys_are_checked_when_loaded(tmp_path: Path) -> None:
    not_pem = tmp_path / "key.txt"
    not_pem.write_text("hello")
    with pytest.raises(ValueError, match=r"key.txt: not an unencrypted PEM private key"):
        load_secrets(rsa_keys=[not_pem])
    ec_key = tmp_path / "ec.key"
    write_secret(ec_key, make_identity().key_pem)  # an ECDSA key: no RSA premaster
    with pytest.raises(ValueError, match=r"ec.key: not an RSA private key"):
        load_secrets(rsa_keys=[ec_key])
    with pytest.raises(ValueError, match=r"missing.pem: cannot read it \(No such file"):
        load_secrets(rsa_keys=[tmp_path / "missing.pem"])


def test_sdp_files_are_read_as_they_are(tmp_path: Path) -> None:
    offer, empty = tmp_path / "offer.sdp", tmp_path / "answer.sdp"
    offer.write_text("v=0\r\n")
    empty.write_text("")
    assert read_sdps([offer, empty]) == ((str(offer), "v=0\n"), (str(empty), ""))
    with pytest.raises(ValueError, match=r"--sdp .*gone.sdp: cannot read it \(No such file"):
        read_sdps([tmp_path / "gone.sdp"])
