"""The verification toolkit against real stacks.

Every handshake here was made by a real implementation (GnuTLS in the shared
capture, OpenSSL in-process through pyOpenSSL, the openssl CLI on loopback,
Chromium/Firefox/WebRTC captures). The test slices records and handshake
messages itself (all unfragmented), then decrypts every protected record,
recomputes both Finished, and checks CertificateVerify and ServerKeyExchange;
one flipped byte must make each check fail.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import select
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from OpenSSL import SSL

from proxy.capture.pcap import read_capture
from proxy.decode.dtls.crypto import (
    AuthenticationFailed,
    ConnectionKeys,
    SignatureCheck,
    cipher_params,
    decrypt_record,
    finished_verify_data,
    key_block,
    master_secret_from_premaster,
    prf,
    psk_premaster,
    transcript_hash,
    transcript_message,
    verify_certificate_verify,
    verify_server_key_exchange,
)
from proxy.decode.dtls.reader import DecodeError
from proxy.decode.keylog import KeyLog
from tests.conftest import require_tool

HANDSHAKE, CCS, ALERT, APPDATA = 22, 20, 21, 23
CLIENT_HELLO, SERVER_HELLO, HVR, CERTIFICATE, SKE = 1, 2, 3, 11, 12
CERTIFICATE_VERIFY, CKE, FINISHED = 15, 16, 20
OP_NO_ENCRYPT_THEN_MAC = 0x80000  # SSL_OP_NO_ENCRYPT_THEN_MAC (OpenSSL 3.x/4.x); not in pyOpenSSL

# ----------------------------------------------------------------- transcript slicing


@dataclass
class Rec:
    sender: str
    content_type: int
    version: int
    epoch: int
    sequence: int
    fragment: bytes


@dataclass
class Msg:
    sender: str
    msg_type: int
    message_seq: int
    body: bytes

    @property
    def wire(self) -> bytes:
        return transcript_message(self.msg_type, self.message_seq, self.body)


def split_records(sender: str, data: bytes) -> Iterator[Rec]:
    pos = 0
    while pos < len(data):
        ct, ver = data[pos], int.from_bytes(data[pos + 1 : pos + 3], "big")
        epoch = int.from_bytes(data[pos + 3 : pos + 5], "big")
        seq = int.from_bytes(data[pos + 5 : pos + 11], "big")
        n = int.from_bytes(data[pos + 11 : pos + 13], "big")
        yield Rec(sender, ct, ver, epoch, seq, data[pos + 13 : pos + 13 + n])
        pos += 13 + n


class Reassembly:
    """Handshake fragments in, whole messages out (per sender and message_seq;
    the first complete copy counts, later copies are ignored)."""

    def __init__(self) -> None:
        self.partial: dict[tuple[str, int], tuple[int, bytearray, set[int]]] = {}
        self.done: set[tuple[str, int]] = set()

    def feed(self, sender: str, payload: bytes) -> Iterator[Msg]:
        pos = 0
        while pos < len(payload):
            mt = payload[pos]
            length = int.from_bytes(payload[pos + 1 : pos + 4], "big")
            seq = int.from_bytes(payload[pos + 4 : pos + 6], "big")
            off = int.from_bytes(payload[pos + 6 : pos + 9], "big")
            n = int.from_bytes(payload[pos + 9 : pos + 12], "big")
            chunk = payload[pos + 12 : pos + 12 + n]
            pos += 12 + n
            key = (sender, seq)
            if key in self.done:
                continue
            _, buf, have = self.partial.setdefault(key, (mt, bytearray(length), set()))
            buf[off : off + n] = chunk
            have.update(range(off, off + n))
            if len(have) == length:
                self.done.add(key)
                del self.partial[key]
                yield Msg(sender, mt, seq, bytes(buf))


@dataclass
class Handshake:
    """A whole DTLS connection as seen on the wire, decrypted with ``keys``."""

    records: list[Rec]
    messages: list[Msg] = field(default_factory=list)
    """Transcript messages (first ClientHello and HelloVerifyRequest removed)."""
    plaintexts: list[tuple[Rec, bytes]] = field(default_factory=list)

    def first(self, msg_type: int, sender: str | None = None) -> Msg:
        return next(
            m for m in self.messages if m.msg_type == msg_type and sender in (None, m.sender)
        )

    def before(self, msg: Msg) -> list[bytes]:
        i = next(i for i, m in enumerate(self.messages) if m is msg)
        return [m.wire for m in self.messages[:i]]

    @property
    def client_random(self) -> bytes:
        return self.first(CLIENT_HELLO).body[2:34]

    @property
    def server_random(self) -> bytes:
        return self.first(SERVER_HELLO).body[2:34]

    @property
    def version(self) -> int:
        return int.from_bytes(self.first(SERVER_HELLO).body[:2], "big")

    @property
    def suite(self) -> int:
        b = self.first(SERVER_HELLO).body
        sid = b[34]
        return int.from_bytes(b[35 + sid : 37 + sid], "big")

    def server_extensions(self) -> set[int]:
        b = self.first(SERVER_HELLO).body
        pos = 35 + b[34] + 3
        out: set[int] = set()
        if pos >= len(b):
            return out
        end = pos + 2 + int.from_bytes(b[pos : pos + 2], "big")
        pos += 2
        while pos < end:
            out.add(int.from_bytes(b[pos : pos + 2], "big"))
            pos += 4 + int.from_bytes(b[pos + 2 : pos + 4], "big")
        return out

    def leaf_cert(self, sender: str) -> bytes:
        b = self.first(CERTIFICATE, sender).body
        n = int.from_bytes(b[3:6], "big")
        return b[6 : 6 + n]


def collect(datagrams: list[tuple[str, bytes]], keys: ConnectionKeys | None) -> Handshake:
    hs = Handshake([r for sender, d in datagrams for r in split_records(sender, d)])
    reassembly = Reassembly()
    for rec in hs.records:
        payload = rec.fragment
        if rec.epoch > 0 and keys is not None:
            payload = decrypt_record(
                keys,
                rec.sender,
                rec.content_type,
                rec.version,
                rec.epoch,
                rec.sequence,
                rec.fragment,
            )
            hs.plaintexts.append((rec, payload))
        if rec.content_type == HANDSHAKE and (rec.epoch == 0 or keys is not None):
            for m in reassembly.feed(rec.sender, payload):
                if m.msg_type == HVR:
                    hs.messages.clear()  # drop the first ClientHello
                    continue
                hs.messages.append(m)
    return hs


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# ----------------------------------------------------------------- checks shared by stacks


def check_finished(hs: Handshake, ms: bytes, prf_hash: str) -> None:
    for sender, label in (("client", "client finished"), ("server", "server finished")):
        fin = hs.first(FINISHED, sender)
        hh = transcript_hash(hs.before(fin), prf_hash)
        assert finished_verify_data(ms, label, hh, prf_hash) == fin.body, label
        assert finished_verify_data(flip(ms, 0), label, hh, prf_hash) != fin.body
        assert finished_verify_data(ms, label, flip(hh, 3), prf_hash) != fin.body


def check_every_record_fails_when_flipped(hs: Handshake, keys: ConnectionKeys) -> None:
    assert hs.plaintexts, "no encrypted record to check"
    for rec, _ in hs.plaintexts:
        for i in (0, len(rec.fragment) // 2, len(rec.fragment) - 1):
            with pytest.raises(AuthenticationFailed):
                decrypt_record(
                    keys,
                    rec.sender,
                    rec.content_type,
                    rec.version,
                    rec.epoch,
                    rec.sequence,
                    flip(rec.fragment, i),
                )
        with pytest.raises(AuthenticationFailed):  # the header is authenticated too
            decrypt_record(
                keys,
                rec.sender,
                rec.content_type,
                rec.version,
                rec.epoch,
                rec.sequence + 1,
                rec.fragment,
            )


def cv_parts(hs: Handshake) -> tuple[int | None, bytes]:
    b = hs.first(CERTIFICATE_VERIFY).body
    if hs.version == 0xFEFF:
        return None, b[2:]
    return int.from_bytes(b[:2], "big"), b[4:]


def ske_parts(hs: Handshake) -> tuple[bytes, int | None, bytes]:
    b = hs.first(SKE).body
    assert b[0] == 3, "named_curve ECDHE params expected"
    params_len = 4 + b[3]
    params, rest = b[:params_len], b[params_len:]
    if hs.version == 0xFEFF:
        return params, None, rest[2:]
    return params, int.from_bytes(rest[:2], "big"), rest[4:]


def check_signatures(hs: Handshake) -> tuple[SignatureCheck, SignatureCheck]:
    dtls10 = hs.version == 0xFEFF
    scheme, sig = cv_parts(hs)
    cert = hs.leaf_cert("client")
    cv_msg = hs.first(CERTIFICATE_VERIFY)
    data = b"".join(hs.before(cv_msg))
    cv = verify_certificate_verify(cert, scheme, sig, data, dtls10=dtls10)
    assert cv.passed, cv.reason
    bad = verify_certificate_verify(cert, scheme, flip(sig, len(sig) - 1), data, dtls10=dtls10)
    assert not bad.passed and "does not verify under the client certificate" in bad.reason
    bad = verify_certificate_verify(cert, scheme, sig, flip(data, 20), dtls10=dtls10)
    assert not bad.passed

    params, sscheme, ssig = ske_parts(hs)
    scert = hs.leaf_cert("server")
    cr, sr = hs.client_random, hs.server_random
    ske = verify_server_key_exchange(scert, sscheme, ssig, cr, sr, params, dtls10=dtls10)
    assert ske.passed, ske.reason
    assert not verify_server_key_exchange(
        scert, sscheme, ssig, cr, flip(sr, 0), params, dtls10=dtls10
    ).passed
    assert not verify_server_key_exchange(
        scert, sscheme, flip(ssig, 9), cr, sr, params, dtls10=dtls10
    ).passed
    return cv, ske


# ----------------------------------------------------------------- (a) GnuTLS PSK capture

PSK = bytes.fromhex("ca19e028a8a372ad2d325f950fcaceed")  # Wireshark test/suite_decryption.py


def capture_datagrams(path: Path) -> list[tuple[str, bytes]]:
    """DTLS datagrams of the first flow in a capture, named by role (first sender = client)."""
    with read_capture(path) as cap:
        dtls = [d for d in cap if 20 <= d.data[0] <= 63]
    client, server = dtls[0].src, dtls[0].dst
    return [
        ("client" if d.src == client else "server", d.data)
        for d in dtls
        if {d.src, d.dst} == {client, server}
    ]


@pytest.fixture(scope="module")
def gnutls_capture(captures_dir: Path) -> list[tuple[str, bytes]]:
    return capture_datagrams(captures_dir / "dtls12-aes128ccm8-dsb.pcapng")


def test_gnutls_psk_ccm8_capture(
    captures_dir: Path, gnutls_capture: list[tuple[str, bytes]]
) -> None:
    plain = collect(gnutls_capture, None)
    assert plain.suite == 0xC0A8
    params = cipher_params(plain.suite)
    assert params is not None and params.mode == "ccm8" and params.tag_length == 8
    log = KeyLog.load(captures_dir / "dtls12-aes128ccm8-dsb.keys.derived.txt")
    ms = log.master_secret(plain.client_random)
    assert ms is not None
    keys = key_block(ms, plain.client_random, plain.server_random, params)
    hs = collect(gnutls_capture, keys)
    # no extended master secret here (GnuTLS 3.5.8 PSK): the PSK alone reproduces the key log
    assert 0x0017 not in hs.server_extensions()
    cke = hs.first(CKE)
    session_hash = transcript_hash([*hs.before(cke), cke.wire], "sha256")
    pre = psk_premaster(PSK)
    assert master_secret_from_premaster(pre, hs.client_random, hs.server_random) == ms
    assert (
        master_secret_from_premaster(
            pre, hs.client_random, hs.server_random, ems_session_hash=session_hash
        )
        != ms
    )
    check_finished(hs, ms, "sha256")
    kinds = [(r.sender, r.content_type, len(p)) for r, p in hs.plaintexts]
    assert kinds[:2] == [("client", HANDSHAKE, 24), ("server", HANDSHAKE, 24)]
    assert [k[1] for k in kinds[2:]] == [APPDATA] * 4 + [ALERT]
    assert hs.plaintexts[-1][1] == b"\x01\x00"  # close_notify
    check_every_record_fails_when_flipped(hs, keys)


def test_structurally_impossible_record_is_decode_error(
    gnutls_capture: list[tuple[str, bytes]],
) -> None:
    plain = collect(gnutls_capture, None)
    params = cipher_params(plain.suite)
    assert params is not None
    keys = key_block(bytes(48), plain.client_random, plain.server_random, params)
    with pytest.raises(DecodeError, match="shorter than its 8-byte nonce and 8-byte tag"):
        decrypt_record(keys, "client->server", APPDATA, 0xFEFD, 1, 1, bytes(15))
    with pytest.raises(AuthenticationFailed, match="CCM8 tag does not verify"):
        decrypt_record(keys, "client->server", APPDATA, 0xFEFD, 1, 1, bytes(16))
    cbc = cipher_params(0xC013)  # TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA
    assert cbc is not None
    cbc_keys = key_block(bytes(48), plain.client_random, plain.server_random, cbc)
    with pytest.raises(DecodeError, match="not IV \\+ whole 16-byte blocks"):
        decrypt_record(cbc_keys, "server", APPDATA, 0xFEFD, 1, 1, bytes(40))
    with pytest.raises(AuthenticationFailed):
        decrypt_record(cbc_keys, "server", APPDATA, 0xFEFD, 1, 1, bytes(48))


# ----------------------------------------------------------------- browsers' captures, no secret

REAL = {
    # capture: (CertificateVerify algorithm and key, ServerKeyExchange algorithm and key)
    "capture-chrome-Chromium_123.0.6312.0_.pcap": (
        ("ecdsa_secp256r1_sha256", "EC P-256"),
        ("ecdsa_secp256r1_sha256", "EC P-256"),
    ),
    "capture-firefox-Mozilla_Firefox_125.0.pcap": (
        ("ecdsa_secp256r1_sha256", "EC P-256"),
        ("ecdsa_secp256r1_sha256", "EC P-256"),
    ),
    # DTLS 1.0 WebRTC: RSA client signs MD5||SHA1 raw, ECDSA server signs SHA-1
    "webrtc-stun.pcap": (("rsa_pkcs1_md5sha1", "RSA"), ("ecdsa_sha1", "EC P-256")),
    "stun_dtls_rtp.pcapng": (
        ("ecdsa_secp256r1_sha256", "EC P-256"),
        ("rsa_pss_rsae_sha256", "RSA"),
    ),
}


@pytest.mark.parametrize("capture", list(REAL))
def test_real_capture_signatures(captures_dir: Path, capture: str) -> None:
    hs = collect(capture_datagrams(captures_dir / capture), None)
    cv, ske = check_signatures(hs)
    assert ((cv.algorithm, cv.key_type), (ske.algorithm, ske.key_type)) == REAL[capture]


def test_real_capture_server_key_exchange_rsa(captures_dir: Path) -> None:
    hs = collect(capture_datagrams(captures_dir / "dtls1_2.pcap"), None)
    params, scheme, sig = ske_parts(hs)
    cert = hs.leaf_cert("server")
    ok = verify_server_key_exchange(cert, scheme, sig, hs.client_random, hs.server_random, params)
    assert ok.passed, ok.reason
    bad = verify_server_key_exchange(
        cert, scheme, sig, hs.client_random, hs.server_random, flip(params, 5)
    )
    assert not bad.passed
    assert bad.reason == (
        f"RSA signature does not verify under the server certificate's RSA {ok.key_bits}-bit key"
    )


# ----------------------------------------------------------------- PRF vs openssl kdf


@pytest.mark.parametrize(
    "digest,name", [("SHA256", "sha256"), ("SHA384", "sha384"), ("MD5-SHA1", "md5sha1")]
)
def test_prf_matches_openssl_kdf(digest: str, name: str) -> None:
    openssl = require_tool("openssl")
    secret, seed = bytes(range(47)), bytes(range(100, 164))  # odd length: md5sha1 halves overlap
    out = subprocess.run(
        [
            openssl,
            "kdf",
            "-keylen",
            "100",
            "-kdfopt",
            f"digest:{digest}",
            "-kdfopt",
            f"hexsecret:{secret.hex()}",
            "-kdfopt",
            f"hexseed:{b'test label'.hex()}{seed.hex()}",
            "TLS1-PRF",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert prf(secret, "test label", seed, 100, name) == bytes.fromhex(out.replace(":", ""))


# ----------------------------------------------------------------- (b) pyOpenSSL in-process


def make_cert(key: Any, cn: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
    )
    algo = (
        None
        if isinstance(key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey)
        else hashes.SHA256()
    )
    return builder.sign(key, algo)


@dataclass(frozen=True)
class Identity:
    key: Any
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="session")
def identities() -> dict[str, Identity]:
    keys = {
        "p256": ec.generate_private_key(ec.SECP256R1()),
        "p384": ec.generate_private_key(ec.SECP384R1()),
        "rsa2048": rsa.generate_private_key(65537, 2048),
        "ed25519": ed25519.Ed25519PrivateKey.generate(),
    }
    return {n: Identity(k, make_cert(k, n)) for n, k in keys.items()}


@dataclass
class Run:
    datagrams: list[tuple[str, bytes]]
    keylog: KeyLog
    sent: dict[str, bytes]


def _context(
    ident: Identity,
    ciphers: str,
    options: int,
    sigalgs: bytes | None,
    version: int,
    lines: list[bytes],
) -> SSL.Context:
    ctx = SSL.Context(SSL.DTLS_METHOD)
    ctx.use_privatekey(ident.key)
    ctx.use_certificate(ident.cert)
    ctx.set_cipher_list(ciphers.encode())
    ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *a: True)
    ctx.set_min_proto_version(version)
    ctx.set_max_proto_version(version)
    if options:
        ctx.set_options(options)
    if sigalgs is not None:
        from cryptography.hazmat.bindings.openssl.binding import Binding

        assert Binding().lib.SSL_CTX_set1_sigalgs_list(ctx._context, sigalgs) == 1
    ctx.set_keylog_callback(lambda _conn, line: lines.append(line))
    return ctx


def handshake(
    client: Identity,
    server: Identity,
    ciphers: str,
    *,
    options: int = 0,
    sigalgs: bytes | None = None,
    version: int = 0xFEFD,
) -> Run:
    """Run a mutually authenticated DTLS handshake over memory BIOs, then one
    application-data record each way and a close_notify from the client."""
    lines: list[bytes] = []
    cli = SSL.Connection(_context(client, ciphers, options, sigalgs, version, lines))
    srv = SSL.Connection(_context(server, ciphers, options, sigalgs, version, lines))
    cli.set_connect_state()
    srv.set_accept_state()
    datagrams: list[tuple[str, bytes]] = []

    def pump(src: SSL.Connection, dst: SSL.Connection, sender: str) -> bool:
        moved = False
        while True:
            try:
                data = src.bio_read(65536)
            except SSL.WantReadError:
                return moved
            datagrams.append((sender, data))
            dst.bio_write(data)
            moved = True

    for _ in range(20):
        for conn in (cli, srv):
            with contextlib.suppress(SSL.WantReadError):
                conn.do_handshake()
        if not (pump(cli, srv, "client") | pump(srv, cli, "server")):
            break
    sent = {"client": b"ping from the client", "server": b"pong from the server"}
    cli.send(sent["client"])
    pump(cli, srv, "client")
    assert srv.recv(100) == sent["client"]
    srv.send(sent["server"])
    pump(srv, cli, "server")
    assert cli.recv(100) == sent["server"]
    cli.shutdown()
    pump(cli, srv, "client")
    log = KeyLog()
    log.add_text(b"\n".join(lines[:1]).decode(), "client-keylog")
    log.add_text(b"\n".join(lines[1:]).decode(), "server-keylog")
    return Run(datagrams, log, sent)


@dataclass(frozen=True)
class Case:
    ciphers: str
    client: str
    server: str
    mode: str
    prf_hash: str
    cv_algorithm: str
    ske_algorithm: str
    options: int = 0
    sigalgs: bytes | None = None
    etm: bool = False
    version: int = 0xFEFD


CASES = {
    "aes128-gcm": Case(
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "p256",
        "p256",
        "gcm",
        "sha256",
        "ecdsa_secp256r1_sha256",
        "ecdsa_secp256r1_sha256",
    ),
    # TLS 1.2 does not bind the curve to the hash: OpenSSL signs with its P-384 key
    # using 0x0403 (ecdsa_secp256r1_sha256), which is legal here
    "aes256-gcm-sha384": Case(
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "p384",
        "p256",
        "gcm",
        "sha384",
        "ecdsa_secp256r1_sha256",
        "ecdsa_secp256r1_sha256",
    ),
    "chacha20": Case(
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "p256",
        "p256",
        "chacha20",
        "sha256",
        "ecdsa_secp256r1_sha256",
        "ecdsa_secp256r1_sha256",
    ),
    "aes128-ccm": Case(
        "ECDHE-ECDSA-AES128-CCM",
        "p256",
        "p256",
        "ccm",
        "sha256",
        "ecdsa_secp256r1_sha256",
        "ecdsa_secp256r1_sha256",
    ),
    # OpenSSL 4 (and 3.x) put the CCM_8 suites at security level 0 (64-bit tag)
    "aes128-ccm8": Case(
        "ECDHE-ECDSA-AES128-CCM8:@SECLEVEL=0",
        "p256",
        "p256",
        "ccm8",
        "sha256",
        "ecdsa_secp256r1_sha256",
        "ecdsa_secp256r1_sha256",
    ),
    "cbc-sha1-etm": Case(
        "ECDHE-RSA-AES128-SHA",
        "rsa2048",
        "rsa2048",
        "cbc",
        "sha256",
        "rsa_pss_rsae_sha256",
        "rsa_pss_rsae_sha256",
        etm=True,
    ),
    "cbc-sha1-no-etm": Case(
        "ECDHE-RSA-AES128-SHA",
        "p256",
        "rsa2048",
        "cbc",
        "sha256",
        "ecdsa_secp256r1_sha256",
        "rsa_pss_rsae_sha256",
        options=OP_NO_ENCRYPT_THEN_MAC,
    ),
    "cbc-sha384-etm": Case(
        "ECDHE-RSA-AES256-SHA384",
        "rsa2048",
        "rsa2048",
        "cbc",
        "sha384",
        "rsa_pss_rsae_sha256",
        "rsa_pss_rsae_sha256",
        etm=True,
    ),
    "cbc-sha384-no-etm": Case(
        "ECDHE-RSA-AES256-SHA384",
        "rsa2048",
        "rsa2048",
        "cbc",
        "sha384",
        "rsa_pss_rsae_sha256",
        "rsa_pss_rsae_sha256",
        options=OP_NO_ENCRYPT_THEN_MAC,
    ),
    "rsa-pkcs1": Case(
        "ECDHE-RSA-AES128-GCM-SHA256",
        "rsa2048",
        "rsa2048",
        "gcm",
        "sha256",
        "rsa_pkcs1_sha384",
        "rsa_pkcs1_sha384",
        sigalgs=b"RSA+SHA384",
    ),
    "ecdsa-sha1": Case(
        "ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0",
        "p256",
        "p256",
        "gcm",
        "sha256",
        "ecdsa_sha1",
        "ecdsa_sha1",
        sigalgs=b"ECDSA+SHA1",
    ),
    # OpenSSL 4 answers encrypt_then_mac even for a NULL suite (RFC 7366 says only
    # block ciphers); for NULL both orders authenticate the same bytes
    "null-sha": Case(
        "ECDHE-ECDSA-NULL-SHA:@SECLEVEL=0",
        "p256",
        "p256",
        "null",
        "sha256",
        "ecdsa_secp256r1_sha256",
        "ecdsa_secp256r1_sha256",
        etm=True,
    ),
    # DTLS 1.0 needs @SECLEVEL=0 in OpenSSL 4: MD5+SHA1 PRF, no signature algorithm fields
    "dtls10-rsa-cbc-etm": Case(
        "ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
        "rsa2048",
        "rsa2048",
        "cbc",
        "sha256",
        "rsa_pkcs1_md5sha1",
        "rsa_pkcs1_md5sha1",
        etm=True,
        version=0xFEFF,
    ),
    "dtls10-ecdsa-cbc": Case(
        "ECDHE-ECDSA-AES256-SHA:@SECLEVEL=0",
        "p256",
        "p256",
        "cbc",
        "sha256",
        "ecdsa_sha1",
        "ecdsa_sha1",
        options=OP_NO_ENCRYPT_THEN_MAC,
        version=0xFEFF,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_pyopenssl_handshake(name: str, identities: dict[str, Identity]) -> None:
    case = CASES[name]
    client, server = identities[case.client], identities[case.server]
    run = handshake(
        client,
        server,
        case.ciphers,
        options=case.options,
        sigalgs=case.sigalgs,
        version=case.version,
    )
    plain = collect(run.datagrams, None)
    assert run.keylog.conflicts() == [] and run.keylog.problems == []
    ms = run.keylog.master_secret(plain.client_random)
    assert ms is not None and len(run.keylog.master_secrets(plain.client_random)) == 2
    params = cipher_params(plain.suite)
    assert params is not None and params.mode == case.mode and params.prf_hash == case.prf_hash
    etm = 0x0016 in plain.server_extensions()
    assert etm == case.etm
    keys = key_block(
        ms,
        plain.client_random,
        plain.server_random,
        params,
        dtls10=case.version == 0xFEFF,
        encrypt_then_mac=etm,
    )
    hs = collect(run.datagrams, keys)
    prf_hash = "md5sha1" if case.version == 0xFEFF else params.prf_hash
    check_finished(hs, ms, prf_hash)
    app = [(r.sender, p) for r, p in hs.plaintexts if r.content_type == APPDATA]
    assert app == [("client", run.sent["client"]), ("server", run.sent["server"])]
    assert [p for r, p in hs.plaintexts if r.content_type == ALERT] == [b"\x01\x00"]
    check_every_record_fails_when_flipped(hs, keys)
    if params.mode == "cbc" and etm:  # the same keys without ETM must not authenticate
        no_etm = key_block(ms, plain.client_random, plain.server_random, params)
        rec = hs.plaintexts[0][0]
        with pytest.raises((AuthenticationFailed, DecodeError)):
            decrypt_record(
                no_etm,
                rec.sender,
                rec.content_type,
                rec.version,
                rec.epoch,
                rec.sequence,
                rec.fragment,
            )
    cv, ske = check_signatures(hs)
    assert (cv.algorithm, ske.algorithm) == (case.cv_algorithm, case.ske_algorithm)
    assert (
        cv.key_type
        == {"p256": "EC P-256", "p384": "EC P-384", "rsa2048": "RSA", "ed25519": "Ed25519"}[
            case.client
        ]
    )
    assert cv.reason.startswith(f"{case.cv_algorithm} signature verifies under the client")


# ----------------------------------------------------------------- (c) openssl CLI on loopback


class LoopbackRecorder:
    """A loopback UDP relay between s_client and s_server that records every datagram."""

    def __init__(self, server_port: int) -> None:
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.connect(("127.0.0.1", server_port))
        self.port = self.front.getsockname()[1]
        self.datagrams: list[tuple[str, bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        client: tuple[str, int] | None = None
        while not self._stop.is_set():
            ready, _, _ = select.select([self.front, self.back], [], [], 0.05)
            for sock in ready:
                try:
                    data, addr = sock.recvfrom(65536)
                except OSError:  # ICMP port unreachable once the server has exited
                    continue
                if sock is self.front:
                    client = addr
                    self.datagrams.append(("client", data))
                    self.back.send(data)
                elif client is not None:
                    self.datagrams.append(("server", data))
                    self.front.sendto(data, client)

    def close(self) -> list[tuple[str, bytes]]:
        self._stop.set()
        self._thread.join()
        self.front.close()
        self.back.close()
        return self.datagrams


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_private(path: Path, data: bytes) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def write_identity(tmp: Path, name: str, ident: Identity) -> tuple[Path, Path]:
    key = ident.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert = tmp / f"{name}.crt"
    cert.write_bytes(ident.cert.public_bytes(serialization.Encoding.PEM))
    return cert, write_private(tmp / f"{name}.key", key)


def openssl_dtls(
    tmp: Path, server_args: list[str], client_args: list[str]
) -> tuple[list[tuple[str, bytes]], KeyLog]:
    """s_server and s_client (-dtls1_2) through a recording relay; the client sends one
    line of application data and closes. Returns the datagrams and the client's key log."""
    openssl = require_tool("openssl")
    port = free_udp_port()
    server = subprocess.Popen(
        [
            openssl,
            "s_server",
            "-dtls1_2",
            "-accept",
            f"127.0.0.1:{port}",
            "-naccept",
            "1",
            *server_args,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    recorder = LoopbackRecorder(port)
    keylog = write_private(tmp / "client.keys", b"")
    try:
        assert server.stdout is not None
        for line in server.stdout:  # wait until it listens
            if line.startswith(b"ACCEPT"):
                break
        client = subprocess.run(
            [
                openssl,
                "s_client",
                "-dtls1_2",
                "-connect",
                f"127.0.0.1:{recorder.port}",
                "-keylogfile",
                str(keylog),
                *client_args,
            ],
            input=b"hello from s_client\n",
            capture_output=True,
            timeout=20,
        )
        assert client.returncode == 0, client.stderr.decode(errors="replace")[
            -2000:
        ]  # stdout has Master-Key
        server.wait(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        datagrams = recorder.close()
    return datagrams, KeyLog.load(keylog)


def test_openssl_cli_rsa_pkcs1_gcm_sha384(tmp_path: Path, identities: dict[str, Identity]) -> None:
    scert, skey = write_identity(tmp_path, "server", identities["rsa2048"])
    ccert, ckey = write_identity(tmp_path, "client", identities["p384"])
    suite = "ECDHE-RSA-AES256-GCM-SHA384"
    datagrams, log = openssl_dtls(
        tmp_path,
        [
            "-cert",
            str(scert),
            "-key",
            str(skey),
            "-Verify",
            "1",
            "-cipher",
            suite,
            "-client_sigalgs",
            "ECDSA+SHA384",
        ],
        [
            "-cert",
            str(ccert),
            "-key",
            str(ckey),
            "-cipher",
            suite,
            "-sigalgs",
            "RSA+SHA256:ECDSA+SHA384",
        ],
    )
    plain = collect(datagrams, None)
    assert plain.suite == 0xC030
    assert [m.msg_type for m in plain.messages][:2] == [CLIENT_HELLO, SERVER_HELLO]  # HVR gone
    assert any(d[0] == "server" and d[1][13] == HVR for d in datagrams)  # s_server sent one
    ms = log.master_secret(plain.client_random)
    params = cipher_params(plain.suite)
    assert ms is not None and params is not None and params.prf_hash == "sha384"
    keys = key_block(ms, plain.client_random, plain.server_random, params)
    hs = collect(datagrams, keys)
    check_finished(hs, ms, "sha384")
    assert (hs.plaintexts[0][0].sender, hs.plaintexts[0][1][0]) == ("client", FINISHED)
    app = [p for r, p in hs.plaintexts if r.content_type == APPDATA]
    assert app == [b"hello from s_client\n"]
    check_every_record_fails_when_flipped(hs, keys)
    cv, ske = check_signatures(hs)
    assert (cv.algorithm, cv.key_type) == ("ecdsa_secp384r1_sha384", "EC P-384")
    assert (ske.algorithm, ske.key_type, ske.key_bits) == ("rsa_pkcs1_sha256", "RSA", 2048)


def test_openssl_cli_psk_extended_master_secret(tmp_path: Path) -> None:
    psk = bytes(range(1, 17))
    suite = "PSK-AES128-CCM"
    datagrams, log = openssl_dtls(
        tmp_path,
        ["-nocert", "-psk", psk.hex(), "-cipher", suite],
        ["-psk", psk.hex(), "-cipher", suite],
    )
    plain = collect(datagrams, None)
    assert plain.suite == 0xC0A4 and 0x0017 in plain.server_extensions()  # EMS by default
    ms = log.master_secret(plain.client_random)
    assert ms is not None
    cke = plain.first(CKE)
    session_hash = transcript_hash([*plain.before(cke), cke.wire], "sha256")
    pre = psk_premaster(psk)
    cr, sr = plain.client_random, plain.server_random
    assert master_secret_from_premaster(pre, cr, sr, ems_session_hash=session_hash) == ms
    assert master_secret_from_premaster(pre, cr, sr) != ms  # the classic EMS mismatch
    params = cipher_params(plain.suite)
    assert params is not None and params.mode == "ccm"
    hs = collect(datagrams, key_block(ms, cr, sr, params))
    check_finished(hs, ms, "sha256")


# ----------------------------------------------------------------- signature findings

DATA = b"handshake messages up to CertificateVerify" * 10


def test_key_type_and_scheme_mismatch_is_a_finding(identities: dict[str, Identity]) -> None:
    p256, rsa_id = identities["p256"], identities["rsa2048"]
    sig = p256.key.sign(DATA, ec.ECDSA(hashes.SHA256()))
    got = verify_certificate_verify(rsa_id.der, 0x0403, sig, DATA)
    assert not got.passed and (got.key_type, got.key_bits) == ("RSA", 2048)
    assert got.reason == (
        "client certificate key is RSA but signature scheme is ecdsa_secp256r1_sha256"
    )
    got = verify_server_key_exchange(p256.der, 0x0804, sig, b"c" * 32, b"s" * 32, b"params")
    assert got.reason == (
        "server certificate key is EC P-256 but signature scheme is rsa_pss_rsae_sha256"
    )
    assert verify_certificate_verify(p256.der, 0x0403, sig, DATA).passed


def test_raw_ecdsa_signature_instead_of_der(identities: dict[str, Identity]) -> None:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    p256 = identities["p256"]
    r, s = decode_dss_signature(p256.key.sign(DATA, ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    got = verify_certificate_verify(p256.der, 0x0403, raw, DATA)
    assert not got.passed and "not a DER SEQUENCE" in got.reason


def test_unreadable_inputs_never_raise(identities: dict[str, Identity]) -> None:
    got = verify_certificate_verify(b"\x30\x03\x02\x01\x00", 0x0403, b"sig", DATA)
    assert not got.passed and got.reason.startswith("cannot read the client certificate")
    p256 = identities["p256"]
    got = verify_certificate_verify(p256.der, None, b"sig", DATA)
    assert got.reason == "no signature algorithm given (DTLS 1.2 requires one)"
    got = verify_certificate_verify(p256.der, 0x0999, b"sig", DATA)
    assert got.reason == "unknown signature scheme 0x0999"
    got = verify_certificate_verify(identities["rsa2048"].der, 0x0401, b"", DATA)
    assert not got.passed


@pytest.mark.parametrize("kind", ["ed25519", "ed448"])
def test_eddsa_certificate_verify(kind: str) -> None:
    # OpenSSL's DTLS 1.2 does not negotiate EdDSA certificates ("no shared cipher"),
    # so these signatures come from cryptography's OpenSSL directly.
    key: Any = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else (ed448.Ed448PrivateKey.generate())
    )
    ident = Identity(key, make_cert(key, kind))
    scheme = 0x0807 if kind == "ed25519" else 0x0808
    sig = key.sign(DATA)
    got = verify_certificate_verify(ident.der, scheme, sig, DATA)
    assert got.passed and got.algorithm == kind and got.key_type == kind.capitalize()
    bad = verify_certificate_verify(ident.der, scheme, sig, flip(DATA, 0))
    assert bad.reason == (
        f"{kind.capitalize()} signature does not verify under the client certificate's "
        f"{kind.capitalize()} key"
    )


def test_rsa_pss_certificate_from_openssl(tmp_path: Path, identities: dict[str, Identity]) -> None:
    openssl = require_tool("openssl")
    key, crt = tmp_path / "pss.key", tmp_path / "pss.der"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa-pss",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-keyout",
            str(key),
            "-outform",
            "DER",
            "-out",
            str(crt),
            "-nodes",
            "-subj",
            "/CN=pss",
            "-days",
            "10",
        ],
        check=True,
        capture_output=True,
    )
    data = tmp_path / "data"
    data.write_bytes(DATA)
    sig = subprocess.run(
        [
            openssl,
            "dgst",
            "-sha256",
            "-sign",
            str(key),
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
            str(data),
        ],
        check=True,
        capture_output=True,
    ).stdout
    der = crt.read_bytes()
    got = verify_certificate_verify(der, 0x0809, sig, DATA)
    assert got.passed and got.key_type == "RSA-PSS", got.reason
    assert not verify_certificate_verify(der, 0x0809, flip(sig, 7), DATA).passed
    got = verify_certificate_verify(der, 0x0804, sig, DATA)
    assert not got.passed and "only signs with rsa_pss_pss_*" in got.reason
    rsae = identities["rsa2048"]
    got = verify_certificate_verify(rsae.der, 0x0809, sig, DATA)
    assert not got.passed and "needs an RSASSA-PSS certificate key" in got.reason


# ----------------------------------------------------------------- only the two errors escape

FUZZ_SUITES = [0xC02B, 0xC0A8, 0xC0AC, 0xCCA9, 0xC013, 0xC028, 0x0002]


@settings(max_examples=60, deadline=None)
@given(
    suite=st.sampled_from(FUZZ_SUITES),
    etm=st.booleans(),
    fragment=st.binary(max_size=120),
    sender=st.sampled_from(["client", "server->client"]),
)
def test_decrypt_raises_only_its_two_errors(
    suite: int, etm: bool, fragment: bytes, sender: str
) -> None:
    params = cipher_params(suite)
    assert params is not None
    keys = key_block(bytes(48), bytes(32), bytes(32), params, encrypt_then_mac=etm)
    with contextlib.suppress(AuthenticationFailed, DecodeError):
        decrypt_record(keys, sender, APPDATA, 0xFEFD, 1, 0, fragment)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_keylog_text_never_raises(text: str) -> None:
    log = KeyLog()
    log.add_text(text, "fuzz")
    repr(log)
    assert all(p.line >= 1 for p in log.problems)


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(["p256", "rsa2048", "garbage"]),
    scheme=st.one_of(st.none(), st.integers(0, 0xFFFF), st.sampled_from([0x0403, 0x0804])),
    signature=st.binary(max_size=300),
    dtls10=st.booleans(),
)
def test_signature_checks_never_raise(
    identities: dict[str, Identity], kind: str, scheme: int | None, signature: bytes, dtls10: bool
) -> None:
    der = identities[kind].der if kind in identities else signature[:40]
    got = verify_certificate_verify(der, scheme, signature, DATA, dtls10=dtls10)
    assert not got.passed and got.reason


# ----------------------------------------------------------------- GnuTLS CLI: EdDSA in DTLS 1.2

GNUTLS_PRIORITY = "NORMAL:-VERS-ALL:+VERS-DTLS1.2:+SIGN-EDDSA-ED25519"


def test_gnutls_cli_ed25519_mutual_auth(tmp_path: Path, identities: dict[str, Identity]) -> None:
    """GnuTLS does negotiate Ed25519 certificates in DTLS 1.2 (OpenSSL does not)."""
    serv_bin, cli_bin = require_tool("gnutls-serv"), require_tool("gnutls-cli")
    cert, key = write_identity(tmp_path, "ed", identities["ed25519"])
    port = free_udp_port()
    server = subprocess.Popen(
        [
            serv_bin,
            "--udp",
            "--echo",
            "-p",
            str(port),
            "--x509certfile",
            str(cert),
            "--x509keyfile",
            str(key),
            "--require-client-cert",
            "--priority",
            GNUTLS_PRIORITY,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    recorder = LoopbackRecorder(port)
    keylog = write_private(tmp_path / "gnutls.keys", b"")
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if b"listening on IPv4" in line:
                break
        client = subprocess.run(
            [
                cli_bin,
                "--udp",
                "-p",
                str(recorder.port),
                "127.0.0.1",
                "--insecure",
                "--x509certfile",
                str(cert),
                "--x509keyfile",
                str(key),
                "--priority",
                GNUTLS_PRIORITY,
            ],
            input=b"hello from gnutls-cli\n",
            capture_output=True,
            timeout=20,
            env={**os.environ, "SSLKEYLOGFILE": str(keylog)},
        )
        assert client.returncode == 0, client.stderr.decode(errors="replace")[-2000:]
    finally:
        server.kill()
        server.wait()
        datagrams = recorder.close()
    plain = collect(datagrams, None)
    assert any(m.msg_type == CERTIFICATE_VERIFY for m in plain.messages)
    ms = KeyLog.load(keylog).master_secret(plain.client_random)
    params = cipher_params(plain.suite)
    assert ms is not None and params is not None
    keys = key_block(ms, plain.client_random, plain.server_random, params)
    hs = collect(datagrams, keys)
    check_finished(hs, ms, params.prf_hash)
    app = [(r.sender, p) for r, p in hs.plaintexts if r.content_type == APPDATA]
    assert ("client", b"hello from gnutls-cli\n") in app
    check_every_record_fails_when_flipped(hs, keys)
    cv, ske = check_signatures(hs)
    assert (cv.algorithm, cv.key_type, ske.algorithm) == ("ed25519", "Ed25519", "ed25519")
