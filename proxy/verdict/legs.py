"""One handshake seen at two points: compare every message across its legs.

A session's legs (:meth:`proxy.session.Session.legs`: the same ClientHello random, seen
at another point: the relay's own capture has both of its legs, merged captures, a
middlebox) carry the same bytes when nothing on the way changed them. When a message
differs between two legs, that is the finding, on both legs: it was altered in transit,
between the point nearer its sender (where it was seen first) and the point nearer its
receiver. Neither the intact leg's Finished nor any other message is to blame.

When the leg nearer the receiver was written by ``dtlsproxy run`` itself (its ``--pcap``
marks each datagram it sent on with the comment ``relayed by dtlsproxy``, followed by
the fault rule that changed it when one did), the proxy's own fault rules did it, and the
verdict says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.events import Check, Verdict
from proxy.session.session import MessageRecord, Session
from proxy.verdict.rules import Context, ref

LEGS_CHECK = "legs agree"
RELAY_MARK = "relayed by dtlsproxy"
"""The comment the relay's pcapng gives every datagram it sent on (proxy.export.pcapng)."""
HEADER = 12
"""The DTLS handshake header in front of a plaintext message's body."""


@dataclass(frozen=True)
class Altered:
    """A message that differs between two legs of one handshake."""

    message: MessageRecord
    """On the session being judged."""
    other: MessageRecord
    """The same message on the other leg."""
    here: Session
    there: Session
    offset: int
    """First byte that differs: of the body (plaintext handshake message), else of the
    record payload (ciphertext) or of the whole message."""
    where: str
    """``body``, ``handshake header``, ``record payload`` or ``message``."""
    sizes: tuple[int, int]
    """Sizes compared (here, there)."""
    upstream_is_here: bool
    """This leg saw the message first: it is nearer its sender."""
    relay_note: str | None
    """The comment on the downstream copy when a relay (dtlsproxy) wrote it."""

    @property
    def upstream(self) -> Session:
        return self.here if self.upstream_is_here else self.there

    @property
    def downstream(self) -> Session:
        return self.there if self.upstream_is_here else self.here


def _wire(m: MessageRecord) -> bytes:
    return m.wire or m.raw


def _key(s: Session, m: MessageRecord, seen: dict[tuple[object, ...], int]) -> tuple[object, ...]:
    base = (s.role(m.sender), m.type, m.message_seq, m.epoch)
    n = seen.get(base, 0)
    seen[base] = n + 1
    return (*base, n)


def differences(s: Session, other: Session) -> list[Altered]:
    """Messages of ``s`` whose bytes differ on ``other`` (first copies, both legs holding
    them), in handshake order."""
    theirs: dict[tuple[object, ...], MessageRecord] = {}
    seen: dict[tuple[object, ...], int] = {}
    for m in other.handshake_order():
        theirs[_key(other, m, seen)] = m
    seen = {}
    out: list[Altered] = []
    for m in s.handshake_order():
        o = theirs.get(_key(s, m, seen))
        if o is None:
            continue
        a, b = _wire(m), _wire(o)
        if a == b:
            continue
        at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                  min(len(a), len(b)))
        if m.wire or m.encrypted:
            where = "record payload"
        elif m.msg_type is not None and m.message_seq is not None:
            where, at = ("body", at - HEADER) if at >= HEADER else ("handshake header", at)
        else:
            where = "message"
        up = (m.ts, m.frames[:1]) <= (o.ts, o.frames[:1])
        down_s, down_m = (other, o) if up else (s, m)
        note = next((down_s.relay_notes[f] for f in down_m.frames
                     if RELAY_MARK in down_s.relay_notes.get(f, "")), None)
        out.append(Altered(m, o, s, other, at, where, (len(a), len(b)), up, note))
    return out


def _name(m: MessageRecord) -> str:
    seq = f" (message_seq {m.message_seq})" if m.message_seq is not None else ""
    return f"{m.type}{seq}"


def describe(s: Session, d: Altered) -> str:
    """The sentence: which message, which legs, where, and who changed it."""
    sender = s.role(d.message.sender) or "?"
    peer = "server" if sender == "client" else "client"
    up, down = d.upstream.sid, d.downstream.sid
    if d.sizes[0] != d.sizes[1] and d.offset == min(d.sizes):
        what = (f"is {d.sizes[0] if d.upstream_is_here else d.sizes[1]} bytes on leg {up} "
                f"and {d.sizes[1] if d.upstream_is_here else d.sizes[0]} on leg {down}: "
                "cut or extended in transit")
    else:
        what = f"at byte {d.offset} of its {d.where}: altered in transit"
    text = (f"{_name(d.message)} differs between leg {up} (as sent by the {sender}) and leg "
            f"{down} (as received by the {peer}) {what}")
    if d.relay_note is not None:
        rule = d.relay_note.partition(";")[2].strip()
        text += (f", by dtlsproxy itself: {rule}" if rule else
                 ", by dtlsproxy itself (leg "
                 f"{down} is the relay's own --pcap, where only a --fault rule changes bytes; "
                 "its --log-file names the rule)")
    return text


def legs_check(s: Session) -> Check | None:
    """``legs agree``: every message the legs share is byte-identical (None: no legs)."""
    legs = s.legs()
    if not legs:
        return None
    for other in legs:
        diffs = differences(s, other)
        if diffs:
            d = diffs[0]
            values = {f"leg {d.here.sid}": f"{d.sizes[0]} bytes",
                      f"leg {d.there.sid}": f"{d.sizes[1]} bytes",
                      "first difference": f"byte {d.offset} of the {d.where}"}
            if len(diffs) > 1:
                values["other messages that differ"] = ", ".join(
                    _name(x.message) for x in diffs[1:])
            if d.relay_note is not None:
                values["changed by"] = d.relay_note
            return Check(LEGS_CHECK, False, describe(s, d), values)
    names = ", ".join(x.sid for x in legs)
    shared = sum(1 for _ in s.messages)
    return Check(LEGS_CHECK, True, f"the same handshake as {names}: the messages both legs "
                 "hold are byte-identical", {"legs": names, "messages here": str(shared)})


def altered_in_transit(ctx: Context, failure: Verdict | None = None) -> Verdict | None:
    """The finding when a message differs between this session and one of its legs.

    ``failure``: what the rules would have said of this leg alone. When it blames the
    same message, its sentence follows (what the receiver did about it); when it blames
    another one (the intact leg's Finished, say), that was a guess the legs disprove:
    only its checks are kept."""
    s = ctx.s
    for other in s.legs():
        diffs = differences(s, other)
        if not diffs:
            continue
        d = diffs[0]
        check = legs_check(s)
        evidence = [check] if check is not None else []
        reason = describe(s, d)
        c = failure.culprit if failure is not None else None
        m = d.message
        if failure is not None and c is not None and (c.type, c.message_seq, c.dir) == (
                m.type, m.message_seq, s.dir_label(m.sender)):
            reason += f"; {failure.reason}"
            evidence += [x for x in failure.evidence if x.name != LEGS_CHECK]
        else:
            fatal = s.fatal_alert()
            if fatal is not None:
                who = fatal.dir.split("->", 1)[0]
                reason += f"; the {who} answered with fatal {fatal.description_name}"
        evidence += [x for x in ctx.checks.values() if x not in evidence]
        return ctx.verdict("altered_in_transit", ref(s, m), reason, evidence, certain=True)
    return None
