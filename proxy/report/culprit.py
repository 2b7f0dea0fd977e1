"""Which message a failed session blames: the rule the TUI highlights and the reports draw.

The culprit is the verdict's (``Verdict.culprit``) when the session has one; until then
the interim rule: the last message of the flight the first failure alert answers
(``AlertSeen.answers_flight``), sent by the other side. Pure: events in, an index out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from proxy.events import AlertSeen, MessageSeen, Verdict


@dataclass(frozen=True, slots=True)
class CulpritChoice:
    """``messages[index]`` is blamed, and why."""

    index: int
    reason: str
    """The verdict's reason, or the interim rule spelt out."""
    from_verdict: bool


def is_failure_alert(alert: AlertSeen, state: str | None) -> bool:
    """An alert that ends or breaks the handshake (banner, culprit), as opposed to a
    close_notify, a warning, or an encrypted alert after the handshake completed (the
    hang-up of a call that worked). ``state``: the session's state when it arrived."""
    if alert.description == 0 or alert.level == 1:
        return False
    if alert.level == 2:
        return True
    # after both Finished an unreadable alert may be a close_notify: not a failure by
    # itself (the verdict rules say when the last flight was refused)
    return state not in ("established", "unconfirmed")


def find_culprit(messages: Sequence[MessageSeen], verdict: Verdict | None,
                 alert: AlertSeen | None, is_c2s: Callable[[str], bool]) -> CulpritChoice | None:
    """The blamed message among ``messages`` (first transmissions, in arrival order).

    ``verdict``: the session's latest; ``alert``: its first failure alert. None when
    neither names a message.
    """
    if verdict is not None and verdict.culprit is not None:
        ref = verdict.culprit
        exact = [i for i, m in enumerate(messages)
                 if m.type == ref.type and m.dir == ref.dir
                 and (ref.message_seq is None or m.message_seq == ref.message_seq)
                 and (ref.flight is None or m.flight == ref.flight)]
        loose = exact or [i for i, m in enumerate(messages) if m.type == ref.type]
        if loose:
            return CulpritChoice(loose[-1], verdict.reason, True)
    if alert is None:
        return None
    other = [i for i, m in enumerate(messages)
             if is_c2s(m.dir) != is_c2s(alert.dir) and m.ts <= alert.ts]
    if alert.answers_flight is not None:
        other = [i for i in other if messages[i].flight == alert.answers_flight] or other
    if not other:
        return None
    m = messages[other[-1]]
    role = "client" if is_c2s(m.dir) else "server"
    flight = f" {m.flight}" if m.flight is not None else ""
    return CulpritChoice(other[-1], f"last message of {role} flight{flight} (no verdict yet)",
                         False)


def alert_phrase(alert: AlertSeen) -> str:
    """``fatal decrypt_error`` or ``an encrypted alert (epoch 1)``."""
    if alert.encrypted or (alert.description_name is None and alert.description is None):
        return f"an encrypted alert (epoch {alert.epoch})"
    level = alert.level_name or (str(alert.level) if alert.level is not None else "")
    desc = alert.description_name or str(alert.description)
    return f"{level} {desc}".strip()
