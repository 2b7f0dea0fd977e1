"""Detail pane: the selected row as a field tree, and its bytes as hex with the
selected field highlighted (Wireshark's details + bytes panes).

Message bodies go through ``proxy.decode.dtls.fields.field_tree`` when it is available
(spans relative to ``MessageSeen.raw``: the body starts after the 12-byte
handshake header); otherwise the body dataclass (or the dict a JSONL log gives
back) is rendered generically, using its ``spans`` dict when it has one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from proxy.decode.dtls.fields import header_node
from proxy.events import (
    AlertSeen,
    Event,
    FaultApplied,
    MessageSeen,
    Verdict,
    iso_time,
)

HEADER_LEN = 12
Span = tuple[int, int]


@dataclass(slots=True)
class Node:
    """One line of the field tree: ``label: value``; ``span`` indexes the raw bytes."""

    label: str
    value: str = ""
    span: Span | None = None
    children: list[Node] = field(default_factory=list)
    style: str = ""


def field_tree_available() -> bool:
    """Import ``proxy.decode.dtls.fields`` (if present) ahead of the first detail view."""
    return _field_tree_fn() is not None


def _field_tree_fn() -> Any:
    try:
        from proxy.decode.dtls.fields import field_tree
    except ImportError:
        return None
    return field_tree


def _short(value: Any, limit: int = 64) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        h = data.hex()
        return f"{h[:limit]}… ({len(data)} bytes)" if len(h) > limit else h or "(empty)"
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def generic_nodes(value: Any, spans: Mapping[str, Any] | None = None, base: int = 0) -> list[Node]:
    """Children for any dataclass / mapping / sequence value (fallback renderer)."""
    out: list[Node] = []
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        own = getattr(value, "spans", None)
        own_spans = own if isinstance(own, Mapping) else {}
        for f in dataclasses.fields(value):
            if f.name.startswith("_") or f.name == "spans" or not f.metadata.get("json", True):
                continue
            if getattr(value, f.name) is None:
                continue
            out.append(_node(f.name, getattr(value, f.name), own_spans, base))
        return out
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k == "spans" or v is None or v == "":
                continue
            out.append(_node(str(k), v, spans or {}, base))
        return out
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            out.append(_node(f"[{i}]", v, {}, base))
        return out
    return out


def _node(name: str, value: Any, spans: Mapping[str, Any], base: int) -> Node:
    raw_span = spans.get(name)
    span = (base + raw_span[0], base + raw_span[1]) if raw_span is not None else None
    is_struct = (dataclasses.is_dataclass(value) and not isinstance(value, type)) or isinstance(
        value, Mapping
    )
    if is_struct:
        label = getattr(type(value), "__name__", "") if not isinstance(value, Mapping) else ""
        return Node(name, label, span, generic_nodes(value, None, base))
    if isinstance(value, list | tuple) and value and not isinstance(value[0], int | str):
        return Node(name, f"{len(value)} items", span, generic_nodes(value, None, base))
    if isinstance(value, list | tuple):
        return Node(name, ", ".join(_short(v) for v in value) or "(none)", span)
    return Node(name, _short(value), span)


def _from_field_nodes(nodes: Sequence[Any]) -> list[Node]:
    out = []
    for n in nodes:
        span = getattr(n, "span", None)
        out.append(
            Node(
                str(getattr(n, "label", "?")),
                "" if getattr(n, "value", None) is None else _short(n.value),
                (int(span[0]), int(span[1])) if span is not None else None,
                _from_field_nodes(getattr(n, "children", ()) or ()),
            )
        )
    return out


def header_nodes(raw: bytes, name: str = "") -> Node:
    """The 12-byte DTLS handshake header, field by field, with spans
    (:func:`proxy.decode.dtls.fields.header_node`)."""
    return _from_field_nodes([header_node(raw, name)])[0]


def message_tree(m: MessageSeen, vias: Mapping[int, str] | None = None) -> Node:
    """Field tree of a handshake message (spans index ``m.raw``); ``vias``: frame -> how
    it was carried (TURN allocation and encapsulation), shown under "seen"."""
    where = f"{m.dir}, flight {m.flight}" if m.flight is not None else m.dir
    hidden = m.encrypted and not m.decrypted
    root = Node(f"[{m.type} (encrypted)]" if hidden else m.type, where)
    seen = Node(
        "seen",
        f"copy {m.copy}, epoch {m.epoch}, seq {m.message_seq}, {m.length} bytes, "
        f"frames {', '.join(map(str, m.frames)) or '-'}",
    )
    if vias:
        seen.children = [Node(f"frame {f}", _via_text(vias[f])) for f in m.frames if f in vias]
    root.children.append(seen)
    if m.differs:
        root.children.append(
            Node("differs", "this copy's bytes differ from the first", style="red")
        )
    if m.error:
        root.children.append(Node("error", m.error, style="red"))
    if hidden:
        root.children.append(
            Node("encrypted", f"epoch {m.epoch}: give a key log to decrypt", style="yellow")
        )
    elif m.decrypted:
        root.children.append(Node("decrypted", f"epoch {m.epoch}, opened with the key log"))
    base = HEADER_LEN if m.msg_type is not None else 0  # an ACK has no handshake header
    if m.raw and base:
        root.children.append(header_nodes(m.raw, m.type))
    body = m.body
    fn = _field_tree_fn()
    body_nodes: list[Node] = []
    if body is not None and fn is not None and dataclasses.is_dataclass(body):
        try:
            body_nodes = _from_field_nodes(fn(body, base=base))
        except Exception as exc:  # a renderer bug must not take the TUI down
            body_nodes = [Node("field_tree failed", repr(exc), style="red"),
                          *generic_nodes(body, None, base)]
    elif body is not None:
        body_nodes = generic_nodes(body, None, base)
    end = len(m.raw) if m.raw else None
    root.children.append(
        Node("body", type(body).__name__ if body is not None and not isinstance(body, Mapping)
             else f"{m.length} bytes", (base, end) if end else None, body_nodes)
    )
    return root


def verdict_tree(v: Verdict) -> Node:
    """A verdict: reason, culprit, and the evidence checks with their values."""
    root = Node("Verdict", v.code, style="bold dark_orange")
    root.children.append(Node("reason", v.reason))
    if v.culprit is not None:
        c = v.culprit
        root.children.append(
            Node("culprit", f"{c.type} ({c.dir}, flight {c.flight}, seq {c.message_seq}, "
                 f"frames {', '.join(map(str, c.frames))})")
        )
    root.children.append(Node("certain", "yes" if v.certain else "no"))
    if v.to_be_certain:
        root.children.append(Node("to be certain", v.to_be_certain))
    ev = Node("evidence", f"{len(v.evidence)} checks")
    for chk in v.evidence:
        mark, style = {True: ("✔", "green"), False: ("✘", "bold red"), None: ("?", "yellow")}[
            chk.passed
        ]
        n = Node(f"{mark} {chk.name}", chk.detail, style=style)
        n.children = [Node(k, str(val)) for k, val in chk.values.items()]
        ev.children.append(n)
    root.children.append(ev)
    return root


def _via_text(via: str) -> str:
    """``t2 channel 0x4000/tcp`` -> ``TURN t2, ChannelData 0x4000 (client on TCP)``."""
    alloc, _, how = via.partition(" ") if via[:1] == "t" and " " in via else ("", "", via)
    how, tcp, _ = how.partition("/tcp")
    name = {"send": "Send indication", "data": "Data indication"}.get(how)
    if name is None and how.startswith("channel "):
        name = "ChannelData " + how.split(" ", 1)[1]
    text = f"TURN {alloc}, {name or how}" if alloc else (name or how)
    return text + (" (client on TCP)" if tcp else "")


def event_tree(ev: Event, vias: Mapping[int, str] | None = None) -> Node:
    """The tree for any event the ladder shows."""
    if isinstance(ev, MessageSeen):
        return message_tree(ev, vias)
    if isinstance(ev, Verdict):
        return verdict_tree(ev)
    style = "bold red" if isinstance(ev, AlertSeen) else (
        "bold magenta" if isinstance(ev, FaultApplied) else "")
    root = Node(type(ev).__name__, iso_time(ev.ts), style=style)
    for f in dataclasses.fields(ev):  # type: ignore[arg-type]
        if f.name in ("ts", "session"):
            continue
        root.children.append(_node(f.name, getattr(ev, f.name), {}, 0))
    return root


def hex_dump(raw: bytes, highlight: Span | None = None, width: int = 16) -> Text:
    """``offset  hex bytes  ascii``, with ``highlight`` bytes in reverse video."""
    out = Text()
    if not raw:
        out.append("(no bytes: encrypted or not kept)", style="dim")
        return out
    lo, hi = highlight if highlight is not None else (-1, -1)
    for off in range(0, len(raw), width):
        chunk = raw[off : off + width]
        out.append(f"{off:04x}  ", style="dim")
        for i, b in enumerate(chunk):
            pos = off + i
            style = "reverse bold yellow" if lo <= pos < hi else (
                "cyan" if pos < HEADER_LEN else "")
            out.append(f"{b:02x}", style=style)
            out.append(" ", style=style if lo <= pos + 1 < hi and i + 1 < len(chunk) else "")
            if i == 7 and width > 8:
                out.append(" ")
        pad = width - len(chunk)
        out.append("   " * pad + (" " if pad > 8 and width > 8 else "") + " ")
        for i, b in enumerate(chunk):
            pos = off + i
            ch = chr(b) if 32 <= b < 127 else "."
            out.append(ch, style="reverse bold yellow" if lo <= pos < hi else "dim")
        if off + width < len(raw):
            out.append("\n")
    return out


class FieldTree(Tree[Span | None]):
    """The field tree; j/k move, h/l collapse/expand."""

    BINDINGS = [  # noqa: RUF012
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]


class DetailPane(Vertical):
    """Field tree above, hex bytes below."""

    def compose(self) -> ComposeResult:
        tree: FieldTree = FieldTree("(select a row)", id="fields")
        tree.show_root = True
        tree.guide_depth = 2
        yield tree
        with VerticalScroll(id="hexbox"):
            yield Static(Text(""), id="hex")

    def show(
        self, ev: Event | None, context: str = "", culprit: str | None = None,
        notes: Sequence[tuple[str, str]] = (), vias: Mapping[int, str] | None = None,
    ) -> None:
        """Display ``ev`` (None clears); ``culprit``: why this message is blamed; ``notes``:
        (label, value) lines first (a hello's JA4 and stack); ``vias``: the session's
        frame -> encapsulation (TURN)."""
        tree = self.query_one("#fields", FieldTree)
        tree.clear()
        self.raw = b""
        if ev is None:
            tree.root.set_label(Text(context or "(select a row)", style="dim"))
            self._hex(None)
            return
        node = event_tree(ev, vias)
        if culprit is not None:
            node.label = f"◆ CULPRIT {node.label}"
            node.style = "bold black on dark_orange"
            node.children.insert(0, Node("why", culprit, style="bold dark_orange"))
        for label, value in reversed(notes):
            node.children.insert(0, Node(label, value, style="bold cyan"))
        tree.root.set_label(self._label(node))
        tree.root.data = node.span
        for child in node.children:
            self._add(tree.root, child)
        tree.root.expand_all()
        if isinstance(ev, MessageSeen):
            self.raw = ev.raw
        elif hasattr(ev, "data"):
            self.raw = bytes(getattr(ev, "data", b""))
        self._hex(None)

    raw: bytes = b""

    @staticmethod
    def _label(n: Node) -> Text:
        t = Text(n.label, style=n.style or "bold")
        if n.value:
            t.append(": ", style="dim")
            t.append(n.value, style=n.style)
        return t

    def _add(self, parent: TreeNode[Span | None], n: Node) -> None:
        if n.children:
            branch = parent.add(self._label(n), data=n.span, expand=True)
            for c in n.children:
                self._add(branch, c)
        else:
            parent.add_leaf(self._label(n), data=n.span)

    highlight: Span | None = None
    """Byte range of ``raw`` currently highlighted."""

    def _hex(self, span: Span | None) -> None:
        self.highlight = span
        avail = self.size.width - 4  # border + scrollbar
        width = 16 if avail >= 72 or avail <= 0 else (8 if avail >= 40 else 4)
        self.query_one("#hex", Static).update(hex_dump(self.raw, span, width))

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Span | None]) -> None:
        self._hex(event.node.data)

