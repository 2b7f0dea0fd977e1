"""The rules: from checks and observed behaviour to a Verdict (culprit, reason, evidence).

Each rule is a function of a :class:`Context` (the session and every check run
so far) that returns a :class:`~proxy.events.Verdict` or None. The engine
(:mod:`proxy.verdict.engine`) decides when to run them and never emits the
same finding twice. Codes are documented in ``docs/verdicts.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from proxy.decode.dtls import registry
from proxy.decode.dtls.messages import ClientHello
from proxy.decode.keylog import KeyLog
from proxy.events import AlertSeen, Check, CulpritRef, Verdict
from proxy.session.flights import Flight
from proxy.session.session import MessageRecord, Session
from proxy.verdict.checks import CV_CHECK, SKE_CHECK, SignatureResult, find_message

DECRYPT_ERROR = 51
BAD_RECORD_MAC = 20
HANDSHAKE_FAILURE = 40
UNEXPECTED_MESSAGE = 10
ILLEGAL_PARAMETER = 47
DECODE_ERROR = 50
PROTOCOL_VERSION = 70
INSUFFICIENT_SECURITY = 71
CERTIFICATE_ALERTS = frozenset({42, 43, 44, 45, 46, 48, 49})

EXT_SIGNATURE_ALGORITHMS = 13
EXT_SUPPORTED_GROUPS = 10
WEBRTC_SRTP = frozenset({0x0001, 0x0007})
"""Profiles every browser stack accepts (RFC 8827 mandates AES128_CM_HMAC_SHA1_80)."""
WEBRTC_GROUPS = frozenset({23, 29})
"""secp256r1 and x25519."""
ECDSA_P256_SHA256 = 0x0403

KEYLOG_HINT = "give a key log (--keylog, from either peer) to check the Finished"


@dataclass
class Context:
    """What the rules read: the session, the checks so far and the options."""

    s: Session
    now: float
    checks: dict[str, Check]
    cv: SignatureResult | None = None
    ske: SignatureResult | None = None
    server_cv: SignatureResult | None = None
    """The server's CertificateVerify (DTLS 1.3 only)."""
    keylog: KeyLog | None = None
    order_bad: list[MessageRecord] = field(default_factory=list)
    mtu_over: list[int] = field(default_factory=list)
    malformed: list[tuple[str, int | None, str]] = field(default_factory=list)
    """(direction, message_seq, reason) of messages whose body did not parse."""
    sizes: dict[int, tuple[str, int]] = field(default_factory=dict)
    mtu: int | None = None

    def verdict(
        self,
        code: str,
        culprit: CulpritRef | None,
        reason: str,
        evidence: Iterable[Check],
        *,
        certain: bool,
        to_be_certain: str | None = None,
    ) -> Verdict:
        """A Verdict stamped with the context's time and session."""
        return Verdict(self.now, self.s.sid, code, culprit, reason, tuple(evidence), certain,
                       to_be_certain)

    def pick(self, *names: str) -> list[Check]:
        """The named checks that exist, in the given order."""
        return [self.checks[n] for n in names if n in self.checks]

    def role(self, sender: int) -> str:
        """``client`` / ``server`` of an endpoint index."""
        return self.s.role(sender) or "?"


def ref(s: Session, m: MessageRecord, frames: Sequence[int] | None = None) -> CulpritRef:
    """A culprit pointing at message ``m``."""
    return CulpritRef(s.dir_label(m.sender), m.flight, m.type, m.message_seq,
                      tuple(frames) if frames is not None else m.frames)


def flight_messages(s: Session, sender: int, number: int | None) -> list[MessageRecord]:
    """Messages of ``sender``'s flight ``number``, in order."""
    return [m for m in s.messages if m.sender == sender and m.flight == number]


def _other(s: Session, sender: int) -> int:
    return 1 - sender


def _alert_sender(s: Session, a: AlertSeen) -> int:
    assert s.client is not None
    return s.client if a.dir.startswith("client") else 1 - s.client


