"""Whether a DTLS 1.0/1.2 handshake is *confirmed*: its last flight was accepted.

Both Finished on the wire do not make a handshake established. The side that sends
the last flight (the server's flight 6 in a full handshake, the client's flight 3 in
a resumption) gets no answer to it: RFC 6347 4.2.4 says it knows the flight arrived
when it stops hearing the previous flight again. An observer knows it the same way,
or sooner when the receiver of the last flight sends application data (SCTP, DTLS
records of content type 23) or SRTP/SRTCP: it only does that once it accepted the
peer's Finished.

So a handshake whose both Finished were seen is, for the observer:

- ``confirmed``: the receiver of the last flight sent data after it, or did not
  retransmit its own flight for :func:`quiet_period` seconds after the last copy
  of the last flight;
- ``rejected``: the receiver retransmitted its flight :data:`REJECT_AFTER` times or
  more after the last flight had passed, and sent no data (it never accepted it:
  its Finished did not authenticate or verify, or never arrived);
- ``pending``: neither yet (the capture may end there: then nobody can tell).

Sans-IO: the session feeds it the flights, copies and data it sees, with their times.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

REJECT_AFTER = 2
"""Retransmissions of the previous flight after the last flight that mean it was not
accepted. One may cross the last flight on the wire (the peer's timer fired just
before it arrived); two cannot."""

QUIET_MIN = 3.0
"""Seconds without a retransmission after the last flight that confirm it, at least.
Stacks retransmit after 1 s first (RFC 6347 4.2.4.1; OpenSSL, GnuTLS, BoringSSL)."""

QUIET_FACTOR = 2.5
"""The quiet period is also at least this many times the longest gap between the
receiver's copies so far: its timer doubles at each retransmission."""

PENDING = "pending"
CONFIRMED = "confirmed"
REJECTED = "rejected"


@dataclass
class Confirmation:
    """What is known of the acceptance of one handshake's last flight."""

    final_sender: int | None = None
    """Endpoint index of the side whose Finished came second (it sent the last flight)."""
    final_flight: int | None = None
    prev_flight: int | None = None
    """The receiver's flight that holds its own Finished (the one it would retransmit)."""
    final_ts: float = 0.0
    """Time of the last flight's first copy."""
    final_last_ts: float = 0.0
    """Time of the last flight's latest copy."""
    final_copies: int = 1
    prev_copy_ts: list[float] = field(default_factory=list)
    """Times of every copy of the previous flight (before and after the last flight)."""
    retransmitted_after: int = 0
    """Copies of the previous flight sent after the last flight was first seen."""
    how: str | None = None
    """How it was confirmed (a phrase), once it is."""
    confirmed_ts: float | None = None
    alert_ts: float | None = None
    """The first alert after the last flight, before it was confirmed: the silence that
    follows an alert (the connection is closed) confirms nothing."""

    @property
    def receiver(self) -> int | None:
        """Endpoint index of the side that must accept the last flight."""
        return None if self.final_sender is None else 1 - self.final_sender

    @property
    def state(self) -> str:
        """:data:`PENDING`, :data:`CONFIRMED` or :data:`REJECTED`."""
        if self.how is not None:
            return CONFIRMED
        if self.retransmitted_after >= REJECT_AFTER:
            return REJECTED
        return PENDING

    def final_seen(self, sender: int, flight: int, prev_flight: int | None, ts: float,
                   prev_copy_ts: list[float]) -> None:
        """The second Finished of the handshake: ``sender``'s flight ``flight``."""
        self.final_sender = sender
        self.final_flight = flight
        self.prev_flight = prev_flight
        self.final_ts = self.final_last_ts = ts
        self.prev_copy_ts = list(prev_copy_ts)

    def copy_seen(self, sender: int, flight: int | None, ts: float) -> None:
        """A new copy (retransmission) of ``sender``'s flight ``flight``."""
        if self.final_sender is None or flight is None:
            return
        if sender == self.final_sender and flight == self.final_flight:
            self.final_copies += 1
            self.final_last_ts = max(self.final_last_ts, ts)
        elif sender == self.receiver and flight == self.prev_flight:
            self.prev_copy_ts.append(ts)
            if ts >= self.final_ts and self.how is None:
                self.retransmitted_after += 1

    def data_seen(self, sender: int, ts: float, what: str) -> bool:
        """Data (``what``: "application data", "SRTP") from ``sender``; True when this
        confirms the handshake."""
        if self.how is not None or self.final_sender is None or sender != self.receiver:
            return False
        if ts < self.final_ts:
            return False
        self.how = what
        self.confirmed_ts = ts
        return True

    def alert_seen(self, ts: float) -> None:
        """An alert from either side (readable or not)."""
        if self.how is None and self.final_sender is not None and self.alert_ts is None:
            self.alert_ts = ts

    def quiet_period(self) -> float:
        """Seconds of silence from the receiver that confirm the last flight."""
        ts = self.prev_copy_ts
        gap = max((b - a for a, b in pairwise(ts)), default=0.0)
        return max(QUIET_MIN, QUIET_FACTOR * gap)

    def time_passed(self, now: float) -> bool:
        """Confirm by silence when the quiet period has passed; True when this confirms."""
        if self.how is not None or self.final_sender is None or self.state == REJECTED:
            return False
        since = max(self.final_last_ts, max(self.prev_copy_ts, default=0.0))
        quiet = self.quiet_period()
        if now - since < quiet or (self.alert_ts is not None and self.alert_ts < since + quiet):
            return False
        self.how = f"no retransmission of flight {self.prev_flight} for {quiet:.1f} s"
        self.confirmed_ts = now
        return True
