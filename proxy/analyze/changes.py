"""The "what changed, and since when" part of ``analyze``'s overview: sessions grouped by
outcome and handshake shape, and the sentences of :mod:`proxy.compare.changes`."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.compare.changes import ChangeTracker, SessionShape

GROUP_LINES = 10
"""Groups listed (largest first); the rest are counted."""


def change_overview(shapes: Sequence[SessionShape]) -> list[str]:
    """Lines for the overview when two sessions or more have an outcome and one of them
    failed; else nothing."""
    tracker = ChangeTracker()
    tracker.shapes = {s.sid: s for s in shapes}
    done = tracker.done()
    if len(done) < 2 or all(s.outcome == "ok" for s in done):
        return []  # nothing went wrong: the overview's first line says it all
    out = []
    findings = tracker.findings()
    if findings:
        out.append("What changed:")
        out += [f"  {line}" for line in findings]
    groups = tracker.groups()
    out.append(f"By outcome and handshake shape ({len(done)} sessions with an outcome):")
    for n, text in groups[:GROUP_LINES]:
        out.append(f"  {n:>5}  {text}")
    if len(groups) > GROUP_LINES:
        rest = sum(n for n, _ in groups[GROUP_LINES:])
        out.append(f"  {rest:>5}  in {len(groups) - GROUP_LINES} more shapes")
    out.append("")
    return out
