"""Two sessions side by side: message by message in flight order, field by field.

:func:`record_of` gathers one session's events into a :class:`SessionRecord`;
:func:`diff_sessions` aligns the two records' messages (by direction, type and
occurrence, in flight order) and compares their fields (:mod:`.fields`), then the
session as a whole (outcome, alert, verdict, stacks, timing between flights,
retransmissions). :attr:`SessionDiff.summary` is the one sentence first: certificates,
what changed, what each server picked, the outcomes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from proxy.compare.fields import Field, message_fields
from proxy.events import (
    AlertSeen,
    CheckReport,
    Event,
    FlightComplete,
    FlightRetransmitted,
    MessageSeen,
    SessionSummary,
    StackGuess,
    Verdict,
)

EXPECTED = "differ, as expected"
TIME_TOLERANCE = 0.25
"""Seconds: flight times closer than this count as the same (RFC 6347's timer is 1 s)."""
SIGNATURE_CHECKS = {
    "CertificateVerify": "CertificateVerify signature",
    "ServerKeyExchange": "ServerKeyExchange signature",
    "Finished": "Finished",
}
"""Message type -> the check (``<role> <name>``) that verified its volatile part."""


@dataclass
class SessionRecord:
    """One session's handshake as its events tell it."""

    sid: str
    source: str = ""
    """Where it came from (``good.pcapng#s1``)."""
    messages: list[MessageSeen] = field(default_factory=list)
    """First copies, in flight order."""
    copies: dict[tuple[str, str, int | None], int] = field(default_factory=dict)
    flights: dict[tuple[str, int], FlightComplete] = field(default_factory=dict)
    retransmissions: dict[tuple[str, int], int] = field(default_factory=dict)
    alerts: list[AlertSeen] = field(default_factory=list)
    summary: SessionSummary | None = None
    verdict: Verdict | None = None
    checks: dict[str, tuple[bool | None, str]] = field(default_factory=dict)
    """Check name -> (passed, detail), from the verdict's or the check report's evidence."""

    @property
    def state(self) -> str:
        return self.summary.state if self.summary is not None else "unknown"


def record_of(events: Iterable[Event], sid: str, source: str = "") -> SessionRecord:
    """The record of session ``sid`` from a stream of events (others are skipped)."""
    rec = SessionRecord(sid, source)
    arrival: list[MessageSeen] = []
    for ev in events:
        if ev.session != sid:
            continue
        if isinstance(ev, MessageSeen):
            if ev.type == "ApplicationData":
                continue
            key = (ev.dir, ev.type, ev.message_seq)
            rec.copies[key] = max(rec.copies.get(key, 0), ev.copy)
            if ev.copy == 1:
                arrival.append(ev)
        elif isinstance(ev, FlightComplete):
            rec.flights.setdefault((ev.dir, ev.flight), ev)
        elif isinstance(ev, FlightRetransmitted):
            k = (ev.dir, ev.flight)
            rec.retransmissions[k] = max(rec.retransmissions.get(k, 0), ev.copy - 1)
        elif isinstance(ev, AlertSeen):
            rec.alerts.append(ev)
        elif isinstance(ev, SessionSummary):
            rec.summary = ev
        elif isinstance(ev, Verdict):
            rec.verdict = ev
            rec.checks.update({c.name: (c.passed, c.detail) for c in ev.evidence})
        elif isinstance(ev, CheckReport):
            rec.checks.update({c.name: (c.passed, c.detail) for c in ev.evidence})
    order = {id(m): i for i, m in enumerate(arrival)}
    rec.messages = sorted(arrival, key=lambda m: (
        m.flight if m.flight is not None else 1 << 30, order[id(m)]))
    return rec


def _role(direction: str) -> str:
    return direction.split("->")[0]


@dataclass(frozen=True)
class FieldDiff:
    """One field of a message (or of the session) in A and in B."""

    name: str
    a: str | None
    b: str | None
    status: str
    """``same``, ``changed``, ``expected`` (a volatile value that differs), ``only in A``,
    ``only in B``."""


@dataclass(frozen=True)
class MessageDiff:
    """One message of the aligned handshakes."""

    status: str
    """``same``, ``changed``, ``only in A``, ``only in B``."""
    dir: str
    type: str
    flight_a: int | None
    flight_b: int | None
    fields: tuple[FieldDiff, ...]

    def changed(self) -> list[FieldDiff]:
        """The fields that really differ (not the volatile ones)."""
        return [f for f in self.fields if f.status not in ("same", "expected")]


@dataclass(frozen=True)
class SessionDiff:
    """Everything :func:`diff_sessions` found."""

    a: SessionRecord
    b: SessionRecord
    summary: str
    messages: tuple[MessageDiff, ...]
    session: tuple[FieldDiff, ...]


def _key(m: MessageSeen, nth: dict[tuple[str, str], int]) -> tuple[str, str, int]:
    k = (m.dir, m.type)
    nth[k] = nth.get(k, 0) + 1
    return (m.dir, m.type, nth[k])


def _align(a: list[MessageSeen], b: list[MessageSeen]
           ) -> list[tuple[MessageSeen | None, MessageSeen | None]]:
    """Pairs in A's order, B's unmatched messages placed after their predecessor."""
    na: dict[tuple[str, str], int] = {}
    nb: dict[tuple[str, str], int] = {}
    keys_a = [_key(m, na) for m in a]
    keys_b = [_key(m, nb) for m in b]
    in_a = set(keys_a)
    by_b = dict(zip(keys_b, b, strict=True))
    out: list[tuple[MessageSeen | None, MessageSeen | None]] = []
    pending_b = [(k, m) for k, m in zip(keys_b, b, strict=True)]
    bi = 0
    for ka, ma in zip(keys_a, a, strict=True):
        # B's messages that A lacks and that come before this one in B
        if ka in by_b:
            while bi < len(pending_b) and pending_b[bi][0] != ka:
                kb, mb = pending_b[bi]
                if kb not in in_a:
                    out.append((None, mb))
                bi += 1
            bi += 1
            out.append((ma, by_b[ka]))
        else:
            out.append((ma, None))
    for kb, mb in pending_b[bi:]:
        if kb not in in_a:
            out.append((None, mb))
    return out


def _check_field(m: MessageSeen, rec: SessionRecord) -> Field | None:
    name = SIGNATURE_CHECKS.get(m.type)
    if name is None:
        return None
    found = rec.checks.get(f"{_role(m.dir)} {name}")
    if found is None:
        return None
    passed, detail = found
    text = {True: "verifies", False: "does not verify", None: "not checked"}[passed]
    return Field(text if passed is not None else f"{text} ({detail})")


def _fields(m: MessageSeen, rec: SessionRecord) -> dict[str, Field]:
    out = message_fields(m, rec.copies.get((m.dir, m.type, m.message_seq), 1))
    if m.encrypted:  # decrypted with a key log or not: the plaintext is not comparable
        out = {k: v if k in ("length", "datagrams", "copies") else Field(v.text, True)
               for k, v in out.items()}
    check = _check_field(m, rec)
    if check is not None:
        out = {"check": check, **out}
    return out


def _compare(fa: dict[str, Field], fb: dict[str, Field], everything: bool) -> list[FieldDiff]:
    out = []
    names = list(fa) + [n for n in fb if n not in fa]
    for n in names:
        a, b = fa.get(n), fb.get(n)
        if a is None or b is None:
            one = a or b
            status = "only in A" if b is None else "only in B"
            if one is not None and (one.volatile or one.tolerance is not None) \
                    and not everything:
                status = "expected"  # e.g. a Finished decrypted on one side only
            out.append(FieldDiff(n, a.text if a else None, b.text if b else None, status))
        elif n == "check" and "not checked" in (a.text[:11], b.text[:11]) and not everything:
            out.append(FieldDiff(n, a.text, b.text, "expected"))  # nothing to compare
        elif a.text == b.text or _close(a, b):
            out.append(FieldDiff(n, a.text, b.text, "same"))
        elif (a.volatile or b.volatile) and not everything:
            out.append(FieldDiff(n, a.text, b.text, "expected"))
        else:
            out.append(FieldDiff(n, a.text, b.text, "changed"))
    return out


def _close(a: Field, b: Field) -> bool:
    """Two times within their tolerance."""
    if a.tolerance is None or b.tolerance is None:
        return False
    try:
        return abs(float(a.text.strip("+s")) - float(b.text.strip("+s"))) <= a.tolerance
    except ValueError:
        return False


def _stack(g: StackGuess | None) -> str | None:
    if g is None:
        return None
    return " ".join(x for x in (g.name, g.version, f"({g.confidence})") if x)


def _alert_text(rec: SessionRecord) -> str | None:
    for a in rec.alerts:
        if a.level == 2 or (a.encrypted and a.level is None):
            who = _role(a.dir)
            what = a.description_name or "encrypted alert"
            after = f" after flight {a.answers_flight}" if a.answers_flight else ""
            return f"{who} sent {'fatal ' if a.level == 2 else ''}{what}{after}"
    return None


def _flight_times(rec: SessionRecord) -> dict[str, str]:
    flights = sorted(rec.flights.values(), key=lambda f: f.first_ts)
    if not flights:
        return {}
    t0 = flights[0].first_ts
    return {f"flight {f.flight} ({_role(f.dir)}) at": f"+{f.first_ts - t0:.3f}s"
            for f in flights}


def _session_fields(rec: SessionRecord) -> dict[str, Field]:
    s = rec.summary
    out: dict[str, Field] = {"state": Field(rec.state)}
    alert = _alert_text(rec)
    out["alert"] = Field(alert or "none")
    out["verdict"] = Field(f"{rec.verdict.code}: {rec.verdict.reason}" if rec.verdict
                           else "none")
    if s is not None:
        out["version"] = Field(s.version or "none")
        out["cipher suite"] = Field(s.cipher_suite or "none")
        out["group"] = Field(s.group or "none")
        out["SRTP profile"] = Field(s.srtp_profile or "none")
        out["extended master secret"] = Field(str(s.extended_master_secret))
        out["cookie exchange"] = Field("yes" if s.cookie else "no")
        out["client stack"] = Field(_stack(s.client_stack) or "unknown")
        out["server stack"] = Field(_stack(s.server_stack) or "unknown")
    for k, v in _flight_times(rec).items():
        # a few ms more or less is every run's jitter; a retransmission timer (1 s) is not
        out[k] = Field(v, tolerance=TIME_TOLERANCE)
    out["retransmitted flights"] = Field(", ".join(
        f"{flight} ({_role(d)}) x{n}" for (d, flight), n in sorted(
            rec.retransmissions.items(), key=lambda x: x[0][1])) or "none")
    return out


def diff_sessions(a: SessionRecord, b: SessionRecord, *, everything: bool = False
                  ) -> SessionDiff:
    """Compare two sessions. ``everything``: volatile fields count as changes too."""
    rows = []
    for ma, mb in _align(a.messages, b.messages):
        if ma is not None and mb is not None:
            fields = _compare(_fields(ma, a), _fields(mb, b), everything)
            status = "changed" if any(f.status not in ("same", "expected")
                                      for f in fields) else "same"
            rows.append(MessageDiff(status, ma.dir, ma.type, ma.flight, mb.flight,
                                    tuple(fields)))
        elif ma is not None:
            rows.append(MessageDiff("only in A", ma.dir, ma.type, ma.flight, None,
                                    tuple(FieldDiff(n, f.text, None, "only in A")
                                          for n, f in _fields(ma, a).items())))
        elif mb is not None:
            rows.append(MessageDiff("only in B", mb.dir, mb.type, None, mb.flight,
                                    tuple(FieldDiff(n, None, f.text, "only in B")
                                          for n, f in _fields(mb, b).items())))
    session = tuple(_compare(_session_fields(a), _session_fields(b), everything))
    return SessionDiff(a, b, summarize(a, b, rows, session), tuple(rows), session)


# --------------------------------------------------------------------- summary


def _cert_fields(rows: list[MessageDiff], role: str) -> list[FieldDiff] | None:
    for r in rows:
        if r.type == "Certificate" and _role(r.dir) == role:
            return list(r.fields)
    return None


def _cert_phrase(rows: list[MessageDiff], role: str) -> str | None:
    fields = _cert_fields(rows, role)
    if fields is None:
        return None
    by = {f.name: f for f in fields}
    fp = by.get("certificate sha-256")
    if fp is None or fp.a is None or fp.b is None:
        return (f"{role} Certificate only in {'A' if fp is not None and fp.a else 'B'}"
                if fp is not None else None)
    if fp.status == "same":
        return f"same {role} certificate ({fp.a[:11]}...)"
    what = [f"{fp.b[:11]}... instead of {fp.a[:11]}..."]
    key = by.get("certificate key")
    if key is not None and key.status == "changed":
        what.append(f"new key, {_curve(key.b)} instead of {_curve(key.a)}")
    elif key is not None:
        what.append(f"{_curve(key.a)} as before")
    subj = by.get("certificate subject")
    if subj is not None and subj.status == "changed":
        what.append(f"subject {subj.b} instead of {subj.a}")
    val = by.get("certificate validity")
    if val is not None and val.status == "changed" and val.b:
        what.append(f"valid from {val.b.split(' to ')[0]}")
    return f"different {role} certificate ({', '.join(w for w in what if w)})"


def _curve(text: str | None) -> str:
    names = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
    if not text:
        return "none"
    parts = text.split()
    return names.get(parts[-1], text) if len(parts) > 1 else text


def _message_phrase(r: MessageDiff) -> str:
    changed = r.changed()
    names = [f.name for f in changed]
    if names == ["check"] and r.type in SIGNATURE_CHECKS:
        f = changed[0]
        what = "signature" if r.type != "Finished" else "verify_data"
        if (f.a, f.b) == ("verifies", "does not verify"):
            return f"{r.type} {what} (A's verifies, B's does not)"
        if (f.a, f.b) == ("does not verify", "verifies"):
            return f"{r.type} {what} (B's verifies, A's does not)"
        return f"{r.type} {what} ({f.a} in A, {f.b} in B)"
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{_role(r.dir)} {r.type} ({shown})"


def _choice_phrases(session: tuple[FieldDiff, ...]) -> list[str]:
    out = []
    verbs = {"cipher suite": ("picked", "picked"), "version": ("chose", "chose"),
             "group": ("chose group", "chose"), "SRTP profile": ("chose SRTP profile", "chose")}
    for f in session:
        if f.name in verbs and f.status == "changed" and f.a and f.b:
            b_verb, a_verb = verbs[f.name]
            out.append(f"B's server {b_verb} {f.b} where A's {a_verb} {f.a}")
    for f in session:
        if f.name in ("client stack", "server stack") and f.status == "changed":
            out.append(f"{f.name} {f.a} in A, {f.b} in B")
    return out


def _outcome(rec: SessionRecord) -> str:
    alert = _alert_text(rec)
    if rec.state == "established":
        return "established"
    if alert:
        return f"{rec.state}: {alert}"
    return rec.state


def summarize(a: SessionRecord, b: SessionRecord, rows: list[MessageDiff],
              session: tuple[FieldDiff, ...]) -> str:
    """The one sentence: certificates; messages; choices; outcomes."""
    parts = [p for p in (_cert_phrase(rows, "client"), _cert_phrase(rows, "server")) if p]
    certs_done = {("client", "Certificate"), ("server", "Certificate")}
    changed = [r for r in rows if r.status == "changed"
               and not ((_role(r.dir), r.type) in certs_done
                        and {f.name for f in r.changed()} <= _CERT_NAMES)]
    failed_flight = _fail_point(a) or _fail_point(b)
    extra = [r for r in rows if r.status.startswith("only")
             and not (failed_flight is not None and _after(r, failed_flight))]
    if not changed and not extra:
        parts.append("messages identical (randoms, keys and signatures differ, as expected)")
    elif len(changed) <= 3 and not extra:
        parts.append("messages identical except " + "; ".join(_message_phrase(r)
                                                               for r in changed))
    else:
        bits = [_message_phrase(r) for r in changed[:3]]
        if len(changed) > 3:
            bits.append(f"{len(changed) - 3} more")
        bits += [f"{r.type} only in {r.status[-1]}" for r in extra[:3]]
        parts.append(f"{len(changed) + len(extra)} messages differ: " + "; ".join(bits))
    parts += _choice_phrases(session)
    oa, ob = _outcome(a), _outcome(b)
    parts.append(f"both {oa}" if oa == ob else f"A {oa}; B {ob}")
    return "; ".join(parts)


_CERT_NAMES = {"certificate sha-256", "certificate subject", "certificate issuer",
               "certificate key", "certificate validity", "certificate signature algorithm",
               "certificate serial", "length", "datagrams"}
"""A Certificate whose only changes are these is told by its certificate phrase."""


def _fail_point(rec: SessionRecord) -> int | None:
    if rec.state == "established":
        return None
    for al in rec.alerts:
        if al.answers_flight is not None:
            return al.answers_flight
    return max((m.flight for m in rec.messages if m.flight is not None), default=None)


def _after(r: MessageDiff, flight: int) -> bool:
    f = r.flight_a if r.flight_a is not None else r.flight_b
    return f is not None and f > flight
