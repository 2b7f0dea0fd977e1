"""Keep Python's full garbage collections out of the TUI's busy refreshes.

A full (generation 2) collection scans every tracked object and stops the loop
for tens of milliseconds on a busy relay: long enough, on top of a refresh and
the screen's paint, to make the view stutter. Two measures, both process-wide
(the TUI owns the process's loop when it runs):

- :meth:`GcPacer.start` collects once and freezes what exists at start-up
  (modules, the relay's long-lived state, the widget tree): those objects never
  become garbage, and frozen objects are not scanned again.
- While the app is behind (a refresh left events in its queue), automatic full
  collections are postponed (:meth:`GcPacer.behind`), for ``max_postpone``
  seconds at most so cyclic garbage stays bounded; the usual thresholds come back
  as soon as the app caught up (:meth:`GcPacer.caught_up`). The young
  generations are collected as usual throughout.
"""

from __future__ import annotations

import gc
import time

POSTPONED_THRESHOLD = 1_000_000
"""Generation-2 threshold while postponing: gen-1 collections before a full one."""


class GcPacer:
    """Freezes start-up objects and postpones full collections while behind."""

    def __init__(self, max_postpone: float = 2.0) -> None:
        """``max_postpone``: seconds a full collection may wait at most."""
        self.max_postpone = max_postpone
        self.postponed_since: float | None = None
        self._threshold: tuple[int, int, int] | None = None
        self._froze = False

    def start(self) -> None:
        """Collect, then freeze every object alive now (kept out of later scans)."""
        if gc.get_freeze_count() == 0:  # the host did not freeze: ours to undo in stop()
            gc.collect()
            gc.freeze()
            self._froze = True

    def behind(self, now: float | None = None) -> None:
        """A refresh left work queued: no full collection now (up to ``max_postpone``)."""
        now = time.monotonic() if now is None else now
        if self.postponed_since is None:
            t0, t1, t2 = gc.get_threshold()
            self._threshold = (t0, t1, t2)
            gc.set_threshold(t0, t1, POSTPONED_THRESHOLD)
            self.postponed_since = now
        elif now - self.postponed_since > self.max_postpone:
            self.caught_up()  # the collector's turn; postponing starts over next time

    def caught_up(self) -> None:
        """The queue is drained: Python's own thresholds again."""
        if self._threshold is not None:
            gc.set_threshold(*self._threshold)
            self._threshold = None
        self.postponed_since = None

    def stop(self) -> None:
        """Restore the thresholds and unfreeze what :meth:`start` froze."""
        self.caught_up()
        if self._froze:
            gc.unfreeze()
            self._froze = False
