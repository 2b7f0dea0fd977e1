"""One-glance summary of an X.509 certificate (DER), via ``cryptography``.

WebRTC peers present self-signed certificates whose SHA-256 fingerprint is
pinned in SDP (``a=fingerprint:sha-256 AB:CD:...``); :attr:`CertificateSummary.fingerprint_sha256`
is written in exactly that form so the two can be compared as strings.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import (
    dsa,
    ec,
    ed448,
    ed25519,
    padding,
    rsa,
    x448,
    x25519,
)
from cryptography.x509.oid import SignatureAlgorithmOID

from proxy.decode.dtls.reader import DecodeError


@dataclass(frozen=True, slots=True)
class CertificateSummary:
    """What a debugging engineer wants to see of a certificate."""

    subject: str
    """RFC 4514 string, e.g. ``CN=WebRTC``."""
    issuer: str
    serial: str
    """Serial number in lowercase hex."""
    not_before: str
    """ISO 8601 UTC, e.g. ``2024-03-01T12:00:00Z``."""
    not_after: str
    not_before_ts: float
    """``not_before`` as seconds since the epoch (compare with a datagram's ``ts``)."""
    not_after_ts: float
    key_type: str
    """``EC``, ``RSA``, ``Ed25519``, ``Ed448``, ``DSA``, or the key class name."""
    curve: str | None
    """EC curve name (``secp256r1``), else None."""
    key_size: int | None
    """Key size in bits (RSA modulus, EC field), else None."""
    signature_algorithm: str
    """e.g. ``ecdsa-with-SHA256``, ``sha256WithRSAEncryption``, ``ed25519``."""
    self_issued: bool
    """Subject equals issuer."""
    self_signed: bool
    """Self-issued and the signature verifies with the certificate's own key."""
    fingerprint_sha256: str
    """SHA-256 of the DER, upper-case hex with colons (SDP ``a=fingerprint`` form)."""


def sdp_fingerprint(der: bytes, algorithm: str = "sha256") -> str:
    """``AB:CD:...`` digest of ``der`` (upper-case hex, colon separated)."""
    return hashlib.new(algorithm, der).digest().hex(":").upper()


def _iso(t: _dt.datetime) -> str:
    return t.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key_info(cert: x509.Certificate) -> tuple[str, str | None, int | None]:
    try:
        key = cert.public_key()
    except Exception as e:  # UnsupportedAlgorithm, ValueError, TypeError: odd or malformed key
        return f"unsupported ({e})", None, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.name, key.curve.key_size
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", None, key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", None, 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", None, 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", None, key.key_size
    if isinstance(key, x25519.X25519PublicKey):
        return "X25519", None, 256
    if isinstance(key, x448.X448PublicKey):
        return "X448", None, 448
    return type(key).__name__, None, None


def _signature_name(cert: x509.Certificate) -> str:
    try:
        oid = cert.signature_algorithm_oid
    except Exception as e:  # malformed AlgorithmIdentifier
        return f"unknown ({e})"
    return getattr(oid, "_name", None) or oid.dotted_string


_SELF_SIGNATURE: dict[bytes, bool | None] = {}
"""DER -> :func:`self_signature_verifies` (the verdict rules ask once per check rebuild)."""
_SELF_SIGNATURE_MAX = 1024

_SIG = SignatureAlgorithmOID
_ECDSA_SHA2 = frozenset({_SIG.ECDSA_WITH_SHA256, _SIG.ECDSA_WITH_SHA384, _SIG.ECDSA_WITH_SHA512})
_RSA_SHA2 = frozenset({_SIG.RSA_WITH_SHA256, _SIG.RSA_WITH_SHA384, _SIG.RSA_WITH_SHA512})


def _own_signature(cert: x509.Certificate) -> bool | None:
    try:
        key = cert.public_key()
        algo = cert.signature_hash_algorithm
    except (ValueError, UnsupportedAlgorithm):
        return None
    try:
        if isinstance(key, rsa.RSAPublicKey) and algo is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), algo)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algo is not None:
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(algo))
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            cert.verify_directly_issued_by(cert)
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return True


def _remember(der: bytes, ok: bool | None) -> bool | None:
    if len(_SELF_SIGNATURE) >= _SELF_SIGNATURE_MAX:
        _SELF_SIGNATURE.pop(next(iter(_SELF_SIGNATURE)))
    _SELF_SIGNATURE[der] = ok
    return ok


def self_signature_verifies(der: bytes) -> bool | None:
    """Whether a self-issued certificate's signature verifies under its own key
    (SHA-1 and MD5 signatures included, which ``cryptography``'s issuer check refuses);
    None when the algorithm cannot be checked. Memoized by DER."""
    if der in _SELF_SIGNATURE:
        return _SELF_SIGNATURE[der]
    try:
        cert = x509.load_der_x509_certificate(der)
    except (ValueError, UnsupportedAlgorithm):
        return _remember(der, None)
    return _remember(der, _own_signature(cert))


def _self_signed(der: bytes, cert: x509.Certificate, key_type: str) -> bool:
    """``cert.verify_directly_issued_by(cert)`` succeeds (for ECDSA / PKCS#1 SHA-2 the same
    verification as :func:`self_signature_verifies`, whose memo it then fills)."""
    try:
        oid = cert.signature_algorithm_oid
    except Exception:  # malformed AlgorithmIdentifier
        oid = None
    if (key_type == "EC" and oid in _ECDSA_SHA2) or (key_type == "RSA" and oid in _RSA_SHA2):
        if der in _SELF_SIGNATURE:
            return _SELF_SIGNATURE[der] is True
        return _remember(der, _own_signature(cert)) is True
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # InvalidSignature, unsupported algorithm, ...
        return False
    return True


def summarize_certificate(der: bytes) -> CertificateSummary:
    """Summarize one DER certificate; :class:`DecodeError` (offset 0) if it does not parse."""
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
        not_before = cert.not_valid_before_utc
        not_after = cert.not_valid_after_utc
        serial = f"{cert.serial_number:x}"
    except Exception as e:  # cryptography raises ValueError and others for bad DER
        raise DecodeError(0, f"certificate does not parse: {e}") from None
    key_type, curve, key_size = _key_info(cert)
    self_issued = cert.subject == cert.issuer
    self_signed = self_issued and _self_signed(der, cert, key_type)
    return CertificateSummary(
        subject=subject,
        issuer=issuer,
        serial=serial,
        not_before=_iso(not_before),
        not_after=_iso(not_after),
        not_before_ts=not_before.timestamp(),
        not_after_ts=not_after.timestamp(),
        key_type=key_type,
        curve=curve,
        key_size=key_size,
        signature_algorithm=_signature_name(cert),
        self_issued=self_issued,
        self_signed=self_signed,
        fingerprint_sha256=sdp_fingerprint(der),
    )
