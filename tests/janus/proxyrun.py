"""``dtlsproxy run`` as the bed's relay: the real CLI, as a subprocess inside the namespace.

Side A (label ``aiortc``) faces the WebRTC peer, side B (label ``janus``) faces
Janus, both on fixed ports of the namespace's address (the namespace is private,
so fixed ports cannot clash). Readiness is the two ``listening`` notices in the
JSONL log (never a fixed sleep); stop is SIGINT (the CLI's Ctrl-C path, which
flushes the log), SIGKILL after a grace period. The child dies with the driver
(``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.dtlsproxy_process import DtlsproxyProcess
from tests.janus.janus import ROOT, _die_with_parent

SDP_CLI = [sys.executable, "-m", "proxy", "sdp", "rewrite"]

Address = tuple[str, int]
SIDE_A_PORT = 5000
SIDE_B_PORT = 6000


class ProxyRun(DtlsproxyProcess):
    """One ``dtlsproxy run`` (two-sided, headless, JSONL + pcapng in ``workdir``)."""

    def __init__(
        self,
        host: str,
        workdir: Path,
        *,
        faults: list[str] | None = None,
        keylog: Path | None = None,
        sdp_files: list[Path] | None = None,
        peer_a: Address | None = None,
        config: Path | None = None,
        extra: list[str] | None = None,
    ):
        self.host = host
        self.workdir = workdir
        self.faults = faults or []
        self.keylog = keylog
        self.sdp_files = sdp_files or []
        self.peer_a = peer_a
        self.config = config
        self.extra = extra or []
        # configs/janus.toml names its own log file, relative to the working directory
        self.log_path = workdir / ("janus-session.jsonl" if config else "proxy.jsonl")
        self.proc: subprocess.Popen[bytes] | None = None
        self.exit: int | None = None

    def address(self, side: str) -> Address:
        """The proxy's socket on side ``a`` (given to aiortc) or ``b`` (given to Janus)."""
        return (self.host, SIDE_A_PORT if side == "a" else SIDE_B_PORT)

    def command(self) -> list[str]:
        """The ``dtlsproxy run`` command line."""
        if self.config is not None:  # the documented recipe: the shipped config, nothing else
            return [sys.executable, "-m", "proxy", "run", "--config", str(self.config)]
        cmd = [
            sys.executable, "-m", "proxy", "run",
            "--side-a", f"{self.host}:{SIDE_A_PORT}", "--label-a", "aiortc",
            "--side-b", f"{self.host}:{SIDE_B_PORT}", "--label-b", "janus",
            "--headless",
            "--log-file", str(self.log_path),
            "--pcap", str(self.workdir / "proxy.pcapng"),
        ]  # fmt: skip
        if self.peer_a is not None:
            cmd += ["--peer-a", f"{self.peer_a[0]}:{self.peer_a[1]}"]
        if self.keylog is not None:
            cmd += ["--keylog", str(self.keylog)]
        for path in self.sdp_files:
            cmd += ["--sdp", str(path)]
        for rule in self.faults:
            cmd += ["--fault", rule]
        return cmd + self.extra

    async def start(self, timeout: float = 10.0) -> None:
        """Spawn it and wait for both sides' ``listening`` notices in the log."""
        stderr = (self.workdir / "proxy.stderr").open("wb")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            self.command(), cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
            stdout=stderr, stderr=stderr, start_new_session=True, preexec_fn=_die_with_parent,
        )  # fmt: skip
        stderr.close()
        await self.wait_listening(timeout)

    def sdp_rewrite(self, sdp: str, side: str) -> str:
        """``dtlsproxy sdp rewrite --to <this side's address>`` (the CLI, stdin to stdout)."""
        host, port = self.address(side)
        out = subprocess.run(
            [*SDP_CLI, "--to", f"{host}:{port}"], input=sdp, capture_output=True, text=True,
            check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        return out.stdout

    def summary(self) -> dict[str, Any]:
        """What the bed reports about the proxy (the JSONL is read by the tests)."""
        return {
            "addresses": {s: list(self.address(s)) for s in ("a", "b")},
            "log": str(self.log_path),
            "exit": self.exit,
            "command": self.command(),
        }
