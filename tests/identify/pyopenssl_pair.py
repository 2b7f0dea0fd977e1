"""A DTLS 1.2 handshake between two pyOpenSSL endpoints over memory BIOs; prints the
datagrams as JSON lines ``["c2s"|"s2c", hex]``. Standalone (imports only OpenSSL and
cryptography), so that it runs in an environment with an older OpenSSL too:

    python -m tests.identify.pyopenssl_pair [plain|aiortc]

``plain``: a WebRTC-like context (mutual auth, SRTP_AES128_CM_SHA1_80, library default
ciphers); ``aiortc``: the context aiortc's ``RTCCertificate._create_ssl_context`` makes
(needs aiortc; its own ciphers and SRTP profiles). Used by ``capture_hellos``.
"""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from OpenSSL import SSL, crypto


def _identity(name: str) -> tuple[Any, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)  # noqa: UP017 (old Pythons too)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return (crypto.load_certificate(crypto.FILETYPE_PEM, cert.public_bytes(pem)),
            crypto.load_privatekey(crypto.FILETYPE_PEM, key_pem))


def _plain_context(name: str) -> SSL.Context:
    ctx = SSL.Context(SSL.DTLS_METHOD)
    cert, key = _identity(name)
    ctx.use_certificate(cert)
    ctx.use_privatekey(key)
    ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, lambda *a: True)
    ctx.set_tlsext_use_srtp(b"SRTP_AES128_CM_SHA1_80")
    return ctx


def _aiortc_context(name: str) -> SSL.Context:
    from aiortc.rtcdtlstransport import SRTP_PROFILES, RTCCertificate

    ctx: SSL.Context = RTCCertificate.generateCertificate()._create_ssl_context(SRTP_PROFILES)
    return ctx


def main() -> None:
    make = _aiortc_context if sys.argv[1:] == ["aiortc"] else _plain_context
    client = SSL.Connection(make("client"))
    client.set_connect_state()
    server = SSL.Connection(make("server"))
    server.set_accept_state()
    ends = {"c2s": (client, server), "s2c": (server, client)}
    done = {"c2s": False, "s2c": False}
    for _ in range(20):
        for d, (me, peer) in ends.items():
            try:
                me.do_handshake()
                done[d] = True
            except SSL.WantReadError:
                pass
            while True:
                try:
                    data = me.bio_read(65536)
                except SSL.WantReadError:
                    break
                print(json.dumps([d, data.hex()]), flush=True)
                peer.bio_write(data)
        if all(done.values()):
            break
    print(json.dumps(["version", SSL.SSLeay_version(SSL.SSLEAY_VERSION).decode()]))


if __name__ == "__main__":
    main()
