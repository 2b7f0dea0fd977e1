"""The verification toolkit the verdict rules call, in one import.

Key schedule and Finished live in :mod:`proxy.decode.dtls.crypto.prf`, record decryption in
:mod:`proxy.decode.dtls.crypto.decrypt`, secret-free signature checks in
:mod:`proxy.decode.dtls.crypto.signatures`; this module re-exports their public names.
"""

from proxy.decode.dtls.crypto.decrypt import AuthenticationFailed, decrypt_record
from proxy.decode.dtls.crypto.prf import (
    CipherParams,
    ConnectionKeys,
    cipher_params,
    cipher_params_from_info,
    finished_verify_data,
    key_block,
    master_secret_from_premaster,
    prf,
    psk_premaster,
    split_handshake_header,
    transcript_hash,
    transcript_message,
)
from proxy.decode.dtls.crypto.signatures import (
    SignatureCheck,
    scheme_name,
    verify_certificate_verify,
    verify_server_key_exchange,
)

__all__ = [
    "AuthenticationFailed",
    "CipherParams",
    "ConnectionKeys",
    "SignatureCheck",
    "cipher_params",
    "cipher_params_from_info",
    "decrypt_record",
    "finished_verify_data",
    "key_block",
    "master_secret_from_premaster",
    "prf",
    "psk_premaster",
    "scheme_name",
    "split_handshake_header",
    "transcript_hash",
    "transcript_message",
    "verify_certificate_verify",
    "verify_server_key_exchange",
]
