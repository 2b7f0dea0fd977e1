"""Fan-out of events to subscribers through bounded queues with drop counters.

The relay publishes; the JSONL writer, the console renderer and the TUI each
hold a :class:`Subscription`. Publishing never blocks and never fails: when a
subscriber falls behind, its oldest undelivered events are dropped and counted
(``Subscription.dropped``), so forwarding is never slowed by a reader.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from proxy.events import Event


class Subscription:
    """A bounded queue of events for one subscriber.

    ``notify`` (optional) is called after each publish that added events; it
    must be cheap (e.g. set an asyncio.Event or schedule a drain).
    """

    def __init__(self, maxlen: int, notify: Callable[[], None] | None = None) -> None:
        self._queue: deque[Event] = deque()
        self.maxlen = maxlen
        self.dropped = 0
        self.notify = notify

    def _put(self, events: Iterable[Event]) -> None:
        q = self._queue
        q.extend(events)
        over = len(q) - self.maxlen
        if over > 0:
            self.dropped += over
            for _ in range(over):
                q.popleft()

    def drain(self, limit: int | None = None) -> list[Event]:
        """Take up to ``limit`` queued events (all when None), oldest first."""
        q = self._queue
        if limit is None or limit >= len(q):
            out = list(q)
            q.clear()
            return out
        return [q.popleft() for _ in range(limit)]

    def __len__(self) -> int:
        return len(self._queue)


class Bus:
    """Publish events to every subscription."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(
        self, maxlen: int = 100_000, notify: Callable[[], None] | None = None
    ) -> Subscription:
        """A new subscription; it receives events published from now on."""
        sub = Subscription(maxlen, notify)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to ``sub``."""
        if sub in self._subs:
            self._subs.remove(sub)

    def publish(self, events: list[Event]) -> None:
        """Deliver ``events`` (in order) to every subscription; never blocks."""
        if not events:
            return
        for sub in self._subs:
            sub._put(events)
            if sub.notify is not None:
                sub.notify()
