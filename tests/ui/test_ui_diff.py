"""The TUI's diff (``m`` marks the reference, ``d`` compares) and the stacks it shows, on
the log of a real demo tour: the same two pyOpenSSL peers, a clean call (s1) and one whose
CertificateVerify the relay corrupted (s2)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from rich.text import Text
from textual.widgets import Static

from proxy.capture.eventlog import events_from_jsonl
from proxy.events import Event
from tests.conftest import ROOT
from ui.app import DtlsProxyApp
from ui.diffview import MARK, DiffScreen
from ui.ladder import LadderTable
from ui.sessions import SessionsTable

SIZE = (160, 45)


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> list[Event]:
    log = tmp_path_factory.mktemp("uitour") / "tour.jsonl"
    res = subprocess.run([sys.executable, "-m", "proxy", "demo", "--headless", "--log-file",
                          str(log)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    return events_from_jsonl(log)


def _plain(value: object) -> str:
    return value.plain if isinstance(value, Text) else str(value)


def test_mark_then_diff_shows_the_pane_and_marks_the_ladder(tour: list[Event]) -> None:
    app = DtlsProxyApp(events=tour)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            table = app.query_one(SessionsTable)
            await pilot.press("d")  # no reference yet: a notice, no pane
            await pilot.pause()
            assert not isinstance(app.screen, DiffScreen)
            table.select_sid("s1")
            await pilot.pause()
            await pilot.press("m")
            table.select_sid("s2")
            await pilot.pause()
            assert app.selected == "s2"
            await pilot.press("d")
            await pilot.pause()
            assert isinstance(app.screen, DiffScreen)
            text = _plain(app.screen.query_one("#difftext", Static).render())
            first = text.splitlines()[0]
            assert "messages identical except CertificateVerify signature" in first
            assert "A established; B failed" in first
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, DiffScreen)
            ladder = app.query_one(LadderTable)
            marked = [r.type for r in ladder.rows_shown if _plain(r.cells[3]).startswith(MARK)]
            assert marked and marked[0] == "CertificateVerify"
            assert "ClientHello" not in marked

    asyncio.run(main())


def test_sessions_table_and_detail_show_the_stacks(tour: list[Event]) -> None:
    app = DtlsProxyApp(events=tour)

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            table = app.query_one(SessionsTable)
            peers = _plain(table.get_cell("s1", "peers"))
            assert "(OpenSSL 4.0.x)" in peers.split("⇄")[0]
            assert "(OpenSSL 1.1.1 to 4.0.x)" in peers.split("⇄")[1]
            ladder = app.query_one(LadderTable)
            hello = next(r for r in ladder.rows_shown if r.type == "ClientHello")
            ladder.select_key(hello.key)
            await pilot.pause()
            labels = [n.label.plain for n in app.query_one("#fields").root.children]
            assert any(x.startswith("JA4: dd2i") for x in labels), labels
            assert any(x.startswith("stack: OpenSSL 4.0.x (high)") for x in labels), labels

    asyncio.run(main())


def test_demo_log_is_real(tour: list[Event]) -> None:
    """The fixture is a real run (two sessions, one failed): nothing hand-made."""
    states = {e.session: e.state for e in tour if type(e).__name__ == "SessionSummary"}
    assert states == {"s1": "established", "s2": "failed"}


