"""DTLS 1.0/1.2 record decryption (RFC 6347 §4.1.2, RFC 5246 §6.2.3, RFC 7366).

:func:`decrypt_record` turns one protected record fragment into its plaintext, or
raises :class:`AuthenticationFailed` (tag, MAC or padding does not verify: the
keys or the bytes are wrong) or :class:`~proxy.decode.dtls.reader.DecodeError` (the
fragment cannot be a record of this cipher at all, e.g. shorter than its tag).
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any, Literal

from proxy.decode.dtls.reader import DecodeError

if TYPE_CHECKING:  # the cipher modules load on the first decryption (start-up of analyze)
    from cryptography.hazmat.primitives.ciphers import algorithms

    from proxy.decode.dtls.crypto.prf import ConnectionKeys

Sender = Literal["client", "server"]


class AuthenticationFailed(Exception):
    """The record's AEAD tag, HMAC or CBC padding does not verify under these keys."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _sender(direction: str) -> Sender:
    if direction.startswith("client"):
        return "client"
    if direction.startswith("server"):
        return "server"
    raise ValueError(f"direction must start with 'client' or 'server', not {direction!r}")


def _seq_num(epoch: int, sequence: int) -> bytes:
    return epoch.to_bytes(2, "big") + sequence.to_bytes(6, "big")


def _header(epoch: int, sequence: int, content_type: int, version: int, length: int) -> bytes:
    """AEAD additional data / MAC prefix: epoch, seq, type, version, length."""
    return (
        _seq_num(epoch, sequence)
        + bytes([content_type])
        + version.to_bytes(2, "big")
        + length.to_bytes(2, "big")
    )


def decrypt_record(
    keys: ConnectionKeys,
    direction: str,
    content_type: int,
    version: int,
    epoch: int,
    sequence: int,
    fragment: bytes,
) -> bytes:
    """Plaintext of one protected DTLS record.

    ``direction`` names the sender: ``"client"`` / ``"server"`` or a label that starts
    with it (``"client->server"``). ``version`` is the record-layer version
    (0xFEFD, 0xFEFF); ``epoch``/``sequence`` come from the record header.
    """
    sender = _sender(direction)
    p = keys.params
    key = keys.client_write_key if sender == "client" else keys.server_write_key
    iv = keys.client_write_iv if sender == "client" else keys.server_write_iv
    if p.mode in ("gcm", "ccm", "ccm8", "chacha20"):
        return _decrypt_aead(keys, key, iv, content_type, version, epoch, sequence, fragment)
    mac_key = keys.client_mac_key if sender == "client" else keys.server_mac_key
    if p.mode == "cbc":
        return _decrypt_cbc(keys, key, mac_key, content_type, version, epoch, sequence, fragment)
    # NULL cipher: plaintext + MAC
    if len(fragment) < p.mac_length:
        raise DecodeError(0, f"record of {len(fragment)} bytes is shorter than its MAC")
    plain, mac = fragment[: len(fragment) - p.mac_length], fragment[len(fragment) - p.mac_length :]
    head = _header(epoch, sequence, content_type, version, len(plain))
    _check_mac(mac_key, p.mac or "sha1", head + plain, mac)
    return plain


def _decrypt_aead(
    keys: ConnectionKeys,
    key: bytes,
    iv: bytes,
    content_type: int,
    version: int,
    epoch: int,
    sequence: int,
    fragment: bytes,
) -> bytes:
    p = keys.params
    overhead = p.record_iv_length + p.tag_length
    if len(fragment) < overhead:
        raise DecodeError(
            0,
            f"{p.mode.upper()} record of {len(fragment)} bytes is shorter than its "
            f"{p.record_iv_length}-byte nonce and {p.tag_length}-byte tag",
        )
    nonce = _aead_nonce(keys, iv, epoch, sequence, fragment[: p.record_iv_length])
    sealed = fragment[p.record_iv_length :]
    aad = _header(epoch, sequence, content_type, version, len(sealed) - p.tag_length)
    from cryptography.exceptions import InvalidTag

    try:
        plain: bytes = _aead(keys, key).decrypt(nonce, sealed, aad)
        return plain
    except InvalidTag:
        raise AuthenticationFailed(
            f"{p.mode.upper()} tag does not verify (wrong keys, or the record was altered)"
        ) from None


def _aead_nonce(keys: ConnectionKeys, iv: bytes, epoch: int, sequence: int,
                explicit: bytes) -> bytes:
    """ChaCha20-Poly1305: the IV XOR epoch||seq; GCM/CCM: the IV then the record's
    explicit nonce (RFC 7905, RFC 5288, RFC 6655)."""
    if keys.params.mode == "chacha20":
        pad = bytes(4) + _seq_num(epoch, sequence)
        return bytes(a ^ b for a, b in zip(iv, pad, strict=True))
    return iv + explicit


