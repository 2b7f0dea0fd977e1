"""Bed driver: ONE browser scenario inside private network + PID namespaces, JSON result.

Started by :func:`tests.browser.harness.run_browser_bed` as
``unshare --net --pid --fork --mount-proc --kill-child -- python -m tests.browser.bed ...``:
this process is PID 1 of its namespace, so when it exits every process it started
(Chromium's renderers and helpers included) is killed by the kernel.

It configures the network namespace (:func:`tests.janus.netns.setup_inside`: ``lo``
plus one test address), serves the page on loopback, starts ``dtlsproxy run``
(:class:`tests.browser.proxyproc.ProxyProcess`), Janus when the scenario needs it,
and Chromium (:class:`tests.browser.chrome.Chromium`); the driver does the
signalling and rewrites every SDP with :func:`proxy.sdp.rewrite_sdp` before the
other side sees it. Chromium's own descriptions are never edited.

Scenarios (``--scenario``):

``janus-server``   Chromium offers actpass, Janus answers active: Chromium is the DTLS server.
``janus-client``   the offer copy sent to Janus says ``a=setup:active``: Chromium is the client.
``janus-cv-fault`` as ``janus-client``, the proxy corrupts Chromium's CertificateVerify.
``chromium-pair``  two peer connections in one page, through the proxy, no Janus (DTLS 1.3).
``firefox-pair``   the same in Firefox ESR, whose SSLKEYLOGFILE the proxy follows (--keylog):
                   DTLS 1.3 decrypted live.
``firefox-chromium`` one Firefox and one Chromium, two calls one after the other through
                   one proxy: Firefox offers (Chromium is the DTLS client), then Chromium
                   offers (Firefox is the client); Firefox's key log decrypts both.
TURN mode (``dtlsproxy run --turn``; the page's only change is its RTCConfiguration:
``iceServers`` = the proxy, ``iceTransportPolicy: 'relay'``; NO SDP is rewritten or
edited, each goes to the other side exactly as the browser or Janus made it):

``turn-janus-server``  echotest: Chromium offers actpass, Janus answers active (client).
``turn-janus-client``  the streaming plugin: Janus offers, Chromium answers active, so
                       Chromium is the DTLS client with no SDP edit.
``turn-cv-fault``      as ``turn-janus-client``; the proxy corrupts Chromium's
                       CertificateVerify inside the allocation.
``turn-echotest-cv-fault`` echotest (Janus the DTLS client): the proxy corrupts Janus's
                       CertificateVerify; Chromium refuses it (the README's recipe).
``turn-tcp``           as ``turn-janus-server``, Chromium reaching the TURN port over TCP.
``turn-chromium-pair`` two peer connections, each with its own TURN user, DTLS 1.3.

``hang``           start everything (Janus, proxy, Chromium with the page), write the
                   result, wait forever: the harness kills it to prove nothing survives.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from proxy.sdp import inspect_sdp, rewrite_sdp
from tests.browser.chrome import Chromium
from tests.browser.firefox import Firefox
from tests.browser.page import PageServer
from tests.browser.proxyproc import ProxyProcess, TurnProxyProcess
from tests.janus import netns
from tests.janus.bed import admin_config, peer_view_flags, write_result
from tests.janus.janus import CONFIG_DIR, JanusClient, JanusServer, JsonDict

TURN_SCENARIOS = ("turn-janus-server", "turn-janus-client", "turn-cv-fault", "turn-tcp",
                  "turn-chromium-pair", "turn-echotest-cv-fault")
SCENARIOS = ("janus-server", "janus-client", "janus-cv-fault", "chromium-pair", "firefox-pair",
             "firefox-chromium", "hang", *TURN_SCENARIOS)
TURN_PASSWORD = "bed-secret"
"""The TURN users' password (user names: ``chromium``, or ``pc1``/``pc2`` for the pair)."""
STREAM_ID = 99
"""The streaming plugin's mountpoint: Janus makes the offer, so Chromium answers active."""
FIREFOX_SCENARIOS = ("firefox-pair", "firefox-chromium")
CHROMIUM_SCENARIOS = tuple(x for x in SCENARIOS if x != "firefox-pair")
CV_FAULT = "who=client,msg=CertificateVerify,action=corrupt,offset=-1"
"""Flip the last byte of the client's CertificateVerify signature."""
DC_TEXT = "hello through dtlsproxy"
ECHO_REPLY = "Janus EchoTest here! You wrote: " + DC_TEXT
JANUS_PORT = 20000
"""Janus's only ICE port in the bed (see :func:`janus_config`)."""
MIN_PACKETS = 20
"""RTP packets each way (per kind) that count as media flowing."""


