"""Real DTLS peers: pyOpenSSL endpoints, openssl s_server/s_client, gnutls-cli, the recorder."""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from proxy.decode.dtls.record import CT_ALERT, CT_CHANGE_CIPHER_SPEC, CT_HANDSHAKE
from proxy.demo.peers import (
    DtlsEndpoint,
    EndpointConfig,
    UdpPeer,
    make_identity,
    pump_pair,
    run_udp_pair,
)
from tests.conftest import require_tool
from tests.peers import CLIENT_LINE, SERVER_LINE
from tests.peers.capture import read_pcap_payloads, record_udp_exchange, tshark_capture
from tests.peers.openssl_cli import OpenSslClient, OpenSslServer
from tests.peers.scenarios import capture_pyopenssl_pair
from tests.peers.wire import (
    CERTIFICATE,
    CERTIFICATE_VERIFY,
    CLIENT_HELLO,
    HELLO_VERIFY_REQUEST,
    content_types,
    flip_last_byte_of,
    fragments,
    handshake_types,
    is_client_hello,
)

if TYPE_CHECKING:
    from tests.peers.scenarios import CertFiles, PairCapture, PeerCapture

pytest_plugins = ["tests.peers.fixtures"]

FINGERPRINT = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")


def client_random(capture: PeerCapture) -> str:
    """Hex client random of the first ClientHello (body: version(2) random(32))."""
    first = fragments([capture.payloads[0]])[0]
    return first.body[2:34].hex()


def assert_keylog_for(capture: PeerCapture) -> None:
    assert capture.keylog is not None
    assert stat.S_IMODE(capture.keylog.stat().st_mode) == 0o600
    lines = [ln for ln in capture.keylog.read_text().splitlines() if not ln.startswith("#")]
    assert lines, "empty key log"
    assert lines[0].split()[:2] == ["CLIENT_RANDOM", client_random(capture)]


# ------------------------------------------------------------------ certificates


@pytest.mark.parametrize(("key_type", "key_class"), [
    ("ecdsa-p256", ec.EllipticCurvePrivateKey),
    ("rsa2048", rsa.RSAPrivateKey),
    ("ed25519", ed25519.Ed25519PrivateKey),
])
def test_identity_is_self_signed_with_sdp_fingerprint(key_type, key_class, tmp_path: Path) -> None:
    ident = make_identity("alice", key_type)
    assert isinstance(ident.key, key_class)
    assert ident.cert.issuer == ident.cert.subject
    assert FINGERPRINT.match(ident.fingerprint)
    assert ident.fingerprint.replace(":", "").lower() == hashlib.sha256(ident.cert_der).hexdigest()
    cert_path, key_path = ident.write(tmp_path, "alice")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key_path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert cert_path.read_bytes() == ident.cert_pem


# ------------------------------------------------------------------ pyOpenSSL, in memory


def test_pyopenssl_pair_cookie_exchange_flights() -> None:
    client = DtlsEndpoint(EndpointConfig("client", keylog=True))
    server = DtlsEndpoint(EndpointConfig("server", cookie_exchange=True))
    with client, server:
        r = pump_pair(client, server)
        # flight 1 CH, 2 HVR, 3 CH+cookie, 4 SH..SHD, 5 Cert..Finished, 6 NST+CCS+Finished
        assert [handshake_types(d) for d in r.client_to_server[:2]] == [[1], [1]]
        assert handshake_types(r.server_to_client[0]) == [HELLO_VERIFY_REQUEST]
        assert handshake_types(r.server_to_client[1]) == [2, 11, 12, 13, 14]
        assert handshake_types(r.client_to_server[2]) == [11, 16, 15]
        assert content_types(r.client_to_server[2])[-2:] == [(CT_CHANGE_CIPHER_SPEC, 0),
                                                             (CT_HANDSHAKE, 1)]
        assert client.handshake_done and server.handshake_done
        assert client.srtp_profile == server.srtp_profile == "SRTP_AES128_CM_SHA1_80"
        assert client.peer_fingerprint == server.fingerprint
        assert server.peer_fingerprint == client.fingerprint
        assert client.srtp_keying_material() == server.srtp_keying_material()
        random = fragments([r.client_to_server[0]])[0].body[2:34].hex()
        assert client.keylog_lines[0].split()[:2] == [b"CLIENT_RANDOM", random.encode()]

        client.send_app_data(b"hello")
        for d in client.datagrams_to_send():
            server.receive(d)
        assert server.received_app_data == [b"hello"]
        client.shutdown()
        for d in client.datagrams_to_send():
            server.receive(d)
        assert server.peer_closed
        assert [str(a) for a in server.alerts] == ["received warning close_notify(0)"]


