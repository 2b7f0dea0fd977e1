"""Text rendering of events as a ladder per session, like the diagram in the seed thread:

    Client                                     Server
    ClientHello ------------>
                <------------ ServerHello, Certificate, ..., ServerHelloDone
    [Finished (encrypted)] -->
                <------------ Alert (fatal, decrypt_error)

Sans-IO: events in, lines out (used by ``dtlsproxy analyze --format text``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from proxy.analyze.identity import stack_lines
from proxy.compare.changes import ChangeTracker, SessionShape
from proxy.events import (
    AlertSeen,
    Event,
    FaultApplied,
    FlightRetransmitted,
    Malformed,
    MediaStats,
    MessageSeen,
    Notice,
    SessionOpened,
    SessionSummary,
    StunSeen,
    Verdict,
)

ARROW = "-" * 12


@dataclass
class _Row:
    ts: float
    client_side: bool | None
    """True: sent by the client (left), False: by the server (right), None: a note."""
    flight: int | None
    text: str


@dataclass
class _SessionView:
    opened: SessionOpened | None = None
    summary: SessionSummary | None = None
    rows: list[_Row] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    stun: int = 0
    rtp: int = 0
    rtcp: int = 0
    malformed: int = 0
    first_ts: float | None = None


def message_label(ev: MessageSeen) -> str:
    """``ClientHello``, ``[Finished (encrypted)]``, ``Certificate (copy 2)``."""
    hidden = ev.encrypted and not ev.decrypted and ev.type != "ChangeCipherSpec"
    name = f"[{ev.type} (encrypted)]" if hidden else ev.type
    if ev.copy > 1:
        name += f" (copy {ev.copy})"
    if ev.error:
        name += " (malformed)"
    return name


def alert_label(ev: AlertSeen) -> str:
    """``Alert (fatal, decrypt_error)`` or ``[Alert (encrypted, epoch 1)]``."""
    if ev.encrypted and ev.description_name is None:
        return f"[Alert (encrypted, epoch {ev.epoch})]"
    if ev.encrypted:
        return f"Alert ({ev.level_name}, {ev.description_name}) [decrypted, epoch {ev.epoch}]"
    return f"Alert ({ev.level_name}, {ev.description_name})"


@dataclass(frozen=True)
class SessionLadder:
    """One session's ladder, and what the overview of a capture says of it."""

    sid: str
    lines: list[str]
    state: str | None
    """The session's last known state (``established``, ``failed``...)."""
    findings: tuple[str, ...]
    """Each verdict, as ``code: reason``."""
    diagram: int = 0
    """Where in ``lines`` the diagram begins (after the facts, verdicts and checks)."""
    note: str | None = None
    """The session summary's note (why an ``unconfirmed`` session is not established)."""
    shape: SessionShape | None = None
    """Outcome and handshake shape, for "what changed" (:mod:`proxy.analyze.changes`)."""
    legs: tuple[str, ...] = ()
    """The other sessions that are the same handshake seen at another point."""


OVERVIEW_WIDTH = 150
"""Overview lines are cut to this width (the ladder below has the whole reason)."""

OVERVIEW_SESSIONS = 20
"""Sessions the overview describes a line each; the others are listed by id."""

_STATES = ("established", "unconfirmed", "alert", "failed", "stalled", "handshaking", "idle")


def render_ladder(events: Iterable[Event], *, verbose: bool = False) -> list[str]:
    """Human-readable ladders, one block per session with DTLS or STUN, after an
    :func:`overview` when there are several."""
    ladders = render_blocks(events, verbose=verbose)
    return overview(ladders) + [line for ladder in ladders for line in ladder.lines]