# ------------------------------------------------------------------ alerts


def explain_alert(ctx: Context, a: AlertSeen) -> Verdict:
    """Attribute a fatal (or unreadable encrypted) alert to a message of the flight it answers."""
    s = ctx.s
    sender = _alert_sender(s, a)
    me, peer = ctx.role(sender), ctx.role(_other(s, sender))
    answered = flight_messages(s, _other(s, sender), a.answers_flight)
    last = answered[-1] if answered else None
    name = a.description_name or "encrypted alert"
    if a.description is None:
        culprit = ref(s, last) if last else None
        return ctx.verdict(
            "encrypted_alert", culprit,
            f"{me} sent an encrypted alert after {peer} flight {a.answers_flight}: its "
            "description is unreadable without keys",
            _all_checks(ctx), certain=False,
            to_be_certain="give a key log (--keylog) to decrypt the alert")
    d = a.description
    if d == DECRYPT_ERROR:
        return _decrypt_error(ctx, a, sender, answered)
    if d == BAD_RECORD_MAC:
        return _bad_record_mac(ctx, a, sender, answered)
    if d in (HANDSHAKE_FAILURE, INSUFFICIENT_SECURITY):
        return _handshake_failure(ctx, a, sender, answered)
    if d == PROTOCOL_VERSION:
        return _protocol_version(ctx, a, sender)
    if d in CERTIFICATE_ALERTS:
        return _certificate_alert(ctx, a, sender)
    if d == UNEXPECTED_MESSAGE:
        bad = next((m for m in ctx.order_bad if m.sender != sender), None)
        if bad is None and len(s.clienthello_senders) > 1:
            bad = next((m for m in s.messages if m.type == "ClientHello"
                        and m.sender == _other(s, sender)), None)
            if bad is not None:
                return ctx.verdict(
                    "role_conflict", ref(s, bad),
                    f"both sides sent ClientHello (both act as DTLS client: a=setup role "
                    f"conflict); the {me} answered with unexpected_message",
                    ctx.pick("message order"), certain=True)
        if bad is not None:
            return ctx.verdict(
                "message_out_of_order", ref(s, bad),
                f"{me} rejected {peer} {bad.type} (unexpected_message): "
                + ctx.checks["message order"].detail,
                ctx.pick("message order"), certain=True)
    if d in (ILLEGAL_PARAMETER, DECODE_ERROR):
        peer_dir = s.dir_label(_other(s, sender))
        for direction, seq, why in ctx.malformed:
            if direction == peer_dir:
                m = next((x for x in s.messages if x.sender == _other(s, sender)
                          and x.message_seq == seq), None)
                if m is not None:
                    return ctx.verdict(
                        "malformed_message", ref(s, m),
                        f"{me} rejected {peer} {m.type} ({name}): {why}",
                        _all_checks(ctx), certain=True)
    culprit = ref(s, last) if last else None
    what = f"{peer} {last.type}" if last else f"{peer} flight {a.answers_flight}"
    return ctx.verdict(
        "alert_unexplained", culprit,
        f"{me} sent fatal {name} answering {peer} flight {a.answers_flight}; no check failed: "
        f"the last message, {what}, is the first suspect",
        _all_checks(ctx), certain=False,
        to_be_certain="the peer's own log (OpenSSL error queue) names the failing step")


def _all_checks(ctx: Context) -> list[Check]:
    return list(ctx.checks.values())


