"""Many sessions: grouped by outcome and handshake shape, and what changed, since when.

:class:`ChangeTracker` takes events (offline from ``analyze``, live from ``run``) and keeps
one small :class:`SessionShape` per session; :meth:`ChangeTracker.findings` says, with
counts, only what the data shows:

* "since 14:02:11 every handshake between 10.0.0.5 and janus fails (38 of 38, fatal
  decrypt_error after flight 5); before it 40 of 40 succeeded; what changed at 14:02:11:
  the server certificate (A1:B2:..., issued 14:01:50)";
* "failures only from clients with stack X (12 of 12 failures, 0 of 30 successes)";
* "failures only when the ClientHello needs two datagrams (...)".

:meth:`ChangeTracker.groups` lists the sessions by outcome and shape.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from proxy.decode.dtls.messages import Certificate
from proxy.events import (
    AlertSeen,
    Event,
    MessageSeen,
    Notice,
    SessionOpened,
    SessionSummary,
    StackGuess,
)

_WANTED = frozenset({SessionOpened, SessionSummary, MessageSeen, AlertSeen})
OK_STATES = frozenset({"established", "unconfirmed"})
"""Did not fail: ``unconfirmed`` is a handshake whose last flight was not yet answered
with data (its state is kept apart in the groups)."""
BAD_STATES = frozenset({"failed", "alert", "stalled"})
MIN_RUN = 2
"""A change needs at least this many sessions on each side of it."""


def _clock(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%H:%M:%S")


def _stack(g: StackGuess | None) -> str | None:
    if g is None:
        return None
    return g.name + (f" {g.version}" if g.version else "")


@dataclass
class SessionShape:
    """What one session's handshake looked like, and how it ended."""

    sid: str
    first_ts: float
    client: str | None = None
    server: str | None = None
    state: str = "idle"
    failure: str | None = None
    """``fatal decrypt_error after flight 5``."""
    version: str | None = None
    suite: str | None = None
    group: str | None = None
    srtp: str | None = None
    client_stack: str | None = None
    server_stack: str | None = None
    ja4: str | None = None
    ja4s: str | None = None
    client_cert: str | None = None
    server_cert: str | None = None
    cert_issued: dict[str, float] = field(default_factory=dict)
    hello_datagrams: int | None = None

    @property
    def outcome(self) -> str | None:
        """``ok``, ``failed``, or None while it is still going."""
        if self.state in OK_STATES:
            return "ok"
        if self.state in BAD_STATES:
            return "failed"
        return None

    def host(self, endpoint: str | None) -> str | None:
        """The host part of ``host:port`` (a label stays as it is)."""
        if endpoint is None:
            return None
        host, sep, port = endpoint.rpartition(":")
        return host.strip("[]") if sep and port.isdigit() else endpoint


SHAPE_FEATURES: tuple[tuple[str, str], ...] = (
    ("server_cert", "the server certificate"),
    ("client_cert", "the client certificate"),
    ("server_stack", "the server's stack"),
    ("client_stack", "the client's stack"),
    ("ja4s", "the server's stack fingerprint (JA4S)"),
    ("ja4", "the client's stack fingerprint (JA4)"),
    ("version", "the DTLS version"),
    ("suite", "the cipher suite"),
    ("group", "the group"),
    ("srtp", "the SRTP profile"),
)
"""Attribute -> how a sentence names it; the order is the order of "what changed"."""


