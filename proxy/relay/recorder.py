"""The relay's second stage: what happens AFTER a datagram was forwarded.

The forwarding callbacks only append the datagram (a :class:`Relayed` record) to a
list; :meth:`Recorder.drain` runs at most ``DRAIN_DELAY`` (5 ms) later, or right after
the current round of I/O once ``DRAIN_BATCH`` datagrams are queued. It hands the
batch's legs to the taps (once per batch: the pcapng, written by another process,
:mod:`proxy.export.offload`), feeds the Tracker (decoding; media, told by RFC 7983's
first byte through :mod:`proxy.decode.demux`, is counted per run of one source and
destination) and publishes the events on the bus. A decoder exception is reported once
as a Notice and never reaches the forwarding path. Reporters (:meth:`add_reporter`)
publish what the outputs have to say (records dropped) on the relay's tick.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from proxy.bus import Bus
from proxy.compare.changes import ChangeWatch
from proxy.decode.demux import is_media
from proxy.events import Address, Datagram, DatagramSeen, Event, FaultApplied, Notice
from proxy.export.pcapng import Leg

if TYPE_CHECKING:
    from proxy.verdict import VerdictEngine

Tap = Callable[[list[tuple[float, list[Leg]]]], None]
"""Called once per drain with ``(receive time, legs)`` of each relayed datagram (the
inbound leg, then the outbound ones)."""

Reporter = Callable[[float, bool], list[Event]]
"""Called on every tick (``final`` False) and at the end (True): events to publish."""


class TrackerLike(Protocol):
    """What the relay needs of ``proxy.session.Tracker``."""

    def receive(self, d: Datagram) -> list[Event]: ...

    def tick(self, now: float) -> list[Event]: ...

    def finish(self, now: float) -> list[Event]: ...

    def media(
        self, src: Address, dst: Address, packets: list[tuple[float, bytes]]
    ) -> list[Event]: ...

    def close(self, a: Address, b: Address, now: float, reason: str) -> list[Event]: ...


class NullTracker:
    """Stand-in when no decoder is wanted (benchmarks) or available."""

    def receive(self, d: Datagram) -> list[Event]:
        return []

    def tick(self, now: float) -> list[Event]:
        return []

    def finish(self, now: float) -> list[Event]:
        return []

    def media(
        self, src: Address, dst: Address, packets: list[tuple[float, bytes]]
    ) -> list[Event]:
        return []

    def close(self, a: Address, b: Address, now: float, reason: str) -> list[Event]:
        return []


def make_tracker(
    labels: dict[Address, str],
    verdicts: VerdictEngine,
    stack_files: tuple[Path, ...] = (),
) -> TrackerLike:
    """The decoder with the verdict rules: ``proxy.session.Tracker`` + ``verdicts`` (given
    their loaded options and secrets by the caller).

    Raises :class:`ValueError` with a user-facing message when a stack file cannot be used
    (the caller turns it into a RelayError).
    """
    from proxy.identify.stacks import StackDb, StackFileError, default_db
    from proxy.session import Tracker

    try:
        stacks = StackDb.default(stack_files) if stack_files else default_db()
    except StackFileError as exc:
        raise ValueError(f"[fingerprints] files: {exc}") from None
    return Tracker(labels, verdict_hook=verdicts, stacks=stacks)


DRAIN_DELAY = 0.005
"""Seconds a relayed datagram may wait for decoding (events reach logs and UI this late).