def overview(ladders: Sequence[SessionLadder]) -> list[str]:
    """For two sessions or more, the lines above their ladders: how many sessions ended
    in which state, and a line for each session that did not establish or has a finding
    (with ``--session`` the ladder of one can be shown alone)."""
    if len(ladders) < 2:
        return []
    counts = Counter(ladder.state or "unknown" for ladder in ladders)
    states = [s for s in _STATES if s in counts] + sorted(set(counts) - set(_STATES))
    trouble = [ladder for ladder in ladders if ladder.state != "established" or ladder.findings]
    pairs = _leg_lines(ladders)
    if not trouble:
        return [f"Overview: {len(ladders)} sessions, all established, no findings", *pairs,
                ""]
    out = [f"Overview: {len(ladders)} sessions: "
           + ", ".join(f"{counts[s]} {s}" for s in states), *pairs]
    width = max(len(ladder.sid) for ladder in trouble)
    rest = trouble[OVERVIEW_SESSIONS:]
    for ladder in trouble[:OVERVIEW_SESSIONS]:
        head = f"  {ladder.sid:<{width}}  {ladder.state or 'unknown':<11}  "
        quiet = "no finding" + (f"; {ladder.note}" if ladder.note else "")
        for finding in ladder.findings or (quiet,):
            line = head + finding
            if len(line) > OVERVIEW_WIDTH:
                line = line[:OVERVIEW_WIDTH - 3] + "..."
            out.append(line)
            head = " " * len(head)
    if rest:
        line = f"  ... and {len(rest)} more: " + ", ".join(ladder.sid for ladder in rest)
        out.append(line if len(line) <= OVERVIEW_WIDTH else line[:OVERVIEW_WIDTH - 3] + "...")
    out.append("")
    return out


def _leg_lines(ladders: Sequence[SessionLadder]) -> list[str]:
    """A line per handshake seen at several points: its sessions side by side."""
    out: list[str] = []
    done: set[str] = set()
    for ladder in ladders:
        if not ladder.legs or ladder.sid in done:
            continue
        group = [ladder.sid, *ladder.legs]
        done.update(group)
        out.append(f"  legs {' = '.join(group)}: one handshake seen at {len(group)} points, "
                   "its messages compared")
    if len(out) > OVERVIEW_SESSIONS:
        out = [*out[:OVERVIEW_SESSIONS], f"  ... and {len(out) - OVERVIEW_SESSIONS} more "
               "handshakes seen at several points"]
    return out


def render_blocks(events: Iterable[Event], *, verbose: bool = False) -> list[SessionLadder]:
    """The ladder of each session, in order of first event."""
    views: dict[str, _SessionView] = {}
    order: list[str] = []
    changes = ChangeTracker()
    for ev in events:
        changes.feed_one(ev)
        if not ev.session:
            continue
        v = views.get(ev.session)
        if v is None:
            v = views[ev.session] = _SessionView()
            order.append(ev.session)
        if v.first_ts is None:
            v.first_ts = ev.ts
        _absorb(v, ev, verbose)
    out: list[SessionLadder] = []
    shapes = changes.shapes
    for sid in order:
        v = views[sid]
        state = None if v.summary is None else v.summary.state
        note = None if v.summary is None else v.summary.note
        findings = tuple(f"{verdict.code}: {verdict.reason}" for verdict in v.verdicts)
        lines = _render_session(sid, v)
        diagram = _diagram(v)
        legs = () if v.summary is None else v.summary.legs
        out.append(SessionLadder(sid, lines + diagram, state, findings, len(lines), note,
                                 shapes.get(sid), legs))
    return out


def _absorb(v: _SessionView, ev: Event, verbose: bool) -> None:
    if isinstance(ev, SessionOpened):
        v.opened = ev
    elif isinstance(ev, SessionSummary):
        v.summary = ev
    elif isinstance(ev, Verdict):
        v.verdicts.append(ev)
    elif isinstance(ev, MessageSeen):
        side = _side(ev.dir)
        if ev.copy > 1 and not verbose and v.rows and v.rows[-1].text.startswith("(copy"):
            return
        text = message_label(ev)
        if v.rows and ev.copy == 1 and side is not None:
            last = v.rows[-1]
            if last.client_side == side and last.flight == ev.flight and ev.flight is not None:
                _append(last, text)
                return
        v.rows.append(_Row(ev.ts, side, ev.flight, text))
    elif isinstance(ev, FlightRetransmitted):
        v.rows.append(
            _Row(ev.ts, _side(ev.dir), ev.flight, f"(copy {ev.copy} of flight {ev.flight})")
        )
    elif isinstance(ev, AlertSeen):
        v.rows.append(_Row(ev.ts, _side(ev.dir), ev.flight, alert_label(ev)))
    elif isinstance(ev, FaultApplied):
        v.rows.append(_Row(ev.ts, None, None, f"!! injected fault: {ev.rule}: {ev.detail}"))
    elif isinstance(ev, Malformed):
        v.malformed += 1
        v.rows.append(
            _Row(ev.ts, None, None, f"?? malformed {ev.layer} in frame {ev.frame} "
                 f"at offset {ev.offset}: {ev.reason}")
        )
    elif isinstance(ev, StunSeen):
        v.stun += 1
    elif isinstance(ev, MediaStats):
        v.rtp += ev.rtp_packets
        v.rtcp += ev.rtcp_packets
    elif isinstance(ev, Notice):
        v.rows.append(_Row(ev.ts, None, None, f"** {ev.level}: {ev.message}"))