class ChangeTracker:
    """Follows sessions through their events; sans-IO."""

    def __init__(self, max_sessions: int = 100_000) -> None:
        self.shapes: dict[str, SessionShape] = {}
        self.max_sessions = max_sessions

    def feed(self, events: Iterable[Event]) -> None:
        """Take events (any order within a session's own order)."""
        for ev in events:
            self.feed_one(ev)

    def feed_one(self, ev: Event) -> bool:
        """Take one event; True when it may have changed a session's outcome."""
        if type(ev) not in _WANTED or not ev.session:
            return False
        sid = ev.session
        shape = self.shapes.get(sid)
        if shape is None:
            if len(self.shapes) >= self.max_sessions:
                self.shapes.pop(next(iter(self.shapes)))
            shape = self.shapes[sid] = SessionShape(sid, ev.ts)
        if isinstance(ev, SessionSummary):
            before = shape.outcome
            self._summary(shape, ev)
            return shape.outcome != before
        if isinstance(ev, MessageSeen):
            if ev.copy == 1:
                self._message(shape, ev)
        elif isinstance(ev, AlertSeen) and shape.failure is None and (
                ev.level == 2 or (ev.encrypted and ev.level is None)):
            what = ev.description_name or "encrypted alert"
            after = f" after flight {ev.answers_flight}" if ev.answers_flight else ""
            shape.failure = f"{'fatal ' if ev.level == 2 else ''}{what}{after}"
        return False

    @staticmethod
    def _summary(shape: SessionShape, ev: SessionSummary) -> None:
        shape.state = ev.state
        shape.client = ev.client_label or ev.client
        shape.server = ev.server_label or ev.server
        shape.version, shape.suite, shape.group = ev.version, ev.cipher_suite, ev.group
        shape.srtp = ev.srtp_profile
        shape.client_stack = _stack(ev.client_stack)
        shape.server_stack = _stack(ev.server_stack)
        shape.client_cert = ev.fingerprints.get("client")
        shape.server_cert = ev.fingerprints.get("server")
        if ev.state == "stalled" and shape.failure is None:
            shape.failure = "stalled"

    @staticmethod
    def _message(shape: SessionShape, ev: MessageSeen) -> None:
        if ev.type == "ClientHello":
            shape.first_ts = min(shape.first_ts, ev.ts)
            shape.ja4 = ev.ja4 or shape.ja4
            shape.hello_datagrams = max(shape.hello_datagrams or 0, len(ev.frames))
        elif ev.type == "ServerHello":
            shape.ja4s = ev.ja4s or shape.ja4s
        elif ev.type == "Certificate" and isinstance(ev.body, Certificate):
            entry = ev.body.end_entity
            if entry is not None and entry.summary is not None:
                role = "client" if ev.dir.startswith("client") else "server"
                shape.cert_issued[role] = entry.summary.not_before_ts

    # ------------------------------------------------------------- findings

    def done(self) -> list[SessionShape]:
        """Sessions with an outcome, in the order they started."""
        return sorted((s for s in self.shapes.values() if s.outcome is not None),
                      key=lambda s: (s.first_ts, s.sid))

    def findings(self) -> list[str]:
        """Sentences, each backed by counts: the change over time, then what only the
        failures have in common."""
        done = self.done()
        out = []
        change = self._since(done)
        if change:
            out.append(change)
        out += self._only_when(done)
        return out

    def _since(self, done: list[SessionShape]) -> str | None:
        if len(done) < 2 * MIN_RUN:
            return None
        last = done[-1].outcome
        k = len(done)
        while k > 0 and done[k - 1].outcome == last:
            k -= 1
        after, before = done[k:], done[:k]
        if len(after) < MIN_RUN or len(before) < MIN_RUN:
            return None
        good_before = sum(1 for s in before if s.outcome == "ok")
        if last == "failed" and good_before * 2 <= len(before):
            return None  # it did not work before either: no change to tell
        t = after[0].first_ts
        pair = _between(after)
        verb = "fails" if last == "failed" else "succeeds"
        why = _common_failure(after) if last == "failed" else None
        text = (f"since {_clock(t)} every handshake{pair} {verb} "
                f"({len(after)} of {len(after)}{', ' + why if why else ''}); before it "
                f"{good_before if last == 'failed' else len(before) - good_before} of "
                f"{len(before)} {'succeeded' if last == 'failed' else 'failed'}")
        changed = _what_changed(before, after)
        if changed:
            text += f"; what changed at {_clock(t)}: " + ", ".join(changed)
        return text

    def _only_when(self, done: list[SessionShape]) -> list[str]:
        bad = [s for s in done if s.outcome == "failed"]
        good = [s for s in done if s.outcome == "ok"]
        if len(bad) < MIN_RUN or not good:
            return []
        out = []
        tests: list[tuple[str, object]] = [
            ("client_stack", "from clients with stack {}"),
            ("server_stack", "with servers of stack {}"),
            ("client", "from client {}"),
            ("server", "with server {}"),
        ]
        for attr, phrase in tests:
            values = {getattr(s, attr) for s in bad}
            if len(values) != 1 or None in values:
                continue
            (v,) = values
            if any(getattr(s, attr) == v for s in good):
                continue
            out.append(f"failures only {str(phrase).format(v)} ({len(bad)} of {len(bad)} "
                       f"failures; none of the {len(good)} successes)")
        two = [s for s in bad if (s.hello_datagrams or 0) > 1]
        if len(two) == len(bad) and not any((s.hello_datagrams or 0) > 1 for s in good):
            out.append(f"failures only when the ClientHello needs two datagrams ({len(bad)} "
                       f"of {len(bad)} failures; none of the {len(good)} successes)")
        return out

    def groups(self) -> list[tuple[int, str]]:
        """(count, description) per outcome and handshake shape, largest first."""
        counts: dict[str, int] = {}
        for s in self.done():
            bits = [s.state + (f" ({s.failure})" if s.failure and s.outcome == "failed"
                               else "")]
            bits += [x for x in (
                s.client_stack and f"client {s.client_stack}",
                s.server_stack and f"server {s.server_stack}",
                s.version, s.suite, s.group, s.srtp,
                s.server_cert and f"server cert {s.server_cert[:11]}...",
                (s.hello_datagrams or 0) > 1 and f"ClientHello in {s.hello_datagrams} "
                                                  "datagrams",
            ) if x]
            key = ", ".join(str(b) for b in bits)
            counts[key] = counts.get(key, 0) + 1
        return sorted(((n, k) for k, n in counts.items()), key=lambda t: (-t[0], t[1]))


