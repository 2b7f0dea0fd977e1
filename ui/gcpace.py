"""Run Python's full garbage collections where the TUI can afford them.

A full (generation 2) collection scans every tracked object and stops the loop
for tens of milliseconds on a busy relay. Left to Python it starts at any
allocation: in the middle of a refresh or of the screen's paint, so the pause
adds to theirs and the view stutters. While the live app runs, :class:`GcPacer`
(process-wide: the TUI owns the process's loop) does instead:

- :meth:`GcPacer.start` collects once and freezes what exists at start-up
  (modules, the relay's long-lived state, the widget tree): those objects never
  become garbage, and frozen objects are not scanned again.
- Python's automatic full collections are turned off (the young generations are
  collected as usual). :meth:`GcPacer.before_refresh` runs the full collection
  when Python would have (its generation-2 count reached the threshold), at the
  start of a refresh, which then absorbs for less time (and which the app runs
  right after the screen's paint instead of a whole interval later); not more often than
  every ``min_interval`` seconds, and not while the app is behind (events left
  queued by the previous refresh) for up to ``max_postpone`` seconds, so cyclic
  garbage stays bounded.
- :meth:`GcPacer.stop` gives the collector back as it was.
"""

from __future__ import annotations

import gc
import time

OFF_THRESHOLD = 1_000_000
"""Generation-2 threshold while the pacer decides: never reached."""


class GcPacer:
    """Freezes start-up objects; runs full collections at the start of refreshes."""

    def __init__(self, min_interval: float = 1.0, max_postpone: float = 2.0) -> None:
        """``min_interval``: seconds between full collections at least; ``max_postpone``:
        seconds a due collection may wait while the app is behind."""
        self.min_interval = min_interval
        self.max_postpone = max_postpone
        self.collections = 0
        self._threshold: tuple[int, int, int] | None = None
        self._froze = False
        self._last = 0.0
        self._due_since: float | None = None

    @property
    def active(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._threshold is not None

    def start(self, now: float | None = None) -> None:
        """Collect, freeze every object alive now, and take over full collections."""
        if self.active:
            return
        if gc.get_freeze_count() == 0:  # the host did not freeze: ours to undo in stop()
            gc.collect()
            gc.freeze()
            self._froze = True
        t0, t1, t2 = gc.get_threshold()
        self._threshold = (t0, t1, t2)
        gc.set_threshold(t0, t1, OFF_THRESHOLD)
        self._last = time.monotonic() if now is None else now

    def due(self) -> bool:
        """Python would run a full collection by now."""
        return self._threshold is not None and gc.get_count()[2] >= self._threshold[2]

    def ready(self, behind: bool, now: float | None = None) -> bool:
        """The next refresh will run a full collection (the app schedules it early)."""
        if not self.due():
            self._due_since = None
            return False
        now = time.monotonic() if now is None else now
        if self._due_since is None:
            self._due_since = now
        if now - self._last < self.min_interval:
            return False
        return not behind or now - self._due_since >= self.max_postpone

    def before_refresh(self, behind: bool, now: float | None = None) -> float:
        """Run the full collection if it is due and this refresh can take it; returns
        the seconds it took (0.0 when none ran)."""
        now = time.monotonic() if now is None else now
        if not self.ready(behind, now):
            return 0.0
        start = time.perf_counter()
        gc.collect(2)
        self.collections += 1
        self._last = now
        self._due_since = None
        return time.perf_counter() - start

    def stop(self) -> None:
        """Python's thresholds again; unfreeze what :meth:`start` froze."""
        if self._threshold is not None:
            gc.set_threshold(*self._threshold)
            self._threshold = None
        if self._froze:
            gc.unfreeze()
            self._froze = False
