"""The (D)TLS 1.3 key schedule and record protection (RFC 8446 §7, RFC 9147 §4, §5.2).

Pure functions over bytes. DTLS 1.3 labels its HKDF-Expand-Label with ``"dtls13"``
instead of TLS 1.3's ``"tls13 "`` (RFC 9147 §5.9); every function takes the prefix so
the RFC 8448 (TLS 1.3) vectors test the same code.

What an observer needs, from a traffic secret (a key log line):

* :func:`traffic_keys`: write key, IV and the record-number key ``sn_key``;
* :func:`record_number_mask`: the mask over the 8- or 16-bit sequence number of a
  unified header (AES-ECB or ChaCha20 over the first 16 ciphertext bytes, §4.2.3);
* :func:`reconstruct`: the full epoch / 48-bit sequence number closest to the expected one;
* :func:`seal` / :func:`open_record`: the AEAD with the per-record nonce (IV XOR the
  sequence number) and the header as additional data, and the inner plaintext
  (content, real content type, zero padding);
* :func:`next_traffic_secret`: the KeyUpdate secret (``"traffic upd"``);
* :func:`finished_verify_data` and :func:`certificate_verify_content`: what the Finished
  MAC and the CertificateVerify signature cover.

Secrets never appear in a repr.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Literal

from proxy.decode.dtls.crypto.decrypt import AuthenticationFailed
from proxy.decode.dtls.reader import DecodeError

DTLS13_PREFIX = b"dtls13"
TLS13_PREFIX = b"tls13 "

Aead = Literal["gcm", "chacha20", "ccm", "ccm8"]


@dataclass(frozen=True, slots=True)
class Tls13Suite:
    """A TLS 1.3 cipher suite: its AEAD, key length and hash."""

    code: int
    name: str
    aead: Aead
    key_length: int
    hash_name: str
    tag_length: int = 16

    @property
    def hash_length(self) -> int:
        """Output length of the suite's hash (the length of its secrets)."""
        return hashlib.new(self.hash_name).digest_size


SUITES: dict[int, Tls13Suite] = {
    s.code: s
    for s in (
        Tls13Suite(0x1301, "TLS_AES_128_GCM_SHA256", "gcm", 16, "sha256"),
        Tls13Suite(0x1302, "TLS_AES_256_GCM_SHA384", "gcm", 32, "sha384"),
        Tls13Suite(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "chacha20", 32, "sha256"),
        Tls13Suite(0x1304, "TLS_AES_128_CCM_SHA256", "ccm", 16, "sha256"),
        Tls13Suite(0x1305, "TLS_AES_128_CCM_8_SHA256", "ccm8", 16, "sha256", 8),
    )
}
"""The five TLS 1.3 suites (RFC 8446 §B.4, RFC 9147 allows them all)."""


def suite(code: int) -> Tls13Suite | None:
    """The TLS 1.3 suite with this code, or None."""
    return SUITES.get(code)


# ------------------------------------------------------------------ HKDF


def hkdf_extract(salt: bytes, ikm: bytes, hash_name: str) -> bytes:
    """HKDF-Extract (RFC 5869 §2.2); an empty salt is a string of zeros."""
    if not salt:
        salt = bytes(hashlib.new(hash_name).digest_size)
    return hmac.new(salt, ikm, hash_name).digest()


def hkdf_expand(prk: bytes, info: bytes, length: int, hash_name: str) -> bytes:
    """HKDF-Expand (RFC 5869 §2.3)."""
    out = bytearray()
    block = b""
    counter = 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hash_name).digest()
        out += block
        counter += 1
    return bytes(out[:length])


def hkdf_expand_label(
    secret: bytes,
    label: str,
    context: bytes,
    length: int,
    hash_name: str,
    prefix: bytes = DTLS13_PREFIX,
) -> bytes:
    """HKDF-Expand-Label (RFC 8446 §7.1) with ``prefix`` + ``label`` as the label."""
    full = prefix + label.encode("ascii")
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + bytes([len(context)]) + context
    return hkdf_expand(secret, info, length, hash_name)


