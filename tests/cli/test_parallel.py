"""`dtlsproxy analyze --jobs N`: sessions shared between forked processes, same output.

The capture used here (the ``interleaved`` fixture) interleaves every shared capture in
time, each under its own addresses, so sessions overlap: ticks, media intervals and
verdicts of one session land between datagrams of others, which is where a wrong merge
would show.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.analyze.parallel import AUTO_MIN_BYTES, ShareFailed, default_jobs, run_shares
from proxy.capture.pcap import PcapngWriter, read_capture
from proxy.events import Datagram
from tests.conftest import CAPTURES

KEYLOG = "dtls12-aes128ccm8-dsb.keys.derived.txt"
SDP = Path(__file__).resolve().parents[1] / "data" / "sdp"


def analyze(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("fmt", [["--format", "jsonl"], [], ["-v"]],
                         ids=["jsonl", "text", "text-verbose"])
def test_any_number_of_jobs_gives_the_same_output(interleaved: Path, fmt: list[str]) -> None:
    # a key log, and SDPs whose fingerprints no certificate here matches: a finding for
    # every session, made as its messages arrive
    extra = ["--keylog", str(CAPTURES / KEYLOG), "--sdp", str(SDP / "aiortc-offer.sdp"),
             "--sdp", str(SDP / "aiortc-answer.sdp")]
    one = analyze(str(interleaved), *fmt, *extra, "--jobs", "1")
    for jobs in ("2", "3", "5"):
        assert analyze(str(interleaved), *fmt, *extra, "--jobs", jobs) == one, jobs
    if fmt == ["--format", "jsonl"]:
        # the capture exercises what a wrong merge would break: many sessions, decrypted
        # records, events emitted by ticks and at the end, verdicts
        assert one.count('"event":"session_opened"') == 10
        assert '"event":"media"' in one and '"code":"handshake_incomplete"' in one
        assert one.count('"code":"fingerprint_mismatch"') >= 5
        assert '"event":"checks"' in one
        assert '"encrypted":true,"level":1,"level_name":"warning"' in one  # decrypted alert


def test_shares_run_in_their_own_processes_and_merge_by_key() -> None:
    def work(share: tuple[int, int]) -> list[tuple[tuple[int, int, int, int], tuple[int, int]]]:
        index, count = share
        # share i holds the keys i, i + count, ...: only a merge restores 0..11
        return [((n, 0, 0, 0), (n, os.getpid())) for n in range(index, 12, count)]

    items = list(run_shares(3, work))
    assert [key[0] for key, _ in items] == list(range(12))
    pids = {pid for _, (_, pid) in items}
    assert len(pids) == 3 and os.getpid() in pids


def test_a_failing_child_is_reported_with_its_error() -> None:
    def work(share: tuple[int, int]) -> list[tuple[tuple[int, int, int, int], int]]:
        if share[0] == 2:
            raise ValueError("bad share")
        return []

    with pytest.raises(ShareFailed, match="failed: ValueError: bad share"):
        list(run_shares(3, work))
    with pytest.raises(ChildProcessError):  # every child was waited for
        os.waitpid(-1, os.WNOHANG)


def test_a_failure_in_this_process_propagates_and_stops_the_children() -> None:
    def work(share: tuple[int, int]) -> list[tuple[tuple[int, int, int, int], int]]:
        if share[0] == 0:
            raise KeyError("share zero")
        import time

        time.sleep(30)  # killed, not waited for until done
        return []

    with pytest.raises(KeyError, match="share zero"):
        list(run_shares(2, work))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)


def test_default_jobs_forks_for_large_captures_of_several_sessions(
        tmp_path: Path, captures_dir: Path) -> None:
    chromium = list(read_capture(captures_dir / "capture-chrome-Chromium_123.0.6312.0_.pcap"))

    def write(path: Path, datagrams: list[Datagram]) -> Path:
        with PcapngWriter(path) as w:
            for n, d in enumerate(datagrams, 1):
                w.write(Datagram(d.ts, d.src, d.dst, d.data, n))
        return path

    # the same handshake between 100 pairs of hosts: 100 sessions, 290 KB
    many = write(tmp_path / "many.pcapng", [
        Datagram(d.ts + k, (f"10.1.{k}.1", d.src[1]), (f"10.1.{k}.2", d.dst[1]), d.data, 0)
        for k in range(100) for d in chromium])
    # one handshake, then 2,000 RTP packets on the same 5-tuple: one session, 460 KB
    a, b = chromium[0].src, chromium[0].dst
    rtp = bytes([0x80, 96]) + b"\x00" * 198
    call = write(tmp_path / "call.pcapng", chromium + [
        Datagram(chromium[-1].ts + i / 100, a, b, rtp, 0) for i in range(2000)])
    junk = tmp_path / "junk.pcap"
    with junk.open("wb") as f:
        f.truncate(AUTO_MIN_BYTES)
    small = write(tmp_path / "small.pcapng", chromium)
    assert min(many.stat().st_size, call.stat().st_size) >= AUTO_MIN_BYTES
    assert default_jobs(many) == min(len(os.sched_getaffinity(0)), 8)
    assert default_jobs(call) == 1  # a second process would find no session of its own
    assert default_jobs(junk) == 1  # not a capture: one process says so
    assert default_jobs(small) == 1


def test_bad_jobs_value_is_a_usage_error(interleaved: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", str(interleaved),
                        "--jobs", "0"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "--jobs: must be between 1 and 64, not 0" in r.stderr


def test_a_capture_from_a_pipe_is_read_once_in_one_process(interleaved: Path) -> None:
    # tshark -w - | dtlsproxy analyze /dev/stdin: pcapng from a pipe (it cannot seek)
    from_file = analyze(str(interleaved), "--format", "jsonl")
    r = subprocess.run([sys.executable, "-m", "proxy", "analyze", "/dev/stdin", "--format",
                        "jsonl", "--jobs", "2"], input=interleaved.read_bytes(),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == from_file
    assert b"/dev/stdin is not a regular file (a pipe?): analysed in one process" in r.stderr
