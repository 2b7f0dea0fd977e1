"""Decode benchmark: ``dtlsproxy analyze --format jsonl`` next to ``tshark -T json``.

Builds (once, cached in ``bench/.cache/``) a pcapng of real DTLS 1.2 handshakes made by
``openssl s_client``/``s_server -dtls1_2`` on loopback (mutual ECDSA P-256 certificates,
``-use_srtp``, HelloVerifyRequest cookie, openssl's default 256-byte fallback MTU so
flight 4 is fragmented), each handshake on its own client port. The datagrams are
recorded by a small UDP forwarder in this process (payloads and times exactly as sent).
Every handshake uses fresh self-signed certificates on both sides, as WebRTC calls do;
in the file every handshake is ``127.0.0.1:(10000+i) <-> 127.0.0.1:4433``.

Then it times, several runs each, median:

* ``dtlsproxy analyze FILE --format jsonl -o /dev/null`` (the real CLI, a subprocess);
* ``tshark -r FILE -T json -d udp.port==4433,dtls > /dev/null``;
* in-process ``analyze_capture`` alone, and with ``write_jsonl`` (``event_to_json``)
  (so interpreter start-up and imports are visible as the difference);
* both tools on a one-handshake file (their start-up cost);
* the floor no decoder design removes (``bench/floor.py``) against the 3x budget;
* both tools on a call capture: one real WebRTC handshake, then 60,000 RTP packets
  (what a WebRTC engineer usually brings; ``--no-call`` skips it).

Then the goal lines of issue 20, each "met" or "not met" (CPU time of one process,
start-up included, dtlsproxy ``--jobs 1``): the 200-handshake capture >= 1.5x tshark;
the 1,000- and 10,000-handshake captures (``--sizes``, built like the 200 one) >= 2x;
the call capture >= 10x; a busy gateway's capture (``bench/gateway.py``: 500 sessions,
a few failing, hours of SRTP; ``--gateway-mib``, 1024 by default, built in a temporary
directory and deleted after) read in at most 300 MiB of peak RSS and >= 10x tshark,
with its MB/s and datagrams/s. ``--quick``: 3 runs, 1,000 handshakes, 64 MiB.

Usage::

    .venv/bin/python -m bench.decode [--handshakes 200] [--runs 5] [--rebuild] [--profile]
        [--sizes 1000,10000] [--gateway-mib 1024] [--quick]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import floor
from proxy.analyze.parallel import default_jobs
from proxy.analyze.pipeline import analyze_capture
from proxy.capture.pcap import PcapngWriter
from proxy.cli.analyze import cyclic_gc_paused, write_jsonl
from proxy.demo.peers.certs import make_identity
from proxy.events import Datagram, SessionOpened, SessionSummary
from proxy.session import Tracker
from proxy.verdict import VerdictEngine

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
SERVER_PORT = 4433
CLIENT_PORT_BASE = 10000
SRTP = "SRTP_AES128_CM_SHA1_80"

Address = tuple[str, int]


# ------------------------------------------------------------------ capture


@dataclass
class _Conn:
    index: int
    server: Address
    listen: socket.socket
    up: socket.socket
    client: Address | None = None


class Forwarder:
    """One thread forwarding UDP for many handshakes and recording every payload.

    :meth:`new_conn` opens a fresh listening socket (where one ``s_client`` connects)
    and a fresh upstream socket towards that handshake's ``s_server``.
    """

    def __init__(self) -> None:
        self.records: list[tuple[float, int, str, bytes]] = []
        """(time, handshake index, ``c2s``/``s2c``, payload)."""
        self._conns: list[_Conn] = []
        self._by_port: dict[int, _Conn] = {}
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._closing: list[tuple[float, _Conn]] = []
        """Connections to close once their last datagrams had time to arrive."""
        self._thread = threading.Thread(target=self._run, name="forwarder", daemon=True)
        self._thread.start()

    def new_conn(self, server: Address) -> Address:
        """A new handshake towards ``server``: returns the address its client must use."""
        listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listen.bind(("127.0.0.1", 0))
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        up.bind(("127.0.0.1", 0))
        with self._lock:
            conn = _Conn(len(self._conns), server, listen, up)
            self._conns.append(conn)
            # epoll sees sockets registered while another thread waits in select (Linux).
            self._sel.register(listen, selectors.EVENT_READ, (conn, "c2s"))
            self._sel.register(up, selectors.EVENT_READ, (conn, "s2c"))
        host, port = listen.getsockname()[:2]
        with self._lock:
            self._by_port[int(port)] = conn
        return (str(host), int(port))

    def done(self, client_address: Address) -> None:
        """The handshake of the connection at ``client_address`` is over: its sockets are
        closed two seconds later (10,000 handshakes would otherwise run out of files)."""
        with self._lock:
            c = self._by_port.pop(client_address[1], None)
            if c is not None:
                self._closing.append((time.monotonic() + 2.0, c))

    def _close_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [c for t, c in self._closing if t <= now]
            self._closing = [(t, c) for t, c in self._closing if t > now]
            for c in due:
                for sock in (c.listen, c.up):
                    self._sel.unregister(sock)
                    sock.close()

    def stop(self) -> None:
        """Stop once quiet for 50 ms; close every socket."""
        self._stop.set()
        self._thread.join(timeout=10)
        for c in self._conns:
            c.listen.close()
            c.up.close()
        self._sel.close()

    def _run(self) -> None:
        while True:
            if self._closing:
                self._close_due()
            ready = self._sel.select(timeout=0.05)
            if not ready:
                if self._stop.is_set():
                    return
                continue
            for key, _ in ready:
                conn, direction = key.data
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data, addr = sock.recvfrom(65535)
                except OSError:
                    continue
                self.records.append((time.time(), conn.index, direction, data))
                if direction == "c2s":
                    conn.client = (str(addr[0]), int(addr[1]))
                    conn.up.sendto(data, conn.server)
                elif conn.client is not None:
                    conn.listen.sendto(data, conn.client)


def _openssl_common(cert: Path, key: Path) -> list[str]:
    return ["-dtls1_2", "-cert", str(cert), "-key", str(key), "-use_srtp", SRTP]


def _start_server(openssl: str, workdir: Path, cert: Path,
                  key: Path) -> tuple[subprocess.Popen[bytes], Address]:
    log = workdir / "server.log"
    out = log.open("wb")
    argv = [openssl, "s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-Verify", "1",
            *_openssl_common(cert, key)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    out.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        m = re.search(r"^ACCEPT 127\.0\.0\.1:(\d+)", log.read_text(errors="replace"), re.M)
        if m:
            return proc, ("127.0.0.1", int(m.group(1)))
        if proc.poll() is not None:
            break
        time.sleep(0.005)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"openssl s_server did not start: {log.read_text(errors='replace')}")


def one_handshake(openssl: str, fwd: Forwarder, workdir: Path) -> str | None:
    """One WebRTC-like DTLS 1.2 handshake: fresh self-signed ECDSA certs on both sides.

    Returns None, or why it failed.
    """
    workdir.mkdir()
    server_cert, server_key = make_identity("bench server").write(workdir, "server")
    client_cert, client_key = make_identity("bench client").write(workdir, "client")
    server, addr = _start_server(openssl, workdir, server_cert, server_key)
    try:
        connect = fwd.new_conn(addr)
        # stdin at EOF: s_client completes the handshake, sends close_notify, sleeps
        # 500 ms (apps/s_client.c, "give the socket time to send its last data") and exits.
        argv = [openssl, "s_client", "-connect", f"{connect[0]}:{connect[1]}",
                *_openssl_common(client_cert, client_key)]
        try:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        except subprocess.TimeoutExpired:
            return "s_client timed out"
        if b"Cipher is " not in r.stdout:
            return f"no handshake: {r.stdout[-300:]!r}"
        server.wait(timeout=10)
        fwd.done(connect)
        return None
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def build_capture(path: Path, handshakes: int, lanes: int) -> int:
    """Make ``handshakes`` real OpenSSL DTLS 1.2 handshakes and write them to ``path``.

    ``lanes`` handshakes run at a time (each s_client sleeps 500 ms at exit, so this is
    mostly waiting). Returns the number of datagrams written.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise SystemExit("bench: openssl not found (apt-get install openssl)")
    failures: list[str] = []
    todo = iter(range(handshakes))
    todo_lock = threading.Lock()
    with tempfile.TemporaryDirectory(prefix="dtls-bench-") as tmp:
        fwd = Forwarder()

        def lane() -> None:
            while True:
                with todo_lock:
                    i = next(todo, None)
                if i is None:
                    return
                why = one_handshake(openssl, fwd, Path(tmp) / f"h{i}")
                if why:
                    failures.append(why)

        threads = [threading.Thread(target=lane) for _ in range(max(1, lanes))]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            fwd.stop()
        if failures:
            raise SystemExit(f"bench: {len(failures)} handshakes failed:\n"
                             + "\n".join(failures[:10]))
    server = ("127.0.0.1", SERVER_PORT)
    records = sorted(fwd.records, key=lambda r: r[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_suffix(".tmp")
    with PcapngWriter(tmp_path) as w:
        for frame, (ts, index, direction, data) in enumerate(records, 1):
            client = ("127.0.0.1", CLIENT_PORT_BASE + index)
            src, dst = (client, server) if direction == "c2s" else (server, client)
            w.write(Datagram(ts=ts, src=src, dst=dst, data=data, frame=frame))
    tmp_path.replace(path)
    return len(records)


CALL_SOURCE = ROOT.parent / "shared" / "captures" / "stun_dtls_rtp.pcapng"
CALL_PACKETS = 60_000


def build_call_capture(path: Path) -> None:
    """A call as a WebRTC engineer captures it: the real STUN + DTLS-SRTP handshake of
    ``stun_dtls_rtp.pcapng`` (ntop/nDPI), then 60,000 RTP packets on the same 5-tuple,
    both ways, 100 per second (10 minutes), 172 bytes each: a valid RTP header, random
    bytes for the SRTP payload (its content is opaque to both tools)."""
    import struct

    from proxy.capture.pcap import read_capture

    head = list(read_capture(CALL_SOURCE))
    a, b = head[0].src, head[0].dst
    t = head[-1].ts
    seq = [1000, 5000]
    with PcapngWriter(path) as w:
        for n, d in enumerate(head, 1):
            w.write(Datagram(d.ts, d.src, d.dst, d.data, n))
        for i in range(CALL_PACKETS):
            t += 0.01
            side = i % 2
            seq[side] += 1
            rtp = struct.pack("!BBHII", 0x80, 96 + side, seq[side] & 0xFFFF,
                              (seq[side] * 960) & 0xFFFFFFFF, 0x1234 + side)
            w.write(Datagram(t, a if side == 0 else b, b if side == 0 else a,
                             rtp + os.urandom(160), len(head) + i + 1))


def first_handshake(src: Path, dst: Path) -> None:
    """Copy the first handshake (client port 10000) of ``src`` into ``dst`` (start-up runs)."""
    port = CLIENT_PORT_BASE
    with PcapngWriter(dst) as w:
        n = 0
        for ev_d in _datagrams(src):
            if port in (ev_d.src[1], ev_d.dst[1]):
                n += 1
                w.write(Datagram(ev_d.ts, ev_d.src, ev_d.dst, ev_d.data, n))


def _datagrams(path: Path) -> Iterator[Datagram]:
    from proxy.capture.pcap import read_capture

    yield from read_capture(path)


# ---------------------------------------------------------------- measuring


@dataclass
class Timing:
    """Wall-clock and child CPU seconds of each run."""

    wall: list[float]
    cpu: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu) if self.cpu else float("nan")


def bytecode_env(cached: bool = True) -> dict[str, str]:
    """The environment of the ``dtlsproxy`` runs. ``cached``: its modules' bytecode is
    written once (to ``bench/.cache/pycache``, not the source tree) and read by every
    later run, as after ``pip install``, even where ``PYTHONDONTWRITEBYTECODE`` is set
    (this machine sets it: every run then compiles the sources again, ~0.05 s)."""
    env = dict(os.environ)
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def time_command(argv: list[str], runs: int, stdout_null: bool = True,
                 env: dict[str, str] | None = None, warm_up: bool = True) -> Timing:
    """Run ``argv`` ``runs`` times (after one warm-up run unless ``warm_up=False``),
    stdout to /dev/null."""
    wall: list[float] = []
    cpu: list[float] = []
    for i in range(runs + 1 if warm_up else runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(argv, stdout=subprocess.DEVNULL if stdout_null else None,
                           stderr=subprocess.PIPE, env=env)
        dt = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv)} failed ({r.returncode}): "
                             f"{r.stderr.decode(errors='replace')[-500:]}")
        if warm_up and i == 0:
            continue  # warm-up: page cache, .pyc files
        wall.append(dt)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return Timing(wall, cpu)


