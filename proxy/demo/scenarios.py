"""``dtlsproxy demo``: real DTLS peers (pyOpenSSL = real OpenSSL) through the real relay.

Each scenario is one call: a WebRTC-like client ("browser") and server ("gateway"),
self-signed ECDSA P-256 certificates on both sides, mutual authentication,
use_srtp, a cookie exchange, on loopback, relayed by one in-process relay whose
fault rules reproduce a failure. Everything the user then sees (TUI, log) comes
from the same relay and Tracker as ``dtlsproxy run``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from proxy.bus import Bus
from proxy.capture.outfile import open_output
from proxy.decode.keylog import KeyLog
from proxy.demo.peers.certs import make_identity, write_secret
from proxy.demo.peers.pyopenssl_peer import DtlsEndpoint, EndpointConfig
from proxy.demo.peers.udp_runner import PeerResult, UdpPeer
from proxy.events import Address
from proxy.relay import Relay, start_relay
from proxy.relay.config import CallConfig, RelayConfig, SideConfig
from proxy.relay.faults import FaultRule, parse_rule
from proxy.session import Tracker
from proxy.verdict import Secrets, VerdictEngine, VerdictOptions

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Scenario:
    """A built-in failure, reproduced with the relay's fault rules."""

    name: str
    title: str
    faults: tuple[str, ...] = ()
    """Fault rules; ``{a}`` / ``{b}`` are replaced by the call's side labels."""
    wrong_sdp_fingerprint: bool = False
    """Tell the proxy a client fingerprint that is not the client's certificate."""
    timeout: float = 6.0


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("none", "a clean handshake"),
        Scenario(
            "bad-certificate-verify",
            "the client's CertificateVerify signature is corrupted (the seed's decrypt_error)",
            ("side={a},who=client,msg=CertificateVerify,action=corrupt,offset=-1",),
        ),
        Scenario(
            "bad-server-key-exchange",
            "the server's ServerKeyExchange signature is corrupted",
            ("side={b},who=server,msg=ServerKeyExchange,action=corrupt,offset=-1",),
        ),
        Scenario(
            "bad-finished",
            "the client's encrypted Finished is corrupted on every copy (silent discard)",
            ("side={a},who=client,msg=Finished,encrypted=1,action=corrupt,offset=-1,count=always",),
            timeout=8.0,
        ),
        Scenario(
            "drop-flight-4",
            "the server's flight 4 never reaches the client",
            ("side={b},who=server,flight=4,action=drop,count=always",),
            timeout=8.0,
        ),
        Scenario(
            "fingerprint-mismatch",
            "the client's certificate does not match the SDP fingerprint given to the proxy",
            wrong_sdp_fingerprint=True,
        ),
    )
}

TOUR = ("none", "bad-certificate-verify")
"""The default: a good handshake, then the seed's failure with its culprit."""


@dataclass
class CallRun:
    """One scenario's peers and results."""

    scenario: Scenario
    labels: tuple[str, str]
    client: UdpPeer
    server: UdpPeer
    results: tuple[PeerResult, PeerResult] | None = None


@dataclass
class Demo:
    """A running demo: the relay, its tracker and the calls (see :func:`start_demo`)."""

    relay: Relay
    tracker: Tracker
    calls: list[CallRun]
    workdir: Path
    keylog: Path
    _keylog_written: int = 0

    async def run_calls(self, gap: float = 0.8, on_done: Callable[[CallRun], None] | None = None
                        ) -> None:
        """Run the scenarios one after the other (``gap`` seconds apart)."""
        for i, call in enumerate(self.calls):
            if i:
                await asyncio.sleep(gap)
            target = self.relay.calls[i].a.addr
            follower = asyncio.create_task(self._follow_keylog())
            try:
                call.results = await asyncio.gather(
                    call.client.run(target, app_data=b"ping", timeout=call.scenario.timeout),
                    call.server.run(None, app_data=b"pong", timeout=call.scenario.timeout),
                )
            finally:
                follower.cancel()
            self._sync_keylog()
            self.relay.tick()
            if on_done is not None:
                on_done(call)

    async def _follow_keylog(self) -> None:
        while True:
            self._sync_keylog()
            await asyncio.sleep(0.02)

    def _sync_keylog(self) -> None:
        """Append new key log lines of the clients to the 0600 file the verdicts follow,
        as a browser's SSLKEYLOGFILE grows during a call."""
        lines = [x.decode() for c in self.calls for x in c.client.endpoint.keylog_lines]
        new = lines[self._keylog_written :]
        if new:
            with open_output(self.keylog, append=True) as f:  # 0600, no symlink
                f.write("".join(line.rstrip("\n") + "\n" for line in new))
            self._keylog_written = len(lines)

    async def close(self) -> None:
        """Close the relay (final verdicts) and every peer socket."""
        await self.relay.close()
        for call in self.calls:
            call.client.close()
            call.server.close()


