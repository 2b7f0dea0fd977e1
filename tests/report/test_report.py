"""The HTML and Markdown reports, from real runs: the demo's corrupted CertificateVerify
(a JSONL log of the real relay and real OpenSSL peers, tests/data/demo-tour.jsonl), an
OpenSSL handshake with retransmissions (tests/data), the shared public captures."""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from proxy.capture.eventlog import events_from_jsonl
from proxy.events import Notice, SessionOpened, SessionSummary
from proxy.report import ReportOptions, document, render, session_blocks
from proxy.report.html import CSS, SCRIPT
from proxy.report.markdown import LIMIT
from proxy.report.markdown import document as markdown_document
from proxy.report.model import build_rows, gather
from proxy.report.redact import Pseudonyms
from tests.conftest import CAPTURES

DATA = Path(__file__).resolve().parent.parent / "data"
DEMO = DATA / "demo-tour.jsonl"
RETRANSMISSION = DATA / "openssl-refragmented-retransmission.pcapng"
IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])")


def run(command: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "proxy", command, *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def demo_html() -> str:
    r = run("view", str(DEMO), "--format", "html")
    assert r.returncode == 0, r.stderr
    return r.stdout


def body(page: str) -> str:
    """The page up to its footer (which says what was redacted)."""
    return page[:page.index("<footer>")]


def section(page: str, sid: str) -> str:
    start = page.index('<section class="session')
    start = page.index(f'id="{sid}"', start)
    return page[start:page.index("</section>", start)]


# ------------------------------------------------------------------ HTML


def test_the_failed_session_comes_first_with_its_verdict_then_the_ladder(demo_html: str) -> None:
    overview = demo_html[demo_html.index('<section id="overview">'):]
    assert overview.index('href="#s2"') < overview.index('href="#s1"')  # trouble first
    assert "2 sessions: 1 failed, 1 established" in overview
    s2 = section(demo_html, "s2")
    verdict = re.search(r'<p class="verdict">(.*?)</p>', s2)
    assert verdict is not None and verdict.group(1) == (
        "client CertificateVerify signature does not verify under the client certificate&#x27;s "
        "key (EC P-256, ecdsa_secp256r1_sha256): the server answered decrypt_error")
    assert "client-&gt;server flight 5 CertificateVerify (message_seq 4), frames 15" in s2
    assert "✖ server (gateway-2) sent fatal decrypt_error in answer to client flight 5" in s2
    order = [s2.index(x) for x in ('class="verdict"', "<svg", "<h3>Evidence", "<h3>Negotiated",
                                   "<h3>Certificates",
                                   '<h3>Compared with <a href="#s1">s1</a>, which established')]
    assert order == sorted(order)
    assert "messages identical except CertificateVerify signature (A&#x27;s verifies, B&#x27;s " \
        "does not)" in s2
    assert "Compared with" not in section(demo_html, "s1")  # only a failed session is


def test_the_ladder_is_the_tuis_rows_with_the_culprit_marked(demo_html: str) -> None:
    s2 = section(demo_html, "s2")
    svg = s2[s2.index("<svg"):s2.index("</svg>")]
    rows = re.findall(r'<a href="#(s2-r\d+)" data-m="\1" class="([^"]+)"><title>([^<]*)</title>',
                      svg)
    assert [(cls, title.split(" — ")[0]) for _, cls, title in rows] == [
        ("row k-message c2s", "ClientHello"),
        ("row k-message s2c", "HelloVerifyRequest"),
        ("row k-message c2s", "ClientHello"),
        ("row k-message s2c", "ServerHello"),
        ("row k-message s2c", "Certificate"),
        ("row k-message s2c", "ServerKeyExchange"),
        ("row k-message s2c", "CertificateRequest"),
        ("row k-message s2c", "ServerHelloDone"),
        ("row k-message c2s", "Certificate"),
        ("row k-message c2s", "ClientKeyExchange"),
        ("row k-message c2s culprit", "CULPRIT: CertificateVerify"),
        ("row k-message c2s", "ChangeCipherSpec"),
        ("row k-message c2s encrypted", "[Finished (encrypted)]"),
        ("row k-fault c2s", "⚡ injected: corrupt"),
        ("row k-alert s2c", "✖ Alert: fatal decrypt_error"),
        ("row k-verdict", "⚑ verdict: certificate_verify_bad_signature"),
        ("row k-closed", "session closed: end of capture"),
    ]
    assert svg.count("◆ CertificateVerify ◆") == 1
    assert ">F5</text>" in svg and ">+0.002s</text>" in svg
    assert '>client</text>' in svg and ">browser-2</text>" in svg and ">gateway-2</text>" in svg


def test_the_culprit_is_the_one_the_tui_highlights() -> None:
    from ui.alerts import find_culprit
    from ui.model import Model

    events = events_from_jsonl(DEMO)
    model = Model()
    model.absorb(events)
    tui = find_culprit(model.sessions["s2"])
    (sd,) = [s for s in gather(events) if s.sid == "s2"]
    (row,) = [r for r in build_rows(sd) if r.culprit]
    assert tui is not None and row.event == tui.message
    assert tui.message.type == "CertificateVerify"


def test_retransmissions_are_one_row_with_counts() -> None:
    r = run("analyze", str(RETRANSMISSION), "--format", "html", "--session", "s2")
    assert r.returncode == 0, r.stderr
    titles = re.findall(r'class="row k-copies"><title>([^<]*)</title>', r.stdout)
    assert titles == ["↻ resent: client flight 3 ×2 · server flight 4 ×2 — 6 msgs over 0.0s"]


def test_every_row_opens_its_fields_and_bytes(demo_html: str) -> None:
    events = [ev for ev in events_from_jsonl(DEMO) if ev.session == "s2"]
    s2 = section(demo_html, "s2")
    anchors = re.findall(r'data-m="(s2-r\d+)"', s2)
    assert len(anchors) == 17
    for a in anchors:
        assert '<details class="msg' in s2 and f'id="{a}"' in s2
    cv = re.search(r'<details class="msg culprit" id="s2-r11">(.*?)</details>', s2, re.S)
    assert cv is not None
    (msg,) = [e for e in events if getattr(e, "type", "") == "CertificateVerify"
              and getattr(e, "copy", 0) == 1]
    hexes = re.findall(r'data-hex="([0-9a-f]*)"', cv.group(1))
    assert hexes == [msg.raw.hex()]  # type: ignore[attr-defined]
    sig = re.search(r'<li data-s="(\d+)" data-e="(\d+)"><span class="f"><span class="k">'
                    r"signature</span>", cv.group(1))
    assert sig is not None and (int(sig.group(1)), int(sig.group(2))) == (14, 88)  # with its length
    assert "<pre class=\"hex\"" in cv.group(1) and "0000  0f 00 00 4c" in cv.group(1)


def test_the_page_is_self_contained(demo_html: str) -> None:
    urls = set(re.findall(r"[a-z]+://[^\s\"'<>)]+", demo_html))
    assert urls == {"http://www.w3.org/2000/svg"}  # a namespace name, never fetched
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc=|@import|url\(", demo_html)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', demo_html)
    assert csp is not None

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    assert csp.group(1).startswith("default-src 'none'; ")
    assert f"style-src 'sha256-{digest(CSS)}';" in csp.group(1)
    assert f"script-src 'sha256-{digest(SCRIPT)}';" in csp.group(1)
    assert f"<style>{CSS}</style>" in demo_html and f"<script>{SCRIPT}</script>" in demo_html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in demo_html


def test_text_from_the_wire_cannot_become_markup() -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>|*_x_*'
    events = [SessionOpened(1.0, "s1", ("10.0.0.1:1", "10.0.0.2:2"), (evil, "b")),
              Notice(1.5, "s1", "error", "silent_side", evil),
              SessionSummary(2.0, "s1", "stalled", "10.0.0.1:1", "10.0.0.2:2", evil, "b", None,
                             note=evil)]
    page = render(events, "html")
    body = page[page.index("<body>"):page.index("<script>(function")]
    assert "<script" not in body and "<img" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    text = render(events, "markdown")
    odd = '"><b id=x>'  # a session id from a hand-edited log
    page = render([SessionOpened(1.0, odd, ("a:1", "b:2"), ("a", "b")),
                   Notice(1.5, odd, "error", "silent_side", "quiet")], "html")
    assert "<b id=x>" not in page and 'id="&quot;&gt;&lt;b id=x&gt;"' in page
    shown = MarkdownIt("commonmark").enable("table").render(text)
    assert "<script" not in shown and "<img" not in shown
    verdict = [line for line in shown.splitlines() if "Verdict:" in line]
    assert verdict == ["<p><strong>Verdict:</strong> handshake stalled: &lt;script&gt;alert("
                       "&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;|*_x_*</p>"]


# ------------------------------------------------------------------ Markdown


def test_markdown_renders_to_the_evidence_table_and_the_ladder_block() -> None:
    r = run("view", str(DEMO), "--format", "markdown")
    assert r.returncode == 0, r.stderr
    tokens = MarkdownIt("commonmark").enable("table").parse(r.stdout)
    heads = [t.content for i, t in enumerate(tokens) if t.type == "inline"
             and tokens[i - 1].type == "heading_open"]
    assert heads[:3] == ["DTLS handshake report",
                         "s2 — failed — client (browser-2) ⇄ server (gateway-2)",
                         "s1 — established — client (browser-1) ⇄ server (gateway-1)"]
    tables = _tables(tokens)
    assert tables[0][0] == ["session", "state", "between", "what happened"]  # the overview
    evidence = tables[1]
    assert evidence[0] == ["result", "check", "detail"]
    assert evidence[1][:2] == ["FAIL", "client CertificateVerify signature"]
    assert evidence[1][2].startswith("ECDSA signature does not verify under the client "
                                     "certificate's EC P-256 key (scheme: ecdsa_secp256r1_sha256;")
    assert len(evidence) == 1 + 20  # every check of the verdict
    fences = [t for t in tokens if t.type == "fence"]
    assert [f.info for f in fences] == ["text", "text", "text"]  # s2's ladder, diff; s1's
    ladder = fences[0].content.splitlines()
    diff = fences[1].content.splitlines()
    assert diff[:2] == ["A    browser-1 -> gateway-1, established",
                        "B    browser-2 -> gateway-2, failed"]
    assert "  changed   5  client->server  CertificateVerify" in diff
    compared = [t.content for t in tokens if t.type == "inline"
                and t.content.startswith("**Compared with s1 (established):**")]
    assert compared and "messages identical except CertificateVerify signature (A's " \
        "verifies, B's does not)" in compared[0]
    assert ladder[0].split() == ["time", "flight", "browser-2", "gateway-2"]
    assert ladder[5].strip().startswith("+0.002s  5       Certificate, ClientKeyExchange, "
                                        "CertificateVerify, ChangeCipherSpec")
    assert ladder[-1].strip() == "+0.002s                        <------------ Alert (fatal, " \
                                 "decrypt_error)"
    verdict = [t.content for t in tokens if t.type == "inline"
               and t.content.startswith("**Verdict:**")]
    assert verdict == ["**Verdict:** client CertificateVerify signature does not verify "
                       "under the client certificate's key (EC P-256, ecdsa_secp256r1_sha256): "
                       "the server answered decrypt_error",
                       "**Verdict:** handshake established: DTLS 1.2, "
                       "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, SRTP_AES128_CM_HMAC_SHA1_80; 18 "
                       "of 21 checks passed, 3 could not be run"]


def _tables(tokens: list) -> list[list[list[str]]]:  # type: ignore[type-arg]
    tables: list[list[list[str]]] = []
    row: list[str] | None = None
    for i, t in enumerate(tokens):
        if t.type == "table_open":
            tables.append([])
        elif t.type == "tr_open":
            row = [""]
        elif t.type == "tr_close" and row:
            tables[-1].append(row[1:])
        elif t.type == "inline" and tokens[i - 1].type in ("th_open", "td_open") and row:
            row.append("".join(c.content for c in t.children or [] if c.type == "text"))
    return tables


def test_markdown_stays_within_githubs_limit_and_says_what_it_left_out() -> None:
    events = events_from_jsonl(DEMO)
    blocks = session_blocks(events, "markdown", ReportOptions())
    many = [b.__class__(f"s{n}", b.state, b.headline, b.troubled, b.first_ts, b.last_ts,
                        b.text.replace("## s2", f"## s{n}").replace("## s1", f"## s{n}"), b.title)
            for n in range(1, 41) for b in blocks[n % 2:n % 2 + 1]]
    text = document(many, "markdown", ReportOptions())
    assert len(text) <= LIMIT
    kept = len(re.findall(r"^## s\d+ ", text, re.M))
    assert 5 < kept < 40
    note = [line for line in text.splitlines() if line.startswith("> **Truncated**")]
    assert note and f"{kept} of 40 sessions shown" in note[0] and "--format html" in note[0]
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert sum(t.type == "fence" for t in tokens) == kept  # every ladder block is closed
    small = markdown_document(many[:1], ReportOptions(), limit=3000)  # one session cut short
    assert len(small) <= 3000 and "s1 is cut short" in small
    tokens = MarkdownIt("commonmark").enable("table").parse(small)
    assert tokens[-1].type != "fence" or tokens[-1].content.endswith("\n")


# ------------------------------------------------------------------ redaction


def test_redacted_addresses_are_consistent_pseudonyms(interleaved: Path) -> None:
    plain = run("analyze", str(interleaved), "--format", "html")
    red = run("analyze", str(interleaved), "--format", "html", "--redact", "addresses")
    md = run("analyze", str(interleaved), "--format", "markdown", "--redact", "addresses")
    assert plain.returncode == red.returncode == md.returncode == 0, red.stderr
    assert IPV4.findall(plain.stdout)
    assert IPV4.findall(red.stdout) == [] and IPV4.findall(md.stdout) == []
    names = Pseudonyms()
    assert names.sub(body(plain.stdout)) == body(red.stdout)  # one name per address, everywhere
    assert names.names["10.0.0.1"] == "private-1"
    assert "client (private-1:54427)" in red.stdout and "client (private-1:54427)" in md.stdout
    assert len(set(names.names.values())) == len(names.names)


def test_pseudonyms_leave_other_numbers_alone() -> None:
    names = Pseudonyms()
    text = ("10.0.0.5:5000 and [fe80::1]:443 and 127.0.0.1, DTLS 1.2 at 19:23:27.693, "
            "fingerprint 9B:4A:44:19:9E:E0:1D:BF:59:46:9F:BC:E7:0B:55:7A:3A:AF:53:59:A9:4C:C8:FC:"
            "26:F5:9D:85:B0:23:67:D1, +0.004s, 10.0.0.5 again, "
            "a1b2c3d4-0000-4000-8000-0123456789ab.local")
    assert names.sub(text) == (
        "private-1:5000 and [link-local-1]:443 and loopback-1, DTLS 1.2 at 19:23:27.693, "
        "fingerprint 9B:4A:44:19:9E:E0:1D:BF:59:46:9F:BC:E7:0B:55:7A:3A:AF:53:59:A9:4C:C8:FC:"
        "26:F5:9D:85:B0:23:67:D1, +0.004s, private-1 again, mdns-1")


def test_redacted_certificates_show_their_fingerprints_only(demo_html: str) -> None:
    r = run("view", str(DEMO), "--format", "html", "--redact", "certificates")
    m = run("view", str(DEMO), "--format", "markdown", "--redact", "certificates")
    assert r.returncode == m.returncode == 0, r.stderr
    events = events_from_jsonl(DEMO)
    certs = [e for e in events if getattr(e, "type", "") == "Certificate"]
    der = certs[0].body.entries[0].der  # type: ignore[attr-defined]
    fp = certs[0].body.entries[0].summary.fingerprint_sha256  # type: ignore[attr-defined]
    for text in (demo_html,):  # the unredacted page shows them
        assert "CN=dtlsproxy-client" in text and der.hex() in text
    for text in (r.stdout, m.stdout):
        assert "dtlsproxy-client" not in text and "dtlsproxy-server" not in text
        assert der.hex() not in text and der[-64:].hex() not in text
        assert fp in text
    assert "withheld (--redact certificates): fingerprints only" in r.stdout


DECRYPTED = "finished authenticates and its verify_data matches the transcript"


@pytest.mark.parametrize("capture, keys, used", [
    (CAPTURES / "dtls12-aes128ccm8-dsb.pcapng", CAPTURES / "dtls12-aes128ccm8-dsb.keys.derived.txt",
     {"html": DECRYPTED, "markdown": DECRYPTED}),
    (DATA / "dtls13" / "nss-1rtt.pcap", DATA / "dtls13" / "nss-1rtt.keys",
     {"html": ">encryptedextensions</text>",
      "markdown": "serverhello, encryptedextensions, certificate, certificateverify, finished"}),
])
def test_key_material_never_appears(capture: Path, keys: Path, used: dict[str, str]) -> None:
    secrets = [line.split()[-1].lower() for line in keys.read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert secrets and all(len(s) >= 64 for s in secrets)
    for fmt in ("html", "markdown"):
        r = run("analyze", str(capture), "--keylog", str(keys), "--format", fmt)
        assert r.returncode == 0, r.stderr
        low = r.stdout.lower()
        assert used[fmt] in low  # the key log was used: records decrypted, Finished checked
        for s in secrets:
            assert s not in low and s[:32] not in low


# ------------------------------------------------------------------ command line


def test_report_options_and_output_files(tmp_path: Path) -> None:
    r = run("analyze", str(RETRANSMISSION), "--redact", "addresses")
    assert r.returncode == 2 and "--redact applies to --format html or markdown" in r.stderr
    r = run("analyze", str(RETRANSMISSION), "--format", "html", "--redact", "names")
    assert r.returncode == 2 and "--redact 'names': choose addresses or certificates" in r.stderr
    out = tmp_path / "report.html"
    r = run("analyze", str(RETRANSMISSION), "--format", "html", "-o", str(out),
            "--redact", "addresses,certificates")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text().startswith("<!DOCTYPE html>")
    target = tmp_path / "elsewhere"
    (tmp_path / "link.md").symlink_to(target)
    for cmd, src in (("analyze", RETRANSMISSION), ("view", DEMO)):
        r = run(cmd, str(src), "--format", "markdown", "-o", str(tmp_path / "link.md"))
        assert r.returncode == 2 and "is a symbolic link: not followed" in r.stderr, r.stderr
        assert not target.exists()
    r = run("view", str(DEMO), "-o", str(out))
    assert r.returncode == 2 and "need --format html or markdown" in r.stderr


def test_the_same_report_for_any_number_of_jobs(interleaved: Path) -> None:
    one = run("analyze", str(interleaved), "--format", "html", "--jobs", "1")
    three = run("analyze", str(interleaved), "--format", "html", "--jobs", "3",
                "--redact", "addresses")
    assert one.returncode == three.returncode == 0, three.stderr
    assert Pseudonyms().sub(body(one.stdout)) == body(three.stdout)
    check = run("analyze", str(interleaved), "--format", "markdown", "--check")
    assert check.returncode == 4 and "failed or have a finding: s1" in check.stderr


def test_a_capture_without_dtls_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    r = run("view", str(empty), "--format", "html")
    assert r.returncode == 0 and "no DTLS or STUN found" in r.stdout
    r = run("view", str(empty), "--format", "markdown")
    assert r.returncode == 0 and "No DTLS or STUN found." in r.stdout


def test_stack_fingerprints_are_shown() -> None:
    r = run("analyze", str(CAPTURES / "capture-chrome-Chromium_123.0.6312.0_.pcap"),
            "--format", "html")
    assert r.returncode == 0, r.stderr
    stacks = r.stdout[r.stdout.index("<h3>Stack fingerprints</h3>"):]
    stacks = stacks[:stacks.index("</dl>")]
    assert "<dt>ja4 (ClientHello, client-&gt;server)</dt><dd>dd2i110700_c45550529adf_" in stacks
    assert "<dt>ja4s (ServerHello, server-&gt;client)</dt><dd>dd20500_c02b_" in stacks
    assert ("<dt>client stack</dt><dd>Chromium (libwebrtc, BoringSSL) 123 (DTLS 1.2), "
            "confidence high (evidence: no supported_versions") in stacks


def test_summary_fields_added_later_are_shown_by_name() -> None:
    """A field the session event gains later (paired legs...) appears by its name."""
    import dataclasses

    events = events_from_jsonl(DEMO)
    summary = [e for e in events if isinstance(e, SessionSummary) and e.session == "s2"][-1]
    sd = next(s for s in gather(events) if s.sid == "s2")

    @dataclasses.dataclass(frozen=True)
    class Later(SessionSummary):  # type: ignore[misc]
        paired_leg: str = "s7 (the other side of the proxy)"

    sd.summary = Later(**{f.name: getattr(summary, f.name)
                          for f in dataclasses.fields(summary)})
    from proxy.report.html import session_block

    block = session_block(sd, ReportOptions())
    assert "<dt>paired leg</dt><dd>s7 (the other side of the proxy)</dd>" in block.text


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_snapshot_demo(fmt: str, snapshot: object) -> None:
    r = run("view", str(DEMO), "--format", fmt)
    assert r.returncode == 0, r.stderr
    assert r.stdout == snapshot(extension_class=_extension(fmt))  # type: ignore[operator]


@pytest.mark.parametrize("fmt", ["html", "markdown"])
def test_snapshot_retransmission_redacted(fmt: str, snapshot: object) -> None:
    r = run("analyze", str(RETRANSMISSION), "--format", fmt, "--redact",
            "addresses,certificates")
    assert r.returncode == 0, r.stderr
    assert r.stdout == snapshot(extension_class=_extension(fmt))  # type: ignore[operator]


def _extension(fmt: str) -> type:
    from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode

    class Text(SingleFileSnapshotExtension):
        _write_mode = WriteMode.TEXT
        _file_extension = "html" if fmt == "html" else "md"

    return Text


def test_many_sessions_are_listed_and_the_first_ones_drawn() -> None:
    events = events_from_jsonl(DEMO)
    page = render(events, "html", ReportOptions(max_sessions=1))
    assert page.count('<section class="session') == 1 and 'id="s2" data-state' in page
    overview = page[page.index('<section id="overview">'):page.index("</section>")]
    assert '<a href="#s2">s2</a>' in overview and "<b>s1</b>" in overview  # listed, no link
    assert "1 more sessions are listed here but not drawn: choose them with --session ID" \
        in overview
