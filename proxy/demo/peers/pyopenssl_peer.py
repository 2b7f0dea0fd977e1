"""A real DTLS 1.2 endpoint on pyOpenSSL, driven by datagrams (no network, no clock).

OpenSSL writes each datagram of a flight with one flush; pyOpenSSL's memory BIO
(``BIO_s_mem``) is a byte stream that would glue those datagrams together, and
cryptography's bindings expose no datagram memory BIO. So the endpoint gives
OpenSSL one end of a private ``socketpair(AF_UNIX, SOCK_DGRAM)`` instead: every
datagram keeps exactly the boundaries OpenSSL chose, and nothing leaves the
process unless the caller sends it.

What pyOpenSSL 26.4 (cryptography 50, OpenSSL 4.0 inside) offers, all used here:
DTLS_CLIENT/SERVER_METHOD (DTLS 1.2 at most: no DTLS 1.3), cookie callbacks
(``set_cookie_generate_callback`` / ``set_cookie_verify_callback``; a stateful
HelloVerifyRequest with SSL_OP_COOKIE_EXCHANGE), ``DTLSv1_listen`` (works, also on
memory BIOs; not needed), ``set_tlsext_use_srtp`` / ``get_selected_srtp_profile`` /
``export_keying_material``, ``set_keylog_callback`` (``CLIENT_RANDOM`` lines),
``set_ciphertext_mtu`` + ``OP_NO_QUERY_MTU`` (without them OpenSSL falls back to
256-byte datagrams), ``DTLSv1_get_timeout`` / ``DTLSv1_handle_timeout`` (first
retransmission after 1 s, then doubling; retransmitted flights go one message per
datagram). An Ed25519 *server* certificate fails in DTLS 1.2 (``no shared cipher``,
handshake_failure); an Ed25519 client certificate works.

Usage::

    ep = DtlsEndpoint(EndpointConfig(role="client"))
    ep.start()
    for d in ep.datagrams_to_send(): ...          # put on the wire
    ep.receive(datagram_from_peer)                # feed what came back
    ep.get_timeout() / ep.handle_timeout()        # retransmission timer
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from OpenSSL import SSL, crypto

from proxy.decode.dtls import registry
from proxy.demo.peers.certs import Identity, make_identity, sdp_fingerprint, write_secret

_OP_COOKIE_EXCHANGE = 0x00002000
"""SSL_OP_COOKIE_EXCHANGE (pyOpenSSL types its constant as optional)."""

Role = Literal["client", "server"]

DTLS1_2_VERSION = 0xFEFD
"""OpenSSL's version number for DTLS 1.2 (pyOpenSSL does not export the constant)."""

DEFAULT_SRTP_PROFILES = "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM"
"""What a browser offers in use_srtp (profiles 0x0001 and 0x0007)."""

SRTP_EXPORTER_LABEL = b"EXTRACTOR-dtls_srtp"
"""RFC 5764 keying-material exporter label."""




@dataclass(frozen=True, slots=True)
class AlertInfo:
    """A DTLS alert this endpoint sent or received (from OpenSSL's info callback)."""

    direction: Literal["sent", "received"]
    level: int
    """1 warning, 2 fatal."""
    description: int
    """Alert description code (51 = decrypt_error)."""

    @property
    def name(self) -> str:
        """IANA name of the description (``decrypt_error``), or ``unknown (n)``."""
        return registry.name(registry.ALERT_DESCRIPTIONS, self.description)

    @property
    def fatal(self) -> bool:
        """Level is fatal (2)."""
        return self.level == 2

    def __str__(self) -> str:
        level = {1: "warning", 2: "fatal"}.get(self.level, str(self.level))
        return f"{self.direction} {level} {self.name}({self.description})"


