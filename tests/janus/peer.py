"""The WebRTC peer: aiortc with an audio track and a data channel, against Janus's echotest.

:func:`echotest_call` runs one call and returns a JSON-ready dict of what happened:
offer/answer (as each side saw them), aiortc's DTLS role, cipher and SRTP profile,
its selected ICE pair, the data-channel echo, frames received on the remote track,
and the Janus events (``webrtcup``, ``media``, ``hangup``...). It never raises for a
failed call: failures are facts in the result (fault scenarios expect them).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack
from aiortc.rtcdtlstransport import RTCCertificate

from tests.janus import sdp as sdpmod
from tests.janus.janus import JanusClient, JsonDict

SdpHook = Callable[[str], Awaitable[str]]
ECHO_REPLY = "Janus EchoTest here! You wrote: {}"
"""What Janus 1.1's echotest sends back on the data channel for a text message."""


def _t(t0: float) -> float:
    return round(time.monotonic() - t0, 3)


def _dtls_facts(pc: RTCPeerConnection) -> dict[str, Any]:
    """aiortc's DTLS transport state: role, cipher, SRTP profile, selected ICE pair."""
    transceivers = pc.getTransceivers()
    if not transceivers:
        return {}
    dtls = transceivers[0].receiver.transport
    facts: dict[str, Any] = {"role": dtls._role, "state": dtls.state}
    ssl = getattr(dtls, "_ssl", None)
    if ssl is not None:
        with contextlib.suppress(Exception):
            facts["cipher"] = ssl.get_cipher_name()
            facts["protocol"] = ssl.get_protocol_version_name()
            facts["srtp_profile"] = ssl.get_selected_srtp_profile().decode()
    conn = dtls.transport._connection
    pair = conn._nominated.get(1)
    if pair is not None:
        facts["selected_pair"] = {
            "local": [pair.local_candidate.host, pair.local_candidate.port],
            "remote": [pair.remote_candidate.host, pair.remote_candidate.port],
        }
    facts["ice_state"] = dtls.transport.state
    return facts