def _decrypt_error(ctx: Context, a: AlertSeen, sender: int,
                   answered: list[MessageRecord]) -> Verdict:
    """The seed case: CertificateVerify, ServerKeyExchange, Finished, Certificate, RSA premaster."""
    s = ctx.s
    me, peer = ctx.role(sender), ctx.role(_other(s, sender))
    types = {m.type for m in answered}
    evidence: list[Check] = []
    sig: SignatureResult | None = None
    if peer == "client":
        evidence += ctx.pick(CV_CHECK, "client Finished", "client Certificate signature",
                             "ClientKeyExchange premaster", "client certificate key vs "
                             "signature scheme", "client Certificate validity", SKE_CHECK)
        if "CertificateVerify" in types:
            sig = ctx.cv
    else:
        evidence += ctx.pick(SKE_CHECK, "server Finished", "server Certificate signature",
                             "server certificate key vs signature scheme", CV_CHECK,
                             "client Finished")
        if "ServerKeyExchange" in types:
            sig = ctx.ske
    evidence += [c for n, c in ctx.checks.items() if c not in evidence]
    bad_pm = _bad_premaster(ctx)
    if bad_pm is not None and peer == "client":
        return ctx.verdict("premaster_bad", ref(s, bad_pm),
                           f"{ctx.checks['ClientKeyExchange premaster'].detail}; the {me} "
                           "answered decrypt_error", evidence, certain=True)
    if sig is not None and sig.check.passed is False and sig.message is not None:
        m = sig.message
        key = sig.result.key_type if sig.result is not None else "?"
        scheme = sig.result.algorithm if sig.result is not None else "?"
        code = ("certificate_verify_bad_signature" if m.type == "CertificateVerify"
                else "server_key_exchange_bad_signature")
        what = "CertificateVerify" if m.type == "CertificateVerify" else "ServerKeyExchange"
        mismatch = ctx.checks.get(f"{peer} certificate key vs signature scheme")
        if mismatch is not None and mismatch.passed is False:
            reason = (f"{peer} {what} cannot verify: {mismatch.detail}; the {me} answered "
                      "decrypt_error")
        else:
            reason = (f"{peer} {what} signature does not verify under the {peer} "
                      f"certificate's key ({key}, {scheme}): the {me} answered decrypt_error")
        return ctx.verdict(code, ref(s, m), reason, evidence, certain=True)
    fin = find_message_in(answered, "Finished")
    fin_check = ctx.checks.get(f"{peer} Finished")
    if fin is not None and fin_check is not None and fin_check.passed is False:
        return ctx.verdict("finished_bad", ref(s, fin),
                           f"{peer} Finished is wrong: {fin_check.detail}; the {me} answered "
                           "decrypt_error", evidence, certain=True)
    cert_sig = ctx.checks.get(f"{peer} Certificate signature")
    if cert_sig is not None and cert_sig.passed is False:
        cm = find_message(s, peer, "Certificate")
        if cm is not None:
            return ctx.verdict("certificate_bad_signature", ref(s, cm),
                               f"{cert_sig.detail}; the {me} answered decrypt_error",
                               evidence, certain=True)
    if fin is not None:
        if fin_check is not None and fin_check.passed is True:
            return ctx.verdict(
                "alert_unexplained", ref(s, fin),
                f"{me} sent decrypt_error, but every check passes: {peer} signatures verify "
                f"and its Finished matches the key log", evidence, certain=False,
                to_be_certain="compare both peers' key logs; the peer's own log names the step")
        pre = ctx.checks.get("ClientKeyExchange premaster")
        rsa_open = pre is not None and pre.passed is None and peer == "client"
        signed = "signatures verify" if sig is not None else "no signature in that flight"
        extra = "; or the RSA premaster (needs the server's RSA key)" if rsa_open else ""
        return ctx.verdict(
            "finished_suspected", ref(s, fin),
            f"{peer} Finished is the likely culprit of decrypt_error: {signed}, so the "
            f"{me} rejected its verify_data (the two sides hashed different handshakes or "
            f"derived different keys){extra}",
            evidence, certain=False, to_be_certain=KEYLOG_HINT)
    last = answered[-1] if answered else None
    return ctx.verdict(
        "alert_unexplained", ref(s, last) if last else None,
        f"{me} sent decrypt_error answering {peer} flight {a.answers_flight}, and no "
        "signature in it fails", evidence, certain=False,
        to_be_certain="the peer's own log names the failing step")


