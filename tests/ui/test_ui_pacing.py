"""How the TUI spreads work over refreshes: the sessions list's capped redraw, and the
garbage collector's pacing (no timing asserted: speed is bench/tui.py's)."""

from __future__ import annotations

import asyncio
import gc

from rich.text import Text

from proxy.bus import Bus
from proxy.events import SessionOpened, SessionSummary
from ui.app import DtlsProxyApp
from ui.gcpace import OFF_THRESHOLD, GcPacer
from ui.sessions import SessionsTable

SIZE = (160, 45)


def opened(n: int) -> list[SessionOpened]:
    return [SessionOpened(100.0, f"s{i}", (f"127.0.0.1:{10000 + i}", "127.0.0.1:8088"),
                          ("browser", "janus")) for i in range(n)]


def established(sid: str) -> SessionSummary:
    return SessionSummary(101.0, sid, "established", "127.0.0.1:1", "127.0.0.1:2",
                          "browser", "janus", "DTLS 1.2")


def state_cell(table: SessionsTable, sid: str) -> str:
    cell = table.get_cell(sid, "state")
    return (cell.plain if isinstance(cell, Text) else cell).strip()


def test_400_changed_sessions_redraw_the_rows_on_screen_first_then_the_rest() -> None:
    app = DtlsProxyApp(events=opened(400))

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            table = app.query_one(SessionsTable)
            assert len(table.shown) == 400
            table.move_cursor(row=300)  # the screen now shows the rows around s300
            await pilot.pause()
            app.model.absorb(established(f"s{i}") for i in range(400))
            dirty = {f"s{i}" for i in range(400)}
            table.sync(app.visible_sessions(), dirty, app.model.last_ts)
            assert len(dirty) == 400 - table.max_updated_rows == 200
            assert state_cell(table, "s300") == "established"
            assert "s300" not in dirty
            table.sync(app.visible_sessions(), dirty, app.model.last_ts)
            assert dirty == set()
            assert {state_cell(table, f"s{i}") for i in range(400)} == {"established"}

    asyncio.run(main())


def test_pacer_runs_a_due_full_collection_at_a_refresh_not_while_behind() -> None:
    before = gc.get_threshold()
    pacer = GcPacer(min_interval=1.0, max_postpone=2.0)
    pacer.start(now=100.0)
    try:
        assert gc.get_threshold() == (before[0], before[1], OFF_THRESHOLD)
        gc.collect()
        assert not pacer.due()
        assert pacer.before_refresh(behind=False, now=105.0) == 0.0
        for _ in range(before[2]):  # as many gen-1 collections as make Python's full one due
            gc.collect(1)
        assert pacer.due()
        pacer.before_refresh(behind=False, now=100.5)  # 0.5 s after the last: too soon
        pacer.before_refresh(behind=True, now=101.5)  # the app is behind: it waits
        assert pacer.collections == 0
        assert pacer.due()
        pacer.before_refresh(behind=True, now=103.0)  # due for 2.5 s: runs even so
        assert pacer.collections == 1
        assert not pacer.due()
        for _ in range(before[2]):
            gc.collect(1)
        pacer.before_refresh(behind=False, now=104.5)
        assert pacer.collections == 2
    finally:
        pacer.stop()
    assert gc.get_threshold() == before


def test_live_app_freezes_start_up_objects_and_leaves_the_collector_as_it_found_it() -> None:
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    bus = Bus()
    sub = bus.subscribe(maxlen=100)
    app = DtlsProxyApp(sub)
    seen: list[int] = []

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            seen.append(gc.get_freeze_count())
            seen.append(gc.get_threshold()[2])

    asyncio.run(main())
    assert seen[0] > 0
    assert seen[1] == OFF_THRESHOLD
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before