Draining once per datagram costs a low-rate relay a handle and one more event loop
round per datagram (about a third of its CPU at 5,000 datagrams/s); waiting a few ms
batches them. A busy relay drains every ``DRAIN_BATCH`` datagrams instead."""

DRAIN_BATCH = 64
"""Queued datagrams that trigger a drain right after the current round of I/O."""

SHED_AFTER = 0.05
"""Seconds the decoder may fall behind before media datagrams skip decoding."""

DECODE_SHARE = 0.3
"""Share of wall time the decoder may use (per 50 ms window) before media skips it."""

SHARE_WINDOW = 0.05

SHED_REPORT_EVERY = 5.0


@dataclass(slots=True)
class Relayed:
    """One relayed datagram waiting for the deferred stage (see :meth:`Recorder.record`)."""

    frame: int
    ts: float
    src: Address
    """The sender, as the decoder sees the conversation."""
    dst: Address
    """The receiving peer (not the proxy)."""
    data: bytes
    """What the receiving peer got (what the decoder sees)."""
    side: str
    """The label of the side that received it."""
    hop_in: Address
    """The proxy socket it arrived on."""
    hop_out: Address | None
    """The proxy socket it left from (None: not sent)."""
    sent: list[bytes] | None = None
    """The payloads sent when a fault changed them (None: ``data``, once)."""
    faults: list[FaultApplied] | None = None
    """Faults applied to it (published after the decoder's events for it)."""
    received: bytes | None = None
    """The bytes as they arrived, when a fault changed them."""
    wire: list[Leg] | None = None
    """The hops as they were on the wire, when they are not ``data`` itself (TURN)."""
    via: str = ""
    """The encapsulation the decoder is told of (TURN)."""
    decode: bool = True
    """False: only tapped (TURN control messages, a hop decoded elsewhere)."""
    decode_each: list[bytes] | None = None
    """What the receiving peer got now, in order, when a fault reshaped or held it."""
    lost: str = ""
    """The path fault that lost it (the decoder learns its size, not its content)."""

    def legs(self) -> list[Leg]:
        """The datagram as it was on the wire: inbound leg, then each outbound one."""
        if self.wire is not None:
            return self.wire
        legs: list[Leg] = [(self.src, self.hop_in,
                            self.data if self.received is None else self.received)]
        if self.hop_out is not None:
            hop, dst = self.hop_out, self.dst
            legs.extend((hop, dst, d) for d in (self.sent if self.sent is not None
                                                  else (self.data,)))
        return legs


class Recorder:
    """Deferred decode + publish + taps, in batches (``DRAIN_DELAY``, ``DRAIN_BATCH``).

    Overload: when decoding used more than ``DECODE_SHARE`` of the last 50 ms, or the
    oldest queued datagram is more than ``SHED_AFTER`` old, media (RTP/RTCP) datagrams
    are not decoded (they were forwarded; only their counting is lost) and a
    ``decoder_behind`` Notice says how many. DTLS, STUN and everything else is always
    decoded. Forwarding keeps the CPU it needs: at 5,000 media datagrams/s decoding
    uses well under the share; a relay pushed to its limit sheds media counting.
    """

    def __init__(self, bus: Bus, tracker: TrackerLike, *, decode: bool = True) -> None:
        self.bus = bus
        self.tracker = tracker
        self.decode = decode
        self.taps: list[Tap] = []
        self.reporters: list[Reporter] = []
        self.active = decode
        """Whether relayed datagrams need recording at all (decoder or taps)."""
        self.frames = 0
        self.decoder_errors = 0
        self.shed = 0
        self._shed_reported = 0
        self._shed_report_ts = 0.0
        self._pending: list[Relayed] = []
        self._win_start = time.perf_counter()
        self._win_busy = 0.0
        self._over_share = False
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.changes = ChangeWatch()
        """Sessions by outcome and shape: a notice when what changed, since when, changes."""

    def add_tap(self, tap: Tap) -> None:
        """Hand every relayed datagram's legs to ``tap`` (in the deferred stage, a batch
        at a time)."""
        self.taps.append(tap)
        self.active = True

    def add_reporter(self, reporter: Reporter) -> None:
        """Publish what ``reporter`` returns on every tick and at the end."""
        self.reporters.append(reporter)

    def set_label(self, addr: Address, label: str) -> None:
        """Name a latched peer in the decoder's output (when the tracker keeps labels)."""
        labels = getattr(self.tracker, "labels", None)
        if isinstance(labels, dict) and addr not in labels:
            labels[addr] = label

    def next_frame(self) -> int:
        """Number the next datagram (1-based, per run)."""
        self.frames += 1
        return self.frames

    def record(
        self,
        ts: float,
        src: Address,
        dst: Address,
        data: bytes,
        side: str,
        hop_in: Address,
        hop_out: Address | None,
        *,
        out: list[bytes] | None = None,
        frame: int = 0,
        extra: list[FaultApplied] | None = None,
        received: bytes | None = None,
        legs: list[Leg] | None = None,
        via: str = "",
        decode: bool = True,
        decode_each: list[bytes] | None = None,
        lost: str = "",
    ) -> None:
        """Queue one relayed datagram (called right after it was forwarded).

        ``src`` -> ``dst`` is the conversation as the decoder sees it; ``hop_in`` is
        the proxy socket that received it and ``hop_out`` the one that sent it on
        (None: not sent), ``out`` the payloads sent when a fault changed them.
        ``extra`` (faults applied to it) is published after the decoder's events for
        the same datagram, with the decoder's session id filled in. ``received``: the
        bytes as they arrived when a fault changed them (``data`` is then what the
        receiving peer got, which the decoder sees); the inbound leg keeps them.
        ``legs``: the hops as they were on the wire, when they are not ``data`` itself
        (TURN: the client's leg carries the indication or ChannelData around it); ``via``
        names that encapsulation for the decoder; ``decode=False`` only taps the legs
        (TURN control messages, or a hop decoded elsewhere). ``decode_each``: the
        payloads the receiving peer got now, in order, when a fault reshaped or held them
        (re-cut, packed, reordered: none when this one was held, several when it released
        others); the decoder sees those instead of ``data``. ``lost``: the path fault
        (blackhole, loss, rate) that lost it; the decoder is told (a size, no delivery).
        """
        if not frame:
            self.frames += 1
            frame = self.frames
        pending = self._pending
        pending.append(Relayed(frame, ts, src, dst, data, side, hop_in, hop_out, out, extra,
                               received, legs, via, decode, decode_each, lost))
        n = len(pending)
        if n == 1:  # a new batch: drained within DRAIN_DELAY at the latest
            if self._loop is None:
                self._loop = asyncio.get_running_loop()
            self._timer = self._loop.call_later(DRAIN_DELAY, self.drain)
        elif n == DRAIN_BATCH:  # a full batch: drained after this round of I/O callbacks
            assert self._loop is not None
            self._loop.call_soon(self.drain)

    def drain(self) -> None:
        """Decode and publish everything queued so far."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        out: list[Event] = []
        now = time.time()
        t0 = time.perf_counter()
        shedding = self.decode and (self._over_share or now - batch[0].ts > SHED_AFTER)
        if self.taps:
            self._tap([(r.ts, r.legs()) for r in batch], out)
        decode = self.decode
        # media is counted per (src, dst) run, flushed before anything else is decoded,
        # so the counts interleave with the DTLS/STUN events as datagram by datagram
        runs: dict[tuple[Address, Address], list[tuple[float, bytes]]] = {}
        for r in batch:
            ts, src, dst, data, extra = r.ts, r.src, r.dst, r.data, r.faults
            events: list[Event] = []
            if decode and r.decode:
                if r.lost:
                    if runs:
                        self._count_media(runs, out)
                    events += self._decode(Datagram(ts, src, dst, r.received or data, r.frame,
                                                    r.side, r.via, lost=r.lost), out)
                for data in ([r.data] if r.decode_each is None else r.decode_each):
                    if is_media(data):  # RTP/RTCP: only counted
                        if shedding:
                            self.shed += 1
                        else:
                            run = runs.get((src, dst))
                            if run is None:
                                runs[(src, dst)] = [(ts, data)]
                            else:
                                run.append((ts, data))
                    else:
                        if runs:
                            self._count_media(runs, out)
                        events += self._decode(Datagram(ts, src, dst, data, r.frame, r.side,
                                                        r.via), out)
            if extra:
                # the decoder's session id, and its direction once the roles are known
                # (client->server), replace the relay's side labels
                seen = next((e for e in events if isinstance(e, DatagramSeen)), None)
                session = seen.session if seen is not None else ""
                roles_known = seen is not None and seen.dir.startswith(("client", "server"))
                role_dir = seen.dir if seen is not None and roles_known else None
                out.extend(
                    dataclasses.replace(f, session=session, dir=role_dir or f.dir) for f in extra
                )
        if runs:
            self._count_media(runs, out)
        t1 = time.perf_counter()
        self._win_busy += t1 - t0
        if t1 - self._win_start >= SHARE_WINDOW:
            self._over_share = self._win_busy > DECODE_SHARE * (t1 - self._win_start)
            self._win_start, self._win_busy = t1, 0.0
        if self.shed != self._shed_reported and now - self._shed_report_ts >= SHED_REPORT_EVERY:
            n = self.shed - self._shed_reported
            self._shed_reported, self._shed_report_ts = self.shed, now
            out.append(Notice(
                ts=now, session="", level="warning", code="decoder_behind",
                message=f"decoder could not keep up with the traffic: {n} media datagrams "
                "were forwarded but not counted",
            ))
        self.bus.publish(self.changes.watch(out))

    def _tap(self, batch: list[tuple[float, list[Leg]]], out: list[Event]) -> None:
        taps = self.taps
        for tap in list(taps):
            try:
                tap(batch)
            except Exception as exc:  # a broken exporter must not stop the relay
                taps.remove(tap)
                out.append(self._error("tap_failed", f"exporter stopped: {exc!r}", batch[0][0]))

    def tick(self, now: float) -> None:
        """Let the tracker emit time-driven events (media stats, stalls), and the
        reporters theirs."""
        if self._pending:
            self.drain()
        if self.decode:
            try:
                self.bus.publish(self.changes.watch(self.tracker.tick(now)))
            except Exception as exc:
                msg = f"tracker tick failed: {exc!r}"
                self.bus.publish([self._error("decoder_error", msg, now)])
        self._report(now, final=False)

    def finish(self) -> None:
        """Flush and close every session."""
        if self._pending:
            self.drain()
        if self.decode:
            try:
                self.bus.publish(self.changes.watch(self.tracker.finish(time.time())))
            except Exception as exc:
                msg = f"tracker finish failed: {exc!r}"
                self.bus.publish([self._error("decoder_error", msg, time.time())])
        self._report(time.time(), final=True)

    def _report(self, now: float, final: bool) -> None:
        for reporter in self.reporters:
            try:
                self.bus.publish(reporter(now, final))
            except Exception as exc:  # a broken output must not stop the relay
                self.bus.publish([self._error("tap_failed", f"recording report failed: "
                                              f"{exc!r}", now)])

    def close_session(self, a: Address, b: Address, reason: str) -> None:
        """Close the decoder's session between ``a`` and ``b`` now (its final verdicts
        and ``session closed``) and release its state: the relay forgot that client."""
        if self._pending:
            self.drain()
        if self.decode:
            try:
                self.bus.publish(self.changes.watch(self.tracker.close(a, b, time.time(), reason)))
            except Exception as exc:
                msg = f"closing a session failed: {exc!r}"
                self.bus.publish([self._error("decoder_error", msg, time.time())])

    def sdp_changed(self, texts: list[tuple[str, str]]) -> None:
        """The --sdp files ``(path, text)`` were read again: the verdict rules take their
        fingerprints and a=setup, and every open session is checked again now."""
        from proxy.verdict import VerdictEngine, reread_sdp

        hook = getattr(self.tracker, "verdict_hook", None)
        recheck = getattr(self.tracker, "recheck", None)
        if not self.decode or not isinstance(hook, VerdictEngine) or recheck is None:
            return
        if self._pending:
            self.drain()
        try:
            reread_sdp(hook, texts)
            self.bus.publish(recheck(time.time()))
        except Exception as exc:  # a decoder problem must not stop the relay
            self.bus.publish([self._error("decoder_error", f"SDP re-check failed: {exc!r}",
                                          time.time())])

    def session_sdp(self, sid: str, texts: list[tuple[str, str]]) -> None:
        """The SDPs a peer applied for session ``sid`` (``(source, text)``, from
        ``proxy.peerstate``): the verdict rules check its certificates against them, now."""
        from proxy.verdict import VerdictEngine

        hook = getattr(self.tracker, "verdict_hook", None)
        recheck = getattr(self.tracker, "recheck", None)
        if not self.decode or not isinstance(hook, VerdictEngine) or recheck is None:
            return
        if self._pending:
            self.drain()
        try:
            hook.use_session_sdp(sid, texts)
            self.bus.publish(self.changes.watch(recheck(time.time())))
        except Exception as exc:  # a decoder problem must not stop the relay
            self.bus.publish([self._error("decoder_error", f"SDP re-check failed: {exc!r}",
                                          time.time())])

    def notice(self, level: str, code: str, message: str, session: str = "") -> Notice:
        """Publish a Notice now (and return it)."""
        n = Notice(ts=time.time(), session=session, level=level, code=code, message=message)
        self.bus.publish([n])
        return n

    def publish(self, events: list[Event]) -> None:
        """Publish relay events (FaultApplied...)."""
        self.bus.publish(events)

    def _decode(self, d: Datagram, out: list[Event]) -> list[Event]:
        """Decode one datagram into ``out``; returns its events (none if it failed)."""
        try:
            events = self.tracker.receive(d)
        except Exception as exc:  # best effort; forwarding already happened
            self._decoder_failed(exc, d.frame, d.ts, out)
            return []
        out.extend(events)
        return events

    def _count_media(
        self, runs: dict[tuple[Address, Address], list[tuple[float, bytes]]], out: list[Event]
    ) -> None:
        for (src, dst), packets in runs.items():
            try:
                out.extend(self.tracker.media(src, dst, packets))
            except Exception as exc:
                self._decoder_failed(exc, 0, packets[0][0], out)
        runs.clear()

    def _decoder_failed(self, exc: Exception, frame: int, ts: float, out: list[Event]) -> None:
        self.decoder_errors += 1
        if self.decoder_errors == 1:
            where = f"frame {frame}" if frame else "media"
            out.append(self._error("decoder_error", f"decoder failed on {where}: {exc!r}", ts))

    @staticmethod
    def _error(code: str, message: str, ts: float) -> Notice:
        return Notice(ts=ts, session="", level="error", code=code, message=message)