def _bad_premaster(ctx: Context) -> MessageRecord | None:
    """The ClientKeyExchange when the server's RSA key shows its premaster is corrupt."""
    c = ctx.checks.get("ClientKeyExchange premaster")
    if c is None or c.passed is not False:
        return None
    return find_message(ctx.s, "client", "ClientKeyExchange")


def find_message_in(msgs: Sequence[MessageRecord], type_name: str) -> MessageRecord | None:
    """First message of ``type_name`` in ``msgs``."""
    return next((m for m in msgs if m.type == type_name), None)


def _bad_record_mac(ctx: Context, a: AlertSeen, sender: int,
                    answered: list[MessageRecord]) -> Verdict:
    s = ctx.s
    me, peer = ctx.role(sender), ctx.role(_other(s, sender))
    enc = next((m for m in answered if m.encrypted), None) or (answered[-1] if answered else None)
    check = ctx.checks.get(f"{peer} Finished")
    conflict = ctx.checks.get("key logs agree")
    evidence = ctx.pick(f"{peer} Finished", "key logs agree", "extended_master_secret",
                        "cipher suite")
    if conflict is not None and conflict.passed is False:
        return ctx.verdict("keylog_conflict", ref(s, enc) if enc else None,
                           f"{conflict.detail}; the {me} could not authenticate the {peer}'s "
                           "first encrypted record (bad_record_mac)", evidence, certain=True)
    if check is not None and check.passed is False:
        return ctx.verdict("finished_auth_failed", ref(s, enc) if enc else None,
                           f"{peer} Finished fails authentication: {check.detail}",
                           evidence, certain=True)
    return ctx.verdict(
        "record_mac_failed", ref(s, enc) if enc else None,
        f"{me} could not authenticate the {peer}'s first encrypted record (bad_record_mac): "
        "the two sides derived different keys (extended_master_secret, cipher or key block "
        "mismatch) or the record was corrupted", evidence, certain=False,
        to_be_certain="give both peers' key logs (--keylog twice) to compare master secrets")


def _ids(values: Iterable[int]) -> list[int]:
    return [v for v in values if not registry.is_grease(v)]


def _ext_ints(hello: ClientHello, ext_type: int) -> tuple[int, ...] | None:
    for e in hello.extensions:
        if e.type == ext_type:
            v = e.value
            if isinstance(v, tuple | list):
                return tuple(x for x in v if isinstance(x, int))
            return ()
    return None


