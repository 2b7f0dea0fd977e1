"""A peer's own view of one PeerConnection (Janus handle, browser peer connection)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from proxy.events import Address, format_address


class PeerDataError(ValueError):
    """Input that is not what its source should give (one line: where and what)."""


@dataclass(frozen=True, slots=True)
class SdpSeen:
    """One SDP as a peer applied it."""

    side: str
    """``local`` (the peer's own description) or ``remote`` (what it was given)."""
    type: str | None
    """``offer``, ``answer``, ``pranswer`` or None when the source does not say."""
    text: str = field(repr=False)
    source: str
    """Named in findings: ``remote SDP as applied by Janus handle 123``."""
    ts: float = 0.0


@dataclass(frozen=True, slots=True)
class PeerView:
    """What one peer says about one PeerConnection, as now known."""

    peer: str
    """``janus``, ``chrome`` or ``firefox``."""
    key: str
    """Stable id of the connection within its source (``janus 1/2``, ``chrome 12-1``)."""
    name: str
    """How findings name it: ``Janus handle 2``, ``Chrome peer connection 12-1``."""
    ts: float
    """When this view was true (seconds since the epoch)."""
    local_sdp: SdpSeen | None = None
    remote_sdp: SdpSeen | None = None
    sdp_history: tuple[SdpSeen, ...] = ()
    """Every SDP applied, in order (renegotiation, ICE restart)."""
    ice_state: str | None = None
    selected_pair: tuple[Address, Address] | None = None
    """(local, remote) of the pair ICE selected, as the peer sees it."""
    local_candidates: tuple[Address, ...] = ()
    remote_candidates: tuple[Address, ...] = ()
    dtls_state: str | None = None
    dtls_role: str | None = None
    """``client`` or ``server`` (Janus's ``active``/``passive`` translated)."""
    local_fingerprint: str | None = None
    """SHA-256 of the peer's own certificate (``AB:CD:...``)."""
    remote_fingerprint: str | None = None
    """The fingerprint the peer expects of the other side (from the remote SDP), or that
    of the certificate it received (browsers' stats)."""
    srtp_profile: str | None = None
    tls_version: str | None = None
    cipher: str | None = None
    retransmissions: int | None = None
    dtls_started: float | None = None
    dtls_ready: float | None = None
    hangup: str | None = None
    """Why the peer closed the connection (Janus's reason: ``DTLS alert``)."""
    hangup_ts: float | None = None
    webrtcup: bool = False
    closed: bool = False
    ice_restarts: int | None = None

    def sdps(self) -> list[SdpSeen]:
        """The SDPs in force: the local and the remote description."""
        return [s for s in (self.remote_sdp, self.local_sdp) if s is not None and s.text]

    def ufrags(self) -> tuple[str | None, str | None]:
        """(local, remote) ICE ufrags from the SDPs in force."""
        return _ufrag(self.local_sdp), _ufrag(self.remote_sdp)

    def sdp_fingerprints(self) -> tuple[str | None, str | None]:
        """(local, remote) SHA-256 a=fingerprint of the SDPs in force."""
        return _fingerprint(self.local_sdp), _fingerprint(self.remote_sdp)


def _ufrag(sdp: SdpSeen | None) -> str | None:
    if sdp is None or not sdp.text:
        return None
    m = re.search(r"^a=ice-ufrag:(\S+)", sdp.text, re.M)
    return m.group(1) if m else None


def _fingerprint(sdp: SdpSeen | None) -> str | None:
    if sdp is None or not sdp.text:
        return None
    m = re.search(r"^a=fingerprint:sha-256 ([0-9A-Fa-f:]+)", sdp.text, re.M | re.I)
    return m.group(1).upper() if m else None


def parse_candidate_address(text: str) -> Address | None:
    """The address of a candidate line (``foundation comp transport prio ADDR PORT typ ...``,
    with or without ``candidate:``); None when it is not one."""
    parts = text.strip().removeprefix("a=").removeprefix("candidate:").split()
    if len(parts) < 8 or parts[6] != "typ":
        return None
    try:
        return parts[4], int(parts[5])
    except ValueError:
        return None


def parse_pair(text: str) -> tuple[Address, Address] | None:
    """Janus's ``selected-pair``: ``10.0.0.1:20001 [host,udp] <-> 10.0.0.2:5000 [host,udp]``
    (IPv6 hosts with or without brackets: the port is after the last colon)."""
    left, sep, right = text.partition("<->")
    if not sep:
        return None
    ends = []
    for part in (left, right):
        token = part.split()[0] if part.split() else ""
        host, colon, port = token.rpartition(":")
        if not colon or not port.isdigit() or not host:
            return None
        ends.append((host.strip("[]"), int(port)))
    return ends[0], ends[1]


def describe_pair(pair: tuple[Address, Address]) -> str:
    """``local <-> remote``."""
    return f"{format_address(pair[0])} <-> {format_address(pair[1])}"
