"""The files the verdicts need, read once by the command line: key logs, RSA keys, SDPs.

Each command turns its flags into :class:`~proxy.verdict.VerdictOptions` and
:class:`~proxy.verdict.Secrets` here and gives them to the
:class:`~proxy.verdict.VerdictEngine`, which reads no file itself. Every problem is a
:class:`ValueError` whose message names the file and what it blocks.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from proxy.decode.keylog import KeyLog, KeyLogError
from proxy.verdict import SdpText, Secrets
from proxy.verdict.keys import RsaPremaster

if TYPE_CHECKING:
    from proxy.peerstate.views import PeerView


def load_secrets(keylogs: Sequence[Path] = (), rsa_keys: Sequence[Path] = (), *,
                 create_keylogs: bool = False,
                 embedded: tuple[str, Sequence[str]] | None = None) -> Secrets:
    """Key log files (merged, followed as they grow) and server RSA private keys (PEM).

    ``create_keylogs``: a key log that does not exist yet is created empty, mode 0600
    (``run``: the peers started after the proxy append to it, SSLKEYLOGFILE).
    ``embedded``: ``(source, lines)`` of key log lines that came with the capture (its
    pcapng Decryption Secrets Blocks, :func:`capture_key_lines`), merged after the files.
    """
    if create_keylogs:
        for path in keylogs:
            _create_private(path)
    keylog = None
    if keylogs:
        try:
            keylog = KeyLog.load(*keylogs)
        except KeyLogError as e:
            raise ValueError(str(e)) from None
    if embedded is not None and embedded[1]:
        keylog = keylog or KeyLog()
        keylog.add_text("\n".join(embedded[1]) + "\n", embedded[0])
    return Secrets(keylog=keylog, rsa=_load_rsa_keys(rsa_keys))


def capture_key_lines(path: str) -> tuple[str, list[str]] | None:
    """The key log lines of a pcapng's Decryption Secrets Blocks (as tshark uses them
    without any key log option), named ``CAPTURE (Decryption Secrets Block)``; None for a
    capture without any, a pipe (read once, by the analysis) or a file that is not a
    readable capture (the analysis says so)."""
    from proxy.capture.pcap import CaptureError, read_capture_secrets

    if not os.path.isfile(path):
        return None
    try:
        lines = read_capture_secrets(path)
    except CaptureError:
        return None
    return (f"{path} (Decryption Secrets Block)", lines) if lines else None


def read_sdps(paths: Sequence[Path]) -> tuple[SdpText, ...]:
    """``(path, text)`` of each SDP file (an empty one: not written yet)."""
    out = []
    for path in paths:
        try:
            out.append((str(path), path.read_text(encoding="utf-8", errors="replace")))
        except OSError as e:
            raise ValueError(f"--sdp {path}: cannot read it ({e.strerror or e})") from None
    return tuple(out)


def read_peer_dumps(paths: Sequence[Path]) -> list[PeerView]:
    """The peer connections of each ``--peer-dump`` file (Chrome's webrtc-internals dump,
    Firefox's about:webrtc data). Raises ValueError naming the file."""
    from proxy.peerstate.dumps import parse_dump
    from proxy.peerstate.views import PeerDataError

    out: list[PeerView] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            raise ValueError(f"--peer-dump {path}: cannot read it ({e.strerror or e})") from None
        try:
            out.extend(parse_dump(text, path.name))
        except PeerDataError as e:
            raise ValueError(f"--peer-dump {e}") from None
    return out


def _create_private(path: Path) -> None:
    if not path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            raise ValueError(f"--keylog {path}: cannot create it ({exc.strerror})") from None


RSA_HINT = "the premasters of TLS_RSA_* handshakes stay unread without it"


def _load_rsa_keys(paths: Sequence[Path]) -> RsaPremaster | None:
    """Server RSA private keys (PEM, unencrypted) for TLS_RSA_* premasters."""
    if not paths:
        return None
    from cryptography.hazmat.primitives import serialization  # imports every cipher module
    from cryptography.hazmat.primitives.asymmetric import rsa

    keys: list[rsa.RSAPrivateKey] = []
    for p in paths:
        try:
            key = serialization.load_pem_private_key(p.read_bytes(), password=None)
        except OSError as e:
            raise ValueError(f"--rsa-key {p}: cannot read it ({e.strerror or e}): "
                             f"{RSA_HINT}") from None
        except (ValueError, TypeError) as e:
            raise ValueError(f"--rsa-key {p}: not an unencrypted PEM private key ({e}): "
                             f"{RSA_HINT}") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"--rsa-key {p}: not an RSA private key (only TLS_RSA_* "
                             "premasters need one)")
        keys.append(key)
    return RsaPremaster(keys)
