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
from tests.janus.janus import (
    CONFIG_DIR,
    ROOT,
    JanusClient,
    JanusServer,
    config_for_this_host,
)
from tests.janus.peer import echotest_call, enable_keylog
from tests.janus.proxyrun import ProxyRun
from tests.janus.relay import TrivialRelay

RELAYS = ("none", "trivial", "dtlsproxy", "recipe")
"""``recipe``: the README's "Debugging Janus" recipe followed literally:
``dtlsproxy run --config configs/janus.toml`` and both SDPs through the
``dtlsproxy sdp rewrite`` command."""
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
    p.add_argument("--fault", action="append", default=[], help="dtlsproxy fault rule (repeatable)")
    p.add_argument("--keylog", action="store_true", help="aiortc writes WORKDIR/aiortc.keylog")
    p.add_argument(
        "--expect-failure", action="store_true", help="wait for Janus's hangup, not for media"
    )
    args = p.parse_args(argv)
    if args.fault and args.relay != "dtlsproxy":
        p.error("--fault needs --relay dtlsproxy (the proxy applies the rules)")
    return args


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up the namespace, run the scenario, tear down; the result dict."""
    t0 = time.monotonic()
    result: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    result["iface_kind"] = netns.setup_inside(args.outer_netns)
    result["netns"] = netns.describe_inside()
    workdir: Path = args.workdir
    server = JanusServer(workdir / "janus.log", config_for_this_host(CONFIG_DIR, workdir))
    keylog = workdir / "aiortc.keylog" if args.keylog else None
    if keylog is not None:
        enable_keylog(keylog)
    trivial: TrivialRelay | None = None
    proxy: ProxyRun | None = None
    try:
        await server.start()
        result["janus"] = {"pid": server.pid, "ready_after_s": round(server.ready_after or 0, 3)}
        if args.relay == "trivial":
            trivial = TrivialRelay(netns.BED_ADDRESS)
            await trivial.start()
        if args.scenario == "hang":
            write_result(workdir, result)
            await asyncio.sleep(3600)

        async def offer_hook(sdp: str) -> str:
            if args.scenario == "wrong_fingerprint":
                sdp = sdpmod.set_fingerprint(sdp, WRONG_FINGERPRINT)
            # aiortc's BUNDLE transport is its first m-section's candidate: the relay's
            # side-a peer, known before Janus's first check arrives
            aiortc_addr = sdpmod.first_candidate(sdp)
            nonlocal proxy
            if trivial is not None:
                trivial.set_peer("a", aiortc_addr)
                return sdpmod.rewrite_to(sdp, trivial.address("b"))
            if args.relay == "dtlsproxy":
                proxy = ProxyRun(
                    netns.BED_ADDRESS, workdir, faults=args.fault, keylog=keylog,
                    sdp_files=[workdir / "offer.sdp"], peer_a=aiortc_addr,
                )  # fmt: skip
                sdp = sdpmod.rewrite_to(sdp, proxy.address("b"))
                (workdir / "offer.sdp").write_text(sdp)
                await proxy.start()
            if args.relay == "recipe":
                proxy = ProxyRun(netns.BED_ADDRESS, workdir, config=ROOT / "configs" / "janus.toml")
                await proxy.start()
                return proxy.sdp_rewrite(sdp, "b")
            return sdp

        async def answer_hook(sdp: str) -> str:
            (workdir / "answer.sdp").write_text(sdp)
            if trivial is not None:
                # Janus's candidate is the relay's side-b peer (before aiortc's first check)
                trivial.set_peer("b", sdpmod.first_candidate(sdp))
                return sdpmod.rewrite_to(sdp, trivial.address("a"))
            if proxy is not None and args.relay == "recipe":
                return proxy.sdp_rewrite(sdp, "a")
            if proxy is not None:
                return sdpmod.rewrite_to(sdp, proxy.address("a"))
            return sdp

        result["call"] = await echotest_call(
            JanusClient(),
            dtls_role=args.dtls_role,
            offer_hook=offer_hook,
            answer_hook=answer_hook,
            timeout=args.timeout,
            expect_failure=args.expect_failure or args.scenario != "clean",
        )
    finally:
        if trivial is not None:
            result["relay"] = trivial.summary()
            trivial.close()
        if proxy is not None:
            proxy.stop()
            result["proxy"] = proxy.summary()
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