def test_pyopenssl_small_mtu_fragments_every_flight() -> None:
    client = DtlsEndpoint(EndpointConfig("client", mtu=300))
    server = DtlsEndpoint(EndpointConfig("server", mtu=300))
    with client, server:
        r = pump_pair(client, server)
        assert client.handshake_done and server.handshake_done
        sent = r.client_to_server + r.server_to_client
        assert max(len(d) for d in sent) <= 300
        certs = [f for f in fragments(r.server_to_client) if f.msg_type == CERTIFICATE]
        assert len(certs) > 1 and not certs[0].whole


def test_corrupt_certificate_verify_gets_fatal_decrypt_error_on_the_wire() -> None:
    client = DtlsEndpoint(EndpointConfig("client"))
    server = DtlsEndpoint(EndpointConfig("server"))

    def corrupt_signature(direction: str, _i: int, d: bytes) -> bytes:
        return flip_last_byte_of(CERTIFICATE_VERIFY, d) if direction == "c2s" else d

    with client, server:
        r = pump_pair(client, server, transform=corrupt_signature)
        # the server's answer to flight 5 is one plaintext fatal alert: decrypt_error (51)
        last = r.server_to_client[-1]
        assert content_types(last) == [(CT_ALERT, 0)]
        assert last[13:15] == bytes([2, 51])
        assert server.failed and "bad signature" in (server.error or "")
        assert str(server.alert) == "sent fatal decrypt_error(51)"
        assert client.failed and "decrypt error" in (client.error or "")
        assert str(client.alert) == "received fatal decrypt_error(51)"


def test_corrupt_finished_is_dropped_silently_and_client_retransmits() -> None:
    client = DtlsEndpoint(EndpointConfig("client"))
    server = DtlsEndpoint(EndpointConfig("server"))

    def corrupt_encrypted(direction: str, _i: int, d: bytes) -> bytes:
        if direction == "c2s" and (CT_HANDSHAKE, 1) in content_types(d):
            return d[:-1] + bytes([d[-1] ^ 0x01])  # last byte of the Finished's GCM tag
        return d

    with client, server:
        r = pump_pair(client, server, transform=corrupt_encrypted)
        n_s2c = len(r.server_to_client)
        assert not server.handshake_done and not server.failed and server.alerts == []
        assert not client.handshake_done and not client.failed
        wait = client.get_timeout()
        assert wait is not None  # the client's retransmission timer runs (1 s first)
        time.sleep(wait + 0.05)
        assert client.handle_timeout()
        again = client.datagrams_to_send()
        assert [t for d in again for t in handshake_types(d)] == [11, 16, 15]
        assert [ct for d in again for ct in content_types(d)][-2:] == [
            (CT_CHANGE_CIPHER_SPEC, 0), (CT_HANDSHAKE, 1)]
        for d in again:  # delivered intact this time: the server completes
            server.receive(d)
        assert server.handshake_done
        assert len(server.datagrams_to_send()) > 0 and n_s2c == 1


def test_fingerprint_mismatch_fails_the_handshake() -> None:
    client = DtlsEndpoint(EndpointConfig("client", expected_fingerprint="00:" * 31 + "00"))
    server = DtlsEndpoint(EndpointConfig("server"))
    with client, server:
        pump_pair(client, server)
        assert client.failed and not client.handshake_done
        assert client.alert is not None and client.alert.direction == "sent"
        assert client.alert.fatal
        assert server.alert is not None and server.alert.direction == "received"


def test_cipher_list_is_honoured() -> None:
    ident = make_identity("rsa-server", "rsa2048")
    client = DtlsEndpoint(EndpointConfig("client", cipher_list="ECDHE-RSA-AES128-SHA"))
    server = DtlsEndpoint(EndpointConfig("server", identity=ident))
    with client, server:
        pump_pair(client, server)
        assert client.cipher == server.cipher == "ECDHE-RSA-AES128-SHA"


def test_ed25519_client_certificate_is_accepted() -> None:
    client = DtlsEndpoint(EndpointConfig("client", identity=make_identity("c", "ed25519")))
    server = DtlsEndpoint(EndpointConfig("server"))
    with client, server:
        pump_pair(client, server)
        assert client.handshake_done and server.handshake_done
        assert server.peer_fingerprint == client.fingerprint


