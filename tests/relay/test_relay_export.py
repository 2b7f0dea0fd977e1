"""Exporters of `dtlsproxy run`: JSONL through structlog (rotation, 0600) and console lines."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from proxy.cli.analyze import write_jsonl
from proxy.events import (
    AlertSeen,
    DatagramSeen,
    FaultApplied,
    FlightComplete,
    MediaStats,
    Notice,
    SessionSummary,
    event_to_dict,
)
from proxy.export.console import ConsoleRenderer
from proxy.export.jsonl import JsonlWriter, render_line

TS = 1_700_000_000.25

FLIGHT = FlightComplete(TS, "s1", "client->server", 5,
                        ("Certificate", "ClientKeyExchange", "CertificateVerify",
                         "ChangeCipherSpec", "Finished"), (7,), TS - 0.01)
ALERT = AlertSeen(TS, "s1", "server->client", (8,), 0, False, 2, "fatal", 51, "decrypt_error",
                  5, None)
FAULT = FaultApplied(TS, "s1", "who=client,msg=CertificateVerify,action=corrupt,offset=-1",
                     "corrupt", 7, "a->b", "flipped byte -1 of the CertificateVerify body")
NOTICE = Notice(TS, "", "warning", "silent_side",
                "nothing from side B (janus) yet; is the peer pointed at 0.0.0.0:6000?")
DATAGRAM = DatagramSeen(TS, "s1", 3, "client->server", "dtls", 4, b"\x16\xfe\xfd\x00")
MEDIA = MediaStats(TS, "s1", "client->server", 1.0, 50, 10_000, 2, {"0x1234abcd": 50})


def test_jsonl_lines_are_exactly_the_event_dicts_and_the_file_is_private(
    tmp_path: Path,
) -> None:
    path = tmp_path / "run.jsonl"
    w = JsonlWriter(path)
    events = [NOTICE, DATAGRAM, FLIGHT, ALERT, FAULT, MEDIA]
    w.write(events)
    w.close()
    lines = path.read_text().splitlines()
    assert lines == [render_line(e) for e in events]
    out = io.StringIO()  # the very lines `dtlsproxy analyze --format jsonl` writes
    write_jsonl(events, out)
    assert out.getvalue().splitlines() == lines
    assert [json.loads(line) for line in lines] == [
        json.loads(json.dumps(event_to_dict(e))) for e in events]
    assert json.loads(lines[1])["data"] == "16fefd00"
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_jsonl_rotates_at_the_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    one = len(render_line(NOTICE)) + 1
    w = JsonlWriter(path, max_bytes=3 * one, backups=2)
    w.write([NOTICE] * 10)
    w.close()
    sizes = {p.name: len(p.read_text().splitlines()) for p in tmp_path.iterdir()}
    assert sizes == {"run.jsonl": 1, "run.jsonl.1": 3, "run.jsonl.2": 3}  # oldest lines gone
    assert all(os.stat(p).st_mode & 0o777 == 0o600 for p in tmp_path.iterdir())


def test_console_prints_flights_alerts_faults_and_notices_only() -> None:
    out = io.StringIO()
    r = ConsoleRenderer(out, colour=False)
    summary = SessionSummary(TS, "s1", "established", "1.1.1.1:1", "2.2.2.2:2", "browser",
                             "janus", "DTLS 1.2", cipher_suite="TLS_ECDHE_ECDSA_WITH_AES_128_"
                             "GCM_SHA256", srtp_profile="SRTP_AES128_CM_HMAC_SHA1_80")
    r.write([DATAGRAM, MEDIA, FLIGHT, FAULT, ALERT, NOTICE, summary, summary])
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]  # drop the clock
    assert lines == [
        "s1 client->server flight 5: Certificate, ClientKeyExchange, CertificateVerify, "
        "ChangeCipherSpec, Finished [frames 7]",
        "s1 a->b FAULT corrupt frame 7: flipped byte -1 of the CertificateVerify body "
        "[rule who=client,msg=CertificateVerify,action=corrupt,offset=-1]",
        "s1 server->client ALERT fatal decrypt_error (answers flight 5)",
        "-- WARNING silent_side: nothing from side B (janus) yet; is the peer pointed at "
        "0.0.0.0:6000?",
        "s1 established DTLS 1.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "
        "SRTP_AES128_CM_HMAC_SHA1_80",
    ]


def test_console_colours_only_when_asked() -> None:
    out = io.StringIO()
    ConsoleRenderer(out, colour=True).write([ALERT])
    assert "\x1b[31mALERT fatal decrypt_error\x1b[0m" in out.getvalue()
    out = io.StringIO()
    ConsoleRenderer(out).write([ALERT])  # a StringIO is not a TTY
    assert "\x1b[" not in out.getvalue()


def test_sdp_files_are_summarised_at_start(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    offer = root / "tests" / "data" / "sdp" / "chromium-offer.sdp"
    proc = subprocess.run(
        [sys.executable, "-m", "proxy", "run", "--side-a", "127.0.0.1:0", "--side-b",
         "127.0.0.1:0", "--headless", "--duration", "0.2", "--sdp", str(offer),
         "--log-file", str(tmp_path / "run.jsonl")],
        capture_output=True, text=True, cwd=root, timeout=30, env={**os.environ,
                                                                  "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = [json.loads(x) for x in (tmp_path / "run.jsonl").read_text().splitlines()
               if '"sdp"' in x]
    assert line["message"].startswith(f"--sdp {offer}: a=setup actpass; fingerprint sha-256 ")
    assert line["message"].endswith("; 10 candidates")
