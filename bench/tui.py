"""Benchmark the TUI's absorption (not a test): 1,000 sessions, 100,000 messages.

Feeds ``DtlsProxyApp`` (headless, ``run_test``) through a real ``proxy.bus``
subscription as fast as it takes them (the producer tops the queue up whenever it
holds fewer than ``--queue`` events), and prints events/s absorbed, the worst gap
between two refreshes, and peak memory (tracemalloc, in a separate run so the
speed numbers are not slowed by it). Same run, for comparison:

- ``history=50`` vs ``history=5000`` (the cap bounds memory),
- a bare Textual DataTable that appends one row per message (the naive UI),
- the same stream offered at a steady ``--rate`` (25,000 events/s): no backlog.

The last line checks the goal (issue 4): no refresh gap over 100 ms while
absorbing >= 20,000 events/s, memory bounded by the configured history.

    .venv/bin/python -m bench.tui [--sessions 1000] [--messages 100000] [--rate 25000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from proxy.bus import Bus, Subscription
from proxy.events import (
    AlertSeen,
    DatagramSeen,
    Event,
    MessageSeen,
    SessionOpened,
    SessionSummary,
)
from ui.app import DtlsProxyApp

NAMES = ["ClientHello", "HelloVerifyRequest", "ClientHello", "ServerHello", "Certificate",
         "ServerKeyExchange", "CertificateRequest", "ServerHelloDone", "Certificate",
         "ClientKeyExchange", "CertificateVerify", "ChangeCipherSpec", "Finished"]
FLIGHTS = [1, 2, 3, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5]


def synthetic(sessions: int, messages: int) -> list[Event]:
    """Round-robin over sessions: every session handshakes, then retransmits."""
    per = messages // sessions
    out: list[Event] = []
    t0 = 1_700_000_000.0
    raw = bytes(12) + bytes(range(256)) * 2
    for s in range(sessions):
        out.append(SessionOpened(t0, f"s{s}", (f"127.0.0.1:{10000 + s}", "127.0.0.1:8088"),
                                 ("browser", "janus")))
    frame = 0
    for i in range(per):
        name, flight = NAMES[i % len(NAMES)], FLIGHTS[i % len(NAMES)]
        c2s = flight in (1, 3, 5)
        d = "client->server" if c2s else "server->client"
        for s in range(sessions):
            frame += 1
            ts = t0 + i * 0.01 + s * 1e-6
            sid = f"s{s}"
            out.append(MessageSeen(ts, sid, d, flight, name, 1, i, 0, False,
                                   1 + i // len(NAMES), (frame,), len(raw) - 12, raw))
            if i % 5 == 0:
                out.append(DatagramSeen(ts, sid, frame, d, "dtls", 100, raw[:100]))
            if i % 20 == 19:
                out.append(SessionSummary(ts, sid, "handshaking", "127.0.0.1:1", "127.0.0.1:2",
                                          "browser", "janus", "DTLS 1.2",
                                          counters={f"dtls {d}": i}))
            if i == per - 1 and s % 10 == 0:
                out.append(AlertSeen(ts, sid, "server->client", (frame,), 0, False, 2, "fatal",
                                     51, "decrypt_error", 5))
    return out


gc_pauses: list[float] = []
_gc_start = [0.0]


def _gc_watch(phase: str, info: dict[str, int]) -> None:
    """Record full (generation 2) collector pauses: they explain the worst gaps."""
    if phase == "start":
        _gc_start[0] = time.perf_counter()
    elif info["generation"] == 2:
        gc_pauses.append(time.perf_counter() - _gc_start[0])


async def feed(sub_bus: Bus, events: list[Event], queue: int, chunk: int,
               sub: Subscription, rate: float | None = None) -> float:
    """Publish as fast as the subscriber drains (or at ``rate`` events/s); returns the
    time the last chunk went in."""
    i = 0
    t0 = time.perf_counter()
    while i < len(events):
        if rate is not None:
            due = t0 + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(min(wait, 0.005))
                continue
        if len(sub) < queue:
            sub_bus.publish(events[i : i + chunk])
            i += chunk
        await asyncio.sleep(0)
    return time.perf_counter()


async def run_app(events: list[Event], history: int, queue: int, chunk: int,
                  measure_memory: bool, rate: float | None = None) -> dict[str, float]:
    bus = Bus()
    sub = bus.subscribe(maxlen=10 * queue)
    app = DtlsProxyApp(sub, history=history, max_sessions=5000)
    gc.collect()
    if measure_memory:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        app.worst_gap = 0.0
        app.gaps.clear()
        app._last_refresh = None
        gc_pauses.clear()
        start = time.perf_counter()
        await feed(bus, events, queue, chunk, sub, rate)
        while len(sub) or app.model.events < len(events) - sub.dropped:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        await pilot.pause(0.2)
        peak = 0
        if measure_memory:
            peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
        gaps = sorted(app.gaps)
        return {
            "events": app.model.events,
            "rate": app.model.events / elapsed,
            "worst_gap": app.worst_gap,
            "median_gap": gaps[len(gaps) // 2] if gaps else 0.0,
            "p95_gap": gaps[int(len(gaps) * 0.95)] if gaps else 0.0,
            "gc2_max": max(gc_pauses, default=0.0),
            "refreshes": app.refreshes,
            "dropped": app.dropped,
            "peak": peak,
        }


class BareTable(App[None]):
    """Baseline: one DataTable row per message, appended on the same timer."""

    def __init__(self, sub: Subscription) -> None:
        super().__init__()
        self.sub = sub
        self.count = 0
        self.worst_gap = 0.0
        self._last: float | None = None

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        t = self.query_one(DataTable)
        t.add_columns("session", "dir", "type", "flight")
        self.set_interval(0.1, self.tick)

    def tick(self) -> None:
        t = self.query_one(DataTable)
        for ev in self.sub.drain():
            self.count += 1
            if isinstance(ev, MessageSeen):
                t.add_row(ev.session, ev.dir, ev.type, str(ev.flight))
        now = time.perf_counter()
        if self._last is not None:
            self.worst_gap = max(self.worst_gap, now - self._last)
        self._last = now


async def run_bare(events: list[Event], queue: int, chunk: int) -> dict[str, float]:
    bus = Bus()
    sub = bus.subscribe(maxlen=10 * queue)
    app = BareTable(sub)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        start = time.perf_counter()
        await feed(bus, events, queue, chunk, sub)
        while len(sub) or app.count < len(events) - sub.dropped:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        await pilot.pause(0.2)
        return {"events": app.count, "rate": app.count / elapsed, "worst_gap": app.worst_gap,
                "dropped": sub.dropped}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--messages", type=int, default=100_000)
    p.add_argument("--queue", type=int, default=20_000,
                   help="producer tops the subscription up to this many events")
    p.add_argument("--chunk", type=int, default=500)
    p.add_argument("--rate", type=int, default=25_000, help="events/s of the paced run")
    p.add_argument("--skip-bare", action="store_true", help="skip the bare DataTable baseline")
    a = p.parse_args()
    events = synthetic(a.sessions, a.messages)
    gc.collect()
    gc.freeze()  # the pre-built input is the producer's, not the app's: keep it out of GC scans
    msgs = sum(isinstance(e, MessageSeen) for e in events)
    print(f"stream: {a.sessions} sessions, {msgs} messages, {len(events)} events")

    gc.callbacks.append(_gc_watch)

    def show(label: str, r: dict[str, float]) -> None:
        print(f"{label:<22} {r['rate']:>9,.0f} events/s  refresh gap worst "
              f"{r['worst_gap'] * 1000:5.0f} ms", end="")
        if "median_gap" in r:
            print(f" (median {r['median_gap'] * 1000:3.0f}, p95 {r['p95_gap'] * 1000:3.0f}; "
                  f"worst full GC pause {r['gc2_max'] * 1000:3.0f} ms)", end="")
        print(f"  dropped {int(r['dropped'])}")

    paced = f"app paced {a.rate // 1000}k/s"
    runs: list[tuple[str, Callable[[], dict[str, float]]]] = [
        ("app history=50", lambda: asyncio.run(run_app(events, 50, a.queue, a.chunk, False))),
        ("app history=5000", lambda: asyncio.run(run_app(events, 5000, a.queue, a.chunk,
                                                        False))),
        # the same stream offered at a steady rate: the app keeps up (no backlog), the
        # collector runs on its usual thresholds
        (paced, lambda: asyncio.run(run_app(events, 5000, a.queue, a.chunk, False, a.rate))),
    ]
    speed: dict[str, dict[str, float]] = {}
    for label, fn in runs:
        speed[label] = fn()
        show(label, speed[label])
    # Memory: the same number of messages over 10x fewer, longer sessions, so the
    # per-session history cap is what decides how much is kept.
    long = synthetic(max(1, a.sessions // 10), a.messages)
    gc.collect()
    gc.freeze()
    peaks: dict[tuple[str, int], float] = {}
    for label, stream in (("1000 sessions", events), ("100 long sessions", long)):
        for history in (50, 5000):
            r = asyncio.run(run_app(stream, history, a.queue, a.chunk, True))
            peaks[label, history] = r["peak"]
            print(f"memory {label:<18} history={history:<5} peak {r['peak'] / 1e6:6.1f} MB "
                  f"(tracemalloc)")
    if not a.skip_bare:
        show("bare DataTable append", asyncio.run(run_bare(events, a.queue, a.chunk)))
    worst = max(r["worst_gap"] for r in speed.values())
    slowest = min(r["rate"] for label, r in speed.items() if label != paced)
    capped, kept = peaks["100 long sessions", 50], peaks["100 long sessions", 5000]
    ok = worst <= 0.100 and slowest >= 20_000 and capped < kept
    print(f"goal (issue 4): worst refresh gap {worst * 1000:.0f} ms (<= 100), absorbed "
          f">= {slowest:,.0f} events/s (>= 20,000), history=50 keeps {capped / 1e6:.1f} MB "
          f"vs {kept / 1e6:.1f} MB at history=5000 (bounded): {'MET' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
