"""pytest side of the browser bed: run one scenario in fresh namespaces, prove nothing is left.

:func:`run_browser_bed` starts
``unshare --net --pid --fork --mount-proc --kill-child -- python -m tests.browser.bed``
in its own process group, tagged with a unique ``DTLSPROXY_BED`` value every child
inherits (:data:`tests.janus.harness.TAG_VAR`). The driver is PID 1 of its PID
namespace: when it exits or is killed, the kernel kills Chromium, chromedriver,
Janus and ``dtlsproxy run`` with it, and the network namespace goes with its last
process. Afterwards :func:`tests.janus.harness.leftovers` scans ``/proc`` for any
tagged process or any process still in the bed's network namespace, and the
temporary Chromium profile must be gone (the harness removes it if the driver
could not, and says so).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.janus import netns
from tests.janus.harness import TAG_VAR, leftovers

ROOT = Path(__file__).resolve().parents[2]
JsonDict = dict[str, Any]


def unshare_prefix() -> list[str]:
    """Private network, PID and mount (for ``/proc``) namespaces; killed with its parent.

    Not root: a user namespace too, where unprivileged user namespaces are allowed.
    """
    userns = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *userns, "--net", "--pid", "--fork", "--mount-proc", "--kill-child", "--"]


@dataclass
class BrowserBedResult:
    """One bed run: the driver's JSON, the proxy's JSONL, what was left behind."""

    data: JsonDict
    workdir: Path
    returncode: int | None
    leftovers: list[str] = field(default_factory=list)
    """Processes still alive after the run (must be empty)."""
    profile: Path | None = None
    """Chromium's temporary profile directory (gone after the run)."""
    profile_left: bool = False
    """The driver did not remove Chromium's profile (the harness then did)."""

    @property
    def call(self) -> JsonDict:
        """The scenario's facts (page stats, SDP facts, Janus events...)."""
        call: JsonDict = self.data.get("call", {})
        return call

    @property
    def proxy_log(self) -> Path:
        """``dtlsproxy run``'s JSONL log."""
        return self.workdir / "proxy.jsonl"

    def events(self, kind: str | None = None, **match: Any) -> list[JsonDict]:
        """The proxy's logged events (of ``kind``, with fields equal to ``match``)."""
        out = []
        if self.proxy_log.exists():
            for line in self.proxy_log.read_text().splitlines():
                ev = json.loads(line)
                if kind is not None and ev.get("event") != kind:
                    continue
                if all(ev.get(k) == v for k, v in match.items()):
                    out.append(ev)
        return out

    def last_summary(self) -> JsonDict:
        """The last ``session`` (summary) event of session ``s1``."""
        summaries = self.events("session", session="s1")
        return summaries[-1] if summaries else {}

    @property
    def janus_log(self) -> str:
        """Janus's log (empty without Janus)."""
        path = self.workdir / "janus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def explain(self) -> str:
        """A short failure message: crash, leftovers, the proxy's console lines."""
        stderr = self.workdir / "proxy.stderr"
        tail = stderr.read_text(errors="replace")[-3000:] if stderr.exists() else ""
        return (
            f"rc={self.returncode} crash={self.data.get('crash')} leftovers={self.leftovers} "
            f"timings={self.data.get('timings')}\n--- proxy ({self.workdir}) ---\n{tail}"
        )


def run_browser_bed(
    workdir: Path, scenario: str, *, timeout: float = 40.0, kill_when_ready: bool = False
) -> BrowserBedResult:
    """Run one scenario (see :mod:`tests.browser.bed`); always cleans up, even on timeout.

    ``kill_when_ready``: SIGKILL the driver as soon as it wrote ``result.json`` (the
    ``hang`` scenario writes it with everything running), to prove a killed bed
    leaves nothing behind.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="dtlsproxy-chromium-"))
    tag = uuid.uuid4().hex
    cmd = [
        *unshare_prefix(),
        sys.executable, "-m", "tests.browser.bed",
        "--workdir", str(workdir),
        "--profile", str(profile),
        "--outer-netns", str(netns.netns_inode()),
        "--scenario", scenario,
    ]  # fmt: skip
    env = {**os.environ, TAG_VAR: tag, "PYTHONPATH": str(ROOT)}
    rc: int | None = None
    deadline = time.monotonic() + timeout
    with (workdir / "driver.log").open("wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    result_path = workdir / "result.json"
    try:
        if kill_when_ready:
            while proc.poll() is None and time.monotonic() < deadline:
                if result_path.exists():
                    break
                time.sleep(0.05)
        else:
            rc = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    data: JsonDict = json.loads(result_path.read_text()) if result_path.exists() else {}
    if rc is None and not kill_when_ready:
        data.setdefault("crash", f"bed driver killed after {timeout}s")
    inode = data.get("netns", {}).get("inode")
    left = leftovers(tag, inode)
    for _ in range(60):  # the kernel tears a PID namespace down asynchronously
        if not left:
            break
        time.sleep(0.05)
        left = leftovers(tag, inode)
    profile_left = profile.exists()
    shutil.rmtree(profile, ignore_errors=True)
    return BrowserBedResult(data, workdir, rc, left, profile, profile_left)
