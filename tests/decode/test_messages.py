"""Handshake message bodies: real handshakes in (shared captures, fresh pyOpenSSL
DTLS handshakes), decoded bodies out, cross-checked against tshark.

The capture helper below is a deliberately tiny record/handshake slicer for tests
(the product's own lives in proxy.decode.dtls.record / proxy.decode.dtls.handshake): 13-byte
DTLSPlaintext headers, 12-byte handshake headers, epoch 0 only, fragments joined
per (sender, message_seq). Other test modules import it from here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dpkt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from OpenSSL import SSL

from proxy.decode.dtls import registry as reg
from proxy.decode.dtls.messages import (
    HRR_RANDOM,
    Certificate,
    CertificateRequest,
    CertificateVerify,
    ClientHello,
    ClientKeyExchange,
    Finished,
    HelloRetryRequest,
    HelloVerifyRequest,
    NewSessionTicket,
    ParseContext,
    ServerHello,
    ServerHelloDone,
    ServerKeyExchange,
    UnknownBody,
    parse_body,
)
from proxy.decode.dtls.reader import DecodeError
from proxy.events import jsonable
from tests.conftest import CAPTURES, require_tool


@dataclass
class CapturedMessage:
    """One plaintext handshake message seen in a capture."""

    frame: int
    src: tuple[str, int]
    record_version: int
    msg_type: int
    message_seq: int
    body: bytes
    fragments: int


def udp_payloads(path: Path) -> list[tuple[int, tuple[str, int], bytes]]:
    with path.open("rb") as fh:
        magic = fh.read(4)
        fh.seek(0)
        reader: Any = (
            dpkt.pcapng.Reader(fh) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(fh)
        )
        out = []
        link = reader.datalink()
        for frame, (_ts, buf) in enumerate(reader, start=1):
            ip = dpkt.sll.SLL(buf).data if link == 113 else dpkt.ethernet.Ethernet(buf).data
            if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) or not isinstance(
                ip.data, dpkt.udp.UDP
            ):
                continue
            src = ip.src
            host = socket.inet_ntop(socket.AF_INET6 if len(src) == 16 else socket.AF_INET, src)
            out.append((frame, (host, ip.data.sport), bytes(ip.data.data)))
        return out


def handshake_messages(
    datagrams: list[tuple[int, tuple[str, int], bytes]],
) -> list[CapturedMessage]:
    """Every complete epoch-0 handshake message, in order of completion (copies dropped)."""
    out: list[CapturedMessage] = []
    pending: dict[tuple[tuple[str, int], int, int], tuple[bytearray, set[int], int, int]] = {}
    done: set[tuple[tuple[str, int], int, int, bytes]] = set()
    for frame, src, data in datagrams:
        if not data or not 20 <= data[0] <= 63:
            continue
        pos = 0
        while pos + 13 <= len(data):
            ctype = data[pos]
            if ctype & 0xE0 == 0x20:  # DTLS 1.3 unified header: stop
                break
            version = int.from_bytes(data[pos + 1 : pos + 3], "big")
            epoch = int.from_bytes(data[pos + 3 : pos + 5], "big")
            length = int.from_bytes(data[pos + 11 : pos + 13], "big")
            frag = data[pos + 13 : pos + 13 + length]
            pos += 13 + length
            if ctype != 22 or epoch != 0:
                continue
            hp = 0
            while hp + 12 <= len(frag):
                mtype = frag[hp]
                mlen = int.from_bytes(frag[hp + 1 : hp + 4], "big")
                seq = int.from_bytes(frag[hp + 4 : hp + 6], "big")
                foff = int.from_bytes(frag[hp + 6 : hp + 9], "big")
                flen = int.from_bytes(frag[hp + 9 : hp + 12], "big")
                piece = frag[hp + 12 : hp + 12 + flen]
                hp += 12 + flen
                key = (src, seq, mtype)
                buf, have, _n, _v = pending.setdefault(key, (bytearray(mlen), set(), 0, version))
                buf[foff : foff + flen] = piece
                have.update(range(foff, foff + flen))
                n = pending[key][2] + 1
                pending[key] = (buf, have, n, version)
                if len(have) == mlen:
                    ident = (src, seq, mtype, bytes(buf))
                    del pending[key]
                    if ident in done:  # retransmission
                        continue
                    done.add(ident)
                    out.append(CapturedMessage(frame, src, version, mtype, seq, bytes(buf), n))
    return out


@functools.cache
def capture_messages(name: str) -> tuple[CapturedMessage, ...]:
    """The handshake messages of ``../shared/captures/<name>``."""
    return tuple(handshake_messages(udp_payloads(CAPTURES / name)))


def parse_session(msgs: tuple[CapturedMessage, ...]) -> list[tuple[CapturedMessage, Any]]:
    """Parse bodies in order, with the context a session layer would keep (from ServerHello)."""
    ctx = ParseContext()
    out = []
    for m in msgs:
        body = parse_body(m.msg_type, m.body, ctx)
        if isinstance(body, ServerHello) and not body.is_hello_retry_request:
            v = body.selected_version()
            ctx = ParseContext(body.server_version, body.cipher_suite, v == 0xFEFC)
        out.append((m, body))
    return out


def bodies(name: str) -> list[Any]:
    return [b for _m, b in parse_session(capture_messages(name))]


def names(name: str) -> list[str]:
    return [b.NAME for b in bodies(name)]


CHROME = "capture-chrome-Chromium_123.0.6312.0_.pcap"
FIREFOX = "capture-firefox-Mozilla_Firefox_125.0.pcap"
WOLFSSL13 = "dtls13-wolfssl.pcap"
OPENSSL12 = "dtls1_2.pcap"
FRAGMENTS = "dtls_certificate_fragments.pcap"
WEBRTC10 = "webrtc-stun.pcap"
PSK_CCM8 = "dtls12-aes128ccm8-dsb.pcapng"
STUN_RTP = "stun_dtls_rtp.pcapng"
ALL_CAPTURES = (CHROME, FIREFOX, WOLFSSL13, OPENSSL12, FRAGMENTS, WEBRTC10, PSK_CCM8, STUN_RTP)


# ------------------------------------------------------------ shared captures


def test_chromium_handshake_decodes_every_message(captures_dir: Path) -> None:
    assert names(CHROME) == [
        "ClientHello",
        "ServerHello",
        "Certificate",
        "ServerKeyExchange",
        "CertificateRequest",
        "ServerHelloDone",
        "Certificate",
        "ClientKeyExchange",
        "CertificateVerify",
        "NewSessionTicket",
    ]
    ch, sh, cert, ske, cr, shd, _ccert, cke, cv, nst = bodies(CHROME)
    assert isinstance(ch, ClientHello)
    assert ch.client_version == 0xFEFD
    assert ch.cipher_suites == (
        0xC02B, 0xC02F, 0xCCA9, 0xCCA8, 0xC009, 0xC013, 0xC00A, 0xC014, 0x009C, 0x002F, 0x0035,
    )  # fmt: skip
    assert ch.compression_methods == (0,)
    assert ch.cookie == b""
    assert ch.offered_versions() == (0xFEFD,)
    srtp = ch.extension("use_srtp")
    assert srtp is not None and srtp.value.profiles == (0x0001, 0x0008, 0x0007)
    assert isinstance(sh, ServerHello) and not sh.is_hello_retry_request
    assert sh.cipher_suite == 0xC02B
    assert sh.extension(23) is not None  # extended_master_secret
    assert isinstance(cert, Certificate) and cert.end_entity is not None
    assert cert.end_entity.summary is not None
    assert cert.end_entity.summary.subject == "CN=WebRTC"
    assert isinstance(ske, ServerKeyExchange)
    assert (ske.kind, ske.curve_type, ske.named_curve) == ("ecdhe", 3, 29)  # x25519
    assert ske.point is not None and len(ske.point) == 32
    assert ske.params_raw == bytes([3, 0, 29, 32]) + ske.point
    assert ske.signature_algorithm == 0x0403
    assert ske.signature is not None and ske.signature[0] == 0x30  # DER ECDSA
    assert ske.signed_data(ch.random, sh.random) == ch.random + sh.random + ske.params_raw
    assert isinstance(cr, CertificateRequest)
    assert cr.certificate_types == (1, 64)
    assert cr.signature_algorithms is not None and cr.signature_algorithms[0] == 0x0403
    assert cr.certificate_authorities == ()
    assert isinstance(shd, ServerHelloDone)
    assert isinstance(cke, ClientKeyExchange) and cke.kind == "ecdhe"
    assert cke.point is not None and len(cke.point) == 32
    assert isinstance(cv, CertificateVerify) and cv.signature_algorithm == 0x0403
    assert isinstance(nst, NewSessionTicket) and len(nst.ticket) > 0


def test_firefox_offers_alpn_and_record_size_limit(captures_dir: Path) -> None:
    ch, sh = bodies(FIREFOX)[:2]
    alpn = ch.extension("application_layer_protocol_negotiation")
    assert alpn.value.protocols == (b"webrtc", b"c-webrtc")
    assert ch.extension("record_size_limit").value == 16384
    assert sh.extension(16).value.protocols == (b"webrtc",)
    assert sh.extension("use_srtp").value.profiles == (0x0007,)


def test_hello_verify_request_and_cookie_echo(captures_dir: Path) -> None:
    ch1, hvr, ch2 = bodies(OPENSSL12)[:3]
    assert isinstance(hvr, HelloVerifyRequest)
    assert hvr.server_version == 0xFEFF  # OpenSSL answers HVR with DTLS 1.0 (RFC 6347 §4.2.1)
    assert len(hvr.cookie) == 20
    assert ch1.cookie == b"" and ch2.cookie == hvr.cookie
    assert ch1.cipher_suites == ch2.cipher_suites and ch1.random == ch2.random


def test_fragmented_certificate_chain_reassembled(captures_dir: Path) -> None:
    msgs = capture_messages(FRAGMENTS)
    cert_msg = next(m for m in msgs if m.msg_type == 11)
    assert cert_msg.fragments == 2
    cert = parse_body(11, cert_msg.body, ParseContext(0xFEFF, 0x0035))
    assert isinstance(cert, Certificate)
    assert cert.entries[0].summary is not None
    assert cert.entries[0].summary.subject.startswith("CN=*.opera-mini.net,")
    assert sum(3 + len(e.der) for e in cert.entries) + 3 == len(cert_msg.body)


def test_dtls10_bodies_have_no_signature_algorithm(captures_dir: Path) -> None:
    by_name = {b.NAME: b for b in bodies(WEBRTC10)}
    ske = by_name["ServerKeyExchange"]
    assert ske.kind == "ecdhe" and ske.signature_algorithm is None and ske.signature
    assert by_name["CertificateVerify"].signature_algorithm is None
    assert by_name["CertificateRequest"].signature_algorithms is None
    # the same bodies without any context: told apart by their lengths
    for m in capture_messages(WEBRTC10):
        if m.msg_type in (12, 15):
            assert parse_body(m.msg_type, m.body).signature_algorithm is None  # type: ignore[union-attr]
    for m in capture_messages(CHROME):
        if m.msg_type in (12, 15):
            assert parse_body(m.msg_type, m.body).signature_algorithm == 0x0403  # type: ignore[union-attr]


def test_dtls13_hello_retry_request(captures_dir: Path) -> None:
    ch1, hrr, ch2, sh = bodies(WOLFSSL13)
    assert isinstance(hrr, HelloRetryRequest) and hrr.is_hello_retry_request
    assert hrr.NAME == "HelloRetryRequest" and hrr.random == HRR_RANDOM
    assert hrr.selected_version() == 0xFEFC
    assert hrr.extension("cookie") is not None
    assert ch1.offered_versions()[0] == 0xFEFC
    assert ch2.extension("cookie").value == hrr.extension("cookie").value
    shares = ch2.extension("key_share").value
    assert [s.group for s in shares] == [23]
    assert isinstance(sh, ServerHello) and not sh.is_hello_retry_request
    assert sh.selected_version() == 0xFEFC and sh.server_version == 0xFEFD
    assert sh.extension("key_share").value.group == 23
    assert sh.cipher_suite == 0x1301


def test_psk_client_key_exchange_needs_the_suite(captures_dir: Path) -> None:
    cke = next(m for m in capture_messages(PSK_CCM8) if m.msg_type == 16)
    body = parse_body(16, cke.body, ParseContext(0xFEFD, 0xC0A8))
    assert isinstance(body, ClientKeyExchange) and body.kind == "psk"
    assert body.psk_identity is not None and len(body.psk_identity) + 2 == len(cke.body)
    raw = parse_body(16, cke.body)  # suite unknown: kept raw, never guessed
    assert isinstance(raw, ClientKeyExchange) and raw.kind == "raw" and raw.raw == cke.body


def test_rsa_client_key_exchange(captures_dir: Path) -> None:
    cke = next(m for m in capture_messages(FRAGMENTS) if m.msg_type == 16)
    body = parse_body(16, cke.body, ParseContext(0xFEFF, 0x0035))
    assert body.kind == "rsa"  # type: ignore[union-attr]
    assert len(body.encrypted_pre_master_secret) == 256  # type: ignore[union-attr,arg-type]


def test_spans_point_at_the_fields(captures_dir: Path) -> None:
    m = capture_messages(CHROME)[0]
    ch = parse_body(1, m.body, base=12)
    assert isinstance(ch, ClientHello)
    full = bytes(12) + m.body
    start, end = ch.spans["cipher_suites[0]"]
    assert full[start:end] == b"\xc0\x2b"
    start, end = ch.spans["random"]
    assert full[start:end] == ch.random
    ext = ch.extension("use_srtp")
    assert ext is not None and full[ext.offset : ext.end][:2] == b"\x00\x0e"
    assert ch.spans["extensions"][1] == len(full)


def test_json_leaves_spans_out_and_shows_certificates(captures_dir: Path) -> None:
    cert = bodies(CHROME)[2]
    j = jsonable(cert)
    assert "spans" not in j
    entry = j["entries"][0]
    assert entry["summary"]["subject"] == "CN=WebRTC"
    assert bytes.fromhex(entry["der"]) == cert.entries[0].der
    ch = jsonable(bodies(FIREFOX)[0])
    alpn = next(e for e in ch["extensions"] if e["type"] == 16)
    assert alpn["value"] == ["webrtc", "c-webrtc"]


def test_unknown_and_empty_bodies() -> None:
    u = parse_body(99, b"\x01\x02")
    assert isinstance(u, UnknownBody) and u.raw == b"\x01\x02" and u.type_name == "unknown (99)"
    assert isinstance(parse_body(14, b""), ServerHelloDone)
    with pytest.raises(DecodeError):
        parse_body(14, b"\x00")
    fin = parse_body(20, bytes(range(12)))
    assert isinstance(fin, Finished) and fin.verify_data == bytes(range(12))


def test_truncated_client_hello_reports_offset(captures_dir: Path) -> None:
    body = capture_messages(CHROME)[0].body
    with pytest.raises(DecodeError) as e:
        parse_body(1, body[:40], base=12)
    assert 12 <= e.value.offset <= 52 and "cipher_suites" in e.value.reason


# ------------------------------------------------------------ tshark cross-check


def _tshark_fields(path: Path, *fields: str) -> dict[int, list[str]]:
    tshark = require_tool("tshark")
    args = [tshark, "-r", str(path), "-Y", "dtls", "-T", "fields", "-e", "frame.number"]
    for f in fields:
        args += ["-e", f]
    out = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout
    rows: dict[int, list[str]] = {}
    for line in out.splitlines():
        cols = line.split("\t")
        rows[int(cols[0])] = cols[1:]
    return rows


def _ints(col: str) -> list[int]:
    return [int(x, 0) for x in col.split(",") if x]


@pytest.mark.peers
@pytest.mark.parametrize("name", ALL_CAPTURES)
def test_suites_extensions_and_fingerprints_match_tshark(captures_dir: Path, name: str) -> None:
    rows = _tshark_fields(
        captures_dir / name,
        "dtls.handshake.ciphersuite",
        "dtls.handshake.extension.type",
        "dtls.handshake.certificate",
    )
    ours: dict[int, tuple[list[int], list[int], list[str]]] = {}
    for m, body in parse_session(capture_messages(name)):
        suites, types, fps = ours.setdefault(m.frame, ([], [], []))
        if isinstance(body, ClientHello):
            suites += body.cipher_suites
        if isinstance(body, ServerHello):
            suites.append(body.cipher_suite)
        types += [e.type for e in getattr(body, "extensions", ())]
        if isinstance(body, Certificate):
            fps += [e.summary.fingerprint_sha256 for e in body.entries if e.summary]
    assert ours, "no handshake messages found"
    checked = 0
    for frame, (suites, types, fps) in ours.items():
        ts_suites, ts_types, ts_certs = rows[frame]
        assert suites == _ints(ts_suites), f"frame {frame}"
        assert types == _ints(ts_types), f"frame {frame}"
        ts_fps = [
            ":".join(f"{b:02X}" for b in hashlib.sha256(bytes.fromhex(c)).digest())
            for c in ts_certs.split(",")
            if c
        ]
        assert fps == ts_fps, f"frame {frame}"
        checked += 1
    assert checked == len(ours)


# ----------------------------------------------------- fresh pyOpenSSL handshakes


def _self_signed(key: Any, cn: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(0x1234)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def _context(key: Any, cn: str, srtp: bytes | None, mutual: bool, ciphers: bytes) -> Any:
    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.use_certificate(_self_signed(key, cn))
    ctx.use_privatekey(key)
    ctx.set_cipher_list(ciphers)
    if srtp:
        ctx.set_tlsext_use_srtp(srtp)
    if mutual:
        ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *_a: True)
    return ctx


@dataclass(frozen=True)
class Handshake:
    """A complete in-process DTLS handshake: the datagrams and the peers' own view."""

    datagrams: tuple[tuple[int, tuple[str, int], bytes], ...]
    cipher: str
    srtp: bytes
    client_cert_der: bytes
    server_cert_der: bytes

    def messages(self) -> list[tuple[CapturedMessage, Any]]:
        return parse_session(tuple(handshake_messages(list(self.datagrams))))


