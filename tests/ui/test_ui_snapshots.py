"""SVG snapshots of the TUI (pytest-textual-snapshot): fixed times, fixed size,
no clock in the header, no blinking cursor. Update with ``--snapshot-update``
after checking the new SVGs by eye."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from tests.ui_scenarios import all_scenarios, clean_handshake, retransmission_storm
from ui.app import DtlsProxyApp
from ui.ladder import LadderTable

SIZE = (160, 45)
HEADER = {"listen": "127.0.0.1:5000", "log": "dtlsproxy.jsonl"}


def test_snapshot_clean_handshake(snap_compare: Any) -> None:
    app = DtlsProxyApp(events=clean_handshake(), header_info=HEADER)
    assert snap_compare(app, terminal_size=SIZE)


def test_snapshot_decrypt_error_culprit_highlighted(snap_compare: Any) -> None:
    app = DtlsProxyApp(events=all_scenarios(), header_info=HEADER)
    assert snap_compare(app, terminal_size=SIZE)


def test_snapshot_retransmission_storm_expanded(snap_compare: Any) -> None:
    app = DtlsProxyApp(events=retransmission_storm(), header_info=HEADER)

    async def expand(pilot: Pilot[None]) -> None:
        ladder = app.query_one(LadderTable)
        group = next(r for r in ladder.rows_shown if r.kind == "copies")
        ladder.select_key(group.key)
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=expand)
