"""Modal screens: `?` help (every binding) and `/` filter input."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class HelpScreen(ModalScreen[None]):
    """All key bindings; any of escape, q, ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("question_mark", "dismiss", "Close", show=False),
    ]

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for keys, what in self.lines:
            table.add_row(keys, what)
        with Vertical(id="helpbox"):
            yield Static(Text("dtlsproxy — keys", style="bold"), classes="title")
            yield Static(table)
            yield Static(
                Text(
                    "Rows: F = flight, ↻ = retransmitted copies, ◆ = culprit, "
                    "✖ = alert, ⚡ = injected fault, ⚑ = verdict.",
                    style="dim",
                )
            )

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)


class FilterScreen(ModalScreen[str | None]):
    """One input line; enter applies, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str = "") -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="filterbox"):
            yield Static(
                Text("filter: s:ID  t:TYPE  d:c2s|s2c|DIR  alerts   (empty = everything)",
                     style="dim")
            )
            yield Input(value=self.current, placeholder="e.g. t:certificate alerts", id="filter")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
