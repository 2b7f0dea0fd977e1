"""``--format markdown``: the same story for a GitHub issue or a mailing list.

Per session: the verdict, the culprit, the evidence as a table, what was negotiated,
and the ladder as the text diagram ``analyze`` prints, in a fenced block. With several
sessions an overview first. The whole stays within GitHub's comment limit
(:data:`LIMIT` characters): sessions that do not fit are left out, and a note says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from proxy.analyze.ladder import render_blocks
from proxy.compare.diff import SessionDiff
from proxy.compare.render import diff_text
from proxy.events import Check, iso_time
from proxy.report.model import (
    DIFF_MARK,
    SessionBlock,
    SessionData,
    alert_sentence,
    certificates,
    culprit_text,
    evidence,
    headline,
    side_name,
    stacks,
    summary_facts,
)
from proxy.report.options import ReportOptions, certificate_names, is_key_material
from proxy.report.redact import Pseudonyms, Scrub

LIMIT = 65536
"""GitHub's limit on an issue or comment body, in characters."""

_SPECIAL = re.compile(r"([\\`*<\[\]|])|(?<!\w)_|_(?!\w)")


def md(text: object) -> str:
    """Inline text made literal: Markdown's active characters escaped, one line."""
    flat = " ".join(str(text).split())
    return _SPECIAL.sub(lambda m: "\\" + m.group(0), flat)


def fence(lines: Sequence[str], info: str = "text") -> list[str]:
    """A fenced code block longer than any backtick run inside it."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    mark = "`" * max(3, longest + 1)
    return [mark + info, *lines, mark]


def session_block(sd: SessionData, opts: ReportOptions) -> SessionBlock:
    """One session's Markdown (and what the overview says of it)."""
    scrub = Scrub(certificate_names(sd) if opts.redact_certificates else ())
    head = scrub(headline(sd))
    out = [f"## {md(sd.sid)} — {md(sd.state)} — {md(scrub(side_name(sd, 'client')))} ⇄ "
           f"{md(scrub(side_name(sd, 'server')))}", "", f"**Verdict:** {md(head)}", ""]
    notes = []
    culprit = culprit_text(sd)
    if culprit:
        notes.append(f"**Culprit:** {md(scrub(culprit))}")
    alert = alert_sentence(sd)
    if alert and sd.verdicts:
        notes.append(f"**Alert:** {md(scrub(alert))}")
    for v in sd.verdicts[:-1]:
        notes.append(f"**Also:** {md(v.code)}: {md(scrub(v.reason))}")
    if sd.verdicts and sd.verdicts[-1].to_be_certain:
        notes.append(f"**To be certain:** {md(scrub(sd.verdicts[-1].to_be_certain))}")
    for pv in sd.peer_views.values():
        notes.append(f"**Peer's view:** {md(scrub(pv.sentence))}")
    if notes:
        out += ["  \n".join(notes), ""]
    out += _evidence(sd, scrub)
    if sd.summary is not None:
        facts = [(k, v) for k, v in summary_facts(sd.summary)
                 if k not in ("state", "client label", "server label", "datagrams")]
        out += ["**Negotiated:** " + "; ".join(f"{md(k)} {md(scrub(v))}" for k, v in facts), ""]
    certs = [c for c in certificates(sd) if c.position == 0 and c.fingerprint]
    if certs:
        out += ["**Certificates (SHA-256):** " + "; ".join(
            f"{c.role} `{c.fingerprint}`" for c in certs), ""]
    found = stacks(sd)
    if found:
        out += ["**Stacks:** " + "; ".join(f"{md(k)}: {md(scrub(v))}" for k, v in found), ""]
    ladder = render_blocks(sd.events)
    if ladder:
        lines = [scrub(line) for line in ladder[0].lines[ladder[0].diagram:]]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        out += fence(lines)
    out += ["", DIFF_MARK]
    return SessionBlock(sd.sid, sd.state, head, sd.troubled, sd.first_ts, sd.last_ts,
                        "\n".join(out),
                        scrub(f"{side_name(sd, 'client')} ⇄ {side_name(sd, 'server')}"))


DIFF_LINES = 40
"""Lines of the message-by-message comparison kept in Markdown (the HTML has them all)."""


def _steps(d: SessionDiff) -> str:
    """``dtlsproxy diff``'s text without its first line (the sentence shown above it)."""
    text = diff_text(d)
    head, _, rest = text.partition("\n")
    return rest if head == d.summary else text


def diff_part(ref: str, d: SessionDiff, opts: ReportOptions) -> str:
    """A failed session compared with ``ref``, one that established."""
    scrub = Scrub(certificate_names([*d.a.messages, *d.b.messages])
                  if opts.redact_certificates else ())
    lines = [scrub(line) for line in _steps(d).splitlines()]
    if len(lines) > DIFF_LINES:
        lines = [*lines[:DIFF_LINES], f"... {len(lines) - DIFF_LINES} more lines"]
    return "\n".join([f"**Compared with {md(ref)} (established):** {md(scrub(d.summary))}",
                      "", *fence(lines), ""])


