"""pcapng of both legs of every relayed datagram (Wireshark opens it).

A relay tap (``Relay.add_tap``), not a bus subscriber: the bus carries decoded
events, and media is only counted there, while a capture needs every datagram with
its real addresses. The tap runs in the relay's deferred stage (after forwarding)
and writes, per datagram, the inbound leg (peer -> proxy socket) and each outbound
leg (proxy socket -> other peer; none when a fault dropped it, two when duplicated,
the modified bytes when corrupted) through :class:`proxy.capture.pcap.PcapngWriter`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO

from proxy.capture.pcap import PcapngWriter
from proxy.events import Address, Datagram

Leg = tuple[Address, Address, bytes]
"""One hop of a datagram as it was on the wire: (source, destination, payload)."""


class PcapngTap:
    """Writes the legs of the datagrams it is given, and flushes, once per batch."""

    def __init__(self, path: Path, *, force: bool = False, file: IO[bytes] | None = None
                 ) -> None:
        # 0600 (a capture of a call holds its media), refused if it exists unless force;
        # or the file given (opened so by the relay: proxy.export.offload)
        self.writer = PcapngWriter(path, force=force, file=file)
        self._frame = 0

    def __call__(self, batch: Sequence[tuple[float, list[Leg]]]) -> None:
        """Write ``(receive time, legs)`` of each datagram of a batch (a Recorder tap)."""
        for ts, legs in batch:
            for i, (src, dst, data) in enumerate(legs):
                self._frame += 1
                comment = None if i == 0 else "relayed by dtlsproxy"
                self.writer.write(Datagram(ts, src, dst, data, self._frame), comment)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
