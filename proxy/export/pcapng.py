"""pcapng of both legs of every relayed datagram (Wireshark opens it).

A relay tap (``Relay.add_tap``), not a bus subscriber: the bus carries decoded
events, and media is only counted there, while a capture needs every datagram with
its real addresses. The tap runs in the relay's deferred stage (after forwarding)
and writes, per datagram, the inbound leg (peer -> proxy socket) and each outbound
leg (proxy socket -> other peer; none when a fault dropped it, two when duplicated,
the modified bytes when corrupted) through :class:`proxy.capture.pcap.PcapngWriter`.
"""

from __future__ import annotations

import os
from pathlib import Path

from proxy.capture.pcap import PcapngWriter
from proxy.events import Address, Datagram

Leg = tuple[Address, Address, bytes]
"""One hop of a datagram as it was on the wire: (source, destination, payload)."""

FILE_MODE = 0o600


class PcapngTap:
    """Writes the legs it is given; flushes at most every ``flush_every`` datagrams."""

    def __init__(self, path: Path, flush_every: int = 64) -> None:
        # create 0600 first: a capture of a call holds its (encrypted) media
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        os.close(fd)
        self.writer = PcapngWriter(path)
        self.flush_every = flush_every
        self._since_flush = 0
        self._frame = 0

    def __call__(self, ts: float, legs: list[Leg]) -> None:
        for i, (src, dst, data) in enumerate(legs):
            self._frame += 1
            comment = None if i == 0 else "relayed by dtlsproxy"
            self.writer.write(Datagram(ts, src, dst, data, self._frame), comment)
        self._since_flush += 1
        if self._since_flush >= self.flush_every:
            self.writer.flush()
            self._since_flush = 0

    def close(self) -> None:
        self.writer.close()
