"""One session as a report tells it: its events gathered, the rows of its ladder (as the
TUI draws them: a row per message, retransmissions collapsed with counts, the culprit
marked), its headline sentence, and the field tree of each message. Pure: events in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from proxy.compare.changes import SessionShape
from proxy.compare.diff import SessionRecord
from proxy.decode.dtls.fields import FieldNode, field_tree, header_node
from proxy.decode.dtls.x509 import CertificateSummary
from proxy.events import (
    AlertSeen,
    CheckReport,
    Event,
    FaultApplied,
    FlightRetransmitted,
    Malformed,
    MediaStats,
    MessageSeen,
    Notice,
    PeerViews,
    SessionClosed,
    SessionOpened,
    SessionSummary,
    StackGuess,
    StunSeen,
    Verdict,
    iso_time,
)
from proxy.report.culprit import CulpritChoice, alert_phrase, find_culprit, is_failure_alert

HEADER_LEN = 12
"""The DTLS handshake header in front of every ``MessageSeen.raw``."""

TROUBLE_STATES = frozenset({"failed", "stalled", "handshaking", "alert", "unconfirmed"})
"""States a report counts as trouble (``idle``: ICE only, no DTLS tried; ``unconfirmed``:
the last flight was not seen accepted), as ``analyze --check`` does."""

MAX_ROWS = 400
"""Ladder rows drawn per session; the rest are counted in a last row."""

_LADDER = (MessageSeen, AlertSeen, Verdict, FaultApplied, Notice, Malformed,
           FlightRetransmitted, SessionClosed)


@dataclass(slots=True)
class Traffic:
    """STUN and media between two ladder rows, counted (never one row per packet)."""

    first_ts: float
    last_ts: float
    stun: int = 0
    stun_errors: int = 0
    rtp_packets: int = 0
    rtp_bytes: int = 0
    rtcp_packets: int = 0

    def add(self, ev: Event) -> None:
        """Count one StunSeen or MediaStats."""
        self.last_ts = ev.ts
        if isinstance(ev, StunSeen):
            self.stun += 1
            if ev.cls == "error":
                self.stun_errors += 1
        elif isinstance(ev, MediaStats):
            self.rtp_packets += ev.rtp_packets
            self.rtp_bytes += ev.rtp_bytes
            self.rtcp_packets += ev.rtcp_packets


@dataclass
class SessionData:
    """Everything of one session a report shows, in arrival order."""

    sid: str
    events: list[Event] = field(default_factory=list)
    opened: SessionOpened | None = None
    summary: SessionSummary | None = None
    items: list[Event | Traffic] = field(default_factory=list)
    messages: list[MessageSeen] = field(default_factory=list)
    """First transmissions (``copy == 1``)."""
    verdicts: list[Verdict] = field(default_factory=list)
    alerts: list[AlertSeen] = field(default_factory=list)
    """Failure alerts only (:func:`~proxy.report.culprit.is_failure_alert`)."""
    checks: CheckReport | None = None
    peer_views: dict[str, PeerViews] = field(default_factory=dict)
    """A peer's own view beside the proxy's (Janus, a browser's dump): the latest per
    source."""
    first_ts: float = 0.0
    last_ts: float = 0.0
    stun: int = 0
    rtp: int = 0
    rtcp: int = 0

    @property
    def client_label(self) -> str:
        """The client side's name: its configured label, else its address, else ``client``."""
        s = self.summary
        if s is not None and (s.client_label or s.client):
            return str(s.client_label or s.client)
        return self.opened.labels[0] if self.opened is not None else "client"

    @property
    def server_label(self) -> str:
        """The server side's name."""
        s = self.summary
        if s is not None and (s.server_label or s.server):
            return str(s.server_label or s.server)
        return self.opened.labels[1] if self.opened is not None else "server"

    @property
    def state(self) -> str:
        """The summary's state, or one derived from what was seen (as the TUI's badge)."""
        s = self.summary
        if s is not None and s.state not in ("", "idle"):
            return "alert" if self.alerts and s.state == "handshaking" else s.state
        if self.alerts:
            return "alert"
        if self.verdicts:
            return "failed"
        return "handshaking" if self.messages else "idle"

    @property
    def troubled(self) -> bool:
        """Did not establish (and tried), or has a finding."""
        return self.state in TROUBLE_STATES or bool(self.verdicts)

    def is_c2s(self, direction: str) -> bool:
        """True if ``direction`` goes from the client (left lane) to the server."""
        src = direction.split("->", 1)[0].strip()
        if src in ("client", "server"):
            return src == "client"
        s = self.summary
        if s is not None:
            if src in (s.client_label, s.client):
                return True
            if src in (s.server_label, s.server):
                return False
        if self.opened is not None:
            return src in (self.opened.labels[0], self.opened.endpoints[0])
        return True

    def culprit(self) -> CulpritChoice | None:
        """The blamed message (an index into :attr:`messages`), as the TUI highlights it."""
        return find_culprit(self.messages, self.verdicts[-1] if self.verdicts else None,
                            self.alerts[0] if self.alerts else None, self.is_c2s)


def gather(events: Iterable[Event]) -> list[SessionData]:
    """The sessions of ``events`` (those with DTLS, STUN or a finding), in order of first
    event."""
    out: dict[str, SessionData] = {}
    for ev in events:
        if not ev.session:
            continue
        sd = out.get(ev.session)
        if sd is None:
            sd = out[ev.session] = SessionData(ev.session, first_ts=ev.ts, last_ts=ev.ts)
        _absorb(sd, ev)
    return list(out.values())


def _absorb(sd: SessionData, ev: Event) -> None:
    sd.events.append(ev)
    sd.first_ts = min(sd.first_ts, ev.ts)
    sd.last_ts = max(sd.last_ts, ev.ts)
    if isinstance(ev, SessionOpened):
        sd.opened = ev
    elif isinstance(ev, SessionSummary):
        sd.summary = ev
    elif isinstance(ev, CheckReport):
        sd.checks = ev
    elif isinstance(ev, PeerViews):
        if ev.source in sd.peer_views or len(sd.peer_views) < 8:
            sd.peer_views[ev.source] = ev
    elif isinstance(ev, StunSeen | MediaStats):
        last = sd.items[-1] if sd.items else None
        if not isinstance(last, Traffic):
            last = Traffic(ev.ts, ev.ts)
            sd.items.append(last)
        last.add(ev)
        if isinstance(ev, StunSeen):
            sd.stun += 1
        else:
            sd.rtp += ev.rtp_packets
            sd.rtcp += ev.rtcp_packets
    elif isinstance(ev, _LADDER):
        sd.items.append(ev)
        if isinstance(ev, MessageSeen) and ev.copy == 1:
            sd.messages.append(ev)
        elif isinstance(ev, AlertSeen) and is_failure_alert(
                ev, None if sd.summary is None else sd.summary.state):
            sd.alerts.append(ev)
        elif isinstance(ev, Verdict):
            sd.verdicts.append(ev)


# ------------------------------------------------------------------ ladder rows


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the ladder: an arrow between the lanes, or a note across them."""

    kind: str
    """message, copies, alert, verdict, fault, notice, malformed, closed, traffic, more."""
    ts: float
    c2s: bool | None
    """True client to server, False back, None a note across both lanes."""
    label: str
    anchor: str
    """Id of the row's detail in the page."""
    flight: int | None = None
    """Shown in the gutter on the first row of a flight."""
    info: str = ""
    """Frames, and what is wrong with the message."""
    encrypted: bool = False
    culprit: bool = False
    event: Event | None = None
    copies: tuple[Event, ...] = ()
    """For a ``copies`` row: the retransmitted copies (and faults) it stands for."""


def message_name(m: MessageSeen) -> str:
    """``ClientHello`` or ``[Finished (encrypted)]`` (as the TUI names it): a message
    decrypted with the key log is named plainly (its row stays marked as encrypted)."""
    if m.encrypted and not m.decrypted and not m.type.startswith("[") \
            and m.type != "ChangeCipherSpec":
        return f"[{m.type} (encrypted)]"
    return m.type


def frames_text(frames: Sequence[int]) -> str:
    """``#3,4`` or ``#3…9``."""
    if not frames:
        return ""
    if len(frames) > 4:
        return f"#{frames[0]}…{frames[-1]}"
    return "#" + ",".join(str(f) for f in frames)


def human_count(n: int) -> str:
    """``950``, ``12k``, ``3M``."""
    for unit in ("", "k", "M", "G"):
        if n < 1000:
            return f"{n}{unit}"
        n //= 1000
    return f"{n}T"


def build_rows(sd: SessionData) -> list[Row]:
    """The rows of the session's ladder, in arrival order (as ``ui.ladder.build_rows``:
    a contiguous run of retransmitted copies is one ``copies`` row with counts)."""
    choice = sd.culprit()
    culprit = sd.messages[choice.index] if choice is not None else None
    rows: list[Row] = []
    group: list[Event] = []
    last_flight: tuple[bool, int | None] | None = None

    def anchor() -> str:
        return f"{sd.sid}-r{len(rows) + 1}"

    def flush() -> None:
        if not group:
            return
        worst: dict[tuple[str, int], int] = {}
        for ev in group:
            if isinstance(ev, MessageSeen | FlightRetransmitted):
                f = ev.flight if ev.flight is not None else -1
                role = "client" if sd.is_c2s(ev.dir) else "server"
                worst[(role, f)] = max(worst.get((role, f), 1), ev.copy)
        parts = [f"{role} flight {f if f >= 0 else '?'} ×{n}" for (role, f), n in worst.items()]
        msgs = sum(isinstance(ev, MessageSeen) for ev in group)
        faults = sum(isinstance(ev, FaultApplied) for ev in group)
        info = f"{msgs} msgs over {group[-1].ts - group[0].ts:.1f}s"
        if faults:
            info = f"⚡ {faults} faults · {info}"
        rows.append(Row("copies", group[0].ts, None, "↻ resent: " + " · ".join(parts),
                        anchor(), info=info, copies=tuple(group)))
        group.clear()

    for item in sd.items:
        if (isinstance(item, MessageSeen) and item.copy > 1) or isinstance(
                item, FlightRetransmitted) or (isinstance(item, FaultApplied) and group):
            group.append(item)
            continue
        flush()
        if isinstance(item, Traffic):
            rows.append(_traffic_row(item, anchor()))
        elif isinstance(item, MessageSeen):
            c2s = sd.is_c2s(item.dir)
            shown = item.flight if (c2s, item.flight) != last_flight else None
            last_flight = (c2s, item.flight)
            info = frames_text(item.frames)
            if item.differs:
                info += " differs!"
            if item.error:
                info += f" {item.error}"
            rows.append(Row("message", item.ts, c2s, message_name(item), anchor(), shown,
                            info.strip(), item.encrypted, item is culprit, item))
        elif isinstance(item, AlertSeen):
            last_flight = None
            rows.append(Row("alert", item.ts, sd.is_c2s(item.dir),
                            f"✖ Alert: {alert_phrase(item)}", anchor(),
                            info=frames_text(item.frames), encrypted=item.encrypted,
                            event=item))
        elif isinstance(item, Verdict):
            rows.append(Row("verdict", item.ts, None, f"⚑ verdict: {item.code}", anchor(),
                            info=item.reason, event=item))
        elif isinstance(item, FaultApplied):
            rows.append(Row("fault", item.ts, sd.is_c2s(item.dir) if item.dir else True,
                            f"⚡ injected: {item.action}", anchor(),
                            info=f"{item.rule}: {item.detail} #{item.frame}", event=item))
        elif isinstance(item, Notice):
            rows.append(Row("notice", item.ts, None, f"{item.level}: {item.code}", anchor(),
                            info=item.message, event=item))
        elif isinstance(item, Malformed):
            rows.append(Row("malformed", item.ts, sd.is_c2s(item.dir),
                            f"malformed {item.layer}", anchor(),
                            info=f"#{item.frame}+{item.offset}: {item.reason}", event=item))
        elif isinstance(item, SessionClosed):
            rows.append(Row("closed", item.ts, None, f"session closed: {item.reason}",
                            anchor(), event=item))
    flush()
    if len(rows) > MAX_ROWS:
        keep = rows[:MAX_ROWS - 1]
        if not any(r.culprit for r in keep):
            keep = [*keep[:-1], *(r for r in rows if r.culprit)]
        rows = [*keep, Row("more", rows[-1].ts, None,
                           f"… {len(rows) - len(keep)} more rows not drawn", f"{sd.sid}-more")]
    return rows


def traffic_label(t: Traffic) -> str:
    """``· STUN 4 · RTP 1k pkts 120kB · RTCP 12 ·`` (the TUI's traffic row too)."""
    parts = []
    if t.stun:
        parts.append(f"STUN {t.stun}" + (f" ({t.stun_errors} errors)" if t.stun_errors else ""))
    if t.rtp_packets:
        parts.append(f"RTP {human_count(t.rtp_packets)} pkts {human_count(t.rtp_bytes)}B")
    if t.rtcp_packets:
        parts.append(f"RTCP {human_count(t.rtcp_packets)}")
    return "· " + " · ".join(parts) + " ·"


def _traffic_row(t: Traffic, anchor: str) -> Row:
    span = t.last_ts - t.first_ts
    return Row("traffic", t.first_ts, None, traffic_label(t), anchor,
               info=f"over {span:.1f}s" if span >= 0.1 else "")


# ------------------------------------------------------------------ sentences


def side_name(sd: SessionData, role: str) -> str:
    """``server (janus)``, or just ``server`` when no label differs from the role."""
    label = sd.client_label if role == "client" else sd.server_label
    return role if not label or label == role else f"{role} ({label})"


def alert_sentence(sd: SessionData) -> str | None:
    """``server (janus) sent fatal decrypt_error in answer to client flight 5``."""
    if not sd.alerts:
        return None
    alert = sd.alerts[0]
    c2s = sd.is_c2s(alert.dir)
    text = f"{side_name(sd, 'client' if c2s else 'server')} sent {alert_phrase(alert)}"
    if alert.answers_flight is not None:
        text += f" in answer to {'server' if c2s else 'client'} flight {alert.answers_flight}"
    return text


def headline(sd: SessionData) -> str:
    """The one sentence a report opens a session with."""
    if sd.verdicts:
        return sd.verdicts[-1].reason
    s = sd.summary
    state = sd.state
    if state == "established":
        what = ", ".join(x for x in (s.version, s.cipher_suite, s.srtp_profile) if x) if s else ""
        text = "handshake established" + (f": {what}" if what else "")
        if sd.checks is not None:
            checks = sd.checks.evidence
            passed = sum(c.passed is True for c in checks)
            unknown = sum(c.passed is None for c in checks)
            text += f"; {passed} of {len(checks)} checks passed"
            if unknown:
                text += f", {unknown} could not be run"
        return text
    alert = alert_sentence(sd)
    choice = sd.culprit()
    if alert is not None:
        if choice is not None:
            alert += f"; culprit: {sd.messages[choice.index].type} — {choice.reason}"
        return alert
    note = s.note if s is not None else None
    if state == "idle":
        return f"no DTLS handshake: ICE only ({sd.stun} STUN messages)" if sd.stun else \
            "no DTLS handshake seen"
    if state == "handshaking":
        last = sd.messages[-1] if sd.messages else None
        where = (f" (last: {side_name(sd, 'client' if sd.is_c2s(last.dir) else 'server')} "
                 f"flight {last.flight} {last.type})") if last is not None else ""
        return f"handshake not finished when the log ended{where}"
    return f"handshake {state}" + (f": {note}" if note else "")


def culprit_text(sd: SessionData) -> str | None:
    """``client->server flight 5 CertificateVerify (message_seq 4), frames 15``."""
    v = sd.verdicts[-1] if sd.verdicts else None
    if v is not None and v.culprit is not None:
        c = v.culprit
        text = f"{c.dir} flight {c.flight} {c.type}"
        if c.message_seq is not None:
            text += f" (message_seq {c.message_seq})"
        if c.frames:
            text += ", frames " + ", ".join(map(str, c.frames))
        return text
    choice = sd.culprit()
    if choice is None:
        return None
    m = sd.messages[choice.index]
    return (f"{m.dir} flight {m.flight} {m.type}, frames {', '.join(map(str, m.frames))} "
            f"({choice.reason})")


def evidence(sd: SessionData) -> tuple[str, tuple[Any, ...]]:
    """(where the checks come from, the checks): the latest verdict's, else the report."""
    if sd.verdicts:
        return f"verdict {sd.verdicts[-1].code}", sd.verdicts[-1].evidence
    if sd.checks is not None:
        return "checks of a handshake that did not fail", sd.checks.evidence
    return "", ()


# ------------------------------------------------------------------ summary facts


_SUMMARY_LABELS = {
    "state": "state", "client": "client", "server": "server", "client_label": "client label",
    "server_label": "server label", "version": "version", "offered_versions": "offered versions",
    "cipher_suite": "cipher suite", "group": "group", "signature_schemes": "signature schemes",
    "srtp_profile": "SRTP profile", "extended_master_secret": "extended master secret",
    "encrypt_then_mac": "encrypt-then-MAC", "cookie": "cookie exchange",
    "resumption": "resumed", "note": "note", "counters": "datagrams",
}
_NOT_FACTS = frozenset({"ts", "session", "fingerprints", "client_stack", "server_stack"})
"""Shown elsewhere: certificates, stack fingerprints."""


def summary_facts(s: SessionSummary) -> list[tuple[str, str]]:
    """(label, value) of every field of the summary that says something, in field order;
    fields added later (stack guesses, paired legs) are listed by their own names."""
    out: list[tuple[str, str]] = []
    for f in dataclasses.fields(s):
        if f.name in _NOT_FACTS:
            continue
        value = getattr(s, f.name)
        if value is None or value == "" or value == () or value == {}:
            continue
        out.append((_SUMMARY_LABELS.get(f.name, f.name.replace("_", " ")), fact_text(value)))
    return out


def fact_text(value: Any) -> str:
    """A summary value as one line."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {fact_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(fact_text(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return ", ".join(f"{f.name}: {fact_text(getattr(value, f.name))}"
                         for f in dataclasses.fields(value)
                         if getattr(value, f.name) not in (None, "", (), {}))
    return str(value)


def stacks(sd: SessionData) -> list[tuple[str, str]]:
    """Stack fingerprints where the events carry them: ``ja4``/``ja4s`` of the hellos,
    ``client_stack``/``server_stack`` of the summary."""
    out: list[tuple[str, str]] = []
    for m in sd.messages:
        for name in ("ja4", "ja4s"):
            value = getattr(m, name, None)
            if value:
                out.append((f"{name} ({m.type}, {m.dir})", fact_text(value)))
    if sd.summary is not None:
        for name in ("client_stack", "server_stack"):
            value = getattr(sd.summary, name, None)
            if value:
                out.append((name.replace("_", " "), stack_text(value)))
    return out


def stack_text(guess: object) -> str:
    """``Chromium (libwebrtc, BoringSSL) 123, confidence high (evidence: ...)``."""
    if not isinstance(guess, StackGuess):
        return fact_text(guess)
    text = guess.name + (f" {guess.version}" if guess.version else "")
    text += f", confidence {guess.confidence}"
    if guess.nearest:
        text += f", nearest {guess.nearest}"
    return text + (f" (evidence: {'; '.join(guess.evidence)})" if guess.evidence else "")


@dataclass(frozen=True, slots=True)
class CertificateView:
    """A certificate as the report shows it."""

    role: str
    """``client`` or ``server`` (who sent it)."""
    position: int
    """0: the sender's own; 1...: the chain above it."""
    summary: CertificateSummary | None
    fingerprint: str
    error: str | None = None


def certificates(sd: SessionData) -> list[CertificateView]:
    """The certificates each side sent (first transmissions), else the summary's
    fingerprints (when the Certificate was encrypted but the summary knows them)."""
    out: list[CertificateView] = []
    seen: set[tuple[str, int]] = set()
    for m in sd.messages:
        entries = getattr(m.body, "entries", None) if m.type == "Certificate" else None
        if not isinstance(entries, tuple):
            continue
        role = "client" if sd.is_c2s(m.dir) else "server"
        for i, entry in enumerate(entries):
            if (role, i) in seen:
                continue
            seen.add((role, i))
            summ = getattr(entry, "summary", None)
            fp = summ.fingerprint_sha256 if isinstance(summ, CertificateSummary) else ""
            out.append(CertificateView(role, i, summ if isinstance(summ, CertificateSummary)
                                       else None, fp, getattr(entry, "error", None)))
    if sd.summary is not None:
        for role, fp in sorted(sd.summary.fingerprints.items()):
            if (role, 0) not in seen:
                out.append(CertificateView(role, 0, None, fp))
    return sorted(out, key=lambda c: (c.role != "client", c.position))


# ------------------------------------------------------------------ details


@dataclass(frozen=True, slots=True)
class Detail:
    """What a row opens: a title, a field tree (spans index ``raw``), and the bytes."""

    title: str
    nodes: tuple[FieldNode, ...]
    raw: bytes = b""
    highlight: tuple[int, int] | None = None
    """Bytes highlighted when the detail opens (a malformed datagram's offset)."""


def row_detail(sd: SessionData, row: Row) -> Detail:
    """The detail of a ladder row."""
    ev = row.event
    when = f"{iso_time(row.ts)} (+{row.ts - sd.first_ts:.3f}s)"
    if isinstance(ev, MessageSeen):
        return Detail(f"{message_name(ev)} · {ev.dir}" + (
            f" · flight {ev.flight}" if ev.flight is not None else ""),
            message_nodes(ev, when), ev.raw)
    if row.kind == "copies":
        kids = tuple(
            FieldNode(f"+{c.ts - sd.first_ts:.3f}s", _copy_text(c), None) for c in row.copies)
        return Detail(row.label, (FieldNode("time", when, None), *kids))
    if isinstance(ev, Malformed):
        nodes = (FieldNode("time", when, None), *event_nodes(ev))
        span = (ev.offset, ev.offset + 1) if 0 <= ev.offset < len(ev.data) else None
        return Detail(row.label, nodes, ev.data, span)
    if ev is None:
        return Detail(row.label, (FieldNode("time", when, None),))
    return Detail(row.label, (FieldNode("time", when, None), *event_nodes(ev)))


def _copy_text(ev: Event) -> str:
    if isinstance(ev, MessageSeen):
        text = f"{message_name(ev)} (copy {ev.copy}) {ev.dir} {frames_text(ev.frames)}"
        return text + (" — bytes differ from the first copy!" if ev.differs else "")
    if isinstance(ev, FlightRetransmitted):
        return f"{ev.dir} flight {ev.flight} copy {ev.copy} {frames_text(ev.frames)}"
    if isinstance(ev, FaultApplied):
        return f"⚡ injected {ev.action}: {ev.rule}: {ev.detail} #{ev.frame}"
    return type(ev).__name__


def message_nodes(m: MessageSeen, when: str) -> tuple[FieldNode, ...]:
    """A message's field tree, spans indexing ``m.raw`` (header included)."""
    out = [FieldNode("seen", f"{when}; copy {m.copy}, epoch {m.epoch}, message_seq "
                     f"{m.message_seq}, {m.length} bytes, frames "
                     f"{', '.join(map(str, m.frames)) or '-'}", None)]
    if m.differs:
        out.append(FieldNode("differs", "this copy's bytes differ from the first", None))
    if m.error:
        out.append(FieldNode("error", m.error, None))
    if m.encrypted and m.decrypted:
        out.append(FieldNode("encrypted", f"epoch {m.epoch}: decrypted with the key log",
                             None))
    elif m.encrypted and not m.raw:
        out.append(FieldNode("encrypted", f"epoch {m.epoch}: give a key log (--keylog) to "
                             "decrypt", None))
    if len(m.raw) >= HEADER_LEN:
        out.append(header_node(m.raw, m.type))
    for name in ("ja4", "ja4s"):
        value = getattr(m, name, None)
        if value:
            out.append(FieldNode(name, str(value), None))
    body = m.body
    if body is not None and dataclasses.is_dataclass(body):
        try:
            kids = field_tree(body, base=HEADER_LEN)
        except Exception as exc:  # a renderer bug must not lose the report
            kids = (FieldNode("field tree failed", repr(exc), None),)
        end = len(m.raw) if m.raw else None
        out.append(FieldNode("body", type(body).__name__,
                             (HEADER_LEN, end) if end else None, kids))
    elif isinstance(body, Mapping):
        out.append(FieldNode("body", f"{m.length} bytes", None, _mapping_nodes(body)))
    return tuple(out)


def _mapping_nodes(value: Mapping[str, Any]) -> tuple[FieldNode, ...]:
    return tuple(FieldNode(str(k), fact_text(v), None) for k, v in value.items()
                 if k != "spans" and v not in (None, ""))


def event_nodes(ev: Event) -> tuple[FieldNode, ...]:
    """Every field of an event but its time and session (bytes as a preview)."""
    out: list[FieldNode] = []
    for f in dataclasses.fields(ev):  # type: ignore[arg-type]
        if f.name in ("ts", "session", "data", "raw", "body"):
            continue
        value = getattr(ev, f.name)
        if value is None or value == () or value == "" or (
                f.default is not dataclasses.MISSING and value == f.default):
            continue  # nothing to say (a field at its default says nothing either)
        if f.name == "evidence":
            out.append(FieldNode("evidence", f"{len(value)} checks (table below)", None))
            continue
        out.append(FieldNode(f.name, fact_text(value), None))
    return tuple(out)


# ------------------------------------------------------------------ rendered


@dataclass(frozen=True, slots=True)
class SessionBlock:
    """One session rendered in one format, and what an overview says of it (plain data:
    ``analyze --jobs`` sends these between processes)."""

    sid: str
    state: str
    headline: str
    troubled: bool
    first_ts: float
    last_ts: float
    text: str
    """The session's part of the document."""
    title: str = ""
    """``client (browser) ⇄ server (janus)``."""
    shape: SessionShape | None = None
    """Outcome and handshake shape, for "what changed, and since when"."""
    record: SessionRecord | None = None
    """The handshake as :mod:`proxy.compare.diff` compares it (with a session that worked)."""


DIFF_MARK = "<!--dtlsproxy:diff-->"
"""Where a session's text takes its comparison with a session that worked (filled by
:func:`proxy.report.document`, which sees every session)."""


def report_order(sessions: Sequence[SessionData]) -> list[SessionData]:
    """Sessions with trouble first (failed, stalled, with a finding), each group in order."""
    return [sd for sd in sessions if sd.troubled] + [sd for sd in sessions if not sd.troubled]
