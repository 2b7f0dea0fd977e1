"""Key-log wiring: decrypt a session's records and verify both Finished messages.

:class:`KeyLogDecryptor` is the :data:`proxy.session.session.RecordDecryptor` the
engine installs on every session when key logs were given: the session then
decrypts its own encrypted Finished and alerts. :func:`finished_checks` verifies
the verify_data of each decrypted Finished against the transcript.
Secrets never leave this module (no master secret in a Check, a log or a repr).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from proxy.decode.dtls.crypto.decrypt import decrypt_record
from proxy.decode.dtls.crypto.prf import (
    ConnectionKeys,
    cipher_params,
    finished_verify_data,
    key_block,
    master_secret_from_premaster,
    split_handshake_header,
    transcript_hash,
    transcript_message,
)
from proxy.decode.dtls.messages import Certificate, ClientHello, ClientKeyExchange, Finished
from proxy.decode.dtls.reader import DecodeError
from proxy.decode.dtls.record import Record
from proxy.decode.keylog import KeyLog
from proxy.events import Check
from proxy.session.session import MessageRecord, Session

DTLS10_VERSIONS = frozenset({0xFEFF, 0x0100})
"""DTLS 1.0 and OpenSSL 0.9.8's pre-RFC 0x0100: the TLS 1.0 PRF, MD5+SHA-1."""


class RsaPremaster:
    """Server RSA private keys: recover the premaster of TLS_RSA_* suites, as Wireshark
    does, which settles the "bad RSA decrypt" candidate and gives the master secret."""

    def __init__(self, keys: Sequence[rsa.RSAPrivateKey]) -> None:
        self.keys = list(keys)

    def __repr__(self) -> str:
        return f"RsaPremaster({len(self.keys)} key(s))"

    def check(self, s: Session) -> tuple[Check, bytes | None] | None:
        """The premaster check and the master secret it gives (None: not an RSA exchange)."""
        cke = next((m for m in s.messages if m.sender == s.client
                    and isinstance(m.body, ClientKeyExchange)), None)
        if cke is None or not isinstance(cke.body, ClientKeyExchange):
            return None
        enc = cke.body.encrypted_pre_master_secret
        if enc is None:
            return None
        name = "ClientKeyExchange premaster"
        cert = s.neg.certificates.get("server")
        der = cert.entries[0].der if isinstance(cert, Certificate) and cert.entries else None
        key = self._key_for(der)
        if key is None:
            return Check(name, None, "RSA-encrypted premaster: none of the RSA keys given "
                         "matches the server certificate"), None
        try:
            pm = key.decrypt(enc, padding.PKCS1v15())
        except ValueError:
            pm = b""
        hello = next((m.body for m in s.messages if isinstance(m.body, ClientHello)
                      and m.sender == s.client), None)
        want = hello.client_version if isinstance(hello, ClientHello) else None
        values = {"encrypted premaster": f"{len(enc)} bytes", "key": f"RSA {key.key_size}-bit"}
        if len(pm) != 48 or (want is not None and int.from_bytes(pm[:2], "big") != want):
            return Check(name, False, "the RSA-encrypted premaster does not decrypt to a "
                         "48-byte premaster with the client's version under the server's key: "
                         "the ClientKeyExchange is corrupted (bad RSA decrypt)", values), None
        ms = self._master(s, pm)
        return Check(name, True, "the RSA-encrypted premaster decrypts under the server's "
                     "key", values), ms

    def _key_for(self, der: bytes | None) -> rsa.RSAPrivateKey | None:
        if der is None:
            return self.keys[0] if len(self.keys) == 1 else None
        try:
            pub = x509.load_der_x509_certificate(der).public_key()
        except ValueError:
            return None
        if not isinstance(pub, rsa.RSAPublicKey):
            return None
        for k in self.keys:
            if k.public_key().public_numbers() == pub.public_numbers():
                return k
        return None

    def _master(self, s: Session, pm: bytes) -> bytes | None:
        n = s.neg
        hash_name = prf_hash(s)
        if n.client_random is None or n.server_random is None or hash_name is None:
            return None
        ems_hash = None
        if n.client_ems and n.server_ems and s.client is not None:
            through = s.transcript.bytes_through(s.client, 16)
            if through is None:
                return None
            ems_hash = transcript_hash([through], hash_name)
        return master_secret_from_premaster(pm, n.client_random, n.server_random,
                                            prf_hash=hash_name, ems_session_hash=ems_hash)


class MasterSecrets:
    """Where a session's master secret comes from: key logs first, then RSA keys."""

    def __init__(self, keylog: KeyLog | None = None, rsa_keys: RsaPremaster | None = None):
        self.keylog = keylog
        self.rsa = rsa_keys

    def get(self, s: Session) -> tuple[bytes | None, str]:
        """(master secret or None, where it came from)."""
        cr = s.neg.client_random
        if cr is None:
            return None, ""
        if self.keylog is not None:
            ms = self.keylog.master_secret(cr)
            if ms is not None:
                return ms, "key log"
        if self.rsa is not None:
            res = self.rsa.check(s)
            if res is not None and res[1] is not None:
                return res[1], "RSA key"
        return None, ""


