"""What the verdict engine is given: typed options and the secrets, already loaded.

The command line (``proxy.cli.inputs``) reads the files (key logs, RSA keys, SDPs) and
builds these two values; :class:`~proxy.verdict.engine.VerdictEngine` receives them and
reads no file itself (the one exception: a :class:`~proxy.decode.keylog.KeyLog` keeps
following the files it was loaded from while they grow, as a browser's SSLKEYLOGFILE
does during a call).

To add an input: a field here (with its default, so every caller keeps working), the
loading in ``proxy.cli.inputs``, the use in the engine, a line in docs/verdicts.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from proxy.decode.keylog import KeyLog
from proxy.verdict.keys import RsaPremaster

SdpText = tuple[str, str]
"""An SDP as read: ``(source, text)``, the source a file path (named in findings). An
empty text is an SDP not written yet: it adds nothing."""


@dataclass(frozen=True)
class VerdictOptions:
    """The tunables and expectations of the verdict rules (all optional)."""

    mtu: int | None = None
    """Path MTU in UDP payload bytes; larger datagrams are a finding. None: not checked."""
    retransmit_threshold: int = 2
    """A flight retransmitted this many times with no answer is a silent failure."""
    silence_after: float = 10.0
    """Seconds without DTLS from a stuck session before the silence verdict (live)."""
    hello_after: float = 10.0
    """Seconds of ICE traffic without any ClientHello before that is a finding."""
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    """Certificate fingerprints a peer must present: ``{"client"|"server"|<side label>:
    "AB:CD:..."}`` (kept when the SDPs are read again)."""
    sdps: tuple[SdpText, ...] = ()
    """SDP offers/answers whose ``a=fingerprint`` (and ``a=setup`` role) the
    certificates must match."""

    show_payloads: bool = False
    """Data channel messages become events with their text or first bytes (user data:
    only when the user asks, ``--show-payloads``)."""
    answer_after: float = 5.0
    """Seconds an SCTP INIT or a DATA_CHANNEL_OPEN may wait for its answer before that is
    a finding (the end of a capture judges at once)."""

    def __post_init__(self) -> None:
        if self.retransmit_threshold < 1:
            raise ValueError("retransmit_threshold must be at least 1")
        if self.mtu is not None and self.mtu < 1:
            raise ValueError(f"mtu must be a positive number of bytes, not {self.mtu}")


@dataclass(frozen=True, repr=False)
class Secrets:
    """What the verdicts may decrypt and verify with (never shown: ``repr`` counts).

    Without any, the Finished, encrypted alerts and DTLS 1.3 handshakes stay unchecked
    and the findings say which secret would settle them."""

    keylog: KeyLog | None = None
    """NSS key logs (one or several files, merged): DTLS 1.2 master secrets, DTLS 1.3
    traffic secrets. Follows its files as they grow."""
    rsa: RsaPremaster | None = None
    """Server RSA private keys: TLS_RSA_* premasters decrypted, as Wireshark does."""

    def __bool__(self) -> bool:
        return self.keylog is not None or self.rsa is not None

    def __repr__(self) -> str:
        return f"Secrets(keylog={self.keylog!r}, rsa={self.rsa!r})"


def sdp_expectations(
    texts: Sequence[SdpText],
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


@dataclass(frozen=True)
class ExpectedFingerprint:
    """A fingerprint the user says a peer must present."""

    value: str
    source: str
    """``option``, ``label janus``, or an SDP file path."""
    role: str | None
    """``client`` / ``server`` when known (option key or SDP a=setup), else None."""
    label: str | None = None
    """A side label (``browser``) when given that way."""


def expected_from_mapping(fingerprints: Mapping[str, str]) -> list[ExpectedFingerprint]:
    """``{"client": fp, "server": fp}`` or ``{"<side label>": fp}`` -> expectations."""
    out: list[ExpectedFingerprint] = []
    for key, value in fingerprints.items():
        if key in ("client", "server"):
            out.append(ExpectedFingerprint(value, "option", key))
        else:
            out.append(ExpectedFingerprint(value, f"label {key}", None, key))
    return out