@dataclass
class EndpointConfig:
    """How a :class:`DtlsEndpoint` behaves. Defaults are what a browser does."""

    role: Role
    identity: Identity | None = None
    """Own key and certificate; a fresh ECDSA P-256 self-signed one when None."""
    cipher_list: str | None = None
    """OpenSSL cipher string (e.g. ``"ECDHE-RSA-AES128-SHA"``); OpenSSL's default when None."""
    srtp_profiles: str | None = DEFAULT_SRTP_PROFILES
    """use_srtp profiles to offer/accept; None leaves the extension out."""
    mutual_auth: bool = True
    """Ask for (server) and require the peer's certificate, as WebRTC does."""
    expected_fingerprint: str | None = None
    """Reject the peer's certificate unless its SHA-256 SDP fingerprint matches."""
    cookie_exchange: bool = False
    """Server: send a HelloVerifyRequest (stateful, SSL_OP_COOKIE_EXCHANGE)."""
    cookie_secret: bytes = b"dtlsproxy-cookie"
    """Server: the cookie sent and expected back (a fixed value: this is a test peer)."""
    mtu: int = 1200
    """Largest datagram OpenSSL may write (UDP payload); flights fragment above it."""
    keylog: bool = False
    """Collect NSS key log lines in memory (:attr:`DtlsEndpoint.keylog_lines`)."""
    session_tickets: bool = True
    """Server sends NewSessionTicket (OpenSSL's default); False sets SSL_OP_NO_TICKET."""


