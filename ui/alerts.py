"""Which message an alert blames, and the one-sentence banner that says so.

The culprit is the verdict's (``Verdict.culprit``) when the session has a
verdict; until then the interim rule: the last message of the flight the alert
answers (``AlertSeen.answers_flight``), sent by the other side.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.events import MessageSeen, Verdict
from proxy.report.culprit import alert_phrase
from proxy.report.culprit import find_culprit as choose_culprit
from ui.model import SessionState

__all__ = ["Culprit", "alert_phrase", "banner_text", "find_culprit", "side_name"]


@dataclass(frozen=True, slots=True)
class Culprit:
    """The blamed message (``seq`` is ``id(message)``, its ladder row key) and why."""

    seq: int
    message: MessageSeen
    reason: str
    """The verdict's reason, or the interim rule spelt out."""
    from_verdict: bool


def find_culprit(st: SessionState) -> Culprit | None:
    """The culprit of the session's failure, or None (no alert, no verdict): the rule of
    :func:`proxy.report.culprit.find_culprit`, which the reports draw too."""
    items = [ev for ev in st.items if isinstance(ev, MessageSeen) and ev.copy == 1]
    verdict = st.verdicts[-1] if st.verdicts else None
    alert = st.alerts[0] if st.alerts else None
    choice = choose_culprit(items, verdict, alert, st.is_c2s)
    if choice is None:
        return None
    m = items[choice.index]
    return Culprit(id(m), m, choice.reason, choice.from_verdict)


def side_name(st: SessionState, role: str) -> str:
    """``server (janus)``, or just ``server`` when no label differs from the role."""
    label = st.client_label if role == "client" else st.server_label
    return role if not label or label == role else f"{role} ({label})"


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