def negotiation_verdict(ctx: Context, hello: MessageRecord, how: str) -> Verdict:
    """No common parameter behind a refused ClientHello: name the most likely missing piece."""
    s = ctx.s
    n = s.neg
    body = hello.body
    suites = _ids(n.offered_suites)
    suite_names = [registry.name(registry.CIPHER_SUITES, c) for c in suites]
    srtp = _ids(n.offered_srtp)
    groups = _ids(n.offered_groups)
    sigs: tuple[int, ...] | None = None
    if isinstance(body, ClientHello):
        sigs = _ext_ints(body, EXT_SIGNATURE_ALGORITHMS)
    unknown = "unknown to a passive observer (the server never sent it)"
    ecdsa = [c for c in suites if "_ECDSA_" in registry.name(registry.CIPHER_SUITES, c)]
    evidence = [
        Check("cipher suites", None if ecdsa else False,
              f"client offers {len(suites)} suite(s)" + ("" if ecdsa else
                                                          ", none for an ECDSA certificate"),
              {"client offers": ", ".join(suite_names) or "(none)", "server accepts": unknown}),
        Check("SRTP profiles", None if (not srtp or set(srtp) & WEBRTC_SRTP) else False,
              "client offers " + (", ".join(registry.name(registry.SRTP_PROFILES, p)
                                            for p in srtp) or "no use_srtp"),
              {"client offers": ", ".join(registry.name(registry.SRTP_PROFILES, p)
                                          for p in srtp) or "(none)",
               "server accepts": unknown}),
        Check("groups", None if (not groups or set(groups) & WEBRTC_GROUPS) else False,
              "client offers " + (", ".join(registry.name(registry.SUPPORTED_GROUPS, g)
                                            for g in groups) or "no supported_groups"),
              {"client offers": ", ".join(registry.name(registry.SUPPORTED_GROUPS, g)
                                          for g in groups) or "(none)",
               "server accepts": unknown}),
        Check("signature schemes",
              None if (sigs is None or ECDSA_P256_SHA256 in sigs) else False,
              "client offers " + (", ".join(registry.signature_scheme_name(x)
                                            for x in sigs) if sigs else "no signature_algorithms"),
              {"client offers": ", ".join(registry.signature_scheme_name(x)
                                          for x in (sigs or ())) or "(none)",
               "server accepts": unknown}),
    ]
    evidence += [c for c in ctx.checks.values()]
    culprit = ref(s, hello)
    base = f"server refused the ClientHello ({how}): "
    if not ecdsa and suites:
        return ctx.verdict(
            "no_common_cipher_suite", culprit,
            base + "no cipher suite in common -- the client offers only "
            + _short(suite_names) + ", none usable with the ECDSA certificate every WebRTC "
            "peer uses", evidence, certain=False,
            to_be_certain="the server's cipher list (its config) settles it")
    if srtp and not set(srtp) & WEBRTC_SRTP:
        return ctx.verdict(
            "no_common_srtp_profile", culprit,
            base + "no SRTP profile in common -- the client offers only "
            + ", ".join(registry.name(registry.SRTP_PROFILES, p) for p in srtp),
            evidence, certain=False,
            to_be_certain="the server's SRTP profile list (its config) settles it")
    if groups and not set(groups) & WEBRTC_GROUPS:
        return ctx.verdict(
            "no_common_group", culprit,
            base + "no group in common -- the client offers neither P-256 nor X25519",
            evidence, certain=False,
            to_be_certain="the server's group list settles it")
    if sigs is not None and ECDSA_P256_SHA256 not in sigs:
        return ctx.verdict(
            "no_common_signature_scheme", culprit,
            base + "no signature scheme in common -- the client does not offer "
            "ecdsa_secp256r1_sha256", evidence, certain=False,
            to_be_certain="the server certificate's key type settles it")
    return ctx.verdict(
        "negotiation_failed", culprit,
        base + "no cipher suite, group, signature scheme or SRTP profile in common; the "
        "client's offer looks usable for WebRTC, so the server's own lists are narrower",
        evidence, certain=False,
        to_be_certain="compare with the server's configured cipher/group/SRTP lists")


def _short(names: list[str], n: int = 4) -> str:
    if len(names) <= n:
        return ", ".join(names)
    return ", ".join(names[:n]) + f" (+{len(names) - n} more)"


def _handshake_failure(ctx: Context, a: AlertSeen, sender: int,
                       answered: list[MessageRecord]) -> Verdict:
    s = ctx.s
    me = ctx.role(sender)
    name = a.description_name or "handshake_failure"
    if me == "server":
        hello = find_message_in(answered, "ClientHello") or find_message(s, "client",
                                                                         "ClientHello")
        if hello is not None and find_message(s, "server", "ServerHello") is None:
            return negotiation_verdict(ctx, hello, name)
    sh = find_message(s, "server", "ServerHello")
    for cname in ("renegotiation_info", "cipher suite", "SRTP profile", "protocol version",
                  "extended_master_secret"):
        c = ctx.checks.get(cname)
        if c is not None and c.passed is False and sh is not None:
            code = ("renegotiation_info_missing" if cname == "renegotiation_info"
                    else "server_choice_not_offered")
            return ctx.verdict(code, ref(s, sh),
                               f"{cname}: {c.detail}; the {me} answered {name}",
                               _all_checks(ctx), certain=True)
    last = answered[-1] if answered else None
    return ctx.verdict(
        "alert_unexplained", ref(s, last) if last else None,
        f"{me} sent {name} answering flight {a.answers_flight}; no negotiated parameter is "
        "outside the offer", _all_checks(ctx), certain=False,
        to_be_certain="the peer's own log names the refused parameter")