# ------------------------------------------------------------------ pyOpenSSL over UDP


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_udp_pair_on_loopback(host: str) -> None:
    if host == "::1" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    client = DtlsEndpoint(EndpointConfig("client"))
    server = DtlsEndpoint(EndpointConfig("server", cookie_exchange=True))
    cres, sres = asyncio.run(run_udp_pair(client, server, host=host, timeout=10))
    assert cres.ok and sres.ok, (cres.error, sres.error)
    assert cres.received_app_data == [b"pong"] and sres.received_app_data == [b"ping"]
    assert cres.remote_addr == sres.local_addr and sres.remote_addr == cres.local_addr
    assert is_client_hello(cres.datagrams[0][2]) and cres.datagrams[0][1] == "out"
    assert handshake_types(sres.datagrams[1][2]) == [HELLO_VERIFY_REQUEST]


def test_udp_client_without_server_times_out_with_retransmissions() -> None:
    async def scenario() -> tuple[object, int]:
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        try:
            peer = await UdpPeer.bind(DtlsEndpoint(EndpointConfig("client")))
            try:
                res = await peer.run(silent.getsockname(), timeout=1.5)
            finally:
                peer.close()
            got = 0
            silent.setblocking(False)
            while True:
                try:
                    silent.recv(65535)
                    got += 1
                except BlockingIOError:
                    return res, got
        finally:
            silent.close()

    res, got = asyncio.run(scenario())
    assert not res.ok and "timed out" in (res.error or "")  # type: ignore[attr-defined]
    assert res.retransmission_timeouts >= 1  # type: ignore[attr-defined]
    assert got >= 2  # the first ClientHello and at least one retransmitted copy


def test_udp_server_alert_reaches_the_client_before_the_server_gives_up(tmp_path: Path) -> None:
    def corrupt_signature(direction: str, d: bytes) -> bytes:
        return flip_last_byte_of(CERTIFICATE_VERIFY, d) if direction == "c2s" else d

    cap = capture_pyopenssl_pair(tmp_path, "corrupt_cv", transform=corrupt_signature,
                                 timeout=5)
    assert cap.client_result is not None and cap.server_result is not None
    assert not cap.server_result.ok and "bad signature" in (cap.server_result.error or "")
    assert str(cap.server_result.alert) == "sent fatal decrypt_error(51)"
    assert str(cap.client_result.alert) == "received fatal decrypt_error(51)"
    assert cap.payloads[-1][13:15] == bytes([2, 51])  # the last datagram on the wire


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_recorded_pcap_reads_back(host: str, tmp_path: Path) -> None:
    cap = capture_pyopenssl_pair(tmp_path, f"pair_{host}", host=host)
    assert cap.client_result is not None and cap.client_result.ok
    assert cap.datagrams[0].src[0] == host
    assert read_pcap_payloads(cap.pcap) == cap.payloads
    assert is_client_hello(cap.payloads[0])


# ------------------------------------------------------------------ recorded captures


@pytest.mark.peers
def test_capture_openssl_ecdsa_mutual_srtp_with_cookie(
        openssl_ecdsa_capture: PeerCapture) -> None:
    cap = openssl_ecdsa_capture
    assert "CIPHER is ECDHE-ECDSA-" in cap.server_output
    assert "SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80" in cap.server_output
    assert "SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80" in cap.client_output
    assert "Client certificate" in cap.server_output  # mutual authentication happened
    assert CLIENT_LINE.decode() in cap.server_output
    assert SERVER_LINE.decode() in cap.client_output
    p = cap.payloads
    assert is_client_hello(p[0])
    assert handshake_types(p[1]) == [HELLO_VERIFY_REQUEST]  # s_server's default cookie
    assert handshake_types(p[2]) == [CLIENT_HELLO]
    c2s = [d.data for d in cap.datagrams if d.direction == "c2s"]
    assert CERTIFICATE_VERIFY in [t for d in c2s for t in handshake_types(d)]
    assert_keylog_for(cap)
    assert read_pcap_payloads(cap.pcap) == p


@pytest.mark.peers
def test_openssl_server_answers_corrupt_certificate_verify_with_decrypt_error(
        ecdsa_certs: tuple[CertFiles, CertFiles]) -> None:
    openssl = require_tool("openssl")
    server, client = ecdsa_certs

    def corrupt_signature(direction: str, d: bytes) -> bytes:
        return flip_last_byte_of(CERTIFICATE_VERIFY, d) if direction == "c2s" else d

    with OpenSslServer(openssl, server.cert, server.key) as srv:
        addr = srv.wait_ready()
        with record_udp_exchange(addr, transform=corrupt_signature) as rec, OpenSslClient(
                openssl, rec.listen_addr, client.cert, client.key) as cli:
            with pytest.raises(RuntimeError, match="alert decrypt error"):
                cli.wait_handshake()
            cli.wait(10)
        sent = rec.snapshot()
    assert "CIPHER is" not in srv.output
    assert content_types(sent[-1].data) == [(CT_ALERT, 0)]
    assert sent[-1].direction == "s2c" and sent[-1].data[13:15] == bytes([2, 51])


