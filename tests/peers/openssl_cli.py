"""``openssl s_server`` / ``openssl s_client`` in DTLS 1.2 mode on loopback.

Facts (OpenSSL 3.0 CLI, verified by tests/test_peers.py):
- s_server answers the first ClientHello with a HelloVerifyRequest by default for DTLS.
- Without ``-mtu`` s_server's unconnected socket cannot query the path MTU and falls
  back to the 256-byte minimum: its datagrams are at most 228 bytes (flight 4 and
  NewSessionTicket fragment); s_client (connected socket) sends flight 5 in one datagram.
- ``-mtu N`` sets the link MTU (and SSL_OP_NO_QUERY_MTU itself): datagrams are at
  most N - 28 bytes on IPv4 (N - 48 on IPv6), on both sides.
- Readiness lines: s_server ``ACCEPT host:port``; handshake done ``CIPHER is X``
  (server) and ``New, TLSv1.2, Cipher is X`` (client: printed even when the server
  then sends a fatal alert; only the ``...:error:...SSL routines...`` line tells);
  application data read is printed raw.
- Faults (seen through the recorder's ``transform``): a corrupted CertificateVerify
  signature gets a 15-byte plaintext fatal alert decrypt_error(51) from s_server;
  a corrupted (encrypted) Finished is dropped silently and both sides retransmit
  their last flight after 1 s, then 2 s more, each message in its own datagram.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from proxy.demo.peers.certs import write_secret
from tests.peers.process import ToolProcess

Address = tuple[str, int]


def host_port(addr: Address) -> str:
    """``host:port`` with brackets for IPv6 (what -accept/-connect take)."""
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def prepare_keylog(path: Path) -> Path:
    """Create an empty key log file with mode 0600 (openssl/gnutls then append to it)."""
    write_secret(path, b"")
    return path


def _common(cert: Path, key: Path, srtp: str | None, keylog: Path | None, mtu: int | None,
            cipher: str | None, protocol: str = "-dtls1_2") -> list[str]:
    args = [protocol, "-cert", str(cert), "-key", str(key)]
    if srtp:
        args += ["-use_srtp", srtp]
    if keylog:
        args += ["-keylogfile", str(prepare_keylog(keylog))]
    if mtu:
        args += ["-mtu", str(mtu)]
    if cipher:
        args += ["-cipher", cipher]
    return args


class OpenSslServer(ToolProcess):
    """``openssl s_server -dtls1_2`` for one connection (``-naccept 1``), mutual auth."""

    def __init__(self, openssl: str, cert: Path, key: Path, *, host: str = "127.0.0.1",
                 port: int = 0, require_client_cert: bool = True,
                 srtp: str | None = "SRTP_AES128_CM_SHA1_80", keylog: Path | None = None,
                 mtu: int | None = None, cipher: str | None = None,
                 extra: Sequence[str] = (), protocol: str = "-dtls1_2") -> None:
        argv = [openssl, "s_server", "-accept", host_port((host, port)), "-naccept", "1"]
        argv += _common(cert, key, srtp, keylog, mtu, cipher, protocol)
        if require_client_cert:
            argv += ["-Verify", "1"]
        super().__init__(argv + list(extra))
        self.host = host

    def wait_ready(self, timeout: float = 10.0) -> Address:
        """Wait for ``ACCEPT host:port``; return the bound address."""
        m = self.wait_for(r"^ACCEPT (\S+)$", timeout)
        port = int(m.group(1).rsplit(":", 1)[1])
        return (self.host, port)

    def wait_handshake(self, timeout: float = 10.0) -> str:
        """Wait for ``CIPHER is X``; return the cipher."""
        return self.wait_for(r"^CIPHER is (\S+)", timeout).group(1)


class OpenSslClient(ToolProcess):
    """``openssl s_client -dtls1_2 -connect host:port`` with a client certificate."""

    def __init__(self, openssl: str, connect: Address, cert: Path, key: Path, *,
                 srtp: str | None = "SRTP_AES128_CM_SHA1_80", keylog: Path | None = None,
                 mtu: int | None = None, cipher: str | None = None,
                 extra: Sequence[str] = (), protocol: str = "-dtls1_2") -> None:
        argv = [openssl, "s_client", "-connect", host_port(connect)]
        argv += _common(cert, key, srtp, keylog, mtu, cipher, protocol)
        super().__init__(argv + list(extra))

    def wait_handshake(self, timeout: float = 10.0) -> str:
        """Wait for ``New, TLSv1.2, Cipher is X``; return the cipher.

        s_client prints that summary also when the server rejected it after the
        cipher was chosen (e.g. a fatal alert to flight 5), after its error line:
        so an ``SSL routines`` error in the output raises instead.
        """
        cipher = self.wait_for(r"^New, (?!\(NONE\))\S+, Cipher is (\S+)", timeout).group(1)
        failed = re.search(r"^.*:error:.*SSL routines.*$", self.output, re.MULTILINE)
        if failed:
            raise RuntimeError(f"s_client handshake failed: {failed.group(0)}")
        return cipher

    def quit(self, timeout: float = 10.0) -> int:
        """Type ``Q`` (s_client sends close_notify and exits); return the exit code."""
        self.send(b"Q\n")
        return self.wait(timeout)
