"""A system tool in a child process: read its output live, wait for a line, always stop it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Self


def stop_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM,
               grace: float = 5.0) -> int:
    """Send ``sig`` to ``proc``'s process group, SIGKILL it after ``grace`` seconds;
    the exit status. Nothing happens to a process that already exited."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            return proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


class ToolProcess:
    """``Popen`` with stdin piped and stdout+stderr collected line by line in a thread.

    Use as a context manager: the process is stopped (SIGTERM, then SIGKILL) on exit,
    also when the test fails.
    """

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            with self._cond:
                self._lines.append(raw.decode(errors="replace"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def output(self) -> str:
        """Everything the tool printed so far (stdout and stderr interleaved)."""
        with self._cond:
            return "".join(self._lines)

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Block until ``pattern`` (a regex) matches the output; raise with the output if not."""
        rx = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search("".join(self._lines))
                if m:
                    return m
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    why = "exited" if self._eof else f"timed out after {timeout:g} s"
                    raise RuntimeError(
                        f"{self.argv[0]} {why} before printing {pattern!r}; "
                        f"output:\n{''.join(self._lines)}"
                    )
                self._cond.wait(left)

    def send(self, data: bytes) -> None:
        """Write to the tool's stdin (what s_client/s_server send as application data)."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        """EOF on stdin."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the process to exit by itself; return its exit code."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=2)
        return code

    def stop(self, sig: int = signal.SIGTERM, group: bool = True) -> str:
        """Stop the process (idempotent) and return its whole output.

        ``sig`` goes to the process group (our child and its helpers, e.g. tshark's
        dumpcap), or to the child alone with ``group=False``; SIGKILL after 5 s.
        """
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if group:
                    os.killpg(self.proc.pid, sig)
                else:
                    self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(timeout=2)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None and not stream.closed:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()
        return self.output

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