STREAMING_JCFG = f"""general: {{
}}
dtlsproxy-turn-bed: {{
	type = "rtp"
	id = {STREAM_ID}
	description = "dtlsproxy TURN bed: Janus offers (no RTP source: the handshake is the point)"
	media = (
		{{ type = "audio" mid = "a" label = "audio" port = 5002 pt = 111 codec = "opus" }},
		{{ type = "data" mid = "d" label = "data" port = 5004 }}
	)
}}
"""


def janus_config(dest: Path, *, streaming: bool = False) -> Path:
    """The bed's Janus configs (:data:`tests.janus.janus.CONFIG_DIR`) with ONE ICE port.

    Janus's candidate is then known before it answers (:data:`JANUS_PORT`), so the
    proxy is started with it as side B's fixed peer: Chromium's first ICE check is
    relayed at once, as by a relay that read both SDPs. ``streaming``: the streaming
    plugin enabled too, with one mountpoint (:data:`STREAM_ID`).
    """
    shutil.copytree(CONFIG_DIR, dest, dirs_exist_ok=True)
    cfg = dest / "janus.jcfg"
    text, n = re.subn(
        r'rtp_port_range = "[0-9-]+"',
        f'rtp_port_range = "{JANUS_PORT}-{JANUS_PORT}"',
        cfg.read_text(),
    )
    if n != 1:
        raise RuntimeError(f"no rtp_port_range in {cfg}")
    if streaming:
        text, n = re.subn(r"libjanus_streaming\.so,?", "", text)
        if n != 1:
            raise RuntimeError(f"streaming plugin not in {cfg}'s disable list")
        (dest / "janus.plugin.streaming.jcfg").write_text(STREAMING_JCFG)
    cfg.write_text(text)
    return dest


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command line of the driver."""
    p = argparse.ArgumentParser(prog="python -m tests.browser.bed")
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument(
        "--profile",
        type=Path,
        required=True,
        help="Chromium's temporary profile directory (removed at the end)",
    )
    p.add_argument(
        "--outer-netns", type=int, required=True, help="netns inode of the caller: never touched"
    )
    p.add_argument("--scenario", choices=SCENARIOS, required=True)
    p.add_argument("--timeout", type=float, default=8.0, help="per wait, seconds")
    return p.parse_args(argv)


def _t(t0: float) -> float:
    return round(time.monotonic() - t0, 3)


def sdp_facts(text: str) -> dict[str, Any]:
    """What the result keeps of an SDP: setup roles and candidate addresses (proxy.sdp)."""
    info = inspect_sdp(text)
    return {
        "setup": [info.setup_of(m) for m in info.media],
        "candidates": sorted(
            {
                f"{c.transport.lower()} {c.address}:{c.port}"
                for m in info.media
                for c in m.candidates
            }
        ),
        "media": [m.media for m in info.media],
    }


def janus_digest(events: list[JsonDict]) -> list[JsonDict]:
    """Janus API events, short: name and the interesting fields."""
    out = []
    for ev in events:
        item: JsonDict = {"janus": ev.get("janus")}
        for key in ("reason", "type", "receiving", "mid", "uplink"):
            if key in ev:
                item[key] = ev[key]
        if "plugindata" in ev:
            item["plugindata"] = ev["plugindata"].get("data")
        if "jsep" in ev:
            item["jsep_type"] = ev["jsep"].get("type")
        out.append(item)
    return out


class Scenario:
    """Shared state of one run: the browser, the proxy, the timings."""

    def __init__(self, args: argparse.Namespace, chrome: Chromium | None, proxy: ProxyProcess,
                 firefox: Firefox | None = None):
        self.args = args
        self.chrome = chrome
        self.firefox = firefox
        self.where: dict[str, Chromium | Firefox] = {}
        """Peer connection name -> the browser that holds it (default: Chromium)."""
        self.proxy = proxy
        self.t0 = time.monotonic()
        self.timings: dict[str, float] = {}
        self.ms = int(args.timeout * 1000)

    def mark(self, name: str) -> None:
        """Record when a step finished (seconds since the scenario started)."""
        self.timings[name] = _t(self.t0)

    async def page(self, function: str, *args: Any) -> Any:
        """Await a page function in a thread (the Janus long poll keeps running); in the
        browser holding peer connection ``args[0]`` (:attr:`where`), else Chromium."""
        browser = self.where.get(args[0]) if args and isinstance(args[0], str) else None
        browser = browser or self.chrome
        assert browser is not None
        return await asyncio.to_thread(browser.call, function, *args)

    async def media_flowing(self, name: str) -> dict[str, Any]:
        """Poll the page's stats until audio and video went both ways (or the timeout)."""
        deadline = time.monotonic() + self.args.timeout
        while True:
            st: dict[str, Any] = await self.page("stats", name)
            counts = [st["inbound"].get(k, 0) for k in ("audio", "video")]
            counts += [st["outbound"].get(k, 0) for k in ("audio", "video")]
            if min(counts) >= MIN_PACKETS or time.monotonic() > deadline:
                return st
            await asyncio.sleep(0.1)


