"""What the two sides offered and agreed on, gathered from the parsed messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.decode.dtls import registry
from proxy.decode.dtls.extensions import KeyShareEntry, UseSrtp
from proxy.decode.dtls.messages import (
    Certificate,
    CertificateVerify,
    ClientHello,
    HelloRetryRequest,
    ServerHello,
    ServerKeyExchange,
)

DTLS13 = 0xFEFC
EXT_SUPPORTED_GROUPS = 10
EXT_USE_SRTP = 14
EXT_ENCRYPT_THEN_MAC = 22
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SUPPORTED_VERSIONS = 43
EXT_KEY_SHARE = 51


def _ext_value(body: ClientHello | ServerHello, ext_type: int) -> tuple[bool, Any]:
    """(present, parsed value) of extension ``ext_type`` in a hello body."""
    for ext in body.extensions:
        if ext.type == ext_type:
            return True, ext.value
    return False, None


def _ints(value: Any) -> tuple[int, ...]:
    """Integers in a parsed extension value (an int, a tuple of ints, or UseSrtp)."""
    if isinstance(value, int):
        return (value,)
    if isinstance(value, UseSrtp):
        return value.profiles
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, int))
    return ()


@dataclass
class Negotiation:
    """Offers (from ClientHello) and choices (from ServerHello and later messages)."""

    client_random: bytes | None = None
    server_random: bytes | None = None
    client_session_id: bytes = b""
    offered_suites: tuple[int, ...] = ()
    offered_versions: tuple[int, ...] = ()
    offered_srtp: tuple[int, ...] = ()
    offered_groups: tuple[int, ...] = ()
    client_ems: bool = False
    client_etm: bool = False
    version: int | None = None
    cipher_suite: int | None = None
    group: int | None = None
    srtp_profile: int | None = None
    server_ems: bool | None = None
    server_etm: bool | None = None
    resumption: bool = False
    signature_schemes: list[int] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    certificates: dict[str, Certificate] = field(default_factory=dict)
    """Role -> parsed Certificate body."""
    client_hello: ClientHello | None = None
    server_hello: ServerHello | None = None
    """The hellos (a HelloRetryRequest until the ServerHello): the stack guesses' input."""

    def observe(self, role: str | None, body: object) -> None:
        """Take what a parsed first-copy message says about the negotiation."""
        if isinstance(body, ClientHello):
            self.client_hello = body
            self.client_random = body.random
            self.client_session_id = body.session_id
            self.offered_suites = body.cipher_suites
            present, v = _ext_value(body, EXT_SUPPORTED_VERSIONS)
            self.offered_versions = _ints(v) if present else (body.client_version,)
            self.offered_srtp = _ints(_ext_value(body, EXT_USE_SRTP)[1])
            self.offered_groups = _ints(_ext_value(body, EXT_SUPPORTED_GROUPS)[1])
            self.client_ems = _ext_value(body, EXT_EXTENDED_MASTER_SECRET)[0]
            self.client_etm = _ext_value(body, EXT_ENCRYPT_THEN_MAC)[0]
        elif isinstance(body, HelloRetryRequest):
            self.server_hello = self.server_hello or body
            return
        elif isinstance(body, ServerHello):
            self.server_hello = body
            self.server_random = body.random
            present, v = _ext_value(body, EXT_SUPPORTED_VERSIONS)
            chosen = _ints(v)
            self.version = chosen[0] if present and chosen else body.server_version
            self.cipher_suite = body.cipher_suite
            srtp = _ints(_ext_value(body, EXT_USE_SRTP)[1])
            self.srtp_profile = srtp[0] if srtp else None
            self.server_ems = _ext_value(body, EXT_EXTENDED_MASTER_SECRET)[0]
            self.server_etm = _ext_value(body, EXT_ENCRYPT_THEN_MAC)[0]
            self.resumption = bool(body.session_id) and body.session_id == self.client_session_id
            ks = _ext_value(body, EXT_KEY_SHARE)[1]
            if isinstance(ks, KeyShareEntry):
                self.group = ks.group
        elif isinstance(body, ServerKeyExchange):
            if body.named_curve is not None:
                self.group = body.named_curve
            self._scheme(body.signature_algorithm)
        elif isinstance(body, CertificateVerify):
            self._scheme(body.signature_algorithm)
        elif isinstance(body, Certificate) and role is not None:
            self.certificates[role] = body
            if body.entries and body.entries[0].summary is not None:
                self.fingerprints[role] = body.entries[0].summary.fingerprint_sha256

    def _scheme(self, scheme: int | None) -> None:
        if scheme is not None and scheme not in self.signature_schemes:
            self.signature_schemes.append(scheme)

    # ------------------------------------------------------------- rendering

    def version_name(self) -> str | None:
        """Negotiated version, e.g. ``DTLS 1.2``."""
        return None if self.version is None else registry.name(registry.VERSIONS, self.version)

    def offered_version_names(self) -> tuple[str, ...]:
        """Offered versions (GREASE left out)."""
        return tuple(
            registry.name(registry.VERSIONS, v)
            for v in self.offered_versions
            if not registry.is_grease(v)
        )

    def version_note(self) -> str | None:
        """``client offered DTLS 1.3 and 1.2; server chose 1.3`` (None: one version offered)."""
        offered = self.offered_version_names()
        chosen = self.version_name()
        if len(offered) >= 2 and chosen is not None:
            short = " and ".join(o.replace("DTLS ", "") for o in offered)
            return f"client offered DTLS {short}; server chose {chosen.replace('DTLS ', '')}"
        return None

    def note(self) -> str | None:
        """Sentences about the version choice and what DTLS 1.3 hides."""
        parts = []
        choice = self.version_note()
        if choice:
            parts.append(choice)
        if self.version == DTLS13:
            parts.append(
                "DTLS 1.3 encrypts everything after ServerHello (certificates, CertificateVerify, "
                "Finished): only the hellos can be decoded without a key log"
            )
        return "; ".join(parts) or None
