"""Self-signed certificates the WebRTC way (one per peer, no CA), with their SDP fingerprint."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from proxy.capture.outfile import open_output

KeyType = Literal["ecdsa-p256", "rsa2048", "ed25519"]
"""Key algorithms: ECDSA P-256 (what browsers use), RSA 2048, Ed25519."""

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def sdp_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as SDP writes it: ``AB:CD:...`` (RFC 8122)."""
    h = hashes.Hash(hashes.SHA256())
    h.update(der)
    return ":".join(f"{b:02X}" for b in h.finalize())


@dataclass(frozen=True)
class Identity:
    """A private key and its self-signed certificate."""

    key: PrivateKey
    cert: x509.Certificate
    key_type: KeyType

    @property
    def cert_der(self) -> bytes:
        """The certificate, DER."""
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def cert_pem(self) -> bytes:
        """The certificate, PEM."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """The private key, unencrypted PKCS#8 PEM (a secret: never log it)."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def key_der(self) -> bytes:
        """The private key, unencrypted PKCS#8 DER (a secret: never log it)."""
        return self.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def fingerprint(self) -> str:
        """SDP ``a=fingerprint:sha-256`` value of the certificate."""
        return sdp_fingerprint(self.cert_der)

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write ``<stem>.crt`` and ``<stem>.key`` (mode 0600) as PEM; return both paths."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_path = directory / f"{stem}.crt"
        key_path = directory / f"{stem}.key"
        with open_output(cert_path, binary=True, force=True) as f:
            f.write(self.cert_pem)
        write_secret(key_path, self.key_pem)
        return cert_path, key_path


def write_secret(path: Path, data: bytes) -> None:
    """Create (or replace) ``path`` with mode 0600 before any byte is written (never
    through a symlink: :mod:`proxy.capture.outfile`)."""
    with open_output(path, binary=True, force=True) as f:
        f.write(data)


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key type {key_type!r}")


def make_identity(
    common_name: str = "WebRTC",
    key_type: KeyType = "ecdsa-p256",
    days: int = 30,
    now: _dt.datetime | None = None,
) -> Identity:
    """A fresh key and a self-signed X.509 v3 certificate, as a browser makes for a call.

    Valid from one day before ``now`` (default: the current UTC time) for ``days``.
    """
    key = _new_key(key_type)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = (now or _dt.datetime.now(_dt.UTC)) - _dt.timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _dt.timedelta(days=days + 1))
    )
    digest = None if key_type == "ed25519" else hashes.SHA256()
    cert = builder.sign(key, digest)
    return Identity(key=key, cert=cert, key_type=key_type)
