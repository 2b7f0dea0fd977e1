"""pytest side of the bed: run one scenario in its own namespace, check nothing is left.

:func:`run_bed` starts ``unshare --net --fork --kill-child -- python -m tests.janus.bed``
in its own process group, tagged with a unique ``DTLSPROXY_BED`` environment value
that every child (Janus, the relay) inherits. After the driver exits, or after it
was killed on timeout, :func:`leftovers` scans ``/proc`` for any process still
carrying the tag or still living in the bed's network namespace; the namespace
itself disappears with its last process (``unshare`` names none).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.janus import netns
from tests.janus.proxylog import ProxyLog

ROOT = Path(__file__).resolve().parents[2]
TAG_VAR = "DTLSPROXY_BED"


@dataclass
class BedResult:
    """What one bed run produced: the driver's JSON, Janus's log, the work directory."""

    data: dict[str, Any]
    workdir: Path
    returncode: int | None
    leftovers: list[str] = field(default_factory=list)
    """Processes or namespace still alive after the run (must be empty)."""

    @property
    def call(self) -> dict[str, Any]:
        """The echotest call's facts (see :func:`tests.janus.peer.echotest_call`)."""
        call: dict[str, Any] = self.data.get("call", {})
        return call

    @property
    def relay(self) -> dict[str, Any]:
        """The relay's summary (addresses, peers, counts), if a relay ran."""
        relay: dict[str, Any] = self.data.get("relay", {})
        return relay

    @property
    def proxy(self) -> dict[str, Any]:
        """``dtlsproxy run``'s summary (addresses, exit status), if it was the relay."""
        proxy: dict[str, Any] = self.data.get("proxy", {})
        return proxy

    @property
    def proxy_log(self) -> ProxyLog:
        """``dtlsproxy run``'s JSONL log (no events when it did not run)."""
        return ProxyLog.load(self.workdir / "proxy.jsonl")

    def analyze(self, *, sdp: bool = False, keylog: bool = False) -> ProxyLog:
        """``dtlsproxy analyze --format jsonl`` of the proxy's pcapng (both legs).

        ``sdp``: with ``--sdp`` for the offer Janus got and Janus's answer; ``keylog``:
        with ``--keylog`` aiortc's key log.
        """
        out = self.workdir / "analyze.jsonl"
        cmd = [
            sys.executable, "-m", "proxy", "analyze", str(self.workdir / "proxy.pcapng"),
            "--format", "jsonl", "-o", str(out), "--force",
        ]  # fmt: skip
        if sdp:
            cmd += ["--sdp", str(self.workdir / "offer.sdp")]
            cmd += ["--sdp", str(self.workdir / "answer.sdp")]
        if keylog:
            cmd += ["--keylog", str(self.workdir / "aiortc.keylog")]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run(cmd, check=True, cwd=ROOT, env=env, capture_output=True)
        return ProxyLog.load(out)

    @property
    def janus_log(self) -> str:
        """Janus's log file."""
        path = self.workdir / "janus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def janus_events(self) -> list[str]:
        """Names of the Janus API events of the call, in order."""
        return [str(e.get("janus")) for e in self.call.get("janus_events", [])]

    def janus_remote_candidates(self) -> set[tuple[str, int]]:
        """Every remote candidate Janus added (from its log, level >= 5)."""
        found = re.findall(
            r"Adding remote candidate component:\d+ stream:\d+ type:\S+ (\S+):(\d+)", self.janus_log
        )
        return {(h, int(p)) for h, p in found}

    def explain(self) -> str:
        """A short failure message: error, crash, tail of Janus's log."""
        tail = "\n".join(self.janus_log.splitlines()[-25:])
        return (
            f"rc={self.returncode} crash={self.data.get('crash')} "
            f"error={self.call.get('error')} leftovers={self.leftovers}\n"
            f"--- janus.log tail ({self.workdir}) ---\n{tail}"
        )


def _proc_environ_has(pid: str, needle: bytes) -> bool:
    try:
        return needle in Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False


