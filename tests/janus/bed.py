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
import re
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
SCENARIOS = ("clean", "wrong_fingerprint", "hang", "restart")
"""``restart``: a clean call whose Janus is stopped and started again once the proxy saw
the handshake established (the call then dies: Janus forgot it)."""
PEER_VIEWS = ("off", "on", "wrong-secret", "admin-down")
"""``--peer-view``: the proxy given Janus's Admin API and events instead of --sdp files;
``wrong-secret``: both with a wrong secret; ``admin-down``: an Admin API URL where nothing
listens (the events still come)."""
ADMIN_URL = "http://127.0.0.1:7088/admin"
ADMIN_SECRET = "bed-admin-secret"
EVENTS_AT = ("127.0.0.1", 7099)
EVENTS_CREDENTIALS = ("bed", "bed-events-password")
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
    p.add_argument("--peer-view", choices=PEER_VIEWS, default="off")
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
    config = config_for_this_host(CONFIG_DIR, workdir)
    if args.peer_view != "off":
        config = admin_config(config, workdir)
    server = JanusServer(workdir / "janus.log", config)
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
                    sdp_files=[workdir / "offer.sdp"] if args.peer_view == "off" else [],
                    peer_a=aiortc_addr, extra=peer_view_flags(args.peer_view),
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

        restarter = None
        if args.scenario == "restart":
            restarter = asyncio.create_task(restart_when_established(server, workdir, result))
        result["call"] = await echotest_call(
            JanusClient(),
            dtls_role=args.dtls_role,
            offer_hook=offer_hook,
            answer_hook=answer_hook,
            timeout=args.timeout,
            expect_failure=args.expect_failure or args.scenario != "clean",
        )
        if restarter is not None:
            await restarter
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


def admin_config(config_dir: Path, workdir: Path) -> Path:
    """A copy of the Janus config with the Admin API on 127.0.0.1:7088 (``admin_secret``)
    and the sample event handler posting to the proxy's receiver (Basic credentials)."""
    out = workdir / "janus-admin-config"
    out.mkdir(exist_ok=True)
    for f in config_dir.glob("*.jcfg"):
        text = f.read_text()
        if f.name == "janus.jcfg":
            text = text.replace("events: {\n\tbroadcast = false\n}",
                                "events: {\n\tbroadcast = true\n}")
            text = text.replace("session_timeout = 30",
                                f'session_timeout = 30\n\tadmin_secret = "{ADMIN_SECRET}"')
        elif f.name == "janus.transport.http.jcfg":
            text = text.replace("admin_http = false", 'admin_http = true\n\tadmin_port = 7088'
                                '\n\tadmin_ip = "127.0.0.1"\n\tadmin_base_path = "/admin"')
        (out / f.name).write_text(text)
    user, pwd = EVENTS_CREDENTIALS
    (out / "janus.eventhandler.sampleevh.jcfg").write_text(
        "general: {\n\tenabled = true\n\tevents = \"all\"\n\tgrouping = true\n"
        "\tjson = \"plain\"\n"
        f"\tbackend = \"http://{EVENTS_AT[0]}:{EVENTS_AT[1]}/janus-events\"\n"
        f"\tbackend_user = \"{user}\"\n\tbackend_pwd = \"{pwd}\"\n"
        # the receiver starts with the call: what Janus says before it is not waited for
        "\tmax_retransmissions = 1\n\tretransmissions_backoff = 50\n}\n")
    return out


def peer_view_flags(mode: str) -> list[str]:
    """``dtlsproxy run`` flags for ``--peer-view MODE``."""
    if mode == "off":
        return []
    secret = ADMIN_SECRET if mode != "wrong-secret" else "not-the-secret"
    user, pwd = EVENTS_CREDENTIALS
    if mode == "wrong-secret":
        pwd = "not-the-password"
    url = ADMIN_URL if mode != "admin-down" else "http://127.0.0.1:7077/admin"
    return ["--janus-admin", url, "--janus-admin-secret", secret,
            "--janus-events", f"{EVENTS_AT[0]}:{EVENTS_AT[1]}",
            "--janus-events-secret", f"{user}:{pwd}"]


async def restart_when_established(server: JanusServer, workdir: Path,
                                   result: dict[str, Any]) -> None:
    """Once the proxy's log says established: stop Janus, start it again."""
    log = workdir / "proxy.jsonl"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if log.exists() and re.search(r'"state":\s*"established"', log.read_text(errors="replace")):
            break
        await asyncio.sleep(0.05)
    else:
        result["restart"] = "never established"
        return
    await asyncio.sleep(0.5)
    result["restart"] = {"stopped_at": time.time(), "exit": server.stop()}
    await asyncio.sleep(1.5)
    await server.start()
    result["restart"]["started_at"] = time.time()
    await asyncio.sleep(3.0)  # the proxy's poller finds the new Janus


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