def enable_keylog(path: Path) -> None:
    """Make aiortc write an NSS key log (``CLIENT_RANDOM ...``) of every DTLS handshake.

    aiortc has no option for it; pyOpenSSL's ``Context.set_keylog_callback`` on the
    context aiortc creates gives one. The file holds secrets: created mode 0600.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    original = RTCCertificate._create_ssl_context

    def create(self: RTCCertificate, srtp_profiles: list[Any]) -> Any:
        ctx = original(self, srtp_profiles)

        def write(_conn: Any, line: bytes) -> None:
            with path.open("ab") as f:
                f.write(line + b"\n")

        ctx.set_keylog_callback(write)
        return ctx

    RTCCertificate._create_ssl_context = create  # type: ignore[method-assign]


async def _count_frames(track: MediaStreamTrack, counter: dict[str, Any], t0: float) -> None:
    while True:
        try:
            await track.recv()
        except MediaStreamError:
            return
        counter["frames"] += 1
        if counter["frames"] == 1:
            counter["first_frame_s"] = _t(t0)


async def echotest_call(
    janus: JanusClient,
    *,
    dtls_role: str = "server",
    offer_hook: SdpHook | None = None,
    answer_hook: SdpHook | None = None,
    min_frames: int = 25,
    timeout: float = 15.0,
    expect_failure: bool = False,
) -> dict[str, Any]:
    """One echotest call: aiortc offers, Janus answers; returns the facts.

    ``dtls_role``: ``server`` offers ``a=setup:actpass`` (Janus answers ``active``:
    Janus is the DTLS client); ``client`` offers ``a=setup:active`` (aiortc is the
    client). ``offer_hook`` / ``answer_hook`` (async) rewrite the SDP on its way to
    Janus / to aiortc (the relay's rewriting, a wrong fingerprint; the offer hook may
    start the relay, it knows aiortc's address). ``expect_failure`` waits for
    Janus's ``hangup`` (or the timeout) instead of for media.
    """
    t0 = time.monotonic()
    res: dict[str, Any] = {"ok": False, "timings": {}, "dtls_role_asked": dtls_role}
    timings: dict[str, float] = res["timings"]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    media: dict[str, Any] = {"frames": 0}
    tasks: list[asyncio.Task[None]] = []
    echo: dict[str, Any] = {"sent": None, "received": None}
    echo_event = asyncio.Event()
    dc_open = asyncio.Event()
    connected = asyncio.Event()
    failed = asyncio.Event()

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            tasks.append(asyncio.create_task(_count_frames(track, media, t0)))

    @pc.on("connectionstatechange")
    def on_state() -> None:
        timings[f"pc_{pc.connectionState}_s"] = _t(t0)
        if pc.connectionState == "connected":
            connected.set()
        if pc.connectionState in ("failed", "closed"):
            failed.set()

    pc.addTrack(AudioStreamTrack())
    channel = pc.createDataChannel("echo")

    @channel.on("open")
    def on_open() -> None:
        timings["dc_open_s"] = _t(t0)
        dc_open.set()

    @channel.on("message")
    def on_message(msg: str | bytes) -> None:
        if echo["received"] is None:
            echo["received"] = msg if isinstance(msg, str) else msg.hex()
            timings["dc_echo_s"] = _t(t0)
            echo_event.set()

    try:
        await janus.create()
        await janus.attach("janus.plugin.echotest")
        offer = await pc.createOffer()
        await pc.setLocalDescription(offer)
        local = pc.localDescription.sdp
        res["offer_local"] = local
        to_janus = sdpmod.set_setup(local, "active") if dtls_role == "client" else local
        if offer_hook is not None:
            to_janus = await offer_hook(to_janus)
        res["offer_to_janus"] = to_janus
        timings["offer_s"] = _t(t0)
        await janus.message(
            {"audio": True, "video": False, "data": True},
            {"type": "offer", "sdp": to_janus},
        )
        await janus.trickle_completed()
        ev = await janus.wait_event(lambda e: "jsep" in e, timeout)
        answer = ev["jsep"]["sdp"]
        res["answer_from_janus"] = answer
        res["plugindata"] = ev.get("plugindata", {}).get("data")
        timings["answer_s"] = _t(t0)
        to_aiortc = await answer_hook(answer) if answer_hook is not None else answer
        res["answer_to_aiortc"] = to_aiortc
        await pc.setRemoteDescription(RTCSessionDescription(to_aiortc, "answer"))

        if expect_failure:
            with contextlib.suppress(TimeoutError):
                await janus.wait_event(lambda e: e.get("janus") == "hangup", timeout)
            # give aiortc a moment to process what Janus sent last (an alert)
            await _wait_any(failed, asyncio.Event(), 1.0)
            res["ok"] = True
            return res

        await _wait_any(connected, failed, timeout)
        if not connected.is_set():
            res["error"] = f"connection {pc.connectionState}"
            return res
        await asyncio.wait_for(dc_open.wait(), timeout)
        echo["sent"] = "ping"
        channel.send("ping")
        await asyncio.wait_for(echo_event.wait(), timeout)
        await janus.wait_event(lambda e: e.get("janus") == "webrtcup", timeout)
        deadline = time.monotonic() + timeout
        while media["frames"] < min_frames and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        res["ok"] = media["frames"] >= min_frames and echo["received"] == ECHO_REPLY.format("ping")
        if not res["ok"]:
            res["error"] = f"frames={media['frames']} echo={echo}"
    except (TimeoutError, Exception) as exc:  # a failed call is a fact, not a crash
        res["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        res["aiortc"] = _dtls_facts(pc)
        res["aiortc"]["connection_state"] = pc.connectionState
        res["media"] = dict(media)
        res["echo"] = echo
        await janus.hangup()
        with contextlib.suppress(TimeoutError):
            await janus.wait_event(lambda e: e.get("janus") == "hangup", 2.0)
        await pc.close()
        for task in tasks:
            task.cancel()
        await janus.destroy()
        res["janus_events"] = _event_digest(janus.events)
        timings["total_s"] = _t(t0)
    return res


async def _wait_any(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    waits = [asyncio.create_task(a.wait()), asyncio.create_task(b.wait())]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


def _event_digest(events: list[JsonDict]) -> list[JsonDict]:
    """Janus events, short: name, and the interesting fields."""
    out = []
    t0 = events[0]["_t"] if events else 0.0
    for ev in events:
        item: JsonDict = {"janus": ev.get("janus"), "t": round(ev["_t"] - t0, 3)}
        for key in ("reason", "type", "receiving", "mid", "uplink"):
            if key in ev:
                item[key] = ev[key]
        if "plugindata" in ev:
            item["plugindata"] = ev["plugindata"].get("data")
        if "jsep" in ev:
            item["jsep_type"] = ev["jsep"].get("type")
        out.append(item)
    return out
