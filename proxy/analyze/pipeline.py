"""Offline analysis: a capture file through the same Tracker the live relay uses."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

from proxy.capture.pcap import Capture, CaptureError, read_capture
from proxy.decode.demux import classify
from proxy.decode.dtls.record import plausible_dtls
from proxy.decode.stun import plausible_stun
from proxy.events import Address, Event
from proxy.session import Tracker

TICK_EVERY = 1.0
"""Seconds of capture time between two Tracker.tick calls (media intervals, stalls)."""

Key = tuple[int, int, int, int]
"""Where an event stands in the whole analysis: (datagram index, phase: 0 a tick before
that datagram, 1 the datagram itself, 2 the end of the capture; session number, sequence
within the share). Sorting the events of every share by it gives one process's order."""

_END = 1 << 62


def analyze_capture(
    path: str | os.PathLike[str],
    *,
    tracker: Tracker | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_frame: Callable[[int, Capture], None] | None = None,
) -> Iterator[Event]:
    """Every event of a capture, in capture order; DTLS is found by content, on any port.

    A UDP flow becomes a session when one of its datagrams looks like DTLS or STUN
    (RFC 7983 first byte + record sanity); other flows (DNS, QUIC...) are ignored.
    Sessions are numbered by their first datagram (``s1``, ``s2``...). ``on_frame`` is
    called with each frame's number and the capture (for progress: ``fraction_read``).
    Raises :class:`proxy.capture.pcap.CaptureError` for a file that is not a readable capture.
    """
    return (ev for _, ev in analyze_share(path, tracker=tracker, on_warning=on_warning,
                                          on_frame=on_frame))


def analyze_share(
    path: str | os.PathLike[str],
    share: tuple[int, int] = (0, 1),
    *,
    tracker: Tracker | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_frame: Callable[[int, Capture], None] | None = None,
    legs: Mapping[int, int] | None = None,
) -> Iterator[tuple[Key, Event]]:
    """:func:`analyze_capture` for the sessions of one share, each event with its
    :data:`Key`.

    ``share = (index, count)``: session ``sN`` belongs to share ``(N - 1) % count``, or
    to the share of session ``legs[N]`` (:func:`leg_groups`: the legs of one handshake
    are compared with each other, so they are analysed by the same process).
    Every share reads the whole capture, so that each sees the same sessions numbered
    the same way and the same ticks; ``count`` processes with the shares ``0..count-1``
    together give every event of ``(0, 1)``, which sorting by key puts in its order
    (the Tracker must not forget sessions: ``max_sessions`` above their number).
    """
    index, count = share
    tr = tracker or Tracker()
    numbers: dict[frozenset[Address], int] = {}
    next_tick: float | None = None
    last_ts: float | None = None
    seq = 0
    capture = read_capture(path, on_warning)
    for i, d in enumerate(capture):
        if on_frame is not None:
            on_frame(d.frame, capture)
        pair = frozenset((d.src, d.dst))
        number = numbers.get(pair)
        if number is None:
            if not opens_session(d.data):
                continue
            number = numbers[pair] = len(numbers) + 1
        if next_tick is not None and d.ts >= next_tick:
            for ev in tr.tick(d.ts):
                seq += 1
                yield (i, 0, _number(ev), seq), ev
        next_tick = d.ts + TICK_EVERY
        last_ts = d.ts if last_ts is None else max(last_ts, d.ts)
        owner = number if legs is None else legs.get(number, number)
        if count == 1 or (owner - 1) % count == index:
            tr.next_id = number  # the number its session gets, if this datagram opens it
            for ev in tr.receive(d):
                seq += 1
                yield (i, 1, number, seq), ev
    for ev in tr.finish(0.0 if last_ts is None else last_ts):  # any time, even < 1970
        seq += 1
        yield (_END, 2, _number(ev), seq), ev


def opens_session(payload: bytes) -> bool:
    """Whether a datagram of a new UDP flow makes it a session: it is DTLS or STUN, by
    the RFC 7983 first byte and a plausibility check of what follows (records that parse
    with a known version and length; a STUN header and attributes that do): DNS, mDNS and
    other UDP whose first byte happens to fall in those ranges open none."""
    kind = classify(payload)
    if kind == "dtls":
        return plausible_dtls(payload)
    return kind == "stun" and plausible_stun(payload)


def leg_groups(path: str | os.PathLike[str]) -> dict[int, int]:
    """Session number -> the number of the first session with the same ClientHello random,
    for the sessions that are another leg of an earlier session's handshake (numbered as
    :func:`analyze_share` numbers them). One light pass over the capture, for ``--jobs``."""
    numbers: dict[frozenset[Address], int] = {}
    first: dict[bytes, int] = {}
    out: dict[int, int] = {}
    try:
        with read_capture(path) as capture:
            for d in capture:
                pair = frozenset((d.src, d.dst))
                number = numbers.get(pair)
                if number is None:
                    if not opens_session(d.data):
                        continue
                    number = numbers[pair] = len(numbers) + 1
                random = client_hello_random(d.data)
                if random is not None:
                    leader = first.setdefault(random, number)
                    if leader != number:
                        out.setdefault(number, leader)
    except CaptureError:
        return {}  # the analysis itself reports it
    return out


def client_hello_random(datagram: bytes) -> bytes | None:
    """The random of a plaintext ClientHello that starts a datagram (its first fragment),
    else None: a quick look, no decoding (:func:`leg_groups`)."""
    # record header 13, handshake header 12 (type 1, fragment_offset 0), client_version 2
    if (len(datagram) < 59 or datagram[0] != 22 or datagram[13] != 1
            or datagram[3:5] != b"\0\0" or datagram[19:22] != b"\0\0\0"):
        return None
    return datagram[27:59]


def sessions_ahead(path: str | os.PathLike[str], datagrams: int) -> int:
    """The sessions the first ``datagrams`` datagrams of a capture open (0 for a file
    that is not a readable capture: the analysis itself reports that)."""
    pairs: set[frozenset[Address]] = set()
    try:
        with read_capture(path) as capture:
            for i, d in enumerate(capture):
                if i >= datagrams:
                    break
                pair = frozenset((d.src, d.dst))
                if pair not in pairs and opens_session(d.data):
                    pairs.add(pair)
    except CaptureError:
        return 0
    return len(pairs)


def _number(ev: Event) -> int:
    """The number in a session id ``sN`` (0 for no session)."""
    sid = ev.session
    return int(sid[1:]) if sid[1:].isdigit() else 0
