"""Human-readable lines on stderr for ``dtlsproxy run --headless``.

One line per flight, per retransmission, per DTLS alert, per relay notice, per
applied fault, per verdict, one when a session's state changes (established,
failed...), and one when a TURN allocation opens, gains or loses a permission or a
channel, or closes (not for its byte counts). With the key log: one line per SCTP
control chunk and DCEP message, one when the association or a data channel changes
state (not for its counters), and with ``--show-payloads`` one per data channel
message. Datagrams, records, messages and media are not printed one by one.
Colour (ANSI) only when the stream is a TTY and ``NO_COLOR`` is unset.
"""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from proxy.events import (
    AlertSeen,
    DataChannelMessage,
    DataChannels,
    Event,
    FaultApplied,
    FlightComplete,
    FlightRetransmitted,
    Notice,
    SctpSeen,
    SessionClosed,
    SessionOpened,
    SessionSummary,
    TurnAllocation,
    Verdict,
)

_COLOURS = {
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
    "bold": "1",
}


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"


class ConsoleRenderer:
    """Formats the interesting events as one line each."""

    def __init__(self, stream: TextIO | None = None, colour: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if colour is None:
            colour = self.stream.isatty() and "NO_COLOR" not in os.environ
        self.colour = colour
        self._states: dict[str, str] = {}
        self._allocations: dict[str, tuple[object, ...]] = {}
        self._channels: dict[str, tuple[object, ...]] = {}

    def _c(self, name: str, text: str) -> str:
        if not self.colour:
            return text
        return f"\x1b[{_COLOURS[name]}m{text}\x1b[0m"

    def line(self, ev: Event) -> str | None:
        """The line for ``ev``, or None when it is not shown."""
        head = f"{self._c('dim', _clock(ev.ts))} {ev.session or '--'}"
        if isinstance(ev, FlightComplete):
            msgs = ", ".join(ev.messages)
            frames = ",".join(str(f) for f in ev.frames)
            flight = self._c("cyan", f"flight {ev.flight}")
            return f"{head} {ev.dir} {flight}: {msgs} [frames {frames}]"
        if isinstance(ev, FlightRetransmitted):
            return (f"{head} {ev.dir} {self._c('yellow', f'flight {ev.flight} retransmitted')} "
                    f"(copy {ev.copy})")
        if isinstance(ev, AlertSeen):
            if ev.encrypted and ev.description is None:
                what = "encrypted alert" + (" (by its size)" if ev.by_size else "")
            else:
                what = f"{ev.level_name or ev.level} {ev.description_name or ev.description}"
                what += " (decrypted)" if ev.encrypted else ""
            answers = f" (answers flight {ev.answers_flight})" if ev.answers_flight else ""
            return f"{head} {ev.dir} {self._c('red', 'ALERT ' + what)}{answers}"
        if isinstance(ev, Notice):
            colour = {"error": "red", "warning": "yellow"}.get(ev.level, "blue")
            return f"{head} {self._c(colour, ev.level.upper())} {ev.code}: {ev.message}"
        if isinstance(ev, FaultApplied):
            return (f"{head} {ev.dir} {self._c('magenta', 'FAULT ' + ev.action)} frame "
                    f"{ev.frame}: {ev.detail} [rule {ev.rule}]")
        if isinstance(ev, Verdict):
            certain = "" if ev.certain else " (probable)"
            return f"{head} {self._c('bold', 'VERDICT')} {ev.code}{certain}: {ev.reason}"
        if isinstance(ev, TurnAllocation):
            return self._allocation(ev)
        if isinstance(ev, SctpSeen):
            colour = "red" if ev.error or ev.chunk in ("ABORT", "ERROR") else "cyan"
            stream = f" stream {ev.stream}" if ev.stream is not None else ""
            detail = ", ".join(f"{k} {v!r}" if k in ("label", "protocol") else f"{k} {v}"
                               for k, v in ev.detail.items())
            why = f" -- {ev.error}" if ev.error else ""
            return (f"{head} {ev.dir} {self._c(colour, 'SCTP ' + ev.chunk)}{stream}"
                    f"{': ' + detail if detail else ''}{why}")
        if isinstance(ev, DataChannels):
            return self._datachannels(ev)
        if isinstance(ev, DataChannelMessage):
            what = repr(ev.text) if ev.text is not None else ev.data.hex()
            label = f" {ev.label!r}" if ev.label is not None else ""
            return (f"{head} {ev.dir} data channel {ev.stream}{label} {ev.ppid}, "
                    f"{ev.size} bytes: {what}")
        if isinstance(ev, SessionOpened):
            return f"{head} session opened {ev.labels[0]} <-> {ev.labels[1]}"
        if isinstance(ev, SessionClosed):
            return f"{head} session closed ({ev.reason})"
        if isinstance(ev, SessionSummary):
            if self._states.get(ev.session) == ev.state:
                return None
            self._states[ev.session] = ev.state
            if ev.state == "idle":
                return None
            colour = {"established": "green", "handshaking": "blue"}.get(ev.state, "red")
            parts = [p for p in (ev.version, ev.cipher_suite, ev.srtp_profile) if p]
            detail = f" {', '.join(parts)}" if parts else ""
            note = f" -- {ev.note}" if ev.note else ""
            return f"{head} {self._c(colour, ev.state)}{detail}{note}"
        return None

    def _datachannels(self, ev: DataChannels) -> str | None:
        shape = (ev.state, ev.note, tuple((c.stream, c.label, c.state) for c in ev.channels))
        if self._channels.get(ev.session) == shape:
            return None  # only counters changed
        self._channels[ev.session] = shape
        head = f"{self._c('dim', _clock(ev.ts))} {ev.session or '--'}"
        colour = {"established": "green", "encrypted": "yellow", "aborted": "red"}.get(
            ev.state, "blue")
        chans = "; ".join(
            f"{c.stream} {c.label!r} {c.state}" if c.label is not None
            else f"{c.stream} {c.state}" for c in ev.channels)
        note = f" -- {ev.note}" if ev.note else ""
        return (f"{head} {self._c(colour, 'SCTP ' + ev.state)}"
                f"{' channels ' + chans if chans else ''}{note}")

    def _allocation(self, ev: TurnAllocation) -> str | None:
        shape = (ev.state, tuple(sorted(ev.permissions)), tuple(sorted(ev.channels.items())))
        before = self._allocations.get(ev.allocation)
        if before == shape:
            return None
        head = f"{self._c('dim', _clock(ev.ts))} {ev.allocation}"
        if ev.state == "closed":
            self._allocations.pop(ev.allocation, None)
            return (f"{head} {self._c('yellow', 'TURN allocation closed')} ({ev.reason}); "
                    f"to peers {ev.to_peer[0]} datagrams {ev.to_peer[1]} bytes, from peers "
                    f"{ev.from_peer[0]} datagrams {ev.from_peer[1]} bytes")
        self._allocations[ev.allocation] = shape
        if before is None:
            return (f"{head} {self._c('blue', 'TURN allocation')} {ev.username} "
                    f"{ev.client} ({ev.transport}) relayed {ev.relayed}, {ev.lifetime} s")
        perms = ", ".join(sorted(ev.permissions)) or "none"
        chans = ", ".join(f"{n} {p}" for n, p in sorted(ev.channels.items())) or "none"
        return f"{head} TURN {ev.username}: permissions {perms}; channels {chans}"

    def write(self, events: list[Event]) -> None:
        """Print the lines of ``events``."""
        out = [line for ev in events if (line := self.line(ev)) is not None]
        if out:
            self.stream.write("\n".join(out) + "\n")
            self.stream.flush()
