"""Flight numbering (RFC 6347 §4.2.4) as data, and the bookkeeping of one flight.

Numbers follow the full-handshake figure: 1 ClientHello, 2 HelloVerifyRequest,
3 ClientHello with cookie, 4 ServerHello ... ServerHelloDone, 5 client
Certificate ... Finished, 6 server ChangeCipherSpec, Finished. Without a cookie
exchange the numbers 2 and 3 are skipped (1, 4, 5, 6), so a flight number always
names the same step. An abbreviated (resumed) handshake counts on from the
ClientHello: 1, 2, 3 (3, 4, 5 after a cookie exchange). DTLS 1.3 uses the same
rule with HelloRetryRequest in the place of HelloVerifyRequest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Handshake types that end the flight they are in (the sender then waits).
FLIGHT_ENDERS = frozenset({1, 3, 14, 20})  # ClientHello, HelloVerifyRequest, SHD, Finished

FULL_HANDSHAKE_SERVER_FLIGHT = 4


def next_flight_number(
    previous: int, first_type: str, *, cookie_exchange: bool, resumption: bool
) -> int:
    """The number of a new flight whose first message is ``first_type``."""
    if first_type == "ClientHello":
        return 3 if cookie_exchange else 1
    if first_type in ("HelloVerifyRequest", "HelloRetryRequest"):
        return 2
    if first_type == "ServerHello" and not resumption:
        return FULL_HANDSHAKE_SERVER_FLIGHT
    return previous + 1


@dataclass
class Flight:
    """One flight: who sent it, its messages (first copies), its copies."""

    number: int
    dir_key: int
    """Index of the sending endpoint in the session (0 or 1)."""
    first_ts: float
    messages: list[str] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    last_ts: float = 0.0
    complete: bool = False
    copies: int = 1
    """1 + the number of retransmissions seen."""
    copy_times: list[float] = field(default_factory=list)
    """Time of each retransmission (copy 2, 3...) when it was first seen."""
    seqs: list[int] = field(default_factory=list)
    """message_seq of its handshake messages, in order."""
    ender_seen: bool = False
    """Its last message (ClientHello, HelloVerifyRequest, ServerHelloDone, Finished) came."""

    @property
    def max_seq(self) -> int:
        """The highest message_seq in it (-1: none)."""
        return self.seqs[-1] if self.seqs else -1

    def add_message(self, name: str, seq: int) -> None:
        """A handshake message: in message_seq order (a message whose first copy was lost
        and that a retransmission brought goes where the handshake puts it)."""
        at = len([q for q in self.seqs if q < seq])
        if at == len(self.seqs):
            self.messages.append(name)
        else:
            self.messages.insert(at, name)
        self.seqs.insert(at, seq)

    def has_gap(self) -> bool:
        """A message_seq between its first and last is missing (lost, not yet resent)."""
        return bool(self.seqs) and self.seqs[-1] - self.seqs[0] + 1 != len(self.seqs)

    def add_frames(self, frames: tuple[int, ...]) -> None:
        """Remember the frames that carried part of this flight."""
        for f in frames:
            if f not in self.frames:
                self.frames.append(f)
