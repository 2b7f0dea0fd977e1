"""The ladder of one session: client lane on the left, server lane on the right.

:func:`build_rows` turns a :class:`~ui.model.SessionState` into rows (pure: no
textual); :class:`LadderTable` shows them and applies a new row list as a diff
(append + changed cells) so a busy session redraws cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from proxy.events import (
    AlertSeen,
    Event,
    FaultApplied,
    FlightRetransmitted,
    Malformed,
    MessageSeen,
    Notice,
    SessionClosed,
    Verdict,
)
from proxy.report.model import frames_text, message_name, traffic_label
from ui.alerts import alert_phrase
from ui.model import SessionState, TrafficBlock
from ui.rendercache import fit_render_caches

LANE_WIDTH = 54

STYLE_ALERT = "bold bright_white on red3"
STYLE_CULPRIT = "bold black on dark_orange"
STYLE_FAULT = "bold magenta"
STYLE_COPY = "yellow"
STYLE_TRAFFIC = "grey50"
STYLE_VERDICT = "bold dark_orange"
STYLE_C2S = "bright_cyan"
STYLE_S2C = "bright_green"


@dataclass(frozen=True, slots=True)
class LadderRow:
    """One row: ``key`` is stable across redraws; ``event`` is what the detail shows."""

    key: str
    kind: str
    """message, copies, copy, alert, verdict, fault, notice, malformed, traffic, closed."""
    cells: tuple[Text, Text, Text, Text]
    """flight, time, lane, info."""
    event: Event | None
    dir: str | None = None
    type: str | None = None
    members: tuple[str, ...] = ()
    """For a ``copies`` row: the keys of its copy rows (shown when expanded)."""
    culprit: bool = False
    """The message the alert/verdict blames."""


def arrow(name: str, c2s: bool, width: int = LANE_WIDTH, style: str = "") -> Text:
    """``─ Name ─────▶`` (client to server) or ``◀───── Name ─`` (server to client)."""
    if cell_len(name) > width - 6:
        name = set_cell_size(name, width - 7) + "…"
    fill = "─" * (width - cell_len(name) - 4)
    if c2s:
        line = Text(f"─ {name} {fill}▶", style=style or STYLE_C2S)
    else:
        line = Text(f"◀{fill} {name} ─", style=style or STYLE_S2C)
    return line


def centred(text: str, width: int = LANE_WIDTH, style: str = "") -> Text:
    """A lane-wide note between the two lanes."""
    if cell_len(text) > width:
        text = set_cell_size(text, width - 1) + "…"
    pad = width - cell_len(text)
    return Text(" " * (pad // 2) + text + " " * (pad - pad // 2), style=style)


def _span_text(seconds: float) -> str:
    return f"over {seconds:.1f}s" if seconds >= 0.1 else ""


def _side(label: str, role: str, left: bool) -> str:
    if not label or label == role:
        return role
    if any(ch.isdigit() for ch in label) and ":" in label:  # an address, not a name
        return f"{role} {label}" if left else f"{label} {role}"
    return f"{label} ({role})"


def header_text(st: SessionState | None, width: int = LANE_WIDTH) -> str:
    """The lane column's header: client side left, server side right."""
    if st is None:
        return "client".ljust(width - 6) + "server"
    left = _side(st.client_label, "client", True)
    right = _side(st.server_label, "server", False)
    if cell_len(left) + cell_len(right) + 1 > width:
        left, right = st.client_label, st.server_label
    if cell_len(left) + cell_len(right) + 1 > width:
        half = width // 2 - 1
        left = set_cell_size(left, half)
        right = set_cell_size(right, half).rstrip()
    gap = max(1, width - cell_len(left) - cell_len(right))
    return f"{left}{' ' * gap}{right}"


def fault_row(st: SessionState, seq: int, ev: FaultApplied, base: float, width: int) -> LadderRow:
    """An injected fault, marked as such so nobody takes it for a real failure."""
    c2s = st.is_c2s(ev.dir) if ev.dir else True
    return LadderRow(
        key=f"e{seq}",
        kind="fault",
        cells=(
            Text("FAULT", style=STYLE_FAULT),
            Text(f"+{ev.ts - base:.3f}", style="dim"),
            arrow(f"⚡ injected: {ev.action}", c2s, width, STYLE_FAULT),
            Text(f"{ev.rule}: {ev.detail} #{ev.frame}", style=STYLE_FAULT),
        ),
        event=ev,
        dir=ev.dir,
        type="Fault",
    )


