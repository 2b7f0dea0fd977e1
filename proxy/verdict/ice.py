"""The rule for sessions where DTLS never starts: ICE traffic, but no ClientHello.

In WebRTC the DTLS client (``a=setup:active``) sends its ClientHello as soon as ICE
has a working pair. When both sides think they are the DTLS server (both answered
``passive``, or an ``actpass`` offer met an answer that also waits), or the
client's DTLS stack never started, ICE keeps running and nothing else happens:
no alert, no error anywhere. This rule says so after ``hello_after`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from proxy.decode.stun import stun_role
from proxy.events import Check, DatagramSeen, Event, StunSeen, Verdict

CODE = "no_client_hello"
MAX_STEP = 30.0
"""Seconds between two datagrams of one session beyond which the capture's clock jumped
(ICE checks and consent refreshes come every few seconds at most)."""


@dataclass
class IceWatch:
    """What one session's ICE traffic showed before any ClientHello."""

    first_ts: float | None = None
    requests: dict[str, int] = field(default_factory=dict)
    successes: dict[str, int] = field(default_factory=dict)
    dtls: int = 0
    done: bool = False
    checks: int = 0
    """ICE connectivity checks seen (a STUN/TURN server exchange has none)."""
    elapsed: float = 0.0
    """Capture time since the first STUN message, counted on monotonic steps: a step back
    or a jump of more than :data:`MAX_STEP` (clocks of merged captures) counts nothing."""
    last_ts: float | None = None

    def _step(self, ts: float) -> None:
        if self.last_ts is not None:
            gap = ts - self.last_ts
            if 0 < gap <= MAX_STEP:
                self.elapsed += gap
        self.last_ts = ts

    def absorb(self, events: list[Event]) -> None:
        """Count STUN requests/answers per direction and DTLS datagrams."""
        for ev in events:
            if isinstance(ev, StunSeen):
                if self.first_ts is None:
                    self.first_ts = ev.ts
                self._step(ev.ts)
                if stun_role(ev.method, ev.cls, ev.attributes) == "ice":
                    self.checks += 1
                table = self.successes if ev.cls == "success" else self.requests
                if ev.cls in ("request", "success"):
                    table[ev.dir] = table.get(ev.dir, 0) + 1
            elif isinstance(ev, DatagramSeen):
                if self.first_ts is not None:
                    self._step(ev.ts)
                if ev.kind == "dtls":
                    self.dtls += 1

    def verdict(self, sid: str, now: float, final: bool, hello_after: float) -> Verdict | None:
        """The finding once ``hello_after`` seconds of ICE passed with no ClientHello
        (never for a STUN/TURN server exchange: no ICE check, no peer to wait for)."""
        if self.done or self.first_ts is None or self.dtls or not self.checks:
            return None
        gap = now - (self.last_ts if self.last_ts is not None else now)
        waited = self.elapsed + (gap if 0 < gap <= MAX_STEP else 0.0)
        if waited < hello_after:
            return None
        self.done = True
        answered = sum(self.successes.values())
        checks = (
            Check("ICE connectivity checks", bool(answered),
                  f"{sum(self.requests.values())} binding requests, {answered} success "
                  "responses" + ("" if answered else ": no pair ever worked"),
                  {f"requests {d}": str(n) for d, n in sorted(self.requests.items())}
                  | {f"successes {d}": str(n) for d, n in sorted(self.successes.items())}),
            Check("ClientHello", False, f"no DTLS at all {waited:.1f} s after the first ICE "
                  "check" + (" (end of capture)" if final else "")),
        )
        if answered:
            reason = (f"ICE works ({answered} successful checks) but nobody sent a ClientHello "
                      f"in {waited:.0f} s: both peers wait as DTLS server (check a=setup: "
                      "one side must be active), or the DTLS client never started")
            hint = "the two SDPs' a=setup lines settle it (--sdp FILE)"
        else:
            reason = (f"no ICE check was ever answered in {waited:.0f} s, so DTLS never "
                      "started: a peer is not pointed at the proxy, or its packets are "
                      "filtered")
            hint = "compare each SDP's candidates with the proxy's side addresses"
        return Verdict(now, sid, CODE, None, reason, checks, certain=False, to_be_certain=hint)
