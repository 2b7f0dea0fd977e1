"""The lines of a ladder that say which stacks are talking (``client stack ...``)."""

from __future__ import annotations

from proxy.events import SessionSummary, StackGuess

EVIDENCE_SHOWN = 4


def stack_line(role: str, g: StackGuess) -> str:
    """``  client stack OpenSSL 3.0.x (high): no supported_versions ...; ...``."""
    name = g.name + (f" {g.version}" if g.version else "")
    if g.nearest:
        name += f", nearest {g.nearest}"
    evidence = "; ".join(g.evidence[:EVIDENCE_SHOWN])
    return f"  {role} stack {name} ({g.confidence}): {evidence}"


def stack_lines(s: SessionSummary) -> list[str]:
    """One line per side whose hello has been seen."""
    return [stack_line(role, g) for role, g in (("client", s.client_stack),
                                                 ("server", s.server_stack)) if g is not None]