async def janus_scenario(sc: Scenario, *, client: bool, expect_failure: bool) -> JsonDict:
    """Chromium <-> proxy side A | side B <-> Janus echotest; the call's facts."""
    res: JsonDict = {}
    jc = JanusClient()
    try:
        await jc.create()
        await jc.attach("janus.plugin.echotest")
        res["tracks"] = await sc.page("media")
        await sc.page("newPc", "pc", True, True)
        local = await sc.page("offer", "pc")
        sc.mark("offer")
        # every candidate (and c=/m= address) now names the proxy's side B
        to_janus = rewrite_sdp(local, sc.proxy.address("b"), drop_tcp=True)
        if client:  # the copy Janus sees; Chromium's local description stays actpass
            to_janus = to_janus.replace("a=setup:actpass", "a=setup:active")
        res["offer"] = {
            "local": sdp_facts(local),
            "to_janus": sdp_facts(to_janus),
            "local_sdp": local,
            "to_janus_sdp": to_janus,
        }
        await jc.message(
            {"audio": True, "video": True, "data": True}, {"type": "offer", "sdp": to_janus}
        )
        await jc.trickle_completed()
        ev = await jc.wait_event(lambda e: "jsep" in e, sc.args.timeout)
        answer = ev["jsep"]["sdp"]
        to_chromium = rewrite_sdp(answer, sc.proxy.address("a"), drop_tcp=True)
        res["answer"] = {
            "from_janus": sdp_facts(answer),
            "to_chromium": sdp_facts(to_chromium),
            "from_janus_sdp": answer,
        }
        sc.mark("answer")
        await sc.page("accept", "pc", to_chromium)
        if expect_failure:
            alert = await sc.proxy.wait_event("alert", sc.args.timeout)
            sc.mark("alert")
            res["alert_seen"] = alert is not None
            res["state"] = await sc.page("waitState", "pc", ["failed", "closed"], sc.ms)
            sc.mark("failed")
        else:
            res["state"] = await sc.page("waitState", "pc", ["connected", "failed"], sc.ms)
            sc.mark("connected")
            res["dc_open"] = await sc.page("waitOpen", "pc", sc.ms)
            await sc.page("send", "pc", DC_TEXT)
            res["echo"] = await sc.page("waitMessage", "pc", DC_TEXT, sc.ms)
            sc.mark("echo")
            await jc.wait_event(lambda e: e.get("janus") == "webrtcup", sc.args.timeout)
            sc.mark("webrtcup")
            res["stats_flowing"] = await sc.media_flowing("pc")
            sc.mark("media")
        res["stats"] = await sc.page("stats", "pc")
    finally:
        await jc.hangup()
        await jc.destroy()
        res["janus_events"] = janus_digest(jc.events)
    return res