def time_commands(commands: list[tuple[list[str], dict[str, str] | None]],
                  runs: int) -> list[Timing]:
    """:func:`time_command` for several commands, interleaved: round after round, each
    command runs once (the first round is the warm-up)."""
    out = [Timing([], []) for _ in commands]
    for i in range(runs + 1):
        for (argv, env), timing in zip(commands, out, strict=True):
            t = time_command(argv, 0, env=env) if i == 0 else time_command(
                argv, 1, env=env, warm_up=False)
            timing.wall.extend(t.wall)
            timing.cpu.extend(t.cpu)
    return out


def time_call(fn: Callable[[], object], runs: int) -> Timing:
    """Time ``fn()`` ``runs`` times in this process (after one warm-up call)."""
    fn()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return Timing(wall, cpu)


def decode_only(path: Path, verdicts: bool = True) -> int:
    """``analyze_capture`` as the CLI runs it (or without the verdict rules), events
    discarded; returns the event count."""
    n = 0
    hook = VerdictEngine() if verdicts else None
    for _ in analyze_capture(path, tracker=Tracker(verdict_hook=hook)):
        n += 1
    return n


class _Counter(io.StringIO):
    """A text sink that only counts characters."""

    size = 0

    def write(self, s: str) -> int:
        self.size += len(s)
        return len(s)


