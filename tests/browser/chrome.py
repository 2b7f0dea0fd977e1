"""Headless Chromium driven through chromedriver's W3C HTTP API (plain urllib, no selenium).

:class:`Chromium` starts ``chromedriver`` on a loopback port (the caller's network
namespace is private, so a fixed port cannot clash), opens one W3C session that
launches the real binary ``/usr/lib/chromium/chromium`` (not the ``/usr/bin``
wrapper, which adds flags and prints a shell error) with a fresh profile, and runs
scripts in the page (:meth:`Chromium.execute`, :meth:`Chromium.execute_async`).

Everything Chromium writes goes under ``profile``: ``--user-data-dir`` and, through
the environment, ``HOME``, ``TMPDIR`` and the XDG directories. :meth:`Chromium.quit`
ends the session, stops chromedriver by PID and removes the profile.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.peers.process import stop_group

CHROMIUM = "/usr/lib/chromium/chromium"
CHROMEDRIVER = "chromedriver"
DRIVER_PORT = 9515

FEATURES_OFF = ("WebRtcHideLocalIpsWithMdns", "MediaRouter", "OptimizationHints")
"""``--disable-features`` names, given once, comma-separated (repeated flags override)."""

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--allow-loopback-in-peer-connection",  # without it: no ICE candidate at all
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-features=" + ",".join(FEATURES_OFF),
)
"""Chromium's command line (``--user-data-dir`` is added per run)."""


class WebDriverError(RuntimeError):
    """chromedriver answered with a W3C error (or did not answer)."""


def _die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when its parent dies (prctl PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)


def private_env(profile: Path) -> dict[str, str]:
    """Environment that keeps every file Chromium writes under ``profile``."""
    tmp = profile / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "CHROME"))}
    env.update(
        HOME=str(profile),
        TMPDIR=str(tmp),
        XDG_CONFIG_HOME=str(profile / "config"),
        XDG_CACHE_HOME=str(profile / "cache"),
        XDG_DATA_HOME=str(profile / "data"),
    )
    return env


