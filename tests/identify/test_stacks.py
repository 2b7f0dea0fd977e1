"""Which stack is talking: every real stack this machine runs, and the public captures,
identified by name from their hellos (proxy/identify/stacks.toml, docs/stacks.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.analyze.pipeline import analyze_capture
from proxy.events import SessionSummary, StackGuess
from proxy.identify.stacks import StackDb, StackFileError, builtin_entries, load_file
from proxy.session import Tracker
from tests.conftest import require_tool
from tests.identify.capture_hellos import ROOT, _nss, _pair, firefox_pair
from tests.peers.capture import write_pcap

STACKS = ROOT / "tests" / "data" / "stacks"


def stacks_of(path: Path, tracker: Tracker | None = None) -> dict[str, tuple[StackGuess | None,
                                                                           StackGuess | None]]:
    """Session id -> (client_stack, server_stack) of its last session event."""
    out: dict[str, tuple[StackGuess | None, StackGuess | None]] = {}
    for ev in analyze_capture(path, tracker=tracker):
        if isinstance(ev, SessionSummary):
            out[ev.session] = (ev.client_stack, ev.server_stack)
    return out


def _first(path: Path) -> tuple[StackGuess | None, StackGuess | None]:
    return next(iter(stacks_of(path).values()))


# (capture, client name, client version, client confidence, server name or None)
COMMITTED = [
    ("chromium-156-pair.pcap", "Chromium (libwebrtc, BoringSSL)", "156 (DTLS 1.3, ML-KEM)",
     "high", "Chromium (libwebrtc, BoringSSL) or Firefox (NSS) or wolfSSL"),
    # the ServerHello alone fits Chromium and Firefox: the certificate (CN=WebRTC) decides
    ("janus-1.1-client-chromium-156-server.pcap", "Janus (OpenSSL)", "1.1.2 on OpenSSL 3.0.x",
     "high", "Chromium (libwebrtc, BoringSSL)"),
    ("chromium-156-client-janus-1.1-server.pcap", "Chromium (libwebrtc, BoringSSL)",
     "156 (DTLS 1.3, ML-KEM)", "high", "Janus (OpenSSL)"),
    # DTLS 1.3 ServerHellos carry two extensions and an encrypted certificate: a tie, said so
    ("firefox-153-pair.pcap", "Firefox (NSS)", "153 ESR (DTLS 1.3, ML-KEM)", "high",
     "Chromium (libwebrtc, BoringSSL) or Firefox (NSS) or wolfSSL"),
    ("openssl-1.1.1l.pcap", "OpenSSL", "1.1.1", "high", "OpenSSL"),
    ("openssl-3.0-cli.pcap", "OpenSSL", "3.0.x", "high", "OpenSSL"),
    ("pyopenssl-openssl-4.0.pcap", "OpenSSL", "4.0.x", "high", "OpenSSL"),
    ("aiortc-1.16.pcap", "aiortc (OpenSSL)", "1.16 on OpenSSL 4.0.x", "high",
     "aiortc (OpenSSL)"),
    ("gnutls-3.7.pcap", "GnuTLS", "3.7.x", "high", "GnuTLS"),
    ("nss-3.87-tstclnt.pcap", "NSS (tstclnt)", "3.87 (Debian; DTLS 1.3 draft 0x7f2b)", "high",
     None),
    ("nss-3.125-tstclnt.pcap", "NSS (tstclnt)", "3.125 (Firefox ESR 153's; DTLS 1.3, ML-KEM)",
     "high", None),
]


@pytest.mark.parametrize(("name", "client", "version", "confidence", "server"), COMMITTED)
def test_committed_real_captures(name: str, client: str, version: str, confidence: str,
                                 server: str | None) -> None:
    c, s = _first(STACKS / name)
    assert c is not None
    assert (c.name, c.version, c.confidence) == (client, version, confidence), c
    assert (s.name if s else None) == server, s


PUBLIC = [
    ("capture-chrome-Chromium_123.0.6312.0_.pcap", "Chromium (libwebrtc, BoringSSL)",
     "123 (DTLS 1.2)", "Chromium (libwebrtc, BoringSSL)"),
    ("capture-firefox-Mozilla_Firefox_125.0.pcap", "Firefox (NSS)", "125", "Firefox (NSS)"),
    ("dtls13-wolfssl.pcap", "wolfSSL", "DTLS 1.3",
     "Chromium (libwebrtc, BoringSSL) or Firefox (NSS) or wolfSSL"),
    ("dtls1_2.pcap", "OpenSSL", "1.0.2", "OpenSSL"),
    ("webrtc-stun.pcap", "OpenSSL", "1.0.1", "GnuTLS"),
    ("stun_dtls_rtp.pcapng", "Chromium (libwebrtc, BoringSSL)", "123 (DTLS 1.2)",
     "Chromium (libwebrtc, BoringSSL)"),
    ("dtls12-aes128ccm8-dsb.pcapng", "GnuTLS", "3.5.x (PSK)", "GnuTLS"),
]


@pytest.mark.parametrize(("name", "client", "version", "server"), PUBLIC)
def test_public_captures(name: str, client: str, version: str, server: str,
                         captures_dir: Path) -> None:
    c, s = _first(captures_dir / name)
    assert c is not None and s is not None
    assert (c.name, c.version) == (client, version), c
    assert s.name == server, s


def test_the_seed_question_which_openssl_letter(captures_dir: Path) -> None:
    """"Is WebRTC using 1.0.1 too, and which letter?": the version, and that the letter
    cannot be read from the hello (said, not guessed)."""
    c, _ = _first(captures_dir / "webrtc-stun.pcap")
    assert c is not None and (c.name, c.version, c.confidence) == ("OpenSSL", "1.0.1", "high")
    assert any("cannot tell them apart" in e for e in c.evidence)
    assert "no supported_versions (version feff)" in c.evidence


def test_low_confidence_when_the_server_hello_says_little(captures_dir: Path) -> None:
    _, s = _first(captures_dir / "webrtc-stun.pcap")
    assert s is not None and s.confidence == "low"  # 3 extensions, DTLS 1.0: not GnuTLS 3.7's
    _, s = _first(captures_dir / "dtls13-wolfssl.pcap")
    assert s is not None and s.confidence == "low" and s.version is None


def test_discord_libwebrtc_with_its_own_suites_is_medium(captures_dir: Path) -> None:
    """nDPI's Discord flow: libwebrtc's extension order, Discord's own suites and SRTP."""
    guesses = stacks_of(captures_dir / "dtls_certificate_fragments.pcap")
    c, _ = guesses["s2"]
    assert c is not None and (c.name, c.confidence) == ("Chromium (libwebrtc, BoringSSL)",
                                                       "medium")
    assert "differs in ciphers, srtp" in c.evidence
    c1, s1 = guesses["s1"]
    assert c1 is not None and s1 is not None
    assert (c1.name, c1.version, s1.name, s1.version) == ("OpenSSL", "1.0.2", "OpenSSL", "1.0.1")


