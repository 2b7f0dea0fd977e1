"""What the Janus and browser beds share about ``dtlsproxy run`` as a subprocess:
readiness from the JSONL log (the two ``listening`` notices, never a fixed sleep),
a SIGINT stop that flushes the log (SIGKILL after a grace period), the log read back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.peers.process import stop_group


class DtlsproxyProcess:
    """Base of the beds' proxy runners: subclasses spawn ``self.proc`` writing ``log_path``."""

    log_path: Path
    proc: subprocess.Popen[bytes] | None
    exit: int | None

    async def wait_listening(self, timeout: float, count: int = 2) -> None:
        """Until ``count`` ``listening`` notices are in the log (both sides of a call; one
        for TURN alone), or the process died."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while sum(e.get("code") == "listening" for e in self.events()) < count:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dtlsproxy run exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"dtlsproxy run not listening after {timeout}s")
            await asyncio.sleep(0.02)

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGINT (flushes the log), SIGKILL after ``grace``; the exit status."""
        proc = self.proc
        if proc is None:
            return None
        self.exit = stop_group(proc, signal.SIGINT, grace)
        return self.exit

    def events(self) -> list[dict[str, Any]]:
        """The JSONL log so far (a partial last line is skipped)."""
        out = []
        with contextlib.suppress(FileNotFoundError):
            for line in self.log_path.read_text().splitlines():
                with contextlib.suppress(ValueError):
                    out.append(json.loads(line))
        return out
