"""Reports to share: one self-contained HTML page (``html``) or Markdown (``markdown``) of
what happened to each session, for someone who has nothing installed.

``session_blocks`` renders each session on its own (``analyze --jobs`` does that in
several processes), ``document`` puts them together (sessions with trouble first, an
overview when there are several, redaction of addresses). Events in, text out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence

from proxy.compare.changes import ChangeTracker
from proxy.compare.diff import SessionDiff, diff_sessions, record_of
from proxy.events import Event
from proxy.report.model import DIFF_MARK, SessionBlock, gather
from proxy.report.options import ReportOptions

FORMATS = ("html", "markdown")

__all__ = ["FORMATS", "ReportOptions", "SessionBlock", "document", "render",
           "session_blocks"]


def session_blocks(events: Iterable[Event], fmt: str, opts: ReportOptions
                   ) -> list[SessionBlock]:
    """Each session of ``events`` rendered in ``fmt``, in order of first event."""
    if fmt == "html":
        from proxy.report.html import session_block
    elif fmt == "markdown":
        from proxy.report.markdown import session_block
    else:
        raise ValueError(f"no report format {fmt!r} (choose {' or '.join(FORMATS)})")
    events = list(events)
    changes = ChangeTracker()
    changes.feed(events)
    return [dataclasses.replace(session_block(sd, opts), shape=changes.shapes.get(sd.sid),
                                record=record_of(sd.events, sd.sid))
            for sd in gather(events)]


def document(blocks: Sequence[SessionBlock], fmt: str, opts: ReportOptions) -> str:
    """The whole report: sessions with trouble first, each group in session order, what
    changed and since when, and each failed session compared with one that worked."""
    opts = _changes(blocks, opts)
    if fmt == "html":
        from proxy.report.html import diff_part, page
    else:
        from proxy.report.markdown import diff_part
    blocks = [_with_diff(b, blocks, opts, diff_part) for b in blocks]
    ordered = [b for b in blocks if b.troubled] + [b for b in blocks if not b.troubled]
    if fmt == "html":
        return page(ordered, opts)
    from proxy.report.markdown import document as markdown_document

    return markdown_document(ordered, opts)


def _changes(blocks: Sequence[SessionBlock], opts: ReportOptions) -> ReportOptions:
    """The overview's "what changed" (two sessions or more with an outcome, one failed)."""
    tracker = ChangeTracker()
    tracker.shapes = {b.sid: b.shape for b in blocks if b.shape is not None}
    done = tracker.done()
    if len(done) < 2 or all(s.outcome == "ok" for s in done):
        return opts
    return dataclasses.replace(opts, overview_notes=tuple(tracker.findings()),
                               overview_groups=tuple(tracker.groups()))


def reference(block: SessionBlock, blocks: Sequence[SessionBlock]) -> SessionBlock | None:
    """The session a failed one is compared with: one that established, between the same
    two sides if there is one, the last before it (else the first after)."""
    if block.shape is None or block.shape.outcome != "failed" or block.record is None:
        return None
    ok = [b for b in blocks if b.shape is not None and b.shape.outcome == "ok"
          and b.record is not None]
    same = [b for b in ok if b.shape is not None and (b.shape.host(b.shape.client),
            b.shape.host(b.shape.server)) == (block.shape.host(block.shape.client),
                                               block.shape.host(block.shape.server))]
    pool = same or ok
    before = [b for b in pool if b.first_ts <= block.first_ts]
    return before[-1] if before else (pool[0] if pool else None)


def _with_diff(block: SessionBlock, blocks: Sequence[SessionBlock], opts: ReportOptions,
               part: Callable[[str, SessionDiff, ReportOptions], str]) -> SessionBlock:
    ref = reference(block, blocks)
    text = ""
    if ref is not None and ref.record is not None and block.record is not None:
        text = part(ref.sid, diff_sessions(ref.record, block.record), opts)
    return dataclasses.replace(block, text=block.text.replace(DIFF_MARK, text))


def render(events: Iterable[Event], fmt: str, opts: ReportOptions | None = None) -> str:
    """``events`` as one report."""
    opts = opts or ReportOptions()
    return document(session_blocks(events, fmt, opts), fmt, opts)
