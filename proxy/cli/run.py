"""`dtlsproxy run`: the live relay (two-sided or reverse), logging every flight."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proxy.bus import Bus, Subscription
from proxy.events import Event
from proxy.relay.config import ConfigError, RelayConfig, apply_flags, load_toml, validate

if TYPE_CHECKING:
    from proxy.cli.tui import Tui
    from proxy.export.offload import Recording
    from proxy.relay import Relay
    from proxy.verdict import VerdictEngine

DESCRIPTION = """\
Relay UDP between two peers (or clients and an upstream), forwarding every datagram
untouched and first, while the DTLS handshakes are decoded and logged.

Two-sided (the WebRTC case): give side A's address to one peer (e.g. the browser,
via a rewritten SDP) and side B's to the other (e.g. Janus):
  dtlsproxy run --side-a 0.0.0.0:5000 --side-b 0.0.0.0:6000 --headless --log-file run.jsonl
Reverse (like socat): clients talk to --listen, each gets its own socket to --upstream:
  dtlsproxy run --listen 127.0.0.1:4433 --upstream 127.0.0.1:4444 --headless
TURN (no SDP edits): the browser is given dtlsproxy as its TURN server with
iceTransportPolicy 'relay'; every relayed DTLS conversation is decoded as a session:
  dtlsproxy run --turn 0.0.0.0:3478 --relay-ip 192.0.2.10 --turn-user alice:secret
