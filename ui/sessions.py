"""Sessions list: one row per session with peers, roles, state badge, version,
suite, SRTP profile, counters and age."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable

from proxy.events import StackGuess
from ui.model import SessionState
from ui.rendercache import fit_render_caches

BADGES = {
    "idle": "grey50",
    "handshaking": "bold black on yellow",
    "unconfirmed": "bold black on khaki1",
    "established": "bold black on green",
    "failed": "bold bright_white on red3",
    "alert": "bold bright_white on red3",
    "stalled": "bold black on dark_orange",
}

COLUMNS = (
    ("id", "id"),
    ("peers", "client ⇄ server"),
    ("state", "state"),
    ("version", "version"),
    ("suite", "cipher suite"),
    ("srtp", "SRTP"),
    ("age", "age"),
    ("counters", "stun / dtls / rtp  c→s|s→c"),
)


def short_suite(name: str | None) -> str:
    """``ECDHE_ECDSA_AES_128_GCM_SHA256`` for ``TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256``."""
    if not name:
        return "-"
    return name.removeprefix("TLS_").replace("_WITH_", "_")


def short_srtp(name: str | None) -> str:
    """``AES128_CM_HMAC_SHA1_80`` for ``SRTP_AES128_CM_HMAC_SHA1_80``."""
    return name.removeprefix("SRTP_") if name else "-"


def badge(state: str) -> Text:
    """The coloured state badge."""
    return Text(f" {state} ", style=BADGES.get(state, ""))


def _peer(label: str, endpoint: str | None) -> str:
    if endpoint and endpoint != label:
        return f"{label} {endpoint}"
    return label


def stack_text(g: StackGuess | None) -> str | None:
    """``OpenSSL 3.0.x`` (with ``?`` when not of high confidence), or None."""
    if g is None:
        return None
    name = g.name + (f" {g.version}" if g.version else "")
    return name if g.confidence == "high" else f"{name}?"


def peers_text(st: SessionState) -> str:
    """``browser 10.0.0.1:5000 ⇄ janus 10.0.0.2:8000`` (client first)."""
    s = st.summary
    client_ep = s.client if s is not None else None
    server_ep = s.server if s is not None else None
    if client_ep is None and st.opened is not None:
        client_ep, server_ep = st.opened.endpoints
    client, server = _peer(st.client_label, client_ep), _peer(st.server_label, server_ep)
    if s is not None:  # each side's stack when its hello is known
        cs, ss = stack_text(s.client_stack), stack_text(s.server_stack)
        client += f" ({cs})" if cs else ""
        server += f" ({ss})" if ss else ""
    return f"{client} ⇄ {server}"


def counters_text(st: SessionState) -> str:
    """Datagrams per kind, client→server|server→client."""
    per: dict[str, list[int]] = {}
    for key, n in st.counters().items():
        kind, _, direction = key.partition(" ")
        slot = per.setdefault(kind, [0, 0])
        slot[0 if st.is_c2s(direction) else 1] += n
    parts = []
    for kind in ("stun", "dtls", "rtp"):
        if kind in per:
            a, b = per[kind]
            parts.append(f"{kind} {a}|{b}")
    return "  ".join(parts)


def age_text(seconds: float) -> str:
    """``42s``, ``3m05``, ``2h10``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}"
    return f"{s // 3600}h{(s % 3600) // 60:02d}"


def row_cells(st: SessionState, now: float) -> tuple[Text | str, ...]:
    """The cells of one session row."""
    s = st.summary
    return (
        st.sid,
        peers_text(st),
        badge(st.state),
        (s.version if s is not None else None) or "-",
        short_suite(s.cipher_suite if s is not None else None),
        short_srtp(s.srtp_profile if s is not None else None),
        age_text(now - st.first_ts),
        counters_text(st),
    )