def _between(shapes: list[SessionShape]) -> str:
    clients = {s.host(s.client) for s in shapes}
    servers = {s.server for s in shapes}
    if len(clients) == 1 and len(servers) == 1 and None not in clients | servers:
        return f" between {next(iter(clients))} and {next(iter(servers))}"
    if len(servers) == 1 and None not in servers:
        return f" with {next(iter(servers))}"
    return ""


def _common_failure(shapes: list[SessionShape]) -> str | None:
    reasons = {s.failure for s in shapes}
    return next(iter(reasons)) if len(reasons) == 1 and None not in reasons else None


def _what_changed(before: list[SessionShape], after: list[SessionShape]) -> list[str]:
    """Features constant on each side of the change, with different values."""
    out = []
    for attr, name in SHAPE_FEATURES:
        va = {getattr(s, attr) for s in after}
        vb = {getattr(s, attr) for s in before[-len(after):] or before}
        if len(va) != 1 or len(vb) != 1 or va == vb or None in va:
            continue
        (new,) = va
        (old,) = vb
        if attr.endswith("_cert"):
            issued = after[0].cert_issued.get(attr.split("_")[0])
            when = f", issued {_clock(issued)}" if issued is not None else ""
            out.append(f"{name} ({str(new)[:23]}...{when}; before {str(old)[:11]}...)")
        else:
            out.append(f"{name} ({new}; before {old})")
    return out


class ChangeWatch:
    """Live: a :class:`ChangeTracker` fed with the relay's events, which adds a ``change``
    Notice whenever its findings change (a session ended and the sentences are new)."""

    def __init__(self) -> None:
        self.tracker = ChangeTracker()
        self.said: list[str] = []

    def watch(self, events: list[Event]) -> list[Event]:
        """``events``, plus a Notice per new finding after the last of them."""
        ended = False
        feed = self.tracker.feed_one
        for ev in events:
            if feed(ev):
                ended = True
        if not ended:
            return events
        findings = self.tracker.findings()
        new = [f for f in findings if f not in self.said]
        self.said = findings
        if not new:
            return events
        ts = events[-1].ts
        return events + [Notice(ts, "", "warning", "change", text) for text in new]
