"""The TUI in TURN mode, on a real call's log (tests/data/turn/: headless Chromium
relay-only through ``dtlsproxy run --turn`` to Janus's streaming plugin, the proxy
corrupting Chromium's CertificateVerify; recorded by the ``turn-cv-fault`` bed)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from proxy.capture.eventlog import events_from_jsonl
from ui.allocations import AllocationsScreen
from ui.app import DtlsProxyApp
from ui.detail import DetailPane
from ui.ladder import LadderTable

LOG = Path(__file__).resolve().parents[1] / "data" / "turn" / "chromium-janus-cv-fault.jsonl"
SIZE = (160, 45)
HEADER = {"turn": "10.99.0.1:3478", "log": "proxy.jsonl"}


def app() -> DtlsProxyApp:
    return DtlsProxyApp(events=events_from_jsonl(LOG), header_info=HEADER)


def tree_text(pane: DetailPane) -> str:
    from textual.widgets import Tree

    tree = pane.query_one("#fields", Tree)
    out: list[str] = []

    def walk(node: Any) -> None:
        out.append(str(node.label))
        for child in node.children:
            walk(child)

    walk(tree.root)
    return "\n".join(out)


def rendered(widget: Any) -> str:
    """What a widget shows, as plain text (wide, so nothing wraps)."""
    from rich.console import Console

    console = Console(width=400, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(widget.content)
    return console.export_text()


def test_allocations_screen_lists_every_allocation() -> None:
    a = app()
    seen: dict[str, str] = {}

    async def main() -> None:
        async with a.run_test(size=SIZE) as pilot:
            await pilot.pause()
            seen["topbar"] = rendered(a.query_one("#topbar"))
            await pilot.press("t")
            await pilot.pause()
            assert isinstance(a.screen, AllocationsScreen)
            seen["table"] = rendered(a.screen.query_one("#alloctable"))
            await pilot.press("escape")
            await pilot.pause()
            seen["after"] = type(a.screen).__name__

    asyncio.run(main())
    allocs = a.model.allocations
    assert len(allocs) >= 1 and all(x.username == "chromium" for x in allocs.values())
    assert f"TURN 0/{len(allocs)} allocations (t)" in seen["topbar"]
    for a_ in allocs.values():
        assert a_.relayed in seen["table"] and a_.client in seen["table"]
    assert "0x4000 10.99.0.1:20000" in seen["table"] and "dtlsproxy stopped" in seen["table"]
    assert seen["after"] != "AllocationsScreen"


def test_detail_pane_says_how_each_frame_was_carried() -> None:
    a = app()
    text: dict[str, str] = {}

    async def main() -> None:
        async with a.run_test(size=SIZE) as pilot:
            await pilot.pause()
            ladder = a.query_one(LadderTable)
            for name in ("ClientHello", "CertificateVerify"):
                row = next(r for r in ladder.rows_shown if r.kind == "message"
                           and name in r.cells[2].plain)
                ladder.select_key(row.key)
                await pilot.pause()
                text[name] = tree_text(a.query_one(DetailPane))

    asyncio.run(main())
    # Chromium's two-datagram ClientHello in Send indications, the rest in ChannelData
    vias = [line for line in text["ClientHello"].splitlines() if line.startswith("frame ")]
    assert len(vias) == 2 and all("TURN t" in v for v in vias), text["ClientHello"]
    assert "ChannelData 0x4000" in text["CertificateVerify"], text["CertificateVerify"]
    assert "CULPRIT" in text["CertificateVerify"]


def test_snapshot_turn_call_culprit(snap_compare: Any) -> None:
    assert snap_compare(app(), terminal_size=SIZE)


def test_snapshot_turn_allocations(snap_compare: Any) -> None:
    async def open_allocations(pilot: Pilot[None]) -> None:
        await pilot.press("t")
        await pilot.pause()

    assert snap_compare(app(), terminal_size=SIZE, run_before=open_allocations)
