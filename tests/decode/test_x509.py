"""Certificate summaries: real certificates from captures and fresh ones, checked
against openssl's own reading of the same DER."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.decode.dtls.messages import Certificate, ParseContext, parse_body
from proxy.decode.dtls.reader import DecodeError
from proxy.decode.dtls.x509 import sdp_fingerprint, summarize_certificate
from tests.conftest import CAPTURES, require_tool
from tests.decode.test_messages import CHROME, FRAGMENTS, WEBRTC10, capture_messages

SDP_FP = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")


def certs(name: str) -> list[bytes]:
    out = []
    for m in capture_messages(name):
        if m.msg_type == 11:
            body = parse_body(11, m.body, ParseContext())
            assert isinstance(body, Certificate)
            out += [e.der for e in body.entries]
    return out


def _build(key: object, subject: str, issuer_key: object | None = None) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    start = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
    algo = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())  # type: ignore[attr-defined]
        .serial_number(0xABCDEF)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=30))
        .sign(issuer_key or key, algo)  # type: ignore[arg-type]
    )
    return cert.public_bytes(Encoding.DER)


def test_webrtc_certificate_from_chromium(captures_dir: Path) -> None:
    server, client = certs(CHROME)
    s = summarize_certificate(server)
    assert s.subject == s.issuer == "CN=WebRTC"
    assert s.self_issued and s.self_signed
    assert (s.key_type, s.curve, s.key_size) == ("EC", "secp256r1", 256)
    assert s.signature_algorithm == "ecdsa-with-SHA256"
    assert SDP_FP.match(s.fingerprint_sha256)
    assert s.fingerprint_sha256 == sdp_fingerprint(server)
    assert s.not_before_ts < s.not_after_ts
    assert s.not_before.endswith("Z") and s.not_before[:4].isdigit()
    assert summarize_certificate(client).fingerprint_sha256 != s.fingerprint_sha256


def test_ca_issued_rsa_certificate(captures_dir: Path) -> None:
    s = summarize_certificate(certs(FRAGMENTS)[0])
    assert s.subject.startswith("CN=*.opera-mini.net")
    assert not s.self_issued and not s.self_signed
    assert (s.key_type, s.key_size, s.curve) == ("RSA", 2048, None)
    assert s.signature_algorithm == "sha256WithRSAEncryption"


def test_generated_keys() -> None:
    ed = summarize_certificate(_build(ed25519.Ed25519PrivateKey.generate(), "ed"))
    assert ed.key_type == "Ed25519" and ed.signature_algorithm == "ed25519" and ed.self_signed
    r = summarize_certificate(_build(rsa.generate_private_key(65537, 1024), "r"))
    assert (r.key_type, r.key_size) == ("RSA", 1024)
    assert r.not_before == "2024-03-01T12:00:00Z" and r.not_after == "2024-03-31T12:00:00Z"
    assert r.not_before_ts == dt.datetime(2024, 3, 1, 12, tzinfo=dt.UTC).timestamp()
    assert r.serial == "abcdef"
    # same name, signed by another key: self-issued but not self-signed
    k = ec.generate_private_key(ec.SECP384R1())
    forged = summarize_certificate(_build(k, "x", ec.generate_private_key(ec.SECP384R1())))
    assert forged.self_issued and not forged.self_signed and forged.curve == "secp384r1"


@pytest.mark.parametrize("der", [b"", b"\x30\x03\x02\x01\x01", b"not a certificate" * 10])
def test_garbage_is_a_decode_error(der: bytes) -> None:
    with pytest.raises(DecodeError) as e:
        summarize_certificate(der)
    assert "does not parse" in e.value.reason


def test_truncated_real_certificate_is_a_decode_error(captures_dir: Path) -> None:
    der = certs(CHROME)[0]
    with pytest.raises(DecodeError):
        summarize_certificate(der[:-10])


def test_bad_certificate_keeps_the_message() -> None:
    junk = b"\x30\x82\x00\x05hello"
    good = _build(ec.generate_private_key(ec.SECP256R1()), "good")
    entries = b"".join(len(d).to_bytes(3, "big") + d for d in (good, junk))
    body = len(entries).to_bytes(3, "big") + entries
    cert = parse_body(11, body)
    assert isinstance(cert, Certificate)
    assert cert.entries[0].summary is not None and cert.entries[0].error is None
    assert cert.entries[1].summary is None and cert.entries[1].der == junk
    assert cert.entries[1].error is not None and "does not parse" in cert.entries[1].error


@pytest.mark.peers
def test_fingerprints_agree_with_openssl(captures_dir: Path, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    for der in certs(CHROME) + certs(WEBRTC10) + certs(FRAGMENTS)[:1]:
        path = tmp_path / "c.der"
        path.write_bytes(der)
        out = subprocess.run(
            [openssl, "x509", "-inform", "DER", "-in", str(path), "-noout", "-fingerprint",
             "-sha256", "-subject", "-nameopt", "RFC2253"],
            capture_output=True, text=True, check=True, timeout=30,
        ).stdout  # fmt: skip
        s = summarize_certificate(der)
        assert f"={s.fingerprint_sha256}" in out
        assert f"subject={s.subject}" in out


def test_unknown_key_algorithm_is_shown_not_raised(captures_dir: Path) -> None:
    der = certs(CHROME)[0]
    ec_public_key = bytes.fromhex("06072a8648ce3d0201")  # OID 1.2.840.10045.2.1
    assert ec_public_key in der
    odd = der.replace(ec_public_key, bytes.fromhex("06072a8648ce3d0209"))
    s = summarize_certificate(odd)
    assert s.key_type.startswith("unsupported") and s.curve is None and s.key_size is None
    assert not s.self_signed and s.fingerprint_sha256 == sdp_fingerprint(odd)


_REAL_DER = [d for n in (CHROME, WEBRTC10, FRAGMENTS) if (CAPTURES / n).exists() for d in certs(n)]


@pytest.mark.skipif(not _REAL_DER, reason="shared captures not found")
@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_certificates_raise_only_decode_error(data: st.DataObject) -> None:
    der = bytearray(data.draw(st.sampled_from(_REAL_DER)))
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(der) - 1))
        der[pos] ^= data.draw(st.integers(1, 255))
    try:
        s = summarize_certificate(bytes(der))
    except DecodeError:
        return
    assert SDP_FP.match(s.fingerprint_sha256)