async def start_demo(names: list[str], bus: Bus, workdir: Path | None = None) -> Demo:
    """Bind the peers of every scenario in ``names`` and one relay for them all."""
    wd = workdir or Path(tempfile.mkdtemp(prefix="dtlsproxy-demo-"))
    keylog = wd / "demo.keys"
    write_secret(keylog, b"")
    calls: list[CallRun] = []
    call_cfgs: list[CallConfig] = []
    rules: list[FaultRule] = []
    sdps: list[tuple[str, str]] = []
    # the same two peers call again in each scenario (as in the seed: "the same
    # Certificate in the good exchange versus the bad"), so a diff shows what changed
    browser, gateway = make_identity("browser"), make_identity("gateway")
    for i, name in enumerate(names, start=1):
        sc = SCENARIOS[name]
        suffix = "" if len(names) == 1 else f"-{i}"
        labels = (f"browser{suffix}", f"gateway{suffix}")
        client = DtlsEndpoint(EndpointConfig(role="client", identity=browser, keylog=True))
        server = DtlsEndpoint(EndpointConfig(role="server", identity=gateway, keylog=True,
                                             cookie_exchange=True))
        cpeer = await UdpPeer.bind(client, (HOST, 0))
        speer = await UdpPeer.bind(server, (HOST, 0))
        calls.append(CallRun(sc, labels, cpeer, speer))
        call_cfgs.append(
            CallConfig(
                name=name,
                a=SideConfig(bind=(HOST, 0), label=labels[0], peer=cpeer.local_addr,
                             policy="fixed"),
                b=SideConfig(bind=(HOST, 0), label=labels[1], peer=speer.local_addr,
                             policy="fixed"),
            )
        )
        rules.extend(parse_rule(r.format(a=labels[0], b=labels[1])) for r in sc.faults)
        if sc.wrong_sdp_fingerprint:
            other = make_identity().fingerprint
            sdp = wd / f"{name}.sdp"
            text = _sdp(other, "active")
            with open_output(sdp, force=True) as f:
                f.write(text)
            sdps.append((str(sdp), text))
    labels_by_addr: dict[Address, str] = {}
    for call in calls:
        labels_by_addr[call.client.local_addr] = call.labels[0]
        labels_by_addr[call.server.local_addr] = call.labels[1]
    hook = VerdictEngine(VerdictOptions(sdps=tuple(sdps)), Secrets(keylog=KeyLog.load(keylog)))
    tracker = Tracker(labels_by_addr, verdict_hook=hook, stall_after=3.0)
    config = RelayConfig(calls=tuple(call_cfgs), faults=tuple(rules), headless=True)
    relay = await start_relay(config, bus, tracker=tracker)
    return Demo(relay, tracker, calls, wd, keylog)


def _sdp(fingerprint: str, setup: str) -> str:
    """A minimal SDP carrying one fingerprint, as a signalling server would relay it."""
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
        f"a=fingerprint:sha-256 {fingerprint}\r\na=setup:{setup}\r\n"
    )


def scenario_names(fault: str | None) -> list[str]:
    """``None`` = the tour (clean, then the seed's failure); else that one scenario."""
    if fault is None or fault == "tour":
        return list(TOUR)
    if fault not in SCENARIOS:
        raise ValueError(
            f"unknown scenario {fault!r}; choose one of: tour, {', '.join(SCENARIOS)}"
        )
    return [fault]


def remove_workdir(demo: Demo) -> None:
    """Delete the demo's temporary files (the key log included)."""
    for p in demo.workdir.iterdir():
        p.unlink(missing_ok=True)
    os.rmdir(demo.workdir)
