"""The TUI driven through Textual's Pilot: events in, what the screen holds out."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input, Static

from proxy.analyze.pipeline import analyze_capture
from proxy.bus import Bus
from proxy.capture.eventlog import events_from_jsonl
from proxy.capture.pcap import read_capture
from proxy.events import DatagramSeen, Verdict, event_to_dict
from tests.conftest import ROOT
from tests.tmux import TmuxApp
from tests.ui_scenarios import (
    C2S,
    CERT_DER,
    CERT_FP,
    all_scenarios,
    clean_handshake,
    decrypt_error,
    retransmission_storm,
)
from ui.app import DtlsProxyApp
from ui.detail import DetailPane, FieldTree
from ui.ladder import LadderTable
from ui.sessions import SessionsTable

SIZE = (160, 45)


def run(app: DtlsProxyApp, body: Callable[[Pilot[None]], Awaitable[None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await body(pilot)

    asyncio.run(main())


def banner(app: DtlsProxyApp) -> str:
    widget = app.query_one("#banner", Static)
    rendered = widget.render()
    return rendered.plain if isinstance(rendered, Text) else str(rendered)


def topbar(app: DtlsProxyApp) -> str:
    rendered = app.query_one("#topbar", Static).render()
    return rendered.plain if isinstance(rendered, Text) else str(rendered)


def tree_labels(app: DtlsProxyApp) -> list[str]:
    tree = app.query_one(FieldTree)
    out: list[str] = []

    def walk(node: object) -> None:
        out.append(node.label.plain)  # type: ignore[attr-defined]
        for child in node.children:  # type: ignore[attr-defined]
            walk(child)

    walk(tree.root)
    return out


def cell(table: SessionsTable, sid: str, column: str) -> str:
    value = table.get_cell(sid, column)
    return value.plain if isinstance(value, Text) else str(value)


def test_sessions_list_shows_state_version_suite_srtp_and_counters() -> None:
    app = DtlsProxyApp(events=all_scenarios())

    async def body(pilot: Pilot[None]) -> None:
        table = app.query_one(SessionsTable)
        assert table.shown == ["s1", "s2", "s3"]
        assert [cell(table, s, "state").strip() for s in table.shown] == [
            "established", "failed", "stalled"]
        assert cell(table, "s1", "peers") == "browser 127.0.0.1:50000 ⇄ janus 127.0.0.1:8088"
        assert cell(table, "s1", "version") == "DTLS 1.2"
        assert cell(table, "s1", "suite") == "ECDHE_ECDSA_AES_128_GCM_SHA256"
        assert cell(table, "s1", "srtp") == "AES128_CM_HMAC_SHA1_80"
        assert cell(table, "s1", "counters") == "stun 2|2  dtls 3|3  rtp 150|150"
        assert "3 sessions" in topbar(app) and "1 alerts" in topbar(app)

    run(app, body)


def test_ladder_rows_of_a_clean_handshake_with_side_labels() -> None:
    app = DtlsProxyApp(events=clean_handshake())

    async def body(pilot: Pilot[None]) -> None:
        ladder = app.query_one(LadderTable)
        lane = ladder.columns["lane"].label.plain  # type: ignore[index]
        assert lane.startswith("browser (client)") and lane.endswith("janus (server)")
        rows = [(r.cells[0].plain, r.cells[2].plain.strip()) for r in ladder.rows_shown]
        assert rows[1] == ("F1", "─ ClientHello " + "─" * 39 + "▶")
        assert rows[2][1].startswith("◀─") and rows[2][1].endswith(" HelloVerifyRequest ─")
        assert [r[0] for r in rows if r[0]] == ["F1", "F2", "F3", "F4", "F5", "F6"]
        assert "[Finished (encrypted)]" in rows[-2][1]
        assert ladder.row_count == len(ladder.rows_shown) == 17
        assert banner(app) == " ✔ no alert so far"

    run(app, body)


def test_live_alert_selects_the_culprit_and_the_verdict_refines_it() -> None:
    bus = Bus()
    app = DtlsProxyApp(bus.subscribe(maxlen=10_000), refresh_interval=0.05)
    failing = decrypt_error()
    cut = next(i for i, e in enumerate(failing) if isinstance(e, Verdict))

    async def body(pilot: Pilot[None]) -> None:
        bus.publish(clean_handshake())
        await pilot.pause(0.2)
        assert app.selected == "s1"
        bus.publish(failing[:cut])
        await pilot.pause(0.2)
        ladder = app.query_one(LadderTable)
        assert app.selected == "s2"
        current = ladder.current()
        assert current is not None and current.culprit and current.type == "Finished"
        assert "culprit:  Finished  — last message of client flight 5" in banner(app)
        bus.publish(failing[cut:])
        await pilot.pause(0.2)
        current = ladder.current()
        assert current is not None and current.culprit and current.type == "CertificateVerify"
        assert banner(app).startswith(
            " ✖ s2: server (janus) sent fatal decrypt_error in answer to client flight 5; "
            "culprit:  CertificateVerify  — the client's CertificateVerify signature")
        labels = tree_labels(app)
        assert labels[0] == "◆ CULPRIT CertificateVerify: client->server, flight 5"
        assert app.query_one(SessionsTable).current_sid() == "s2"
        alert = next(r for r in ladder.rows_shown if r.kind == "alert")
        assert "✖ Alert: fatal decrypt_error" in alert.cells[2].plain

    run(app, body)


def test_detail_tree_of_a_certificate_and_hex_highlight_follows_the_field() -> None:
    app = DtlsProxyApp(events=clean_handshake())

    async def body(pilot: Pilot[None]) -> None:
        ladder = app.query_one(LadderTable)
        key = next(r.key for r in ladder.rows_shown if r.type == "Certificate")
        ladder.focus()
        ladder.select_key(key)
        await pilot.pause()
        labels = tree_labels(app)
        assert labels[0] == "Certificate: server->client, flight 4"
        assert "subject: CN=WebRTC" in labels
        assert "not_after: 2024-05-30T00:00:00Z" in labels
        assert "key: EC secp256r1" in labels
        assert f"fingerprint sha-256: {CERT_FP}" in labels
        detail = app.query_one(DetailPane)
        assert detail.raw[:1] == b"\x0b" and len(detail.raw) == 12 + 6 + 276
        tree = app.query_one(FieldTree)
        tree.focus()
        node = next(n for n in _nodes(tree.root) if n.label.plain.startswith("der"))
        tree.move_cursor(node)
        await pilot.pause()
        assert detail.highlight == (12 + 6, 12 + 6 + 276)
        assert detail.raw[slice(*detail.highlight)] == CERT_DER
        hdr = next(n for n in _nodes(tree.root) if n.label.plain.startswith("message_seq"))
        tree.move_cursor(hdr)
        await pilot.pause()
        assert detail.highlight == (4, 6)

    run(app, body)


def _nodes(node: object) -> list:  # type: ignore[type-arg]
    out = [node]
    for child in node.children:  # type: ignore[attr-defined]
        out.extend(_nodes(child))
    return out


def test_filter_by_type_direction_and_alerts_then_escape_clears() -> None:
    app = DtlsProxyApp(events=all_scenarios())

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("slash")
        await pilot.press(*"alerts")
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one(SessionsTable).shown == ["s2"]
        assert "filter: alerts" in topbar(app)
        await pilot.press("slash")
        await pilot.pause()
        app.screen.query_one(Input).value = "s1 t:cert d:s2c"
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one(SessionsTable).shown == ["s1"]
        ladder = app.query_one(LadderTable)
        assert [r.type for r in ladder.rows_shown] == ["Certificate", "CertificateRequest"]
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one(SessionsTable).shown == ["s1", "s2", "s3"]
        assert ladder.row_count > 10

    run(app, body)


def test_pause_holds_events_and_resume_absorbs_them() -> None:
    bus = Bus()
    app = DtlsProxyApp(bus.subscribe(maxlen=10_000), refresh_interval=0.05)

    async def body(pilot: Pilot[None]) -> None:
        bus.publish(clean_handshake())
        await pilot.pause(0.2)
        seen = app.model.events
        await pilot.press("p")
        bus.publish(decrypt_error())
        await pilot.pause(0.2)
        assert app.model.events == seen
        assert len(app.pending) == len(decrypt_error())
        assert "PAUSED" in topbar(app)
        assert app.query_one(SessionsTable).shown == ["s1"]
        await pilot.press("p")
        await pilot.pause(0.2)
        assert app.model.events == seen + len(decrypt_error())
        assert app.query_one(SessionsTable).shown == ["s1", "s2"]
        assert app.selected == "s2"  # the alert that arrived while paused still jumps

    run(app, body)


def test_dropped_display_updates_are_shown_in_the_header() -> None:
    bus = Bus()
    sub = bus.subscribe(maxlen=10)
    app = DtlsProxyApp(sub, refresh_interval=0.05)

    async def body(pilot: Pilot[None]) -> None:
        bus.publish(clean_handshake())
        await pilot.pause(0.2)
        assert sub.dropped == len(clean_handshake()) - 10
        assert f"dropped {sub.dropped}" in topbar(app)

    run(app, body)


def test_export_writes_a_jsonl_that_reads_back_as_the_session(tmp_path: Path) -> None:
    app = DtlsProxyApp(events=all_scenarios(), export_dir=tmp_path)

    async def body(pilot: Pilot[None]) -> None:
        assert app.selected == "s2"
        await pilot.press("e")
        await pilot.pause()
        stem = tmp_path / "dtlsproxy-s2-20240501-163211"
        assert app.exported == [stem.with_suffix(suffix) for suffix in (".jsonl", ".pcapng",
                                                                         ".html")]
        lines = app.exported[0].read_text().splitlines()
        assert all(json.loads(line)["session"] == "s2" for line in lines)
        assert events_from_jsonl(app.exported[0]) == decrypt_error()
        with read_capture(app.exported[1]) as capture:
            back = [(d.ts, d.src, d.dst, d.data) for d in capture]
        sent = [e for e in decrypt_error() if isinstance(e, DatagramSeen)]
        client, server = ("127.0.0.1", 50000), ("127.0.0.1", 8088)
        assert back == [
            (e.ts, *((client, server) if e.dir == C2S else (server, client)), e.data)
            for e in sent
        ]
        page = app.exported[2].read_text()  # the report, as analyze --format html makes it
        assert app.exported[2].stat().st_mode & 0o777 == 0o600
        assert page.startswith("<!DOCTYPE html>") and 'id="s2" data-state=' in page
        assert page.count('class="row k-message c2s culprit"') == 1
        assert "exported from the dtlsproxy TUI: session s2" in page

    run(app, body)


def test_view_of_an_exported_log_opens_on_the_culprit(tmp_path: Path) -> None:
    log = tmp_path / "seen.jsonl"
    log.write_text("".join(json.dumps(event_to_dict(e)) + "\n" for e in all_scenarios()))
    app = DtlsProxyApp(events=events_from_jsonl(log), header_info={"view": str(log)})

    async def body(pilot: Pilot[None]) -> None:
        assert app.selected == "s2"
        current = app.query_one(LadderTable).current()
        assert current is not None and current.type == "CertificateVerify"
        assert "culprit:  CertificateVerify " in banner(app)
        labels = tree_labels(app)
        # the body is parsed again from the log's raw bytes: registry names, as live
        assert "signature_algorithm: 0x0403 ecdsa_secp256r1_sha256" in labels

    run(app, body)


def test_retransmission_row_expands_with_enter() -> None:
    app = DtlsProxyApp(events=retransmission_storm())

    async def body(pilot: Pilot[None]) -> None:
        ladder = app.query_one(LadderTable)
        ladder.focus()
        group = next(r for r in ladder.rows_shown if r.kind == "copies")
        ladder.select_key(group.key)
        before = ladder.row_count
        await pilot.press("enter")
        await pilot.pause()
        assert ladder.row_count == before + 30 + 5
        assert ladder.current() is not None and ladder.current().key == group.key  # type: ignore[union-attr]
        await pilot.press("j", "x")
        await pilot.pause()
        assert ladder.row_count == before

    run(app, body)


def test_help_lists_bindings_and_palette_lists_every_action() -> None:
    app = DtlsProxyApp(events=clean_handshake())

    async def body(pilot: Pilot[None]) -> None:
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        keys = [k for k, _ in app.help_lines()]
        for k in ("/", "p", "e", "?", "q", "a", "ctrl+p"):
            assert k in keys
        await pilot.press("escape")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        for t in ("Jump to alert", "Filter", "Pause / resume view", "Export session",
                  "Expand / collapse retransmissions", "Help", "Quit"):
            assert t in titles
        await pilot.press("q")

    run(app, body)


def test_vim_keys_move_between_sessions_and_panes() -> None:
    app = DtlsProxyApp(events=all_scenarios())

    async def body(pilot: Pilot[None]) -> None:
        assert app.focused is app.query_one(LadderTable)
        await pilot.press("h")
        assert app.focused is app.query_one(SessionsTable)
        await pilot.press("g")
        await pilot.pause()
        assert app.selected == "s1"
        await pilot.press("G")
        await pilot.pause()
        assert app.selected == "s3"
        await pilot.press("k")
        await pilot.pause()
        assert app.selected == "s2"
        await pilot.press("tab")
        assert app.focused is app.query_one(LadderTable)
        await pilot.press("l")
        assert app.focused is app.query_one(FieldTree)

    run(app, body)


def test_datagrams_are_kept_for_export_but_never_become_ladder_rows() -> None:
    app = DtlsProxyApp(events=clean_handshake())

    async def body(pilot: Pilot[None]) -> None:
        st = app.model.sessions["s1"]
        assert len(st.datagrams()) == sum(isinstance(e, DatagramSeen) for e in clean_handshake())
        assert all(r.kind != "datagram" for r in app.query_one(LadderTable).rows_shown)

    run(app, body)


def test_dtlsproxy_view_in_a_real_terminal(tmp_path: Path) -> None:
    log = tmp_path / "seen.jsonl"
    log.write_text("".join(json.dumps(event_to_dict(e)) + "\n" for e in all_scenarios()))
    exe = Path(sys.executable).parent / "dtlsproxy"
    with TmuxApp(f"{exe} view {log}", tmp_path) as term:
        screen = term.wait_for(lambda s: "◆ CertificateVerify ◆" in s)  # after any resize
        assert "server (janus) sent fatal decrypt_error in answer to client flight 5" in screen
        assert "◆ CertificateVerify ◆" in screen
        assert term.quit() == "0"


def test_view_of_a_broken_log_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event": "session", "ts": "2024-05-01T00:00:00Z"\n')
    out = subprocess.run([sys.executable, "-m", "proxy", "view", str(bad)],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1
    assert out.stderr.strip() == f"dtlsproxy view: {bad}: line 1: not JSON " \
        "(Expecting ',' delimiter)"


def test_real_tracker_output_of_a_webrtc_capture(captures_dir: Path) -> None:
    events = list(analyze_capture(captures_dir / "stun_dtls_rtp.pcapng"))
    app = DtlsProxyApp(events=events)

    async def body(pilot: Pilot[None]) -> None:
        table = app.query_one(SessionsTable)
        assert cell(table, "s1", "state").strip() == "established"
        assert cell(table, "s1", "srtp") == "AEAD_AES_256_GCM"
        ladder = app.query_one(LadderTable)
        lane = ladder.columns["lane"].label.plain  # type: ignore[index]
        assert lane.startswith("client 192.168.12.156:37967")
        assert lane.endswith("142.250.82.76:19305 server")
        flights = [r.cells[0].plain for r in ladder.rows_shown if r.cells[0].plain]
        assert flights == ["F1", "F4", "F5", "F6", "↻"]
        ladder.select_key(next(r.key for r in ladder.rows_shown if r.type == "Certificate"))
        await pilot.pause()
        labels = tree_labels(app)
        assert "subject: CN=hangouts" in labels
        assert "key: RSA 2048 bits" in labels
        assert any(x.startswith("fingerprint sha-256: B1:42:55:59:73:D4") for x in labels)
        ladder.select_key(next(r.key for r in ladder.rows_shown
                               if r.type == "ServerKeyExchange"))
        await pilot.pause()
        tree = app.query_one(FieldTree)
        curve = next(n for n in _nodes(tree.root) if n.label.plain.startswith("named_curve"))
        assert curve.label.plain == "named_curve: 0x001d x25519"
        tree.move_cursor(curve)
        await pilot.pause()
        detail = app.query_one(DetailPane)
        assert detail.raw[slice(*detail.highlight)] == b"\x00\x1d"  # type: ignore[misc]

    run(app, body)


def test_banner_click_opens_the_verdict_evidence() -> None:
    app = DtlsProxyApp(events=all_scenarios())

    async def body(pilot: Pilot[None]) -> None:
        await pilot.click("#banner")
        await pilot.pause()
        current = app.query_one(LadderTable).current()
        assert current is not None and current.kind == "verdict"
        labels = tree_labels(app)
        assert labels[0] == "Verdict: certificate_verify_bad_signature"
        assert "✘ client CertificateVerify signature: ECDSA P-256 SHA-256 over 1234 bytes " \
            "of transcript: invalid" in labels
        assert "✔ client Certificate fingerprint: matches a=fingerprint" in labels
        assert "? Finished verify_data: needs a key log" in labels
        await pilot.press("a")
        await pilot.pause()
        current = app.query_one(LadderTable).current()
        assert current is not None and current.type == "CertificateVerify"
        await pilot.press("v")
        await pilot.pause()
        assert app.query_one(LadderTable).current().kind == "verdict"  # type: ignore[union-attr]

    run(app, body)
