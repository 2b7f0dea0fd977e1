"""Signature checks a passive observer can make with no secret (RFC 5246 §4.7, §7.4.3, §7.4.8).

:func:`verify_certificate_verify` and :func:`verify_server_key_exchange` return a
:class:`SignatureCheck` for every input, including unparsable certificates, key
types that do not match the scheme, and malformed signatures: a bad signature
is a finding, never an exception.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

_HASHES: dict[str, hashes.HashAlgorithm] = {
    "md5": hashes.MD5(),
    "sha1": hashes.SHA1(),
    "sha224": hashes.SHA224(),
    "sha256": hashes.SHA256(),
    "sha384": hashes.SHA384(),
    "sha512": hashes.SHA512(),
}
_TLS12_HASH = {1: "md5", 2: "sha1", 3: "sha224", 4: "sha256", 5: "sha384", 6: "sha512"}
_TLS12_SIG = {1: "rsa", 2: "dsa", 3: "ecdsa"}
_ECDSA_NAMES = {
    "sha256": "ecdsa_secp256r1_sha256",
    "sha384": "ecdsa_secp384r1_sha384",
    "sha512": "ecdsa_secp521r1_sha512",
    "sha1": "ecdsa_sha1",
}
_PSS: dict[int, tuple[str, str, str]] = {
    0x0804: ("rsa_pss_rsae_sha256", "rsae", "sha256"),
    0x0805: ("rsa_pss_rsae_sha384", "rsae", "sha384"),
    0x0806: ("rsa_pss_rsae_sha512", "rsae", "sha512"),
    0x0809: ("rsa_pss_pss_sha256", "pss", "sha256"),
    0x080A: ("rsa_pss_pss_sha384", "pss", "sha384"),
    0x080B: ("rsa_pss_pss_sha512", "pss", "sha512"),
}
_RSASSA_PSS_OID = "1.2.840.113549.1.1.10"
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """Outcome of one signature check (a finding, not an exception)."""

    passed: bool
    algorithm: str
    """Scheme used, e.g. ``ecdsa_secp256r1_sha256``, ``rsa_pss_rsae_sha256``, or the
    DTLS 1.0 forms ``rsa_pkcs1_md5sha1`` / ``ecdsa_sha1``; ``0x....`` when unknown."""
    key_type: str
    """Certificate key: ``RSA``, ``RSA-PSS``, ``EC P-256``, ``Ed25519``... (``?``: unreadable)."""
    key_bits: int
    """Key size in bits (0 if unreadable)."""
    reason: str
    """One human sentence saying what was checked and what went wrong (or right)."""
    scheme: int | None = None
    """The SignatureAndHashAlgorithm code as sent (None for DTLS 1.0)."""


def scheme_name(scheme: int) -> str:
    """Name of a TLS 1.2 SignatureAndHashAlgorithm / SignatureScheme code."""
    if scheme in _PSS:
        return _PSS[scheme][0]
    if scheme == 0x0807:
        return "ed25519"
    if scheme == 0x0808:
        return "ed448"
    h, s = _TLS12_HASH.get(scheme >> 8), _TLS12_SIG.get(scheme & 0xFF)
    if h is None or s is None:
        return f"0x{scheme:04x}"
    if s == "ecdsa":
        return _ECDSA_NAMES.get(h, f"ecdsa_{h}")
    return f"{s}_pkcs1_{h}" if s == "rsa" else f"dsa_{h}"


def _describe_key(key: object) -> tuple[str, str, int]:
    """(family, key_type, bits): family is rsa/ec/ed25519/ed448/dsa/other."""
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = _CURVE_NAMES.get(key.curve.name, key.curve.name)
        return "ec", f"EC {curve}", key.curve.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "ed25519", "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "ed448", "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "dsa", "DSA", key.key_size
    return "other", type(key).__name__, 0


def _a(family: str) -> str:
    return {"rsa": "RSA", "ec": "ECDSA", "ed25519": "Ed25519", "ed448": "Ed448", "dsa": "DSA"}.get(
        family, family
    )


def _verify(
    cert_der: bytes,
    scheme: int | None,
    signature: bytes,
    data: bytes,
    dtls10: bool,
    whose: str,
) -> SignatureCheck:
    """:func:`_verify_uncached`, memoized: the verdict rules re-check the same signature
    each time a handshake's checks are rebuilt (the result is frozen, the inputs bytes)."""
    if type(cert_der) is bytes and type(signature) is bytes and type(data) is bytes:
        return _verify_cached(cert_der, scheme, signature, data, dtls10, whose)
    return _verify_uncached(cert_der, scheme, signature, data, dtls10, whose)


