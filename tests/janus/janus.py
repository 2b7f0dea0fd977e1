"""Janus: start/stop the Debian-packaged server with the project's configs, and its HTTP API.

:class:`JanusServer` starts ``janus`` with ``configs/janus`` (echotest + HTTP only),
waits on ``GET /janus/info`` (never a fixed sleep) and stops it by PID (its own
process group, SIGTERM then SIGKILL). The child gets ``PR_SET_PDEATHSIG`` so it
dies with the bed driver even if the driver is killed.

:class:`JanusClient` speaks the Janus API over plain HTTP with a tiny asyncio
client (cancellable, unlike urllib in a thread): create a session, attach
``janus.plugin.echotest``, send a message with a JSEP, and a long-poll loop that
queues every event.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import secrets
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.peers.process import stop_group

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "configs" / "janus"
API_URL = "http://127.0.0.1:8088/janus"

JsonDict = dict[str, Any]


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when its parent dies (prctl PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


DEBIAN_LIBDIR = "/usr/lib/x86_64-linux-gnu/janus"
"""Where configs/janus/janus.jcfg expects the plugins (Debian amd64)."""


def config_for_this_host(config_dir: Path, workdir: Path) -> Path:
    """``config_dir`` itself, or a copy in ``workdir`` with the host's Janus library dir.

    The shipped config names Debian amd64's ``/usr/lib/x86_64-linux-gnu/janus``;
    another architecture (``aarch64-linux-gnu``...) gets its own path substituted.
    """
    if Path(DEBIAN_LIBDIR).is_dir():
        return config_dir
    found = sorted(Path("/usr/lib").glob("*/janus/plugins")) + sorted(
        Path("/usr").glob("lib*/janus/plugins")
    )
    if not found:
        return config_dir  # Janus will say what is missing
    libdir = str(found[0].parent)
    out = workdir / "janus-config"
    out.mkdir(exist_ok=True)
    for f in config_dir.glob("*.jcfg"):
        (out / f.name).write_text(f.read_text().replace(DEBIAN_LIBDIR, libdir))
    return out


class JanusError(RuntimeError):
    """Janus refused a request or did not come up."""


async def http_json(method: str, url: str, body: JsonDict | None = None) -> JsonDict:
    """One HTTP/1.1 request (``Connection: close``) with a JSON body; the JSON reply."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    data = json.dumps(body).encode() if body is not None else b""
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Connection: close\r\n\r\n"
        )
        writer.write(head.encode() + data)
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    header, _, payload = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    if any(h.lower().replace(" ", "") == "transfer-encoding:chunked" for h in lines[1:]):
        payload = _dechunk(payload)
    if status != 200:
        raise JanusError(f"{method} {url}: HTTP {status}: {payload[:200]!r}")
    reply: JsonDict = json.loads(payload)
    return reply


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)


class JanusServer:
    """One ``janus`` process with the project's configs, logging to ``log_path``."""

    def __init__(self, log_path: Path, config_dir: Path = CONFIG_DIR, binary: str = "janus"):
        self.log_path = log_path
        self.config_dir = config_dir
        self.binary = binary
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready_after: float | None = None
        """Seconds from spawn to the first good ``/janus/info``."""
        self.info: JsonDict = {}

    @property
    def pid(self) -> int | None:
        """PID of the running server."""
        return self.proc.pid if self.proc else None

    async def start(self, timeout: float = 10.0) -> None:
        """Spawn Janus and wait until ``GET /janus/info`` answers (or it dies: JanusError)."""
        cmd = [
            self.binary,
            "-F", str(self.config_dir),
            "-C", str(self.config_dir / "janus.jcfg"),
            "-L", str(self.log_path),
            "-N",  # no stdout logging: everything goes to the log file
        ]  # fmt: skip
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        delay = 0.01
        while True:
            if self.proc.poll() is not None:
                raise JanusError(f"janus exited with {self.proc.returncode} (log: {self.log_path})")
            try:
                self.info = await http_json("GET", API_URL + "/info")
                break
            except (OSError, JanusError, ValueError):
                if time.monotonic() - t0 > timeout:
                    raise JanusError(f"janus not ready after {timeout}s") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
        self.ready_after = time.monotonic() - t0

    def stop(self, grace: float = 3.0) -> int | None:
        """SIGTERM its process group, SIGKILL after ``grace`` seconds; the exit status."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc else None
        return stop_group(proc, signal.SIGTERM, grace)

    def log_text(self) -> str:
        """The log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


class JanusClient:
    """A Janus API session with one echotest handle, events collected by a long poll."""

    def __init__(self, url: str = API_URL):
        self.url = url
        self.session_id: int | None = None
        self.handle_id: int | None = None
        self.events: list[JsonDict] = []
        """Every event received by the long poll, in order, each stamped ``_t`` (monotonic)."""
        self._new_event = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None

    async def _request(self, path: str, body: JsonDict) -> JsonDict:
        body = {**body, "transaction": secrets.token_hex(6)}
        reply = await http_json("POST", self.url + path, body)
        if reply.get("janus") == "error":
            err = reply.get("error", {})
            raise JanusError(f"{body['janus']}: error {err.get('code')} {err.get('reason')}")
        return reply

    async def create(self) -> None:
        """Create a session and start the long poll."""
        reply = await self._request("", {"janus": "create"})
        self.session_id = int(reply["data"]["id"])
        self._poller = asyncio.create_task(self._poll())

    async def attach(self, plugin: str = "janus.plugin.echotest") -> None:
        """Attach the plugin (one handle)."""
        reply = await self._request(f"/{self.session_id}", {"janus": "attach", "plugin": plugin})
        self.handle_id = int(reply["data"]["id"])

    async def message(self, body: JsonDict, jsep: JsonDict | None = None) -> JsonDict:
        """Send a plugin message (async: the plugin answers with an event)."""
        req: JsonDict = {"janus": "message", "body": body}
        if jsep is not None:
            req["jsep"] = jsep
        return await self._request(f"/{self.session_id}/{self.handle_id}", req)

    async def trickle_completed(self) -> None:
        """Tell Janus our candidates are all in the SDP already (aiortc does not trickle)."""
        await self._request(
            f"/{self.session_id}/{self.handle_id}",
            {"janus": "trickle", "candidate": {"completed": True}},
        )

    async def hangup(self) -> None:
        """Hang up the PeerConnection (best effort)."""
        with contextlib.suppress(Exception):
            await self._request(f"/{self.session_id}/{self.handle_id}", {"janus": "hangup"})

    async def destroy(self) -> None:
        """Stop polling and destroy the session (best effort)."""
        if self._poller:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
        if self.session_id is not None:
            with contextlib.suppress(Exception):
                await self._request(f"/{self.session_id}", {"janus": "destroy"})

    async def _poll(self) -> None:
        while True:
            try:
                ev = await http_json("GET", f"{self.url}/{self.session_id}?maxev=10")
            except (OSError, JanusError, ValueError):
                await asyncio.sleep(0.1)
                continue
            batch = ev if isinstance(ev, list) else [ev]
            for item in batch:
                if item.get("janus") == "keepalive":
                    continue
                item["_t"] = time.monotonic()
                self.events.append(item)
            self._new_event.set()

    async def wait_event(self, pred: Callable[[JsonDict], bool], timeout: float) -> JsonDict:
        """The first event (already received or coming) matching ``pred``; TimeoutError."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for ev in self.events[seen:]:
                if pred(ev):
                    return ev
            seen = len(self.events)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching Janus event")
            self._new_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_event.wait(), remaining)