class DtlsEndpoint:
    """One DTLS 1.2 client or server: datagrams in, datagrams out.

    State to read after any call: :attr:`handshake_done`, :attr:`received_app_data`,
    :attr:`alerts` (sent and received), :attr:`error` (OpenSSL's reason when the
    connection failed), :attr:`peer_fingerprint`, :attr:`srtp_profile`,
    :attr:`cipher`. A failure never loses the alert: OpenSSL has flushed it into
    :meth:`datagrams_to_send` before :attr:`error` is set.
    """

    def __init__(self, config: EndpointConfig) -> None:
        self.config = config
        self.identity = config.identity or make_identity(f"dtlsproxy-{config.role}")
        self.handshake_done = False
        self.received_app_data: list[bytes] = []
        self.alerts: list[AlertInfo] = []
        self.error: str | None = None
        self.peer_closed = False
        self.peer_fingerprint: str | None = None
        self.keylog_lines: list[bytes] = []
        self._out: list[bytes] = []
        self._started = False
        self._closed = False
        self._ssl_end, self._wire = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._ssl_end.setblocking(False)
        self._wire.setblocking(False)
        self._conn = SSL.Connection(self._make_context(), self._ssl_end)
        self._conn.set_options(SSL.OP_NO_QUERY_MTU)
        self._conn.set_ciphertext_mtu(config.mtu)
        if config.role == "client":
            self._conn.set_connect_state()
        else:
            self._conn.set_accept_state()

    # ------------------------------------------------------------- setup

    def _make_context(self) -> SSL.Context:
        cfg = self.config
        method = SSL.DTLS_CLIENT_METHOD if cfg.role == "client" else SSL.DTLS_SERVER_METHOD
        ctx = SSL.Context(method)
        ctx.set_min_proto_version(DTLS1_2_VERSION)
        ctx.set_max_proto_version(DTLS1_2_VERSION)
        ctx.use_certificate(self.identity.cert)
        ctx.use_privatekey(self.identity.key)
        if cfg.cipher_list:
            ctx.set_cipher_list(cfg.cipher_list.encode())
        if cfg.srtp_profiles:
            ctx.set_tlsext_use_srtp(cfg.srtp_profiles.encode())
        if cfg.mutual_auth:
            ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, self._verify)
        elif cfg.role == "client":
            ctx.set_verify(SSL.VERIFY_PEER, self._verify)
        if cfg.keylog:
            ctx.set_keylog_callback(self._on_keylog)
        if not cfg.session_tickets:
            ctx.set_options(SSL.OP_NO_TICKET)
        if cfg.cookie_exchange and cfg.role == "server":
            secret = cfg.cookie_secret
            ctx.set_options(_OP_COOKIE_EXCHANGE)
            ctx.set_cookie_generate_callback(lambda _conn: secret)
            ctx.set_cookie_verify_callback(lambda _conn, cookie: cookie == secret)
        ctx.set_info_callback(self._on_info)
        return ctx

    def _verify(self, _conn: SSL.Connection, cert: crypto.X509, _err: int, depth: int,
                _ok: int) -> bool:
        """Accept the self-signed peer certificate; check its fingerprint if one is expected."""
        if depth != 0:
            return True
        der = cert.to_cryptography().public_bytes(serialization.Encoding.DER)
        self.peer_fingerprint = sdp_fingerprint(der)
        expected = self.config.expected_fingerprint
        return expected is None or expected.upper() == self.peer_fingerprint

    def _on_keylog(self, _conn: SSL.Connection, line: bytes) -> None:
        self.keylog_lines.append(line)

    def _on_info(self, _conn: SSL.Connection, where: int, ret: int) -> None:
        if where & SSL.SSL_CB_ALERT:
            direction: Literal["sent", "received"] = (
                "received" if where & SSL.SSL_CB_READ else "sent"
            )
            self.alerts.append(AlertInfo(direction, (ret >> 8) & 0xFF, ret & 0xFF))

    # ------------------------------------------------------------- driving

    def start(self) -> None:
        """Begin: a client writes its ClientHello (a server waits). Idempotent."""
        if not self._started:
            self._started = True
            self._pump()

    def receive(self, datagram: bytes) -> None:
        """Feed one datagram from the peer, then let OpenSSL react."""
        self._started = True
        if self.error is not None or self._closed:
            return
        self._flush_wire()
        self._wire.send(datagram)
        self._pump()

    def datagrams_to_send(self) -> list[bytes]:
        """Datagrams OpenSSL wrote since the last call, in order, exact boundaries."""
        self._flush_wire()
        out, self._out = self._out, []
        return out

    def get_timeout(self) -> float | None:
        """Seconds until :meth:`handle_timeout` is due (OpenSSL's own timer), or None."""
        if self.error is not None or self._closed:
            return None
        return self._conn.DTLSv1_get_timeout()

    def handle_timeout(self) -> bool:
        """Let OpenSSL retransmit if its timer expired; True if it did something."""
        if self.error is not None or self._closed:
            return False
        try:
            fired = self._conn.DTLSv1_handle_timeout()
        except SSL.Error as exc:
            self._fail(exc)
            return True
        self._flush_wire()
        return fired

    def send_app_data(self, data: bytes) -> None:
        """Encrypt and queue one application-data record (handshake must be done)."""
        if not self.handshake_done:
            raise RuntimeError("handshake not done")
        self._conn.write(data)
        self._flush_wire()

    def shutdown(self) -> None:
        """Queue a close_notify alert (only once connected and not failed)."""
        if self.handshake_done and self.error is None and not self._closed:
            with contextlib.suppress(SSL.Error):
                self._conn.shutdown()
            self._flush_wire()

    def close(self) -> None:
        """Free the socketpair (no alert; call :meth:`shutdown` first for close_notify)."""
        self._flush_wire()
        self._closed = True
        self._ssl_end.close()
        self._wire.close()

    def __enter__(self) -> DtlsEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------- results

    @property
    def alert(self) -> AlertInfo | None:
        """The first fatal alert (sent or received), else the last alert, else None."""
        for a in self.alerts:
            if a.fatal:
                return a
        return self.alerts[-1] if self.alerts else None

    @property
    def failed(self) -> bool:
        """OpenSSL gave up on this connection."""
        return self.error is not None

    @property
    def fingerprint(self) -> str:
        """Own certificate's SDP fingerprint."""
        return self.identity.fingerprint

    @property
    def cipher(self) -> str | None:
        """Negotiated cipher (OpenSSL name), once known."""
        return self._conn.get_cipher_name()

    @property
    def srtp_profile(self) -> str | None:
        """Negotiated SRTP profile name, or None."""
        p = self._conn.get_selected_srtp_profile()
        return p.decode() if p else None

    def srtp_keying_material(self, length: int = 60) -> bytes:
        """RFC 5764 exporter output (60 bytes for AES128_CM_SHA1_80 keys and salts)."""
        return self._conn.export_keying_material(SRTP_EXPORTER_LABEL, length)

    def write_keylog(self, path: Path) -> Path:
        """Write the collected NSS key log lines to ``path`` with mode 0600."""
        write_secret(path, b"".join(line + b"\n" for line in self.keylog_lines))
        return path

    def state(self) -> str:
        """OpenSSL's state string (e.g. ``SSLOK``), for diagnostics."""
        return self._conn.get_state_string().decode(errors="replace")

    # ------------------------------------------------------------- internals

    def _pump(self) -> None:
        """Run the handshake and read application data as far as possible."""
        if self.error is not None:
            return
        try:
            if not self.handshake_done:
                self._retry_on_want_write(self._conn.do_handshake)
                self.handshake_done = True
            while True:
                data = self._retry_on_want_write(lambda: self._conn.recv(65536))
                self.received_app_data.append(data)
        except SSL.WantReadError:
            pass
        except SSL.ZeroReturnError:
            self.peer_closed = True
        except SSL.Error as exc:
            self._fail(exc)
        self._flush_wire()

    def _retry_on_want_write(self, op: Callable[[], Any]) -> Any:
        for _ in range(64):
            try:
                return op()
            except SSL.WantWriteError:
                self._flush_wire()
        raise SSL.WantReadError()

    def _fail(self, exc: SSL.Error) -> None:
        self._flush_wire()
        self.error = describe_ssl_error(exc)

    def _flush_wire(self) -> None:
        while not self._closed:
            try:
                self._out.append(self._wire.recv(65536))
            except (BlockingIOError, OSError):
                return