def derive_secret(
    secret: bytes, label: str, transcript_hash: bytes, hash_name: str,
    prefix: bytes = DTLS13_PREFIX,
) -> bytes:
    """Derive-Secret(secret, label, messages) given Transcript-Hash(messages)."""
    n = hashlib.new(hash_name).digest_size
    return hkdf_expand_label(secret, label, transcript_hash, n, hash_name, prefix)


# ------------------------------------------------------------------ traffic keys


@dataclass(frozen=True, slots=True, repr=False)
class TrafficKeys:
    """What protects one direction in one epoch. Holds secrets: no repr of them."""

    suite: Tls13Suite
    key: bytes = field(repr=False)
    iv: bytes = field(repr=False)
    sn_key: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"TrafficKeys({self.suite.name})"

    __str__ = __repr__


def traffic_keys(s: Tls13Suite, secret: bytes, prefix: bytes = DTLS13_PREFIX) -> TrafficKeys:
    """key, iv (12 bytes) and sn_key (key length) of a traffic secret (RFC 8446 §7.3,
    RFC 9147 §4.2.3)."""
    h = s.hash_name
    return TrafficKeys(
        s,
        hkdf_expand_label(secret, "key", b"", s.key_length, h, prefix),
        hkdf_expand_label(secret, "iv", b"", 12, h, prefix),
        hkdf_expand_label(secret, "sn", b"", s.key_length, h, prefix),
    )


def next_traffic_secret(s: Tls13Suite, secret: bytes, prefix: bytes = DTLS13_PREFIX) -> bytes:
    """application_traffic_secret_N+1 after a KeyUpdate (RFC 8446 §7.2)."""
    return hkdf_expand_label(secret, "traffic upd", b"", s.hash_length, s.hash_name, prefix)


def finished_verify_data(
    s: Tls13Suite, base_key: bytes, transcript_hash: bytes, prefix: bytes = DTLS13_PREFIX
) -> bytes:
    """HMAC(finished_key, Transcript-Hash) (RFC 8446 §4.4.4); ``base_key`` is the sender's
    handshake traffic secret."""
    finished_key = hkdf_expand_label(base_key, "finished", b"", s.hash_length, s.hash_name,
                                     prefix)
    return hmac.new(finished_key, transcript_hash, s.hash_name).digest()


def certificate_verify_content(role: str, transcript_hash: bytes) -> bytes:
    """What a TLS 1.3 CertificateVerify signs (RFC 8446 §4.4.3): 64 spaces, the context
    string of the sender's ``role``, a zero byte, then Transcript-Hash(CH .. Certificate).
    DTLS 1.3 uses the same strings."""
    context = f"TLS 1.3, {role} CertificateVerify".encode("ascii")
    return b" " * 64 + context + b"\x00" + transcript_hash


# ------------------------------------------------------------------ record numbers


def record_number_mask(s: Tls13Suite, sn_key: bytes, ciphertext: bytes) -> bytes:
    """The 16-byte mask XORed onto the record's sequence number bytes (RFC 9147 §4.2.3):
    AES-ECB(sn_key, ciphertext[0:16]), or for ChaCha20 the key stream with counter
    ciphertext[0:4] (little-endian) and nonce ciphertext[4:16]. Raises DecodeError when
    the record has fewer than 16 bytes of ciphertext."""
    sample = ciphertext[:16]
    if len(sample) < 16:
        raise DecodeError(0, f"record of {len(ciphertext)} bytes has no 16-byte sample for "
                             "its record number mask")
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if s.aead == "chacha20":
        enc = Cipher(algorithms.ChaCha20(sn_key, sample), mode=None).encryptor()
        return enc.update(bytes(16))
    ecb = Cipher(algorithms.AES(sn_key), modes.ECB()).encryptor()
    return ecb.update(sample) + ecb.finalize()


