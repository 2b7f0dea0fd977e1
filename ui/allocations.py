"""`t`: the TURN allocations, one row each, redrawn twice a second while open.

What a TURN debugging session needs at a glance: whose allocation (client address,
username, UDP or TCP), where it relays (the relayed address peers send to), to whom
(permissions by peer IP, channels by peer address), for how long, and the bytes both
ways. The DTLS conversations inside are ordinary sessions in the main screen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from proxy.events import TurnAllocation
from ui.model import Model


def _bytes(n: int) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000:
            return f"{n} {unit}"
        n //= 1000
    return f"{n} GB"


def allocation_table(allocs: list[TurnAllocation], now: float) -> Table:
    """The allocations as a rich Table (newest last)."""
    table = Table(box=None, padding=(0, 1), header_style="bold", expand=True)
    for name in ("id", "state", "user", "client", "relayed", "expires", "permissions",
                 "channels", "to peers", "from peers"):
        table.add_column(name, no_wrap=name not in ("permissions", "channels"))
    for a in allocs:
        if a.state == "closed":
            state = Text("closed", style="dim")
            expires = Text(a.reason, style="dim")
        else:
            state = Text("active", style="green")
            left = a.expires - now
            expires = Text(f"in {left:.0f} s" if left >= 0 else "overdue",
                           style="yellow" if left < 60 else "")
        perms = ", ".join(sorted(a.permissions)) or "-"
        chans = ", ".join(f"{n} {p}" for n, p in sorted(a.channels.items())) or "-"
        table.add_row(
            a.allocation, state, a.username, f"{a.client} ({a.transport})", a.relayed,
            expires, perms, chans,
            f"{a.to_peer[0]} / {_bytes(a.to_peer[1])}",
            f"{a.from_peer[0]} / {_bytes(a.from_peer[1])}",
        )
    return table


class AllocationsScreen(ModalScreen[None]):
    """Every TURN allocation the model knows; escape, q or t closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
        Binding("t", "dismiss", "Close", show=False),
    ]

    def __init__(self, model: Model, now: Callable[[], float]) -> None:
        super().__init__()
        self.model = model
        self.now = now

    def compose(self) -> ComposeResult:
        with Vertical(id="allocbox"):
            yield Static(Text("TURN allocations", style="bold"), classes="title")
            with VerticalScroll():
                yield Static(id="alloctable")
            yield Static(Text("permissions: peer IPs the client may exchange datagrams "
                              "with; channels: ChannelData numbers; to / from peers: "
                              "datagrams / bytes relayed", style="dim"))

    def on_mount(self) -> None:
        self.redraw()
        self.set_interval(0.5, self.redraw)

    def redraw(self) -> None:
        allocs = list(self.model.allocations.values())
        widget = self.query_one("#alloctable", Static)
        if not allocs:
            widget.update(Text("no TURN allocation yet (dtlsproxy run --turn ...)",
                               style="dim"))
            return
        widget.update(allocation_table(allocs, self.now()))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
