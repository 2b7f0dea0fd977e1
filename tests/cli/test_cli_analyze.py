"""`dtlsproxy analyze`: ladder and JSONL on shared captures; exit codes on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import CAPTURES


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", "analyze", *args], capture_output=True, text=True
    )


def test_text_ladder_reads_like_the_seed_diagram() -> None:
    r = run(str(CAPTURES / "dtls12-aes128ccm8-dsb.pcapng"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Session s1: client 127.0.0.1:54273  <->  server 127.0.0.1:4433"
    assert "suite TLS_PSK_WITH_AES_128_CCM_8" in lines[1]
    # columns: time, flight, then the arrow text
    body = [ln[21:].strip() for ln in lines if "------------" in ln]
    assert body[:6] == [
        "ClientHello ------------>",
        "<------------ HelloVerifyRequest",
        "ClientHello ------------>",
        "<------------ ServerHello, ServerHelloDone",
        "ClientKeyExchange, ChangeCipherSpec, [Finished (encrypted)] ------------>",
        "<------------ ChangeCipherSpec, [Finished (encrypted)]",
    ]


def test_jsonl_schema_fields(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    r = run(str(CAPTURES / "capture-firefox-Mozilla_Firefox_125.0.pcap"), "--format", "jsonl",
            "-o", str(out))
    assert r.returncode == 0, r.stderr
    objs = [json.loads(line) for line in out.read_text().splitlines()]
    assert all({"event", "ts", "session"} <= o.keys() for o in objs)
    assert objs[0]["ts"].endswith("Z") and objs[0]["ts"][10] == "T"
    msgs = [o for o in objs if o["event"] == "message"]
    first = msgs[0]
    assert {k: first[k] for k in ("dir", "flight", "type", "epoch", "encrypted", "message_seq",
                                  "copy", "frames")} == {
        "dir": "client->server", "flight": 1, "type": "ClientHello", "epoch": 0,
        "encrypted": False, "message_seq": 0, "copy": 1, "frames": [1],
    }
    fin = [o for o in msgs if o["type"] == "Finished"]
    assert [(o["dir"], o["encrypted"], o["message_seq"]) for o in fin] == [
        ("client->server", True, None), ("server->client", True, None),
    ]


def test_bad_inputs_have_one_line_errors_and_exit_codes(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"this is not a capture at all")
    r = run(str(junk))
    assert r.returncode == 1
    assert r.stderr.strip().endswith("not a pcap or pcapng file (starts with 74686973)")
    r = run(str(tmp_path / "missing.pcap"))
    assert r.returncode == 1 and "missing.pcap" in r.stderr and "Traceback" not in r.stderr
    trunc = tmp_path / "trunc.pcap"
    trunc.write_bytes((CAPTURES / "dtls1_2.pcap").read_bytes()[:1500])
    r = run(str(trunc))
    assert r.returncode == 0 and "warning: truncated capture" in r.stderr
    assert "ClientHello" in r.stdout


def test_capture_without_dtls_says_so(tmp_path: Path) -> None:
    import dpkt

    p = tmp_path / "dns.pcap"
    with p.open("wb") as f:
        w = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_RAW)
        udp = dpkt.udp.UDP(sport=5353, dport=53, data=b"\x12\x34\x01\x00" + b"\x00" * 8)
        udp.ulen = len(udp)
        ip = dpkt.ip.IP(src=b"\x7f\x00\x00\x01", dst=b"\x7f\x00\x00\x01", p=17, data=udp)
        ip.len = len(ip)
        w.writepkt(bytes(ip), ts=1.0)
    r = run(str(p))
    assert r.returncode == 0 and r.stdout.strip() == f"no DTLS or STUN found in {p}"


def test_analyze_starts_without_the_relay_or_ui_stack(tmp_path: Path) -> None:
    """`dtlsproxy analyze` (the console script, ui.cli) imports neither asyncio nor
    textual: start-up is most of its time on a small capture (bench/decode.py)."""
    out = tmp_path / "out.jsonl"
    code = (
        "import sys\n"
        "from ui.cli import main\n"
        f"rc = main(['analyze', {str(CAPTURES / 'dtls1_2.pcap')!r}, '--format', 'jsonl',"
        f" '-o', {str(out)!r}])\n"
        "print(rc, sorted(m for m in ('asyncio', 'textual', 'structlog') if m in sys.modules))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert run.stdout.split("\n")[0] == "0 []"
    assert out.stat().st_size > 0


def test_gzip_compressed_captures_read_as_they_are(tmp_path: Path) -> None:
    import gzip

    for name in ("dtls1_2.pcap", "stun_dtls_rtp.pcapng"):
        plain = CAPTURES / name
        packed = tmp_path / f"{name}.gz"
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        expected = run(str(plain), "--format", "jsonl")
        r = run(str(packed), "--format", "jsonl")
        assert r.returncode == 0 and r.stderr == ""
        assert r.stdout == expected.stdout and r.stdout.count("\n") > 20
    # cut short inside the compressed stream: what was read, and a warning that says so
    cut = tmp_path / "cut.pcapng.gz"
    cut.write_bytes(packed.read_bytes()[:9000])
    r = run(str(cut))
    assert r.returncode == 0 and "ClientHello" in r.stdout
    assert "warning: truncated capture" in r.stderr
    assert "the gzip stream is damaged: Compressed file ended" in r.stderr
    damaged = tmp_path / "damaged.pcap.gz"
    damaged.write_bytes(b"\x1f\x8b" + b"garbage")
    r = run(str(damaged))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().endswith("damaged.pcap.gz: gzip-compressed, but damaged: "
                                     "Compressed file ended before the end-of-stream marker "
                                     "was reached")


def test_a_pcap_and_a_gzip_from_a_pipe(tmp_path: Path) -> None:
    import gzip

    for name, data in (("dtls1_2.pcap", (CAPTURES / "dtls1_2.pcap").read_bytes()),
                       ("gzip of stun_dtls_rtp.pcapng",
                        gzip.compress((CAPTURES / "stun_dtls_rtp.pcapng").read_bytes()))):
        source = "dtls1_2.pcap" if name.endswith(".pcap") else "stun_dtls_rtp.pcapng"
        r = subprocess.run([sys.executable, "-m", "proxy", "analyze", "/dev/stdin"],
                           input=data, capture_output=True)
        assert r.returncode == 0, (name, r.stderr)
        assert r.stdout.decode() == run(str(CAPTURES / source)).stdout, name


def test_an_output_that_cannot_be_written_fails_before_the_analysis(tmp_path: Path) -> None:
    capture = str(CAPTURES / "dtls1_2.pcap")
    r = run(capture, "-o", str(tmp_path / "no" / "such" / "out.jsonl"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == (f"dtlsproxy analyze: -o {tmp_path}/no/such/out.jsonl: "
                                f"no such directory {tmp_path}/no/such")
    r = run(capture, "-o", str(tmp_path))
    assert r.returncode == 2 and r.stderr.strip().endswith(": is a directory")


def test_a_full_disk_and_a_closed_stdout_end_cleanly(tmp_path: Path) -> None:
    from proxy.capture.pcap import PcapngWriter, read_capture
    from proxy.events import Datagram

    # the Chromium handshake between 100 pairs of hosts: about 1.5 MB of JSONL
    chromium = list(read_capture(CAPTURES / "capture-chrome-Chromium_123.0.6312.0_.pcap"))
    big = tmp_path / "many.pcapng"
    with PcapngWriter(big) as w:
        n = 0
        for k in range(100):
            for d in chromium:
                n += 1
                w.write(Datagram(d.ts + k, (f"10.1.{k}.1", d.src[1]), (f"10.1.{k}.2", d.dst[1]),
                                 d.data, n))
    r = run(str(big), "--format", "jsonl", "-o", "/dev/full")
    assert r.returncode == 3
    assert r.stderr.strip() == ("dtlsproxy analyze: writing /dev/full failed: "
                                "No space left on device")
    # `dtlsproxy analyze ... | head -c 100`: the reader closes the pipe early
    p = subprocess.Popen([sys.executable, "-m", "proxy", "analyze", str(big), "--format",
                          "jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout is not None and p.stderr is not None
    first = p.stdout.read(100)
    p.stdout.close()
    assert p.wait(timeout=60) == 141
    assert first.startswith(b'{"event":"session_opened"') and p.stderr.read() == b""


def test_progress_tells_how_much_of_the_file_is_read(tmp_path: Path) -> None:
    import gzip
    import os

    from proxy.capture.pcap import PcapngWriter, read_capture
    from proxy.cli.analyze import _Progress
    from proxy.events import Datagram

    # a handshake, then 2,000 RTP packets of random payload (400 KB, gzip cannot shrink it)
    chromium = list(read_capture(CAPTURES / "capture-chrome-Chromium_123.0.6312.0_.pcap"))
    a, b = chromium[0].src, chromium[0].dst
    plain = tmp_path / "call.pcapng"
    with PcapngWriter(plain) as w:
        for n, d in enumerate(chromium, 1):
            w.write(Datagram(d.ts, d.src, d.dst, d.data, n))
        for i in range(2000):
            w.write(Datagram(chromium[-1].ts + i / 100, a, b, bytes([0x80, 96]) + os.urandom(198),
                             len(chromium) + i + 1))
    packed = tmp_path / "call.pcapng.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    for path in (plain, packed):
        capture = read_capture(path)
        seen = [capture.fraction_read() for _ in capture]
        assert len(seen) == 2005, path
        assert seen == sorted(seen) and 0 < seen[0] < 0.1 and seen[-1] == 1.0, path
        assert capture.fraction_read() is None  # closed after the last datagram
    assert _Progress.line(6066, 0.48) == (
        "analyzing [##############................]  48%  frame 6066")
    assert _Progress.line(12, None) == "analyzing: frame 12"


def test_several_sessions_open_with_an_overview_of_what_went_wrong(interleaved: Path) -> None:
    r = run(str(interleaved))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    unconfirmed = ("no finding; the client has sent no data since server flight 6: whether "
                   "it accepted it is not known")
    assert lines[:6] == [
        "Overview: 10 sessions: 7 established, 2 unconfirmed, 1 stalled",
        # s1 is the start of the Chromium handshake that s2 has whole (the same capture)
        "  legs s1 = s2: one handshake seen at 2 points, its messages compared",
        "  s1   stalled      handshake_incomplete: handshake did not complete: the server sent "
        "flight 4 last and the client never answered (no retransmissio...",
        # dtls1_2.pcap: the client's encrypted alert 0.8 s after flight 6, no data before it
        "  s6   unconfirmed  " + (unconfirmed + "; then the client sent an encrypted alert: a "
                                  "close_notify, or a fatal alert refusing it")[:127] + "...",
        "  s10  unconfirmed  " + unconfirmed,  # its capture ends 0.1 s after flight 6
        "",
    ]
    # then the sessions by outcome and shape (proxy.analyze.changes), then the ladders
    assert lines[6] == "By outcome and handshake shape (10 sessions with an outcome):"
    first = next(i for i, line in enumerate(lines) if line.startswith("Session "))
    assert lines[first].startswith("Session s1: client 10.0.0.1:54427  <->  server 10.0.0.1:")
    assert sum(int(line.split()[0]) for line in lines[7:first - 1]) == 10
    blocks = [line.split(":")[0] for line in lines if line.startswith("Session ")]
    assert blocks == [f"Session s{n}" for n in range(1, 11)]
    r = run(str(CAPTURES / "stun_dtls_rtp.pcapng"))  # a handshake, then SRTP both ways
    assert r.stdout.splitlines()[1].startswith("  state established, ")
    r = run(str(CAPTURES / "dtls_certificate_fragments.pcap"))  # the second ends at flight 6
    assert r.stdout.splitlines()[:3] == [
        "Overview: 2 sessions: 1 established, 1 unconfirmed",
        "  s2  unconfirmed  " + unconfirmed, ""]


def test_session_shows_one_session_alone(interleaved: Path) -> None:
    r = run(str(interleaved), "--session", "s4")
    assert r.returncode == 0 and r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines[0].startswith("Session s4: ")  # one session: no overview
    assert sum(line.startswith("Session ") for line in lines) == 1
    r = run(str(interleaved), "--session", "s4", "--session", "s1", "--format", "jsonl")
    sessions = {json.loads(line)["session"] for line in r.stdout.splitlines()}
    assert sessions == {"s1", "s4"}
    r = run(str(interleaved), "--session", "s99")
    assert r.returncode == 0
    assert r.stdout.strip() == f"no DTLS or STUN found in {interleaved} for s99"
    assert r.stderr.strip() == f"warning: no session s99 in {interleaved}"
    r = run(str(interleaved), "--session", "4")
    assert r.returncode == 2 and "not a session id (s1, s2...): '4'" in r.stderr


def test_check_fails_when_a_session_failed_or_has_a_finding(interleaved: Path) -> None:
    expected = ("dtlsproxy analyze: --check: 3 session(s) failed or have a finding: s1, "
                "s6 (unconfirmed), s10 (unconfirmed)")
    for args in ([], ["--format", "jsonl"], ["--format", "jsonl", "--jobs", "3"]):
        r = run(str(interleaved), "--check", *args)
        assert r.returncode == 4 and r.stderr.strip() == expected, args
        assert r.stdout  # the output is written all the same
    r = run(str(interleaved), "--check", "--session", "s4")  # an established one alone
    assert r.returncode == 0 and r.stderr == ""
    r = run(str(CAPTURES / "dtls_certificate_fragments.pcap"), "--check", "--format", "jsonl")
    assert r.returncode == 4  # its second handshake is not confirmed
    assert r.stderr.endswith("a finding: s2 (unconfirmed)\n")
    r = run(str(CAPTURES / "dtls_certificate_fragments.pcap"), "--check", "--session", "s1")
    assert r.returncode == 0 and r.stderr == ""


def test_the_overview_of_many_failed_sessions_stays_short() -> None:
    from proxy.analyze.ladder import OVERVIEW_SESSIONS, SessionLadder, overview

    failed = [SessionLadder(f"s{n}", [], "failed", ("certificate_verify_bad_signature: ...",))
              for n in range(1, 61)]
    lines = overview([SessionLadder("s0", [], "established", ()), *failed])
    assert lines[0] == "Overview: 61 sessions: 1 established, 60 failed"
    assert len(lines) == 1 + OVERVIEW_SESSIONS + 1 + 1  # head, 20 sessions, the rest, blank
    assert lines[1] == "  s1   failed       certificate_verify_bad_signature: ..."
    assert lines[-2].startswith("  ... and 40 more: s21, s22, s23, ")
    assert lines[-2].endswith("...") and len(lines[-2]) == 150
