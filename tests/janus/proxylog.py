"""Reading ``dtlsproxy run --log-file`` (docs/log-schema.md) for the Janus tests."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

Event = dict[str, Any]


class ProxyLog:
    """The JSONL events of one proxy run, with the questions the tests ask of them."""

    def __init__(self, events: list[Event]):
        self.events = events

    @classmethod
    def load(cls, path: Path) -> ProxyLog:
        """Parse a JSONL file (missing file: no events)."""
        if not path.exists():
            return cls([])
        return cls([json.loads(line) for line in path.read_text().splitlines() if line.strip()])

    def of(self, name: str) -> list[Event]:
        """Events named ``name`` (``flight``, ``alert``, ``verdict``...), in order."""
        return [e for e in self.events if e.get("event") == name]

    def flights(self) -> list[tuple[str, int, tuple[str, ...]]]:
        """Completed flights: (dir, flight number, message names), in order."""
        return [(e["dir"], e["flight"], tuple(e["messages"])) for e in self.of("flight")]

    def summary(self) -> Event:
        """The last ``session`` summary (empty when none)."""
        sessions = self.of("session")
        return sessions[-1] if sessions else {}

    def states(self) -> list[str]:
        """The successive session states (``handshaking``, ``established``...), deduplicated."""
        out: list[str] = []
        for e in self.of("session"):
            if not out or out[-1] != e["state"]:
                out.append(e["state"])
        return out

    def rtp_packets(self) -> Counter[str]:
        """RTP packets per direction, summed over the ``media`` events."""
        out: Counter[str] = Counter()
        for e in self.of("media"):
            out[e["dir"]] += e["rtp_packets"]
        return out

    def records_per_frame(self, direction: str) -> Counter[int]:
        """Number of DTLS records in each datagram (frame) of a direction."""
        return Counter(e["frame"] for e in self.of("record") if e["dir"] == direction)

    def client_hello(self) -> Event:
        """The first ClientHello message event."""
        return next(e for e in self.of("message") if e["type"] == "ClientHello")

    def sessions_with(self, endpoint: str) -> list[str]:
        """Session ids whose endpoints include ``endpoint`` (``host:port``)."""
        return [e["session"] for e in self.of("session_opened") if endpoint in e["endpoints"]]

    def verdicts_of(self, sessions: list[str]) -> list[Event]:
        """The verdicts of these sessions."""
        return [e for e in self.of("verdict") if e["session"] in sessions]

    def notices(self, code: str) -> list[Event]:
        """Notices with this code (``latched``, ``no_peer``, ``icmp_unreachable``...)."""
        return [e for e in self.of("notice") if e.get("code") == code]