@pytest.mark.peers
def test_capture_openssl_rsa_cbc_fragmented(openssl_rsa_fragmented_capture: PeerCapture) -> None:
    cap = openssl_rsa_fragmented_capture
    assert "CIPHER is ECDHE-RSA-AES128-SHA" in cap.server_output
    assert SERVER_LINE.decode() in cap.client_output
    assert CLIENT_LINE.decode() in cap.server_output
    assert is_client_hello(cap.payloads[0])
    assert max(len(d) for d in cap.payloads) <= 300 - 28  # -mtu is the link MTU
    for direction in ("s2c", "c2s"):
        sent = [d.data for d in cap.datagrams if d.direction == direction]
        certs = [f for f in fragments(sent) if f.msg_type == CERTIFICATE]
        assert len(certs) >= 3, f"{direction} Certificate not fragmented"
    assert_keylog_for(cap)


@pytest.mark.peers
def test_capture_gnutls_client_openssl_server(gnutls_openssl_capture: PeerCapture) -> None:
    cap = gnutls_openssl_capture
    assert "- Handshake was completed" in cap.client_output
    assert "SRTP profile: SRTP_AES128_CM_HMAC_SHA1_80" in cap.client_output
    assert "(DTLS1.2-X.509)" in cap.client_output
    assert "SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80" in cap.server_output
    assert CLIENT_LINE.decode() in cap.server_output
    assert SERVER_LINE.decode() in cap.client_output
    assert is_client_hello(cap.payloads[0])
    assert handshake_types(cap.payloads[1]) == [HELLO_VERIFY_REQUEST]
    assert_keylog_for(cap)


def test_capture_pyopenssl_pair(pyopenssl_pair_capture: PairCapture) -> None:
    cap = pyopenssl_pair_capture
    assert cap.client_result is not None and cap.server_result is not None
    assert cap.client_result.ok and cap.server_result.ok
    assert cap.server_result.received_app_data == [CLIENT_LINE]
    assert cap.client_result.received_app_data == [SERVER_LINE]
    assert cap.client_result.srtp_profile == "SRTP_AES128_CM_SHA1_80"
    assert is_client_hello(cap.payloads[0])
    assert handshake_types(cap.payloads[1]) == [HELLO_VERIFY_REQUEST]
    # the recorder saw exactly what the client sent and received, in order
    sent = [d for _, way, d in cap.client_result.datagrams if way == "out"]
    assert [d.data for d in cap.datagrams if d.direction == "c2s"] == sent
    assert_keylog_for(cap)


# ------------------------------------------------------------------ tshark


@pytest.mark.peers
def test_tshark_reads_the_pcap_and_decrypts_with_the_key_log(
        openssl_ecdsa_capture: PeerCapture) -> None:
    tshark = require_tool("tshark")
    cap = openssl_ecdsa_capture
    out = subprocess.run(
        [tshark, "-r", str(cap.pcap), "-o", f"tls.keylog_file:{cap.keylog}",
         "-T", "fields", "-e", "dtls.handshake.type", "-e", "dtls.app_data",
         "-e", "data.data", "-d", f"udp.port=={cap.datagrams[0].dst[1]},dtls"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout
    rows = out.splitlines()
    assert rows[0].split("\t")[0] == "1"  # frame 1: ClientHello
    assert rows[1].split("\t")[0] == "3"  # frame 2: HelloVerifyRequest
    assert CLIENT_LINE.hex() in out  # decrypted application data


@pytest.mark.peers
def test_tshark_live_capture_on_loopback(tmp_path: Path) -> None:
    tshark = require_tool("tshark")

    async def scenario() -> tuple[bool, bool]:
        server = await UdpPeer.bind(DtlsEndpoint(EndpointConfig("server")))
        client = await UdpPeer.bind(DtlsEndpoint(EndpointConfig("client")))
        try:
            with tshark_capture(tshark, tmp_path / "live.pcap", server.local_addr[1]):
                c, s = await asyncio.gather(client.run(server.local_addr), server.run())
            return c.ok, s.ok
        finally:
            client.close()
            server.close()

    assert asyncio.run(scenario()) == (True, True)
    payloads = read_pcap_payloads(tmp_path / "live.pcap")
    assert payloads and is_client_hello(payloads[0])
