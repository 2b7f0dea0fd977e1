"""Passive checks: what an observer can verify with no secret.

Each function reads a :class:`~proxy.session.session.Session` and returns
:class:`~proxy.events.Check` values (name -> Check). A check that cannot run says
so (``passed=None`` and why); none of them raises on odd input beyond what
:mod:`proxy.verdict.engine` catches and turns into a ``passed=None`` check.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from proxy.decode.dtls import registry
from proxy.decode.dtls.crypto.signatures import (
    SignatureCheck,
    verify_certificate_verify,
    verify_server_key_exchange,
)
from proxy.decode.dtls.messages import (
    Certificate,
    CertificateVerify,
    ClientHello,
    ClientKeyExchange,
    ServerHello,
    ServerKeyExchange,
)
from proxy.decode.dtls.x509 import self_signature_verifies
from proxy.events import Check
from proxy.session.session import MessageRecord, Session
from proxy.verdict.order import order_violations, settled

HT_CERTIFICATE = 11
HT_CERTIFICATE_VERIFY = 15
DTLS10_VERSIONS = frozenset({0xFEFF, 0x0100})
"""DTLS 1.0 and OpenSSL 0.9.8's pre-RFC 0x0100: the TLS 1.0 PRF, MD5+SHA-1."""
ROLES = ("client", "server")

CV_CHECK = "client CertificateVerify signature"
SKE_CHECK = "server ServerKeyExchange signature"
ORDER_CHECK = "message order"
MTU_CHECK = "datagram size vs path MTU"


def role_index(s: Session, role: str) -> int | None:
    """Endpoint index of ``role`` (None before roles are known)."""
    if s.client is None:
        return None
    return s.client if role == "client" else 1 - s.client


def find_message(s: Session, role: str, type_name: str) -> MessageRecord | None:
    """``role``'s first message of ``type_name`` in the current handshake."""
    idx = role_index(s, role)
    for m in s.messages:
        if m.sender == idx and m.type == type_name:
            return m
    return None


def leaf_der(s: Session, role: str) -> bytes | None:
    """DER of ``role``'s end-entity certificate, if it sent a non-empty Certificate."""
    cert = s.neg.certificates.get(role)
    if not isinstance(cert, Certificate) or not cert.entries:
        return None
    return cert.entries[0].der