def _evidence(sd: SessionData, scrub: Scrub) -> list[str]:
    source, checks = evidence(sd)
    if not checks:
        return ["_No checks were run._", ""]
    out = [f"Evidence ({md(source)}):", "", "| result | check | detail |", "|---|---|---|"]
    for c in checks:
        if not isinstance(c, Check):
            continue
        mark = {True: "ok", False: "**FAIL**", None: "n/a"}[c.passed]
        values = "; ".join(f"{k}: {_short(v)}" for k, v in c.values.items()
                           if not is_key_material(k))
        detail = md(scrub(c.detail)) + (f" ({md(scrub(values))})" if values else "")
        out.append(f"| {mark} | {md(scrub(c.name))} | {detail} |")
    return [*out, ""]


def _short(value: str, most: int = 160) -> str:
    """A check's value, cut (the HTML report has it whole)."""
    return value if len(value) <= most else value[:most - 1] + "…"


def document(blocks: Sequence[SessionBlock], opts: ReportOptions, limit: int = LIMIT) -> str:
    """The whole Markdown text, at most ``limit`` characters."""
    names = Pseudonyms() if opts.redact_addresses else None

    def redact(text: str) -> str:
        return names.sub(text) if names is not None else text

    head = [f"# {md(opts.title)}", ""]
    source = [opts.source] if opts.source else []
    if blocks:
        first = min(b.first_ts for b in blocks)
        last = max(b.last_ts for b in blocks)
        source.append(f"{iso_time(first)} – {iso_time(last)}")
    source.append(f"{len(blocks)} session{'s' if len(blocks) != 1 else ''}")
    head += [md(" · ".join(source)), ""]
    if len(blocks) > 1:
        head += _overview(blocks, opts)
    if not blocks:
        head += ["No DTLS or STUN found.", ""]
    red = [w for w, on in (("addresses are pseudonyms", opts.redact_addresses),
                           ("certificates by fingerprint only", opts.redact_certificates)) if on]
    tail = "_Made by dtlsproxy" + (f"; redacted: {', '.join(red)}" if red else "") + "._\n"
    text = redact("\n".join(head)) + "\n"
    kept, cut = 0, ""
    for b in blocks:
        piece = redact(b.text) + "\n"
        room = limit - len(text) - len(tail) - _NOTE_ROOM
        if len(piece) > room:
            if room >= _MIN_CUT:
                text += _cut(piece, room)
                cut = b.sid
                kept += 1
            break
        text += piece
        kept += 1
    if kept < len(blocks) or cut:
        left = [b.sid for b in blocks[kept:]]
        listed = ", ".join(left[:30]) + (", …" if len(left) > 30 else "")
        text += (f"> **Truncated** to fit GitHub's {limit:,}-character limit: "
                 + (f"{cut} is cut short; " if cut else "")
                 + f"{kept} of {len(blocks)} sessions shown"
                 + (f"; not shown: {listed}" if left else "")
                 + ". The HTML report (`--format html`) has everything, or choose sessions "
                 "with `--session ID`.\n\n")
    return text + tail


_MIN_CUT = 2000
"""A session that does not fit is shown cut short when at least this much room is left."""


def _cut(piece: str, room: int) -> str:
    """The first lines of ``piece`` that fit in ``room`` (a fenced block left open is
    closed, with a line saying what is missing)."""
    out: list[str] = []
    used = 0
    fence_mark: str | None = None
    lines = piece.split("\n")
    for i, line in enumerate(lines):
        if used + len(line) + 1 > room - 80:
            if fence_mark is not None:
                out += [f"... {len(lines) - i} more lines", fence_mark]
            break
        out.append(line)
        used += len(line) + 1
        stripped = line.strip()
        if stripped.startswith("```"):
            mark = stripped[:len(stripped) - len(stripped.lstrip("`"))]
            if fence_mark is None:
                fence_mark = mark
            elif mark == fence_mark:
                fence_mark = None
    return "\n".join(out) + "\n\n"


_NOTE_ROOM = 600
"""Characters kept free for the truncation note."""


def _overview(blocks: Sequence[SessionBlock], opts: ReportOptions) -> list[str]:
    counts: dict[str, int] = {}
    for b in blocks:
        counts[b.state] = counts.get(b.state, 0) + 1
    out = [f"**{len(blocks)} sessions:** " + ", ".join(f"{n} {s}" for s, n in counts.items()),
           ""]
    if opts.overview_notes:
        out += ["**What changed:**", "", *(f"- {md(note)}" for note in opts.overview_notes), ""]
    if opts.overview_groups:
        out += ["**By outcome and handshake shape:**", "",
                *(f"- {n} × {md(text)}" for n, text in opts.overview_groups[:10]), ""]
    out += ["| session | state | between | what happened |", "|---|---|---|---|"]
    for b in blocks[:100]:
        out.append(f"| {md(b.sid)} | {'**' + b.state + '**' if b.troubled else b.state} | "
                   f"{md(b.title)} | {md(b.headline[:300])} |")
    if len(blocks) > 100:
        out.append(f"| … | | | {len(blocks) - 100} more sessions |")
    return [*out, ""]
