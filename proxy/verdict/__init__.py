"""Verdicts: rules that name the culprit of a failed handshake, with evidence.

Sans-IO except :func:`build_hook`, which reads the key log and SDP files it is
given once, at start. The hook it returns is a :class:`VerdictEngine`
(``proxy.session.Tracker(verdict_hook=...)``). See ``docs/verdicts.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from proxy.decode.keylog import KeyLog, KeyLogError
from proxy.session.tracker import VerdictHook
from proxy.verdict.engine import (
    ExpectedFingerprint,
    Options,
    VerdictEngine,
    expected_from_mapping,
)
from proxy.verdict.keys import RsaPremaster

__all__ = ["ExpectedFingerprint", "Options", "VerdictEngine", "build_hook", "reread_sdp",
           "sdp_expectations"]

_OPTIONS = ("mtu", "retransmit_threshold", "silence_after", "hello_after", "fingerprints",
            "keylog", "rsa_keys")


def sdp_expectations(
    texts: Sequence[tuple[str, str]],
) -> tuple[list[ExpectedFingerprint], str | None]:
    """Fingerprints of SDPs ``(source, text)``, each with the DTLS role its a=setup gives.

    ``active`` is the DTLS client, ``passive`` the server; ``actpass`` takes the role
    the other SDP leaves (unknown when alone). Returns the expectations and a sentence
    when two SDPs claim the same role (an a=setup conflict). An empty text is an SDP not
    written yet (``run`` follows its files) and adds nothing; one that is not an SDP
    raises ValueError naming its source.
    """
    parsed: list[tuple[str, str | None, list[str]]] = []
    if texts:
        from proxy.sdp import SdpError, inspect_sdp  # only with SDPs (start-up of analyze)
    for source, text in texts:
        if not text.strip():
            continue
        try:
            info = inspect_sdp(text)
        except SdpError as exc:
            raise ValueError(f"--sdp {source}: {exc}") from None
        setup = info.setup
        fps = [f.value for f in info.fingerprints if f.algorithm.lower() == "sha-256"]
        for m in info.media:
            setup = setup or info.setup_of(m)
            if not fps:
                fps = [f.value for f in info.fingerprints_of(m)
                       if f.algorithm.lower() == "sha-256"]
        parsed.append((source, (setup or "").lower() or None, fps))
    setups = [p[1] for p in parsed]
    out: list[ExpectedFingerprint] = []
    for source, setup, fps in parsed:
        role: str | None = {"active": "client", "passive": "server"}.get(setup or "")
        if setup == "actpass":
            others = [x for x in setups if x != "actpass"]
            if "active" in others:
                role = "server"
            elif "passive" in others:
                role = "client"
        out.extend(ExpectedFingerprint(fp, source, role) for fp in fps)
    conflict = None
    for dup in ("active", "passive"):
        if setups.count(dup) > 1:
            who = "client" if dup == "active" else "server"
            conflict = (f"both SDPs say a=setup:{dup}: both peers will act as DTLS {who} "
                        "(a=setup role conflict)")
    return out, conflict


def build_hook(
    keylogs: Sequence[str] = (), sdp_files: Sequence[str] = (), **options: Any
) -> VerdictHook | None:
    """The Tracker hook that runs the verdict rules.

    ``keylogs``: NSS key log files (several allowed, e.g. one per peer).
    ``sdp_files``: SDP offers/answers whose ``a=fingerprint`` the certificates must match.
    ``options``: ``mtu`` (int, UDP payload bytes), ``retransmit_threshold`` (int,
    default 2), ``silence_after`` (seconds, default 10), ``hello_after`` (seconds of
    ICE traffic with no ClientHello before that is a finding, default 10), ``fingerprints``
    (``{"client"|"server"|<side label>: "AB:CD:..."}``), ``keylog`` (a loaded
    :class:`proxy.decode.keylog.KeyLog`, merged with the files), ``rsa_keys`` (PEM files of
    server RSA private keys: TLS_RSA_* premasters are decrypted as Wireshark does).
    Raises ValueError for an unknown option or an unreadable key log / SDP
    (OSError when a file cannot be opened).
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValueError(f"unknown verdict option(s): {', '.join(unknown)} "
                         f"(known: {', '.join(_OPTIONS)})")
    keylog: KeyLog | None = options.get("keylog")
    if keylogs:
        try:
            loaded = KeyLog.load(*keylogs)
        except KeyLogError as e:
            raise ValueError(str(e)) from None
        if keylog is None:
            keylog = loaded
        else:
            for src in loaded.sources:
                keylog.add_file(src)
    texts = [(str(p), Path(p).read_text(encoding="utf-8", errors="replace")) for p in sdp_files]
    expected, conflict = sdp_expectations(texts)
    fps: Mapping[str, str] = options.get("fingerprints") or {}
    fixed = expected_from_mapping(fps)  # not from the SDPs: kept when they are re-read
    expected = fixed + expected
    mtu = options.get("mtu")
    opts = Options(
        mtu=None if mtu is None else int(mtu),
        retransmit_threshold=int(options.get("retransmit_threshold", 2)),
        silence_after=float(options.get("silence_after", 10.0)),
        hello_after=float(options.get("hello_after", 10.0)),
        expected=tuple(expected),
        setup_conflict=conflict,
    )
    if opts.retransmit_threshold < 1:
        raise ValueError("retransmit_threshold must be at least 1")
    rsa_keys = _load_rsa_keys(options.get("rsa_keys") or ())
    engine = VerdictEngine(keylog, opts, rsa_keys)
    engine.fixed_expected = tuple(fixed)
    return engine


def reread_sdp(engine: VerdictEngine, texts: Sequence[tuple[str, str]]) -> None:
    """SDP files ``(source, text)`` were read again (``dtlsproxy run`` follows its
    ``--sdp`` files): their fingerprints and a=setup replace those read before."""
    expected, conflict = sdp_expectations(texts)
    engine.use_sdp(expected, conflict)


def _load_rsa_keys(paths: Sequence[str]) -> RsaPremaster | None:
    """Server RSA private keys (PEM, unencrypted) for TLS_RSA_* premasters."""
    if isinstance(paths, str):
        paths = [paths]
    keys: list[rsa.RSAPrivateKey] = []
    if paths:  # serialization imports every cipher module: only when keys are given
        from cryptography.hazmat.primitives import serialization
    for p in paths:
        try:
            key = serialization.load_pem_private_key(Path(p).read_bytes(), password=None)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{p}: not an unencrypted PEM private key ({e})") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{p}: not an RSA private key (only TLS_RSA_* premasters need one)")
        keys.append(key)
    return RsaPremaster(keys) if keys else None