def turn_config(user: str, transport: str = "udp") -> JsonDict:
    """The page's RTCConfiguration in TURN mode: the proxy as the only ICE server, relay
    only. This is the one setting a web app changes (janus.js: ``iceServers`` and
    ``iceTransportPolicy`` options of ``new Janus(...)``)."""
    url = f"turn:{netns.BED_ADDRESS}:{TurnProxyProcess.address_port()}?transport={transport}"
    return {"iceServers": [{"urls": url, "username": user, "credential": TURN_PASSWORD}],
            "iceTransportPolicy": "relay"}


async def turn_janus_scenario(
    sc: Scenario, *, streaming: bool, transport: str, expect_failure: bool
) -> JsonDict:
    """Chromium --TURN--> dtlsproxy --> Janus; every SDP passed on as it was made."""
    res: JsonDict = {"plugin": "streaming" if streaming else "echotest"}
    jc = JanusClient()
    ice = turn_config("chromium", transport)
    try:
        await jc.create()
        if streaming:
            await jc.attach("janus.plugin.streaming")
            await sc.page("newPc", "pc", False, False, ice)
            await jc.message({"request": "watch", "id": STREAM_ID})
            ev = await jc.wait_event(lambda e: "jsep" in e, sc.args.timeout)
            offer = ev["jsep"]["sdp"]
            sc.mark("offer")
            local = await sc.page("answer", "pc", offer)
            res["offer"] = {"from_janus": sdp_facts(offer), "from_janus_sdp": offer}
            res["answer"] = {"local": sdp_facts(local), "local_sdp": local, "to_janus_sdp": local}
            sc.mark("answer")
            await jc.message({"request": "start"}, {"type": "answer", "sdp": local})
            await jc.trickle_completed()
        else:
            await jc.attach("janus.plugin.echotest")
            res["tracks"] = await sc.page("media")
            await sc.page("newPc", "pc", True, True, ice)
            local = await sc.page("offer", "pc")
            sc.mark("offer")
            res["offer"] = {"local": sdp_facts(local), "local_sdp": local, "to_janus_sdp": local}
            await jc.message({"audio": True, "video": True, "data": True},
                             {"type": "offer", "sdp": local})
            await jc.trickle_completed()
            ev = await jc.wait_event(lambda e: "jsep" in e, sc.args.timeout)
            answer = ev["jsep"]["sdp"]
            res["answer"] = {"from_janus": sdp_facts(answer), "from_janus_sdp": answer}
            sc.mark("answer")
            await sc.page("accept", "pc", answer)
        if expect_failure:
            alert = await sc.proxy.wait_event("alert", sc.args.timeout)
            sc.mark("alert")
            res["alert_seen"] = alert is not None
            verdict = await sc.proxy.wait_event("verdict", sc.args.timeout)
            sc.mark("verdict")
            res["live_verdict"] = verdict
            res["state"] = await sc.page("waitState", "pc", ["failed", "closed"], sc.ms)
            sc.mark("failed")
        else:
            res["state"] = await sc.page("waitState", "pc", ["connected", "failed"], sc.ms)
            sc.mark("connected")
            await jc.wait_event(lambda e: e.get("janus") == "webrtcup", sc.args.timeout)
            sc.mark("webrtcup")
            if not streaming:
                res["dc_open"] = await sc.page("waitOpen", "pc", sc.ms)
                await sc.page("send", "pc", DC_TEXT)
                res["echo"] = await sc.page("waitMessage", "pc", DC_TEXT, sc.ms)
                sc.mark("echo")
                res["stats_flowing"] = await sc.media_flowing("pc")
                sc.mark("media")
        res["stats"] = await sc.page("stats", "pc")
    finally:
        await jc.hangup()
        await jc.destroy()
        res["janus_events"] = janus_digest(jc.events)
    return res


