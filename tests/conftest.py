"""Shared fixtures: paths to the shared captures and the system-peer gate."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from proxy.capture.pcap import PcapngWriter, read_capture
from proxy.events import Datagram

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CAPTURES = SHARED / "captures"
DATA = ROOT / "tests" / "data"
"""Small real captures kept with the tests."""
pytest_plugins = ["tests.peers.fixtures"]

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_tool(name: str) -> str:
    """Path of a system peer (openssl, gnutls-cli, tshark, janus...).

    Skips with a clear reason on a developer laptop; under ``CI=true`` a missing
    peer is a failure, never a skip.
    """
    path = shutil.which(name)
    if path is None:
        msg = f"system peer {name!r} not installed (scripts/setup.sh installs it)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    """``../shared/captures`` (read-only)."""
    if not CAPTURES.is_dir():
        msg = f"shared captures not found at {CAPTURES}"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return CAPTURES


@pytest.fixture(scope="session")
def interleaved(tmp_path_factory: pytest.TempPathFactory, captures_dir: Path) -> Path:
    """Every shared capture (real Chromium, Firefox, wolfSSL, WebRTC STUN+DTLS+SRTP,
    fragmented certificates...), each shifted to start 0.25 s after the previous one and
    moved to addresses of its own (10.0.k.x), merged in time order; and first, a
    handshake that stops after the server's first flight (Chromium's first three
    datagrams), which gets a verdict."""
    datagrams: list[Datagram] = []
    files = sorted(p for p in captures_dir.iterdir() if p.suffix in (".pcap", ".pcapng"))
    stalled = captures_dir / "capture-chrome-Chromium_123.0.6312.0_.pcap"
    for k, path in enumerate([stalled, *files]):
        own = list(read_capture(path))[:3] if k == 0 else list(read_capture(path))
        start = own[0].ts
        hosts: dict[str, str] = {}
        for d in own:
            for host, _ in (d.src, d.dst):
                hosts.setdefault(host, f"10.0.{k}.{len(hosts) + 1}")
            datagrams.append(Datagram(1_700_000_000 + 0.25 * k + (d.ts - start),
                                      (hosts[d.src[0]], d.src[1]), (hosts[d.dst[0]], d.dst[1]),
                                      d.data, 0))
    datagrams.sort(key=lambda d: d.ts)
    assert datagrams[-1].ts - datagrams[0].ts > 10
    out = tmp_path_factory.mktemp("parallel") / "interleaved.pcapng"
    with PcapngWriter(out) as w:
        for n, d in enumerate(datagrams, 1):
            w.write(Datagram(d.ts, d.src, d.dst, d.data, n))
    return out