def decode_and_serialise(path: Path) -> int:
    """What the CLI does in-process: ``analyze_capture``, then ``write_jsonl``
    (``event_to_json`` per event); returns the JSONL size in characters."""
    events = list(analyze_capture(path, tracker=Tracker(verdict_hook=VerdictEngine())))
    sink = _Counter()
    write_jsonl(events, sink)
    return sink.size


def census(path: Path) -> tuple[int, int, int, int]:
    """(sessions, established sessions, events, datagrams) as dtlsproxy sees the file."""
    sessions: set[str] = set()
    state: dict[str, str] = {}
    events = 0
    for ev in analyze_capture(path):
        events += 1
        if isinstance(ev, SessionOpened):
            sessions.add(ev.session)
        elif isinstance(ev, SessionSummary):
            state[ev.session] = ev.state
    datagrams = sum(1 for _ in _datagrams(path))
    established = sum(1 for s in state.values() if s == "established")
    return len(sessions), established, events, datagrams


def dtlsproxy_argv(path: Path, *extra: str) -> list[str]:
    """The real CLI: the venv's ``dtlsproxy`` console script."""
    exe = Path(sys.executable).parent / "dtlsproxy"
    base = [str(exe)] if exe.exists() else [sys.executable, "-m", "proxy"]
    return [*base, "analyze", str(path), "--format", "jsonl", "-o", os.devnull, *extra]


