"""The peer's view next to the proxy's: one sentence, agreement, and findings.

:class:`Views` reads the proxy's events (each session's state, verdicts, flights,
alerts) and, for a peer's :class:`PeerView` matched to a session, says both sides in one
sentence ("Janus handle 2 says: DTLS state failed, reason 'DTLS alert'; proxy: client
CertificateVerify signature does not verify") as a :class:`~proxy.events.PeerViews`
event. Where the two disagree (the peer's ICE on a pair the proxy does not relay, a
certificate on the wire that is not the one the peer says it has, a handshake the proxy
saw complete that the peer calls failed, opposite DTLS roles) that is a finding: a
``views_disagree`` :class:`~proxy.events.Verdict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.events import (
    AlertSeen,
    Check,
    DatagramSeen,
    Event,
    FlightComplete,
    PeerViews,
    SessionSummary,
    TurnAllocation,
    Verdict,
)
from proxy.peerstate.match import Match
from proxy.peerstate.views import PeerView, describe_pair

MAX_SESSIONS = 20_000
PEER_FAILURES = ("DTLS alert", "DTLS timeout", "ICE failed", "DTLS handshake failed")
"""Janus hangup reasons that mean the connection failed (``Janus API``: the app hung up)."""


@dataclass
class _Facts:
    summary: SessionSummary | None = None
    verdicts: list[Verdict] = field(default_factory=list)
    last_flight_ts: float | None = None
    dtls_times: list[float] = field(default_factory=list)
    """Times of the last DTLS datagrams (the handshake's end, before a peer hung up)."""
    alerts: list[str] = field(default_factory=list)
    said: dict[str, str] = field(default_factory=dict)
    """view key -> the last sentence emitted (sent again only when it changes)."""
    findings: set[tuple[str, str]] = field(default_factory=set)


class Views:
    """The proxy's side of each session, and the comparison with a peer's view."""

    def __init__(self) -> None:
        self.facts: dict[str, _Facts] = {}
        self.own: set[str] = set()
        """The proxy's own addresses (``host:port``; host ``0.0.0.0``/``::`` for any): its
        sides, its TURN relayed addresses. A peer's pair through one of them is relayed
        (in two-sided mode a peer's prflx candidate is the proxy's other side)."""

    def _get(self, sid: str) -> _Facts:
        f = self.facts.get(sid)
        if f is None:
            if len(self.facts) >= MAX_SESSIONS:
                self.facts.pop(next(iter(self.facts)))
            f = self.facts[sid] = _Facts()
        return f

    def observe(self, events: list[Event]) -> set[str]:
        """Read the proxy's events; returns the sessions whose state or verdicts changed."""
        changed: set[str] = set()
        for ev in events:
            if isinstance(ev, SessionSummary):
                f = self._get(ev.session)
                if f.summary is None or f.summary.state != ev.state:
                    changed.add(ev.session)
                f.summary = ev
            elif isinstance(ev, Verdict) and ev.code != "views_disagree":
                f = self._get(ev.session)
                if len(f.verdicts) < 16:
                    f.verdicts.append(ev)
                changed.add(ev.session)
            elif isinstance(ev, FlightComplete):
                self._get(ev.session).last_flight_ts = ev.ts
            elif isinstance(ev, DatagramSeen) and ev.kind == "dtls":
                times = self._get(ev.session).dtls_times
                times.append(ev.ts)
                del times[:-16]
            elif isinstance(ev, TurnAllocation) and ev.relayed and len(self.own) < 4096:
                self.own.add(ev.relayed)
            elif isinstance(ev, AlertSeen):
                f = self._get(ev.session)
                name = ev.description_name or ("encrypted" if ev.encrypted else "?")
                if len(f.alerts) < 8:
                    f.alerts.append(f"{ev.dir} {name}")
        return changed

    def compare(self, view: PeerView, match: Match, now: float) -> list[Event]:
        """The :class:`PeerViews` sentence for ``view`` on ``match.session`` (when it
        changed) and any new ``views_disagree`` finding."""
        sid = match.session
        f = self._get(sid)
        peer_says = _peer_says(view)
        proxy_says = _proxy_says(f)
        agree = _agree(view, f)
        sentence = f"{peer_says}; {proxy_says}"
        hung = _hangup_sentence(view, f)
        if hung:
            sentence = hung
        out: list[Event] = []
        if f.said.get(view.key) != sentence:
            f.said[view.key] = sentence
            out.append(PeerViews(now, sid, view.name, peer_says, proxy_says, agree, sentence))
        for what, reason, checks in _disagreements(view, f, match, self.own):
            if (view.key, what) in f.findings:
                continue
            f.findings.add((view.key, what))
            out.append(Verdict(now, sid, "views_disagree", None, reason, tuple(checks),
                               certain=False, to_be_certain=_SETTLE.get(what)))
        return out


_SETTLE = {
    "pair": "a capture on the peer's host shows which path its media takes",
    "certificate": "compare the peer's certificate with the one on the wire "
                   "(dtlsproxy analyze of a capture at the peer)",
    "outcome": "the peer's log says why it gave up",
    "role": "the two SDPs' a=setup lines settle which side is the DTLS client",
}


def _peer_says(v: PeerView) -> str:
    parts = []
    if v.ice_state:
        parts.append(f"ICE {v.ice_state}")
    if v.dtls_state:
        parts.append(f"DTLS state {v.dtls_state}")
    if v.dtls_role:
        parts.append(f"DTLS {v.dtls_role}")
    if v.webrtcup:
        parts.append("webrtcup")
    if v.hangup:
        parts.append(f"hung up, reason '{v.hangup}'")
    return f"{v.name} says: " + (", ".join(parts) or "nothing about DTLS yet")


def _proxy_says(f: _Facts) -> str:
    if f.verdicts:
        return "proxy: " + f.verdicts[0].reason
    s = f.summary
    if s is None:
        return "proxy: no DTLS seen yet"
    if s.state == "established":
        what = ", ".join(x for x in (s.version, s.cipher_suite, s.srtp_profile) if x)
        return f"proxy: handshake established ({what})" if what else "proxy: established"
    return f"proxy: {s.state}"


def _peer_ok(v: PeerView) -> bool | None:
    if v.hangup in PEER_FAILURES or v.dtls_state == "failed" or v.ice_state == "failed":
        return False
    if v.webrtcup or v.dtls_state == "connected":
        return True
    return None


def _proxy_ok(f: _Facts) -> bool | None:
    s = f.summary
    if f.verdicts or (s is not None and s.state in ("failed", "alert")):
        return False
    if s is not None and s.state == "established":
        return True
    return None


def _agree(v: PeerView, f: _Facts) -> bool | None:
    a, b = _peer_ok(v), _proxy_ok(f)
    if a is None or b is None:
        return None
    return a == b


def _hangup_sentence(v: PeerView, f: _Facts) -> str | None:
    """``Janus handle 2 hung up (no alert) 80 ms after the handshake: <proxy's reason>``
    when the peer gave up after the last flight the proxy saw."""
    if v.hangup not in PEER_FAILURES or v.hangup_ts is None or f.alerts:
        return None  # an alert on the wire speaks for itself: "says ...; proxy: ..."
    before = [t for t in f.dtls_times if t <= v.hangup_ts + 0.005]
    if not before:
        return None
    ms = round((v.hangup_ts - max(before)) * 1000)
    if ms > 60_000:
        return None
    why = (_why(f.verdicts[0]) if f.verdicts else
           "the proxy saw nothing wrong with the handshake itself")
    return (f"{v.name} hung up (no alert on the wire; its reason '{v.hangup}') "
            f"{max(ms, 0)} ms after the last DTLS datagram: {why}")


def _why(v: Verdict) -> str:
    """A verdict's reason, said for the hangup sentence (whose SDP a fingerprint broke)."""
    if v.code == "fingerprint_mismatch" and v.culprit is not None:
        for c in v.evidence:
            for key, value in c.values.items():
                if key.startswith("SDP a=fingerprint (") and c.passed is False:
                    role = c.name.split()[0]
                    source = key[len("SDP a=fingerprint ("):-1]
                    return (f"the {role} certificate's fingerprint is not the one in the "
                            f"{source} ({value})")
    return v.reason


def _relayed(addr: tuple[str, int], ends: set[str], own: set[str]) -> bool:
    name = _addr(addr)
    return name in ends or name in own or any(
        o.rsplit(":", 1)[1] == str(addr[1]) for o in own
        if o.startswith(("0.0.0.0:", "[::]:")))


def _disagreements(v: PeerView, f: _Facts, match: Match, own: set[str]
                   ) -> list[tuple[str, str, list[Check]]]:
    out: list[tuple[str, str, list[Check]]] = []
    s = f.summary
    ends = {e for e in (s.client, s.server) if e} if s is not None else set()
    if (v.selected_pair is not None and ends and match.strength == 4
            and not any(_relayed(a, ends, own) for a in v.selected_pair)):
        pair = describe_pair(v.selected_pair)
        seen = " <-> ".join(sorted(ends))
        out.append(("pair", f"{v.name} says ICE selected {pair}, a pair the proxy does not "
                    f"relay (it sees {seen}): its media may bypass the proxy",
                    [Check("selected pair", False, "the peer's selected pair is not the "
                           "proxy's session", {"peer": pair, "proxy": seen})]))
    if s is not None and v.local_fingerprint and v.dtls_role in ("client", "server"):
        wire = s.fingerprints.get(v.dtls_role)
        if wire and wire.upper() != v.local_fingerprint.upper():
            out.append(("certificate", f"{v.name} says its certificate is "
                        f"{v.local_fingerprint}, but the {v.dtls_role} certificate on the wire "
                        f"is {wire}: something between them replaced it",
                        [Check(f"{v.dtls_role} certificate vs the peer's own", False,
                               "the certificate on the wire is not the peer's",
                               {"peer says": v.local_fingerprint, "on the wire": wire})]))
    if s is not None and s.state != "idle" and s.version and v.dtls_role in ("client", "server"):
        mine = [_addr(a) for a in (*v.local_candidates,
                                   *(v.selected_pair[:1] if v.selected_pair else ()))]
        wire_role = ("client" if s.client in mine else "server" if s.server in mine else None)
        if wire_role is not None and wire_role != v.dtls_role:
            out.append(("role", f"{v.name} says it is the DTLS {v.dtls_role}, but on the wire "
                        f"it acts as the {wire_role}",
                        [Check("DTLS role", False, "the peer's role is not the one on the wire",
                               {"peer says": v.dtls_role, "on the wire": wire_role})]))
    if _peer_ok(v) is False and s is not None and s.state == "established" and not f.verdicts:
        out.append(("outcome", f"the proxy saw the handshake complete, but {v.name} says it "
                    f"failed ({_peer_says(v).split(': ', 1)[1]}): a check only the peer makes "
                    "failed (an SDP fingerprint the proxy was not given?)",
                    [Check("outcome", False, "the peer and the proxy disagree",
                           {"peer": _peer_says(v), "proxy": _proxy_says(f)})]))
    if _peer_ok(v) is True and _proxy_ok(f) is False and s is not None and s.state != "alert":
        out.append(("outcome", f"{v.name} says the connection is up, but the proxy saw "
                    f"it fail ({_proxy_says(f).removeprefix('proxy: ')}): the peer may be on "
                    "another path than the proxy's",
                    [Check("outcome", False, "the peer and the proxy disagree",
                           {"peer": _peer_says(v), "proxy": _proxy_says(f)})]))
    return out


def _addr(a: tuple[str, int]) -> str:
    return f"[{a[0]}]:{a[1]}" if ":" in a[0] else f"{a[0]}:{a[1]}"