class KeyLogDecryptor:
    """Decrypts a session's DTLS 1.0/1.2 records with master secrets from key logs
    (or from the server's RSA key for TLS_RSA_* suites)."""

    def __init__(self, keylog: KeyLog | MasterSecrets) -> None:
        self.secrets = keylog if isinstance(keylog, MasterSecrets) else MasterSecrets(keylog)
        self._keys: dict[tuple[str, bytes, bytes, int], ConnectionKeys | None] = {}

    def __repr__(self) -> str:
        return f"KeyLogDecryptor({self.secrets.keylog!r}, {self.secrets.rsa!r})"

    def keys_for(self, s: Session) -> ConnectionKeys | None:
        """The session's key block, or None (no secret for its client_random, or a
        suite this toolkit cannot decrypt)."""
        n = s.neg
        if n.client_random is None or n.server_random is None or n.cipher_suite is None:
            return None
        cache_key = (s.sid, n.client_random, n.server_random, n.cipher_suite)
        if cache_key in self._keys:
            return self._keys[cache_key]
        keys: ConnectionKeys | None = None
        ms, _src = self.secrets.get(s)
        params = cipher_params(n.cipher_suite)
        if ms is not None and params is not None and n.version != 0xFEFC:
            keys = key_block(
                ms, n.client_random, n.server_random, params,
                dtls10=n.version in DTLS10_VERSIONS,
                encrypt_then_mac=bool(n.client_etm and n.server_etm),
            )
        if ms is not None:  # no secret yet (RSA: before the ClientKeyExchange) is not cached
            self._keys[cache_key] = keys
        return keys

    def __call__(self, s: Session, sender: int, rec: Record) -> bytes | None:
        keys = self.keys_for(s)
        if keys is None:
            return None
        role = "client" if sender == s.client else "server"
        return decrypt_record(
            keys, role, rec.content_type, rec.version, rec.epoch, rec.sequence, rec.fragment
        )


def decrypted(m: MessageRecord) -> bool:
    """The session decrypted this encrypted message (``raw`` is then plaintext)."""
    return isinstance(m.body, Finished) or (m.body is not None and m.encrypted)


def prf_hash(s: Session) -> str | None:
    """The Finished PRF/transcript hash name of the session's suite and version."""
    if s.neg.version in DTLS10_VERSIONS:
        return "md5sha1"
    if s.neg.cipher_suite is None:
        return None
    params = cipher_params(s.neg.cipher_suite)
    return None if params is None else params.prf_hash


def finished_checks(s: Session, secrets: KeyLog | MasterSecrets) -> dict[str, Check]:
    """``<role> Finished`` checks for each encrypted Finished seen, by role.

    passed=False when the record fails authentication or verify_data differs;
    None when it could not be checked (no secret for this client_random, an
    undecryptable suite); True when verify_data matches the transcript.
    """
    out: dict[str, Check] = {}
    if s.client is None:
        return out
    cr = s.neg.client_random
    if cr is None:
        return out
    if isinstance(secrets, KeyLog):
        secrets = MasterSecrets(secrets)
    ms, _src = secrets.get(s)
    has_secret = ms is not None
    hash_name = prf_hash(s)
    in_transcript = {(e.sender, e.message_seq) for e in s.transcript.entries}
    running: list[bytes] = []
    last_seq: dict[int, int] = {}
    for m in s.messages:
        if m.encrypted and m.type == "Finished":
            role = "client" if m.sender == s.client else "server"
            name = f"{role} Finished"
            if name in out:
                continue
            seq = last_seq.get(m.sender, -1) + 1
            check, rebuilt = _one_finished(s, m, role, seq, has_secret, ms, hash_name, running)
            out[name] = check
            plain = m.raw if decrypted(m) else rebuilt
            if plain:
                running.append(plain)
        elif not m.encrypted and m.msg_type is not None and m.message_seq is not None:
            last_seq[m.sender] = max(last_seq.get(m.sender, -1), m.message_seq)
            if (m.sender, m.message_seq) in in_transcript:
                running.append(m.raw)
    return out


def _one_finished(
    s: Session,
    m: MessageRecord,
    role: str,
    seq: int,
    has_secret: bool,
    ms: bytes | None,
    hash_name: str | None,
    before: list[bytes],
) -> tuple[Check, bytes]:
    """The check, and the Finished as the transcript holds it when it had to be rebuilt
    from the expected verify_data (its record did not decrypt)."""
    name = f"{role} Finished"
    frames = ", ".join(str(f) for f in m.frames)
    expected: bytes | None = None
    rebuilt = b""
    if ms is not None and hash_name is not None:
        label = "client finished" if role == "client" else "server finished"
        expected = finished_verify_data(ms, label, transcript_hash(before, hash_name), hash_name)
        rebuilt = transcript_message(20, seq, expected)
    copies = set(m.frames) | set(s.dirs[m.sender].finished_frames)
    failures = [r for (snd, fr, r) in s.auth_failures if snd == m.sender and fr in copies]
    if failures:
        return Check(name, False, f"{role} Finished (frame {frames}) fails authentication: "
                     f"{failures[0]} -- corrupted in transit, or the two sides derived "
                     "different keys", {"frame": frames}), rebuilt
    if not has_secret or ms is None:
        return Check(name, None, "no master secret for this client_random (key log, RSA key)",
                     {"client_random": (s.neg.client_random or b"").hex()}), b""
    if not decrypted(m):
        return Check(name, None, f"cannot decrypt the {role} Finished with this cipher suite",
                     {"frame": frames}), rebuilt
    if expected is None:
        return Check(name, None, "unknown PRF hash for this cipher suite"), b""
    try:
        _t, _seq, body = split_handshake_header(m.raw)
    except DecodeError as e:
        return Check(name, False, f"decrypted {role} Finished does not decode: {e.reason}"), b""
    values = {
        "verify_data sent": body.hex(),
        "verify_data expected": expected.hex(),
        "transcript": f"{len(before)} messages, sha256 "
        f"{hashlib.sha256(b''.join(before)).hexdigest()[:16]}...",
    }
    if body == expected:
        return Check(name, True, f"{role} Finished authenticates and its verify_data matches "
                     "the transcript", values), b""
    return Check(name, False, f"{role} Finished decrypts but its verify_data does not match "
                 "the transcript: the two sides hashed different handshakes or derived "
                 "different master secrets", values), b""
