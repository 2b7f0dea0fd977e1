"""The TUI's diff: a reference session (``m``) against the selected one (``d``), the same
comparison as ``dtlsproxy diff`` (:mod:`proxy.compare`), in a pane over the ladder; the
ladder then marks the messages that changed."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from proxy.compare.diff import SessionDiff, diff_sessions, record_of
from proxy.compare.render import diff_text
from proxy.events import MessageSeen
from ui.model import SessionState
from ui.sessions import stack_text

__all__ = ["stack_text"]

MARK = "Δ"
"""Prefix of a changed message's info cell in the ladder."""

MessageKey = tuple[str, str, int]
"""(direction, type, occurrence): how the diff aligns messages."""


def session_diff(reference: SessionState, other: SessionState) -> SessionDiff:
    """``dtlsproxy diff`` of two sessions the TUI holds (their kept events)."""
    a = record_of(list(reference.log), reference.sid, reference.sid)
    b = record_of(list(other.log), other.sid, other.sid)
    return diff_sessions(a, b)


def changed_keys(d: SessionDiff) -> dict[str, set[MessageKey]]:
    """Session id -> the keys of its messages that changed or only it has."""
    out: dict[str, set[MessageKey]] = {d.a.sid: set(), d.b.sid: set()}
    seen: dict[str, dict[tuple[str, str], int]] = {d.a.sid: {}, d.b.sid: {}}
    for m in d.messages:
        for sid, present in ((d.a.sid, m.status != "only in B"),
                             (d.b.sid, m.status != "only in A")):
            if not present:
                continue
            n = seen[sid][(m.dir, m.type)] = seen[sid].get((m.dir, m.type), 0) + 1
            if m.status != "same":
                out[sid].add((m.dir, m.type, n))
    return out


def message_keys(events: list[MessageSeen]) -> list[MessageKey]:
    """The keys of first-copy messages in the order given (the diff's occurrence count)."""
    counts: dict[tuple[str, str], int] = {}
    out = []
    for m in events:
        k = (m.dir, m.type)
        counts[k] = counts.get(k, 0) + 1
        out.append((m.dir, m.type, counts[k]))
    return out


class DiffScreen(ModalScreen[None]):
    """The diff text over the ladder; escape, q or d closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("d", "dismiss", "Close", show=False),
    ]

    def __init__(self, d: SessionDiff) -> None:
        super().__init__()
        self.diff = d
        self.text = diff_text(d)

    def compose(self) -> ComposeResult:
        with Vertical(id="diffbox"):
            yield Static(Text(f"diff {self.diff.a.sid} (reference) → {self.diff.b.sid}",
                              style="bold"), classes="title")
            with VerticalScroll():
                yield Static(Text(self.text), id="difftext")
            yield Static(Text(f"{MARK} marks the changed messages in the ladder; "
                              "escape closes", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
