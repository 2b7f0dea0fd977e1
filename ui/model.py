"""The TUI's bounded picture of the event stream: one :class:`SessionState` per session.

No textual here: :class:`Model` absorbs events (``absorb``) and remembers which
sessions changed since the last redraw (``take_dirty``). Every per-session store
is a ``deque`` capped by ``history``, and the number of sessions is capped by
``max_sessions`` (the oldest idle session is forgotten first), so a long call
with media flowing never grows memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from heapq import merge

from proxy.events import (
    AlertSeen,
    DatagramSeen,
    Event,
    FaultApplied,
    FlightRetransmitted,
    Malformed,
    MediaStats,
    MessageSeen,
    Notice,
    PeerViews,
    RecordSeen,
    SessionClosed,
    SessionOpened,
    SessionSummary,
    StunSeen,
    TurnAllocation,
    Verdict,
)
from proxy.report.culprit import is_failure_alert as failure_alert
from proxy.report.model import Traffic

LADDER_EVENTS = (
    MessageSeen,
    AlertSeen,
    Verdict,
    FaultApplied,
    Notice,
    Malformed,
    FlightRetransmitted,
    SessionClosed,
)
"""Events that become rows of the ladder (everything else is counted or kept for export)."""


MAX_ALERTS = 100
"""Alerts / verdicts remembered per session (the first ones and the latest)."""

MAX_ALLOCATIONS = 500
"""TURN allocations remembered (closed ones are forgotten first)."""


TrafficBlock = Traffic
"""STUN and media seen between two ladder rows, counted (``proxy.report.model.Traffic``:
the reports count them the same way)."""


LadderItem = Event | TrafficBlock
"""A ladder entry; ``id(item)`` is its row key (stable while the item is kept).

Items are stored bare, not in (seq, item) tuples: fewer GC-tracked objects per
event keeps the collector's full passes short on a busy relay."""


def source_of(direction: str) -> str:
    """The sender part of a direction label (``client`` in ``client->server``)."""
    return direction.split("->", 1)[0].strip()


@dataclass(slots=True)
class SessionState:
    """Everything the TUI keeps about one session (bounded by ``history``)."""

    sid: str
    history: int
    first_ts: float
    last_ts: float
    opened: SessionOpened | None = None
    summary: SessionSummary | None = None
    closed: SessionClosed | None = None
    alerts: list[AlertSeen] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    items: deque[LadderItem] = field(init=False)
    """Ladder rows: events and traffic blocks, in arrival order."""
    log: deque[Event] = field(init=False)
    """Ladder-worthy and summary events, for export."""
    bulk: deque[Event] = field(init=False)
    """Datagrams, records, STUN and media, for export (pcapng needs the datagrams)."""
    log_seq: deque[int] = field(init=False)
    """Arrival numbers of ``log`` (ints: not tracked by the GC)."""
    bulk_seq: deque[int] = field(init=False)
    """Arrival numbers of ``bulk``."""
    counts: dict[str, int] = field(default_factory=dict)
    """Own counters (``kind dir``) used when no SessionSummary carries counters."""
    messages: int = 0
    evicted: int = 0
    """Events pushed out of the capped stores."""
    version: int = 0
    """Bumped on every change (the ladder redraws when it moves)."""
    vias: dict[int, str] = field(default_factory=dict)
    """Frame -> how it was carried (TURN: ``t2 channel 0x4000``), for the detail pane."""
    peer_views: dict[str, PeerViews] = field(default_factory=dict)
    """A peer's own view beside the proxy's, latest per source (Janus handle, dump)."""

    def __post_init__(self) -> None:
        self.items = deque(maxlen=self.history)
        self.log = deque(maxlen=self.history)
        self.bulk = deque(maxlen=self.history)
        self.log_seq = deque(maxlen=self.history)
        self.bulk_seq = deque(maxlen=self.history)

    # ------------------------------------------------------------- derived

    @property
    def state(self) -> str:
        """Badge: the summary's state, or one derived from what was seen."""
        if self.summary is not None and self.summary.state not in ("", "idle"):
            if self.alerts and self.summary.state == "handshaking":
                return "alert"
            return self.summary.state
        if self.alerts:
            return "alert"
        if self.verdicts:
            return "failed"
        if self.messages:
            return "handshaking"
        return "idle"

    @property
    def client_label(self) -> str:
        """Display name of the client side (configured label, else ``client``)."""
        s = self.summary
        if s is not None and s.client_label:
            return s.client_label
        if self.opened is not None:
            return self.opened.labels[0]
        return "client"

    @property
    def server_label(self) -> str:
        """Display name of the server side."""
        s = self.summary
        if s is not None and s.server_label:
            return s.server_label
        if self.opened is not None:
            return self.opened.labels[1]
        return "server"

    def is_c2s(self, direction: str) -> bool:
        """True if ``direction`` goes from the client (left lane) to the server."""
        src = source_of(direction)
        if src == "client":
            return True
        if src == "server":
            return False
        s = self.summary
        if s is not None:
            if src in (s.client_label, s.client):
                return True
            if src in (s.server_label, s.server):
                return False
        if self.opened is not None:
            return src in (self.opened.labels[0], self.opened.endpoints[0])
        return True

    def role_name(self, direction: str) -> str:
        """``client`` / ``server`` for the sender of ``direction``."""
        return "client" if self.is_c2s(direction) else "server"

    def counters(self) -> dict[str, int]:
        """``kind dir`` -> datagrams: the summary's counters, else our own."""
        if self.summary is not None and self.summary.counters:
            return dict(self.summary.counters)
        return self.counts

    def export_events(self) -> list[Event]:
        """Every stored event of this session in arrival order (for JSONL/pcapng)."""
        both = merge(zip(self.log_seq, self.log, strict=True),
                     zip(self.bulk_seq, self.bulk, strict=True), key=lambda t: t[0])
        return [ev for _, ev in both]

    def datagrams(self) -> list[DatagramSeen]:
        """Stored datagrams (for pcapng export)."""
        return [ev for ev in self.bulk if isinstance(ev, DatagramSeen)]