def _protocol_version(ctx: Context, a: AlertSeen, sender: int) -> Verdict:
    s = ctx.s
    me = ctx.role(sender)
    offered = ", ".join(s.neg.offered_version_names()) or "?"
    if me == "server":
        hello = find_message(s, "client", "ClientHello")
        return ctx.verdict(
            "protocol_version_refused", ref(s, hello) if hello else None,
            f"server refused every DTLS version the client offers ({offered})",
            [Check("protocol version", False, f"client offers {offered}; server refused",
                   {"client offers": offered})], certain=True)
    sh = find_message(s, "server", "ServerHello")
    chosen = s.neg.version_name() or "?"
    return ctx.verdict(
        "protocol_version_refused", ref(s, sh) if sh else None,
        f"client refused the server's version {chosen} (it offered {offered})",
        [Check("protocol version", False, f"server chose {chosen}",
               {"client offers": offered, "server chose": chosen})], certain=True)


def _certificate_alert(ctx: Context, a: AlertSeen, sender: int) -> Verdict:
    s = ctx.s
    me, peer = ctx.role(sender), ctx.role(_other(s, sender))
    m = find_message(s, peer, "Certificate")
    name = a.description_name or "?"
    names = (f"{peer} certificate fingerprint vs SDP", f"{peer} Certificate validity",
             f"{peer} Certificate signature", f"{peer} Certificate",
             f"{peer} certificate key vs signature scheme")
    evidence = ctx.pick(*names)
    failed = next((c for c in evidence if c.passed is False), None)
    culprit = ref(s, m) if m else None
    if failed is not None:
        return ctx.verdict("certificate_rejected", culprit,
                           f"{me} rejected the {peer} certificate ({name}): {failed.detail}",
                           evidence, certain=True)
    return ctx.verdict(
        "certificate_rejected", culprit,
        f"{me} rejected the {peer} certificate ({name}); it is within its validity window "
        f"and self-signed, so the {me} likely expected another fingerprint",
        evidence, certain=False,
        to_be_certain="give the SDP (--sdp FILE) to compare the a=fingerprint")


# ------------------------------------------------------------------ silence


def _flight_lost(ctx: Context, lost: Flight, waiting: Flight) -> Verdict:
    """``lost`` was sent (maybe several times) but its receiver keeps resending ``waiting``."""
    s = ctx.s
    me, peer = ctx.role(waiting.dir_key), ctx.role(lost.dir_key)
    msgs = flight_messages(s, lost.dir_key, lost.number)
    sizes = [ctx.sizes[f][1] for f in lost.frames if f in ctx.sizes]
    big = max(sizes, default=0)
    ev = [Check("retransmissions", False,
                f"{me} flight {waiting.number} sent {waiting.copies} times: the {me} still "
                f"waits for flight {lost.number}",
                {"flight": str(waiting.number), "copies": str(waiting.copies)}),
          Check(f"{peer} flight {lost.number}", True,
                f"{peer} sent flight {lost.number} {lost.copies} time(s)",
                {"copies": str(lost.copies), "largest datagram": str(big)})]
    why = "dropped on the path"
    if ctx.mtu is not None and big > ctx.mtu:
        why = f"its {big}-byte datagram exceeds the {ctx.mtu}-byte path MTU"
    elif big > 1200:
        why = f"dropped on the path; its largest datagram is {big} bytes, check the MTU"
    first = msgs[0] if msgs else None
    return ctx.verdict(
        "flight_lost",
        ref(s, first, lost.frames) if first else None,
        f"flight {lost.number} never reaches the {me}: the {peer} sent it {lost.copies} "
        f"times, and the {me} retransmitted flight {waiting.number} {waiting.copies - 1} "
        f"times as if it never arrived ({why})",
        ev + ctx.pick("datagram size vs path MTU"), certain=False,
        to_be_certain=f"a capture on the {me}'s side shows whether flight {lost.number} "
        "arrives")


