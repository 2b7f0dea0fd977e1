"""TLS/DTLS 1.0-1.2 key schedule: PRF, master secret, key block, Finished, transcript.

Pure functions over bytes (RFC 5246 §5, §6.3, §7.4.9; RFC 4346 §5 for the
MD5+SHA1 PRF of DTLS 1.0; RFC 7627 for the extended master secret; RFC 6347
§4.2.6 for the DTLS transcript). Hash names are lower-case strings:
``"sha256"``, ``"sha384"``, and ``"md5sha1"`` for the DTLS 1.0 PRF/transcript.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from proxy.decode.dtls.reader import DecodeError
from proxy.decode.dtls.registry import CipherSuiteInfo, cipher_suite_info

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


_MAC_HASH = {"SHA": "sha1", "SHA256": "sha256", "SHA384": "sha384", "MD5": "md5"}


def cipher_params_from_info(info: CipherSuiteInfo) -> CipherParams | None:
    """:class:`CipherParams` for a registry entry; None when this module cannot decrypt
    it (TLS 1.3 suites, ARIA, Camellia, SM4, RC4, DES, IDEA, SEED...)."""
    prf_hash = info.prf_hash.lower()
    if info.tls13 or prf_hash not in ("sha256", "sha384"):
        return None
    c = info.cipher
    mac = None if info.aead else _MAC_HASH.get(info.mac)
    mode: Mode
    if c == "CHACHA20_POLY1305":
        mode, algo = "chacha20", "CHACHA20"
    elif c in ("AES_128_GCM", "AES_256_GCM"):
        mode, algo = "gcm", "AES"
    elif c in ("AES_128_CCM", "AES_256_CCM"):
        mode, algo = "ccm", "AES"
    elif c in ("AES_128_CCM_8", "AES_256_CCM_8"):
        mode, algo = "ccm8", "AES"
    elif c in ("AES_128_CBC", "AES_256_CBC") and mac is not None:
        mode, algo = "cbc", "AES"
    elif c == "3DES_EDE_CBC" and mac is not None:
        mode, algo = "cbc", "3DES"
    elif c == "NULL" and mac is not None:
        mode, algo = "null", "NULL"
    else:
        return None
    return CipherParams(
        name=info.name,
        mode=mode,
        cipher=algo,
        key_length=info.key_length,
        fixed_iv_length=info.fixed_iv_length,
        record_iv_length=info.record_iv_length,
        tag_length=info.tag_length,
        mac=mac,
        mac_length=info.mac_length,
        prf_hash=prf_hash,
    )


def cipher_params(code: int) -> CipherParams | None:
    """Record-protection parameters for cipher suite ``code`` (from
    :func:`proxy.decode.dtls.registry.cipher_suite_info`); None when unknown or not decryptable
    here."""
    info = cipher_suite_info(code)
    return None if info is None else cipher_params_from_info(info)


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
