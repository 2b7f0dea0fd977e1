"""IANA names and cipher suite parameters: the numbers other layers rely on."""

from __future__ import annotations

import pytest

from proxy.decode.dtls import registry as reg
from proxy.decode.dtls.registry import cipher_suite_info, is_grease, name


def test_names_and_raw_forms() -> None:
    assert name(reg.CONTENT_TYPES, 25) == "tls12_cid"
    assert name(reg.CONTENT_TYPES, 26) == "ack"
    assert name(reg.CONTENT_TYPES, 99) == "unknown (99)"
    assert name(reg.HANDSHAKE_TYPES, 3) == "HelloVerifyRequest"
    assert name(reg.HANDSHAKE_TYPES, 254) == "MessageHash"
    assert name(reg.ALERT_DESCRIPTIONS, 51) == "decrypt_error"
    assert name(reg.ALERT_DESCRIPTIONS, 120) == "no_application_protocol"
    assert name(reg.ALERT_LEVELS, 2) == "fatal"
    assert name(reg.CIPHER_SUITES, 0x1234) == "0x1234"
    assert reg.label(reg.CIPHER_SUITES, 0xC02B) == "0xc02b TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    assert reg.label(reg.CIPHER_SUITES, 0x1234) == "0x1234"


def test_versions() -> None:
    assert reg.version_name(0xFEFF) == "DTLS 1.0"
    assert reg.version_name(0xFEFD) == "DTLS 1.2"
    assert reg.version_name(0xFEFC) == "DTLS 1.3"
    assert reg.version_name(0x0100) == "DTLS 1.0 (pre-RFC, OpenSSL 0.9.8)"
    assert reg.version_name(0x0304) == "TLS 1.3"
    assert reg.is_dtls10(0x0100) and reg.is_dtls10(0xFEFF) and not reg.is_dtls10(0xFEFD)


def test_extension_numbers() -> None:
    assert reg.EXT["connection_id"] == 54  # RFC 9146; 53 was the draft's number
    assert name(reg.EXTENSION_TYPES, 53).startswith("connection_id (deprecated")
    assert reg.EXT["record_size_limit"] == 28
    assert reg.EXT["padding"] == 21
    assert reg.EXT["use_srtp"] == 14
    assert reg.EXT["renegotiation_info"] == 0xFF01
    assert name(reg.EXTENSION_TYPES, 0x3A3A) == "GREASE (0x3a3a)"


def test_groups_signatures_srtp() -> None:
    assert name(reg.SUPPORTED_GROUPS, 0x11EC) == "X25519MLKEM768"
    assert name(reg.SUPPORTED_GROUPS, 0x11EB) == "SecP256r1MLKEM768"
    assert name(reg.SUPPORTED_GROUPS, 0x6399) == "X25519Kyber768Draft00"
    assert name(reg.SUPPORTED_GROUPS, 29) == "x25519"
    assert name(reg.SUPPORTED_GROUPS, 0x0100) == "ffdhe2048"
    assert reg.signature_scheme_name(0x0403) == "ecdsa_secp256r1_sha256"
    assert reg.signature_scheme_name(0x0804) == "rsa_pss_rsae_sha256"
    assert reg.signature_scheme_name(0x0809) == "rsa_pss_pss_sha256"
    assert reg.signature_scheme_name(0x0807) == "ed25519"
    assert reg.signature_scheme_name(0x081A) == "ecdsa_brainpoolP256r1tls13_sha256"
    assert reg.signature_scheme_name(0x0303) == "ecdsa_sha224"
    assert reg.signature_scheme_name(0x0207) == "ed25519_sha1"  # TLS 1.2 byte names
    assert reg.signature_scheme_name(0xABCD) == "0xabcd"
    assert name(reg.SRTP_PROFILES, 1) == "SRTP_AES128_CM_HMAC_SHA1_80"
    assert name(reg.SRTP_PROFILES, 2) == "SRTP_AES128_CM_HMAC_SHA1_32"
    assert name(reg.SRTP_PROFILES, 5) == "SRTP_NULL_HMAC_SHA1_80"
    assert name(reg.SRTP_PROFILES, 7) == "SRTP_AEAD_AES_128_GCM"
    assert name(reg.SRTP_PROFILES, 8) == "SRTP_AEAD_AES_256_GCM"


