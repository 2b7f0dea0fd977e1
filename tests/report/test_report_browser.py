"""The HTML report as a reader sees it: real headless Chromium (WebDriver), a phone and a
desktop screen. No console error, no network request, the culprit's row in the first
screen, a message's detail opened by a click and its field's bytes highlighted.

Screenshots go to the test's temporary directory (``report-screenshots*``), and also to
``$DTLSPROXY_SCREENSHOTS`` when it is set, to be looked at.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from proxy.capture.eventlog import events_from_jsonl
from proxy.report import render
from tests.browser.chrome import Chromium
from tests.browser.report_page import (
    PageSeen,
    click_culprit,
    click_field,
    keep_screenshots,
    open_report,
    print_preview,
    report_browser,  # noqa: F401 (the fixture)
)
from tests.conftest import CAPTURES

pytestmark = [pytest.mark.peers, pytest.mark.timeout(300)]

DATA = Path(__file__).resolve().parent.parent / "data"
DEMO = DATA / "demo-tour.jsonl"


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report-screenshots")


def report(out: Path, command: str, *args: str) -> Path:
    r = subprocess.run([sys.executable, "-m", "proxy", command, *args, "--format", "html",
                        "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out


def assert_self_contained(seen: PageSeen) -> None:
    assert seen.overflow == {"phone": 0, "desktop": 0}  # nothing to scroll sideways
    assert seen.console == []
    assert seen.requests == []
    assert seen.resources == []


def test_the_demo_failure_reads_in_chromium(report_browser: Chromium, shots: Path,  # noqa: F811
                                            tmp_path: Path) -> None:
    page = report(tmp_path / "demo-failure.html", "view", str(DEMO))
    seen = open_report(report_browser, page, shots, session="s2")  # from the overview's link
    keep_screenshots(seen)
    assert_self_contained(seen)
    for size in ("phone", "desktop"):
        box = seen.culprit[size]
        assert box is not None and box["inside"], (size, box, seen.screenshots[size])
    detail = click_culprit(report_browser)
    assert detail["id"] == "s2-r11" and detail["open"] and detail["visible"], detail
    assert detail["summary"].startswith("◆ CULPRIT · +0.002s CertificateVerify · "
                                        "client->server · flight 5 · #15")
    assert detail["fields"] >= 8 and detail["hex"].startswith("0000  0f 00 00 4c")
    field = click_field(report_browser, "s2-r11", "signature")
    hexes = field["hex"]
    want = [hexes[2 * i:2 * i + 2] for i in range(field["start"], field["end"])]
    assert (field["start"], field["end"]) == (14, 88)
    assert field["marked"] == want  # exactly the field's bytes are highlighted
    field = click_field(report_browser, "s2-r11", "msg_type")
    assert field["marked"] == ["0f"]


def test_one_failed_session_shows_its_culprit_in_the_first_screen(
        report_browser: Chromium, shots: Path, tmp_path: Path) -> None:  # noqa: F811
    events = [ev for ev in events_from_jsonl(DEMO) if ev.session == "s2"]
    page = tmp_path / "demo-s2-alone.html"
    page.write_text(render(events, "html"))
    seen = open_report(report_browser, page, shots)  # no click, no scrolling
    keep_screenshots(seen)
    assert_self_contained(seen)
    assert all(seen.culprit[s] and seen.culprit[s]["inside"] for s in ("phone", "desktop")), \
        seen.culprit  # type: ignore[index]


def test_many_sessions_open_with_the_overview(report_browser: Chromium, shots: Path,  # noqa: F811
                                              tmp_path: Path, interleaved: Path) -> None:
    page = report(tmp_path / "interleaved.html", "analyze", str(interleaved))
    text = page.read_text()
    assert text.index('<section id="overview">') < text.index('<section class="session')
    seen = open_report(report_browser, page, shots, session="s1")
    keep_screenshots(seen)
    assert_self_contained(seen)
    assert all(seen.culprit[s] and seen.culprit[s]["inside"] for s in ("phone", "desktop")), \
        seen.culprit  # type: ignore[index]
    detail = click_culprit(report_browser)
    assert detail["open"] and "ServerHello" in detail["summary"]


def test_a_dtls13_capture_marks_its_encrypted_records(report_browser: Chromium,  # noqa: F811
                                                      shots: Path, tmp_path: Path) -> None:
    page = report(tmp_path / "dtls13-wolfssl.html", "analyze",
                  str(CAPTURES / "dtls13-wolfssl.pcap"))
    seen = open_report(report_browser, page, shots)
    keep_screenshots(seen)
    assert_self_contained(seen)
    assert seen.culprit == {"phone": None, "desktop": None}  # established: nobody blamed
    labels = report_browser.execute("""
        return Array.prototype.map.call(document.querySelectorAll('svg.ladder a.encrypted'),
            function(a){return a.querySelector('title').textContent.split(' — ')[0]});
    """)
    assert labels[:2] == ["[EncryptedHandshake (encrypted)]"] * 2 and len(labels) >= 6
    assert "encrypted (DTLS 1.3 hides certificates" in page.read_text()


def test_the_checks_see_a_request_and_an_error(report_browser: Chromium,  # noqa: F811
                                               shots: Path, tmp_path: Path) -> None:
    """What the assertions above rely on: a page that loads something is caught."""
    good = render([ev for ev in events_from_jsonl(DEMO) if ev.session == "s2"], "html")
    bad = good.replace("<body>", '<body><img src="http://127.0.0.1:9/x.png" alt="">', 1)
    page = tmp_path / "with-an-image.html"
    page.write_text(bad)
    seen = open_report(report_browser, page, shots)
    assert any("Content Security Policy" in line for line in seen.console), seen.console
    head, _, rest = bad.partition('<meta http-equiv="Content-Security-Policy"')
    page.write_text(head + rest.split(">", 1)[1])  # the same without its policy
    seen = open_report(report_browser, page, shots)
    assert "http://127.0.0.1:9/x.png" in seen.requests, seen.requests


def test_the_report_prints(report_browser: Chromium, shots: Path,  # noqa: F811
                           tmp_path: Path) -> None:
    page = report(tmp_path / "demo-print.html", "view", str(DEMO))
    laid = print_preview(report_browser, page, shots)
    keep_screenshots(PageSeen(screenshots={"print": laid["screenshot"]}))
    assert laid["overflow"] == 0 and laid["ladder"] > 300
    assert laid["details_shown"] is False  # the per-message list stays off paper
    pdf: bytes = laid["pdf"]
    assert pdf.startswith(b"%PDF-") and pdf.count(b"/Type /Page") >= 2