class SessionsTable(DataTable[Text | str]):
    """Sessions as a row-cursor table, updated cell by cell."""

    BINDINGS = [  # noqa: RUF012
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "first", "Top", show=False),
        Binding("G", "last", "Bottom", show=False),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self.shown: list[str] = []
        self._next_update = 0
        self._cells: dict[str, tuple[Text | str, ...]] = {}
        self._widths: dict[str, int] = {}

    def _note_widths(self, cells: dict[str, Text | str]) -> None:
        for key, value in cells.items():
            w = cell_len(value.plain if isinstance(value, Text) else value)
            if w > self._widths.get(key, 0):
                self._widths[key] = w

    def on_mount(self) -> None:
        for key, label in COLUMNS:
            self.add_column(label, key=key)
        fit_render_caches(self, 12)  # the list is at most 12 rows high (app.tcss)

    max_new_rows = 150
    """Rows added per sync at most (a burst of new sessions spreads over refreshes)."""
    max_updated_rows = 200
    """Changed rows redrawn per sync at most: the rows on screen first, then the others
    round-robin (the rest stay in ``dirty`` for the next sync)."""

    def _update_order(self, count: int) -> list[int]:
        """Row indexes to look at: the visible ones, then round-robin from the last stop."""
        top = max(0, int(self.scroll_y))
        visible = range(top, min(count, top + max(1, self.size.height)))
        start = self._next_update if self._next_update < count else 0
        rest = [i for i in range(start, count) if i not in visible]
        rest += [i for i in range(start) if i not in visible]
        return [*visible, *rest]

    def sync(self, sessions: list[SessionState], dirty: set[str], now: float,
             full: bool = False, limit: int | None = None) -> bool:
        """Show ``sessions`` (in order): add new rows, update dirty ones' cells.

        The sessions redrawn are removed from ``dirty``; those left (more than
        ``max_updated_rows`` changed) wait for the next call. Returns True when rows
        are still to be added (call again next refresh).
        """
        ids = [s.sid for s in sessions]
        if full or ids[: len(self.shown)] != self.shown:
            current = self.current_sid()
            self.clear()
            self._cells.clear()
            self._widths.clear()
            for st in sessions:
                cells = row_cells(st, now)
                self._cells[st.sid] = cells
                self._note_widths({k: c for (k, _), c in zip(COLUMNS, cells, strict=True)})
                self.add_row(*cells, key=st.sid)
            self.shown = ids
            dirty.clear()
            if current is not None:
                self.select_sid(current)
            return False
        budget = self.max_updated_rows
        for i in self._update_order(len(self.shown)) if dirty else ():
            st = sessions[i]
            if st.sid not in dirty:
                continue
            if budget == 0:
                self._next_update = i
                break
            budget -= 1
            dirty.discard(st.sid)
            cells = row_cells(st, now)
            old = self._cells[st.sid]
            for (key, _), a, b in zip(COLUMNS, old, cells, strict=True):
                if a != b:
                    # widening re-measures the whole column: only when this cell needs it
                    wider = cell_len(b.plain if isinstance(b, Text) else b) > self._widths.get(
                        key, 0)
                    self.update_cell(st.sid, key, b, update_width=wider)
                    if wider:
                        self._note_widths({key: b})
            self._cells[st.sid] = cells
        else:
            dirty.clear()  # every changed row shown is redrawn; the others are not shown
        added = sessions[len(self.shown) : len(self.shown) + (limit or self.max_new_rows)]
        for st in added:
            cells = row_cells(st, now)
            self._cells[st.sid] = cells
            self._note_widths({k: c for (k, _), c in zip(COLUMNS, cells, strict=True)})
            self.add_row(*cells, key=st.sid)
        self.shown.extend(st.sid for st in added)
        return len(self.shown) < len(sessions)

    def current_sid(self) -> str | None:
        """Session under the cursor."""
        if not self.shown or self.row_count == 0:
            return None
        return self.shown[min(max(self.cursor_row, 0), len(self.shown) - 1)]

    def select_sid(self, sid: str) -> bool:
        """Move the cursor to ``sid``."""
        try:
            idx = self.shown.index(sid)
        except ValueError:
            return False
        self.move_cursor(row=idx)
        return True

    def action_first(self) -> None:
        self.move_cursor(row=0)

    def action_last(self) -> None:
        self.move_cursor(row=max(0, self.row_count - 1))
