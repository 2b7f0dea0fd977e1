"""Two legs of one handshake side by side (``b``): each message as each leg carried it.

A session's ``legs`` (its summary) are the same handshake seen at another point (the
relay's own capture has both of its legs). The pane puts the selected session and a leg
next to each other, message by message in arrival order; ``≠`` marks the message an
``altered_in_transit`` verdict names (or whose plaintext bytes differ), ``=`` the others,
and the verdict's sentence is at the bottom.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from proxy.events import MessageSeen, Verdict
from ui.diffview import message_keys
from ui.model import SessionState

SAME, DIFFERS = "=", "≠"


def _messages(st: SessionState) -> list[MessageSeen]:
    return [e for e in st.log if isinstance(e, MessageSeen) and e.copy == 1
            and e.type != "ApplicationData"]


def _altered(st: SessionState) -> Verdict | None:
    return next((v for v in st.verdicts if v.code == "altered_in_transit"), None)


def _label(m: MessageSeen | None) -> Text:
    if m is None:
        return Text("—", style="dim")
    arrow = "→" if m.dir.startswith("client") else "←"
    frames = ",".join(str(f) for f in m.frames)
    return Text(f"F{m.flight or '-'} {arrow} {m.type}  #{frames}")


def legs_table(a: SessionState, b: SessionState) -> Table:
    """The two legs' first-copy messages aligned (direction, type, occurrence)."""
    ma, mb = _messages(a), _messages(b)
    ka, kb = message_keys(ma), message_keys(mb)
    theirs = dict(zip(kb, mb, strict=True))
    culprits = {(v.culprit.dir, v.culprit.type, v.culprit.message_seq)
                for v in (_altered(a), _altered(b)) if v is not None and v.culprit is not None}
    table = Table(expand=True, show_edge=False, pad_edge=False)
    table.add_column(f"leg {a.sid}", ratio=1)
    table.add_column("", width=1)
    table.add_column(f"leg {b.sid}", ratio=1)
    shown: set[tuple[str, str, int]] = set()
    for key, m in zip(ka, ma, strict=True):
        o = theirs.get(key)
        shown.add(key)
        named = (m.dir, m.type, m.message_seq) in culprits
        differs = named or (o is not None and bool(m.raw) and bool(o.raw) and m.raw != o.raw)
        mark = Text(DIFFERS, style="bold red") if differs else Text(SAME, style="dim")
        table.add_row(_label(m), mark, _label(o))
    for key, o in zip(kb, mb, strict=True):
        if key not in shown:
            table.add_row(_label(None), Text(" "), _label(o))
    return table


class LegsScreen(ModalScreen[None]):
    """The legs pane over the ladder; escape, q or b closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("b", "dismiss", "Close", show=False),
    ]

    def __init__(self, a: SessionState, b: SessionState) -> None:
        super().__init__()
        self.a, self.b = a, b

    def compose(self) -> ComposeResult:
        v = _altered(self.a) or _altered(self.b)
        with Vertical(id="legsbox"):
            yield Static(Text(f"legs {self.a.sid} ⇄ {self.b.sid}: one handshake seen at two "
                              "points", style="bold"), classes="title")
            with VerticalScroll():
                yield Static(legs_table(self.a, self.b), id="legstable")
            yield Static(Text(v.reason if v is not None else
                              "every message both legs hold is the same", style=(
                                  "bold red" if v is not None else "green")), id="legsverdict")
            yield Static(Text(f"{DIFFERS} marks a message altered between the legs; escape "
                              "closes", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
