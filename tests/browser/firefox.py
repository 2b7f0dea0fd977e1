"""Headless Firefox ESR for WebRTC, with no driver: the page fetches its calls from the
page server (:class:`tests.browser.page.RemoteCalls`) and posts the results back.

Firefox writes its DTLS secrets to ``SSLKEYLOGFILE`` (NSS), which is what the DTLS 1.3
tests decrypt with. Everything it writes goes under ``profile`` (``--profile``, and
``HOME``/``TMPDIR``/XDG through the environment). The prefs below are those a
loopback-only namespace needs: ICE on loopback, host addresses in the clear, fake media
and no permission prompt (without the last two no candidate is gathered), and nothing
that reaches out (updates, telemetry, captive portal, safe browsing).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.browser.chrome import _die_with_parent, private_env
from tests.browser.page import RemoteCalls
from tests.peers.process import stop_group

FIREFOX = "firefox-esr"

PREFS: dict[str, Any] = {
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "permissions.default.camera": 1,
    "permissions.default.microphone": 1,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.healthreport.uploadEnabled": False,
    "toolkit.telemetry.enabled": False,
    "app.update.enabled": False,
    "app.normandy.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "extensions.update.enabled": False,
}
"""``user.js`` of the profile."""


class Firefox:
    """One headless Firefox with one tab on the page; :meth:`call` runs page functions."""

    def __init__(self, profile: Path, log_path: Path, remote: RemoteCalls,
                 keylog: Path | None = None) -> None:
        self.profile = profile
        self.log_path = log_path
        self.remote = remote
        self.keylog = keylog
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_after: float | None = None
        self.version = ""

    def start(self, url: str, timeout: float = 30.0) -> None:
        """Launch Firefox on ``url?remote=1`` and wait until the page asks for work."""
        t0 = time.monotonic()
        self.profile.mkdir(parents=True, exist_ok=True)
        (self.profile / "user.js").write_text(
            "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items()))
        env = private_env(self.profile)
        env["MOZ_HEADLESS"] = "1"
        if self.keylog is not None:
            env["SSLKEYLOGFILE"] = str(self.keylog)
        out = subprocess.run([FIREFOX, "--version"], capture_output=True, text=True,
                             env=env, timeout=20)
        self.version = out.stdout.strip()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [FIREFOX, "--headless", "--no-remote", "--profile", str(self.profile),
                 url + ("&" if "?" in url else "?") + "remote=1"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True, preexec_fn=_die_with_parent,
            )  # fmt: skip
        if not self.remote.polled.wait(timeout):
            raise RuntimeError(f"Firefox did not load the page in {timeout:g}s")
        self.started_after = time.monotonic() - t0

    def call(self, function: str, *args: Any) -> Any:
        """Await ``function(...args)`` in the page; its value."""
        return self.remote.call(function, *args)

    def quit(self, grace: float = 5.0) -> None:
        """Stop Firefox (its process group) and remove the profile."""
        if self.proc is not None:
            stop_group(self.proc, signal.SIGTERM, grace)
        shutil.rmtree(self.profile, ignore_errors=True)