def _proc_netns(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def leftovers(tag: str, netns_inode: int | None) -> list[str]:
    """Processes still tagged with ``tag`` or still inside the namespace ``netns_inode``."""
    needle = f"{TAG_VAR}={tag}".encode()
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if pid == str(os.getpid()):
            continue
        in_ns = netns_inode is not None and _proc_netns(pid) == netns_inode
        if in_ns or _proc_environ_has(pid, needle):
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            found.append(f"{pid} {comm}" + (" (in the bed's netns)" if in_ns else ""))
    return found


def _kill_tagged(tag: str) -> None:
    needle = f"{TAG_VAR}={tag}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if _proc_environ_has(pid, needle):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(pid), signal.SIGKILL)


class BedRun:
    """A bed driver started in the background (:func:`start_bed`); :meth:`wait` for it."""

    def __init__(self, workdir: Path, cmd: list[str], timeout: float, kill_when_ready: bool):
        self.workdir = workdir
        self.timeout = timeout
        self.kill_when_ready = kill_when_ready
        self.tag = uuid.uuid4().hex
        self.deadline = time.monotonic() + timeout
        env = {**os.environ, TAG_VAR: self.tag, "PYTHONPATH": str(ROOT)}
        workdir.mkdir(parents=True, exist_ok=True)
        with (workdir / "driver.log").open("wb") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        self._result: BedResult | None = None

    def kill(self) -> None:
        """End it now if still running (:meth:`wait` then collects and checks)."""
        if self._result is None and self.proc.poll() is None:
            self.deadline = time.monotonic()

    def wait(self) -> BedResult:
        """Wait for the driver (kill it at the deadline), check for leftovers; the result."""
        if self._result is not None:
            return self._result
        proc = self.proc
        rc: int | None = None
        try:
            if self.kill_when_ready:
                while proc.poll() is None and time.monotonic() < self.deadline:
                    if (self.workdir / "result.json").exists():
                        break
                    time.sleep(0.05)
            else:
                rc = proc.wait(max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        result_path = self.workdir / "result.json"
        data: dict[str, Any] = json.loads(result_path.read_text()) if result_path.exists() else {}
        if not data:
            log = (self.workdir / "driver.log").read_text(errors="replace")[-2000:]
            data["crash"] = f"bed driver wrote no result (exit {rc}); driver.log:\n{log}"
        elif rc is None and not self.kill_when_ready:
            data.setdefault("crash", f"bed driver killed (deadline {self.timeout}s or teardown)")
        inode = data.get("netns", {}).get("inode")
        left = leftovers(self.tag, inode)
        for _ in range(40):  # children killed by PDEATHSIG may take a moment to go
            if not left:
                break
            time.sleep(0.05)
            left = leftovers(self.tag, inode)
        if left:
            _kill_tagged(self.tag)
        self._result = BedResult(data=data, workdir=self.workdir, returncode=rc, leftovers=left)
        return self._result


def start_bed(
    workdir: Path,
    *,
    relay: str = "none",
    dtls_role: str = "server",
    scenario: str = "clean",
    faults: tuple[str, ...] = (),
    keylog: bool = False,
    expect_failure: bool = False,
    call_timeout: float = 15.0,
    timeout: float = 60.0,
    kill_when_ready: bool = False,
    peer_view: str = "off",
) -> BedRun:
    """Start one scenario in a fresh namespace, in the background.

    ``relay``: ``none`` or ``trivial``; ``dtls_role``: aiortc's (``server`` offers
    actpass, ``client`` offers active); ``faults``: relay fault rules
    (``proxy.relay.faults`` syntax); ``keylog``: aiortc writes ``aiortc.keylog``;
    ``expect_failure``: the call waits for Janus's hangup instead of media.
    ``peer_view``: the proxy follows Janus's Admin API and events instead of --sdp files
    (:data:`tests.janus.bed.PEER_VIEWS`).
    ``kill_when_ready``: SIGKILL the driver's process group as soon as it has written
    ``result.json`` (the ``hang`` scenario writes it once Janus is up), to prove a
    killed bed leaves nothing behind.
    """
    cmd = [
        *netns.unshare_prefix(),
        sys.executable, "-m", "tests.janus.bed",
        "--workdir", str(workdir),
        "--outer-netns", str(netns.netns_inode()),
        "--relay", relay,
        "--dtls-role", dtls_role,
        "--scenario", scenario,
        "--timeout", str(call_timeout),
    ]  # fmt: skip
    for rule in faults:
        cmd += ["--fault", rule]
    if keylog:
        cmd.append("--keylog")
    if expect_failure:
        cmd.append("--expect-failure")
    if peer_view != "off":
        cmd += ["--peer-view", peer_view]
    return BedRun(workdir, cmd, timeout, kill_when_ready)


def run_bed(workdir: Path, **kw: Any) -> BedResult:
    """:func:`start_bed` and wait: always cleans up, even on timeout."""
    return start_bed(workdir, **kw).wait()
