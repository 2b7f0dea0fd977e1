"""Real DTLS exchanges between two peers on loopback, recorded (the fixtures' building blocks).

Each ``capture_*`` function starts the peers, runs a handshake plus one line of
application data each way through :func:`~tests.peers.capture.record_udp_exchange`,
always stops the peers, and returns a :class:`PeerCapture`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

from proxy.demo.peers import DtlsEndpoint, EndpointConfig, PeerResult, make_identity, run_udp_pair
from proxy.demo.peers.certs import Identity, KeyType
from tests.peers import CLIENT_LINE, SERVER_LINE
from tests.peers.capture import (
    CapturedDatagram,
    Transform,
    UdpRecorder,
    record_udp_exchange,
    write_pcap,
)
from tests.peers.gnutls_cli import GnutlsClient
from tests.peers.openssl_cli import Address, OpenSslClient, OpenSslServer


@dataclass(frozen=True)
class CertFiles:
    """An identity written as PEM files."""

    identity: Identity
    cert: Path
    key: Path

    @property
    def fingerprint(self) -> str:
        """SDP fingerprint of the certificate."""
        return self.identity.fingerprint


@dataclass(frozen=True)
class PeerCapture:
    """One recorded handshake plus data exchange between two real peers."""

    name: str
    datagrams: list[CapturedDatagram]
    pcap: Path
    keylog: Path | None
    client_output: str
    server_output: str
    client_cert: CertFiles | None = None
    server_cert: CertFiles | None = None

    @property
    def payloads(self) -> list[bytes]:
        """Just the bytes, in order."""
        return [d.data for d in self.datagrams]


def write_cert_files(directory: Path, stem: str, key_type: KeyType = "ecdsa-p256") -> CertFiles:
    """A fresh self-signed identity as ``<stem>.crt`` / ``<stem>.key`` (0600)."""
    ident = make_identity(stem, key_type)
    cert, key = ident.write(directory, stem)
    return CertFiles(ident, cert, key)


def _exchange(client: OpenSslClient | GnutlsClient, server: OpenSslServer) -> None:
    """Both handshakes done, one line each way, client quits, server exits (-naccept 1)."""
    server.wait_handshake()
    client.wait_handshake()
    client.send(CLIENT_LINE)
    server.wait_for(CLIENT_LINE.decode().strip())
    server.send(SERVER_LINE)
    client.wait_for(SERVER_LINE.decode().strip())
    client.quit()
    server.wait(10)


def capture_openssl_pair(openssl: str, workdir: Path, name: str, server: CertFiles,
                         client: CertFiles, *, host: str = "127.0.0.1",
                         mtu: int | None = None, cipher: str | None = None,
                         srtp: str | None = "SRTP_AES128_CM_SHA1_80",
                         protocol: str = "-dtls1_2") -> PeerCapture:
    """s_client -> recorder -> s_server, mutual auth; returns the capture.
    ``protocol``: ``-dtls1_2`` or ``-dtls1`` (DTLS 1.0: also ``@SECLEVEL=0`` in ``cipher``)."""
    keylog = workdir / f"{name}.keys"
    with OpenSslServer(openssl, server.cert, server.key, host=host, srtp=srtp, mtu=mtu,
                       cipher=cipher, protocol=protocol) as srv:
        addr = srv.wait_ready()
        with record_udp_exchange(addr, host) as rec, OpenSslClient(
            openssl, rec.listen_addr, client.cert, client.key, srtp=srtp, keylog=keylog,
            mtu=mtu, cipher=cipher, protocol=protocol,
        ) as cli:
            _exchange(cli, srv)
        datagrams = rec.snapshot()
    pcap = write_pcap(workdir / f"{name}.pcap", datagrams)
    return PeerCapture(name, datagrams, pcap, keylog, cli.output, srv.output, client, server)


def capture_gnutls_openssl(gnutls_cli: str, openssl: str, workdir: Path, name: str,
                           server: CertFiles, client: CertFiles, *,
                           host: str = "127.0.0.1") -> PeerCapture:
    """gnutls-cli --udp -> recorder -> openssl s_server, mutual auth, SRTP; the capture."""
    keylog = workdir / f"{name}.keys"
    with OpenSslServer(openssl, server.cert, server.key, host=host) as srv:
        addr = srv.wait_ready()
        with record_udp_exchange(addr, host) as rec, GnutlsClient(
            gnutls_cli, rec.listen_addr, client.cert, client.key, keylog=keylog,
        ) as cli:
            _exchange(cli, srv)
        datagrams = rec.snapshot()
    pcap = write_pcap(workdir / f"{name}.pcap", datagrams)
    return PeerCapture(name, datagrams, pcap, keylog, cli.output, srv.output, client, server)


@dataclass(frozen=True)
class PairCapture(PeerCapture):
    """A pyOpenSSL pair capture, with both peers' results."""

    client_result: PeerResult | None = None
    server_result: PeerResult | None = None


def capture_pyopenssl_pair(workdir: Path, name: str, *, host: str = "127.0.0.1",
                           client_config: EndpointConfig | None = None,
                           server_config: EndpointConfig | None = None,
                           transform: Transform | None = None,
                           timeout: float = 10.0) -> PairCapture:
    """Two :class:`DtlsEndpoint` (cookie exchange, SRTP, key log) over UDP via the recorder.

    ``transform`` lets the recorder change or drop datagrams in flight (fault tests).
    """
    ccfg = client_config or EndpointConfig("client", keylog=True)
    scfg = server_config or EndpointConfig("server", cookie_exchange=True, keylog=True)
    client, server = DtlsEndpoint(ccfg), DtlsEndpoint(scfg)
    with contextlib.ExitStack() as stack:
        recorders: list[UdpRecorder] = []

        async def route(server_addr: Address) -> Address:
            rec = stack.enter_context(record_udp_exchange(server_addr, host, transform))
            recorders.append(rec)
            return rec.listen_addr

        cres, sres = asyncio.run(run_udp_pair(
            client, server, host=host, route=route, timeout=timeout,
            client_data=CLIENT_LINE, server_data=SERVER_LINE,
        ))
        stack.close()
        datagrams = recorders[0].snapshot()
    keylog = client.write_keylog(workdir / f"{name}.keys") if ccfg.keylog else None
    pcap = write_pcap(workdir / f"{name}.pcap", datagrams)
    return PairCapture(name, datagrams, pcap, keylog, repr(cres), repr(sres),
                       client_result=cres, server_result=sres)