def _verify_uncached(
    cert_der: bytes,
    scheme: int | None,
    signature: bytes,
    data: bytes,
    dtls10: bool,
    whose: str,
) -> SignatureCheck:
    try:
        cert = x509.load_der_x509_certificate(cert_der)
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        name = "dtls1.0" if scheme is None else scheme_name(scheme)
        return SignatureCheck(
            False, name, "?", 0, f"cannot read the {whose} certificate's public key: {exc}", scheme
        )
    family, key_type, bits = _describe_key(key)
    is_pss_key = False
    with contextlib.suppress(AttributeError, ValueError):  # older cryptography
        is_pss_key = cert.public_key_algorithm_oid.dotted_string == _RSASSA_PSS_OID
    if is_pss_key:
        key_type = "RSA-PSS"
    key_desc = f"{whose} certificate's {key_type}" + (f" {bits}-bit" if family == "rsa" else "")

    def result(ok: bool, algorithm: str, why: str | None = None) -> SignatureCheck:
        if ok:
            text = f"{algorithm} signature verifies under the {key_desc} key"
        else:
            text = why or f"{_a(family)} signature does not verify under the {key_desc} key"
        return SignatureCheck(ok, algorithm, key_type, bits, text, scheme)

    # --- work out what the scheme asks for
    if scheme is None:
        if not dtls10:
            return result(False, "none", "no signature algorithm given (DTLS 1.2 requires one)")
        want, hash_name, pss = (
            ("rsa" if family == "rsa" else family),
            ("md5sha1" if family == "rsa" else "sha1"),
            None,
        )
        algorithm = "rsa_pkcs1_md5sha1" if family == "rsa" else f"{family}_sha1"
        if family == "ec":
            algorithm = "ecdsa_sha1"
    else:
        algorithm = scheme_name(scheme)
        pss = None
        if scheme in _PSS:
            want, pss, hash_name = "rsa", _PSS[scheme][1], _PSS[scheme][2]
        elif scheme == 0x0807:
            want, hash_name = "ed25519", ""
        elif scheme == 0x0808:
            want, hash_name = "ed448", ""
        else:
            h, s = _TLS12_HASH.get(scheme >> 8), _TLS12_SIG.get(scheme & 0xFF)
            if h is None or s is None:
                return result(False, algorithm, f"unknown signature scheme 0x{scheme:04x}")
            want, hash_name = {"rsa": "rsa", "dsa": "dsa", "ecdsa": "ec"}[s], h
        if want != family:
            return result(
                False,
                algorithm,
                f"{whose} certificate key is {key_type} but signature scheme is {algorithm}",
            )
        if pss == "pss" and not is_pss_key:
            return result(
                False,
                algorithm,
                f"signature scheme {algorithm} needs an RSASSA-PSS certificate key, "
                f"but the {whose} certificate key is rsaEncryption (use rsa_pss_rsae_*)",
            )
        if is_pss_key and pss != "pss":
            return result(
                False,
                algorithm,
                f"{whose} certificate key is RSASSA-PSS, which only signs with rsa_pss_pss_*, "
                f"not {algorithm}",
            )

    # --- verify
    try:
        if isinstance(key, rsa.RSAPublicKey):
            if hash_name == "md5sha1":
                digest = hashlib.md5(data).digest() + hashlib.sha1(data).digest()
                recovered = key.recover_data_from_signature(signature, padding.PKCS1v15(), None)
                if recovered != digest:
                    raise InvalidSignature
            elif pss is not None:
                algo = _HASHES[hash_name]
                key.verify(signature, data, padding.PSS(padding.MGF1(algo), algo.digest_size), algo)
            else:
                key.verify(signature, data, padding.PKCS1v15(), _HASHES[hash_name])
        elif isinstance(key, ec.EllipticCurvePublicKey):
            try:
                decode_dss_signature(signature)
            except ValueError:
                return result(
                    False,
                    algorithm,
                    f"ECDSA signature ({len(signature)} bytes) is not a DER SEQUENCE of two "
                    "INTEGERs (raw r||s instead of DER is a known interop bug)",
                )
            key.verify(signature, data, ec.ECDSA(_HASHES[hash_name]))
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(signature, data, _HASHES[hash_name])
        elif isinstance(key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            key.verify(signature, data)
        else:
            why = f"{whose} certificate key type {key_type} is not supported"
            return result(False, algorithm, why)
    except InvalidSignature:
        return result(False, algorithm)
    except (ValueError, UnsupportedAlgorithm) as exc:
        return result(False, algorithm, f"{_a(family)} signature could not be checked: {exc}")
    return result(True, algorithm)


_verify_cached = functools.lru_cache(maxsize=512)(_verify_uncached)


def verify_certificate_verify(
    cert_der: bytes,
    scheme_or_none: int | None,
    signature: bytes,
    transcript_bytes: bytes,
    *,
    dtls10: bool = False,
) -> SignatureCheck:
    """Check a client CertificateVerify (RFC 5246 §7.4.8).

    ``cert_der`` is the client's leaf certificate; ``scheme_or_none`` the
    SignatureAndHashAlgorithm (None in DTLS 1.0, then pass ``dtls10=True``:
    RSA signs MD5||SHA1 with raw PKCS#1 v1.5, ECDSA signs SHA-1);
    ``transcript_bytes`` is every handshake message before the CertificateVerify,
    in transcript form (``prf.transcript_message``), concatenated.
    """
    return _verify(cert_der, scheme_or_none, signature, transcript_bytes, dtls10, "client")


def verify_server_key_exchange(
    cert_der: bytes,
    scheme: int | None,
    signature: bytes,
    client_random: bytes,
    server_random: bytes,
    params_raw: bytes,
    *,
    dtls10: bool = False,
) -> SignatureCheck:
    """Check the ServerKeyExchange signature over ``client_random + server_random +
    params_raw`` (the ServerECDHParams / ServerDHParams bytes as sent) with the
    server's leaf certificate (RFC 5246 §7.4.3, RFC 8422 §5.4)."""
    data = client_random + server_random + params_raw
    return _verify(cert_der, scheme, signature, data, dtls10, "server")


TLS13_FORBIDDEN = frozenset({0x0201, 0x0401, 0x0501, 0x0601, 0x0203, 0x0303, 0x0402,
                             0x0502, 0x0602, 0x0202})
"""RSA PKCS#1 v1.5, SHA-1/SHA-224 and DSA schemes: TLS 1.3 CertificateVerify may not use
them (RFC 8446 §4.2.3, §4.4.3)."""


def verify_tls13_certificate_verify(
    cert_der: bytes, scheme: int, signature: bytes, content: bytes, role: str
) -> SignatureCheck:
    """Check a (D)TLS 1.3 CertificateVerify: ``content`` is what the ``role``'s signature
    covers (:func:`proxy.decode.dtls.crypto.tls13.certificate_verify_content`). A scheme
    TLS 1.3 forbids (RSA PKCS#1 v1.5, SHA-1, DSA) fails even when the signature verifies."""
    if scheme in TLS13_FORBIDDEN:
        r = _verify(cert_der, scheme, signature, content, False, role)
        return SignatureCheck(False, r.algorithm, r.key_type, r.key_bits,
                              f"{r.algorithm} is not allowed in a TLS 1.3 CertificateVerify "
                              "(RFC 8446 §4.4.3: RSA must use RSASSA-PSS, no SHA-1)", scheme)
    return _verify(cert_der, scheme, signature, content, False, role)