async def turn_pair_scenario(sc: Scenario) -> JsonDict:
    """pc1 and pc2 in one page, each relayed by its own allocation on the proxy."""
    res: JsonDict = {}
    await sc.page("newPc", "pc1", False, True, turn_config("pc1"))
    await sc.page("newPc", "pc2", False, False, turn_config("pc2"))
    offer = await sc.page("offer", "pc1")
    answer = await sc.page("answer", "pc2", offer)
    res["offer"] = {"local": sdp_facts(offer)}
    res["answer"] = {"local": sdp_facts(answer)}
    sc.mark("answer")
    await sc.page("accept", "pc1", answer)
    res["state"] = [
        await sc.page("waitState", name, ["connected", "failed"], sc.ms) for name in ("pc1", "pc2")
    ]
    sc.mark("connected")
    try:
        res["dc_open"] = await sc.page("waitOpen", "pc2", sc.ms) and await sc.page(
            "waitOpen", "pc1", sc.ms
        )
        if res["dc_open"]:
            await sc.page("send", "pc1", "ping from pc1")
            await sc.page("send", "pc2", "pong from pc2")
            res["received"] = {
                "pc2": await sc.page("waitMessage", "pc2", "ping from pc1", sc.ms),
                "pc1": await sc.page("waitMessage", "pc1", "pong from pc2", sc.ms),
            }
            sc.mark("echo")
    finally:
        res["stats"] = {name: await sc.page("stats", name) for name in ("pc1", "pc2")}
    return res


async def pair_scenario(sc: Scenario, pc1: str = "pc1", pc2: str = "pc2") -> JsonDict:
    """pc1 (side A) <-> proxy <-> pc2 (side B), each in its browser (:attr:`Scenario.where`);
    data channel both ways. pc1 offers actpass, pc2 answers active: pc2 is the DTLS client."""
    res: JsonDict = {}
    await sc.page("newPc", pc1, False, True)
    await sc.page("newPc", pc2, False, False)
    offer = await sc.page("offer", pc1)
    to_pc2 = rewrite_sdp(offer, sc.proxy.address("b"), drop_tcp=True)
    answer = await sc.page("answer", pc2, to_pc2)
    to_pc1 = rewrite_sdp(answer, sc.proxy.address("a"), drop_tcp=True)
    res["offer"] = {"local": sdp_facts(offer), "to_pc2": sdp_facts(to_pc2), "sdp": offer}
    res["answer"] = {"local": sdp_facts(answer), "to_pc1": sdp_facts(to_pc1), "sdp": answer}
    sc.mark(f"answer {pc1}")
    await sc.page("accept", pc1, to_pc1)
    res["state"] = [
        await sc.page("waitState", name, ["connected", "failed"], sc.ms) for name in (pc1, pc2)
    ]
    sc.mark(f"connected {pc1}")
    try:
        res["dc_open"] = await sc.page("waitOpen", pc2, sc.ms) and await sc.page(
            "waitOpen", pc1, sc.ms
        )
        if res["dc_open"]:
            await sc.page("send", pc1, f"ping from {pc1}")
            await sc.page("send", pc2, f"pong from {pc2}")
            res["received"] = {
                pc2: await sc.page("waitMessage", pc2, f"ping from {pc1}", sc.ms),
                pc1: await sc.page("waitMessage", pc1, f"pong from {pc2}", sc.ms),
            }
            sc.mark(f"echo {pc1}")
    finally:
        res["stats"] = {name: await sc.page("stats", name) for name in (pc1, pc2)}
        await write_dump(sc, pc1, pc2)
    return res


async def write_dump(sc: Scenario, pc1: str, pc2: str) -> None:
    """The page's own view in the browser's dump format: ``webrtc_internals_dump.txt``
    (Chromium: chrome://webrtc-internals "Create Dump") or ``about_webrtc.json`` (Firefox)
    in the work directory, for ``analyze --peer-dump``."""
    firefox = sc.firefox is not None and sc.where.get(pc1) is sc.firefox
    if sc.where.get(pc1) is not sc.where.get(pc2):
        return  # one browser each: not a dump of one browser
    fn, name = ("aboutWebrtc", "about_webrtc.json") if firefox else (
        "internalsDump", "webrtc_internals_dump.txt")
    browser = sc.where.get(pc1) or sc.chrome
    assert browser is not None
    dump = await asyncio.to_thread(browser.call, fn, [pc1, pc2])
    (sc.args.workdir / name).write_text(json.dumps(dump, indent=1))