def test_grease() -> None:
    greases = [v for v in range(0x10000) if is_grease(v)]
    assert greases == [0x0A0A + 0x1010 * i for i in range(16)]
    assert name(reg.CIPHER_SUITES, 0xFAFA) == "GREASE (0xfafa)"


def test_cipher_suite_table_is_complete() -> None:
    assert len(reg.CIPHER_SUITES) > 350
    assert reg.CIPHER_SUITES[0x00FF] == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    assert reg.CIPHER_SUITES[0x5600] == "TLS_FALLBACK_SCSV"
    for code in range(0x1301, 0x1306):
        assert code in reg.CIPHER_SUITES
    assert reg.CIPHER_SUITES[0xD005] == "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256"
    assert reg.CIPHER_SUITES[0xCCAC] == "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"


# code, kx, auth, cipher, mac, prf, key, fixed_iv, record_iv, mac_len, tag
SUITES = [
    (0xC02B, "ECDHE", "ECDSA", "AES_128_GCM", "AEAD", "SHA256", 16, 4, 8, 0, 16),
    (0xC02F, "ECDHE", "RSA", "AES_128_GCM", "AEAD", "SHA256", 16, 4, 8, 0, 16),
    (0xC030, "ECDHE", "RSA", "AES_256_GCM", "AEAD", "SHA384", 32, 4, 8, 0, 16),
    (0x009C, "RSA", "RSA", "AES_128_GCM", "AEAD", "SHA256", 16, 4, 8, 0, 16),
    (0x00A9, "PSK", "PSK", "AES_256_GCM", "AEAD", "SHA384", 32, 4, 8, 0, 16),
    (0xC0A8, "PSK", "PSK", "AES_128_CCM_8", "AEAD", "SHA256", 16, 4, 8, 0, 8),
    (0xC0AE, "ECDHE", "ECDSA", "AES_128_CCM_8", "AEAD", "SHA256", 16, 4, 8, 0, 8),
    (0xC0AC, "ECDHE", "ECDSA", "AES_128_CCM", "AEAD", "SHA256", 16, 4, 8, 0, 16),
    (0xC09D, "RSA", "RSA", "AES_256_CCM", "AEAD", "SHA256", 32, 4, 8, 0, 16),
    (0xD001, "ECDHE_PSK", "PSK", "AES_128_GCM", "AEAD", "SHA256", 16, 4, 8, 0, 16),
    (0xD003, "ECDHE_PSK", "PSK", "AES_128_CCM_8", "AEAD", "SHA256", 16, 4, 8, 0, 8),
    (0xCCA9, "ECDHE", "ECDSA", "CHACHA20_POLY1305", "AEAD", "SHA256", 32, 12, 0, 0, 16),
    (0xCCAB, "PSK", "PSK", "CHACHA20_POLY1305", "AEAD", "SHA256", 32, 12, 0, 0, 16),
    (0xC00A, "ECDHE", "ECDSA", "AES_256_CBC", "SHA", "SHA256", 32, 0, 16, 20, 0),
    (0xC027, "ECDHE", "RSA", "AES_128_CBC", "SHA256", "SHA256", 16, 0, 16, 32, 0),
    (0xC028, "ECDHE", "RSA", "AES_256_CBC", "SHA384", "SHA384", 32, 0, 16, 48, 0),
    (0x0035, "RSA", "RSA", "AES_256_CBC", "SHA", "SHA256", 32, 0, 16, 20, 0),
    (0x000A, "RSA", "RSA", "3DES_EDE_CBC", "SHA", "SHA256", 24, 0, 8, 20, 0),
    (0x0016, "DHE", "RSA", "3DES_EDE_CBC", "SHA", "SHA256", 24, 0, 8, 20, 0),
    (0x008C, "PSK", "PSK", "AES_128_CBC", "SHA", "SHA256", 16, 0, 16, 20, 0),
    (0xC035, "ECDHE_PSK", "PSK", "AES_128_CBC", "SHA", "SHA256", 16, 0, 16, 20, 0),
    (0x0090, "DHE_PSK", "PSK", "AES_128_CBC", "SHA", "SHA256", 16, 0, 16, 20, 0),
    (0x0094, "RSA_PSK", "RSA", "AES_128_CBC", "SHA", "SHA256", 16, 0, 16, 20, 0),
    (0xC018, "ECDHE", "anon", "AES_128_CBC", "SHA", "SHA256", 16, 0, 16, 20, 0),
    (0x0002, "RSA", "RSA", "NULL", "SHA", "SHA256", 0, 0, 0, 20, 0),
    (0x1301, "TLS13", "TLS13", "AES_128_GCM", "AEAD", "SHA256", 16, 12, 0, 0, 16),
    (0x1302, "TLS13", "TLS13", "AES_256_GCM", "AEAD", "SHA384", 32, 12, 0, 0, 16),
    (0x1303, "TLS13", "TLS13", "CHACHA20_POLY1305", "AEAD", "SHA256", 32, 12, 0, 0, 16),
    (0x1304, "TLS13", "TLS13", "AES_128_CCM", "AEAD", "SHA256", 16, 12, 0, 0, 16),
    (0x1305, "TLS13", "TLS13", "AES_128_CCM_8", "AEAD", "SHA256", 16, 12, 0, 0, 8),
]