def build_rows(
    st: SessionState,
    *,
    expanded: frozenset[str] | set[str] = frozenset(),
    culprit_seq: int | None = None,
    width: int = LANE_WIDTH,
) -> list[LadderRow]:
    """Rows for the session's ladder, in arrival order.

    Retransmitted copies (``copy`` > 1) in a contiguous run collapse into one
    ``copies`` row (``client flight 3 x3 · server flight 4 x3``); its copy rows
    follow it only when its key is in ``expanded``. The message absorbed as
    ``culprit_seq`` is highlighted.
    """
    rows: list[LadderRow] = []
    base = st.first_ts
    last_flight: tuple[bool, int | None] | None = None
    group: list[tuple[int, Event]] = []

    def flush_group() -> None:
        if not group:
            return
        gkey = f"g{group[0][0]}"
        worst: dict[tuple[str, int], int] = {}
        copy_rows: list[LadderRow] = []
        faults = 0
        for seq, ev in group:
            if isinstance(ev, MessageSeen):
                f = ev.flight if ev.flight is not None else -1
                role = st.role_name(ev.dir)
                worst[(role, f)] = max(worst.get((role, f), 1), ev.copy)
                c2s = st.is_c2s(ev.dir)
                copy_rows.append(
                    LadderRow(
                        key=f"e{seq}",
                        kind="copy",
                        cells=(
                            Text(""),
                            Text(f"+{ev.ts - base:.3f}", style=STYLE_COPY),
                            arrow(f"{message_name(ev)} (copy {ev.copy})", c2s, width, "dim " +
                                  (STYLE_C2S if c2s else STYLE_S2C)),
                            Text(frames_text(ev.frames), style="dim"),
                        ),
                        event=ev,
                        dir=ev.dir,
                        type=ev.type,
                    )
                )
            elif isinstance(ev, FaultApplied):
                faults += 1
                copy_rows.append(fault_row(st, seq, ev, base, width))
            elif isinstance(ev, FlightRetransmitted):
                role = st.role_name(ev.dir)
                worst[(role, ev.flight)] = max(worst.get((role, ev.flight), 1), ev.copy)
        parts = [
            f"{role} flight {f if f >= 0 else '?'} ×{n}" for (role, f), n in worst.items()
        ]
        is_open = gkey in expanded
        mark = "▾" if is_open else "▸"
        first_ts = group[0][1].ts
        last_ts = group[-1][1].ts
        rows.append(
            LadderRow(
                key=gkey,
                kind="copies",
                cells=(
                    Text("↻", style=STYLE_COPY),
                    Text(f"+{first_ts - base:.3f}", style=STYLE_COPY),
                    centred(f"{mark} resent: " + " · ".join(parts), width, "bold " + STYLE_COPY),
                    Text(f"⚡ {faults} faults · " if faults else "", style=STYLE_FAULT)
                    + Text(f"{len(copy_rows) - faults} msgs over {last_ts - first_ts:.1f}s",
                           style="dim"),
                ),
                event=None,
                members=tuple(r.key for r in copy_rows),
            )
        )
        if is_open:
            rows.extend(copy_rows)
        group.clear()

    for item in st.items:
        seq = id(item)
        if (
            (isinstance(item, MessageSeen) and item.copy > 1)
            or isinstance(item, FlightRetransmitted)
            or (isinstance(item, FaultApplied) and group)
        ):
            group.append((seq, item))
            continue
        flush_group()
        time = Text(f"+{item.ts - base:.3f}" if not isinstance(item, TrafficBlock)
                    else f"+{item.first_ts - base:.3f}", style="dim")
        if isinstance(item, MessageSeen):
            c2s = st.is_c2s(item.dir)
            this = (c2s, item.flight)
            flight = Text("")
            if this != last_flight and item.flight is not None:
                flight = Text(f"F{item.flight}", style="bold")
            last_flight = this
            is_culprit = seq == culprit_seq
            name = message_name(item)
            info = Text(frames_text(item.frames), style="dim")
            if item.differs:
                info.append(" differs!", style="bold red")
            if item.error:
                info.append(f" {item.error}", style="red")
            if is_culprit:
                name = f"◆ {name} ◆"
                info = Text("◆ CULPRIT ", style=STYLE_CULPRIT) + info
            rows.append(
                LadderRow(
                    key=f"e{seq}",
                    kind="message",
                    cells=(flight, time, arrow(name, c2s, width,
                                               STYLE_CULPRIT if is_culprit else ""), info),
                    event=item,
                    dir=item.dir,
                    type=item.type,
                    culprit=is_culprit,
                )
            )
        elif isinstance(item, AlertSeen):
            c2s = st.is_c2s(item.dir)
            last_flight = None
            rows.append(
                LadderRow(
                    key=f"e{seq}",
                    kind="alert",
                    cells=(
                        Text("ALERT", style="bold red"),
                        time,
                        arrow(f"✖ Alert: {alert_phrase(item)}", c2s, width, STYLE_ALERT),
                        Text(frames_text(item.frames), style="red"),
                    ),
                    event=item,
                    dir=item.dir,
                    type="Alert",
                )
            )
        elif isinstance(item, Verdict):
            rows.append(
                LadderRow(
                    key=f"e{seq}",
                    kind="verdict",
                    cells=(
                        Text("⚑", style=STYLE_VERDICT),
                        time,
                        centred(f"verdict: {item.code}", width, STYLE_VERDICT),
                        Text(item.reason, style=STYLE_VERDICT),
                    ),
                    event=item,
                    type="Verdict",
                )
            )
        elif isinstance(item, FaultApplied):
            rows.append(fault_row(st, seq, item, base, width))
        elif isinstance(item, Notice):
            style = {"error": "bold red", "warning": "yellow"}.get(item.level, "cyan")
            rows.append(
                LadderRow(
                    key=f"e{seq}",
                    kind="notice",
                    cells=(Text("!", style=style), time,
                           centred(f"{item.level}: {item.code}", width, style),
                           Text(item.message, style=style)),
                    event=item,
                    type="Notice",
                )
            )
        elif isinstance(item, Malformed):
            c2s = st.is_c2s(item.dir)
            rows.append(
                LadderRow(
                    key=f"e{seq}",
                    kind="malformed",
                    cells=(Text("?", style="red"), time,
                           arrow(f"malformed {item.layer}", c2s, width, "red"),
                           Text(f"#{item.frame}+{item.offset}: {item.reason}", style="red")),
                    event=item,
                    dir=item.dir,
                    type="Malformed",
                )
            )
        elif isinstance(item, SessionClosed):
            rows.append(
                LadderRow(
                    key=f"e{seq}",
                    kind="closed",
                    cells=(Text(""), time, centred(f"session closed: {item.reason}", width, "dim"),
                           Text("")),
                    event=item,
                )
            )
        elif isinstance(item, TrafficBlock):
            rows.append(
                LadderRow(
                    key=f"t{seq}",
                    kind="traffic",
                    cells=(Text(""), time, centred(traffic_label(item), width, STYLE_TRAFFIC),
                           Text(_span_text(item.last_ts - item.first_ts), style=STYLE_TRAFFIC)),
                    event=None,
                )
            )
    flush_group()
    return rows


