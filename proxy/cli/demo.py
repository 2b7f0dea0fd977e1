"""``dtlsproxy demo``: the embedded default -- live handshakes through the proxy, in the TUI.

Without ``--fault`` it runs the tour: a clean handshake, then the seed's failure
(the client's CertificateVerify corrupted in transit, the server answers
decrypt_error) so the banner names the culprit within seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from proxy.bus import Bus, Subscription
from proxy.cli.tui import Tui
from proxy.demo.scenarios import SCENARIOS, TOUR, Demo, remove_workdir, scenario_names, start_demo

EXIT_OK = 0
EXIT_USAGE = 2


def add_parser(sub: Any) -> None:
    """Register ``demo``."""
    names = ", ".join(SCENARIOS)
    p = sub.add_parser(
        "demo",
        help="live demo: real DTLS peers through the proxy, shown in the TUI",
        description="Run real DTLS handshakes (OpenSSL via pyOpenSSL: ECDSA P-256 "
        "certificates on both sides, mutual authentication, use_srtp, cookie exchange) "
        "through the relay on loopback, and show them in the TUI. Without --fault: a clean "
        f"handshake, then {TOUR[1]} (the seed's decrypt_error). Scenarios: {names}.",
        epilog="examples: dtlsproxy demo | dtlsproxy demo --fault drop-flight-4 | "
        "dtlsproxy demo --headless --fault bad-finished",
    )
    p.add_argument("--fault", metavar="NAME", help=f"one scenario: {names} (default: the tour)")
    p.add_argument("--headless", action="store_true",
                   help="no TUI: one line per flight, alert and verdict on stderr, then exit")
    p.add_argument("--log-file", type=Path, metavar="FILE",
                   help="also write the JSONL log (docs/log-schema.md)")


def main(args: argparse.Namespace) -> int:
    """Run the demo; see the module docstring."""
    try:
        names = scenario_names(args.fault)
    except ValueError as e:
        print(f"dtlsproxy demo: {e}", file=sys.stderr)
        return EXIT_USAGE
    tui: Tui | None = args.tui
    if tui is None or args.headless or not sys.stdout.isatty():
        return asyncio.run(_headless(names, args.log_file))
    return asyncio.run(_tui(tui, names, args.log_file))


def _writers(bus: Bus, log_file: Path | None) -> tuple[Subscription | None, Any]:
    if log_file is None:
        return None, None
    from proxy.export.jsonl import JsonlWriter

    return bus.subscribe(), JsonlWriter(log_file)


async def _headless(names: list[str], log_file: Path | None) -> int:
    from proxy.export.console import ConsoleRenderer

    bus = Bus()
    console_sub = bus.subscribe()
    log_sub, log_writer = _writers(bus, log_file)
    console = ConsoleRenderer()
    demo = await start_demo(names, bus)

    def flush() -> None:
        console.write(console_sub.drain())
        if log_sub is not None:
            log_writer.write(log_sub.drain())

    try:
        await demo.run_calls(on_done=lambda _c: flush())
    finally:
        await demo.close()
        flush()
        if log_writer is not None:
            log_writer.close()
        remove_workdir(demo)
    return EXIT_OK


async def _tui(tui: Tui, names: list[str], log_file: Path | None) -> int:
    bus = Bus()
    sub = bus.subscribe(maxlen=50_000)
    log_sub, log_writer = _writers(bus, log_file)
    demo = await start_demo(names, bus)
    addrs = ", ".join(
        f"{c.labels[0]}<->{c.labels[1]} via {_fmt(r.a.addr)}|{_fmt(r.b.addr)}"
        for c, r in zip(demo.calls, demo.relay.calls, strict=True)
    )
    header = {"demo": " + ".join(names), "relay": addrs,
              "log": str(log_file) if log_file else "-"}

    async def drive(d: Demo) -> None:
        await d.run_calls()
        await d.close()

    async def log_forever() -> None:
        while log_sub is not None:
            log_writer.write(log_sub.drain())
            await asyncio.sleep(0.2)

    task = asyncio.create_task(drive(demo))
    logger = asyncio.create_task(log_forever())
    try:
        await tui.live(sub, header, asyncio.Event())  # until the user quits
    finally:
        task.cancel()
        logger.cancel()
        await asyncio.gather(task, logger, return_exceptions=True)
        await demo.close()
        if log_writer is not None:
            log_writer.write(log_sub.drain() if log_sub else [])
            log_writer.close()
        remove_workdir(demo)
    return EXIT_OK


def _fmt(addr: tuple[str, int]) -> str:
    return f"{addr[0]}:{addr[1]}"