def tshark_argv(path: Path) -> list[str]:
    """``tshark -r FILE -T json -d udp.port==4433,dtls`` (stdout goes to /dev/null)."""
    tshark = shutil.which("tshark")
    if tshark is None:
        raise SystemExit("bench: tshark not found (apt-get install tshark)")
    return [tshark, "-r", str(path), "-T", "json", "-d", f"udp.port=={SERVER_PORT},dtls"]


def profile(path: Path, out: Path, top: int) -> None:
    """cProfile of decode + serialisation in-process; the ``top`` functions by own time."""
    prof = cProfile.Profile()
    with cyclic_gc_paused():  # as the CLI runs (a collection would land in a random function)
        prof.enable()
        decode_and_serialise(path)
        prof.disable()
    prof.dump_stats(str(out))
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def print_floor(least: floor.Floor, startup: float, cli_cpu: float, tshark_cpu: float,
                datagrams: int) -> None:
    """What 3x tshark leaves for the project's own code, against what it takes now."""
    fixed = startup + least.crypto
    budget = tshark_cpu / 3
    print(f"\nfloor (CPU s, parts no decoder design removes): interpreter start-up + imports "
          f"of json and cryptography {startup:.3f}; cryptography's work for the checks "
          f"({least.certificates} certificates loaded, {least.verifications} ECDSA "
          f"verifications) {least.crypto:.3f}; sum {fixed:.3f}"
          + (f" ({least.skipped} non-ECDSA verifications not replayed)" if least.skipped
             else ""))
    own_now = cli_cpu - fixed
    left = budget - fixed
    print(f"3x tshark = the whole run in {budget:.3f} CPU s: {left:.3f} s left for dtlsproxy's "
          f"own code (its imports, reading, decoding, sessions, checks, JSON), "
          f"{1e6 * left / datagrams:.1f} us per datagram; it takes {own_now:.3f} s now, "
          + (f"{own_now / left:.1f}x that budget" if left > 0 else "over a budget of nothing"))
    print(f"reference: the standard library's C JSON encoder writes the same text from "
          f"ready-made dicts in {least.json:.3f} s")