def reconstruct(low: int, bits: int, expected: int, limit_bits: int = 48) -> int:
    """The value whose low ``bits`` are ``low`` closest to ``expected`` (RFC 9147 §4.2.2,
    the rule of QUIC packet numbers, RFC 9000 §A.3): full 48-bit sequence numbers from 8
    or 16 bits, full epochs from 2. ``expected`` is one past the highest value seen."""
    window = 1 << bits
    half = window >> 1
    candidate = (expected & ~(window - 1)) | low
    if candidate <= expected - half and candidate < (1 << limit_bits) - window:
        return candidate + window
    if candidate > expected + half and candidate >= window:
        return candidate - window
    return candidate


# ------------------------------------------------------------------ AEAD


def nonce(iv: bytes, sequence: int) -> bytes:
    """The per-record nonce: the IV XOR the 64-bit sequence number, left-padded
    (RFC 8446 §5.3; RFC 9147 §4 uses the 48-bit record sequence number, epoch excluded)."""
    pad = sequence.to_bytes(len(iv), "big")
    return bytes(a ^ b for a, b in zip(iv, pad, strict=True))


def _aead(keys: TrafficKeys) -> object:
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

    a = keys.suite.aead
    if a == "gcm":
        return AESGCM(keys.key)
    if a == "chacha20":
        return ChaCha20Poly1305(keys.key)
    return AESCCM(keys.key, tag_length=keys.suite.tag_length)


def open_record(keys: TrafficKeys, sequence: int, aad: bytes, ciphertext: bytes
                ) -> tuple[int, bytes, int]:
    """Decrypt one record: ``(inner content type, content, padding length)``.

    ``aad`` is the record header as sent but with the sequence number unmasked.
    Raises :class:`AuthenticationFailed` when the tag does not verify and DecodeError
    when the record is too short or its plaintext is all padding (no content type).
    """
    tag = keys.suite.tag_length
    if len(ciphertext) < tag + 1:
        raise DecodeError(0, f"record of {len(ciphertext)} bytes is shorter than its "
                             f"{tag}-byte tag and a content type")
    from cryptography.exceptions import InvalidTag

    try:
        plain: bytes = _aead(keys).decrypt(nonce(keys.iv, sequence), ciphertext, aad)  # type: ignore[attr-defined]
    except InvalidTag:
        raise AuthenticationFailed(
            f"{keys.suite.aead.upper()} tag does not verify (wrong keys, or the record was "
            "altered)") from None
    end = len(plain)
    while end and plain[end - 1] == 0:
        end -= 1
    if end == 0:
        raise DecodeError(0, "decrypted record is all zeros: no inner content type")
    return plain[end - 1], plain[: end - 1], len(plain) - end


def seal(keys: TrafficKeys, sequence: int, aad: bytes, content_type: int, content: bytes,
         padding: int = 0) -> bytes:
    """Encrypt one record's inner plaintext (content, type, ``padding`` zeros); the
    inverse of :func:`open_record`. ``aad`` is the header with the sequence number
    unmasked, its length field (when present) already counting the tag."""
    inner = content + bytes([content_type]) + bytes(padding)
    sealed: bytes = _aead(keys).encrypt(nonce(keys.iv, sequence), inner, aad)  # type: ignore[attr-defined]
    return sealed


def sealed_length(keys: TrafficKeys, content_length: int, padding: int = 0) -> int:
    """Length of the ciphertext :func:`seal` makes (for the header's length field)."""
    return content_length + 1 + padding + keys.suite.tag_length


# ------------------------------------------------------------------ unified-header records


@dataclass(frozen=True, slots=True)
class Unprotected:
    """A DTLS 1.3 record opened: its full record number and its inner plaintext."""

    epoch: int
    sequence: int
    """The reconstructed 48-bit sequence number."""
    content_type: int
    """The real content type (the inner plaintext's last non-zero byte)."""
    content: bytes
    padding: int
    """Zero bytes after the content type."""


