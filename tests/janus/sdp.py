"""SDP helpers for the bed: role munging, fingerprint/candidate reading, relay rewriting.

:func:`rewrite_to` uses ``proxy.sdp.rewrite_sdp`` (the same code as ``dtlsproxy sdp
rewrite``) when it exists, and a minimal local rewrite otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Address = tuple[str, int]

_CAND = re.compile(
    r"^a=candidate:(?P<foundation>\S+) (?P<component>\d+) (?P<transport>\S+) (?P<priority>\d+) "
    r"(?P<host>\S+) (?P<port>\d+) typ (?P<typ>\S+)(?P<rest>.*)$"
)


def lines(sdp: str) -> list[str]:
    """SDP lines without line endings."""
    return [ln for ln in sdp.replace("\r\n", "\n").split("\n") if ln]


def join(sdp_lines: list[str]) -> str:
    """Lines back into SDP text (CRLF, trailing CRLF)."""
    return "\r\n".join(sdp_lines) + "\r\n"


def candidates(sdp: str) -> list[dict[str, str]]:
    """The ``a=candidate`` lines, parsed."""
    out = []
    for ln in lines(sdp):
        m = _CAND.match(ln)
        if m:
            out.append(m.groupdict())
    return out


def udp_addresses(sdp: str) -> set[Address]:
    """Every UDP candidate address in the SDP."""
    return {(c["host"], int(c["port"])) for c in candidates(sdp) if c["transport"].lower() == "udp"}


def setup_values(sdp: str) -> list[str]:
    """The ``a=setup`` values, in order."""
    return [ln.split(":", 1)[1] for ln in lines(sdp) if ln.startswith("a=setup:")]


def fingerprints(sdp: str) -> list[str]:
    """The ``a=fingerprint`` values (``sha-256 AB:CD...``), in order."""
    return [ln.split(":", 1)[1] for ln in lines(sdp) if ln.startswith("a=fingerprint:")]


def set_setup(sdp: str, value: str) -> str:
    """Every ``a=setup`` replaced by ``value`` (``active`` makes the offerer the DTLS client)."""
    return join([f"a=setup:{value}" if ln.startswith("a=setup:") else ln for ln in lines(sdp)])


def set_fingerprint(sdp: str, value: str) -> str:
    """Every ``a=fingerprint`` replaced by ``value`` (e.g. ``sha-256 00:11:...``)."""
    return join(
        [f"a=fingerprint:{value}" if ln.startswith("a=fingerprint:") else ln for ln in lines(sdp)]
    )


def local_rewrite(sdp: str, to: Address, drop_tcp: bool = True) -> str:
    """Minimal rewrite: every UDP candidate and ``c=`` / ``m=`` address points at ``to``.

    Candidates that become identical within an m-section are dropped; TCP candidates are dropped.
    """
    host, port = to
    out: list[str] = []
    seen: set[tuple[str, str]] = set()
    for ln in lines(sdp):
        m = _CAND.match(ln)
        if m:
            if m["transport"].lower() != "udp":
                if drop_tcp:
                    continue
                out.append(ln)
                continue
            key = (m["component"], m["typ"])
            if key in seen:
                continue
            seen.add(key)
            rest = re.sub(r" raddr \S+ rport \d+", "", m["rest"])
            ln = (
                f"a=candidate:{m['foundation']} {m['component']} {m['transport']} "
                f"{m['priority']} {host} {port} typ {m['typ']}{rest}"
            )
        elif ln.startswith("c=IN IP"):
            ln = f"c=IN IP4 {host}"
        elif ln.startswith("m="):
            seen.clear()
            parts = ln.split(" ")
            parts[1] = str(port)
            ln = " ".join(parts)
        elif ln.startswith("a=rtcp:"):
            continue
        out.append(ln)
    return join(out)


def _proxy_rewrite() -> Callable[..., Any] | None:
    try:
        from proxy.sdp import rewrite_sdp  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    fn: Callable[..., Any] = rewrite_sdp
    return fn


def rewrite_to(sdp: str, to: Address) -> tuple[str, str]:
    """Point every candidate of ``sdp`` at ``to``; (new SDP, which implementation)."""
    fn = _proxy_rewrite()
    if fn is not None:
        result = fn(sdp, to=to, drop_tcp=True)
        text = result if isinstance(result, str) else getattr(result, "text", str(result))
        return text, "proxy.sdp.rewrite_sdp"
    return local_rewrite(sdp, to), "tests.janus.sdp.local_rewrite"
