"""Offline analysis: a capture file through the same Tracker the live relay uses."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from proxy.demux import classify
from proxy.dtls.record import looks_like_dtls
from proxy.events import Address, Event
from proxy.pcap import read_capture
from proxy.session import Tracker

TICK_EVERY = 1.0
"""Seconds of capture time between two Tracker.tick calls (media intervals, stalls)."""


def analyze_capture(
    path: str | os.PathLike[str],
    *,
    tracker: Tracker | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> Iterator[Event]:
    """Every event of a capture, in capture order; DTLS is found by content, on any port.

    A UDP flow becomes a session when one of its datagrams looks like DTLS or STUN
    (RFC 7983 first byte + record sanity); other flows (DNS, QUIC...) are ignored.
    Raises :class:`proxy.pcap.CaptureError` for a file that is not a readable capture.
    """
    tr = tracker or Tracker()
    relevant: set[frozenset[Address]] = set()
    next_tick: float | None = None
    last_ts = 0.0
    capture = read_capture(path, on_warning)
    for d in capture:
        if on_frame is not None:
            on_frame(d.frame)
        pair = frozenset((d.src, d.dst))
        if pair not in relevant:
            if not (looks_like_dtls(d.data) or classify(d.data) == "stun"):
                continue
            relevant.add(pair)
        if next_tick is not None and d.ts >= next_tick:
            yield from tr.tick(d.ts)
        next_tick = d.ts + TICK_EVERY
        last_ts = max(last_ts, d.ts)
        yield from tr.receive(d)
    yield from tr.finish(last_ts)
