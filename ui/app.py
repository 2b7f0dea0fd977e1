"""``DtlsProxyApp``: sessions list, ladder, detail pane, alert banner.

Feed it a :class:`proxy.bus.Subscription` (live) and/or a list of events
(``dtlsproxy view``). A timer drains the subscription every ``refresh_interval``
seconds within a time budget, absorbs the batch into the bounded
:class:`~ui.model.Model`, and redraws only what changed. Running it on the
relay's loop: ``await app.run_async()``.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from proxy.bus import Subscription
from proxy.events import Event, MessageSeen
from ui.alerts import banner_text, find_culprit
from ui.allocations import AllocationsScreen
from ui.detail import DetailPane, field_tree_available
from ui.diffview import MARK, DiffScreen, changed_keys, message_keys, session_diff, stack_text
from ui.export import export_session
from ui.filtering import Filter, parse_filter
from ui.gcpace import GcPacer
from ui.help import FilterScreen, HelpScreen
from ui.ladder import LadderRow, LadderTable, build_rows
from ui.legsview import LegsScreen
from ui.model import Model, SessionState
from ui.sessions import SessionsTable

ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("jump_alert", "Jump to alert", "Select the latest failed session and its culprit message"),
    ("show_verdict", "Show verdict evidence",
     "Select the verdict row: every check it ran, passed or failed"),
    ("filter", "Filter", "Filter by session (s:ID), type (t:NAME), direction (d:c2s), alerts"),
    ("clear_filter", "Clear filter", "Show every session and row"),
    ("toggle_pause", "Pause / resume view", "Freeze the view; events keep being counted"),
    ("export", "Export session", "Write the selected session as JSONL, pcapng and an HTML report"),
    ("toggle_group", "Expand / collapse retransmissions", "Show every copy of a resent flight"),
    ("mark_reference", "Mark as reference",
     "Mark the selected session as the reference of a diff (then d on another)"),
    ("diff", "Diff with the reference",
     "Compare the selected session with the reference: the diff in a pane, Δ in the ladder"),
    ("legs", "Legs side by side",
     "The selected session and its other leg (the same handshake seen at another point)"),
    ("allocations", "TURN allocations",
     "Every TURN allocation: client, user, relayed address, permissions, channels, bytes"),
    ("help", "Help", "All key bindings"),
    ("quit", "Quit", "Leave dtlsproxy"),
)
"""Every app action: (action, title, help) for the command palette and the help screen."""


class Banner(Static):
    """The one-sentence alert line; clicking it opens the verdict's evidence."""

    class Clicked(Message):
        """The banner was clicked."""

    def on_click(self) -> None:
        self.post_message(self.Clicked())


def banner_markup(sid: str, text: str) -> Text:
    """The banner line, with the culprit's name standing out."""
    line = Text(f" ✖ {sid}: ", style="bold")
    head, sep, tail = text.partition("; culprit: ")
    line.append(head, style="bold")
    if sep:
        name, dash, why = tail.partition(" — ")
        line.append("; culprit: ", style="bold")
        line.append(f" {name} ", style="bold black on dark_orange")
        if dash:
            line.append(f" — {why}")
    return line


def _update(widget: Static, text: Text) -> None:
    """Show ``text`` in a fixed-height line (no relayout), unless it is already shown."""
    key = (text.plain, str(text.style), tuple(text.spans))  # Text == ignores the style
    if getattr(widget, "_shown_key", None) != key:
        widget._shown_key = key  # type: ignore[attr-defined]
        widget.update(text, layout=False)