# --------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the capture, time both tools, print a Markdown table."""
    p = argparse.ArgumentParser(prog="python -m bench.decode", description=__doc__.split("\n")[0])
    p.add_argument("--handshakes", type=int, default=200, help="handshakes in the capture")
    p.add_argument("--lanes", type=int, default=16,
                   help="handshakes made at the same time while building the capture")
    p.add_argument("--runs", type=int, default=5, help="timed runs per tool (median)")
    p.add_argument("--capture", type=Path, help="use this capture instead of building one "
                   "(its DTLS server port must be 4433 for tshark)")
    p.add_argument("--rebuild", action="store_true", help="rebuild the cached capture")
    p.add_argument("--profile", action="store_true",
                   help="also print a cProfile of the in-process decode + JSON")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--no-call", dest="call", action="store_false",
                   help="skip the call capture (a handshake then 60,000 RTP packets)")
    p.add_argument("--sizes", default="1000,10000",
                   help="the larger handshake captures timed for the goal lines (comma list; "
                   "'' none): --jobs 1 against tshark, built once like the 200 one")
    p.add_argument("--gateway-mib", type=float, default=1024, metavar="MIB",
                   help="size of the busy-gateway capture (bench/gateway.py), built in a "
                   "temporary directory and deleted after (0: skipped)")
    p.add_argument("--quick", action="store_true",
                   help="a short run: --runs 3, --sizes 1000, --gateway-mib 64")
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.sizes, args.gateway_mib = min(args.runs, 3), "1000", min(
            args.gateway_mib, 64)
    goals: list[tuple[str, str, bool]] = []

    if args.capture:
        path: Path = args.capture
    else:
        path = CACHE / f"openssl-dtls12-{args.handshakes}.pcapng"
        if args.rebuild or not path.exists():
            t0 = time.perf_counter()
            n = build_capture(path, args.handshakes, args.lanes)
            print(f"built {path.relative_to(ROOT)}: {args.handshakes} handshakes, {n} datagrams "
                  f"in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    sessions, established, events, datagrams = census(path)
    handshakes = established
    if handshakes == 0:
        raise SystemExit(f"bench: no established DTLS session in {path}")
    tiny = CACHE / "one-handshake.pcapng"
    CACHE.mkdir(parents=True, exist_ok=True)
    first_handshake(path, tiny)

    # tshark must really dissect DTLS here (a wrong port mapping would make it fast).
    cv = subprocess.run([*tshark_argv(path)[:3], "-d", f"udp.port=={SERVER_PORT},dtls", "-Y",
                         "dtls.handshake.type == 15", "-T", "fields", "-e", "frame.number"],
                        capture_output=True, text=True, check=True)
    tshark_cv = len(cv.stdout.split())
    if tshark_cv != handshakes:
        print(f"warning: tshark sees {tshark_cv} CertificateVerify, expected {handshakes}",
              file=sys.stderr)

    runs = args.runs
    # Interleaved, one run of each per round: a shared machine's load drifts over the
    # benchmark, and each tool then sees the same share of it.
    jobs = default_jobs(path)
    cli, cli1, cli_compiling, tsh, cli0, tsh0, libs0 = time_commands([
        (dtlsproxy_argv(path), bytecode_env()),
        (dtlsproxy_argv(path, "--jobs", "1"), bytecode_env()),
        (dtlsproxy_argv(path, "--jobs", "1"), bytecode_env(cached=False)),
        (tshark_argv(path), None),
        (dtlsproxy_argv(tiny), bytecode_env()),
        (tshark_argv(tiny), None),
        (floor.STARTUP_ARGV, None),
    ], runs)
    least = floor.measure(path, runs)
    with cyclic_gc_paused():  # in-process rows as the CLI runs
        bare = time_call(lambda: decode_only(path, verdicts=False), runs)
        dec = time_call(lambda: decode_only(path), runs)
        ser = time_call(lambda: decode_and_serialise(path), runs)
        jsonl_bytes = decode_and_serialise(path)

    def row(name: str, t: Timing) -> dict[str, float | str]:
        return {"name": name, "seconds": t.median, "cpu": t.median_cpu,
                "handshakes_per_s": handshakes / t.median, "datagrams_per_s": datagrams / t.median,
                "handshakes_per_cpu_s": handshakes / t.median_cpu}

    rows = [
        row(f"dtlsproxy analyze --format jsonl -o /dev/null (default: --jobs {jobs})", cli),
        row("same, --jobs 1 (one process)", cli1),
        row("same, --jobs 1, PYTHONDONTWRITEBYTECODE=1 (sources compiled every run)",
            cli_compiling),
        row("tshark -T json > /dev/null", tsh),
        row("in-process analyze_capture, no verdict rules (Tracker())", bare),
        row("in-process analyze_capture (as the CLI: with verdict rules)", dec),
        row("in-process analyze_capture + write_jsonl (event_to_json)", ser),
    ]
    ratio = tsh.median / cli.median
    ratio_cpu = tsh.median_cpu / cli1.median_cpu
    result = {
        "capture": str(path), "handshakes": handshakes, "sessions": sessions,
        "datagrams": datagrams, "events": events, "jsonl_bytes": jsonl_bytes, "runs": runs,
        "tshark_certificate_verify": tshark_cv,
        "rows": rows, "ratio_handshakes_per_s": ratio, "ratio_cpu": ratio_cpu, "goal": 3.0,
        "startup_seconds": {"dtlsproxy": cli0.median, "tshark": tsh0.median},
        "startup_cpu_seconds": {"dtlsproxy": cli0.median_cpu, "tshark": tsh0.median_cpu},
        "cpus": os.cpu_count(),
        "floor_cpu_seconds": {"startup_and_imports": libs0.median_cpu, "crypto": least.crypto,
                              "json_c_encoder_reference": least.json},
    }
    call: dict[str, float] = {}
    if args.call:
        call_path = CACHE / "call-60k-rtp.pcapng"
        if args.rebuild or not call_path.exists():
            build_call_capture(call_path)
        call_runs = min(runs, 3)
        # tshark finds the DTLS by its heuristics; its RTP heuristic on, as dtlsproxy
        # recognises (and counts) RTP too
        tshark_call = [*tshark_argv(call_path)[:5], "--enable-heuristic", "rtp_udp"]
        c_cli, c_tsh = time_commands([(dtlsproxy_argv(call_path), bytecode_env()),
                                      (tshark_call, None)], call_runs)
        call = {"dtlsproxy_wall": c_cli.median, "dtlsproxy_cpu": c_cli.median_cpu,
                "tshark_wall": c_tsh.median, "tshark_cpu": c_tsh.median_cpu,
                "datagrams": CALL_PACKETS, "runs": call_runs}
        result["call"] = call
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"capture: {path} ({handshakes} established DTLS 1.2 handshakes of {sessions} "
              f"sessions, {datagrams} datagrams; {events} events, {jsonl_bytes} bytes of JSONL; "
              f"tshark finds {tshark_cv} CertificateVerify)")
        print(f"median of {runs} runs (after 1 warm-up), {os.cpu_count()} CPUs\n")
        print("| what | wall s | CPU s | handshakes/s | datagrams/s | handshakes/CPU-s |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in rows:
            print(f"| {r['name']} | {r['seconds']:.3f} | {r['cpu']:.3f} | "
                  f"{r['handshakes_per_s']:.0f} | {r['datagrams_per_s']:.0f} | "
                  f"{r['handshakes_per_cpu_s']:.0f} |")
        print(f"\nstart-up (one-handshake file), wall (CPU): dtlsproxy {cli0.median:.3f} s "
              f"({cli0.median_cpu:.3f} s), tshark {tsh0.median:.3f} s ({tsh0.median_cpu:.3f} s)")
        print(f"ratio dtlsproxy/tshark handshakes/s: {ratio:.2f}x wall-clock (--jobs {jobs}), "
              f"{ratio_cpu:.2f}x by CPU time (one process)")
        print_floor(least, libs0.median_cpu, cli1.median_cpu, tsh.median_cpu, datagrams)
        if call:
            print(f"\ncall capture (one real WebRTC handshake, then {CALL_PACKETS} RTP packets; "
                  f"median of {call['runs']}): dtlsproxy {call['dtlsproxy_wall']:.2f} s wall "
                  f"({call['dtlsproxy_cpu']:.2f} s CPU), tshark -T json --enable-heuristic "
                  f"rtp_udp {call['tshark_wall']:.2f} s ({call['tshark_cpu']:.2f} s CPU): "
                  f"{call['tshark_wall'] / call['dtlsproxy_wall']:.1f}x")
    goals.append((f"{handshakes} handshakes: >= 1.5x tshark -T json by CPU of one process",
                  f"{ratio_cpu:.2f}x ({cli1.median_cpu:.3f} s against {tsh.median_cpu:.3f} s)",
                  ratio_cpu >= 1.5))
    if call:
        r = call["tshark_cpu"] / call["dtlsproxy_cpu"]
        goals.append((f"call capture (1 handshake + {CALL_PACKETS:,} RTP): >= 10x by CPU",
                      f"{r:.1f}x ({call['dtlsproxy_cpu']:.2f} s against "
                      f"{call['tshark_cpu']:.2f} s)", r >= 10))
    for size in [int(x) for x in args.sizes.split(",") if x.strip()]:
        goals.append(big_capture(size, args.lanes, 1 if size >= 10_000 else min(runs, 3)))
    if args.gateway_mib:
        goals.extend(gateway_goals(args.gateway_mib, args.lanes))
    print(f"\ngoals (issue 20), load average {os.getloadavg()[0]:.1f}:")
    for name, value, ok in goals:
        print(f"- {name}: {value}: {'met' if ok else 'not met'}")
    if args.profile:
        profile(path, CACHE / "decode.prof", 30)
    return 0


def handshake_capture(n: int, lanes: int) -> Path:
    """The cached capture of ``n`` real handshakes (built the first time)."""
    path = CACHE / f"openssl-dtls12-{n}.pcapng"
    if not path.exists():
        t0 = time.perf_counter()
        d = build_capture(path, n, lanes)
        print(f"built {path.relative_to(ROOT)}: {n} handshakes, {d} datagrams in "
              f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


def big_capture(n: int, lanes: int, runs: int) -> tuple[str, str, bool]:
    """The goal line of a capture of ``n`` handshakes: >= 2x tshark by CPU, one process."""
    path = handshake_capture(n, lanes)
    cli, tsh = time_commands([(dtlsproxy_argv(path, "--jobs", "1"), bytecode_env()),
                              (tshark_argv(path), None)], runs)
    r = tsh.median_cpu / cli.median_cpu
    return (f"{n:,} handshakes: >= 2x tshark -T json by CPU of one process",
            f"{r:.2f}x ({cli.median_cpu:.2f} s against {tsh.median_cpu:.2f} s, median of "
            f"{runs})", r >= 2)


def measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS KiB) of one run of ``argv``, stdout to /dev/null."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed ({proc.returncode})")
    return wall, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss)