# ------------------------------------------------------------- live real stacks


def test_live_openssl_cli(openssl_ecdsa_capture) -> None:  # type: ignore[no-untyped-def]
    c, s = _first(openssl_ecdsa_capture.pcap)
    assert c is not None and s is not None
    assert (c.name, c.version, c.confidence) == ("OpenSSL", "3.0.x", "high")
    assert (s.name, s.confidence) == ("OpenSSL", "high")


def test_live_gnutls_cli(gnutls_openssl_capture) -> None:  # type: ignore[no-untyped-def]
    c, s = _first(gnutls_openssl_capture.pcap)
    assert c is not None and s is not None
    assert c.name == "GnuTLS" and c.confidence in ("high", "medium"), c
    assert s.name == "OpenSSL"


def test_live_pyopenssl(pyopenssl_pair_capture) -> None:  # type: ignore[no-untyped-def]
    c, s = _first(pyopenssl_pair_capture.pcap)
    assert c is not None and s is not None
    assert (c.name, c.version) == ("OpenSSL", "4.0.x"), c
    assert s.name == "OpenSSL"


@pytest.mark.parametrize(("env", "version"), [
    (None, "3.87 (Debian; DTLS 1.3 draft 0x7f2b)"),
    ({"LD_LIBRARY_PATH": "/usr/lib/firefox-esr"}, "3.125 (Firefox ESR 153's; DTLS 1.3, ML-KEM)"),
])
def test_live_nss_tstclnt(env: dict[str, str] | None, version: str, tmp_path: Path) -> None:
    require_tool("tstclnt")
    require_tool("certutil")
    if env and not Path(env["LD_LIBRARY_PATH"], "libssl3.so").exists():
        msg = "Firefox ESR's NSS not installed (scripts/setup.sh installs firefox-esr)"
        pytest.fail(msg) if os.environ.get("CI") == "true" else pytest.skip(msg)
    c, _ = _first(write_pcap(tmp_path / "nss.pcap", _nss(env)))
    assert c is not None and (c.name, c.version, c.confidence) == ("NSS (tstclnt)", version,
                                                                  "high")


def test_live_firefox(tmp_path: Path) -> None:
    """Headless Firefox ESR, two peer connections in a private network namespace."""
    for tool in ("firefox-esr", "tshark", "unshare"):
        require_tool(tool)
    c, _ = _first(write_pcap(tmp_path / "firefox.pcap", firefox_pair()))
    assert c is not None and (c.name, c.confidence) == ("Firefox (NSS)", "high"), c
    assert c.version is not None and c.version.startswith("153 ESR")


def test_live_aiortc(tmp_path: Path) -> None:
    c, s = _first(write_pcap(tmp_path / "aiortc.pcap", _pair(sys.executable, "aiortc")))
    assert c is not None and (c.name, c.confidence) == ("aiortc (OpenSSL)", "high")
    assert s is not None and s.name == "aiortc (OpenSSL)"
    assert "certificate subject CN=" in " ".join(s.evidence)


