"""``dtlsproxy run`` as a subprocess of the bed driver: the real CLI, nothing stubbed.

Two-sided, headless, fixed ports on the namespace's address (the namespace is
private, so fixed ports cannot clash). Side A's peer (the browser) is latched from
its first datagram; side B's is given (``--peer-b``, Janus's one ICE port) or latched.
Readiness is the two ``listening`` notices in the JSONL log, never a fixed sleep;
stop is SIGINT (the CLI's Ctrl-C path, which flushes the log), SIGKILL after a
grace period. The child dies with the driver (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.browser.chrome import _die_with_parent
from tests.dtlsproxy_process import DtlsproxyProcess

ROOT = Path(__file__).resolve().parents[2]
Address = tuple[str, int]
PORTS = {"a": 45000, "b": 46000}
"""Side A and B ports. Not 6000: Chromium silently never sends to its restricted ports
(X11's 6000 among them; net/base/port_util.cc) and ICE fails with no error."""


class ProxyProcess(DtlsproxyProcess):
    """One ``python -m proxy run`` writing ``proxy.jsonl`` and ``proxy.pcapng``."""

    def __init__(
        self,
        host: str,
        workdir: Path,
        *,
        labels: tuple[str, str] = ("chromium", "janus"),
        faults: list[str] | None = None,
        peer_b: Address | None = None,
        keylogs: list[Path] | None = None,
        allow: str | None = None,
    ) -> None:
        self.host = host
        self.workdir = workdir
        self.labels = labels
        self.faults = faults or []
        self.peer_b = peer_b
        self.keylogs = keylogs or []
        """``--keylog`` files (a browser's SSLKEYLOGFILE, followed while it is written)."""
        self.allow = allow
        """``--allow-a``/``--allow-b`` (several calls one after the other on both sides)."""
        self.log_path = workdir / "proxy.jsonl"
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit: int | None = None

    def address(self, side: str) -> Address:
        """The proxy's socket on side ``a`` or ``b``."""
        return (self.host, PORTS[side])

    def command(self) -> list[str]:
        """The ``dtlsproxy run`` command line."""
        cmd = [
            sys.executable, "-m", "proxy", "run",
            "--side-a", f"{self.host}:{PORTS['a']}", "--label-a", self.labels[0],
            "--side-b", f"{self.host}:{PORTS['b']}", "--label-b", self.labels[1],
            "--headless",
            "--log-file", str(self.log_path),
            "--pcap", str(self.workdir / "proxy.pcapng"),
        ]  # fmt: skip
        if self.peer_b is not None:
            cmd += ["--peer-b", f"{self.peer_b[0]}:{self.peer_b[1]}"]
        for rule in self.faults:
            cmd += ["--fault", rule]
        for path in self.keylogs:
            cmd += ["--keylog", str(path)]
        if self.allow is not None:
            cmd += ["--allow-a", self.allow, "--allow-b", self.allow]
        return cmd

    async def start(self, timeout: float = 10.0) -> None:
        """Spawn it and wait for both sides' ``listening`` notices."""
        with (self.workdir / "proxy.stderr").open("wb") as err:
            self.proc = subprocess.Popen(
                self.command(), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
        await self.wait_listening(timeout)

    async def wait_event(self, kind: str, timeout: float, **match: Any) -> dict[str, Any] | None:
        """The first logged event ``kind`` whose fields equal ``match``; None on timeout.

        The JSONL writer batches, so an event may appear a little after it happened.
        """
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events():
                if ev.get("event") == kind and all(ev.get(k) == v for k, v in match.items()):
                    return ev
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)


TURN_PORT = 3478


class TurnProxyProcess(ProxyProcess):
    """``python -m proxy run --turn``: the browser's TURN server, no side A/B at all.

    ``users`` are ``(name, password)``; ``allow_peer``: Janus's address, which is the
    namespace's only address and so one of the proxy's own (refused unless allowed).
    """

    def __init__(
        self,
        host: str,
        workdir: Path,
        *,
        users: tuple[tuple[str, str], ...],
        allow_peer: str | None = None,
        faults: list[str] | None = None,
        extra: list[str] | None = None,
    ) -> None:
        super().__init__(host, workdir, faults=faults)
        self.users = users
        self.allow_peer = allow_peer
        self.extra = extra or []
        """More flags (the Janus Admin API and events: tests.janus.bed.peer_view_flags)."""

    def address(self, side: str = "turn") -> Address:
        """The TURN port (the only address the browser is given)."""
        return (self.host, TURN_PORT)

    @staticmethod
    def address_port() -> int:
        return TURN_PORT

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "proxy", "run",
            "--turn", f"{self.host}:{TURN_PORT}",
            "--headless",
            "--log-file", str(self.log_path),
            "--pcap", str(self.workdir / "proxy.pcapng"),
        ]  # fmt: skip
        for name, password in self.users:
            cmd += ["--turn-user", f"{name}:{password}"]
        if self.allow_peer is not None:
            cmd += ["--turn-allow-peer", self.allow_peer]
        for rule in self.faults:
            cmd += ["--fault", rule]
        return cmd + self.extra

    async def start(self, timeout: float = 10.0) -> None:
        with (self.workdir / "proxy.stderr").open("wb") as err:
            self.proc = subprocess.Popen(
                self.command(), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
        await self.wait_listening(timeout, count=1)