async def firefox_chromium_scenario(sc: Scenario) -> JsonDict:
    """Firefox offers to Chromium (Chromium is the DTLS client), both closed, then Chromium
    offers to Firefox (Firefox is the client): two calls, two sessions, one proxy."""
    assert sc.firefox is not None and sc.chrome is not None
    sc.where.update(ff1=sc.firefox, cr1=sc.chrome, cr2=sc.chrome, ff2=sc.firefox)
    res: JsonDict = {"firefox_offers": await pair_scenario(sc, "ff1", "cr1")}
    await sc.page("closePc", "ff1")
    await sc.page("closePc", "cr1")
    await asyncio.sleep(0.5)  # the last packets of the first call leave before the second
    res["chromium_offers"] = await pair_scenario(sc, "cr2", "ff2")
    return res


def reap() -> int:
    """Reap zombies: as PID 1 this driver inherits Chromium's orphans; how many."""
    n = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        if pid == 0:
            return n
        n += 1


BROWSER_COMMS = ("chromium", "chrome_crashpad", "chromedriver", "firefox", "Web Content",
                 "WebExtensions", "Socket Process", "RDD Process", "Utility Process",
                 "Isolated Web", "GPU Process", "Privileged Cont", "forkserver", "glxtest")
"""Process names (``/proc/PID/comm``, cut at 15 characters) of the browser's tree."""


def _browser_pids() -> dict[int, str]:
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if comm.startswith(BROWSER_COMMS):
            found[int(pid)] = comm
    return found


def settle_browser(timeout: float = 3.0) -> list[str]:
    """After :meth:`Chromium.quit`: wait for the browser's processes (orphans of this
    PID 1) to exit and reap them; SIGKILL, by PID, those still there after ``timeout``
    (they could otherwise write into the profile after it was removed). What was killed.
    """
    deadline = time.monotonic() + timeout
    while True:
        pids = _browser_pids()
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        pids = _browser_pids()
        if not pids:
            return []
        if time.monotonic() > deadline:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            for pid in pids:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            return [f"{pid} {comm}" for pid, comm in pids.items()]
        time.sleep(0.02)


