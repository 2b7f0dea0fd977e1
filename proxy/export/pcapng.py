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

from proxy.capture.dsb import SecretsFollower
from proxy.capture.pcap import PcapngWriter, move_secrets_first
from proxy.events import Address, Datagram

Leg = tuple[Address, Address, bytes]
"""One hop of a datagram as it was on the wire: (source, destination, payload)."""


class PcapngTap:
    """Writes the legs of the datagrams it is given, and flushes, once per batch.

    With ``secrets`` (``run --pcap-keys``) the key log lines of the handshakes it writes
    go into Decryption Secrets Blocks too, before the records they open when the key log
    had them in time (:class:`proxy.capture.dsb.SecretsFollower`), else moved to the
    front at :meth:`close`: Wireshark opens the file decrypted, DTLS 1.2 and 1.3 alike.
    """

    def __init__(self, path: Path, *, force: bool = False, file: IO[bytes] | None = None,
                 secrets: SecretsFollower | None = None) -> None:
        # 0600 (a capture of a call holds its media), refused if it exists unless force;
        # or the file given (opened so by the relay: proxy.export.offload)
        self.writer = PcapngWriter(path, force=force, file=file)
        self._frame = 0
        self.path = path
        self.secrets = secrets

    def __call__(self, batch: Sequence[tuple[float, list[Leg]]]) -> None:
        """Write ``(receive time, legs)`` of each datagram of a batch (a Recorder tap)."""
        for ts, legs in batch:
            if self.secrets is not None and legs:
                self.writer.write_secrets(self.secrets.before(ts, legs[0][2]))
            for i, (src, dst, data) in enumerate(legs):
                self._frame += 1
                comment = None if i == 0 else "relayed by dtlsproxy"
                self.writer.write(Datagram(ts, src, dst, data, self._frame), comment)
        self.writer.flush()

    def close(self) -> None:
        """Write the key log lines that came after the last datagram, close; move every
        secrets block to the front when some came after records they open."""
        if self.secrets is not None:
            self.writer.write_secrets(self.secrets.final())
        self.writer.close()
        if self.secrets is not None and self.secrets.late:
            move_secrets_first(self.path)