def _run_handshake(client_ctx: Any, server_ctx: Any) -> Handshake:
    client = SSL.Connection(client_ctx)
    client.set_connect_state()
    server = SSL.Connection(server_ctx)
    server.set_accept_state()
    wire: list[tuple[int, tuple[str, int], bytes]] = []
    ends = {"client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 5001)}
    for _ in range(20):
        for side, me, peer in (("client", client, server), ("server", server, client)):
            with contextlib.suppress(SSL.WantReadError):
                me.do_handshake()
            while True:
                try:
                    data = me.bio_read(65536)
                except SSL.WantReadError:
                    break
                wire.append((len(wire) + 1, ends[side], data))
                peer.bio_write(data)
        try:
            client.do_handshake()
            server.do_handshake()
            break
        except SSL.WantReadError:
            continue
    client_cert = server.get_peer_certificate()
    server_cert = client.get_peer_certificate()
    return Handshake(
        tuple(wire),
        client.get_cipher_name() or "",
        client.get_selected_srtp_profile(),
        client_cert.to_cryptography().public_bytes(_DER) if client_cert else b"",
        server_cert.to_cryptography().public_bytes(_DER) if server_cert else b"",
    )


_DER = Encoding.DER


@functools.cache
def ecdsa_srtp_handshake() -> Handshake:
    """ECDSA P-256 both sides, mutual auth, use_srtp: the WebRTC shape."""
    ck, sk = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ciphers = b"ECDHE-ECDSA-AES128-GCM-SHA256"
    return _run_handshake(
        _context(ck, "client", b"SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM", True, ciphers),
        _context(sk, "server", b"SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80", True, ciphers),
    )


@functools.cache
def rsa_handshake() -> Handshake:
    """RSA certificates, ECDHE_RSA with AES-256-CBC (server auth only)."""
    ck = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ciphers = b"ECDHE-RSA-AES256-SHA"
    return _run_handshake(
        _context(ck, "rsa-client", None, False, ciphers),
        _context(sk, "rsa-server", None, False, ciphers),
    )


def test_pyopenssl_webrtc_shape_handshake() -> None:
    hs = ecdsa_srtp_handshake()
    assert hs.cipher == "ECDHE-ECDSA-AES128-GCM-SHA256" and hs.srtp == b"SRTP_AEAD_AES_128_GCM"
    msgs = hs.messages()
    assert [b.NAME for _m, b in msgs] == [
        "ClientHello",
        "ServerHello",
        "Certificate",
        "ServerKeyExchange",
        "CertificateRequest",
        "ServerHelloDone",
        "Certificate",
        "ClientKeyExchange",
        "CertificateVerify",
        "NewSessionTicket",
    ]
    by = {(m.src[1], b.NAME): b for m, b in msgs}
    ch = by[(5000, "ClientHello")]
    assert ch.extension("use_srtp").value.profiles == (0x0001, 0x0007)
    sh = by[(5001, "ServerHello")]
    assert sh.cipher_suite == 0xC02B
    assert sh.extension("use_srtp").value.profiles == (0x0007,)
    assert reg.name(reg.SRTP_PROFILES, 0x0007) == "SRTP_AEAD_AES_128_GCM"
    ske = by[(5001, "ServerKeyExchange")]
    assert ske.named_curve in (23, 29) and ske.signature_algorithm == 0x0403
    assert by[(5000, "Certificate")].end_entity.der == hs.client_cert_der
    assert by[(5001, "Certificate")].end_entity.der == hs.server_cert_der
    summary = by[(5000, "Certificate")].end_entity.summary
    assert summary.subject == "CN=client" and summary.key_type == "EC"
    assert by[(5000, "CertificateVerify")].signature_algorithm == 0x0403
    assert by[(5000, "ClientKeyExchange")].kind == "ecdhe"


def test_pyopenssl_rsa_handshake() -> None:
    hs = rsa_handshake()
    assert hs.cipher == "ECDHE-RSA-AES256-SHA"
    by = {b.NAME: b for _m, b in hs.messages()}
    assert "CertificateRequest" not in by and "CertificateVerify" not in by
    assert by["ServerHello"].cipher_suite == 0xC014
    ske = by["ServerKeyExchange"]
    assert ske.kind == "ecdhe"
    assert reg.signature_scheme_name(ske.signature_algorithm).startswith("rsa_")
    assert len(ske.signature) == 256
    assert by["Certificate"].end_entity.summary.key_size == 2048


# ------------------------------------------------------------------- fuzzing


def _real_bodies() -> list[tuple[int, bytes, ParseContext]]:
    out = []
    for name in ALL_CAPTURES:
        if not (CAPTURES / name).exists():
            continue
        ctx = ParseContext()
        for m in capture_messages(name):
            out.append((m.msg_type, m.body, ctx))
            if m.msg_type == 2:
                sh = parse_body(2, m.body)
                if isinstance(sh, ServerHello):
                    ctx = ParseContext(
                        sh.server_version, sh.cipher_suite, sh.selected_version() == 0xFEFC
                    )
    return out


REAL = _real_bodies()
_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(msg_type=st.integers(0, 255), data=st.binary(max_size=300))
def test_random_bytes_raise_only_decode_error(msg_type: int, data: bytes) -> None:
    for ctx in (None, ParseContext(0xFEFD, 0xC02B), ParseContext(0xFEFF, 0xC0A8, False)):
        with contextlib.suppress(DecodeError):
            parse_body(msg_type, data, ctx)


@pytest.mark.skipif(not REAL, reason="shared captures not found")
@_FUZZ
@given(st.data())
def test_mutated_real_bodies_raise_only_decode_error(data: st.DataObject) -> None:
    msg_type, body, ctx = data.draw(st.sampled_from(REAL))
    cut = data.draw(st.integers(0, len(body)))
    flips = data.draw(
        st.lists(st.tuples(st.integers(0, max(len(body) - 1, 0)), st.integers(1, 255)), max_size=4)
    )
    mutated = bytearray(body[:cut] if data.draw(st.booleans()) else body)
    for pos, x in flips:
        if pos < len(mutated):
            mutated[pos] ^= x
    for c in (ctx, None):
        with contextlib.suppress(DecodeError):
            parse_body(msg_type, bytes(mutated), c)


def test_every_real_body_round_trips_through_json(captures_dir: Path) -> None:
    for msg_type, body, ctx in REAL:
        parsed = parse_body(msg_type, body, ctx)
        assert isinstance(jsonable(parsed), dict)


# ------------------------------------------------- DTLS 1.3 bodies (RFC 8446 §4)
# These travel encrypted, so no capture shows them in clear; the bytes are built
# field by field from the RFC layouts (with a real certificate from a capture).


def _v(n: int, data: bytes) -> bytes:
    return len(data).to_bytes(n, "big") + data


def _ext(t: int, data: bytes) -> bytes:
    return t.to_bytes(2, "big") + _v(2, data)


DTLS13 = ParseContext(0xFEFD, 0x1301, True)


def test_dtls13_encrypted_extensions() -> None:
    from proxy.decode.dtls.messages import EncryptedExtensions

    body = _v(
        2,
        _ext(10, _v(2, b"\x00\x1d\x00\x17"))
        + _ext(14, _v(2, b"\x00\x07") + b"\x00")
        + _ext(16, _v(2, _v(1, b"webrtc"))),
    )
    ee = parse_body(8, body, DTLS13)
    assert isinstance(ee, EncryptedExtensions)
    assert [e.type for e in ee.extensions] == [10, 14, 16]
    assert ee.extensions[1].value.profiles == (7,)


def test_dtls13_certificate_request_certificate_and_verify(captures_dir: Path) -> None:
    der = next(
        e.der for _m, b in parse_session(capture_messages(CHROME)) if isinstance(b, Certificate)
        for e in b.entries
    )  # fmt: skip
    body = _v(1, b"") + _v(3, _v(3, der) + _v(2, _ext(5, b"\x01\x02")))
    cert = parse_body(11, body, DTLS13)
    assert isinstance(cert, Certificate) and cert.certificate_request_context == b""
    entry = cert.entries[0]
    assert entry.der == der and entry.summary is not None
    assert entry.extensions[0].type == 5 and entry.extensions[0].error is not None  # cut OCSP
    cr = parse_body(13, _v(1, b"\x2a") + _v(2, _ext(13, _v(2, b"\x04\x03\x08\x07"))), DTLS13)
    assert isinstance(cr, CertificateRequest)
    assert cr.certificate_request_context == b"\x2a"
    assert cr.extensions[0].value == (0x0403, 0x0807) and cr.signature_algorithms is None
    cv = parse_body(15, b"\x08\x07" + _v(2, bytes(64)), DTLS13)
    assert isinstance(cv, CertificateVerify) and cv.signature_algorithm == 0x0807


def test_dtls13_new_session_ticket_and_key_update() -> None:
    from proxy.decode.dtls.messages import KeyUpdate

    body = (
        (7200).to_bytes(4, "big")
        + (0xDEADBEEF).to_bytes(4, "big")
        + _v(1, b"\x00")
        + _v(2, b"ticket")
        + _v(2, _ext(42, (1024).to_bytes(4, "big")))
    )
    nst = parse_body(4, body, DTLS13)
    assert isinstance(nst, NewSessionTicket)
    assert (nst.lifetime, nst.ticket_age_add, nst.ticket_nonce, nst.ticket) == (
        7200, 0xDEADBEEF, b"\x00", b"ticket",
    )  # fmt: skip
    assert nst.extensions[0].type == 42 and nst.extensions[0].value is None  # early_data: raw
    with pytest.raises(DecodeError):  # the same bytes are not a DTLS 1.2 ticket
        parse_body(4, body, ParseContext(0xFEFD, 0xC02B))
    ku = parse_body(24, b"\x01", DTLS13)
    assert isinstance(ku, KeyUpdate) and ku.request_update == 1


# ------------------------------------------------------- DHE and PSK variants

FFDHE2048 = Path(__file__).resolve().parents[1] / "data" / "messages" / "ffdhe2048.pem"
"""RFC 7919 ffdhe2048 (``openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048``)."""


@functools.cache
def dhe_rsa_handshake() -> Handshake:
    """DHE_RSA with AES-128-GCM (server auth only)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ciphers = b"DHE-RSA-AES128-GCM-SHA256"
    server = _context(key, "dhe-server", None, False, ciphers)
    server.load_tmp_dh(str(FFDHE2048).encode())
    client = SSL.Context(SSL.DTLS_METHOD)
    client.set_cipher_list(ciphers)
    return _run_handshake(client, server)


def test_pyopenssl_dhe_server_key_exchange() -> None:
    hs = dhe_rsa_handshake()
    assert hs.cipher == "DHE-RSA-AES128-GCM-SHA256"
    by = {b.NAME: b for _m, b in hs.messages()}
    ske = by["ServerKeyExchange"]
    assert isinstance(ske, ServerKeyExchange) and ske.kind == "dhe"
    assert ske.dh_p is not None and len(ske.dh_p) == 256 and ske.dh_p[:8] == b"\xff" * 8
    assert ske.dh_g == b"\x02"
    assert ske.dh_ys is not None and len(ske.dh_ys) <= 256
    assert ske.params_raw == _v(2, ske.dh_p) + _v(2, ske.dh_g) + _v(2, ske.dh_ys)
    assert ske.signature_algorithm is not None and ske.signature is not None
    cke = by["ClientKeyExchange"]
    assert isinstance(cke, ClientKeyExchange) and cke.kind == "dhe" and cke.dh_yc
    # the same SKE without a context is recognised as DHE by its shape
    raw = next(m.body for m, b in hs.messages() if b.NAME == "ServerKeyExchange")
    guessed = parse_body(12, raw)
    assert isinstance(guessed, ServerKeyExchange) and guessed.kind == "dhe"
    assert guessed.signature == ske.signature


def test_psk_key_exchange_variants() -> None:
    point = b"\x04" + bytes(range(64))
    hint = _v(2, b"hint")
    ecdhe_params = b"\x03\x00\x17" + _v(1, point)
    ske = parse_body(12, hint + ecdhe_params, ParseContext(0xFEFD, 0xC035))  # ECDHE_PSK
    assert isinstance(ske, ServerKeyExchange) and ske.kind == "ecdhe_psk"
    assert (ske.psk_identity_hint, ske.named_curve, ske.point) == (b"hint", 23, point)
    assert ske.params_raw == ecdhe_params and ske.signature is None
    cke = parse_body(16, _v(2, b"me") + _v(1, point), ParseContext(0xFEFD, 0xC035))
    assert isinstance(cke, ClientKeyExchange)
    assert (cke.kind, cke.psk_identity, cke.point) == ("ecdhe_psk", b"me", point)
    ske = parse_body(12, hint, ParseContext(0xFEFD, 0x00A8))  # PSK
    assert isinstance(ske, ServerKeyExchange) and ske.kind == "psk"
    dh = _v(2, b"\xff" * 32) + _v(2, b"\x02") + _v(2, b"\x07" * 32)
    ske = parse_body(12, hint + dh, ParseContext(0xFEFD, 0x00AA))  # DHE_PSK
    assert isinstance(ske, ServerKeyExchange) and ske.kind == "dhe_psk" and ske.dh_g == b"\x02"
    cke = parse_body(16, _v(2, b"me") + _v(2, b"\x07" * 32), ParseContext(0xFEFD, 0x00AA))
    assert isinstance(cke, ClientKeyExchange) and cke.kind == "dhe_psk"
    cke = parse_body(16, _v(2, b"me") + _v(2, bytes(48)), ParseContext(0xFEFD, 0x00AC))
    assert isinstance(cke, ClientKeyExchange) and cke.kind == "rsa_psk"
    assert cke.encrypted_pre_master_secret == bytes(48)


def test_unknown_key_exchange_stays_raw() -> None:
    ske = parse_body(12, b"\x01\x02\x03", ParseContext(0xFEFD, 0x1234))
    assert isinstance(ske, ServerKeyExchange) and ske.kind == "raw" and ske.raw == b"\x01\x02\x03"
    ske = parse_body(12, b"\x01\x02\x03")  # neither ECDHE nor DHE shape
    assert isinstance(ske, ServerKeyExchange) and ske.kind == "raw"


# ------------------------------------- params_raw is exactly what was signed


def _verify(cert_der: bytes, scheme: int | None, signature: bytes, data: bytes) -> None:
    from cryptography.hazmat.primitives.asymmetric import padding

    key: Any = x509.load_der_x509_certificate(cert_der).public_key()
    if scheme is None:  # DTLS 1.0: ECDSA with SHA-1 (RSA would be MD5+SHA1)
        key.verify(signature, data, ec.ECDSA(hashes.SHA1()))
        return
    h = {4: hashes.SHA256(), 5: hashes.SHA384(), 6: hashes.SHA512(), 2: hashes.SHA1()}
    if scheme >> 8 == 8:  # rsa_pss_rsae_*
        algo = {4: hashes.SHA256(), 5: hashes.SHA384(), 6: hashes.SHA512()}[scheme & 0xFF]
        key.verify(signature, data, padding.PSS(padding.MGF1(algo), algo.digest_size), algo)
    elif scheme & 0xFF == 3:
        key.verify(signature, data, ec.ECDSA(h[scheme >> 8]))
    else:
        key.verify(signature, data, padding.PKCS1v15(), h[scheme >> 8])


@pytest.mark.parametrize("name", [CHROME, FIREFOX, STUN_RTP, OPENSSL12, WEBRTC10, FRAGMENTS])
def test_server_key_exchange_signature_verifies(captures_dir: Path, name: str) -> None:
    found = bodies(name)
    at = next(i for i, b in enumerate(found) if isinstance(b, ServerKeyExchange))
    ske = found[at]
    # the session of that SKE starts at the last ServerHello before it
    server_hello = max(i for i, b in enumerate(found[:at]) if isinstance(b, ServerHello))
    ch = [b for b in found[:server_hello] if isinstance(b, ClientHello)][-1]
    sh = found[server_hello]
    cert = next(b for b in found[server_hello:] if isinstance(b, Certificate))
    assert ske.signature is not None and cert.end_entity is not None
    data = ske.signed_data(ch.random, sh.random)
    _verify(cert.end_entity.der, ske.signature_algorithm, ske.signature, data)
