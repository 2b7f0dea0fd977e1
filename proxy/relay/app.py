"""The programmatic relay: ``start_relay(config, bus) -> Relay``.

Used by ``dtlsproxy run``, ``dtlsproxy demo`` and the tests (port 0 = ephemeral
ports, read back from ``Relay.side_a_addr`` / ``side_b_addr`` / ``listen_addr``).
It binds every socket (or raises :class:`RelayError` with a user-facing message),
starts a 1 s tick (tracker time events, silence/one-way warnings, idle clients) and
publishes every event on the given bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from proxy.bus import Bus
from proxy.decode.keylog import KeyLog, KeyLogError
from proxy.events import Address, format_address
from proxy.relay.config import RelayConfig
from proxy.relay.faults import FaultEngine
from proxy.relay.recorder import Recorder, Tap, TrackerLike, make_tracker
from proxy.relay.reverse import UPSTREAM_LABEL, ReverseRelay
from proxy.relay.sockets import RelayError
from proxy.relay.turn import TurnRelay, check_turn
from proxy.relay.twosided import Call, Refusals

if TYPE_CHECKING:
    from proxy.verdict import VerdictEngine

TICK_SECONDS = 1.0


class Relay:
    """A running relay. Close it with ``await relay.close()``."""

    def __init__(self, config: RelayConfig, recorder: Recorder) -> None:
        self.config = config
        self.recorder = recorder
        self.refusals = Refusals(recorder)
        """Two-sided mode: the refused datagrams of every call (one summary for all)."""
        self.calls: list[Call] = []
        self.reverse: ReverseRelay | None = None
        self.turn: TurnRelay | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    @property
    def side_a_addr(self) -> Address:
        """Bound address of side A of the first call."""
        return self.calls[0].a.addr

    @property
    def side_b_addr(self) -> Address:
        """Bound address of side B of the first call."""
        return self.calls[0].b.addr

    @property
    def listen_addr(self) -> Address:
        """Reverse mode: bound listen address."""
        assert self.reverse is not None
        return self.reverse.listen_addr

    @property
    def turn_addr(self) -> Address:
        """TURN mode: the first bound TURN port (UDP if served)."""
        assert self.turn is not None and self.turn.addresses
        return self.turn.addresses[0][1]

    @property
    def frames(self) -> int:
        """Datagrams relayed (and numbered) so far."""
        return self.recorder.frames

    def summary(self) -> str:
        """What was relayed: datagrams forwarded (zero-length ones among them) and refused."""
        if self.reverse is not None:
            n, empty = self.reverse.totals()
            no_peer = refused = 0
        else:
            sides = [side for call in self.calls for side in call.sides]
            no_peer = sum(c.no_peer_dropped for c in self.calls)
            n = sum(s.rx for s in sides) - no_peer
            empty = sum(s.empty for s in sides)
            refused = self.refusals.total
        text = f"relayed {n} datagrams ({empty} of them zero-length)"
        if no_peer:
            text += f"; dropped {no_peer} that came before the other side had a peer"
        if refused:
            text += f"; refused {refused} from sources not allowed"
        return text

    def add_tap(self, tap: Tap) -> None:
        """Give every relayed datagram's legs to ``tap`` (after forwarding, batched)."""
        self.recorder.add_tap(tap)

    def tick(self, now: float | None = None) -> None:
        """Run the periodic checks now (the relay also does it every second)."""
        now = time.time() if now is None else now
        self.recorder.tick(now)
        for call in self.calls:
            call.tick(now)
        self.refusals.report(now)
        if self.reverse is not None:
            self.reverse.tick(now)
        if self.turn is not None:
            self.turn.tick(now)

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.tick()

    async def close(self) -> None:
        """Stop relaying, close sessions (SessionClosed events), release the sockets."""
        if self.closed.is_set():
            return
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for call in self.calls:
            call.close()
        if self.reverse is not None:
            self.reverse.close()
        if self.turn is not None:
            self.turn.close()
        self.refusals.report(time.time(), final=True)
        self.recorder.notice("info", "relay_summary", self.summary())
        self.recorder.finish()
        self.closed.set()
        await asyncio.sleep(0)

    async def wait_closed(self) -> None:
        """Wait until :meth:`close` ran."""
        await self.closed.wait()


def fault_keylog(config: RelayConfig) -> KeyLog | None:
    """The key logs the fault rules decrypt with (their own reader of the same files,
    followed as they grow), when there are rules and key logs; else None."""
    if not config.faults or not config.keylog:
        return None
    log = KeyLog()
    for path in config.keylog:
        try:
            log.add_file(path)
        except KeyLogError as exc:
            raise RelayError(str(exc)) from None
    return log


