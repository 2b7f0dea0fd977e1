"""``gnutls-cli --udp`` (DTLS 1.2 client) on loopback.

Flags that work with GnuTLS 3.7 against ``openssl s_server -dtls1_2``:
``--udp --insecure --port P --x509certfile C --x509keyfile K
--priority NORMAL:-VERS-ALL:+VERS-DTLS1.2 --srtp-profiles SRTP_AES128_CM_HMAC_SHA1_80 HOST``.
``--insecure`` accepts the self-signed server certificate; the key log comes from
the ``SSLKEYLOGFILE`` environment variable. Ready line: ``- Handshake was completed``;
then stdin lines are sent as application data and received data is printed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tests.peers.openssl_cli import Address, prepare_keylog
from tests.peers.process import ToolProcess

DTLS12_PRIORITY = "NORMAL:-VERS-ALL:+VERS-DTLS1.2"
"""GnuTLS priority string that allows DTLS 1.2 only."""


class GnutlsClient(ToolProcess):
    """``gnutls-cli --udp`` with a client certificate, SRTP offered."""

    def __init__(self, gnutls_cli: str, connect: Address, cert: Path, key: Path, *,
                 srtp: str | None = "SRTP_AES128_CM_HMAC_SHA1_80", keylog: Path | None = None,
                 priority: str = DTLS12_PRIORITY, mtu: int | None = None,
                 extra: Sequence[str] = ()) -> None:
        host, port = connect
        argv = [gnutls_cli, "--udp", "--insecure", "--port", str(port),
                "--x509certfile", str(cert), "--x509keyfile", str(key), "--priority", priority]
        if srtp:
            argv += ["--srtp-profiles", srtp]
        if mtu:
            argv += ["--mtu", str(mtu)]
        env = {"SSLKEYLOGFILE": str(prepare_keylog(keylog))} if keylog else None
        super().__init__([*argv, *extra, host], env=env)

    def wait_handshake(self, timeout: float = 10.0) -> str:
        """Wait for ``- Handshake was completed``; return the ``- Description:`` line's value."""
        self.wait_for(r"- Handshake was completed", timeout)
        m = self.wait_for(r"- Description: (\S+)", 1.0)
        return m.group(1)

    def quit(self, timeout: float = 10.0) -> int:
        """Close stdin (gnutls-cli sends close_notify and exits); return the exit code."""
        self.close_stdin()
        return self.wait(timeout)
