"""Reports to share: one self-contained HTML page (``html``) or Markdown (``markdown``) of
what happened to each session, for someone who has nothing installed.

``session_blocks`` renders each session on its own (``analyze --jobs`` does that in
several processes), ``document`` puts them together (sessions with trouble first, an
overview when there are several, redaction of addresses). Events in, text out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from proxy.events import Event
from proxy.report.model import SessionBlock, gather
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
    return [session_block(sd, opts) for sd in gather(events)]


def document(blocks: Sequence[SessionBlock], fmt: str, opts: ReportOptions) -> str:
    """The whole report: sessions with trouble first, each group in session order."""
    ordered = [b for b in blocks if b.troubled] + [b for b in blocks if not b.troubled]
    if fmt == "html":
        from proxy.report.html import page

        return page(ordered, opts)
    from proxy.report.markdown import document as markdown_document

    return markdown_document(ordered, opts)


def render(events: Iterable[Event], fmt: str, opts: ReportOptions | None = None) -> str:
    """``events`` as one report."""
    opts = opts or ReportOptions()
    return document(session_blocks(events, fmt, opts), fmt, opts)