"""

EPILOG = """\
fault rules (--fault, repeatable; or [[fault]] tables in the config):
  comma-separated key=value. Match keys: side=a|b|LABEL, who=client|server,
  content=handshake|alert|ccs|appdata|dtls|stun|rtp|rtcp|other,
  msg=NAME|NUMBER (e.g. CertificateVerify), flight=1..6, encrypted=0|1,
  copy=first|retransmission|N, nth=N.  Actions: action=drop|duplicate|delay|
  corrupt|truncate, ms=N (delay), offset=N (corrupt: byte of the handshake message
  body, or of an encrypted record's payload; negative counts from the end),
  xor=MASK (default 0xff), bytes=N (truncate: cut N bytes off the end),
  count=1|N|always (default 1), p=PROBABILITY (seeded by --fault-seed).
  Every applied fault is logged as a "fault" event.
examples:
  --fault "who=client,msg=CertificateVerify,action=corrupt,offset=-1"
      flip the last byte of the client's signature: OpenSSL answers decrypt_error
  --fault "who=server,flight=4,action=drop,count=1"
      lose the server's first flight 4: watch the retransmission
  --fault "side=a,content=handshake,action=delay,ms=200,count=always"
  --fault "msg=Finished,encrypted=1,action=corrupt,offset=-1,count=1"
      the first encrypted handshake record of a side is its Finished

exit status: 0 stopped normally, 1 a socket could not be opened, 2 bad flags/config
(also an output file that cannot be created, or exists: --pcap needs --force).
See docs/config.md for the TOML keys (every flag has one).
"""


def add_parser(sub: Any) -> None:
    """Register `run` and its flags."""
    p = sub.add_parser(
        "run",
        help="relay two peers (or clients -> upstream) and log every DTLS flight",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="FILE", type=Path,
                   help="TOML config (e.g. configs/example.toml); flags override it")
    g = p.add_argument_group("two-sided mode (default)")
    g.add_argument("--side-a", metavar="HOST:PORT",
                   help="bind side A, given to one peer; a range makes several calls "
                        "(e.g. 0.0.0.0:5000 or 0.0.0.0:5000-5009)")
    g.add_argument("--side-b", metavar="HOST:PORT",
                   help="bind side B, given to the other peer (e.g. 0.0.0.0:6000)")
    g.add_argument("--peer-a", metavar="HOST:PORT",
                   help="side A's peer, fixed (e.g. 192.0.2.10:50000); not given: latched "
                        "from the first datagram")
    g.add_argument("--peer-b", metavar="HOST:PORT",
                   help="side B's peer, fixed (e.g. 127.0.0.1:20000); not given: latched")
    for w in ("a", "b"):
        g.add_argument(f"--policy-{w}", choices=("latch-first", "fixed", "allow"),
                       help=f"who may send to side {w.upper()} (default: fixed with "
                            f"--peer-{w}, allow with --allow-{w}, else latch-first)")
        g.add_argument(f"--allow-{w}", metavar="LIST",
                       help=f"sources allowed on side {w.upper()}, comma-separated "
                            "networks/hosts/host:port (e.g. 10.0.0.0/8,::1)")
        g.add_argument(f"--label-{w}", metavar="NAME",
                       help=f"name of side {w.upper()}'s peer in logs (e.g. "
                            f"{'browser' if w == 'a' else 'janus'})")
    tg = p.add_argument_group("TURN mode (alone or beside two-sided mode; docs/config.md [turn])")
    tg.add_argument("--turn", metavar="HOST:PORT",
                    help="be a TURN server on this address, UDP and TCP (e.g. 0.0.0.0:3478)")
    tg.add_argument("--turn-user", metavar="USER:PASSWORD", action="append",
                    help="a TURN user (repeatable); prefer [turn] users in a 0600 config "
                         "file: a command line is visible to other local users")
    tg.add_argument("--turn-realm", metavar="REALM", help="realm (default dtlsproxy)")
    tg.add_argument("--turn-secret", metavar="SECRET",
                    help="TURN REST API shared secret (usernames EXPIRY:NAME, as coturn's "
                         "use-auth-secret)")
    tg.add_argument("--relay-ip", metavar="IP", action="append",
                    help="address of the relayed addresses, as peers reach it (needed when "
                         "--turn listens on 0.0.0.0; one IPv4 and one IPv6 at most)")
    tg.add_argument("--relay-ports", metavar="FIRST-LAST",
                    help="port range of the relay sockets (default 49152-65535)")
    tg.add_argument("--turn-allow-loopback", action="store_true", default=None,
                    help="allow relaying to loopback peers (tests on one machine only)")
    tg.add_argument("--turn-allow-peer", metavar="NET", action="append",
                    help="relay only to these peers, and to them even where refused by "
                         "default (e.g. Janus on this host: --turn-allow-peer 192.0.2.10)")
    tg.add_argument("--turn-deny-peer", metavar="NET", action="append",
                    help="never relay to these peers (repeatable)")
    r = p.add_argument_group("reverse mode")
    r.add_argument("--listen", metavar="HOST:PORT",
                   help="listen for clients (e.g. 127.0.0.1:4433)")
    r.add_argument("--upstream", metavar="HOST:PORT",
                   help="forward each client to this server (e.g. 127.0.0.1:4444)")
    r.add_argument("--idle-timeout", metavar="SECONDS", type=float,
                   help="close a client's upstream socket after this idle time (default 60)")
    r.add_argument("--max-sessions", metavar="N", type=int,
                   help="cap on concurrent clients (default 1000)")
    o = p.add_argument_group("output")
    o.add_argument("--headless", action="store_true", default=None,
                   help="no TUI: one line per flight/alert/notice on stderr")
    o.add_argument("--log-file", metavar="FILE",
                   help="JSONL event log (docs/log-schema.md), e.g. run.jsonl")
    o.add_argument("--log-max-bytes", metavar="N", type=int,
                   help="rotate the log at this size (default 104857600)")
    o.add_argument("--log-backups", metavar="N", type=int,
                   help="rotated logs kept (default 3)")
    o.add_argument("--pcap", metavar="FILE",
                   help="pcapng of both legs (Wireshark), e.g. run.pcapng; created mode "
                        "0600, an existing file only with --force")
    o.add_argument("--force", action="store_true", default=None,
                   help="replace an existing --pcap file (the --log-file is appended to)")
    o.add_argument("--show-payloads", action="store_true", default=None,
                   help="show and log data channel messages (user data; needs --keylog)")
    o.add_argument("--pcap-keys", action="store_true", default=None,
                   help="also write the --keylog lines of the captured handshakes into the "
                        "pcapng (Decryption Secrets Blocks: Wireshark opens it decrypted, "
                        "DTLS 1.2 and 1.3; the file then holds secrets)")
    o.add_argument("--keylog", metavar="FILE", action="append",
                   help="NSS key log (SSLKEYLOGFILE: CLIENT_RANDOM lines for DTLS 1.2, "
                        "*_TRAFFIC_SECRET lines for DTLS 1.3), followed while the peers "
                        "write it; repeatable, e.g. one per peer; never logged")
    o.add_argument("--sdp", metavar="FILE", action="append",
                   help="SDP offer/answer with fingerprints and a=setup (repeatable)")
    j = p.add_argument_group("the peers' own view (docs/config.md [janus], [peers])")
    j.add_argument("--janus-admin", metavar="URL",
                   help="Janus's Admin API (e.g. http://127.0.0.1:7088/admin): every handle's "
                        "SDPs and ICE/DTLS state, matched to the sessions; no --sdp needed")
    j.add_argument("--janus-admin-secret", metavar="SECRET",
                   help="Janus's admin_secret (prefer [janus] admin_secret in a 0600 config)")
    j.add_argument("--janus-events", metavar="HOST:PORT",
                   help="receive Janus's sample event handler POSTs here (its backend "
                        "http://HOST:PORT/)")
    j.add_argument("--janus-events-secret", metavar="USER:PASSWORD",
                   help="the credentials the event handler sends (backend_user/backend_pwd)")
    j.add_argument("--peer-dump", metavar="FILE", action="append",
                   help="a browser's dump: Chrome's webrtc-internals 'Create Dump' or Firefox's "
                        "about:webrtc data (repeatable)")
    f = p.add_argument_group("faults")
    f.add_argument("--fault", metavar="RULE", action="append", dest="faults",
                   help='inject a fault (repeatable), e.g. '
                        '"who=client,msg=CertificateVerify,action=corrupt,offset=-1"')
    f.add_argument("--fault-seed", metavar="N", type=int,
                   help="seed for p= rules (default 0)")
    t = p.add_argument_group("tuning")
    t.add_argument("--silence-after", metavar="SECONDS", type=float,
                   help="warn when a side has sent nothing for this long (default 10; 0 = off)")
    t.add_argument("--rcvbuf", metavar="BYTES", type=int,
                   help="socket buffer to ask the kernel for (default 4194304)")
    t.add_argument("--loop", choices=("auto", "uvloop", "asyncio"),
                   help="event loop (default auto: uvloop when installed)")
    t.add_argument("--engine", choices=("protocol", "dgram"),
                   help="forwarding path: protocol (default, DatagramProtocol on the "
                        "asyncio-dgram transport) or dgram (asyncio-dgram recv loop)")
    t.add_argument("--no-decode", action="store_true", default=None,
                   help="forward only (benchmarks)")
    t.add_argument("--duration", metavar="SECONDS", type=float,
                   help="stop after this many seconds (e.g. 30)")


_FLAG_KEYS = (
    "side_a", "side_b", "peer_a", "peer_b", "policy_a", "policy_b", "allow_a", "allow_b",
    "label_a", "label_b", "listen", "upstream", "idle_timeout", "max_sessions",
    "silence_after", "rcvbuf", "loop", "engine", "fault_seed", "log_file", "pcap", "keylog",
    "pcap_keys", "show_payloads",
    "headless", "no_decode", "sdp", "faults", "log_max_bytes", "log_backups", "force",
    "turn", "turn_user", "turn_realm", "turn_secret", "relay_ip", "relay_ports",
    "turn_allow_loopback", "turn_allow_peer", "turn_deny_peer",
    "janus_admin", "janus_admin_secret", "janus_events", "janus_events_secret", "peer_dump",
)


def build_config(args: argparse.Namespace) -> RelayConfig:
    """Config file (if any) + flags, validated. Raises ConfigError."""
    cfg = load_toml(args.config) if getattr(args, "config", None) else RelayConfig()
    flags = {k: getattr(args, k, None) for k in _FLAG_KEYS}
    return validate(apply_flags(cfg, flags))


def main(args: argparse.Namespace) -> int:
    """Run the relay until Ctrl-C / SIGTERM (or --duration)."""
    try:
        cfg = build_config(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    loop_factory = _loop_factory(cfg.loop)
    if loop_factory is None and cfg.loop == "uvloop":
        print("config error: --loop uvloop: uvloop is not installed", file=sys.stderr)
        return 2
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(run(cfg, duration=getattr(args, "duration", None),
                              tui=getattr(args, "tui", None)))


def _verdicts(cfg: RelayConfig) -> VerdictEngine:
    """The verdict engine with the --sdp files read and the --keylog loaded (created
    empty, mode 0600, when missing; followed as the peers append to it). Raises
    ValueError naming the file that cannot be used."""
    from proxy.cli.inputs import load_secrets, read_sdps
    from proxy.verdict import VerdictEngine, VerdictOptions

    options = VerdictOptions(silence_after=cfg.silence_after or 10.0, sdps=read_sdps(cfg.sdp),
                             show_payloads=cfg.show_payloads)
    keylogs = list(cfg.keylog)
    return VerdictEngine(options, load_secrets(keylogs, create_keylogs=True))


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


async def run(
    cfg: RelayConfig, *, duration: float | None = None, tui: Tui | None = None
) -> int:
    """Start the relay with its exporters and run until stopped; in ``tui`` when given
    and the terminal is interactive (and not --headless), else with console lines."""
    from proxy.export import run_subscriber
    from proxy.export.console import ConsoleRenderer
    from proxy.relay import RelayError, start_relay
    from proxy.relay.sdpwatch import follow_sdp, summarize_sdp

    bus = Bus()
    writers: list[Callable[[list[Event]], None]] = []
    closers: list[Callable[[], None]] = []
    recording = None
    if cfg.log_file is not None or cfg.pcap is not None:
        # written by another process, fed without ever blocking (proxy.export.offload)
        from proxy.capture.outfile import OutputError
        from proxy.export.offload import Recording

        if cfg.pcap_keys and not (cfg.keylog and cfg.pcap):
            print("dtlsproxy run: --pcap-keys needs --pcap and --keylog (the lines come "
                  "from the key logs)", file=sys.stderr)
            return 2
        try:
            if cfg.pcap_keys:  # the writer follows them: they must exist (0600, like run's)
                for path in cfg.keylog:
                    if not path.exists():
                        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            recording = Recording(pcap=cfg.pcap, log=cfg.log_file, force=cfg.force,
                                  log_max_bytes=cfg.log_max_bytes,
                                  log_backups=cfg.log_backups,
                                  pcap_keys=cfg.keylog if cfg.pcap_keys else ())
        except OutputError as exc:
            flag = "--pcap" if str(exc.filename) == str(cfg.pcap) else "--log-file"
            print(f"dtlsproxy run: cannot write {flag} {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"dtlsproxy run: cannot start the recording process: "
                  f"{exc.strerror or exc}", file=sys.stderr)
            return 1
        if cfg.log_file is not None:
            writers.append(recording.events)
        closers.append(functools.partial(_close_recording, recording))
    use_tui = tui is not None and not cfg.headless and sys.stdout.isatty() and sys.stdin.isatty()
    tui_sub = bus.subscribe(maxlen=100_000) if use_tui else None
    if not use_tui:
        writers.append(ConsoleRenderer().write)
    subs = [bus.subscribe() for _ in writers]
    tasks = [
        asyncio.create_task(run_subscriber(s, w)) for s, w in zip(subs, writers, strict=True)
    ]
    for path in cfg.sdp:
        if not path.is_file():
            print(f"dtlsproxy run: --sdp {path}: no such file", file=sys.stderr)
            return 2
    try:
        relay = await start_relay(cfg, bus, verdicts=_verdicts(cfg) if cfg.decode else None)
    except (RelayError, ValueError) as exc:
        print(f"dtlsproxy run: {exc}", file=sys.stderr)
        await _stop(tasks, closers)
        return 1
    for path in cfg.sdp:
        level, message = summarize_sdp(path)
        relay.recorder.notice(level, "sdp", message)
    if cfg.sdp:  # the answer is often saved after the proxy started
        tasks.append(asyncio.create_task(follow_sdp(relay.recorder, cfg.sdp)))
    if recording is not None:
        if cfg.pcap is not None:
            relay.add_tap(recording.tap)
        relay.recorder.add_reporter(recording.report)
    peers = None
    if cfg.decode and (cfg.janus is not None or cfg.peer_dumps):
        from proxy.cli.inputs import read_peer_dumps

        try:
            dumps = read_peer_dumps(cfg.peer_dumps)
            peers = await _start_peers(cfg, relay, bus, dumps)
        except (OSError, ValueError) as exc:
            print(f"dtlsproxy run: {exc}", file=sys.stderr)
            await relay.close()
            await _stop(tasks, closers)
            return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    if tui is not None and tui_sub is not None:
        await _run_tui(tui, tui_sub, cfg, relay, stop)
    else:
        await stop.wait()
    if peers is not None:
        await peers.close()
    await relay.close()
    await _stop(tasks, closers)
    return 0


class _Peers:
    def __init__(self, hub: Any, janus: Any) -> None:
        self.hub = hub
        self.janus = janus

    async def close(self) -> None:
        if self.janus is not None:
            await self.janus.close()
        self.hub.close()


async def _start_peers(cfg: RelayConfig, relay: Relay, bus: Bus, dumps: list[Any]) -> _Peers:
    """The peers' own views: Janus's Admin API and events, the --peer-dump files."""
    from proxy.events import format_address
    from proxy.relay.peers import PeerHub

    hub = PeerHub(bus, relay.recorder)
    hub.add_own([format_address(side.addr) for c in relay.calls for side in (c.a, c.b)])
    janus = None
    if cfg.janus is not None:
        from proxy.relay.janus import start_janus

        try:
            janus = await start_janus(cfg.janus, hub, relay.recorder)
        except OSError as exc:
            hub.close()
            raise OSError(f"--janus-events: cannot listen ({exc.strerror or exc})") from None
    for view in dumps:
        hub.offer(view)
    for path in cfg.peer_dumps:
        n = sum(1 for v in dumps if v.name.endswith(f"({path.name})"))
        relay.recorder.notice("info", "peer_dump", f"--peer-dump {path}: {n} peer "
                              "connections; matched to sessions as their STUN arrives")
    return _Peers(hub, janus)


async def _run_tui(
    tui: Tui, sub: Subscription, cfg: RelayConfig, relay: Relay, stop: asyncio.Event
) -> None:
    """The TUI on the relay's loop, until the user quits (q) or a signal/--duration stops."""
    if relay.reverse is not None:
        listen = f"{_addr(relay.listen_addr)} -> {_addr(cfg.upstream) if cfg.upstream else '?'}"
    else:
        listen = ", ".join(
            f"{c.a.label} {_addr(c.a.addr)} | {c.b.label} {_addr(c.b.addr)}" for c in relay.calls
        )
    info: dict[str, str] = {"listen": listen} if listen else {}
    if relay.turn is not None:
        info["turn"] = ", ".join(f"{t} {_addr(a)}" for t, a in relay.turn.addresses)
    await tui.live(sub, {
        **info,
        "log": str(cfg.log_file) if cfg.log_file else "-",
        "pcap": str(cfg.pcap) if cfg.pcap else "-",
    }, stop)


def _close_recording(recording: Recording) -> None:
    """Let the recording process write the rest; what could not be recorded (the log is
    closed by then) is said on stderr."""
    from proxy.export.console import ConsoleRenderer

    ConsoleRenderer().write(recording.close())


def _addr(a: tuple[str, int]) -> str:
    return f"[{a[0]}]:{a[1]}" if ":" in a[0] else f"{a[0]}:{a[1]}"


async def _stop(tasks: list[asyncio.Task[None]], closers: list[Callable[[], None]]) -> None:
    await asyncio.sleep(0)
    for t in tasks:
        t.cancel()
    for t in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await t
    for close in closers:
        close()
