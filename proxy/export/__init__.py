"""Subscribers that export events: JSONL (structlog), console lines, pcapng legs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from proxy.bus import Subscription
from proxy.events import Event


async def run_subscriber(
    sub: Subscription, handle: Callable[[list[Event]], None], interval: float = 0.05
) -> None:
    """Drain ``sub`` every ``interval`` seconds into ``handle`` until cancelled.

    On cancellation, whatever is still queued is handed over once more.
    """
    try:
        while True:
            await asyncio.sleep(interval)
            events = sub.drain()
            if events:
                handle(events)
    except asyncio.CancelledError:
        events = sub.drain()
        if events:
            handle(events)
        raise
