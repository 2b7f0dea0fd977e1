"""A :class:`~proxy.compare.diff.SessionDiff` as text (the ``diff`` command, the TUI's
pane) or as JSON objects (``--format jsonl``)."""

from __future__ import annotations

from typing import Any

from proxy.compare.diff import EXPECTED, FieldDiff, SessionDiff, SessionRecord

_TAGS = {"same": "same", "changed": "changed", "only in A": "only A", "only in B": "only B"}


def _who(rec: SessionRecord) -> str:
    s = rec.summary
    if s is None:
        return f"{rec.source}  (no DTLS handshake)"
    stacks = []
    if s.client_stack is not None:
        stacks.append(f"client {s.client_stack.name} {s.client_stack.version or ''}".rstrip())
    if s.server_stack is not None:
        stacks.append(f"server {s.server_stack.name} {s.server_stack.version or ''}".rstrip())
    return (f"{rec.source}  {s.client_label or s.client} -> {s.server_label or s.server}, "
            f"{rec.state}" + (f"  [{'; '.join(stacks)}]" if stacks else ""))


def _field_line(f: FieldDiff, everything: bool) -> str | None:
    if f.status == "same":
        return f"{f.name}: {f.a}" if everything else None
    if f.status == "expected":
        return f"{f.name}: {EXPECTED}"
    if f.status == "only in A":
        return f"{f.name}: {f.a} (only in A)"
    if f.status == "only in B":
        return f"{f.name}: {f.b} (only in B)"
    return f"{f.name}: {list_change(f.a, f.b) or f'{f.a} -> {f.b}'}"


def list_change(a: str | None, b: str | None) -> str | None:
    """For two comma-separated lists: what only one has, and whether the order of the
    rest changed (None when they are not lists)."""
    if a is None or b is None or ", " not in a + b:
        return None
    la, lb = a.split(", "), b.split(", ")
    only_a = [x for x in la if x not in lb]
    only_b = [x for x in lb if x not in la]
    parts = []
    if only_a:
        parts.append("only in A: " + ", ".join(only_a))
    if only_b:
        parts.append("only in B: " + ", ".join(only_b))
    if [x for x in la if x in lb] != [x for x in lb if x in la]:
        parts.append(f"order changed ({a} -> {b})")
    return "; ".join(parts) or None


def _short(text: str | None, limit: int = 100) -> str:
    t = text or ""
    return t if len(t) <= limit else t[: limit - 3] + "..."


def diff_text(d: SessionDiff, *, everything: bool = False) -> str:
    """Summary line, the two sessions, one row per message (changed fields indented),
    then the session's own fields."""
    lines = [d.summary, f"A  {_who(d.a)}", f"B  {_who(d.b)}", ""]
    for m in d.messages:
        flight = m.flight_a if m.flight_a is not None else m.flight_b
        fl = "" if flight is None else str(flight)
        expected = [f.name for f in m.fields if f.status == "expected"]
        note = f"  ({', '.join(expected)}: {EXPECTED})" if expected and m.status == "same" \
            else ""
        lines.append(f"  {_TAGS[m.status]:<8} {fl:>2}  {m.dir:<15} {m.type}{note}")
        if m.status == "changed" or everything:
            for f in m.fields:
                text = _field_line(f, everything)
                if text is not None and not (m.status == "same" and f.status == "expected"):
                    lines.append(f"               {_short(text)}")
    lines.append("")
    lines.append("  session")
    for f in d.session:
        text = _field_line(f, everything)
        if text is not None and not (f.status == "expected" and not everything):
            lines.append(f"    {_TAGS.get(f.status, f.status):<8} {_short(text, 140)}")
    return "\n".join(lines) + "\n"


def _field_obj(f: FieldDiff) -> dict[str, Any]:
    return {"name": f.name, "a": f.a, "b": f.b, "status": f.status}


def diff_jsonl(d: SessionDiff) -> list[dict[str, Any]]:
    """``summary`` first, then one ``message`` object per aligned message, then
    ``session``: every field with ``a``, ``b`` and ``status``."""
    out: list[dict[str, Any]] = [{"kind": "summary", "summary": d.summary, "a": d.a.source,
                                  "b": d.b.source, "state_a": d.a.state,
                                  "state_b": d.b.state}]
    for m in d.messages:
        out.append({"kind": "message", "status": m.status, "dir": m.dir, "type": m.type,
                    "flight_a": m.flight_a, "flight_b": m.flight_b,
                    "fields": [_field_obj(f) for f in m.fields]})
    out.append({"kind": "session", "fields": [_field_obj(f) for f in d.session]})
    return out
