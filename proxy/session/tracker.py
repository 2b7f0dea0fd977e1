"""The sans-IO engine: datagrams (with their time) in, events out.

``dtlsproxy analyze`` (offline) and ``dtlsproxy run`` (live) both feed every
datagram to :meth:`Tracker.receive` (aioquic's ``receive_datagram(data, addr,
now)`` habit): no sockets, no clock, no asyncio here. RFC 7983 demultiplexing
decides what is decoded: DTLS fully, STUN lightly, RTP/RTCP only counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from proxy.decode.demux import classify
from proxy.decode.dtls import registry
from proxy.decode.dtls.reader import DecodeError
from proxy.decode.rtp import MediaCounter, MediaInterval
from proxy.decode.stun import parse_stun, stun_role
from proxy.events import (
    Address,
    AlertSeen,
    Datagram,
    DatagramSeen,
    Event,
    Malformed,
    MediaStats,
    SessionClosed,
    SessionOpened,
    SessionSummary,
    StunSeen,
    format_address,
)
from proxy.identify.stacks import StackDb, default_db
from proxy.session.legs import LegIndex
from proxy.session.session import MAX_PATH_LOST, PathLoss, Session
from proxy.session.summary import Negotiation

_SENDERS = ("0", "1")
"""Media counter direction keys per sender index (no str() per packet)."""

MAX_RELAY_NOTES = 512
"""Packet comments kept per session (only for its handshake datagrams)."""

VerdictHook = Callable[[Session, list[Event], float, bool], list[Event]]
"""Called with (session, new events, now, final) -> verdict events (see proxy.verdict),
after every datagram, tick and at the end; also before the roles are known (ICE only)."""


@dataclass
class _Entry:
    session: Session
    addrs: tuple[Address, Address]
    media: MediaCounter
    counters: dict[tuple[str, int], int] = field(default_factory=dict)
    last_summary: tuple[object, ...] | None = None
    last_inputs: tuple[object, ...] | None = None
    """What :attr:`last_summary` is computed from (unchanged: no new summary to build)."""
    last_dtls_ts: float = 0.0
    first_ts: float = 0.0
    stalled: bool = False
    closed: bool = False
    settled: bool = False
    """Ticks cannot change this session until its next datagram (see :meth:`Tracker.tick`)."""


class Tracker:
    """Routes datagrams to sessions (one per pair of endpoints) and returns events.

    ``labels`` names endpoints (e.g. the relay's configured side names, or
    ``{addr: "janus"}``); unnamed endpoints are shown as ``host:port``.
    ``stall_after``: seconds without DTLS progress after which a handshaking
    session is reported stalled. ``verdict_hook`` (see :mod:`proxy.verdict`)
    adds verdict events.
    """

    def __init__(
        self,
        labels: Mapping[Address, str] | None = None,
        *,
        media_interval: float = 1.0,
        stall_after: float = 10.0,
        max_sessions: int = 10_000,
        verdict_hook: VerdictHook | None = None,
        stacks: StackDb | None = None,
    ) -> None:
        self.labels = dict(labels or {})
        self.media_interval = media_interval
        self.stall_after = stall_after
        self.max_sessions = max_sessions
        self.verdict_hook = verdict_hook
        self.stacks = stacks if stacks is not None else default_db()
        """Known stacks, for the ``client_stack``/``server_stack`` guesses."""
        self._by_pair: dict[frozenset[Address], _Entry] = {}
        self.leg_index = LegIndex()
        """Sessions by ClientHello random: the legs of one handshake (proxy.session.legs)."""
        self._by_id: dict[str, _Entry] = {}
        self._route: dict[tuple[Address, Address], tuple[_Entry, int]] = {}
        """(src, dst) -> (entry, sender index): the media fast path's lookup."""
        self.next_id = 1
        """The number of the next session opened (its id is ``s<next_id>``)."""

    # ------------------------------------------------------------------ API

    @property
    def sessions(self) -> dict[str, Session]:
        """Session id -> Session, for the verdict rules and tests."""
        return {sid: e.session for sid, e in self._by_id.items()}

    def session_for(self, a: Address, b: Address) -> Session | None:
        """The session between two endpoints, if any."""
        e = self._by_pair.get(frozenset((a, b)))
        return None if e is None else e.session

    def receive(self, d: Datagram) -> list[Event]:
        """Decode one datagram; returns the events it caused, in order."""
        out: list[Event] = []
        entry = self._entry(d, out)
        s = entry.session
        sender = 0 if d.src == entry.addrs[0] else 1
        self._route[(d.src, d.dst)] = (entry, sender)
        kind = classify(d.data)
        if d.lost:  # a path fault lost it: its size is evidence, its content never arrived
            if len(s.path_lost) < MAX_PATH_LOST:
                s.path_lost.append(PathLoss(sender, d.frame, len(d.data), d.ts, d.lost))
            entry.settled = False
            return out
        if kind == "rtp" or kind == "rtcp":  # counted there, through the route just set
            out.extend(self.media(d.src, d.dst, [(d.ts, d.data)]))
            return out
        key = (kind, sender)
        entry.counters[key] = entry.counters.get(key, 0) + 1
        s.heard[sender] += 1
        entry.settled = False
        dirl = s.dir_label(sender)
        out.append(DatagramSeen(d.ts, s.sid, d.frame, dirl, kind, len(d.data), d.data, d.via))
        if kind == "dtls":
            entry.last_dtls_ts = d.ts
            entry.stalled = False
            if d.comment and len(s.relay_notes) < MAX_RELAY_NOTES and not s.established():
                s.relay_notes[d.frame] = d.comment  # who wrote this copy (a relay's --pcap)
            out.extend(s.receive_dtls(sender, d.data, d.ts, d.frame))
            if s.new_legs:  # the same handshake as other sessions: their summaries say so
                for leg in s.new_legs:
                    other = self._by_id.get(leg.sid)
                    if other is not None:
                        out.extend(self._after(other, [], d.ts, final=False))
                s.new_legs = []
        elif kind == "stun":
            try:
                info = parse_stun(d.data)
            except DecodeError as e:
                out.append(Malformed(d.ts, s.sid, d.frame, dirl, "stun", e.offset, e.reason))
            else:
                s.stun_seen(stun_role(info.method, info.cls, info.attributes), info.method)
                out.append(
                    StunSeen(
                        d.ts, s.sid, d.frame, dirl, info.method, info.cls,
                        info.transaction_id, dict(info.attributes),
                    )
                )
        out.extend(self._after(entry, out, d.ts, final=False))
        return out

    def media(self, src: Address, dst: Address, packets: list[tuple[float, bytes]]) -> list[Event]:
        """Count RTP/RTCP datagrams ``(ts, payload)`` sent from ``src`` to ``dst``, in
        order: the same events and counters as :meth:`receive` on each, without building
        Datagrams or looking the session up per packet (the relay's hot path: media is
        most of a call's datagrams). Each payload's first byte must be 128-191."""
        hit = self._route.get((src, dst))
        if hit is None:  # the first datagram of this pair: receive() opens the session
            ts, data = packets[0]
            out = self.receive(Datagram(ts, src, dst, data, 0))
            if len(packets) > 1:
                out += self.media(src, dst, packets[1:])
            return out
        entry, sender = hit
        conf = entry.session.confirm
        if conf.how is None and conf.final_sender is not None:  # SRTP confirms a handshake
            entry.session.media_seen(sender, packets[0][0])
            entry.settled = False
        intervals, rtp, rtcp = entry.media.add_packets(_SENDERS[sender], packets)
        counters = entry.counters
        entry.session.heard[sender] += len(packets)
        for kind, n in (("rtp", rtp), ("rtcp", rtcp)):
            if n:
                key = (kind, sender)
                counters[key] = counters.get(key, 0) + n
        return self._stats(entry, intervals) if intervals else []

    def tick(self, now: float) -> list[Event]:
        """Time passed with no datagram: media intervals, stalls, timing verdicts.

        A session whose state no longer depends on time (established or failed, and its
        verdict hook :meth:`settled <proxy.verdict.engine.VerdictEngine.settled>`) is
        skipped until its next datagram, but for its media intervals: a long capture with
        many sessions would otherwise cost sessions x seconds.
        """
        out: list[Event] = []
        for entry in list(self._by_id.values()):
            if entry.closed:
                continue
            intervals = entry.media.tick(now)
            if intervals:
                out.extend(self._stats(entry, intervals))
            held = entry.session.flush13(now)  # DTLS 1.3 records that waited for keys
            if held:
                out.extend(held)
                entry.settled = False
            out.extend(entry.session.sctp_flush(now))  # data channel counters
            if entry.settled:
                continue
            s = entry.session
            if (
                not entry.stalled
                and s.client is not None
                and not s.established()
                and s.fatal_alert() is None
                and now - entry.last_dtls_ts >= self.stall_after
                and s.one_direction() is None
            ):
                entry.stalled = True
            out.extend(self._after(entry, out, now, final=False))
            entry.settled = self._settled(entry)
        return out

    def recheck(self, now: float) -> list[Event]:
        """A tick that skips no session: the verdict rules' inputs changed (SDPs read
        again), so every open session is looked at now, not at its next datagram."""
        for entry in self._by_id.values():
            entry.settled = False
        return self.tick(now)

    def _settled(self, entry: _Entry) -> bool:
        if self.state(entry) not in ("established", "alert", "failed"):
            return False  # may become stalled or confirmed; the rules still wait on time
        hook = self.verdict_hook
        if hook is None:
            return True
        settled = getattr(hook, "settled", None)  # optional part of the hook's protocol
        return settled is not None and bool(settled(entry.session))

    def finish(self, now: float, reason: str = "end of capture") -> list[Event]:
        """Close every session (end of capture, relay shutdown)."""
        out: list[Event] = []
        for entry in list(self._by_id.values()):
            if not entry.closed:
                self._close(entry, now, reason, out)
        return out

    def close(self, a: Address, b: Address, now: float, reason: str) -> list[Event]:
        """Close the session between ``a`` and ``b`` as :meth:`finish` closes each (its
        last events, then SessionClosed) and forget it, its verdict state too (the hook's
        optional ``forget(sid)``): the relay dropped that client. A datagram between them
        afterwards opens a new session."""
        entry = self._by_pair.pop(frozenset((a, b)), None)
        if entry is None:
            return []
        out: list[Event] = []
        if not entry.closed:
            self._close(entry, now, reason, out)
        sid = entry.session.sid
        self._by_id.pop(sid, None)
        self.leg_index.forget(entry.session)
        x, y = entry.addrs
        self._route.pop((x, y), None)
        self._route.pop((y, x), None)
        forget = getattr(self.verdict_hook, "forget", None)
        if forget is not None:
            forget(sid)
        return out

    def _close(self, entry: _Entry, now: float, reason: str, out: list[Event]) -> None:
        s = entry.session
        out.extend(self._stats(entry, entry.media.flush(now)))
        out.extend(s.flush13(now, final=True))  # DTLS 1.3 records still waiting for keys
        out.extend(s.sctp_flush(now, final=True))
        if s.current is not None:
            out.extend(s._complete(s.current, now))
        if (
            s.client is not None
            and not s.established()
            and s.fatal_alert() is None
            and now - entry.last_dtls_ts >= self.stall_after
            and s.one_direction() is None
        ):
            entry.stalled = True
        out.extend(self._after(entry, out, now, final=True))
        entry.closed = True
        out.append(SessionClosed(now, s.sid, reason))

    # ------------------------------------------------------------- internals

    def _label(self, addr: Address) -> str:
        return self.labels.get(addr) or format_address(addr)

    def _entry(self, d: Datagram, out: list[Event]) -> _Entry:
        pair = frozenset((d.src, d.dst))
        entry = self._by_pair.get(pair)
        if entry is not None:
            return entry
        if len(self._by_id) >= self.max_sessions:
            oldest = next(iter(self._by_id))
            old = self._by_id.pop(oldest)
            self.leg_index.forget(old.session)
            self._by_pair.pop(frozenset(old.addrs), None)
            a, b = old.addrs
            self._route.pop((a, b), None)
            self._route.pop((b, a), None)
        sid = f"s{self.next_id}"
        self.next_id += 1
        addrs = (d.src, d.dst)
        endpoints = (format_address(d.src), format_address(d.dst))
        labels = (self._label(d.src), self._label(d.dst))
        entry = _Entry(Session(sid, endpoints, labels), addrs, MediaCounter(self.media_interval))
        entry.session.leg_index = self.leg_index
        entry.first_ts = d.ts
        self._by_pair[pair] = entry
        self._by_id[sid] = entry
        out.append(SessionOpened(d.ts, sid, endpoints, labels))
        return entry

    def _stats(self, entry: _Entry, intervals: list[MediaInterval]) -> list[Event]:
        s = entry.session
        return [
            MediaStats(
                iv.end, s.sid, s.dir_label(int(iv.dir)), iv.interval, iv.rtp_packets,
                iv.rtp_bytes, iv.rtcp_packets, dict(iv.ssrcs),
            )
            for iv in intervals
        ]

    def _after(self, entry: _Entry, new: list[Event], now: float, final: bool) -> list[Event]:
        out: list[Event] = []
        entry.session.time_passed(now)
        if self.verdict_hook is not None:
            out.extend(self.verdict_hook(entry.session, new, now, final))
        s = entry.session
        n = s.neg
        inputs = (
            self.state(entry), s.client, n.version, tuple(n.offered_versions), n.cipher_suite,
            n.group, n.srtp_profile, n.client_ems, n.server_ems, s.cookie_exchange,
            n.resumption, tuple(n.fingerprints.items()), s.dtls13.opened > 0,
            len(s.dtls13.unreadable), len(s.dtls13.auth_failures), n.client_hello is None,
            n.server_hello is None, s.confirm.retransmitted_after, tuple(s.legs()),
            s.one_direction(), s.server_exchange(),
        )
        if inputs == entry.last_inputs and not final:
            return out  # the summary's key below is a function of these
        entry.last_inputs = inputs
        summary = self._summary(entry, now)
        key = (
            summary.state, summary.client, summary.version, summary.cipher_suite, summary.group,
            summary.srtp_profile, summary.extended_master_secret, summary.cookie,
            summary.resumption, tuple(sorted(summary.fingerprints.items())), summary.note,
            summary.client_stack, summary.server_stack, summary.legs,
        )
        if key != entry.last_summary or final:
            entry.last_summary = key
            out.append(summary)
        return out

    def state(self, entry: _Entry) -> str:
        """idle / handshaking / unconfirmed / established / failed / alert / stalled.

        ``unconfirmed``: both Finished were sent, but the receiver of the last flight has
        not shown yet that it accepted it (:mod:`proxy.session.confirm`); ``failed`` also
        when it kept retransmitting its flight instead."""
        s = entry.session
        if s.client is None:
            return "idle"
        fatal = s.fatal_alert()
        if s.established():
            return "alert" if s.alerts and fatal is not None else "established"
        if fatal is not None or s.rejected():
            return "failed"
        if s.finished_both():
            return "unconfirmed"  # an encrypted alert now may be a close_notify
        if s.one_direction() is None and any(
                isinstance(a, AlertSeen) and a.encrypted for a in s.alerts):
            return "failed"  # (one direction alone: an unreadable alert may be a close)
        return "stalled" if entry.stalled else "handshaking"

    def _summary(self, entry: _Entry, now: float) -> SessionSummary:
        s = entry.session
        n = s.neg
        c = s.client
        counters = {f"{k} {s.dir_label(snd)}": n for (k, snd), n in entry.counters.items()}
        names = registry.CIPHER_SUITES, registry.SUPPORTED_GROUPS, registry.SRTP_PROFILES
        return SessionSummary(
            now,
            s.sid,
            self.state(entry),
            None if c is None else s.endpoints[c],
            None if c is None else s.endpoints[1 - c],
            None if c is None else s.labels[c],
            None if c is None else s.labels[1 - c],
            n.version_name(),
            n.offered_version_names(),
            None if n.cipher_suite is None else registry.name(names[0], n.cipher_suite),
            None if n.group is None else registry.name(names[1], n.group),
            tuple(registry.signature_scheme_name(x) for x in n.signature_schemes),
            None if n.srtp_profile is None else registry.name(names[2], n.srtp_profile),
            None if n.server_ems is None else (n.client_ems and n.server_ems),
            None if n.server_etm is None else (n.client_etm and n.server_etm),
            s.cookie_exchange,
            n.resumption,
            dict(n.fingerprints),
            counters,
            s.note(),
            None if n.client_hello is None else self.stacks.guess(n.client_hello,
                                                                  _subject(n, "client")),
            None if n.server_hello is None else self.stacks.guess(n.server_hello,
                                                                  _subject(n, "server")),
            tuple(x.sid for x in s.legs()),
        )


def _subject(n: Negotiation, role: str) -> str | None:
    """The subject of ``role``'s own certificate, once its Certificate was decoded."""
    cert = n.certificates.get(role)
    entry = cert.end_entity if cert is not None else None
    return entry.summary.subject if entry is not None and entry.summary is not None else None