def sequence_span(first: int, cid_length: int) -> tuple[int, int]:
    """Where the sequence number sits in a unified header (offsets from its first byte)."""
    start = 1 + (cid_length if first & 0x10 else 0)
    return start, start + (2 if first & 0x08 else 1)


def unmask_header(keys: TrafficKeys, header: bytes, cid_length: int, ciphertext: bytes
                  ) -> tuple[bytes, int]:
    """The header with its sequence number bytes unmasked, and their value."""
    start, end = sequence_span(header[0], cid_length)
    mask = record_number_mask(keys.suite, keys.sn_key, ciphertext)
    clear = bytes(b ^ m for b, m in zip(header[start:end], mask, strict=False))
    return header[:start] + clear + header[end:], int.from_bytes(clear, "big")


def unprotect(keys: TrafficKeys, epoch: int, header: bytes, cid_length: int,
              ciphertext: bytes, expected_sequence: int) -> Unprotected:
    """Open one unified-header record of ``epoch`` (RFC 9147 §4): unmask its record
    number, reconstruct the 48-bit sequence number nearest ``expected_sequence``,
    decrypt with the unmasked header as additional data, strip the padding.

    Raises :class:`AuthenticationFailed` or DecodeError (see :func:`open_record`)."""
    aad, low = unmask_header(keys, header, cid_length, ciphertext)
    bits = 16 if header[0] & 0x08 else 8
    seq = reconstruct(low, bits, expected_sequence)
    ctype, content, padding = open_record(keys, seq, aad, ciphertext)
    return Unprotected(epoch, seq, ctype, content, padding)


def protect(keys: TrafficKeys, epoch: int, sequence: int, content_type: int, content: bytes,
            *, cid: bytes | None = None, seq16: bool = True, with_length: bool = True,
            padding: int = 0) -> bytes:
    """One unified-header record (RFC 9147 §4): header ``001CSLEE``, the connection id,
    the low 8 or 16 bits of ``sequence`` (masked), the length, the AEAD ciphertext."""
    first = 0x20 | (0x10 if cid else 0) | (0x08 if seq16 else 0) | (0x04 if with_length else 0)
    first |= epoch & 0x03
    seq_bytes = (sequence & (0xFFFF if seq16 else 0xFF)).to_bytes(2 if seq16 else 1, "big")
    header = bytes([first]) + (cid or b"") + seq_bytes
    if with_length:
        header += sealed_length(keys, len(content), padding).to_bytes(2, "big")
    sealed = seal(keys, sequence, header, content_type, content, padding)
    return mask_header(keys, header, len(cid or b""), sealed) + sealed


def mask_header(keys: TrafficKeys, clear_header: bytes, cid_length: int, ciphertext: bytes
                ) -> bytes:
    """The header with its sequence number bytes masked (the inverse of
    :func:`unmask_header`: the mask is an XOR)."""
    return unmask_header(keys, clear_header, cid_length, ciphertext)[0]


def reprotect(keys: TrafficKeys, header: bytes, cid_length: int, opened: Unprotected,
              content: bytes) -> bytes:
    """The record again with ``content`` instead of ``opened.content``: the same header
    form, connection id, record number, content type and padding, a new length field
    when the header has one, then encrypted and its record number masked anew (the
    mask depends on the ciphertext)."""
    first = header[0]
    start, end = sequence_span(first, cid_length)
    clear = opened.sequence & (0xFFFF if first & 0x08 else 0xFF)
    head = header[:start] + clear.to_bytes(end - start, "big")
    if first & 0x04:
        head += sealed_length(keys, len(content), opened.padding).to_bytes(2, "big")
    sealed = seal(keys, opened.sequence, head, opened.content_type, content, opened.padding)
    return mask_header(keys, head, cid_length, sealed) + sealed