def _append(row: _Row, text: str) -> None:
    """Add a message to a flight row; repeats of the last one become ``x2``, ``x3``..."""
    head, sep, count = row.text.rpartition(" x")
    last = row.text.rsplit(", ", 1)[-1]
    if sep and count.isdigit() and head.rsplit(", ", 1)[-1] == text:
        row.text = f"{head} x{int(count) + 1}"
    elif last == text:
        row.text += " x2"
    else:
        row.text += f", {text}"


def _side(d: str) -> bool | None:
    if d.startswith("client->"):
        return True
    if d.startswith("server->"):
        return False
    return None


def _render_session(sid: str, v: _SessionView) -> list[str]:
    s = v.summary
    out: list[str] = []
    title = f"Session {sid}"
    if s is not None and s.client:
        title += f": client {s.client_label or s.client}  <->  server {s.server_label or s.server}"
    elif v.opened is not None:
        title += f": {v.opened.labels[0]}  <->  {v.opened.labels[1]}"
    out.append(title)
    if s is not None:
        facts = [f"state {s.state}"]
        for label, value in (
            ("version", s.version),
            ("suite", s.cipher_suite),
            ("group", s.group),
            ("SRTP", s.srtp_profile),
        ):
            if value:
                facts.append(f"{label} {value}")
        if s.extended_master_secret is not None:
            facts.append(f"EMS {'yes' if s.extended_master_secret else 'no'}")
        if s.cookie:
            facts.append("cookie exchange")
        if s.resumption:
            facts.append("resumed")
        out.append("  " + ", ".join(facts))
        if s.note:
            out.append(f"  {s.note}")
        if s.legs:
            out.append(f"  the same handshake as {', '.join(s.legs)}, seen at another point "
                       "(another leg): every message compared")
        for role, fp in sorted(s.fingerprints.items()):
            out.append(f"  {role} certificate sha-256 {fp}")
        out += stack_lines(s)
    for verdict in v.verdicts:
        out.append(f"  VERDICT: {verdict.reason}")
        if verdict.culprit is not None:
            c = verdict.culprit
            frames = ", ".join(str(f) for f in c.frames)
            out.append(
                f"    culprit: {c.dir} flight {c.flight} {c.type}"
                + (f" (message_seq {c.message_seq})" if c.message_seq is not None else "")
                + (f", frames {frames}" if frames else "")
            )
        for check in verdict.evidence:
            mark = {True: "ok  ", False: "FAIL", None: "n/a "}[check.passed]
            out.append(f"    [{mark}] {check.name}: {check.detail}")
        if verdict.to_be_certain:
            out.append(f"    to be certain: {verdict.to_be_certain}")
    counters = []
    if v.stun:
        counters.append(f"{v.stun} STUN")
    if v.rtp or v.rtcp:
        counters.append(f"{v.rtp} RTP, {v.rtcp} RTCP")
    if counters:
        out.append("  media/ICE: " + ", ".join(counters))
    return out


def _diagram(v: _SessionView) -> list[str]:
    """The ladder itself: a header line, a line per flight, alert and note."""
    s = v.summary
    out: list[str] = []
    left = s.client_label if s is not None and s.client_label else "Client"
    right = s.server_label if s is not None and s.server_label else "Server"
    out.append("")
    out.append(f"  {'time':>9}  {'flight':<6}  {left:<40}{right}")
    t0 = v.first_ts or 0.0
    for row in v.rows:
        flight = "" if row.flight is None else str(row.flight)
        t = f"+{row.ts - t0:.3f}s"
        if row.client_side is True:
            body = f"{row.text} {ARROW}>"
        elif row.client_side is False:
            body = f"{'':<14}<{ARROW} {row.text}"
        else:
            body = row.text
        out.append(f"  {t:>9}  {flight:<6}  {body}")
    out.append("")
    return out
