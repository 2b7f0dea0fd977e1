"""Session-scoped pytest fixtures: real DTLS handshakes on loopback, each recorded once per run.

Register with ``pytest_plugins = ["tests.peers.fixtures"]`` (root conftest). Each
capture fixture returns a :class:`~tests.peers.scenarios.PeerCapture`: the
datagrams both ways, a pcap (Ethernet/IPv4/UDP, client's 5-tuple), the NSS key
log (mode 0600) and the peers' own output.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_tool
from tests.peers.scenarios import (
    CertFiles,
    PairCapture,
    PeerCapture,
    capture_gnutls_openssl,
    capture_openssl_pair,
    capture_pyopenssl_pair,
    write_cert_files,
)

# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def peer_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A per-run directory for certificates, key logs and pcaps."""
    return tmp_path_factory.mktemp("peers")


@pytest.fixture(scope="session")
def ecdsa_certs(peer_workdir: Path) -> tuple[CertFiles, CertFiles]:
    """(server, client) ECDSA P-256 self-signed identities as files."""
    return (write_cert_files(peer_workdir, "ecdsa_server"),
            write_cert_files(peer_workdir, "ecdsa_client"))


@pytest.fixture(scope="session")
def rsa_certs(peer_workdir: Path) -> tuple[CertFiles, CertFiles]:
    """(server, client) RSA 2048 self-signed identities as files."""
    return (write_cert_files(peer_workdir, "rsa_server", "rsa2048"),
            write_cert_files(peer_workdir, "rsa_client", "rsa2048"))


@pytest.fixture(scope="session")
def openssl_ecdsa_capture(peer_workdir: Path,
                          ecdsa_certs: tuple[CertFiles, CertFiles]) -> PeerCapture:
    """(a) s_client <-> s_server: mutual ECDSA P-256, use_srtp, HelloVerifyRequest, key log."""
    openssl = require_tool("openssl")
    return capture_openssl_pair(openssl, peer_workdir, "openssl_ecdsa", *ecdsa_certs)


@pytest.fixture(scope="session")
def openssl_rsa_fragmented_capture(peer_workdir: Path,
                                   rsa_certs: tuple[CertFiles, CertFiles]) -> PeerCapture:
    """(b) s_client <-> s_server: RSA 2048, ECDHE-RSA-AES128-SHA (CBC), ``-mtu 300``.

    Datagrams are at most 272 bytes: Certificate, NewSessionTicket and the client's
    Certificate/CertificateVerify span several handshake fragments.
    """
    openssl = require_tool("openssl")
    return capture_openssl_pair(openssl, peer_workdir, "openssl_rsa_cbc_mtu300", *rsa_certs,
                                mtu=300, cipher="ECDHE-RSA-AES128-SHA", srtp=None)


@pytest.fixture(scope="session")
def gnutls_openssl_capture(peer_workdir: Path,
                           ecdsa_certs: tuple[CertFiles, CertFiles]) -> PeerCapture:
    """(c) gnutls-cli --udp (client cert, SRTP) <-> openssl s_server."""
    gnutls = require_tool("gnutls-cli")
    openssl = require_tool("openssl")
    return capture_gnutls_openssl(gnutls, openssl, peer_workdir, "gnutls_openssl", *ecdsa_certs)


@pytest.fixture(scope="session")
def pyopenssl_pair_capture(peer_workdir: Path) -> PairCapture:
    """(d) two in-process pyOpenSSL endpoints over loopback UDP: HVR, mutual ECDSA, SRTP."""
    return capture_pyopenssl_pair(peer_workdir, "pyopenssl_pair")
