"""``run --pcap --pcap-keys``: the relay's pcapng carries the key log lines of its
handshakes in Decryption Secrets Blocks, so Wireshark opens it decrypted.

DTLS 1.2 between real OpenSSL peers (s_client writes its key log while the proxy
follows it), opened by tshark with no key log option: it decrypts both Finished from
the block alone. (tshark 4.0 does not dissect DTLS 1.3's unified header; the DTLS 1.3
block is checked in tests/integration/test_nss.py.) Without the flag no secret is
written.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from proxy.capture.pcap import PcapngWriter, read_capture, read_capture_secrets
from proxy.events import Datagram
from tests.conftest import require_tool
from tests.peers.openssl_cli import OpenSslClient, OpenSslServer
from tests.peers.scenarios import CertFiles
from tests.relay.test_relay_peers import exchange, two_sided

pytestmark = pytest.mark.peers


def test_secrets_block_between_packets_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "x.pcapng"
    a, b = ("127.0.0.1", 1), ("127.0.0.1", 2)
    with PcapngWriter(path) as w:
        w.write(Datagram(1.0, a, b, b"one", 1))
        w.write_secrets(["CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48])
        w.write(Datagram(2.0, b, a, b"two!", 2))
    assert [d.data for d in read_capture(path)] == [b"one", b"two!"]
    assert read_capture_secrets(path) == ["CLIENT_RANDOM " + "ab" * 32 + " " + "cd" * 48]


@pytest.mark.parametrize("with_keys", [True, False])
def test_tshark_decrypts_the_relay_pcapng_from_its_secrets_block(
        ecdsa_certs: tuple[CertFiles, CertFiles], tmp_path: Path, with_keys: bool) -> None:
    openssl = require_tool("openssl")
    tshark = require_tool("tshark")
    server, client = ecdsa_certs
    keys = tmp_path / "keys.log"
    extra = ["--keylog", str(keys)] + (["--pcap-keys"] if with_keys else [])
    with OpenSslServer(openssl, server.cert, server.key) as srv:
        addr = srv.wait_ready()
        proxy, side_a = two_sided(tmp_path, addr, *extra)
        with proxy, OpenSslClient(openssl, ("127.0.0.1", side_a), client.cert, client.key,
                                  keylog=keys) as cli:
            exchange(cli, srv)
            proxy.finish()
    pcap = tmp_path / "run.pcapng"
    lines = read_capture_secrets(pcap)
    expected = [ln for ln in keys.read_text().splitlines() if ln.startswith("CLIENT_RANDOM")]
    assert lines == (expected if with_keys else [])
    out = subprocess.run([tshark, "-r", str(pcap), "-Y", "dtls.handshake.type == 20",
                          "-T", "fields", "-e", "frame.number"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    finished = out.split()
    if with_keys:  # each Finished on both legs (peer -> proxy and proxy -> peer)
        assert len(finished) == 4, out
    else:
        assert finished == [], out
