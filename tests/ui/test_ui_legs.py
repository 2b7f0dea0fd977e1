"""The TUI's legs pane (``b``): one handshake seen at two points, side by side, on the
relay's own capture of a CertificateVerify it corrupted (tests/data/README.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static

from proxy.analyze.pipeline import analyze_capture
from proxy.events import Event
from proxy.session import Tracker
from proxy.verdict import VerdictEngine
from ui.app import DtlsProxyApp
from ui.legsview import LegsScreen
from ui.sessions import SessionsTable

SIZE = (160, 45)
CAPTURE = Path(__file__).resolve().parents[1] / "data" / (
    "openssl-certificate-verify-altered-by-relay.pcapng")


def events() -> list[Event]:
    return list(analyze_capture(CAPTURE, tracker=Tracker(verdict_hook=VerdictEngine())))


def _text(widget: Static) -> str:
    """What the widget shows, as plain text."""
    console = Console(width=150, record=True)
    console.print(widget.content)
    return console.export_text()


def test_b_puts_the_two_legs_side_by_side_and_marks_the_altered_message() -> None:
    app = DtlsProxyApp(events=events())

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.query_one(SessionsTable).select_sid("s1")
            await pilot.pause()
            await pilot.press("b")
            await pilot.pause()
            assert isinstance(app.screen, LegsScreen)
            table = _text(app.screen.query_one("#legstable", Static))
            rows = [line for line in table.splitlines() if " ≠ " in line or " = " in line]
            altered = [line for line in rows if " ≠ " in line]
            assert len(altered) == 1 and altered[0].count("CertificateVerify") == 2, table
            assert sum(" = " in line for line in rows) >= 10  # the others are the same
            verdict = _text(app.screen.query_one("#legsverdict", Static))
            assert verdict.startswith("CertificateVerify (message_seq 4) differs between leg "
                                      "s1 (as sent by the client) and leg s2")
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, LegsScreen)

    asyncio.run(main())


def test_b_on_a_session_without_legs_says_so() -> None:
    from tests.ui_scenarios import clean_handshake

    app = DtlsProxyApp(events=clean_handshake())

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("b")
            await pilot.pause()
            assert not isinstance(app.screen, LegsScreen)

    asyncio.run(main())


def test_snapshot_legs_side_by_side(snap_compare: Any) -> None:
    app = DtlsProxyApp(events=events(), header_info={"view": "relay.pcapng"})

    async def open_legs(pilot: Pilot[None]) -> None:
        app.query_one(SessionsTable).select_sid("s2")
        await pilot.pause()
        await pilot.press("b")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=open_legs)
