"""IANA names for every number the DTLS decoder meets, and cipher suite parameters.

Each table is a :class:`Table` (a ``dict[int, str]`` with a title and a width);
:func:`name` turns a value into its name, or into a readable raw form for values
the table does not know (``0x1234`` for two-byte fields, ``unknown (123)`` for
one-byte fields). GREASE values (RFC 8701) are recognised by :func:`is_grease`.

Sources: the IANA "TLS Parameters" and "TLS ExtensionType Values" registries,
RFC 5246, 5764, 6066, 7301, 7714, 8422, 8446, 9146, 9147 (facts cross-checked
against Wireshark's value tables).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class Table(dict[int, str]):
    """A registry: value -> name, with a title and the field width in bytes."""

    def __init__(self, title: str, width: int, entries: dict[int, str], grease: bool = False):
        super().__init__(entries)
        self.title = title
        self.width = width
        self.grease = grease
        """True for two-byte registries that reserve GREASE values (RFC 8701)."""


def is_grease(v: int) -> bool:
    """True for an RFC 8701 GREASE value: 0x0a0a, 0x1a1a, ... 0xfafa (two bytes)."""
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def raw_form(table: Table, value: int) -> str:
    """The raw rendering used when a value has no name."""
    if table.width >= 2:
        return f"0x{value:0{table.width * 2}x}"
    return f"unknown ({value})"


def name(table: Table, value: int) -> str:
    """Name of ``value`` in ``table``; ``GREASE (0x0a0a)`` or a raw form when unnamed."""
    found = table.get(value)
    if found is not None:
        return found
    if table.grease and is_grease(value):
        return f"GREASE (0x{value:04x})"
    return raw_form(table, value)


def label(table: Table, value: int) -> str:
    """``0xc02b TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256``: hex value then its name."""
    hexv = f"0x{value:0{table.width * 2}x}"
    n = name(table, value)
    return hexv if n == hexv else f"{hexv} {n}"


# --------------------------------------------------------------- record layer

CONTENT_TYPES = Table(
    "content type",
    1,
    {
        20: "change_cipher_spec",
        21: "alert",
        22: "handshake",
        23: "application_data",
        24: "heartbeat",
        25: "tls12_cid",
        26: "ack",
    },
)

VERSIONS = Table(
    "protocol version",
    2,
    {
        0x0100: "DTLS 1.0 (pre-RFC, OpenSSL 0.9.8)",
        0x0300: "SSL 3.0",
        0x0301: "TLS 1.0",
        0x0302: "TLS 1.1",
        0x0303: "TLS 1.2",
        0x0304: "TLS 1.3",
        0xFEFF: "DTLS 1.0",
        0xFEFD: "DTLS 1.2",
        0xFEFC: "DTLS 1.3",
    },
    grease=True,
)

DTLS10_VERSIONS = frozenset({0xFEFF, 0x0100})
"""Versions whose handshake has no SignatureAndHashAlgorithm fields (DTLS 1.0)."""

# ------------------------------------------------------------------ handshake

HANDSHAKE_TYPES = Table(
    "handshake type",
    1,
    {
        0: "HelloRequest",
        1: "ClientHello",
        2: "ServerHello",
        3: "HelloVerifyRequest",
        4: "NewSessionTicket",
        5: "EndOfEarlyData",
        6: "HelloRetryRequest",
        8: "EncryptedExtensions",
        9: "RequestConnectionId",
        10: "NewConnectionId",
        11: "Certificate",
        12: "ServerKeyExchange",
        13: "CertificateRequest",
        14: "ServerHelloDone",
        15: "CertificateVerify",
        16: "ClientKeyExchange",
        17: "ClientCertificateRequest",
        20: "Finished",
        21: "CertificateURL",
        22: "CertificateStatus",
        23: "SupplementalData",
        24: "KeyUpdate",
        25: "CompressedCertificate",
        26: "EKTKey",
        254: "MessageHash",
    },
)

HANDSHAKE_TYPE_IDS = {v: k for k, v in HANDSHAKE_TYPES.items()}
"""Reverse map: RFC name -> handshake type number."""

COMPRESSION_METHODS = Table("compression method", 1, {0: "null", 1: "DEFLATE", 64: "LZS"})

# ---------------------------------------------------------------------- alerts

ALERT_LEVELS = Table("alert level", 1, {1: "warning", 2: "fatal"})

ALERT_DESCRIPTIONS = Table(
    "alert description",
    1,
    {
        0: "close_notify",
        10: "unexpected_message",
        20: "bad_record_mac",
        21: "decryption_failed",
        22: "record_overflow",
        30: "decompression_failure",
        40: "handshake_failure",
        41: "no_certificate",
        42: "bad_certificate",
        43: "unsupported_certificate",
        44: "certificate_revoked",
        45: "certificate_expired",
        46: "certificate_unknown",
        47: "illegal_parameter",
        48: "unknown_ca",
        49: "access_denied",
        50: "decode_error",
        51: "decrypt_error",
        52: "too_many_cids_requested",
        60: "export_restriction",
        70: "protocol_version",
        71: "insufficient_security",
        80: "internal_error",
        86: "inappropriate_fallback",
        90: "user_canceled",
        100: "no_renegotiation",
        109: "missing_extension",
        110: "unsupported_extension",
        111: "certificate_unobtainable",
        112: "unrecognized_name",
        113: "bad_certificate_status_response",
        114: "bad_certificate_hash_value",
        115: "unknown_psk_identity",
        116: "certificate_required",
        117: "general_error",
        120: "no_application_protocol",
        121: "ech_required",
    },
)

# ----------------------------------------------------------------- extensions

EXTENSION_TYPES = Table(
    "extension type",
    2,
    {
        0: "server_name",
        1: "max_fragment_length",
        2: "client_certificate_url",
        3: "trusted_ca_keys",
        4: "truncated_hmac",
        5: "status_request",
        6: "user_mapping",
        7: "client_authz",
        8: "server_authz",
        9: "cert_type",
        10: "supported_groups",
        11: "ec_point_formats",
        12: "srp",
        13: "signature_algorithms",
        14: "use_srtp",
        15: "heartbeat",
        16: "application_layer_protocol_negotiation",
        17: "status_request_v2",
        18: "signed_certificate_timestamp",
        19: "client_certificate_type",
        20: "server_certificate_type",
        21: "padding",
        22: "encrypt_then_mac",
        23: "extended_master_secret",
        24: "token_binding",
        25: "cached_info",
        26: "tls_lts",
        27: "compress_certificate",
        28: "record_size_limit",
        29: "pwd_protect",
        30: "pwd_clear",
        31: "password_salt",
        32: "ticket_pinning",
        33: "tls_cert_with_extern_psk",
        34: "delegated_credential",
        35: "session_ticket",
        36: "TLMSP",
        37: "TLMSP_proxying",
        38: "TLMSP_delegate",
        39: "supported_ekt_ciphers",
        41: "pre_shared_key",
        42: "early_data",
        43: "supported_versions",
        44: "cookie",
        45: "psk_key_exchange_modes",
        47: "certificate_authorities",
        48: "oid_filters",
        49: "post_handshake_auth",
        50: "signature_algorithms_cert",
        51: "key_share",
        52: "transparency_info",
        53: "connection_id (deprecated draft)",
        54: "connection_id",
        55: "external_id_hash",
        56: "external_session_id",
        57: "quic_transport_parameters",
        58: "ticket_request",
        59: "dnssec_chain",
        60: "sequence_number_encryption_algorithms",
        61: "rrc",
        62: "tls_flags",
        13172: "next_protocol_negotiation",
        17513: "application_settings (old)",
        17613: "application_settings",
        30031: "channel_id (old)",
        30032: "channel_id",
        64768: "ech_outer_extensions",
        65037: "encrypted_client_hello",
        65281: "renegotiation_info",
    },
    grease=True,
)

EXT = {v: k for k, v in EXTENSION_TYPES.items()}
"""Reverse map: extension name -> number (``EXT["use_srtp"] == 14``)."""

SERVER_NAME_TYPES = Table("server name type", 1, {0: "host_name"})

CERTIFICATE_STATUS_TYPES = Table("certificate status type", 1, {1: "ocsp", 2: "ocsp_multi"})

MAX_FRAGMENT_LENGTHS = Table("max fragment length", 1, {1: "2^9", 2: "2^10", 3: "2^11", 4: "2^12"})

EC_POINT_FORMATS = Table(
    "EC point format",
    1,
    {0: "uncompressed", 1: "ansiX962_compressed_prime", 2: "ansiX962_compressed_char2"},
)

EC_CURVE_TYPES = Table(
    "EC curve type", 1, {1: "explicit_prime", 2: "explicit_char2", 3: "named_curve"}
)

PSK_KEY_EXCHANGE_MODES = Table("PSK key exchange mode", 1, {0: "psk_ke", 1: "psk_dhe_ke"})

CERTIFICATE_TYPES = Table(
    "client certificate type",
    1,
    {
        1: "rsa_sign",
        2: "dss_sign",
        3: "rsa_fixed_dh",
        4: "dss_fixed_dh",
        5: "rsa_ephemeral_dh",
        6: "dss_ephemeral_dh",
        20: "fortezza_dms",
        64: "ecdsa_sign",
        65: "rsa_fixed_ecdh",
        66: "ecdsa_fixed_ecdh",
        67: "gost_sign256",
        68: "gost_sign512",
    },
)
"""ClientCertificateType (CertificateRequest.certificate_types)."""

CERT_TYPE_VALUES = Table("certificate type", 1, {0: "X509", 1: "OpenPGP", 2: "RawPublicKey"})
"""client_certificate_type / server_certificate_type extension values (RFC 7250)."""

SRTP_PROFILES = Table(
    "SRTP protection profile",
    2,
    {
        0x0001: "SRTP_AES128_CM_HMAC_SHA1_80",
        0x0002: "SRTP_AES128_CM_HMAC_SHA1_32",
        0x0005: "SRTP_NULL_HMAC_SHA1_80",
        0x0006: "SRTP_NULL_HMAC_SHA1_32",
        0x0007: "SRTP_AEAD_AES_128_GCM",
        0x0008: "SRTP_AEAD_AES_256_GCM",
        0x0009: "DOUBLE_AEAD_AES_128_GCM_AEAD_AES_128_GCM",
        0x000A: "DOUBLE_AEAD_AES_256_GCM_AEAD_AES_256_GCM",
        0x000B: "SRTP_ARIA_128_CTR_HMAC_SHA1_80",
        0x000C: "SRTP_ARIA_128_CTR_HMAC_SHA1_32",
        0x000D: "SRTP_ARIA_256_CTR_HMAC_SHA1_80",
        0x000E: "SRTP_ARIA_256_CTR_HMAC_SHA1_32",
        0x000F: "SRTP_AEAD_ARIA_128_GCM",
        0x0010: "SRTP_AEAD_ARIA_256_GCM",
    },
)

# ------------------------------------------------------- groups and signatures

_GROUPS = {
    1: "sect163k1",
    2: "sect163r1",
    3: "sect163r2",
    4: "sect193r1",
    5: "sect193r2",
    6: "sect233k1",
    7: "sect233r1",
    8: "sect239k1",
    9: "sect283k1",
    10: "sect283r1",
    11: "sect409k1",
    12: "sect409r1",
    13: "sect571k1",
    14: "sect571r1",
    15: "secp160k1",
    16: "secp160r1",
    17: "secp160r2",
    18: "secp192k1",
    19: "secp192r1",
    20: "secp224k1",
    21: "secp224r1",
    22: "secp256k1",
    23: "secp256r1",
    24: "secp384r1",
    25: "secp521r1",
    26: "brainpoolP256r1",
    27: "brainpoolP384r1",
    28: "brainpoolP512r1",
    29: "x25519",
    30: "x448",
    31: "brainpoolP256r1tls13",
    32: "brainpoolP384r1tls13",
    33: "brainpoolP512r1tls13",
    34: "GC256A",
    35: "GC256B",
    36: "GC256C",
    37: "GC256D",
    38: "GC512A",
    39: "GC512B",
    40: "GC512C",
    41: "curveSM2",
    0x0100: "ffdhe2048",
    0x0101: "ffdhe3072",
    0x0102: "ffdhe4096",
    0x0103: "ffdhe6144",
    0x0104: "ffdhe8192",
    0x0200: "MLKEM512",
    0x0201: "MLKEM768",
    0x0202: "MLKEM1024",
    0x11EB: "SecP256r1MLKEM768",
    0x11EC: "X25519MLKEM768",
    0x11ED: "SecP384r1MLKEM1024",
    0x6399: "X25519Kyber768Draft00",
    0x639A: "SecP256r1Kyber768Draft00",
    0xFF01: "arbitrary_explicit_prime_curves",
    0xFF02: "arbitrary_explicit_char2_curves",
}

SUPPORTED_GROUPS = Table("named group", 2, _GROUPS, grease=True)

SIGNATURE_SCHEMES = Table(
    "signature scheme",
    2,
    {
        # legacy TLS 1.2 hash/signature pairs (RFC 5246 §7.4.1.4.1)
        0x0101: "rsa_pkcs1_md5",
        0x0102: "dsa_md5",
        0x0103: "ecdsa_md5",
        0x0201: "rsa_pkcs1_sha1",
        0x0202: "dsa_sha1",
        0x0203: "ecdsa_sha1",
        0x0301: "rsa_pkcs1_sha224",
        0x0302: "dsa_sha224",
        0x0303: "ecdsa_sha224",
        0x0401: "rsa_pkcs1_sha256",
        0x0402: "dsa_sha256",
        0x0403: "ecdsa_secp256r1_sha256",
        0x0420: "rsa_pkcs1_sha256_legacy",
        0x0501: "rsa_pkcs1_sha384",
        0x0502: "dsa_sha384",
        0x0503: "ecdsa_secp384r1_sha384",
        0x0520: "rsa_pkcs1_sha384_legacy",
        0x0601: "rsa_pkcs1_sha512",
        0x0602: "dsa_sha512",
        0x0603: "ecdsa_secp521r1_sha512",
        0x0620: "rsa_pkcs1_sha512_legacy",
        0x0704: "eccsi_sha256",
        0x0705: "iso_ibs1",
        0x0706: "iso_ibs2",
        0x0707: "iso_chinese_ibs",
        0x0708: "sm2sig_sm3",
        0x0709: "gostr34102012_256a",
        0x070A: "gostr34102012_256b",
        0x070B: "gostr34102012_256c",
        0x070C: "gostr34102012_256d",
        0x070D: "gostr34102012_512a",
        0x070E: "gostr34102012_512b",
        0x070F: "gostr34102012_512c",
        0x0804: "rsa_pss_rsae_sha256",
        0x0805: "rsa_pss_rsae_sha384",
        0x0806: "rsa_pss_rsae_sha512",
        0x0807: "ed25519",
        0x0808: "ed448",
        0x0809: "rsa_pss_pss_sha256",
        0x080A: "rsa_pss_pss_sha384",
        0x080B: "rsa_pss_pss_sha512",
        0x081A: "ecdsa_brainpoolP256r1tls13_sha256",
        0x081B: "ecdsa_brainpoolP384r1tls13_sha384",
        0x081C: "ecdsa_brainpoolP512r1tls13_sha512",
        0x0904: "mldsa44",
        0x0905: "mldsa65",
        0x0906: "mldsa87",
    },
    grease=True,
)
"""SignatureScheme (TLS 1.3 names); in TLS 1.2 the same two bytes are hash then signature."""

HASH_ALGORITHMS = Table(
    "hash algorithm",
    1,
    {
        0: "none",
        1: "md5",
        2: "sha1",
        3: "sha224",
        4: "sha256",
        5: "sha384",
        6: "sha512",
        8: "intrinsic",
    },
)
"""TLS 1.2 HashAlgorithm (first byte of SignatureAndHashAlgorithm)."""

SIGNATURE_ALGORITHMS = Table(
    "signature algorithm",
    1,
    {
        0: "anonymous",
        1: "rsa",
        2: "dsa",
        3: "ecdsa",
        7: "ed25519",
        8: "ed448",
        64: "gostr34102012_256",
        65: "gostr34102012_512",
    },
)
"""TLS 1.2 SignatureAlgorithm (second byte of SignatureAndHashAlgorithm)."""


def signature_scheme_name(v: int) -> str:
    """Name of a SignatureScheme, else the TLS 1.2 ``hash+signature`` byte names, else hex."""
    known = SIGNATURE_SCHEMES.get(v)
    if known is not None:
        return known
    if is_grease(v):
        return f"GREASE (0x{v:04x})"
    h, s = HASH_ALGORITHMS.get(v >> 8), SIGNATURE_ALGORITHMS.get(v & 0xFF)
    if h is not None and s is not None:
        return f"{s}_{h}"
    return f"0x{v:04x}"


# -------------------------------------------------------------- cipher suites

CIPHER_SUITES = Table(
    "cipher suite",
    2,
    {
        0x0000: "TLS_NULL_WITH_NULL_NULL",
        0x0001: "TLS_RSA_WITH_NULL_MD5",
        0x0002: "TLS_RSA_WITH_NULL_SHA",
        0x0003: "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
        0x0004: "TLS_RSA_WITH_RC4_128_MD5",
        0x0005: "TLS_RSA_WITH_RC4_128_SHA",
        0x0006: "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
        0x0007: "TLS_RSA_WITH_IDEA_CBC_SHA",
        0x0008: "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA",
        0x0009: "TLS_RSA_WITH_DES_CBC_SHA",
        0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        0x000B: "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA",
        0x000C: "TLS_DH_DSS_WITH_DES_CBC_SHA",
        0x000D: "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA",
        0x000E: "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA",
        0x000F: "TLS_DH_RSA_WITH_DES_CBC_SHA",
        0x0010: "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA",
        0x0011: "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA",
        0x0012: "TLS_DHE_DSS_WITH_DES_CBC_SHA",
        0x0013: "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA",
        0x0014: "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA",
        0x0015: "TLS_DHE_RSA_WITH_DES_CBC_SHA",
        0x0016: "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0x0017: "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5",
        0x0018: "TLS_DH_anon_WITH_RC4_128_MD5",
        0x0019: "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA",
        0x001A: "TLS_DH_anon_WITH_DES_CBC_SHA",
        0x001B: "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA",
        0x001E: "TLS_KRB5_WITH_DES_CBC_SHA",
        0x001F: "TLS_KRB5_WITH_3DES_EDE_CBC_SHA",
        0x0020: "TLS_KRB5_WITH_RC4_128_SHA",
        0x0021: "TLS_KRB5_WITH_IDEA_CBC_SHA",
        0x0022: "TLS_KRB5_WITH_DES_CBC_MD5",
        0x0023: "TLS_KRB5_WITH_3DES_EDE_CBC_MD5",
        0x0024: "TLS_KRB5_WITH_RC4_128_MD5",
        0x0025: "TLS_KRB5_WITH_IDEA_CBC_MD5",
        0x0026: "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA",
        0x0027: "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA",
        0x0028: "TLS_KRB5_EXPORT_WITH_RC4_40_SHA",
        0x0029: "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5",
        0x002A: "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5",
        0x002B: "TLS_KRB5_EXPORT_WITH_RC4_40_MD5",
        0x002C: "TLS_PSK_WITH_NULL_SHA",
        0x002D: "TLS_DHE_PSK_WITH_NULL_SHA",
        0x002E: "TLS_RSA_PSK_WITH_NULL_SHA",
        0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
        0x0030: "TLS_DH_DSS_WITH_AES_128_CBC_SHA",
        0x0031: "TLS_DH_RSA_WITH_AES_128_CBC_SHA",
        0x0032: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA",
        0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
        0x0034: "TLS_DH_anon_WITH_AES_128_CBC_SHA",
        0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
        0x0036: "TLS_DH_DSS_WITH_AES_256_CBC_SHA",
        0x0037: "TLS_DH_RSA_WITH_AES_256_CBC_SHA",
        0x0038: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA",
        0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
        0x003A: "TLS_DH_anon_WITH_AES_256_CBC_SHA",
        0x003B: "TLS_RSA_WITH_NULL_SHA256",
        0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
        0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
        0x003E: "TLS_DH_DSS_WITH_AES_128_CBC_SHA256",
        0x003F: "TLS_DH_RSA_WITH_AES_128_CBC_SHA256",
        0x0040: "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256",
        0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
        0x0042: "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA",
        0x0043: "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA",
        0x0044: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA",
        0x0045: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
        0x0046: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA",
        0x0060: "TLS_RSA_EXPORT1024_WITH_RC4_56_MD5",
        0x0061: "TLS_RSA_EXPORT1024_WITH_RC2_CBC_56_MD5",
        0x0062: "TLS_RSA_EXPORT1024_WITH_DES_CBC_SHA",
        0x0063: "TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA",
        0x0064: "TLS_RSA_EXPORT1024_WITH_RC4_56_SHA",
        0x0065: "TLS_DHE_DSS_EXPORT1024_WITH_RC4_56_SHA",
        0x0066: "TLS_DHE_DSS_WITH_RC4_128_SHA",
        0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
        0x0068: "TLS_DH_DSS_WITH_AES_256_CBC_SHA256",
        0x0069: "TLS_DH_RSA_WITH_AES_256_CBC_SHA256",
        0x006A: "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256",
        0x006B: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
        0x006C: "TLS_DH_anon_WITH_AES_128_CBC_SHA256",
        0x006D: "TLS_DH_anon_WITH_AES_256_CBC_SHA256",
        0x0080: "TLS_GOSTR341094_WITH_28147_CNT_IMIT",
        0x0081: "TLS_GOSTR341001_WITH_28147_CNT_IMIT",
        0x0082: "TLS_GOSTR341094_WITH_NULL_GOSTR3411",
        0x0083: "TLS_GOSTR341001_WITH_NULL_GOSTR3411",
        0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
        0x0085: "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA",
        0x0086: "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA",
        0x0087: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA",
        0x0088: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA",
        0x0089: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA",
        0x008A: "TLS_PSK_WITH_RC4_128_SHA",
        0x008B: "TLS_PSK_WITH_3DES_EDE_CBC_SHA",
        0x008C: "TLS_PSK_WITH_AES_128_CBC_SHA",
        0x008D: "TLS_PSK_WITH_AES_256_CBC_SHA",
        0x008E: "TLS_DHE_PSK_WITH_RC4_128_SHA",
        0x008F: "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA",
        0x0090: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA",
        0x0091: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA",
        0x0092: "TLS_RSA_PSK_WITH_RC4_128_SHA",
        0x0093: "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA",
        0x0094: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA",
        0x0095: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA",
        0x0096: "TLS_RSA_WITH_SEED_CBC_SHA",
        0x0097: "TLS_DH_DSS_WITH_SEED_CBC_SHA",
        0x0098: "TLS_DH_RSA_WITH_SEED_CBC_SHA",
        0x0099: "TLS_DHE_DSS_WITH_SEED_CBC_SHA",
        0x009A: "TLS_DHE_RSA_WITH_SEED_CBC_SHA",
        0x009B: "TLS_DH_anon_WITH_SEED_CBC_SHA",
        0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
        0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
        0x009E: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
        0x009F: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
        0x00A0: "TLS_DH_RSA_WITH_AES_128_GCM_SHA256",
        0x00A1: "TLS_DH_RSA_WITH_AES_256_GCM_SHA384",
        0x00A2: "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256",
        0x00A3: "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384",
        0x00A4: "TLS_DH_DSS_WITH_AES_128_GCM_SHA256",
        0x00A5: "TLS_DH_DSS_WITH_AES_256_GCM_SHA384",
        0x00A6: "TLS_DH_anon_WITH_AES_128_GCM_SHA256",
        0x00A7: "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
        0x00A8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
        0x00A9: "TLS_PSK_WITH_AES_256_GCM_SHA384",
        0x00AA: "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256",
        0x00AB: "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384",
        0x00AC: "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256",
        0x00AD: "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384",
        0x00AE: "TLS_PSK_WITH_AES_128_CBC_SHA256",
        0x00AF: "TLS_PSK_WITH_AES_256_CBC_SHA384",
        0x00B0: "TLS_PSK_WITH_NULL_SHA256",
        0x00B1: "TLS_PSK_WITH_NULL_SHA384",
        0x00B2: "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256",
        0x00B3: "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384",
        0x00B4: "TLS_DHE_PSK_WITH_NULL_SHA256",
        0x00B5: "TLS_DHE_PSK_WITH_NULL_SHA384",
        0x00B6: "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256",
        0x00B7: "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384",
        0x00B8: "TLS_RSA_PSK_WITH_NULL_SHA256",
        0x00B9: "TLS_RSA_PSK_WITH_NULL_SHA384",
        0x00BA: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256",
        0x00BB: "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA256",
        0x00BC: "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA256",
        0x00BD: "TLS_DHE_DSS_WITH_CAMELLIA_128_CBC_SHA256",
        0x00BE: "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
        0x00BF: "TLS_DH_anon_WITH_CAMELLIA_128_CBC_SHA256",
        0x00C0: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256",
        0x00C1: "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA256",
        0x00C2: "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA256",
        0x00C3: "TLS_DHE_DSS_WITH_CAMELLIA_256_CBC_SHA256",
        0x00C4: "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256",
        0x00C5: "TLS_DH_anon_WITH_CAMELLIA_256_CBC_SHA256",
        0x00C6: "TLS_SM4_GCM_SM3",
        0x00C7: "TLS_SM4_CCM_SM3",
        0x00FF: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
        0x1301: "TLS_AES_128_GCM_SHA256",
        0x1302: "TLS_AES_256_GCM_SHA384",
        0x1303: "TLS_CHACHA20_POLY1305_SHA256",
        0x1304: "TLS_AES_128_CCM_SHA256",
        0x1305: "TLS_AES_128_CCM_8_SHA256",
        0x1306: "TLS_AEGIS_256_SHA512",
        0x1307: "TLS_AEGIS_128L_SHA256",
        0x5600: "TLS_FALLBACK_SCSV",
        0xC001: "TLS_ECDH_ECDSA_WITH_NULL_SHA",
        0xC002: "TLS_ECDH_ECDSA_WITH_RC4_128_SHA",
        0xC003: "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA",
        0xC004: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA",
        0xC005: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA",
        0xC006: "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
        0xC007: "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        0xC008: "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA",
        0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        0xC00B: "TLS_ECDH_RSA_WITH_NULL_SHA",
        0xC00C: "TLS_ECDH_RSA_WITH_RC4_128_SHA",
        0xC00D: "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA",
        0xC00E: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA",
        0xC00F: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA",
        0xC010: "TLS_ECDHE_RSA_WITH_NULL_SHA",
        0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        0xC015: "TLS_ECDH_anon_WITH_NULL_SHA",
        0xC016: "TLS_ECDH_anon_WITH_RC4_128_SHA",
        0xC017: "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA",
        0xC018: "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
        0xC019: "TLS_ECDH_anon_WITH_AES_256_CBC_SHA",
        0xC01A: "TLS_SRP_SHA_WITH_3DES_EDE_CBC_SHA",
        0xC01B: "TLS_SRP_SHA_RSA_WITH_3DES_EDE_CBC_SHA",
        0xC01C: "TLS_SRP_SHA_DSS_WITH_3DES_EDE_CBC_SHA",
        0xC01D: "TLS_SRP_SHA_WITH_AES_128_CBC_SHA",
        0xC01E: "TLS_SRP_SHA_RSA_WITH_AES_128_CBC_SHA",
        0xC01F: "TLS_SRP_SHA_DSS_WITH_AES_128_CBC_SHA",
        0xC020: "TLS_SRP_SHA_WITH_AES_256_CBC_SHA",
        0xC021: "TLS_SRP_SHA_RSA_WITH_AES_256_CBC_SHA",
        0xC022: "TLS_SRP_SHA_DSS_WITH_AES_256_CBC_SHA",
        0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
        0xC025: "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256",
        0xC026: "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384",
        0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
        0xC029: "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256",
        0xC02A: "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384",
        0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        0xC02D: "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
        0xC02E: "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384",
        0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        0xC031: "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
        0xC032: "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384",
        0xC033: "TLS_ECDHE_PSK_WITH_RC4_128_SHA",
        0xC034: "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA",
        0xC035: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA",
        0xC036: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA",
        0xC037: "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256",
        0xC038: "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384",
        0xC039: "TLS_ECDHE_PSK_WITH_NULL_SHA",
        0xC03A: "TLS_ECDHE_PSK_WITH_NULL_SHA256",
        0xC03B: "TLS_ECDHE_PSK_WITH_NULL_SHA384",
        0xC03C: "TLS_RSA_WITH_ARIA_128_CBC_SHA256",
        0xC03D: "TLS_RSA_WITH_ARIA_256_CBC_SHA384",
        0xC03E: "TLS_DH_DSS_WITH_ARIA_128_CBC_SHA256",
        0xC03F: "TLS_DH_DSS_WITH_ARIA_256_CBC_SHA384",
        0xC040: "TLS_DH_RSA_WITH_ARIA_128_CBC_SHA256",
        0xC041: "TLS_DH_RSA_WITH_ARIA_256_CBC_SHA384",
        0xC042: "TLS_DHE_DSS_WITH_ARIA_128_CBC_SHA256",
        0xC043: "TLS_DHE_DSS_WITH_ARIA_256_CBC_SHA384",
        0xC044: "TLS_DHE_RSA_WITH_ARIA_128_CBC_SHA256",
        0xC045: "TLS_DHE_RSA_WITH_ARIA_256_CBC_SHA384",
        0xC046: "TLS_DH_anon_WITH_ARIA_128_CBC_SHA256",
        0xC047: "TLS_DH_anon_WITH_ARIA_256_CBC_SHA384",
        0xC048: "TLS_ECDHE_ECDSA_WITH_ARIA_128_CBC_SHA256",
        0xC049: "TLS_ECDHE_ECDSA_WITH_ARIA_256_CBC_SHA384",
        0xC04A: "TLS_ECDH_ECDSA_WITH_ARIA_128_CBC_SHA256",
        0xC04B: "TLS_ECDH_ECDSA_WITH_ARIA_256_CBC_SHA384",
        0xC04C: "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256",
        0xC04D: "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384",
        0xC04E: "TLS_ECDH_RSA_WITH_ARIA_128_CBC_SHA256",
        0xC04F: "TLS_ECDH_RSA_WITH_ARIA_256_CBC_SHA384",
        0xC050: "TLS_RSA_WITH_ARIA_128_GCM_SHA256",
        0xC051: "TLS_RSA_WITH_ARIA_256_GCM_SHA384",
        0xC052: "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256",
        0xC053: "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384",
        0xC054: "TLS_DH_RSA_WITH_ARIA_128_GCM_SHA256",
        0xC055: "TLS_DH_RSA_WITH_ARIA_256_GCM_SHA384",
        0xC056: "TLS_DHE_DSS_WITH_ARIA_128_GCM_SHA256",
        0xC057: "TLS_DHE_DSS_WITH_ARIA_256_GCM_SHA384",
        0xC058: "TLS_DH_DSS_WITH_ARIA_128_GCM_SHA256",
        0xC059: "TLS_DH_DSS_WITH_ARIA_256_GCM_SHA384",
        0xC05A: "TLS_DH_anon_WITH_ARIA_128_GCM_SHA256",
        0xC05B: "TLS_DH_anon_WITH_ARIA_256_GCM_SHA384",
        0xC05C: "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256",
        0xC05D: "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384",
        0xC05E: "TLS_ECDH_ECDSA_WITH_ARIA_128_GCM_SHA256",
        0xC05F: "TLS_ECDH_ECDSA_WITH_ARIA_256_GCM_SHA384",
        0xC060: "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
        0xC061: "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384",
        0xC062: "TLS_ECDH_RSA_WITH_ARIA_128_GCM_SHA256",
        0xC063: "TLS_ECDH_RSA_WITH_ARIA_256_GCM_SHA384",
        0xC064: "TLS_PSK_WITH_ARIA_128_CBC_SHA256",
        0xC065: "TLS_PSK_WITH_ARIA_256_CBC_SHA384",
        0xC066: "TLS_DHE_PSK_WITH_ARIA_128_CBC_SHA256",
        0xC067: "TLS_DHE_PSK_WITH_ARIA_256_CBC_SHA384",
        0xC068: "TLS_RSA_PSK_WITH_ARIA_128_CBC_SHA256",
        0xC069: "TLS_RSA_PSK_WITH_ARIA_256_CBC_SHA384",
        0xC06A: "TLS_PSK_WITH_ARIA_128_GCM_SHA256",
        0xC06B: "TLS_PSK_WITH_ARIA_256_GCM_SHA384",
        0xC06C: "TLS_DHE_PSK_WITH_ARIA_128_GCM_SHA256",
        0xC06D: "TLS_DHE_PSK_WITH_ARIA_256_GCM_SHA384",
        0xC06E: "TLS_RSA_PSK_WITH_ARIA_128_GCM_SHA256",
        0xC06F: "TLS_RSA_PSK_WITH_ARIA_256_GCM_SHA384",
        0xC070: "TLS_ECDHE_PSK_WITH_ARIA_128_CBC_SHA256",
        0xC071: "TLS_ECDHE_PSK_WITH_ARIA_256_CBC_SHA384",
        0xC072: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
        0xC073: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
        0xC074: "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_CBC_SHA256",
        0xC075: "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_CBC_SHA384",
        0xC076: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256",
        0xC077: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384",
        0xC078: "TLS_ECDH_RSA_WITH_CAMELLIA_128_CBC_SHA256",
        0xC079: "TLS_ECDH_RSA_WITH_CAMELLIA_256_CBC_SHA384",
        0xC07A: "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256",
        0xC07B: "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384",
        0xC07C: "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
        0xC07D: "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
        0xC07E: "TLS_DH_RSA_WITH_CAMELLIA_128_GCM_SHA256",
        0xC07F: "TLS_DH_RSA_WITH_CAMELLIA_256_GCM_SHA384",
        0xC080: "TLS_DHE_DSS_WITH_CAMELLIA_128_GCM_SHA256",
        0xC081: "TLS_DHE_DSS_WITH_CAMELLIA_256_GCM_SHA384",
        0xC082: "TLS_DH_DSS_WITH_CAMELLIA_128_GCM_SHA256",
        0xC083: "TLS_DH_DSS_WITH_CAMELLIA_256_GCM_SHA384",
        0xC084: "TLS_DH_anon_WITH_CAMELLIA_128_GCM_SHA256",
        0xC085: "TLS_DH_anon_WITH_CAMELLIA_256_GCM_SHA384",
        0xC086: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256",
        0xC087: "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
        0xC088: "TLS_ECDH_ECDSA_WITH_CAMELLIA_128_GCM_SHA256",
        0xC089: "TLS_ECDH_ECDSA_WITH_CAMELLIA_256_GCM_SHA384",
        0xC08A: "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256",
        0xC08B: "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384",
        0xC08C: "TLS_ECDH_RSA_WITH_CAMELLIA_128_GCM_SHA256",
        0xC08D: "TLS_ECDH_RSA_WITH_CAMELLIA_256_GCM_SHA384",
        0xC08E: "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256",
        0xC08F: "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384",
        0xC090: "TLS_DHE_PSK_WITH_CAMELLIA_128_GCM_SHA256",
        0xC091: "TLS_DHE_PSK_WITH_CAMELLIA_256_GCM_SHA384",
        0xC092: "TLS_RSA_PSK_WITH_CAMELLIA_128_GCM_SHA256",
        0xC093: "TLS_RSA_PSK_WITH_CAMELLIA_256_GCM_SHA384",
        0xC094: "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256",
        0xC095: "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384",
        0xC096: "TLS_DHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
        0xC097: "TLS_DHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
        0xC098: "TLS_RSA_PSK_WITH_CAMELLIA_128_CBC_SHA256",
        0xC099: "TLS_RSA_PSK_WITH_CAMELLIA_256_CBC_SHA384",
        0xC09A: "TLS_ECDHE_PSK_WITH_CAMELLIA_128_CBC_SHA256",
        0xC09B: "TLS_ECDHE_PSK_WITH_CAMELLIA_256_CBC_SHA384",
        0xC09C: "TLS_RSA_WITH_AES_128_CCM",
        0xC09D: "TLS_RSA_WITH_AES_256_CCM",
        0xC09E: "TLS_DHE_RSA_WITH_AES_128_CCM",
        0xC09F: "TLS_DHE_RSA_WITH_AES_256_CCM",
        0xC0A0: "TLS_RSA_WITH_AES_128_CCM_8",
        0xC0A1: "TLS_RSA_WITH_AES_256_CCM_8",
        0xC0A2: "TLS_DHE_RSA_WITH_AES_128_CCM_8",
        0xC0A3: "TLS_DHE_RSA_WITH_AES_256_CCM_8",
        0xC0A4: "TLS_PSK_WITH_AES_128_CCM",
        0xC0A5: "TLS_PSK_WITH_AES_256_CCM",
        0xC0A6: "TLS_DHE_PSK_WITH_AES_128_CCM",
        0xC0A7: "TLS_DHE_PSK_WITH_AES_256_CCM",
        0xC0A8: "TLS_PSK_WITH_AES_128_CCM_8",
        0xC0A9: "TLS_PSK_WITH_AES_256_CCM_8",
        0xC0AA: "TLS_PSK_DHE_WITH_AES_128_CCM_8",
        0xC0AB: "TLS_PSK_DHE_WITH_AES_256_CCM_8",
        0xC0AC: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
        0xC0AD: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
        0xC0AE: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
        0xC0AF: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
        0xC0B0: "TLS_ECCPWD_WITH_AES_128_GCM_SHA256",
        0xC0B1: "TLS_ECCPWD_WITH_AES_256_GCM_SHA384",
        0xC0B2: "TLS_ECCPWD_WITH_AES_128_CCM_SHA256",
        0xC0B3: "TLS_ECCPWD_WITH_AES_256_CCM_SHA384",
        0xC0B4: "TLS_SHA256_SHA256",
        0xC0B5: "TLS_SHA384_SHA384",
        0xC0FF: "TLS_ECJPAKE_WITH_AES_128_CCM_8",
        0xC100: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_CTR_OMAC",
        0xC101: "TLS_GOSTR341112_256_WITH_MAGMA_CTR_OMAC",
        0xC102: "TLS_GOSTR341112_256_WITH_28147_CNT_IMIT",
        0xC103: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_L",
        0xC104: "TLS_GOSTR341112_256_WITH_MAGMA_MGM_L",
        0xC105: "TLS_GOSTR341112_256_WITH_KUZNYECHIK_MGM_S",
        0xC106: "TLS_GOSTR341112_256_WITH_MAGMA_MGM_S",
        0xCC13: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
        0xCC14: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
        0xCC15: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD",
        0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAA: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAB: "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAC: "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAD: "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256",
        0xCCAE: "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256",
        0xD001: "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256",
        0xD002: "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384",
        0xD003: "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256",
        0xD005: "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256",
    },
    grease=True,
)
"""Every IANA TLS cipher suite (plus the pre-RFC ChaCha20 code points 0xcc13-15, "_OLD")."""

SCSV_SUITES = frozenset({0x00FF, 0x5600})
"""Signalling values, not real suites: EMPTY_RENEGOTIATION_INFO and FALLBACK."""


@dataclass(frozen=True, slots=True)
class CipherSuiteInfo:
    """What a cipher suite means for the handshake and for record protection.

    Lengths are in bytes. For TLS 1.2-style AEAD suites (GCM, CCM, CCM_8) the
    nonce is ``fixed_iv`` (4, from the key block) + ``record_iv`` (8, explicit in
    each record); ChaCha20-Poly1305 and TLS 1.3 suites have a 12-byte fixed IV and
    no explicit part. For CBC suites ``record_iv_length`` is the block size (the
    explicit per-record IV of DTLS) and ``fixed_iv_length`` is 0 (no IV is taken
    from the key block; implementations that derive one put it last, unused).
    ``prf_hash`` is the TLS 1.2 PRF / TLS 1.3 HKDF hash (DTLS 1.0 always uses the
    MD5+SHA1 PRF regardless).
    """

    code: int
    name: str
    key_exchange: str
    """RSA, DHE, ECDHE, DH, ECDH, PSK, DHE_PSK, RSA_PSK, ECDHE_PSK, SRP, NULL, TLS13 ..."""
    authentication: str
    """RSA, ECDSA, DSS, PSK, anon, NULL, TLS13 (certificate-based, negotiated separately)..."""
    cipher: str
    """Bulk cipher as in the suite name: AES_128_GCM, AES_128_CCM_8, CHACHA20_POLY1305,
    AES_256_CBC, 3DES_EDE_CBC, NULL ..."""
    mac: str
    """SHA, SHA256, SHA384, MD5 (HMAC), or AEAD."""
    prf_hash: str
    """SHA256, SHA384 (SHA512 for AEGIS-256), SM3."""
    key_length: int
    fixed_iv_length: int
    record_iv_length: int
    mac_length: int
    """HMAC output (= MAC key) length; 0 for AEAD."""
    tag_length: int
    """AEAD tag length (16, or 8 for CCM_8); 0 otherwise."""
    block_size: int
    """Cipher block size for CBC (padding unit); 0 for stream/AEAD/NULL."""
    tls13: bool = False

    @property
    def aead(self) -> bool:
        """True for AEAD suites (GCM, CCM, ChaCha20-Poly1305, all TLS 1.3 suites)."""
        return self.mac == "AEAD"


# cipher token -> (key_length, block_size, aead tag length or 0, kind)
_CIPHERS: dict[str, tuple[int, int, int, str]] = {
    "NULL": (0, 0, 0, "stream"),
    "RC4_128": (16, 0, 0, "stream"),
    "DES_CBC": (8, 8, 0, "block"),
    "3DES_EDE_CBC": (24, 8, 0, "block"),
    "IDEA_CBC": (16, 8, 0, "block"),
    "SEED_CBC": (16, 16, 0, "block"),
    "AES_128_CBC": (16, 16, 0, "block"),
    "AES_256_CBC": (32, 16, 0, "block"),
    "CAMELLIA_128_CBC": (16, 16, 0, "block"),
    "CAMELLIA_256_CBC": (32, 16, 0, "block"),
    "ARIA_128_CBC": (16, 16, 0, "block"),
    "ARIA_256_CBC": (32, 16, 0, "block"),
    "AES_128_GCM": (16, 0, 16, "aead"),
    "AES_256_GCM": (32, 0, 16, "aead"),
    "ARIA_128_GCM": (16, 0, 16, "aead"),
    "ARIA_256_GCM": (32, 0, 16, "aead"),
    "CAMELLIA_128_GCM": (16, 0, 16, "aead"),
    "CAMELLIA_256_GCM": (32, 0, 16, "aead"),
    "AES_128_CCM": (16, 0, 16, "aead"),
    "AES_256_CCM": (32, 0, 16, "aead"),
    "AES_128_CCM_8": (16, 0, 8, "aead"),
    "AES_256_CCM_8": (32, 0, 8, "aead"),
    "CHACHA20_POLY1305": (32, 0, 16, "chacha"),
    "SM4_GCM": (16, 0, 16, "aead"),
    "SM4_CCM": (16, 0, 16, "aead"),
}

_MACS = {"MD5": 16, "SHA": 20, "SHA256": 32, "SHA384": 48, "SHA512": 64, "SM3": 32}

_KX_AUTH: dict[str, tuple[str, str]] = {
    "NULL": ("NULL", "NULL"),
    "RSA": ("RSA", "RSA"),
    "RSA_EXPORT": ("RSA", "RSA"),
    "RSA_EXPORT1024": ("RSA", "RSA"),
    "RSA_FIPS": ("RSA", "RSA"),
    "DH_DSS": ("DH", "DSS"),
    "DH_DSS_EXPORT": ("DH", "DSS"),
    "DH_RSA": ("DH", "RSA"),
    "DH_RSA_EXPORT": ("DH", "RSA"),
    "DHE_DSS": ("DHE", "DSS"),
    "DHE_DSS_EXPORT": ("DHE", "DSS"),
    "DHE_DSS_EXPORT1024": ("DHE", "DSS"),
    "DHE_RSA": ("DHE", "RSA"),
    "DHE_RSA_EXPORT": ("DHE", "RSA"),
    "DH_anon": ("DHE", "anon"),
    "DH_anon_EXPORT": ("DHE", "anon"),
    "PSK": ("PSK", "PSK"),
    "DHE_PSK": ("DHE_PSK", "PSK"),
    "PSK_DHE": ("DHE_PSK", "PSK"),
    "RSA_PSK": ("RSA_PSK", "RSA"),
    "ECDHE_PSK": ("ECDHE_PSK", "PSK"),
    "ECDH_ECDSA": ("ECDH", "ECDSA"),
    "ECDHE_ECDSA": ("ECDHE", "ECDSA"),
    "ECDH_RSA": ("ECDH", "RSA"),
    "ECDHE_RSA": ("ECDHE", "RSA"),
    "ECDH_anon": ("ECDHE", "anon"),
    "SRP_SHA": ("SRP", "SRP"),
    "SRP_SHA_RSA": ("SRP", "RSA"),
    "SRP_SHA_DSS": ("SRP", "DSS"),
    "ECCPWD": ("ECCPWD", "ECCPWD"),
    "ECJPAKE": ("ECJPAKE", "ECJPAKE"),
}

_TLS13_HASH = re.compile(r"^TLS_(?P<cipher>.+)_(?P<hash>SHA256|SHA384|SHA512|SM3)$")


def _split(code: int) -> tuple[str, str, str, str] | None:
    """(key_exchange, authentication, cipher, mac-or-hash token) parsed from the name."""
    suite = CIPHER_SUITES.get(code)
    if suite is None or code in SCSV_SUITES or suite.endswith("_OLD"):
        return None
    if "_WITH_" in suite:
        left, right = suite[4:].split("_WITH_", 1)
        kx, auth = _KX_AUTH.get(left, (left, left))
        cipher, _, mac = right.rpartition("_")
        if mac in ("CCM", "8") or not cipher:  # e.g. AES_128_CCM, AES_128_CCM_8: no hash token
            return kx, auth, right, ""
        return kx, auth, cipher, mac
    m = _TLS13_HASH.match(suite)
    if m is None:
        return None
    return "TLS13", "TLS13", m["cipher"], m["hash"]


def key_exchange(code: int) -> str | None:
    """Key exchange of a suite (``ECDHE``, ``RSA``, ``PSK``...), or None if unknown."""
    parts = _split(code)
    return parts[0] if parts else None


def cipher_suite_info(code: int) -> CipherSuiteInfo | None:
    """Parameters of a cipher suite; None for unknown codes, SCSVs, GREASE, or suites
    whose bulk cipher this decoder has no parameters for (GOST, KRB5 export, AEGIS...)."""
    parts = _split(code)
    if parts is None:
        return None
    kx, auth, cipher, mac = parts
    if cipher == "SHA256" or cipher == "SHA384":  # TLS_SHA256_SHA256 integrity-only (RFC 9150)
        return CipherSuiteInfo(
            code,
            CIPHER_SUITES[code],
            kx,
            auth,
            "NULL",
            mac,
            mac,
            0,
            0,
            0,
            _MACS[mac],
            0,
            0,
            kx == "TLS13",
        )
    params = _CIPHERS.get(cipher)
    if params is None:
        return None
    key_len, block, tag, kind = params
    tls13 = kx == "TLS13"
    if kind in ("aead", "chacha"):
        prf = mac or "SHA256"
        if tls13 or kind == "chacha":
            fixed_iv, record_iv = 12, 0
        else:
            fixed_iv, record_iv = 4, 8
        return CipherSuiteInfo(
            code,
            CIPHER_SUITES[code],
            kx,
            auth,
            cipher,
            "AEAD",
            prf,
            key_len,
            fixed_iv,
            record_iv,
            0,
            tag,
            0,
            tls13,
        )
    if mac not in _MACS:
        return None
    prf = "SHA384" if mac == "SHA384" else "SHA256"
    return CipherSuiteInfo(
        code,
        CIPHER_SUITES[code],
        kx,
        auth,
        cipher,
        mac,
        prf,
        key_len,
        0,
        block,
        _MACS[mac],
        0,
        block,
        tls13,
    )


def version_name(v: int) -> str:
    """``DTLS 1.2`` for 0xfefd, etc.; raw hex when unknown."""
    return name(VERSIONS, v)


def is_dtls10(version: int | None) -> bool:
    """True for DTLS 1.0 (0xfeff) and the pre-RFC OpenSSL 0x0100: no signature algorithm fields."""
    return version in DTLS10_VERSIONS
