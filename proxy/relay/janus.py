"""Janus's own view, live: the Admin API poller and the event handler receiver.

:class:`JanusAdminPoller` asks ``list_sessions``, ``list_handles`` and ``handle_info`` at a
bounded rate (one request per ``1/rate`` s at most, a sweep every ``every`` s, and at once
when the proxy sees STUN of a session no view matches yet: the SDPs are then in Janus
before the DTLS handshake starts). It backs off when Janus is down, says so once, says
when it is back (and when the sessions it knew are gone: Janus restarted), and says when
the secret is refused. :class:`JanusEventReceiver` serves the sample event handler's
POSTs (one event or a batch; Basic credentials, the handler's ``backend_user`` and
``backend_pwd``). Both feed one :class:`~proxy.peerstate.janus.JanusHandles`, so a
handle's view merges what both said, and hand it to the :class:`~proxy.relay.peers.PeerHub`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

from proxy.events import Address, format_address
from proxy.peerstate.janus import JanusHandles, parse_events
from proxy.peerstate.views import PeerDataError
from proxy.relay.config import JanusConfig
from proxy.relay.http import HttpError, Posted, post_json, serve_posts
from proxy.relay.peers import PeerHub
from proxy.relay.recorder import Recorder

NO_SUCH = (458, 459)
"""Janus error codes for a session / handle that went away between two requests."""
UNAUTHORIZED = 403
BURST = 8
"""Requests that may go at once (a sweep woken by a new call's STUN must be done before
its DTLS handshake: tens of milliseconds); then ``rate`` per second."""
SWEEP_BUDGET = 64
"""handle_info requests per sweep at most (the rest wait for the next sweep)."""
REPORT_EVERY = 10.0
"""Seconds between two notices about refused or unreadable event POSTs."""


class JanusAdminPoller:
    """Polls one Janus's Admin API; never raises out of :meth:`run`."""

    def __init__(self, url: str, secret: str | None, hub: PeerHub, recorder: Recorder,
                 handles: JanusHandles, *, every: float = 2.0, rate: float = 20.0,
                 max_backoff: float = 30.0, timeout: float = 3.0) -> None:
        self.url = url.rstrip("/")
        self._secret = secret
        self.hub = hub
        self.recorder = recorder
        self.handles = handles
        self.every = every
        self.rate = rate
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.state = "starting"
        """``starting``, ``ok``, ``down``, ``refused`` (secret), ``error``."""
        self.requests = 0
        self.known: set[tuple[int, int]] = set()
        """(session, handle) pairs seen in the last good sweep."""
        self.visited: dict[tuple[int, int], float] = {}
        self.down_since: float | None = None
        self.backoff = 1.0
        """Seconds before the next try while Janus is unreachable (doubles, bounded)."""
        self._wake = asyncio.Event()
        self._tokens = float(BURST)
        self._refilled = time.monotonic()
        self._was_down = False

    def __repr__(self) -> str:  # the secret never shows
        return f"JanusAdminPoller({self.url!r}, state={self.state!r})"

    def wake(self) -> None:
        """Sweep now (STUN of a session no view matches yet)."""
        self._wake.set()

    async def run(self) -> None:
        """Sweep until cancelled."""
        delay = 0.0
        while True:
            if delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
            self._wake.clear()
            try:
                await self.sweep()
            except HttpError as exc:
                delay = self._failed(exc)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug here must not stop the relay
                self._say("error", "error", f"Janus Admin API poller failed: {exc!r}")
                delay = self.max_backoff
                continue
            delay = self.every

    async def _request(self, path: str, janus: str) -> dict[str, Any]:
        now = time.monotonic()
        self._tokens = min(float(BURST), self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens < 1.0:
            await asyncio.sleep((1.0 - self._tokens) / self.rate)
            self._tokens, self._refilled = 1.0, time.monotonic()
        self._tokens -= 1.0
        self.requests += 1
        body: dict[str, Any] = {"janus": janus, "transaction": secrets.token_hex(6)}
        if self._secret is not None:
            body["admin_secret"] = self._secret
        reply = await post_json(self.url + path, body, self.timeout)
        if not isinstance(reply, dict):
            raise HttpError("json", "reply is not a JSON object")
        if reply.get("janus") == "error":
            err = reply.get("error") or {}
            code = err.get("code") if isinstance(err, dict) else None
            reason = err.get("reason") if isinstance(err, dict) else None
            raise HttpError("janus", f"error {code} {reason}", code if isinstance(code, int)
                            else None)
        return reply

    async def sweep(self) -> None:
        """One round: every session's handles, then the handle_info of those most worth
        it (new ones, then those matched to sessions, then the others, least recent
        first), at most :data:`SWEEP_BUDGET`."""
        reply = await self._request("", "list_sessions")
        self._ok()
        pairs: list[tuple[int, int]] = []
        for sid in [s for s in reply.get("sessions", []) if isinstance(s, int)]:
            try:
                hs = await self._request(f"/{sid}", "list_handles")
            except HttpError as exc:
                if exc.status in NO_SUCH:
                    continue
                raise
            pairs.extend((sid, h) for h in hs.get("handles", []) if isinstance(h, int))
        gone = self.known - set(pairs)
        if self._was_down and self.known and gone == self.known:
            self._say("warning", "restarted", f"Janus restarted (or dropped every session): "
                      f"none of the {len(self.known)} handles known before it went away exist "
                      "now; their views stay as they were last seen")
        self._was_down = False
        self.known = set(pairs)
        for pair in gone:
            self.visited.pop(pair, None)
        def rank(p: tuple[int, int]) -> tuple[int, float]:
            if p not in self.visited:
                return (0, 0.0)
            return (1 if self.hub.matched(f"janus {p[1]}") else 2, self.visited[p])

        for sid, hid in sorted(pairs, key=rank)[:SWEEP_BUDGET]:
            try:
                info = await self._request(f"/{sid}/{hid}", "handle_info")
            except HttpError as exc:
                if exc.status in NO_SUCH:
                    continue
                raise
            now = time.time()
            self.visited[(sid, hid)] = now
            try:
                view, notes = self.handles.info(info, now)
            except PeerDataError as exc:
                self._say("warning", "error", f"Janus Admin API: handle_info of handle {hid}: "
                          f"{exc}")
                continue
            self.hub.offer(view, notes)

    def _ok(self) -> None:
        if self.state == "ok":
            return
        before, since = self.state, self.down_since
        self.state, self.down_since = "ok", None
        if before == "starting":
            self._say("info", "ok", f"Janus Admin API at {self.url}: polling (a sweep every "
                      f"{self.every:g} s and on each new call, at most {self.rate:g} "
                      "requests/s)")
            return
        after = f" after {time.time() - since:.0f} s" if since is not None else ""
        self._say("info", "ok", f"Janus Admin API at {self.url} answers again{after}")

    def _failed(self, exc: HttpError) -> float:
        """A notice when the state changes; the delay before the next try."""
        if exc.kind == "janus" and exc.status == UNAUTHORIZED:
            state, level = "refused", "error"
            line = (f"Janus Admin API at {self.url} refused the secret ({exc}): check "
                    "--janus-admin-secret or [janus] admin_secret (Janus's admin_secret in "
                    "janus.jcfg); retrying every "
                    f"{self.max_backoff:g} s")
            delay = self.max_backoff
        elif exc.kind in ("connect", "timeout"):
            state, level = "down", "warning"
            first = self.down_since is None
            self._was_down = True
            if first:
                self.down_since = time.time()
            self.backoff = 1.0 if first else min(self.max_backoff, self.backoff * 2)
            delay = self.backoff
            restarted = (f"; {len(self.known)} handles were known (if Janus restarts they "
                         "are gone)") if self.known else ""
            line = (f"Janus Admin API at {self.url} unreachable ({exc}); retrying, backing "
                    f"off to {self.max_backoff:g} s{restarted}")
        else:
            state, level = "error", "warning"
            hint = (" (is it the Admin API's URL? Janus's default is http://HOST:7088/admin)"
                    if exc.kind in ("http", "json", "protocol") else "")
            line = f"Janus Admin API at {self.url}: {exc}{hint}; retrying in {self.max_backoff:g} s"
            delay = self.max_backoff
        if state != self.state:
            self.state = state
            self._say(level, state, line)
        return delay

    def _say(self, level: str, state: str, message: str) -> None:
        self.recorder.notice(level, "janus_admin", message)


class JanusEventReceiver:
    """Serves the sample event handler: POSTs of events into the shared handles."""

    def __init__(self, addr: Address, hub: PeerHub, recorder: Recorder, handles: JanusHandles,
                 credentials: tuple[str, str] | None = None) -> None:
        self.addr = addr
        self.hub = hub
        self.recorder = recorder
        self.handles = handles
        self._credentials = credentials
        self.server: asyncio.Server | None = None
        self.posts = 0
        self.events = 0
        self.refused = 0
        self._reported: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"JanusEventReceiver({format_address(self.addr)}, posts={self.posts})"

    @property
    def address(self) -> Address:
        """The bound address (port 0 resolved)."""
        if self.server is None or not self.server.sockets:
            return self.addr
        name = self.server.sockets[0].getsockname()
        return name[0], name[1]

    async def start(self) -> None:
        """Bind and serve (OSError when the address cannot be bound)."""
        self.server = await serve_posts(self.addr[0], self.addr[1], self._posted,
                                        credentials=self._credentials,
                                        on_refused=self._refused)
        auth = "Basic credentials required" if self._credentials else "no credentials asked"
        self.recorder.notice("info", "janus_events", f"Janus events: listening on http://"
                             f"{format_address(self.address)}/ ({auth}); point Janus's sample "
                             "event handler's backend here")

    def close(self) -> None:
        """Stop serving."""
        if self.server is not None:
            self.server.close()

    def _once(self, what: str, level: str, message: str) -> None:
        now = time.monotonic()
        if now - self._reported.get(what, -REPORT_EVERY) >= REPORT_EVERY:
            self._reported[what] = now
            self.recorder.notice(level, "janus_events", message)

    def _refused(self, reason: str, peer: tuple[str, int]) -> None:
        self.refused += 1
        self._once("refused", "warning", f"Janus events: refused a POST from {peer[0]} "
                   f"({reason}; {self.refused} so far): set the sample event handler's "
                   "backend_user/backend_pwd to --janus-events-secret's USER:PASSWORD")

    def _posted(self, posted: Posted) -> None:
        self.posts += 1
        try:
            items = parse_events(posted.body)
        except PeerDataError as exc:
            self._once("bad", "warning", f"Janus events: a POST from {posted.peer[0]} is not "
                       f"Janus events: {exc}")
            return
        for item in items:
            self.events += 1
            view, notes = self.handles.event(item)
            if view is not None:
                self.hub.offer(view, notes)
                continue
            for n in notes:
                if n.what == "core":
                    level = "warning" if n.value == "started" and self.posts > 1 else "info"
                    said = {"started": "started (a restart: its sessions and handles are new)"
                            if self.posts > 1 else "started",
                            "shutdown": "is shutting down"}.get(n.value, n.value)
                    self.recorder.notice(level, "janus_events",
                                         f"Janus events: Janus {said} {n.detail}".rstrip())


class JanusSources:
    """The running Admin API poller and event receiver of one ``[janus]`` config."""

    def __init__(self) -> None:
        self.handles = JanusHandles()
        self.poller: JanusAdminPoller | None = None
        self.receiver: JanusEventReceiver | None = None
        self._task: asyncio.Task[None] | None = None

    async def close(self) -> None:
        """Stop polling and serving."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.receiver is not None:
            self.receiver.close()


async def start_janus(cfg: JanusConfig, hub: PeerHub, recorder: Recorder) -> JanusSources:
    """Start what ``cfg`` asks (the poller, the receiver). Raises OSError when the
    receiver's address cannot be bound."""
    out = JanusSources()
    if cfg.events is not None:
        out.receiver = JanusEventReceiver(cfg.events, hub, recorder, out.handles,
                                          cfg.events_credentials)
        await out.receiver.start()
    if cfg.admin_url is not None:
        out.poller = JanusAdminPoller(cfg.admin_url, cfg.admin_secret, hub, recorder,
                                      out.handles, every=cfg.poll_every, rate=cfg.max_rate)
        hub.on_unmatched_stun = out.poller.wake
        out._task = asyncio.get_running_loop().create_task(out.poller.run())
    return out
