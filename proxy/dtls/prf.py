"""TLS/DTLS 1.0-1.2 key schedule: PRF, master secret, key block, Finished, transcript.

Pure functions over bytes (RFC 5246 §5, §6.3, §7.4.9; RFC 4346 §5 for the
MD5+SHA1 PRF of DTLS 1.0; RFC 7627 for the extended master secret; RFC 6347
§4.2.6 for the DTLS transcript). Hash names are lower-case strings:
``"sha256"``, ``"sha384"``, and ``"md5sha1"`` for the DTLS 1.0 PRF/transcript.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from proxy.dtls.reader import DecodeError

PRF_HASHES = ("md5sha1", "sha256", "sha384")
"""Hash names :func:`prf` accepts (``md5sha1`` = the TLS 1.0/1.1 PRF, used by DTLS 1.0)."""

Mode = Literal["gcm", "ccm", "ccm8", "chacha20", "cbc", "null"]


def _hmac_hash(secret: bytes, data: bytes, hash_name: str) -> bytes:
    return hmac.new(secret, data, hash_name).digest()


def _p_hash(secret: bytes, seed: bytes, length: int, hash_name: str) -> bytes:
    """RFC 5246 §5 P_hash(secret, seed), ``length`` bytes."""
    out = bytearray()
    a = seed
    while len(out) < length:
        a = _hmac_hash(secret, a, hash_name)
        out += _hmac_hash(secret, a + seed, hash_name)
    return bytes(out[:length])


def prf(secret: bytes, label: bytes | str, seed: bytes, length: int, hash_name: str) -> bytes:
    """PRF(secret, label, seed) of TLS 1.2 (P_<hash_name>) or, for ``"md5sha1"``, TLS 1.0/1.1.

    The TLS 1.0 form splits the secret in two halves (sharing the middle byte when
    the length is odd) and XORs P_MD5 over the first with P_SHA1 over the second.
    """
    if isinstance(label, str):
        label = label.encode("ascii")
    full_seed = label + seed
    if hash_name == "md5sha1":
        half = (len(secret) + 1) // 2
        s1, s2 = secret[:half], secret[len(secret) - half :]
        md5 = _p_hash(s1, full_seed, length, "md5")
        sha1 = _p_hash(s2, full_seed, length, "sha1")
        return bytes(x ^ y for x, y in zip(md5, sha1, strict=True))
    if hash_name not in ("sha256", "sha384", "sha512", "sha224", "sha1"):
        raise ValueError(f"unsupported PRF hash {hash_name!r}")
    return _p_hash(secret, full_seed, length, hash_name)


def master_secret_from_premaster(
    pre_master: bytes,
    client_random: bytes,
    server_random: bytes,
    *,
    prf_hash: str = "sha256",
    ems_session_hash: bytes | None = None,
) -> bytes:
    """The 48-byte master secret (RFC 5246 §8.1), or the extended one (RFC 7627 §4)
    when ``ems_session_hash`` (the transcript hash up to and including
    ClientKeyExchange) is given."""
    if ems_session_hash is not None:
        return prf(pre_master, b"extended master secret", ems_session_hash, 48, prf_hash)
    return prf(pre_master, b"master secret", client_random + server_random, 48, prf_hash)


def psk_premaster(psk: bytes, other_secret: bytes | None = None) -> bytes:
    """RFC 4279 §2 premaster for PSK suites: ``len(other) other len(psk) psk``;
    plain PSK uses ``len(psk)`` zero bytes as ``other_secret``."""
    other = bytes(len(psk)) if other_secret is None else other_secret
    return len(other).to_bytes(2, "big") + other + len(psk).to_bytes(2, "big") + psk


# ------------------------------------------------------------------ cipher suites


@dataclass(frozen=True, slots=True)
class CipherParams:
    """What record protection needs to know about a cipher suite (RFC 5246 §6.2-6.3)."""

    name: str
    """IANA name, e.g. ``TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256``."""
    mode: Mode
    """``gcm``, ``ccm``, ``ccm8``, ``chacha20``, ``cbc`` or ``null``."""
    cipher: str
    """Bulk cipher: ``AES``, ``3DES``, ``CHACHA20`` or ``NULL``."""
    key_length: int
    """Write key length in bytes."""
    fixed_iv_length: int
    """Implicit IV from the key block: 4 (GCM/CCM), 12 (ChaCha20), 0 (CBC)."""
    record_iv_length: int
    """Per-record explicit IV/nonce: 8 (GCM/CCM), 0 (ChaCha20), the block size (CBC)."""
    tag_length: int
    """AEAD tag length (16, or 8 for CCM_8); 0 for CBC."""
    mac: str | None
    """HMAC hash for CBC suites (``sha1``, ``sha256``, ``sha384``); None for AEAD."""
    mac_length: int
    """HMAC output length = MAC key length (0 for AEAD)."""
    prf_hash: str
    """PRF hash of TLS/DTLS 1.2 (``sha256`` or ``sha384``); DTLS 1.0 always uses md5sha1."""


_HASH_LEN = {"sha1": 20, "sha256": 32, "sha384": 48, "md5": 16}
_BULK = re.compile(
    r"^(?P<cipher>AES|3DES_EDE|CHACHA20|NULL)(?:_(?P<bits>\d+))?"
    r"_(?P<mode>GCM|CCM_8|CCM|CBC|POLY1305)?_?(?P<hash>SHA384|SHA256|SHA|MD5)?$"
)


def cipher_params_from_name(name: str) -> CipherParams | None:
    """Derive :class:`CipherParams` from an IANA suite name (``TLS_*_WITH_<bulk>_<hash>``);
    None for names this module cannot decrypt (TLS 1.3 suites, ARIA, Camellia, ...)."""
    if "_WITH_" not in name:
        return None
    bulk = name.split("_WITH_", 1)[1]
    m = _BULK.match(bulk)
    if m is None:
        return None
    cipher, bits, mode_s, hash_s = m["cipher"], m["bits"], m["mode"], m["hash"] or "SHA"
    mac_hash = {"SHA": "sha1", "SHA256": "sha256", "SHA384": "sha384", "MD5": "md5"}[hash_s]
    prf_hash = "sha384" if hash_s == "SHA384" else "sha256"
    if cipher == "CHACHA20" and mode_s == "POLY1305":
        return CipherParams(name, "chacha20", "CHACHA20", 32, 12, 0, 16, None, 0, prf_hash)
    if cipher == "AES" and bits in ("128", "256"):
        key = int(bits) // 8
        if mode_s == "GCM":
            return CipherParams(name, "gcm", "AES", key, 4, 8, 16, None, 0, prf_hash)
        if mode_s in ("CCM", "CCM_8"):
            tag = 8 if mode_s == "CCM_8" else 16
            mode: Mode = "ccm8" if tag == 8 else "ccm"
            return CipherParams(name, mode, "AES", key, 4, 8, tag, None, 0, prf_hash)
        if mode_s == "CBC":
            return CipherParams(
                name, "cbc", "AES", key, 0, 16, 0, mac_hash, _HASH_LEN[mac_hash], prf_hash
            )
    if cipher == "3DES_EDE" and mode_s == "CBC":
        return CipherParams(
            name, "cbc", "3DES", 24, 0, 8, 0, mac_hash, _HASH_LEN[mac_hash], prf_hash
        )
    if cipher == "NULL" and mode_s is None:
        mac_len = _HASH_LEN[mac_hash]
        return CipherParams(name, "null", "NULL", 0, 0, 0, 0, mac_hash, mac_len, prf_hash)
    return None


_FALLBACK_NAMES: dict[int, str] = {
    0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    0x002F: "TLS_RSA_WITH_AES_128_CBC_SHA",
    0x0035: "TLS_RSA_WITH_AES_256_CBC_SHA",
    0x003C: "TLS_RSA_WITH_AES_128_CBC_SHA256",
    0x003D: "TLS_RSA_WITH_AES_256_CBC_SHA256",
    0x008C: "TLS_PSK_WITH_AES_128_CBC_SHA",
    0x009C: "TLS_RSA_WITH_AES_128_GCM_SHA256",
    0x009D: "TLS_RSA_WITH_AES_256_GCM_SHA384",
    0x00A8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
    0x00AE: "TLS_PSK_WITH_AES_128_CBC_SHA256",
    0xC009: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    0xC00A: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    0xC013: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    0xC014: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    0xC023: "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    0xC024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
    0xC027: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
    0xC028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
    0xC02B: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    0xC02C: "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    0xC02F: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    0xC030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    0xC0A4: "TLS_PSK_WITH_AES_128_CCM",
    0xC0A5: "TLS_PSK_WITH_AES_256_CCM",
    0xC0A8: "TLS_PSK_WITH_AES_128_CCM_8",
    0xC0A9: "TLS_PSK_WITH_AES_256_CCM_8",
    0xC0AC: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
    0xC0AD: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
    0xC0AE: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
    0xC0AF: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8",
    0xCCA8: "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCA9: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    0xCCAB: "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256",
}


def cipher_params(code: int) -> CipherParams | None:
    """Record-protection parameters for cipher suite ``code``; None when unknown or
    not decryptable here."""
    name = _FALLBACK_NAMES.get(code)
    return None if name is None else cipher_params_from_name(name)


# ------------------------------------------------------------------ key block


@dataclass(frozen=True, slots=True, repr=False)
class ConnectionKeys:
    """The sliced key block of one connection (RFC 5246 §6.3). Holds secrets: its
    repr names only the suite."""

    params: CipherParams
    client_mac_key: bytes = field(repr=False)
    server_mac_key: bytes = field(repr=False)
    client_write_key: bytes = field(repr=False)
    server_write_key: bytes = field(repr=False)
    client_write_iv: bytes = field(repr=False)
    server_write_iv: bytes = field(repr=False)
    encrypt_then_mac: bool = False
    """RFC 7366 negotiated (CBC suites only)."""

    def __repr__(self) -> str:
        etm = ", encrypt_then_mac" if self.encrypt_then_mac else ""
        return f"ConnectionKeys({self.params.name}{etm})"

    __str__ = __repr__


def key_block(
    master_secret: bytes,
    client_random: bytes,
    server_random: bytes,
    suite_info: CipherParams,
    *,
    dtls10: bool = False,
    encrypt_then_mac: bool = False,
) -> ConnectionKeys:
    """Expand the master secret into MAC keys, write keys and fixed IVs (in that order).

    ``dtls10`` selects the MD5+SHA1 PRF of DTLS 1.0; ``encrypt_then_mac`` records that
    RFC 7366 was negotiated (it changes how CBC records are authenticated).
    """
    p = suite_info
    sizes = [p.mac_length, p.mac_length, p.key_length, p.key_length]
    sizes += [p.fixed_iv_length, p.fixed_iv_length]
    block = prf(
        master_secret,
        b"key expansion",
        server_random + client_random,
        sum(sizes),
        "md5sha1" if dtls10 else p.prf_hash,
    )
    parts: list[bytes] = []
    pos = 0
    for n in sizes:
        parts.append(block[pos : pos + n])
        pos += n
    return ConnectionKeys(
        params=p,
        client_mac_key=parts[0],
        server_mac_key=parts[1],
        client_write_key=parts[2],
        server_write_key=parts[3],
        client_write_iv=parts[4],
        server_write_iv=parts[5],
        encrypt_then_mac=encrypt_then_mac and p.mode == "cbc",
    )


# ------------------------------------------------------------------ transcript, Finished

FINISHED_LABELS = ("client finished", "server finished")


def transcript_message(msg_type: int, message_seq: int, body: bytes) -> bytes:
    """A handshake message as the transcript hashes it: the 12-byte DTLS header with
    fragment_offset 0 and fragment_length = length, then the body (RFC 6347 §4.2.6)."""
    n = len(body).to_bytes(3, "big")
    return bytes([msg_type]) + n + message_seq.to_bytes(2, "big") + b"\x00\x00\x00" + n + body


def transcript_hash(messages: Iterable[bytes], hash_name: str) -> bytes:
    """Hash of the concatenated messages; ``"md5sha1"`` gives MD5 || SHA1 (36 bytes,
    the DTLS 1.0 Finished input). The caller supplies the messages in order, each in
    :func:`transcript_message` form, without the first ClientHello and HelloVerifyRequest."""
    data = b"".join(messages)
    if hash_name == "md5sha1":
        return hashlib.md5(data).digest() + hashlib.sha1(data).digest()
    return hashlib.new(hash_name, data).digest()


def finished_verify_data(
    master_secret: bytes, label: str, handshake_hash: bytes, prf_hash: str
) -> bytes:
    """``PRF(master_secret, label, handshake_hash)[0:12]`` (RFC 5246 §7.4.9).

    ``label`` is ``"client finished"`` or ``"server finished"``; ``prf_hash`` is the
    suite's (``md5sha1`` for DTLS 1.0, with the 36-byte MD5||SHA1 handshake hash).
    """
    if label not in FINISHED_LABELS:
        raise ValueError(f"Finished label must be one of {FINISHED_LABELS}")
    return prf(master_secret, label, handshake_hash, 12, prf_hash)


def split_handshake_header(message: bytes) -> tuple[int, int, bytes]:
    """``(msg_type, message_seq, body)`` of one unfragmented DTLS handshake message
    (e.g. a decrypted Finished). Raises DecodeError if it is fragmented or truncated."""
    if len(message) < 12:
        raise DecodeError(0, f"handshake header needs 12 bytes, got {len(message)}")
    length = int.from_bytes(message[1:4], "big")
    frag_off = int.from_bytes(message[6:9], "big")
    frag_len = int.from_bytes(message[9:12], "big")
    if frag_off != 0 or frag_len != length:
        raise DecodeError(6, "fragmented handshake message")
    if len(message) != 12 + length:
        raise DecodeError(1, f"length {length} but {len(message) - 12} body bytes")
    return message[0], int.from_bytes(message[4:6], "big"), message[12:]
