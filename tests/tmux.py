"""A command in a real terminal: a detached tmux session, its screen read with
``capture-pane``, keys sent with ``send-keys``, its exit status written to a file."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from tests.conftest import ROOT, require_tool


class TmuxApp:
    """``with TmuxApp(cmd, tmp_path) as t: t.wait_for(...); t.quit()``.

    COLUMNS/LINES are unset for the command: pytest exports 80x24, and a program
    started from it would draw at that size whatever the pane's size.
    """

    def __init__(self, command: str, workdir: Path, size: tuple[int, int] = (160, 45)) -> None:
        self.tmux = require_tool("tmux")
        self.name = f"dtlsproxy-test-{id(self)}"
        self.rc_file = workdir / f"rc-{id(self)}"
        self.command = f"env -u COLUMNS -u LINES {command}; echo $? > {self.rc_file}"
        self.size = size

    def __enter__(self) -> TmuxApp:
        w, h = self.size
        subprocess.run([self.tmux, "new-session", "-d", "-s", self.name, "-x", str(w), "-y",
                        str(h), self.command], check=True, cwd=ROOT)
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        subprocess.run([self.tmux, "kill-session", "-t", self.name], capture_output=True)

    def screen(self) -> str:
        """What the pane shows now."""
        return subprocess.run([self.tmux, "capture-pane", "-p", "-t", self.name],
                              capture_output=True, text=True).stdout

    def wait_for(self, ready: Callable[[str], bool], timeout: float = 10.0) -> str:
        """Poll the screen until ``ready(screen)`` (or the timeout); the last screen."""
        deadline = time.monotonic() + timeout
        screen = self.screen()
        while not ready(screen) and time.monotonic() < deadline:
            time.sleep(0.1)
            screen = self.screen()
        return screen

    def send(self, key: str) -> None:
        """Press ``key`` (tmux key names: ``t``, ``Escape``, ``Enter``...)."""
        subprocess.run([self.tmux, "send-keys", "-t", self.name, key], check=True)

    def quit(self, key: str = "q", timeout: float = 10.0) -> str:
        """Press ``key``; the command's exit status ("" if it did not exit in time)."""
        subprocess.run([self.tmux, "send-keys", "-t", self.name, key], check=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.rc_file.exists() and self.rc_file.read_text().strip():
                break
            time.sleep(0.1)
        return self.rc_file.read_text().strip() if self.rc_file.exists() else ""
