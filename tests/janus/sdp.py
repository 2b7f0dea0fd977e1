"""SDP helpers for the bed, on top of :mod:`proxy.sdp` (the ``dtlsproxy sdp`` code).

Reading goes through ``proxy.sdp.inspect_sdp``, rewriting through
``proxy.sdp.rewrite_sdp``; the only thing added here is line munging for the
test scenarios (offering ``a=setup:active``, a wrong ``a=fingerprint``).
"""

from __future__ import annotations

from proxy.sdp import Candidate, inspect_sdp, rewrite_sdp

Address = tuple[str, int]


def _replace_attr(sdp: str, name: str, value: str) -> str:
    prefix = f"a={name}:"
    out = []
    for raw in sdp.split("\n"):
        cr = "\r" if raw.endswith("\r") else ""
        out.append(prefix + value + cr if raw.startswith(prefix) else raw)
    return "\n".join(out)


def candidates(sdp: str) -> list[Candidate]:
    """Every candidate of every m-section, in order."""
    return [c for m in inspect_sdp(sdp).media for c in m.candidates]


def first_candidate(sdp: str) -> Address:
    """The first UDP candidate: the BUNDLE transport's (aiortc and Janus both bundle)."""
    c = next(c for c in candidates(sdp) if c.is_udp)
    return (c.address, c.port)


def udp_addresses(sdp: str) -> set[Address]:
    """Every UDP candidate address in the SDP."""
    return {(c.address, c.port) for c in candidates(sdp) if c.is_udp}


def setup_values(sdp: str) -> list[str | None]:
    """The effective ``a=setup`` of each m-section, in order."""
    info = inspect_sdp(sdp)
    return [info.setup_of(m) for m in info.media]


def fingerprints(sdp: str) -> list[str]:
    """The effective ``a=fingerprint`` values (``sha-256 AB:CD...``) of the first m-section."""
    info = inspect_sdp(sdp)
    return [f"{f.algorithm} {f.value}" for f in info.fingerprints_of(info.media[0])]


def set_setup(sdp: str, value: str) -> str:
    """Every ``a=setup`` replaced by ``value`` (``active`` makes the offerer the DTLS client)."""
    return _replace_attr(sdp, "setup", value)


def set_fingerprint(sdp: str, value: str) -> str:
    """Every ``a=fingerprint`` replaced by ``value`` (e.g. ``sha-256 00:11:...``)."""
    return _replace_attr(sdp, "fingerprint", value)


def rewrite_to(sdp: str, to: Address) -> str:
    """Point every candidate of ``sdp`` at ``to`` (``dtlsproxy sdp rewrite --to``)."""
    return rewrite_sdp(sdp, to=to, drop_tcp=True)