@pytest.mark.parametrize("row", SUITES, ids=[f"0x{r[0]:04x}" for r in SUITES])
def test_cipher_suite_info(row: tuple[object, ...]) -> None:
    code, kx, auth, cipher, mac, prf, key, fixed_iv, record_iv, mac_len, tag = row
    info = cipher_suite_info(int(code))  # type: ignore[call-overload]
    assert info is not None
    got = (
        info.key_exchange,
        info.authentication,
        info.cipher,
        info.mac,
        info.prf_hash,
        info.key_length,
        info.fixed_iv_length,
        info.record_iv_length,
        info.mac_length,
        info.tag_length,
    )
    assert got == (kx, auth, cipher, mac, prf, key, fixed_iv, record_iv, mac_len, tag)
    assert info.aead == (mac == "AEAD")


def test_every_gcm_ccm_chacha_cbc_suite_has_consistent_parameters() -> None:
    seen = 0
    for code, suite in reg.CIPHER_SUITES.items():
        info = cipher_suite_info(code)
        if any(k in suite for k in ("_GCM", "_CCM", "CHACHA20", "_CBC")) and "_OLD" not in suite:
            if any(k in suite for k in ("KRB5", "EXPORT", "GOST", "DES40", "RC2", "SM4")):
                continue
            assert info is not None, suite
            seen += 1
            if info.aead:
                assert info.tag_length == (8 if "CCM_8" in suite else 16), suite
                assert info.fixed_iv_length + info.record_iv_length == 12, suite
                assert info.mac_length == 0 and info.block_size == 0, suite
            else:
                assert info.block_size in (8, 16) and info.record_iv_length == info.block_size
                assert info.mac_length in (16, 20, 32, 48), suite
            assert info.key_length == (
                32
                if "_256_" in suite or "CHACHA20" in suite
                else 24
                if "3DES" in suite
                else 16
                if "_128_" in suite or "SEED" in suite or "IDEA" in suite
                else 8
            ), suite
            assert info.prf_hash == ("SHA384" if suite.endswith("SHA384") else "SHA256"), suite
    assert seen > 250


def test_no_info_for_signalling_and_unknown_values() -> None:
    for code in (0x00FF, 0x5600, 0x0A0A, 0x1234, 0xCC13):
        assert cipher_suite_info(code) is None
    assert reg.key_exchange(0xC0A8) == "PSK"
    assert reg.key_exchange(0x1234) is None