def _sig_values(r: SignatureCheck, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    v = {"scheme": r.algorithm, "key": r.key_type + (f" {r.key_bits}-bit" if r.key_bits else "")}
    v.update(extra or {})
    return v


# ------------------------------------------------------------------ signatures


@dataclass
class SignatureResult:
    """A signature check with the raw outcome (for key-type rules and reasons)."""

    check: Check
    result: SignatureCheck | None = None
    message: MessageRecord | None = None


def certificate_verify(s: Session) -> SignatureResult | None:
    """The client's CertificateVerify over the RFC 6347 transcript (None: no CV yet)."""
    m = find_message(s, "client", "CertificateVerify")
    if m is None:
        return None
    body = m.body
    if not isinstance(body, CertificateVerify):
        return SignatureResult(Check(CV_CHECK, None, "CertificateVerify body did not parse"),
                               message=m)
    der = leaf_der(s, "client")
    if der is None:
        return SignatureResult(
            Check(CV_CHECK, None, "no client certificate seen: cannot check the signature"),
            message=m,
        )
    assert s.client is not None
    data = s.transcript.bytes_before(s.client, HT_CERTIFICATE_VERIFY)
    if data is None:
        return SignatureResult(Check(CV_CHECK, None, "CertificateVerify not in the transcript"),
                               message=m)
    dtls10 = body.signature_algorithm is None or s.neg.version in DTLS10_VERSIONS
    r = verify_certificate_verify(der, body.signature_algorithm, body.signature, data,
                                  dtls10=dtls10)
    values = _sig_values(r, {
        "transcript": f"{_count_before(s, s.client, HT_CERTIFICATE_VERIFY)} messages, "
                      f"{len(data)} bytes",
        "transcript sha256": hashlib.sha256(data).hexdigest(),
        "signature": f"{len(body.signature)} bytes, ends {body.signature[-4:].hex()}",
    })
    return SignatureResult(Check(CV_CHECK, r.passed, r.reason, values), r, m)


def _count_before(s: Session, sender: int, msg_type: int) -> int:
    n = 0
    for e in s.transcript.entries:
        if e.sender == sender and e.msg_type == msg_type:
            return n
        n += 1
    return n


def server_key_exchange(s: Session) -> SignatureResult | None:
    """The ServerKeyExchange signature over client_random + server_random + params."""
    m = find_message(s, "server", "ServerKeyExchange")
    if m is None:
        return None
    body = m.body
    if not isinstance(body, ServerKeyExchange):
        return SignatureResult(Check(SKE_CHECK, None, "ServerKeyExchange body did not parse"),
                               message=m)
    if body.signature is None:
        return SignatureResult(
            Check(SKE_CHECK, True, f"{body.kind} ServerKeyExchange carries no signature "
                  "(nothing to verify)"), message=m)
    der = leaf_der(s, "server")
    cr, sr = s.neg.client_random, s.neg.server_random
    if der is None or cr is None or sr is None:
        return SignatureResult(
            Check(SKE_CHECK, None, "server certificate or randoms missing"), message=m)
    dtls10 = body.signature_algorithm is None or s.neg.version in DTLS10_VERSIONS
    r = verify_server_key_exchange(der, body.signature_algorithm, body.signature, cr, sr,
                                   body.params_raw, dtls10=dtls10)
    values = _sig_values(r, {
        "signed": f"client_random + server_random + {len(body.params_raw)} bytes of "
                  f"{body.kind} params",
        "signature": f"{len(body.signature)} bytes, ends {body.signature[-4:].hex()}",
    })
    return SignatureResult(Check(SKE_CHECK, r.passed, r.reason, values), r, m)


def key_vs_scheme(role: str, sig: SignatureResult | None) -> Check | None:
    """The certificate's key type against the signature scheme it signed with."""
    if sig is None or sig.result is None:
        return None
    r = sig.result
    name = f"{role} certificate key vs signature scheme"
    mismatch = "but signature scheme" in r.reason or "needs an RSASSA-PSS" in r.reason \
        or "only signs with" in r.reason
    values = {"key": r.key_type, "scheme": r.algorithm}
    if mismatch:
        return Check(name, False, r.reason, values)
    return Check(name, True, f"{r.key_type} key can sign {r.algorithm}", values)


# ------------------------------------------------------------------ certificates


def certificate_checks(s: Session, role: str, at: float) -> dict[str, Check]:
    """Validity window at time ``at`` and the self-signature of ``role``'s certificate."""
    out: dict[str, Check] = {}
    cert = s.neg.certificates.get(role)
    if not isinstance(cert, Certificate):
        return out
    if not cert.entries:
        out[f"{role} Certificate"] = Check(f"{role} Certificate", False,
                                           f"{role} sent an empty Certificate message")
        return out
    summ = cert.entries[0].summary
    if summ is None:
        err = cert.entries[0].error or "does not parse"
        out[f"{role} Certificate"] = Check(f"{role} Certificate", False,
                                           f"{role} certificate does not parse: {err}")
        return out
    name = f"{role} Certificate validity"
    values = {"not_before": summ.not_before, "not_after": summ.not_after,
              "checked at": _iso(at)}
    if at < summ.not_before_ts:
        out[name] = Check(name, False, f"{role} certificate is not valid yet (valid from "
                          f"{summ.not_before})", values)
    elif at > summ.not_after_ts:
        out[name] = Check(name, False, f"{role} certificate expired on {summ.not_after}", values)
    else:
        out[name] = Check(name, True, f"{role} certificate is within its validity window",
                          values)
    sname = f"{role} Certificate signature"
    sv = {"subject": summ.subject, "issuer": summ.issuer,
          "algorithm": summ.signature_algorithm}
    if not summ.self_issued:
        out[sname] = Check(sname, None, f"{role} certificate is issued by {summ.issuer}: "
                           "its chain is not checked by the proxy", sv)
        return out
    ok = self_signature_verifies(cert.entries[0].der)
    if ok is None:
        out[sname] = Check(sname, None, f"{role} certificate's own signature "
                           f"({summ.signature_algorithm}) cannot be checked here", sv)
    elif ok:
        out[sname] = Check(sname, True, f"{role} certificate is self-signed and its own "
                           "signature verifies", sv)
    else:
        out[sname] = Check(sname, False, f"{role} certificate is self-issued but its "
                           "signature does not verify under its own key", sv)
    return out


@functools.lru_cache(maxsize=1024)
def _iso(ts: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_fingerprint(fp: str) -> str:
    """``ab:cd...`` / ``abcd...`` -> ``AB:CD:...`` (SDP form)."""
    h = fp.strip().replace(":", "").replace(" ", "").upper()
    if h.startswith("SHA-256"):
        h = h[7:]
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


def fingerprint_check(s: Session, role: str, expected: str | None, source: str) -> Check | None:
    """``role``'s certificate SHA-256 against the SDP fingerprint (None: no cert yet)."""
    name = f"{role} certificate fingerprint vs SDP"
    seen = s.neg.fingerprints.get(role)
    if seen is None:
        return None
    if expected is None:
        return Check(name, None, f"no SDP fingerprint given for the {role} "
                     "(--sdp FILE or fingerprints option)", {"certificate": seen})
    exp = normalize_fingerprint(expected)
    values = {"certificate sha-256": seen, f"SDP a=fingerprint ({source})": exp}
    if exp == seen:
        return Check(name, True, f"{role} certificate matches the SDP fingerprint", values)
    return Check(name, False, f"{role} certificate's SHA-256 {seen} differs from the SDP "
                 f"a=fingerprint {exp}", values)


# ------------------------------------------------------------------ negotiation


_NAMES: dict[tuple[int, tuple[int, ...]], str] = {}
"""(registry id, values) -> :func:`_names` (the same offer is named at every rebuild)."""


def _names(table: registry.Table, values: Sequence[int]) -> str:
    key = (id(table), tuple(values))
    hit = _NAMES.get(key)
    if hit is not None:
        return hit
    shown = [registry.name(table, v) for v in values if not registry.is_grease(v)]
    text = ", ".join(shown) if shown else "(none)"
    if len(_NAMES) >= 4096:
        _NAMES.clear()
    _NAMES[key] = text
    return text


def negotiation_checks(s: Session) -> dict[str, Check]:
    """Server choices against the client's offer (suite, version, SRTP, EMS, ETM)."""
    n = s.neg
    out: dict[str, Check] = {}
    if n.cipher_suite is None:
        return out
    suites = _names(registry.CIPHER_SUITES, n.offered_suites)
    chosen = registry.name(registry.CIPHER_SUITES, n.cipher_suite)
    v = {"client offers": suites, "server chose": chosen}
    if n.cipher_suite in n.offered_suites:
        out["cipher suite"] = Check("cipher suite", True, f"server chose {chosen}, which the "
                                    "client offered", v)
    else:
        out["cipher suite"] = Check("cipher suite", False, f"server chose {chosen}, which the "
                                    "client did not offer", v)
    if n.version is not None:
        offered = n.offered_version_names()
        ch = n.version_name() or "?"
        vv = {"client offers": ", ".join(offered), "server chose": ch}
        ok = n.version in n.offered_versions or (
            n.version >= min(n.offered_versions, default=0) and 0xFEFC not in n.offered_versions)
        out["protocol version"] = Check("protocol version", ok,
                                        f"server chose {ch}" + ("" if ok else ", not offered"),
                                        vv)
    if n.offered_srtp or n.srtp_profile is not None:
        sv = {"client offers": _names(registry.SRTP_PROFILES, n.offered_srtp),
              "server chose": "(none)" if n.srtp_profile is None
              else registry.name(registry.SRTP_PROFILES, n.srtp_profile)}
        if n.srtp_profile is None and n.version == 0xFEFC:
            out["SRTP profile"] = Check(
                "SRTP profile", None, "DTLS 1.3: the server answers use_srtp in its "
                "EncryptedExtensions, which is encrypted (a key log would show it)", sv)
        elif n.srtp_profile is None:
            out["SRTP profile"] = Check(
                "SRTP profile", False, "client offered use_srtp but the ServerHello has no "
                "use_srtp: the server accepted none of the offered profiles, so no SRTP keys "
                "for media", sv)
        elif n.srtp_profile not in n.offered_srtp:
            out["SRTP profile"] = Check("SRTP profile", False, "server chose an SRTP profile "
                                        "the client did not offer", sv)
        else:
            out["SRTP profile"] = Check("SRTP profile", True, f"server chose "
                                        f"{sv['server chose']}, offered by the client", sv)
    if n.server_ems is not None:
        ev = {"client offers": "yes" if n.client_ems else "no",
              "server returns": "yes" if n.server_ems else "no"}
        if n.server_ems and not n.client_ems:
            out["extended_master_secret"] = Check(
                "extended_master_secret", False, "server returned extended_master_secret "
                "the client did not offer (RFC 7627 forbids it): the sides may derive different "
                "master secrets", ev)
        elif n.client_ems and not n.server_ems:
            out["extended_master_secret"] = Check(
                "extended_master_secret", True, "client offered extended_master_secret, server "
                "did not return it: both must use the classic master secret", ev)
        else:
            state = "used by both" if n.client_ems else "used by neither"
            out["extended_master_secret"] = Check("extended_master_secret", True,
                                                  f"extended_master_secret {state}", ev)
    return out


EXT_RENEGOTIATION_INFO = 0xFF01
SCSV_RENEGOTIATION = 0x00FF


def renegotiation_check(s: Session) -> Check | None:
    """RFC 5746: a client that signals secure renegotiation must get renegotiation_info back
    (OpenSSL 3 clients refuse a server without it: "unsafe legacy renegotiation disabled")."""
    ch = find_message(s, "client", "ClientHello")
    sh = find_message(s, "server", "ServerHello")
    if ch is None or sh is None or not isinstance(ch.body, ClientHello) \
            or not isinstance(sh.body, ServerHello) or s.neg.version == 0xFEFC:
        return None
    offered = SCSV_RENEGOTIATION in ch.body.cipher_suites or any(
        e.type == EXT_RENEGOTIATION_INFO for e in ch.body.extensions)
    returned = any(e.type == EXT_RENEGOTIATION_INFO for e in sh.body.extensions)
    v = {"client signals": "yes" if offered else "no", "server returns": "yes" if returned
         else "no"}
    name = "renegotiation_info"
    if offered and not returned:
        return Check(name, False, "client signals secure renegotiation but the ServerHello has "
                     "no renegotiation_info: OpenSSL 3 clients refuse such a server (unsafe "
                     "legacy renegotiation disabled)", v)
    if returned and not offered:
        return Check(name, False, "server returned renegotiation_info the client did not "
                     "signal", v)
    return Check(name, True, "secure renegotiation signalled by both" if offered
                 else "renegotiation_info used by neither", v)


def premaster_check(s: Session) -> Check | None:
    """ClientKeyExchange: is there an RSA-encrypted premaster (a 'bad RSA decrypt' candidate)?"""
    m = find_message(s, "client", "ClientKeyExchange")
    if m is None:
        return None
    body = m.body
    name = "ClientKeyExchange premaster"
    if not isinstance(body, ClientKeyExchange):
        return Check(name, None, "ClientKeyExchange body did not parse")
    if body.encrypted_pre_master_secret is not None:
        return Check(name, None, "RSA-encrypted premaster: checking it needs the server's RSA "
                     "private key", {"kind": body.kind})
    return Check(name, True, f"{body.kind} key exchange: no RSA decryption involved, not a "
                 "decrypt_error candidate", {"kind": body.kind})


def order_check(s: Session) -> tuple[Check, list[MessageRecord]]:
    """The legal-order walk (proxy.verdict.order); the offending messages."""
    if s.client is None or s.neg.version == 0xFEFC or s.handshakes > 1:
        return Check(ORDER_CHECK, None, "order not checked (DTLS 1.3 or renegotiation)"), []
    bad = order_violations(settled(s.handshake_order()), s.client, resumption=s.neg.resumption)
    if not bad:
        return Check(ORDER_CHECK, True, f"{len(s.messages)} messages in a legal order"), []
    first = bad[0]
    return (Check(ORDER_CHECK, False, first.why,
                  {"message": first.message.type, "previous": first.previous,
                   "allowed": ", ".join(first.expected)}),
            [b.message for b in bad])


@dataclass
class SizeLog:
    """Largest datagram per direction and which frames exceeded the MTU."""

    sizes: dict[int, tuple[str, int]] = field(default_factory=dict)
    """frame -> (direction, size)."""

    def add(self, frame: int, direction: str, size: int) -> None:
        """Remember one datagram's size."""
        if len(self.sizes) < 4096:
            self.sizes[frame] = (direction, size)


def mtu_check(log: SizeLog, mtu: int | None) -> tuple[Check, list[int]]:
    """Datagrams larger than the configured path MTU (UDP payload bytes)."""
    if mtu is None:
        return Check(MTU_CHECK, None, "no path MTU configured (mtu option)"), []
    over = sorted(f for f, (_d, n) in log.sizes.items() if n > mtu)
    biggest = max((n for _d, n in log.sizes.values()), default=0)
    v = {"mtu": str(mtu), "largest datagram": str(biggest)}
    if not over:
        return Check(MTU_CHECK, True, f"every datagram fits in {mtu} bytes", v), []
    v["frames over"] = ", ".join(str(f) for f in over[:20])
    return Check(MTU_CHECK, False, f"{len(over)} datagram(s) larger than the {mtu}-byte path "
                 "MTU", v), over