def gateway_goals(mib: float, lanes: int) -> list[tuple[str, str, bool]]:
    """The busy-gateway capture (bench/gateway.py) of ``mib`` MiB, in a temporary
    directory: dtlsproxy (one process) and tshark, once each; peak RSS, throughput."""
    from bench.gateway import SESSIONS, build_gateway

    source = handshake_capture(1000, lanes)
    with tempfile.TemporaryDirectory(prefix="dtls-gateway-") as tmp:
        path = Path(tmp) / "gateway.pcapng"
        t0 = time.perf_counter()
        datagrams, size = build_gateway(path, int(mib * (1 << 20)), source)
        print(f"built the gateway capture: {size / (1 << 20):.0f} MiB, {datagrams:,} "
              f"datagrams, {SESSIONS} sessions in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
        subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # page cache
        d_wall, d_cpu, d_rss = measured(dtlsproxy_argv(path, "--jobs", "1"), bytecode_env())
        _, t_cpu, t_rss = measured([*tshark_argv(path)[:5], "--enable-heuristic",
                                         "rtp_udp"])
    mb = size / 1e6
    name = (f"busy gateway ({size / (1 << 20):.0f} MiB, {datagrams:,} datagrams, "
            f"{SESSIONS} sessions)")
    r = t_cpu / d_cpu
    return [
        (f"{name}: peak RSS <= 300 MiB", f"dtlsproxy {d_rss / 1024:.0f} MiB, tshark "
         f"{t_rss / 1024:.0f} MiB", d_rss <= 300 * 1024),
        (f"{name}: >= 10x tshark by CPU", f"{r:.1f}x; dtlsproxy {d_cpu:.1f} s CPU "
         f"({d_wall:.1f} s wall): {mb / d_cpu:.1f} MB/s, {datagrams / d_cpu:,.0f} datagrams/s "
         f"per CPU-s; tshark {t_cpu:.1f} s ({mb / t_cpu:.1f} MB/s)", r >= 10),
    ]


if __name__ == "__main__":
    sys.exit(main())
