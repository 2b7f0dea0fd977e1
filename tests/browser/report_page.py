"""An HTML report opened in headless Chromium at phone and desktop sizes: what the reader
sees (the culprit row in the first screen), what the page did (console errors, network
requests: there must be none), and whether a click opens a message's detail.

:func:`report_browser` is a module-scoped fixture (one Chromium for a module's reports);
chromedriver listens on an ephemeral loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.chrome import CHROMIUM, Chromium
from tests.conftest import IN_CI, require_tool

SIZES = {"phone": (390, 844, True), "desktop": (1280, 900, False)}
"""name -> (CSS width, height, mobile emulation)."""

_IN_VIEW = """
var el = document.querySelector(arguments[0]);
if (!el) return null;
var r = el.getBoundingClientRect();
return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
        inside: r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight
                && r.left >= 0 && r.right <= window.innerWidth};
"""


def free_port() -> int:
    """An unused loopback TCP port (for chromedriver)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def report_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    """One headless Chromium (console and network logs on) for the module's tests."""
    require_tool("chromedriver")
    if not os.access(CHROMIUM, os.X_OK):
        msg = f"{CHROMIUM} missing (Debian's chromium package installs it)"
        pytest.fail(msg) if IN_CI else pytest.skip(msg)
    d = tmp_path_factory.mktemp("report-browser")
    chrome = Chromium(d / "profile", d / "chromedriver.log", port=free_port(),
                      logging={"browser": "ALL", "performance": "ALL"})
    chrome.start()
    try:
        yield chrome
    finally:
        chrome.quit()


@dataclass
class PageSeen:
    """What one report did in the browser, per size."""

    console: list[str] = field(default_factory=list)
    """Console messages of level WARNING or SEVERE (CSP violations are SEVERE)."""
    requests: list[str] = field(default_factory=list)
    """URLs requested other than the page itself (DevTools Network log)."""
    resources: list[str] = field(default_factory=list)
    """``performance.getEntriesByType('resource')``: anything the page loaded."""
    culprit: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    """size -> the culprit row's box and whether it is inside the first screen."""
    screenshots: dict[str, Path] = field(default_factory=dict)
    overflow: dict[str, int] = field(default_factory=dict)
    """size -> CSS pixels the page is wider than the screen (0: no sideways scrolling)."""


def open_report(chrome: Chromium, page: Path, shots: Path, *, session: str | None = None
                ) -> PageSeen:
    """Load ``page`` at each size (after a click on ``session``'s overview link when
    given), note what it logged and requested, and screenshot it into ``shots``."""
    seen = PageSeen()
    url = page.resolve().as_uri()
    shots.mkdir(parents=True, exist_ok=True)
    for name, (width, height, mobile) in SIZES.items():
        chrome.cdp("Emulation.setDeviceMetricsOverride", width=width, height=height,
                   deviceScaleFactor=1, mobile=mobile)
        chrome.logs("browser")
        chrome.logs("performance")  # drop what came before this load
        chrome.navigate(url)
        if session is not None:
            chrome.click(f'#overview a[href="#{session}"]')
        seen.culprit[name] = chrome.execute(_IN_VIEW, "svg.ladder a.culprit")
        seen.overflow[name] = int(chrome.execute(
            "var d = document.documentElement; return d.scrollWidth - d.clientWidth;"))
        shot = shots / f"{page.stem}-{name}.png"
        shot.write_bytes(chrome.screenshot())
        seen.screenshots[name] = shot
        seen.console += [f"{e.get('level')}: {e.get('message')}" for e in chrome.logs("browser")
                         if e.get("level") in ("WARNING", "SEVERE")]
        seen.requests += [u for u in _requested(chrome.logs("performance")) if u != url]
        seen.resources += chrome.execute(
            "return performance.getEntriesByType('resource').map(function(e){return e.name})")
    return seen


def keep_screenshots(seen: PageSeen) -> None:
    """Copy the screenshots to ``$DTLSPROXY_SCREENSHOTS`` when it is set (to look at)."""
    where = os.environ.get("DTLSPROXY_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        for shot in seen.screenshots.values():
            shutil.copy(shot, Path(where) / shot.name)


def _requested(entries: list[dict[str, Any]]) -> list[str]:
    urls = []
    for e in entries:
        msg = json.loads(e.get("message", "{}")).get("message", {})
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(str(msg.get("params", {}).get("request", {}).get("url")))
    return urls


def click_culprit(chrome: Chromium) -> dict[str, Any]:
    """Click the culprit's row in the ladder; what its detail then shows."""
    chrome.click("svg.ladder a.culprit")
    return dict(chrome.execute("""
        var a = document.querySelector('svg.ladder a.culprit');
        var d = document.getElementById(a.getAttribute('data-m'));
        var r = d.getBoundingClientRect();
        return {id: d.id, open: d.open, summary: d.querySelector('summary').textContent,
                visible: r.top < window.innerHeight && r.bottom > 0,
                fields: d.querySelectorAll('li[data-s]').length,
                hex: (d.querySelector('pre.hex') || {}).textContent || ''};
    """))


def click_field(chrome: Chromium, detail: str, label: str) -> dict[str, Any]:
    """Click the field ``label`` in the detail ``detail``; the bytes then highlighted and
    the field's span."""
    chrome.click(chrome.execute("""
        var items = document.getElementById(arguments[0]).querySelectorAll('li[data-s]');
        for (var i = 0; i < items.length; i++) {
            var k = items[i].querySelector('.k');
            if (k && k.textContent === arguments[1]) return items[i].querySelector('span.f');
        }
        return null;
    """, detail, label))
    return dict(chrome.execute("""
        var d = document.getElementById(arguments[0]);
        var li = d.querySelector('li.on');
        var marks = d.querySelectorAll('pre.hex mark');
        var text = Array.prototype.map.call(marks, function(m){return m.textContent}).join(' ');
        return {start: li ? +li.getAttribute('data-s') : null,
                end: li ? +li.getAttribute('data-e') : null,
                marked: text.split(/\\s+/).filter(Boolean),
                hex: d.querySelector('pre.hex').getAttribute('data-hex')};
    """, detail))


def print_preview(chrome: Chromium, page: Path, shots: Path) -> dict[str, Any]:
    """The page as printed on A4 (print media, 794 CSS px wide): how it lays out, a
    screenshot of the first page, and the PDF Chromium makes of it."""
    import base64

    chrome.cdp("Emulation.setDeviceMetricsOverride", width=794, height=1123,
               deviceScaleFactor=1, mobile=False)
    chrome.navigate(page.resolve().as_uri())
    chrome.cdp("Emulation.setEmulatedMedia", media="print")
    try:
        laid = dict(chrome.execute("""
            var d = document.documentElement, svg = document.querySelector('svg.ladder');
            var list = document.querySelector('details.msglist');
            return {overflow: d.scrollWidth - d.clientWidth,
                    ladder: svg ? svg.getBoundingClientRect().width : 0,
                    details_shown: list ? getComputedStyle(list).display !== 'none' : false};
        """))
        shot = shots / f"{page.stem}-print.png"
        shot.write_bytes(chrome.screenshot())
        pdf = base64.b64decode(chrome.cdp("Page.printToPDF", printBackground=True)["data"])
    finally:
        chrome.cdp("Emulation.setEmulatedMedia", media="")
    laid.update(screenshot=shot, pdf=pdf)
    return laid