def last_flight(s: Session, sender: int) -> Flight | None:
    """``sender``'s latest flight."""
    for f in reversed(s.flights):
        if f.dir_key == sender:
            return f
    return None


def silent_failure(ctx: Context, threshold: int) -> Verdict | None:
    """A flight retransmitted ``threshold``+ times with no answer: who stays silent, and why.

    The side with the higher latest flight waits for an answer; the other side,
    if it keeps retransmitting its own older flight, never got that higher flight.
    """
    s = ctx.s
    if s.client is None or not s.flights:
        return None
    latest = [f for f in (last_flight(s, 0), last_flight(s, 1)) if f is not None]
    latest.sort(key=lambda f: f.number)
    hi = latest[-1]
    lo = latest[0] if len(latest) == 2 else None
    hi_msgs = flight_messages(s, hi.dir_key, hi.number)
    fin = find_message_in(hi_msgs, "Finished")
    hi_stuck = hi.copies - 1 >= threshold
    if lo is not None and lo.number < hi.number and lo.copies - 1 >= threshold and not (
            hi_stuck and fin is not None and fin.encrypted):
        return _flight_lost(ctx, lost=hi, waiting=lo)
    if not hi_stuck:
        return None
    stuck = hi
    sender = stuck.dir_key
    me, peer = ctx.role(sender), ctx.role(_other(s, sender))
    n = stuck.copies - 1
    msgs = hi_msgs
    retrans = Check("retransmissions", False,
                    f"{me} flight {stuck.number} sent {stuck.copies} times, never answered",
                    {"flight": str(stuck.number), "copies": str(stuck.copies)})
    fin = find_message_in(msgs, "Finished")
    if fin is not None and fin.encrypted:
        check = ctx.checks.get(f"{me} Finished")
        evidence = [retrans, *ctx.pick(f"{me} Finished", "key logs agree", CV_CHECK,
                                       SKE_CHECK, "ClientKeyExchange premaster",
                                       "extended_master_secret", "cipher suite")]
        bad_pm = _bad_premaster(ctx)
        if bad_pm is not None and me == "client":
            return ctx.verdict(
                "premaster_bad", ref(s, bad_pm),
                f"{ctx.checks['ClientKeyExchange premaster'].detail}; the {peer} never answers "
                f"{me} flight {stuck.number} (retransmitted {n} times): its keys differ",
                evidence, certain=True)
        if check is not None and check.passed is False:
            code = ("finished_auth_failed" if "fails authentication" in check.detail
                    else "finished_bad")
            what = ("fails authentication" if code == "finished_auth_failed"
                    else "has a wrong verify_data")
            return ctx.verdict(
                code, ref(s, fin),
                f"{me} Finished {what}: the {peer} never answers {me} flight {stuck.number} "
                f"(retransmitted {n} times) and discards it silently",
                evidence, certain=True)
        conflict = ctx.checks.get("key logs agree")
        if conflict is not None and conflict.passed is False:
            return ctx.verdict("keylog_conflict", ref(s, fin),
                               f"{conflict.detail}; the {peer} never answers {me} flight "
                               f"{stuck.number} (retransmitted {n} times)", evidence,
                               certain=True)
        ok = check is not None and check.passed is True
        return ctx.verdict(
            "finished_discarded", ref(s, fin),
            f"{peer} never answers {me} flight {stuck.number} (retransmitted {n} times); its "
            "Finished is being discarded: keys or record corrupted"
            + (" (it verifies with the key log: the peer's keys differ)" if ok else ""),
            evidence, certain=ok,
            to_be_certain=None if ok else
            "give a key log (--keylog) to check the Finished")
    first = msgs[0] if msgs else None
    return ctx.verdict(
        "peer_silent", ref(s, first, stuck.frames) if first else None,
        f"{peer} never answers {me} flight {stuck.number} (retransmitted {n} times)",
        [retrans], certain=False,
        to_be_certain=f"check that the {peer} receives the datagrams (firewall, wrong "
        "address, ICE not done, a=setup roles)")