def _aead(keys: ConnectionKeys, key: bytes) -> Any:
    """The AEAD of the suite (cryptography's AESGCM, ChaCha20Poly1305 or AESCCM)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

    p = keys.params
    if p.mode == "gcm":
        return AESGCM(key)
    if p.mode == "chacha20":
        return ChaCha20Poly1305(key)
    return AESCCM(key, tag_length=p.tag_length)


def _check_mac(mac_key: bytes, mac_hash: str, data: bytes, mac: bytes) -> None:
    expected = hmac.new(mac_key, data, mac_hash).digest()
    if not hmac.compare_digest(expected, mac):
        raise AuthenticationFailed(
            f"HMAC-{mac_hash.upper()} does not verify (wrong keys, or the record was altered)"
        )


def _block_cipher(cipher: str, key: bytes) -> algorithms.AES | object:
    from cryptography.hazmat.primitives.ciphers import algorithms

    if cipher == "AES":
        return algorithms.AES(key)
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES

    return TripleDES(key)


def _cbc_decrypt(cipher: str, key: bytes, iv: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    algo = _block_cipher(cipher, key)
    dec = Cipher(algo, modes.CBC(iv)).decryptor()  # type: ignore[arg-type]
    return dec.update(data) + dec.finalize()


def _strip_padding(data: bytes) -> bytes:
    pad = data[-1]
    if pad + 1 > len(data) or any(b != pad for b in data[len(data) - pad - 1 :]):
        raise AuthenticationFailed(
            "CBC padding is malformed (wrong keys, or the record was altered)"
        )
    return data[: len(data) - pad - 1]


def _decrypt_cbc(
    keys: ConnectionKeys,
    key: bytes,
    mac_key: bytes,
    content_type: int,
    version: int,
    epoch: int,
    sequence: int,
    fragment: bytes,
) -> bytes:
    p = keys.params
    bs = p.record_iv_length
    mac_hash = p.mac or "sha1"
    if keys.encrypt_then_mac:
        body_len = len(fragment) - p.mac_length
        if body_len < 2 * bs or (body_len - bs) % bs:
            raise DecodeError(
                0,
                f"CBC+encrypt_then_mac record of {len(fragment)} bytes is not IV + whole "
                f"{bs}-byte blocks + {p.mac_length}-byte MAC",
            )
        body, mac = fragment[:body_len], fragment[body_len:]
        head = _header(epoch, sequence, content_type, version, body_len)
        _check_mac(mac_key, mac_hash, head + body, mac)
        return _strip_padding(_cbc_decrypt(p.cipher, key, body[:bs], body[bs:]))
    if len(fragment) < 2 * bs or len(fragment) % bs:
        raise DecodeError(
            0, f"CBC record of {len(fragment)} bytes is not IV + whole {bs}-byte blocks"
        )
    padded = _cbc_decrypt(p.cipher, key, fragment[:bs], fragment[bs:])
    unpadded = _strip_padding(padded)
    if len(unpadded) < p.mac_length:
        raise AuthenticationFailed("CBC record too short for its MAC after removing padding")
    plain = unpadded[: len(unpadded) - p.mac_length]
    mac = unpadded[len(unpadded) - p.mac_length :]
    head = _header(epoch, sequence, content_type, version, len(plain))
    _check_mac(mac_key, mac_hash, head + plain, mac)
    return plain


def encrypt_record(
    keys: ConnectionKeys,
    direction: str,
    content_type: int,
    version: int,
    epoch: int,
    sequence: int,
    plaintext: bytes,
    like: bytes,
) -> bytes:
    """The protected fragment of ``plaintext``: the inverse of :func:`decrypt_record`.

    ``like`` is the fragment it replaces: its explicit nonce (GCM, CCM) or CBC IV is
    kept, so the new record differs from it only where the plaintext does (what a fault
    rule that alters a decrypted message needs). NULL ciphers are not supported.
    """
    sender = _sender(direction)
    p = keys.params
    key = keys.client_write_key if sender == "client" else keys.server_write_key
    iv = keys.client_write_iv if sender == "client" else keys.server_write_iv
    if p.mode in ("gcm", "ccm", "ccm8", "chacha20"):
        explicit = like[: p.record_iv_length]
        nonce = _aead_nonce(keys, iv, epoch, sequence, explicit)
        aad = _header(epoch, sequence, content_type, version, len(plaintext))
        sealed: bytes = _aead(keys, key).encrypt(nonce, plaintext, aad)
        return explicit + sealed
    if p.mode != "cbc":
        raise ValueError(f"cannot encrypt a {p.mode} record")
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    mac_key = keys.client_mac_key if sender == "client" else keys.server_mac_key
    bs = p.record_iv_length
    record_iv = like[:bs]
    mac_hash = p.mac or "sha1"

    def cbc(data: bytes) -> bytes:
        enc = Cipher(_block_cipher(p.cipher, key), modes.CBC(record_iv)).encryptor()  # type: ignore[arg-type]
        return enc.update(data) + enc.finalize()

    def padded(data: bytes) -> bytes:
        n = (bs - (len(data) + 1) % bs) % bs
        return data + bytes([n] * (n + 1))

    if keys.encrypt_then_mac:
        body = record_iv + cbc(padded(plaintext))
        head = _header(epoch, sequence, content_type, version, len(body))
        return body + hmac.new(mac_key, head + body, mac_hash).digest()
    head = _header(epoch, sequence, content_type, version, len(plaintext))
    mac = hmac.new(mac_key, head + plaintext, mac_hash).digest()
    return record_iv + cbc(padded(plaintext + mac))
