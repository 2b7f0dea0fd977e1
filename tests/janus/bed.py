"""Bed driver: run ONE scenario inside a private network namespace, print a JSON result.

Started by :func:`tests.janus.harness.run_bed` as
``unshare --net --fork --kill-child -- python -m tests.janus.bed --workdir DIR ...``.
It configures the namespace, starts Janus, optionally a relay between aiortc
(side a) and Janus (side b), runs one echotest call, stops everything and writes
``DIR/result.json``. Janus's log is ``DIR/janus.log``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from tests.janus import netns
from tests.janus import sdp as sdpmod
from tests.janus.janus import JanusClient, JanusServer
from tests.janus.peer import echotest_call
from tests.janus.relay import TrivialRelay

RELAYS = ("none", "trivial")
SCENARIOS = ("clean", "wrong_fingerprint", "hang")
"""``hang`` starts Janus and the relay, then waits forever: the harness must kill it cleanly."""
WRONG_FINGERPRINT = "sha-256 " + ":".join(["00"] * 32)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line of the driver."""
    p = argparse.ArgumentParser(prog="python -m tests.janus.bed")
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument(
        "--outer-netns",
        type=int,
        required=True,
        help="netns inode of the caller (stat -Lc %%i /proc/self/ns/net): never touched",
    )
    p.add_argument("--relay", choices=RELAYS, default="none")
    p.add_argument(
        "--dtls-role",
        choices=("server", "client"),
        default="server",
        help="aiortc's DTLS role: server offers actpass, client offers active",
    )
    p.add_argument("--scenario", choices=SCENARIOS, default="clean")
    p.add_argument("--timeout", type=float, default=15.0)
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up the namespace, run the scenario, tear down; the result dict."""
    t0 = time.monotonic()
    result: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    result["iface_kind"] = netns.setup_inside(args.outer_netns)
    result["netns"] = netns.describe_inside()
    server = JanusServer(args.workdir / "janus.log")
    relay: TrivialRelay | None = None
    try:
        await server.start()
        result["janus"] = {"pid": server.pid, "ready_after_s": round(server.ready_after or 0, 3)}
        offer_hook = None
        answer_hook = None
        rewriter: dict[str, str | None] = {"impl": None}
        if args.relay == "trivial":
            relay = TrivialRelay(netns.BED_ADDRESS)
            await relay.start()
            r = relay

            def offer_hook(sdp: str) -> str:
                # aiortc's BUNDLE transport is its first m-section's candidate: the
                # relay's side-a peer, known before Janus's first check arrives
                first = sdpmod.candidates(sdp)[0]
                r.set_peer("a", (first["host"], int(first["port"])))
                text, rewriter["impl"] = sdpmod.rewrite_to(sdp, r.address("b"))
                return text

            def answer_hook(sdp: str) -> str:
                # Janus's candidate is the relay's side-b peer (before aiortc's first check)
                first = sdpmod.candidates(sdp)[0]
                r.set_peer("b", (first["host"], int(first["port"])))
                text, _ = sdpmod.rewrite_to(sdp, r.address("a"))
                return text

        if args.scenario == "hang":
            write_result(args.workdir, result)
            await asyncio.sleep(3600)
        if args.scenario == "wrong_fingerprint":
            inner = offer_hook

            def offer_hook(sdp: str) -> str:
                if inner is not None:
                    sdp = inner(sdp)
                return sdpmod.set_fingerprint(sdp, WRONG_FINGERPRINT)

        call = await echotest_call(
            JanusClient(),
            dtls_role=args.dtls_role,
            offer_hook=offer_hook,
            answer_hook=answer_hook,
            timeout=args.timeout,
            expect_failure=args.scenario != "clean",
        )
        call["sdp_rewriter"] = rewriter["impl"]
        result["call"] = call
    finally:
        if relay is not None:
            result["relay"] = relay.summary()
            relay.close()
        result.setdefault("janus", {})["exit"] = server.stop()
        result["elapsed_s"] = round(time.monotonic() - t0, 3)
    return result


def write_result(workdir: Path, result: dict[str, Any]) -> None:
    """``workdir/result.json``, atomically (the harness may kill us any time)."""
    tmp = workdir / "result.json.tmp"
    tmp.write_text(json.dumps(result, indent=1, default=str))
    tmp.rename(workdir / "result.json")


def main(argv: list[str] | None = None) -> int:
    """Entry point: always writes result.json (with ``crash`` on an exception)."""
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    try:
        result = asyncio.run(run(args))
    except Exception:
        result = {"crash": traceback.format_exc()}
    write_result(args.workdir, result)
    return 0 if "crash" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