class LadderTable(DataTable[Text]):
    """The ladder as a row-cursor table that redraws by diff."""

    BINDINGS = [  # noqa: RUF012
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "first", "Top", show=False),
        Binding("G", "last", "Bottom", show=False),
    ]

    class LaneWidthChanged(Message):
        """The lane column was resized to fit the pane: rows must be rebuilt."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.rows_shown: list[LadderRow] = []
        self.by_key: dict[str, LadderRow] = {}
        self.lane_width = LANE_WIDTH
        self._lanes_for: SessionState | None = None

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        self.add_column("F", key="flight", width=5)
        self.add_column("time", key="time", width=8)
        self.add_column(header_text(self._lanes_for, self.lane_width), key="lane",
                        width=self.lane_width)
        self.add_column("info", key="info")

    def on_resize(self, event: events.Resize) -> None:
        """Fit the lane column to the pane (5 + 8 + info 14 + cell padding 8), and the
        render caches to its height."""
        fit_render_caches(self, event.size.height)
        width = max(24, min(LANE_WIDTH, event.size.width - 35))
        if width != self.lane_width:
            cursor = self.current_key()
            self.lane_width = width
            self.clear(columns=True)
            self.rows_shown = []
            self.by_key = {}
            self._add_columns()
            self._restore = cursor
            self.post_message(self.LaneWidthChanged())

    _restore: str | None = None

    def set_lanes(self, st: SessionState | None) -> None:
        """Relabel the lane column with the session's side names."""
        self._lanes_for = st
        col = self.columns.get("lane")  # type: ignore[call-overload]
        label = header_text(st, self.lane_width)
        if col is not None and col.label.plain != label:
            col.label = Text(label, style="bold")
            self.refresh()

    def show(self, rows: list[LadderRow]) -> None:
        """Make the table show ``rows``: appends and cell updates when possible."""
        old = self.rows_shown
        same_prefix = bool(old) and len(rows) >= len(old) and all(
            o.key == n.key for o, n in zip(old, rows, strict=False)
        )
        if not same_prefix:
            cursor_key = self.current_key()
            self.clear()
            for r in rows:
                self.add_row(*r.cells, key=r.key)
            self.rows_shown = rows
            self.by_key = {r.key: r for r in rows}
            if self._restore is not None:
                cursor_key, self._restore = self._restore, None
            if cursor_key is not None and cursor_key in self.by_key:
                self.select_key(cursor_key)
            return
        cols = ("flight", "time", "lane", "info")
        for o, n in zip(old, rows, strict=False):
            if o.cells != n.cells:
                for c, (a, b) in zip(cols, zip(o.cells, n.cells, strict=True), strict=True):
                    if a != b:
                        self.update_cell(n.key, c, b)
        for r in rows[len(old):]:
            self.add_row(*r.cells, key=r.key)
        self.rows_shown = rows
        self.by_key = {r.key: r for r in rows}

    def current_key(self) -> str | None:
        """Key of the row under the cursor."""
        if not self.rows_shown or self.row_count == 0:
            return None
        idx = min(self.cursor_row, len(self.rows_shown) - 1)
        return self.rows_shown[idx].key if idx >= 0 else None

    def current(self) -> LadderRow | None:
        """The row under the cursor."""
        key = self.current_key()
        return self.by_key.get(key) if key is not None else None

    def select_key(self, key: str) -> bool:
        """Move the cursor to the row with ``key``."""
        for i, r in enumerate(self.rows_shown):
            if r.key == key:
                self.move_cursor(row=i)
                return True
        return False

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=max(0, self.row_count - 1))