class DtlsProxyApp(App[None]):
    """The dtlsproxy TUI. Public API: the constructor, :meth:`feed`, ``model``."""

    TITLE = "dtlsproxy"
    TABLE_INTERVAL = 0.25
    """Seconds between redraws of the sessions list when many sessions change at once."""
    MIN_PAUSE = 0.01
    """Seconds between the end of a late refresh and the next (the screen paints then);
    also before a refresh that starts with a full garbage collection.

    Textual's ``set_interval`` skips a missed slot: a refresh 1 ms late waited a whole
    ``refresh_interval`` more, a gap of twice the interval."""
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("e", "export", "Export"),
        Binding("a", "jump_alert", "Alert"),
        Binding("v", "show_verdict", "Verdict"),
        Binding("t", "allocations", "TURN", show=False),
        Binding("x", "toggle_group", "Expand", show=False),
        Binding("m", "mark_reference", "Mark ref", show=False),
        Binding("d", "diff", "Diff", show=False),
        Binding("b", "legs", "Legs", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("tab", "focus_next", "Pane", key_display="tab"),
        Binding("shift+tab", "focus_previous", "Prev pane", show=False),
        Binding("h", "focus_previous", "Pane left", show=False),
        Binding("l", "focus_next", "Pane right", show=False),
    ]

    def __init__(
        self,
        subscription: Subscription | None = None,
        *,
        events: Iterable[Event] | None = None,
        header_info: Mapping[str, str] | None = None,
        history: int = 5000,
        max_sessions: int = 2000,
        paused: bool = False,
        refresh_interval: float = 0.05,
        budget: float = 0.008,
        pending_cap: int = 200_000,
        export_dir: Path | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``subscription``: live events (drained on a timer). ``events``: absorbed at
        start (``view``). ``header_info``: shown in the header (e.g. ``listen``, ``log``).
        ``history``: events kept per session (and per-session store). ``budget``:
        seconds of absorbing per refresh at most (the rest waits in the queue; about
        10,000 events, so the app keeps up with 200,000 events/s). Live, the app runs
        the full garbage collections itself (:class:`~ui.gcpace.GcPacer`).
        ``clock``: wall time for ages (default: ``time.time`` when live, else the time
        of the latest event, so a log opened later shows its own ages).
        """
        super().__init__()
        self.subscription = subscription
        self.model = Model(history=history, max_sessions=max_sessions)
        self.header_info = dict(header_info or {})
        self.paused = paused
        self.refresh_interval = refresh_interval
        self.budget = budget
        self.pending: deque[Event] = deque()
        self.pending_cap = pending_cap
        self.own_dropped = 0
        self.export_dir = export_dir or Path.cwd()
        self.exported: list[Path] = []
        self.clock = clock if clock is not None or subscription is None else time.time
        self.filter = Filter()
        self.selected: str | None = None
        self.expanded: set[str] = set()
        self.reference: str | None = None
        """The session marked with ``m``: what ``d`` compares the selected one with."""
        self.diff_marks: dict[str, set[tuple[str, str, int]]] = {}
        """Session id -> its messages the last diff found changed (marked in the ladder)."""
        self.refreshes = 0
        self.worst_gap = 0.0
        self.gaps: deque[float] = deque(maxlen=10_000)
        """Seconds between consecutive refreshes (the latest 10,000), for benchmarks."""
        self._last_refresh: float | None = None
        self._initial = list(events or ())
        self._ladder_version: tuple[str | None, int, int] = (None, -1, -1)
        self._last_age_refresh = 0.0
        self._layout_gen = 0
        self._table_dirty: set[str] = set()
        self._table_synced = 0.0
        self._rows_missing = False
        self._next_due = 0.0
        self.gc_pacer = GcPacer() if subscription is not None else None
        self._behind = False

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        self.w_topbar = Static(id="topbar")
        self.w_banner = Banner(id="banner")
        self.w_sessions = SessionsTable(id="sessions")
        self.w_title = Static(id="laddertitle")
        self.w_ladder = LadderTable(id="ladder")
        self.w_detail = DetailPane(id="detail")
        yield self.w_topbar
        yield self.w_banner
        yield self.w_sessions
        with Horizontal(id="main"):
            with Vertical(id="ladderbox"):
                yield self.w_title
                yield self.w_ladder
            yield self.w_detail
        yield Footer()

    def on_mount(self) -> None:
        field_tree_available()  # import the field renderer now, not in the middle of a burst
        if self.gc_pacer is not None:
            self.gc_pacer.start()
        if self._initial:
            self.model.absorb(self._initial)
            self._initial = []
        self._refresh_view(force=True)
        self._next_due = time.perf_counter() + self.refresh_interval
        self.set_timer(self.refresh_interval, self._timed_tick)
        self.w_ladder.focus()

    def on_unmount(self) -> None:
        if self.gc_pacer is not None:
            self.gc_pacer.stop()

    def _timed_tick(self) -> None:
        """One refresh, then the next one: on the ``refresh_interval`` grid, or (after a
        refresh that ran late) ``MIN_PAUSE`` later, never a whole slot later."""
        try:
            self._tick()
        finally:
            if self.is_running:
                self._next_due += self.refresh_interval
                now = time.perf_counter()
                pacer = self.gc_pacer
                gc_next = pacer is not None and pacer.ready(self._behind and not self.paused)
                if gc_next or self._next_due < now + self.MIN_PAUSE:
                    # late, or the next refresh starts with a full collection: soon,
                    # so the pause and the refresh fit in one gap
                    self._next_due = now + self.MIN_PAUSE
                self.set_timer(self._next_due - now, self._timed_tick)

    # ----------------------------------------------------------------- feeding

    def feed(self, events: Iterable[Event]) -> None:
        """Push events directly (same loop); shown at the next refresh."""
        if self.paused:
            self._hold(events)
        else:
            self.model.absorb(events)

    def _hold(self, events: Iterable[Event]) -> None:
        self.pending.extend(events)
        over = len(self.pending) - self.pending_cap
        if over > 0:
            self.own_dropped += over
            for _ in range(over):
                self.pending.popleft()

    @property
    def dropped(self) -> int:
        """Display updates lost: the subscription's drops plus the app's own."""
        sub = self.subscription.dropped if self.subscription is not None else 0
        return sub + self.own_dropped

    def _tick(self) -> None:
        if not self.is_running:
            return
        start = time.perf_counter()
        sub = self.subscription
        if sub is not None:
            # a full collection, when due, runs here and shortens this absorb (the
            # first 1000 events are always taken)
            spent = 0.0
            if self.gc_pacer is not None:
                spent = self.gc_pacer.before_refresh(behind=self._behind and not self.paused)
            if self.paused:
                self._hold(sub.drain())
            else:
                deadline = start + max(0.0, self.budget - spent)
                while len(sub):
                    self.model.absorb(sub.drain(1000))
                    if time.perf_counter() > deadline:
                        break
                self._behind = len(sub) > 0
        self._refresh_view()
        now = time.perf_counter()
        if self._last_refresh is not None:
            gap = now - self._last_refresh
            self.worst_gap = max(self.worst_gap, gap)
            self.gaps.append(gap)
        self._last_refresh = now
        self.refreshes += 1

    # ----------------------------------------------------------------- drawing

    def _now(self) -> float:
        return self.clock() if self.clock is not None else self.model.last_ts

    def visible_sessions(self) -> list[SessionState]:
        """Sessions passing the filter, in arrival order."""
        f = self.filter
        if not f.active:
            return list(self.model.sessions.values())
        return [st for st in self.model.sessions.values() if f.session_ok(st)]

    def _refresh_view(self, force: bool = False) -> None:
        if self.paused and not force:
            self._draw_topbar()
            return
        self._table_dirty |= self.model.take_dirty()
        new_alerts, new_verdicts = self.model.take_new_alerts()
        table = self.w_sessions
        now = self._now()
        if self.clock is not None and now - self._last_age_refresh >= 1.0:
            self._table_dirty = set(self.model.sessions)
            self._last_age_refresh = now
        # Many changed rows are redrawn at most every TABLE_INTERVAL (the ladder and the
        # banner every refresh); rows not added yet (a burst of sessions) are added, fresh,
        # by the next refreshes.
        tick = time.perf_counter()
        if (
            force
            or new_alerts
            or new_verdicts
            or len(self._table_dirty) <= 50
            or tick - self._table_synced >= self.TABLE_INTERVAL
        ):
            # sync takes the rows it redraws out of _table_dirty (at most
            # max_updated_rows of them, the visible ones first); the rest wait
            self._rows_missing = table.sync(self.visible_sessions(), self._table_dirty, now,
                                            full=force)
            self._table_synced = tick
        elif self._rows_missing or len(table.shown) < len(self.model.sessions):
            # new sessions appear at once; changed rows wait for the next full pass
            self._rows_missing = table.sync(self.visible_sessions(), set(), now)
        if self.selected is None or self.selected not in self.model.sessions:
            first = table.current_sid()
            if first is not None:
                self._select_session(first)
        jump = (new_verdicts or new_alerts)[-1:] if (new_verdicts or new_alerts) else []
        if jump:
            self._focus_culprit(jump[0])
        else:
            self._draw_ladder()
        self._draw_banner()
        self._draw_topbar()

    def _draw_topbar(self) -> None:
        m = self.model
        t = Text()
        t.append(" dtlsproxy ", style="bold black on cyan")
        for key, value in self.header_info.items():
            t.append(f"  {key} ", style="dim")
            t.append(str(value), style="bold")
        t.append("  │ ", style="dim")
        t.append(f"{len(m.sessions)} sessions · {m.events} events · ")
        t.append(f"{m.alerts} alerts", style="bold red" if m.alerts else "")
        t.append(" · dropped ", style="")
        t.append(str(self.dropped), style="bold red" if self.dropped else "")
        if m.allocations:
            active = sum(1 for a in m.allocations.values() if a.state == "active")
            t.append(f" · TURN {active}/{len(m.allocations)} allocations (t)", style="cyan")
        if self.filter.active:
            t.append(f"  │ filter: {self.filter.text}", style="bold yellow")
        if self.paused:
            t.append(f"  ⏸ PAUSED ({len(self.pending)} pending)", style="bold black on yellow")
        _update(self.w_topbar, t)

    def _draw_banner(self) -> None:
        # The banner line is always there (no relayout of the whole screen when the
        # first alert arrives): quiet when nothing failed, red with the culprit otherwise.
        banner = self.w_banner
        st = self.model.sessions.get(self.selected or "")
        text = banner_text(st) if st is not None else None
        if text is None:
            other = self.model.latest_alerted()
            if other is None:
                banner.set_class(False, "elsewhere")
                banner.set_class(True, "quiet")
                _update(banner, Text(" ✔ no alert so far" if self.model.sessions
                                     else " waiting for traffic…"))
                return
            banner.set_class(False, "quiet")
            text = banner_text(other) or ""
            line = banner_markup(other.sid, text)
            line.append("  (press a to jump)", style="italic")
            _update(banner, line)
            banner.set_class(True, "elsewhere")
            return
        banner.set_class(False, "elsewhere")
        banner.set_class(False, "quiet")
        line = banner_markup(st.sid if st else "", text)
        if st is not None and st.verdicts:
            line.append("   [v] evidence", style="italic")
        _update(banner, line)

    def _ladder_rows(self, st: SessionState) -> list[LadderRow]:
        culprit = find_culprit(st)
        rows = build_rows(st, expanded=self.expanded,
                          culprit_seq=culprit.seq if culprit else None,
                          width=self.w_ladder.lane_width)
        rows = self._mark_changed(st, rows)
        if self.filter.types or self.filter.dirs:
            rows = [r for r in rows if self.filter.row_ok(st, r)]
        return rows

    def _draw_ladder(self, force: bool = False) -> None:
        ladder = self.w_ladder
        st = self.model.sessions.get(self.selected or "")
        key = (self.selected, st.version if st else -1, self._layout_gen)
        if key == self._ladder_version and not force:
            return
        self._ladder_version = key
        title = self.w_title
        if st is None:
            ladder.set_lanes(None)
            ladder.show([])
            _update(title, Text(" no session yet", style="dim"))
            return
        ladder.set_lanes(st)
        follow = ladder.row_count > 0 and ladder.cursor_row >= ladder.row_count - 1
        was_empty = ladder.row_count == 0
        rows = self._ladder_rows(st)
        ladder.show(rows)
        if follow and ladder.row_count and not was_empty:
            ladder.move_cursor(row=ladder.row_count - 1)
        t = Text(f" {st.sid} ", style="bold reverse")
        t.append(f"  {st.client_label} ⇄ {st.server_label}", style="bold")
        if st.evicted:
            t.append(f"  (oldest {st.evicted} events dropped: history {st.history})", style="dim")
        _update(title, t)

    # ----------------------------------------------------------------- selection

    def _select_session(self, sid: str) -> None:
        if sid == self.selected:
            return
        self.selected = sid
        self.expanded.clear()
        self._draw_ladder(force=True)
        ladder = self.w_ladder
        st = self.model.sessions.get(sid)
        culprit = find_culprit(st) if st is not None else None
        if culprit is None or not ladder.select_key(f"e{culprit.seq}"):
            last = next((r for r in reversed(ladder.rows_shown) if r.event is not None), None)
            if last is not None:
                ladder.select_key(last.key)
            else:
                ladder.move_cursor(row=max(0, ladder.row_count - 1))
        self._show_detail()
        self._draw_banner()

    def _focus_culprit(self, sid: str) -> None:
        table = self.w_sessions
        if sid not in table.shown:
            full = self.filter.active and not self.filter.session_ok(self.model.sessions[sid])
            if full:  # the filter hides the failed session: drop the filter
                self.filter = Filter()
            visible = self.visible_sessions()
            upto = next((i for i, st in enumerate(visible) if st.sid == sid), len(visible))
            table.sync(visible, set(), self._now(), full=full,
                       limit=max(1, upto + 1 - len(table.shown)))
        table.select_sid(sid)
        self.selected = sid
        self.expanded.clear()
        self._draw_ladder(force=True)
        st = self.model.sessions[sid]
        culprit = find_culprit(st)
        ladder = self.w_ladder
        if culprit is not None:
            ladder.select_key(f"e{culprit.seq}")
        self._show_detail()

    def _show_detail(self) -> None:
        row = self.w_ladder.current()
        detail = self.w_detail
        if row is None:
            detail.show(None)
        elif row.event is None:
            detail.show(None, row.cells[2].plain.strip())
        else:
            reason = None
            st = self.model.sessions.get(self.selected or "")
            if row.culprit:
                culprit = find_culprit(st) if st is not None else None
                reason = culprit.reason if culprit is not None else None
            notes = self._hello_notes(row.event)
            if st is not None:  # the peers' own view (Janus's Admin API, events, a dump)
                notes += [("peer's view", v.sentence) for v in st.peer_views.values()]
            detail.show(row.event, culprit=reason, notes=notes,
                        vias=st.vias if st is not None else None)

    def _hello_notes(self, ev: Event) -> list[tuple[str, str]]:
        """A hello's JA4 (or JA4S) and the stack it looks like."""
        if not isinstance(ev, MessageSeen) or not (ev.ja4 or ev.ja4s):
            return []
        st = self.model.sessions.get(ev.session)
        s = st.summary if st is not None else None
        guess = None if s is None else (s.client_stack if ev.ja4 else s.server_stack)
        notes = [("JA4" if ev.ja4 else "JA4S", ev.ja4 or ev.ja4s or "")]
        if guess is not None:
            text = stack_text(guess) or ""
            notes.append(("stack", f"{text} ({guess.confidence}): "
                                   + "; ".join(guess.evidence[:3])))
        return notes

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if isinstance(event.data_table, SessionsTable):
            sid = event.data_table.current_sid()
            if sid is not None:
                self._select_session(sid)
        elif isinstance(event.data_table, LadderTable):
            self._show_detail()

    def on_ladder_table_lane_width_changed(self, _: LadderTable.LaneWidthChanged) -> None:
        self._layout_gen += 1
        self._draw_ladder(force=True)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if isinstance(event.data_table, LadderTable):
            self.action_toggle_group()
        elif isinstance(event.data_table, SessionsTable):
            self.w_ladder.focus()

    # ----------------------------------------------------------------- actions

    def action_help(self) -> None:
        """Show every binding."""
        self.push_screen(HelpScreen(self.help_lines()))

    def action_allocations(self) -> None:
        """The TURN allocations, live."""
        self.push_screen(AllocationsScreen(self.model, self._now))

    def help_lines(self) -> list[tuple[str, str]]:
        """(keys, what) for the help screen."""
        return [
            ("↑ ↓  j k", "move in the focused pane"),
            ("g  G", "first / last row"),
            ("tab  shift+tab  h l", "next / previous pane (sessions, ladder, fields, bytes)"),
            ("enter  x", "on a ↻ row: expand / collapse the retransmitted copies"),
            ("a", "jump to the latest alert and its culprit"),
            ("v  (click the banner)", "the verdict's evidence: every check, passed or failed"),
            ("/", "filter: s:ID  t:TYPE  d:c2s|s2c|DIR  alerts  (bare words guessed)"),
            ("escape", "clear the filter"),
            ("p", "pause / resume the view (the relay keeps forwarding)"),
            ("t", "TURN allocations (client, user, relayed address, permissions, channels)"),
            ("e", "export the selected session (JSONL, pcapng, HTML report)"),
            ("m", "mark the selected session as the reference of a diff"),
            ("d", "diff the selected session with the reference (Δ marks changed messages)"),
            ("b", "the selected session and its other leg side by side (≠: altered between)"),
            ("ctrl+p", "command palette (every action)"),
            ("?", "this help"),
            ("q", "quit"),
        ]

    def action_mark_reference(self) -> None:
        sid = self.selected
        if sid is None:
            self.notify("no session selected", severity="warning")
            return
        self.reference = sid
        self.notify(f"{sid} is the reference: select another session and press d")

    def action_diff(self) -> None:
        ref, sid = self.reference, self.selected
        sessions = self.model.sessions
        if ref is None or ref not in sessions:
            self.notify("mark a reference session first (m)", severity="warning")
            return
        if sid is None or sid == ref or sid not in sessions:
            self.notify(f"{ref} is the reference: select another session to compare",
                        severity="warning")
            return
        d = session_diff(sessions[ref], sessions[sid])
        self.diff_marks = changed_keys(d)
        self._draw_ladder(force=True)
        self.push_screen(DiffScreen(d))

    def action_legs(self) -> None:
        sid = self.selected
        sessions = self.model.sessions
        st = sessions.get(sid) if sid is not None else None
        legs = [] if st is None or st.summary is None else [
            x for x in st.summary.legs if x in sessions]
        if st is None or not legs:
            self.notify("the selected session has no other leg (the same handshake seen at "
                        "another point)", severity="warning")
            return
        self.push_screen(LegsScreen(st, sessions[legs[0]]))

    def _mark_changed(self, st: SessionState, rows: list[LadderRow]) -> list[LadderRow]:
        """The messages the last diff found changed get ``Δ`` before their info."""
        marks = self.diff_marks.get(st.sid)
        if not marks:
            return rows
        firsts = [(i, r.event) for i, r in enumerate(rows) if r.kind in ("message", "copies")
                  and isinstance(r.event, MessageSeen) and r.event.copy == 1
                  and r.event.type != "ApplicationData"]
        keys = message_keys([ev for _, ev in firsts])
        out = list(rows)
        for (i, _), key in zip(firsts, keys, strict=True):
            if key in marks:
                r = out[i]
                info = Text(f"{MARK} ", style="bold magenta") + r.cells[3]
                out[i] = dataclasses.replace(r, cells=(r.cells[0], r.cells[1], r.cells[2], info))
        return out

    def action_filter(self) -> None:
        """Ask for a filter."""

        def done(text: str | None) -> None:
            if text is not None:
                self.set_filter(text)

        self.push_screen(FilterScreen(self.filter.text), done)

    def set_filter(self, text: str) -> None:
        """Apply a filter line (empty clears)."""
        self.filter = parse_filter(text)
        self._layout_gen += 1
        table = self.w_sessions
        table.sync(self.visible_sessions(), set(), self._now(), full=True)
        sid = table.current_sid()
        if sid is not None and sid != self.selected:
            self._select_session(sid)
        elif sid is None:
            self.selected = None
        self._draw_ladder(force=True)
        self._show_detail()
        self._draw_banner()
        self._draw_topbar()

    def action_clear_filter(self) -> None:
        """Drop the filter."""
        if self.filter.active:
            self.set_filter("")

    def action_toggle_pause(self) -> None:
        """Freeze / unfreeze the view; held events are absorbed on resume."""
        self.paused = not self.paused
        if not self.paused and self.pending:
            held = list(self.pending)
            self.pending.clear()
            self.model.absorb(held)
        self._refresh_view(force=not self.paused)
        self.notify("view paused: events are held" if self.paused else "view resumed",
                    timeout=2)

    def action_export(self) -> None:
        """Export the selected session."""
        st = self.model.sessions.get(self.selected or "")
        if st is None:
            self.notify("no session selected", severity="warning")
            return
        try:
            paths = export_session(st, self.export_dir)
        except OSError as exc:
            self.notify(f"export failed: {exc}", severity="error")
            return
        self.exported.extend(paths)
        self.notify("exported " + ", ".join(str(p) for p in paths), timeout=6)

    def on_banner_clicked(self, _: Banner.Clicked) -> None:
        self.action_show_verdict()

    def action_show_verdict(self) -> None:
        """Select the failed session's verdict row: the detail lists its evidence."""
        st = self.model.sessions.get(self.selected or "")
        if st is None or not st.verdicts:
            st = next((s for s in reversed(self.model.sessions.values()) if s.verdicts), None)
            if st is None:
                self.notify("no verdict so far")
                return
            self._focus_culprit(st.sid)
        row = next((r for r in self.w_ladder.rows_shown if r.kind == "verdict"), None)
        if row is not None:
            self.w_ladder.select_key(row.key)
            self._show_detail()
        self._draw_banner()

    def action_jump_alert(self) -> None:
        """Select the latest alerted session and its culprit."""
        st = self.model.latest_alerted()
        if st is None:
            st = next((s for s in reversed(self.model.sessions.values()) if s.verdicts), None)
        if st is None:
            self.notify("no alert so far")
            return
        self._focus_culprit(st.sid)
        self._draw_banner()

    def action_toggle_group(self) -> None:
        """Expand / collapse the retransmission row under the cursor."""
        ladder = self.w_ladder
        row = ladder.current()
        if row is None:
            return
        if row.kind != "copies":
            group = next((r for r in ladder.rows_shown if row.key in r.members), None)
            if group is None:
                return
            row = group
        self.expanded.symmetric_difference_update({row.key})
        self._layout_gen += 1
        self._draw_ladder(force=True)
        ladder.select_key(row.key)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:  # type: ignore[type-arg]
        yield from super().get_system_commands(screen)
        yield from self._commands()

    def _commands(self) -> Iterator[SystemCommand]:
        for action, title, help_text in ACTIONS:
            if action == "quit":
                continue
            yield SystemCommand(title, help_text, getattr(self, f"action_{action}"))