def processes() -> list[str]:
    """Every other process in this PID namespace (``pid comm``), zombies marked."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state = stat[stat.rindex(")") + 2]
        out.append(f"{pid} {comm}" + (" (zombie)" if state == "Z" else ""))
    return out


async def run(args: argparse.Namespace, result: dict[str, Any]) -> None:
    """Set up, run the scenario, tear everything down; facts go into ``result``."""
    t0 = time.monotonic()
    result.update(scenario=args.scenario, pid=os.getpid())
    result["iface_kind"] = netns.setup_inside(args.outer_netns)
    result["netns"] = netns.describe_inside()
    turn = args.scenario in TURN_SCENARIOS
    uses_janus = (args.scenario.startswith("janus") or args.scenario == "hang"
                  or (turn and args.scenario != "turn-chromium-pair"))
    uses_firefox = args.scenario in FIREFOX_SCENARIOS
    uses_chromium = args.scenario in CHROMIUM_SCENARIOS
    labels = ("chromium", "janus") if uses_janus else ("pc1", "pc2")
    faults = [CV_FAULT] if args.scenario in ("janus-cv-fault", "turn-cv-fault",
                                              "turn-echotest-cv-fault") else []
    peer_b = (netns.BED_ADDRESS, JANUS_PORT) if uses_janus else None
    keylog = args.workdir / "firefox.keys"
    if uses_firefox:  # made before the proxy and Firefox start: both open it, none creates it
        os.close(os.open(keylog, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    proxy: ProxyProcess
    if turn:
        users = (("chromium", TURN_PASSWORD),) if uses_janus else tuple(
            (name, TURN_PASSWORD) for name in ("pc1", "pc2"))
        # Janus listens on the namespace's only address, which is the proxy's own too
        # with Janus: its Admin API and events instead of any SDP (no SDP is touched)
        proxy = TurnProxyProcess(netns.BED_ADDRESS, args.workdir, users=users, faults=faults,
                                 allow_peer=netns.BED_ADDRESS if uses_janus else None,
                                 extra=peer_view_flags("on") if uses_janus else None)
    else:
        proxy = ProxyProcess(
            netns.BED_ADDRESS, args.workdir, labels=labels, faults=faults, peer_b=peer_b,
            keylogs=[keylog] if uses_firefox else [],
            allow=netns.BED_ADDRESS if args.scenario == "firefox-chromium" else None,
        )
    streaming = args.scenario in ("turn-janus-client", "turn-cv-fault")
    server = None
    if uses_janus:
        config = janus_config(args.workdir / "janus-config", streaming=streaming)
        if turn:
            config = admin_config(config, args.workdir)
        server = JanusServer(args.workdir / "janus.log", config)
    page = PageServer()
    both = uses_firefox and uses_chromium
    chrome = (Chromium(args.profile / "chromium" if both else args.profile,
                       args.workdir / "chromedriver.log") if uses_chromium else None)
    firefox = (Firefox(args.profile / "firefox", args.workdir / "firefox.log", page.remote,
                       keylog) if uses_firefox else None)
    timings: dict[str, float] = {}
    result["timings"] = timings
    try:
        page.start()
        starts = [proxy.start()]
        if chrome is not None:
            starts.append(asyncio.to_thread(chrome.start))
        if firefox is not None:
            starts.append(asyncio.to_thread(firefox.start, page.url))
        if server is not None:
            starts.append(server.start())
        await asyncio.gather(*starts)
        timings["started"] = _t(t0)
        if chrome is not None:
            result["chromium"] = {"version": chrome.version,
                                  "started_after_s": chrome.started_after}
            await asyncio.to_thread(chrome.navigate, page.url)
        if firefox is not None:
            result["firefox"] = {"version": firefox.version,
                                 "started_after_s": firefox.started_after}
        if server is not None:
            result["janus"] = {"pid": server.pid, "ready_after_s": server.ready_after}
        if args.scenario == "hang":
            result["pids"] = {
                "janus": server and server.pid,
                "proxy": proxy.proc and proxy.proc.pid,
                "chromedriver": chrome and chrome.driver and chrome.driver.pid,
            }
            result["left_in_pidns"] = processes()
            write_result(args.workdir, result)
            await asyncio.sleep(3600)
        sc = Scenario(args, chrome, proxy, firefox)
        sc.timings = timings
        sc.t0 = t0
        if args.scenario == "chromium-pair":
            result["call"] = await pair_scenario(sc)
        elif args.scenario == "firefox-pair":
            assert firefox is not None
            sc.where.update(pc1=firefox, pc2=firefox)
            result["call"] = await pair_scenario(sc)
        elif args.scenario == "firefox-chromium":
            result["call"] = await firefox_chromium_scenario(sc)
        elif args.scenario == "turn-chromium-pair":
            result["call"] = await turn_pair_scenario(sc)
        elif turn:
            result["call"] = await turn_janus_scenario(
                sc, streaming=streaming, transport="tcp" if args.scenario == "turn-tcp" else "udp",
                expect_failure=args.scenario in ("turn-cv-fault", "turn-echotest-cv-fault"),
            )
        else:
            result["call"] = await janus_scenario(
                sc,
                client=args.scenario != "janus-server",
                expect_failure=args.scenario == "janus-cv-fault",
            )
    finally:
        if chrome is not None:
            await asyncio.to_thread(chrome.quit)
        if firefox is not None:
            await asyncio.to_thread(firefox.quit)
        result["browser_killed"] = await asyncio.to_thread(settle_browser)
        shutil.rmtree(args.profile, ignore_errors=True)
        page.close()
        result["proxy"] = {
            "exit": proxy.stop(),
            "command": proxy.command(),
            "addresses": {s: list(proxy.address(s)) for s in ("turn",) if turn}
            or {s: list(proxy.address(s)) for s in "ab"},
        }
        if server is not None:
            result.setdefault("janus", {})["exit"] = server.stop()
        result["profile_removed"] = not args.profile.exists()
        result["reaped"] = reap()
        result["left_in_pidns"] = processes()
        timings["total"] = _t(t0)


def main(argv: list[str] | None = None) -> int:
    """Entry point: always writes result.json (with ``crash`` on an exception)."""
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    try:
        asyncio.run(run(args, result))
    except Exception:
        result["crash"] = traceback.format_exc()
        shutil.rmtree(args.profile, ignore_errors=True)
    write_result(args.workdir, result)
    return 0 if "crash" not in result else 1


if __name__ == "__main__":
    sys.exit(main())
