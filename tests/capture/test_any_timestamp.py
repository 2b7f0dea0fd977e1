"""Every output format survives any timestamp a capture file can hold.

A pcapng interface may count seconds (``if_tsresol`` 0) in 64 bits, or shift them by a
signed 64-bit ``if_tsoffset``: times far outside Python's datetime range (years 1-9999).
The real DTLS 1.2 handshake of ``dtls1_2.pcap`` is rewritten so; ``analyze`` writes its
text, its JSONL (ISO 8601 with an expanded year, read back to the same time by
``view``) and its HTML and Markdown reports, and the TUI exports the session (JSONL, the
HTML report, and a pcapng whose timestamps are clamped to what pcapng holds, with a
comment saying when the packet really was).
"""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import pytest

from proxy.capture.eventlog import events_from_jsonl, parse_ts
from proxy.capture.pcap import PcapngWriter, read_capture
from proxy.cli.main import main
from proxy.events import DatagramSeen, iso_time
from tests.capture.test_pcap import SHB, block, epb

YEAR_36812 = 1 << 40
"""Seconds since 1970: in the year 36812."""
BC_1200 = -100_000_000_000
"""Seconds since 1970: in 1200 BC (year -1199)."""


def _idb_raw(tsresol: int, offset: int) -> bytes:
    opts = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HHq", 14, 8, offset)
    return block(1, struct.pack("<HHI", 101, 0, 0) + opts + struct.pack("<HH", 0, 0))


def shifted(tmp: Path, captures_dir: Path, start: int) -> tuple[Path, list[float]]:
    """dtls1_2.pcap with its datagrams 1 s apart from ``start`` (seconds since 1970)."""
    raw = PcapngWriter(tmp / "unused.pcapng", linktype="raw")  # only its IP/UDP framing
    body = SHB + _idb_raw(0, start if start < 0 else 0)
    times = []
    for i, d in enumerate(read_capture(captures_dir / "dtls1_2.pcap")):
        body += epb(0, (0 if start < 0 else start) + i, raw._frame(d.src, d.dst, d.data))
        times.append(float(start + i))
    raw.close()
    path = tmp / f"at-{start}.pcapng"
    path.write_bytes(body)
    return path, times


@pytest.mark.parametrize("start", [YEAR_36812, BC_1200])
def test_text_and_jsonl_of_a_capture_out_of_datetime_range(
    tmp_path: Path, captures_dir: Path, capsys: pytest.CaptureFixture[str], start: int
) -> None:
    capture, times = shifted(tmp_path, captures_dir, start)
    assert [d.ts for d in read_capture(capture)] == times

    assert main(["analyze", str(capture), "--format", "text"]) == 0
    text = capsys.readouterr().out
    assert "ClientHello" in text and "Traceback" not in text

    out = tmp_path / "out.jsonl"
    assert main(["analyze", str(capture), "--format", "jsonl", "-o", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    year = "+036812-" if start > 0 else "-001199-"
    assert lines and all(line["ts"].startswith(year) for line in lines)
    seen = [line for line in lines if line["event"] == "datagram"]
    assert [parse_ts(line["ts"]) for line in seen] == times  # back to the very second
    back = events_from_jsonl(out)  # what `dtlsproxy view` reads
    assert [e.ts for e in back if isinstance(e, DatagramSeen)] == times
    for fmt in ("html", "markdown"):
        report = tmp_path / f"report.{fmt}"
        assert main(["analyze", str(capture), "--format", fmt, "-o", str(report)]) == 0
        assert "ClientHello" in report.read_text()


@pytest.mark.parametrize("start", [YEAR_36812, BC_1200])
def test_tui_export_of_a_session_out_of_datetime_range(
    tmp_path: Path, captures_dir: Path, start: int
) -> None:
    from ui.app import DtlsProxyApp

    capture, times = shifted(tmp_path, captures_dir, start)
    log = tmp_path / "log.jsonl"
    assert main(["analyze", str(capture), "--format", "jsonl", "-o", str(log)]) == 0
    events = events_from_jsonl(log)
    export_dir = tmp_path / "export"
    app = DtlsProxyApp(events=events, export_dir=export_dir)

    async def run() -> None:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause()
            await pilot.press("e")
            await pilot.pause()

    asyncio.run(run())
    stamp = "+0368120220-003616" if start > 0 else "-0011990215-141320"
    stem = export_dir / f"dtlsproxy-s1-{stamp}"
    assert app.exported == [stem.with_suffix(s) for s in (".jsonl", ".pcapng", ".html")]
    assert app.exported[2].read_text().startswith("<!DOCTYPE html>")
    exported = events_from_jsonl(app.exported[0])
    assert [e.ts for e in exported if isinstance(e, DatagramSeen)] == times
    # pcapng holds 0 .. 2^64-1 microseconds since 1970 (to the year 586,524): the year
    # 36812 as it is; before 1970 clamped to 0, with a comment saying when it really was
    pcap = app.exported[1].read_bytes()
    note = f"captured at {iso_time(times[0])}, outside the pcapng timestamp range".encode()
    with read_capture(app.exported[1]) as cap:
        written = [d.ts for d in cap]
    if start > 0:
        assert written == times and note not in pcap
    else:
        assert written == [0.0] * len(times) and note in pcap