# ------------------------------------------------------------- the data file


def test_every_entry_names_its_provenance() -> None:
    entries = builtin_entries()
    assert len({e.id for e in entries}) == len(entries)
    names = {e.name for e in entries}
    for want in ("Chromium (libwebrtc, BoringSSL)", "Firefox (NSS)", "OpenSSL", "GnuTLS",
                 "wolfSSL", "pion/dtls (Go)", "NSS (tstclnt)", "Janus (OpenSSL)",
                 "aiortc (OpenSSL)"):
        assert want in names
    for e in entries:
        assert e.provenance
        for path in (w for w in e.provenance.split() if w.startswith("tests/data/stacks/")):
            assert (ROOT / path.rstrip(":,;")).exists(), (e.id, path)


def test_user_entry_wins_and_unknown_names_the_nearest(tmp_path: Path) -> None:
    path = STACKS / "openssl-3.0-cli.pcap"
    mine = tmp_path / "mine.toml"
    mine.write_text('[[stack]]\nid = "my-sfu"\nname = "MySFU"\nversion = "2.1"\n'
                    'provenance = "our lab capture"\n'
                    'extensions = "000b,000a,0023,000e,0016,0017,000d"\n'
                    'sigalgs = "0403,0503,0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,'
                    '0501,0601,0303,0301,0302,0402,0502,0602"\n')
    db = StackDb.default([mine])
    c, _ = _first_with(path, db)
    assert c is not None and (c.name, c.version) == ("MySFU", "2.1")
    # only a user entry that fits nothing: unknown, nearest named
    odd = tmp_path / "odd.toml"
    odd.write_text('[[stack]]\nid = "x"\nname = "X"\nprovenance = "p"\n'
                   'extensions = "0001,0002"\nsigalgs = "0101"\n')
    c, _ = _first_with(path, StackDb(load_file(odd)))
    assert c is not None and (c.name, c.nearest) == ("unknown", "X")


def _first_with(path: Path, db: StackDb) -> tuple[StackGuess | None, StackGuess | None]:
    return next(iter(stacks_of(path, Tracker(stacks=db)).values()))


@pytest.mark.parametrize(("text", "message"), [
    ('[[stack]]\nname = "a"\nprovenance = "p"\nextensions = "000b"\n', r"'id' \(a string\)"),
    ('[[stack]]\nid = "a"\nname = "a"\nprovenance = "p"\nextensons = "000b"\n',
     "unknown key 'extensons'"),
    ('[[stack]]\nid = "a"\nname = "a"\nprovenance = "p"\nextensions = "zz"\n', "hex values"),
    ('[[stack]]\nid = "a"\nname = "a"\nprovenance = "p"\nextensions = "000b"\n'
     'server_extensions = "000b"\n', "make two entries"),
    ("stack = 3\n", "array of tables"),
    ("[[stack]\n", "not TOML"),
])
def test_bad_stack_file_names_the_entry_and_key(text: str, message: str, tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text(text)
    with pytest.raises(StackFileError, match=message):
        load_file(p)


def test_config_fingerprints_files(tmp_path: Path) -> None:
    """``[fingerprints] files`` in the relay config: read at start, errors name the key."""
    from proxy.relay.config import ConfigError, load_toml
    from proxy.relay.recorder import make_tracker
    from proxy.verdict import VerdictEngine

    good = tmp_path / "mine.toml"
    good.write_text('[[stack]]\nid = "m"\nname = "Mine"\nprovenance = "lab"\n'
                    'extensions = "000b,000a,0023,000e,0016,0017,000d"\n')
    cfg_path = tmp_path / "relay.toml"
    cfg_path.write_text(f'[fingerprints]\nfiles = ["{good}"]\n')
    cfg = load_toml(cfg_path)
    assert cfg.fingerprint_files == (good,)
    tracker = make_tracker({}, VerdictEngine(), cfg.fingerprint_files)
    assert isinstance(tracker, Tracker) and tracker.stacks.entries[-1].name == "Mine"
    bad = tmp_path / "bad.toml"
    bad.write_text('[[stack]]\nid = "b"\nname = "B"\nprovenance = "p"\nextensons = "0001"\n')
    cfg_path.write_text(f'[fingerprints]\nfiles = ["{bad}"]\n')
    with pytest.raises(ConfigError, match=r"fingerprints.*files.*unknown key 'extensons'"):
        load_toml(cfg_path)


def test_one_command_answers_which_version_is_the_other_side(captures_dir: Path) -> None:
    """The seed's second question, answered by ``dtlsproxy analyze`` on the capture."""
    res = subprocess.run([sys.executable, "-m", "proxy", "analyze",
                          str(captures_dir / "webrtc-stun.pcap")],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("  client stack "))
    assert line.startswith("  client stack OpenSSL 1.0.1 (high): no supported_versions "
                           "(version feff); extension order 000b,000a,000f,000e")
    assert "the hello cannot tell them apart" in line
