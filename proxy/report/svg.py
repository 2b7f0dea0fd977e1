"""The ladder of one session as an inline SVG sequence diagram.

Two lanes (client left, server right, with their labels), one row per message (times
and flights in the gutter), a retransmission run collapsed into one row with counts,
encrypted records dashed, the culprit on an orange band (as the TUI draws it), alerts
in the error colour. Each row links to its detail (``#<anchor>``): the page's script
opens it in place; without the script the link still scrolls to it.

The drawing is sized in user units and scales with the page (``viewBox``); colours
come from the page's stylesheet (classes), so the SVG itself holds no style.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from proxy.report.model import Row

WIDTH = 400
"""User units across; the page scales the drawing to its width (up to a maximum)."""
LEFT = 84
"""The client lane."""
RIGHT = 392
"""The server lane."""
TOP = 40
"""Height of the lane titles."""
ROW = 24
FONT = 13.0
"""The largest label size the page uses (on a phone): labels are cut for it."""
CHAR = 0.6
"""Average advance of a character, in ems (DejaVu Sans and the usual system fonts)."""

_ARROWS = {"message", "alert", "fault", "malformed"}


def fit(text: str, width: float, font: float = FONT) -> str:
    """``text`` cut with an ellipsis to about ``width`` user units."""
    most = max(4, int(width / (font * CHAR)))
    return text if len(text) <= most else text[: most - 1] + "…"


def ladder_svg(rows: Sequence[Row], left: tuple[str, str], right: tuple[str, str],
               t0: float, esc: Callable[[str], str] = escape, title: str = "") -> str:
    """The diagram. ``left``/``right``: (role, label) of each lane; ``t0``: time zero;
    ``esc``: how text is made safe (and redacted)."""
    height = TOP + ROW * len(rows) + 10
    out = [f'<svg class="ladder" viewBox="0 0 {WIDTH} {height}" role="img" '
           f'aria-label="{esc(title or "handshake ladder")}" '
           f'xmlns="http://www.w3.org/2000/svg">']
    for x, (role, label), anchor in ((LEFT, left, "start"), (RIGHT, right, "end")):
        shift = -30 if anchor == "start" else 4
        out.append(f'<text x="{x + shift}" y="14" class="lane-role" text-anchor="{anchor}">'
                   f"{esc(role)}</text>")
        if label and label != role:
            out.append(f'<text x="{x + shift}" y="28" class="lane-label" '
                       f'text-anchor="{anchor}">{esc(fit(label, 170, 12))}</text>')
        out.append(f'<line x1="{x}" y1="{TOP - 6}" x2="{x}" y2="{height - 4}" class="life"/>')
    band = 0
    flight_of: tuple[bool | None, int | None] | None = None
    for i, row in enumerate(rows):
        y = TOP + ROW * i
        if row.kind == "message" and (row.c2s, row.flight) != flight_of and \
                row.flight is not None:
            band += 1
            flight_of = (row.c2s, row.flight)
        out.append(_row(row, y, t0, band % 2 == 0, esc))
    out.append("</svg>")
    return "\n".join(out)


def _row(row: Row, y: float, t0: float, shaded: bool, esc: Callable[[str], str]) -> str:
    classes = ["row", f"k-{row.kind}"]
    if row.c2s is not None:
        classes.append("c2s" if row.c2s else "s2c")
    if row.culprit:
        classes.append("culprit")
    if row.encrypted:
        classes.append("encrypted")
    anchor = esc(row.anchor)
    parts = [f'<a href="#{anchor}" data-m="{anchor}" class="{" ".join(classes)}">',
             f"<title>{esc(_tooltip(row))}</title>",
             f'<rect x="0" y="{y}" width="{WIDTH}" height="{ROW}" class="'
             f'{"band" if row.culprit else ("shade" if shaded else "hit")}"/>']
    mid = y + ROW / 2
    if row.kind != "more":
        parts.append(f'<text x="3" y="{mid + 4}" class="time">+{row.ts - t0:.3f}s</text>')
    if row.flight is not None and row.kind == "message":
        parts.append(f'<text x="{LEFT - 6}" y="{mid + 4}" class="flight" text-anchor="end">'
                     f"F{row.flight}</text>")
    if row.kind in _ARROWS and row.c2s is not None:
        x1, x2 = (LEFT, RIGHT) if row.c2s else (RIGHT, LEFT)
        tip = -7 if row.c2s else 7
        parts.append(f'<line x1="{x1}" y1="{mid + 5}" x2="{x2 + tip}" y2="{mid + 5}" '
                     'class="arrow"/>'
                     f'<path d="M{x2},{mid + 5} l{tip},-4 v8 z" class="head"/>')
        label = f"◆ {row.label} ◆" if row.culprit else row.label
        parts.append(f'<text x="{(LEFT + RIGHT) / 2}" y="{mid + 1}" class="label" '
                     f'text-anchor="middle">{esc(fit(label, RIGHT - LEFT - 12))}</text>')
    else:
        centre = (LEFT + RIGHT) / 2
        parts.append(f'<text x="{centre}" y="{mid + 4}" class="label note" '
                     f'text-anchor="middle">{esc(fit(row.label, 2 * (centre - 50)))}</text>')
    parts.append("</a>")
    return "".join(parts)


def _tooltip(row: Row) -> str:
    text = row.label + (f" — {row.info}" if row.info else "")
    return ("CULPRIT: " + text) if row.culprit else text