async def start_relay(
    config: RelayConfig, bus: Bus, *, tracker: TrackerLike | None = None,
    verdicts: VerdictEngine | None = None,
) -> Relay:
    """Bind every socket of ``config`` and start relaying.

    ``tracker`` defaults to ``proxy.session.Tracker`` (with the config's labels and
    ``verdicts``), or to a forwarding-only stand-in when ``config.decode`` is False.
    ``verdicts``: the engine, given the key log and SDPs of ``config`` already loaded
    (``dtlsproxy run`` loads them: ``proxy.cli.inputs``); without it, the rules run with
    no secret and no SDP (and ``config.keylog`` or ``config.sdp`` is a ValueError).
    Raises :class:`RelayError` (a user-facing message) when a socket cannot be bound.
    """
    if tracker is None:
        if config.decode:
            if verdicts is None:
                from proxy.verdict import VerdictEngine, VerdictOptions

                if config.keylog or config.sdp:
                    raise ValueError("start_relay: config.keylog and config.sdp are loaded "
                                     "by the caller and given as verdicts=")
                verdicts = VerdictEngine(VerdictOptions(silence_after=config.silence_after
                                                        or 10.0))
            labels: dict[Address, str] = {}
            for c in config.calls:
                for side_cfg in (c.a, c.b):
                    if side_cfg.peer is not None and side_cfg.label not in ("a", "b"):
                        labels[side_cfg.peer] = side_cfg.label
            if config.upstream is not None:
                labels[config.upstream] = UPSTREAM_LABEL
            try:
                tracker = make_tracker(labels, verdicts, config.fingerprint_files)
            except ValueError as e:
                raise RelayError(str(e)) from None
        else:
            from proxy.relay.recorder import NullTracker

            tracker = NullTracker()
    recorder = Recorder(bus, tracker, decode=config.decode)
    secrets = fault_keylog(config)
    relay = Relay(config, recorder)
    try:
        if config.mode == "reverse":
            if config.listen is None or config.upstream is None:
                raise RelayError("reverse mode needs --listen and --upstream")
            rev = ReverseRelay(
                config.listen, config.upstream, recorder,
                rcvbuf=config.rcvbuf, idle_timeout=config.idle_timeout,
                max_sessions=config.max_sessions, rules=config.faults,
                fault_seed=config.fault_seed,
            )
            rev.fault_secrets = secrets
            await rev.open()
            relay.reverse = rev
            recorder.notice(
                "info", "listening",
                f"reverse mode: listening on {format_address(rev.listen_addr)} -> upstream "
                f"{format_address(config.upstream)} (receive buffer granted {rev.granted} "
                f"bytes, asked {config.rcvbuf})",
            )
        else:
            if not config.calls and config.turn is None:
                raise RelayError("two-sided mode needs --side-a and --side-b (or --turn)")
            for i, call_cfg in enumerate(config.calls):
                engine = (
                    FaultEngine(config.faults, config.fault_seed + i, secrets)
                    if config.faults else None
                )
                call = Call(
                    call_cfg, recorder, rcvbuf=config.rcvbuf, faults=engine,
                    engine=config.engine, silence_after=config.silence_after,
                    refusals=relay.refusals,
                )
                try:
                    await call.open()
                except BaseException:
                    call.close()
                    raise
                relay.calls.append(call)
                for side in call.sides:
                    peer = (f"peer {format_address(side.peer)} ({side.cfg.policy})"
                            if side.peer else f"peer latched ({side.cfg.policy})")
                    recorder.notice(
                        "info", "listening",
                        f"{call.name} side {side.name.upper()} ({side.label}) on "
                        f"{format_address(side.addr)}, {peer}; receive buffer granted "
                        f"{call.granted[side.name]} bytes (asked {config.rcvbuf})",
                    )
        if config.turn is not None:
            check_turn(config.turn)
            turn = TurnRelay(config.turn, recorder, rcvbuf=config.rcvbuf, rules=config.faults,
                             fault_seed=config.fault_seed)
            turn.fault_secrets = secrets
            await turn.start()
            relay.turn = turn
    except BaseException:
        for call in relay.calls:
            call.close()
        if relay.reverse is not None:
            relay.reverse.close()
        raise
    relay._ticker = asyncio.get_running_loop().create_task(relay._tick_forever())
    return relay