def describe_ssl_error(exc: BaseException) -> str:
    """OpenSSL's error reasons joined (``"sslv3 alert decrypt error"``...)."""
    if isinstance(exc, SSL.SysCallError):
        return f"syscall error: {exc.args!r}"
    args = exc.args[0] if exc.args else None
    if isinstance(args, list) and args:
        return "; ".join(str(t[2]) if isinstance(t, tuple) and len(t) == 3 else str(t)
                         for t in args)
    return str(exc) or type(exc).__name__


@dataclass
class PairResult:
    """What happened when two endpoints were pumped against each other in memory."""

    client_to_server: list[bytes] = field(default_factory=list)
    server_to_client: list[bytes] = field(default_factory=list)
    rounds: int = 0


DatagramFilter = Callable[[str, int, bytes], bytes | None]
"""``(direction, index, datagram) -> datagram or None`` (None drops it)."""


def pump_pair(client: DtlsEndpoint, server: DtlsEndpoint, *,
              transform: DatagramFilter | None = None, max_rounds: int = 20) -> PairResult:
    """Exchange datagrams between two endpoints in memory until both are quiet.

    ``transform`` sees every datagram (direction ``"c2s"`` or ``"s2c"``, a running
    index per direction) and may change or drop it: that is how tests inject faults.
    No timer is run: call :meth:`DtlsEndpoint.handle_timeout` yourself for retransmissions.
    """
    result = PairResult()
    client.start()
    server.start()
    for _ in range(max_rounds):
        moved = False
        for direction, src, dst, log in (("c2s", client, server, result.client_to_server),
                                         ("s2c", server, client, result.server_to_client)):
            for d in src.datagrams_to_send():
                log.append(d)
                out = transform(direction, len(log) - 1, d) if transform else d
                moved = True
                if out is not None:
                    dst.receive(out)
        result.rounds += 1
        if not moved:
            break
    return result
