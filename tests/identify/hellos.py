"""The first-copy hello bodies of every session in a capture (test helper)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proxy.analyze.pipeline import analyze_capture
from proxy.events import MessageSeen


def hello_events(path: Path) -> list[MessageSeen]:
    """First copies of every ClientHello, ServerHello and HelloRetryRequest, in order."""
    return [
        ev for ev in analyze_capture(path)
        if isinstance(ev, MessageSeen) and ev.copy == 1
        and ev.type in ("ClientHello", "ServerHello", "HelloRetryRequest")
    ]


def hellos_of(path: Path) -> list[Any]:
    """Their parsed bodies."""
    return [ev.body for ev in hello_events(path) if ev.body is not None]
