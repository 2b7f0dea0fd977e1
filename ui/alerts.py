"""Which message an alert blames, and the one-sentence banner that says so.

The culprit is the verdict's (``Verdict.culprit``) when the session has a
verdict; until then the interim rule: the last message of the flight the alert
answers (``AlertSeen.answers_flight``), sent by the other side.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.events import AlertSeen, MessageSeen, Verdict
from ui.model import SessionState


@dataclass(frozen=True, slots=True)
class Culprit:
    """The blamed message (``seq`` is ``id(message)``, its ladder row key) and why."""

    seq: int
    message: MessageSeen
    reason: str
    """The verdict's reason, or the interim rule spelt out."""
    from_verdict: bool


def _messages(st: SessionState) -> list[tuple[int, MessageSeen]]:
    return [(id(ev), ev) for ev in st.items if isinstance(ev, MessageSeen) and ev.copy == 1]


def find_culprit(st: SessionState) -> Culprit | None:
    """The culprit of the session's failure, or None (no alert, no verdict)."""
    msgs = _messages(st)
    verdict = st.verdicts[-1] if st.verdicts else None
    if verdict is not None and verdict.culprit is not None:
        ref = verdict.culprit
        exact = [
            (seq, m)
            for seq, m in msgs
            if m.type == ref.type
            and m.dir == ref.dir
            and (ref.message_seq is None or m.message_seq == ref.message_seq)
            and (ref.flight is None or m.flight == ref.flight)
        ]
        loose = exact or [(seq, m) for seq, m in msgs if m.type == ref.type]
        if loose:
            seq, m = loose[-1]
            return Culprit(seq, m, verdict.reason, True)
    if not st.alerts:
        return None
    alert = st.alerts[0]
    other = [
        (seq, m) for seq, m in msgs if st.is_c2s(m.dir) != st.is_c2s(alert.dir) and m.ts <= alert.ts
    ]
    if alert.answers_flight is not None:
        in_flight = [(seq, m) for seq, m in other if m.flight == alert.answers_flight]
        other = in_flight or other
    if not other:
        return None
    seq, m = other[-1]
    flight = f" {m.flight}" if m.flight is not None else ""
    return Culprit(
        seq, m, f"last message of {st.role_name(m.dir)} flight{flight} (no verdict yet)", False
    )


def side_name(st: SessionState, role: str) -> str:
    """``server (janus)``, or just ``server`` when no label differs from the role."""
    label = st.client_label if role == "client" else st.server_label
    return role if not label or label == role else f"{role} ({label})"


def alert_phrase(alert: AlertSeen) -> str:
    """``fatal decrypt_error`` or ``an encrypted alert (epoch 1)``."""
    if alert.encrypted or (alert.description_name is None and alert.description is None):
        return f"an encrypted alert (epoch {alert.epoch})"
    level = alert.level_name or (str(alert.level) if alert.level is not None else "")
    desc = alert.description_name or str(alert.description)
    return f"{level} {desc}".strip()


def banner_text(st: SessionState) -> str | None:
    """One sentence: who sent which alert, in answer to what, and the culprit."""
    culprit = find_culprit(st)
    verdict: Verdict | None = st.verdicts[-1] if st.verdicts else None
    if st.alerts:
        alert = st.alerts[0]
        sender = side_name(st, st.role_name(alert.dir))
        text = f"{sender} sent {alert_phrase(alert)}"
        if alert.answers_flight is not None:
            other = "server" if st.is_c2s(alert.dir) else "client"
            text += f" in answer to {other} flight {alert.answers_flight}"
    elif verdict is not None:
        text = f"handshake failed ({verdict.code})"
    elif st.state in ("stalled", "failed"):
        note = st.summary.note if st.summary is not None else None
        return f"handshake {st.state}" + (f": {note}" if note else "")
    else:
        return None
    if culprit is not None:
        text += f"; culprit: {culprit.message.type} — {culprit.reason}"
    elif verdict is not None:
        text += f"; {verdict.reason}"
    return text