def is_failure_alert(st: SessionState, ev: AlertSeen) -> bool:
    """An alert that ends or breaks the handshake (:func:`proxy.report.culprit.is_failure_alert`
    with the session's state as it arrived)."""
    return failure_alert(ev, None if st.summary is None else st.summary.state)


class Model:
    """All sessions, global notices and totals; absorbs events in batches."""

    def __init__(self, history: int = 5000, max_sessions: int = 2000) -> None:
        self.history = history
        self.max_sessions = max_sessions
        self.sessions: dict[str, SessionState] = {}
        self.allocations: dict[str, TurnAllocation] = {}
        """TURN allocation id -> its latest state."""
        self.notices: deque[Notice] = deque(maxlen=200)
        self.events = 0
        self.alerts = 0
        self.forgotten_sessions = 0
        self._seq = 0
        self.last_ts = 0.0
        self.first_ts: float | None = None
        self._dirty: set[str] = set()
        self._new_alerts: list[str] = []
        self._new_verdicts: list[str] = []

    # ------------------------------------------------------------- absorbing

    def session(self, sid: str, ts: float) -> SessionState:
        """The state for ``sid``, created on first sight."""
        st = self.sessions.get(sid)
        if st is None:
            if len(self.sessions) >= self.max_sessions:
                self._forget_one()
            st = SessionState(sid=sid, history=self.history, first_ts=ts, last_ts=ts)
            self.sessions[sid] = st
        return st

    def _forget_one(self) -> None:
        victim = next(
            (s for s in self.sessions.values() if s.closed is not None),
            next(iter(self.sessions.values())),
        )
        del self.sessions[victim.sid]
        self._dirty.discard(victim.sid)
        self.forgotten_sessions += 1

    def absorb(self, events: Iterable[Event]) -> None:
        """Take events into the model (order preserved)."""
        for ev in events:
            self._absorb_one(ev)

    def _absorb_one(self, ev: Event) -> None:
        self.events += 1
        self._seq += 1
        seq = self._seq
        ts = ev.ts
        if ts > self.last_ts:
            self.last_ts = ts
        if self.first_ts is None:
            self.first_ts = ts
        sid = ev.session
        if not sid:
            if isinstance(ev, Notice):
                self.notices.append(ev)
            elif isinstance(ev, TurnAllocation):
                self._allocation(ev)
            return
        st = self.session(sid, ts)
        if ts > st.last_ts:
            st.last_ts = ts
        st.version += 1
        self._dirty.add(sid)
        if isinstance(ev, DatagramSeen | RecordSeen):
            if len(st.bulk) == st.history:
                st.evicted += 1
            st.bulk.append(ev)
            st.bulk_seq.append(seq)
            if isinstance(ev, DatagramSeen):
                key = f"{ev.kind} {ev.dir}"
                st.counts[key] = st.counts.get(key, 0) + 1
                if ev.via:
                    vias = st.vias
                    if len(vias) >= st.history:
                        del vias[next(iter(vias))]
                    vias[ev.frame] = ev.via
            return
        if isinstance(ev, StunSeen | MediaStats):
            if len(st.bulk) == st.history:
                st.evicted += 1
            st.bulk.append(ev)
            st.bulk_seq.append(seq)
            last = st.items[-1] if st.items else None
            if isinstance(last, TrafficBlock):
                last.add(ev)
            else:
                block = TrafficBlock(first_ts=ts, last_ts=ts)
                block.add(ev)
                st.items.append(block)
            if isinstance(ev, MediaStats):
                key = f"rtp {ev.dir}"
                st.counts[key] = st.counts.get(key, 0) + ev.rtp_packets
            return
        if len(st.log) == st.history:
            st.evicted += 1
        st.log.append(ev)
        st.log_seq.append(seq)
        if isinstance(ev, SessionOpened):
            st.opened = ev
            st.first_ts = min(st.first_ts, ts)
            return
        if isinstance(ev, SessionSummary):
            st.summary = ev
            return
        if isinstance(ev, SessionClosed):
            st.closed = ev
        elif isinstance(ev, MessageSeen):
            st.messages += 1
        elif isinstance(ev, AlertSeen):
            if not is_failure_alert(st, ev):
                pass  # close_notify, warnings, encrypted alerts after establishment: a row only
            elif len(st.alerts) < MAX_ALERTS:
                st.alerts.append(ev)
            else:
                st.alerts[-1] = ev  # keep the first ones and the latest
            if is_failure_alert(st, ev):
                self.alerts += 1
                self._new_alerts.append(sid)
        elif isinstance(ev, PeerViews):
            if ev.source in st.peer_views or len(st.peer_views) < MAX_ALERTS:
                st.peer_views[ev.source] = ev
        elif isinstance(ev, Verdict):
            if len(st.verdicts) < MAX_ALERTS:
                st.verdicts.append(ev)
            else:
                st.verdicts[-1] = ev
            self._new_verdicts.append(sid)
        if isinstance(ev, LADDER_EVENTS):
            st.items.append(ev)

    def _allocation(self, ev: TurnAllocation) -> None:
        allocs = self.allocations
        if ev.allocation not in allocs and len(allocs) >= MAX_ALLOCATIONS:
            victim = next((k for k, a in allocs.items() if a.state == "closed"),
                          next(iter(allocs)))
            del allocs[victim]
        allocs[ev.allocation] = ev

    # ------------------------------------------------------------- for redraws

    def take_dirty(self) -> set[str]:
        """Sessions changed since the last call."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    def take_new_alerts(self) -> tuple[list[str], list[str]]:
        """Sessions that got an alert / a verdict since the last call (in order)."""
        a, v = self._new_alerts, self._new_verdicts
        self._new_alerts, self._new_verdicts = [], []
        return a, v

    def latest_alerted(self) -> SessionState | None:
        """The session with the most recent alert, if any."""
        best: SessionState | None = None
        for st in self.sessions.values():
            if st.alerts and (best is None or st.alerts[-1].ts >= best.alerts[-1].ts):
                best = st
        return best

    def __iter__(self) -> Iterator[SessionState]:
        return iter(self.sessions.values())