class Chromium:
    """One chromedriver + one headless Chromium session; a context manager."""

    def __init__(self, profile: Path, log_path: Path, port: int = DRIVER_PORT,
                 logging: dict[str, str] | None = None) -> None:
        self.profile = profile
        self.logging = logging
        """``goog:loggingPrefs`` (e.g. ``{"browser": "ALL", "performance": "ALL"}``): what
        :meth:`logs` can read back."""
        self.log_path = log_path
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.driver: subprocess.Popen[bytes] | None = None
        self.session: str | None = None
        self.capabilities: dict[str, Any] = {}
        self.started_after: float | None = None
        """Seconds from spawning chromedriver to a live browser session."""

    # ------------------------------------------------------------ W3C plumbing

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base + path, data=data, method=method,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                reply = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            reply = json.loads(exc.read() or b"{}")
        value = reply.get("value") if isinstance(reply, dict) else None
        if isinstance(value, dict) and "error" in value:
            raise WebDriverError(f"{value['error']}: {str(value.get('message'))[:500]}")
        return value

    def _session_path(self, suffix: str) -> str:
        if self.session is None:
            raise WebDriverError("no session")
        return f"/session/{self.session}{suffix}"

    # ------------------------------------------------------------ life cycle

    def start(self, timeout: float = 20.0) -> None:
        """Start chromedriver, wait for ``/status``, open a session (launches Chromium)."""
        t0 = time.monotonic()
        env = private_env(self.profile)
        with self.log_path.open("wb") as log:
            self.driver = subprocess.Popen(
                [CHROMEDRIVER, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
        while True:
            if self.driver.poll() is not None:
                raise WebDriverError(f"chromedriver exited with {self.driver.returncode}")
            try:
                status = self._call("GET", "/status", timeout=2)
                if isinstance(status, dict) and status.get("ready"):
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() - t0 > timeout:
                raise WebDriverError(f"chromedriver not ready after {timeout}s")
            time.sleep(0.02)
        options = {
            "binary": CHROMIUM,
            "args": [*FLAGS, f"--user-data-dir={self.profile / 'user-data'}"],
        }
        match: dict[str, Any] = {
            "browserName": "chrome", "goog:chromeOptions": options,
            "timeouts": {"script": 20000, "pageLoad": 10000},
        }  # fmt: skip
        if self.logging:
            match["goog:loggingPrefs"] = self.logging
        caps = {"capabilities": {"alwaysMatch": match}}
        value = self._call("POST", "/session", caps, timeout=timeout)
        self.session = str(value["sessionId"])
        self.capabilities = dict(value.get("capabilities", {}))
        self.started_after = time.monotonic() - t0

    @property
    def version(self) -> str:
        """The browser's version (``156.0.8078.108``)."""
        return str(self.capabilities.get("browserVersion", ""))

    def navigate(self, url: str) -> None:
        """Load ``url`` and wait for it (W3C ``Navigate To``)."""
        self._call("POST", self._session_path("/url"), {"url": url})

    def execute(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body; ``arguments[i]``) and return its value."""
        return self._call(
            "POST", self._session_path("/execute/sync"), {"script": script, "args": list(args)}
        )

    def execute_async(self, script: str, *args: Any) -> Any:
        """Run ``script``; it calls ``arguments[arguments.length - 1](value)`` to finish."""
        return self._call(
            "POST", self._session_path("/execute/async"), {"script": script, "args": list(args)}
        )

    def call(self, function: str, *args: Any) -> Any:
        """Await ``function(...args)`` in the page (a global async function); its value.

        A rejection comes back as :class:`WebDriverError` with the JavaScript message.
        """
        script = (
            "const done = arguments[arguments.length - 1];"
            f"Promise.resolve().then(() => {function}(...Array.from(arguments).slice(0, -1)))"
            ".then(v => done({ok: v === undefined ? null : v}),"
            " e => done({error: String(e && e.stack || e)}));"
        )
        reply = self.execute_async(script, *args)
        if not isinstance(reply, dict) or "error" in reply:
            raise WebDriverError(f"{function}: {reply.get('error') if reply else reply}")
        return reply["ok"]

    def logs(self, kind: str) -> list[dict[str, Any]]:
        """The entries of log ``kind`` (``browser``: the console; ``performance``: DevTools
        events) since the last call; needs ``logging`` at start."""
        value = self._call("POST", self._session_path("/se/log"), {"type": kind})
        return list(value or [])

    def cdp(self, cmd: str, **params: Any) -> Any:
        """A DevTools Protocol command (``Emulation.setDeviceMetricsOverride``...)."""
        return self._call("POST", self._session_path("/goog/cdp/execute"),
                          {"cmd": cmd, "params": params})

    def find(self, css: str) -> str:
        """The first element matching ``css`` (a W3C element id)."""
        value = self._call("POST", self._session_path("/element"),
                           {"using": "css selector", "value": css})
        return str(next(iter(value.values())))

    def click(self, target: str | dict[str, str]) -> None:
        """A real click (W3C Element Click: scrolled into view, pointer events) on the first
        element matching a CSS selector, or on an element a script returned."""
        element = self.find(target) if isinstance(target, str) else next(iter(target.values()))
        self._call("POST", self._session_path(f"/element/{element}/click"), {})

    def screenshot(self) -> bytes:
        """The viewport as PNG."""
        import base64

        return base64.b64decode(self._call("GET", self._session_path("/screenshot")))

    def quit(self, grace: float = 3.0) -> None:
        """End the session (closes Chromium), stop chromedriver, remove the profile."""
        if self.session is not None:
            with contextlib.suppress(Exception):
                self._call("DELETE", self._session_path(""), timeout=grace)
            self.session = None
        if self.driver is not None:
            stop_group(self.driver, signal.SIGTERM, grace)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.quit()
