"""DTLS 1.3 checks and rules: what an observer verifies in a 1.3 handshake, and the
culprits special to 1.3 (RFC 8446 §4, RFC 9147).

With the key log (the session decrypts its records, :mod:`proxy.session.dtls13`):

* both CertificateVerify signatures over the TLS 1.3 content (64 spaces, the context
  string, Transcript-Hash of ClientHello .. Certificate), the transcript in the DTLS 1.3
  form (RFC 9147 §5.2: type, length, body, without message_seq and fragment fields),
  the first ClientHello replaced by ``message_hash`` after a HelloRetryRequest;
* both Finished (HMAC with the finished_key of the sender's handshake traffic secret);
* that every record authenticates, and that the key logs agree.

Without a key: the hellos (key_share group, HelloRetryRequest, cookie echo, downgrade
sentinel, version and suite offered), and an honest account of what is known.
Rules: :func:`explain_alert13` (a decrypted alert and its culprit), :func:`immediate13`
(findings that do not wait), :func:`silent13` (ACKs that never come, the second
ClientHello fragment lost).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from proxy.decode.dtls import registry
from proxy.decode.dtls.crypto import tls13
from proxy.decode.dtls.crypto.signatures import verify_tls13_certificate_verify
from proxy.decode.dtls.extensions import KeyShareEntry
from proxy.decode.dtls.messages import (
    HRR_RANDOM,
    ClientHello,
    EncryptedExtensions,
    Finished,
    HelloRetryRequest,
    ServerHello,
)
from proxy.decode.dtls.messages import CertificateVerify as CertificateVerifyBody
from proxy.decode.keylog import KeyLog
from proxy.events import AlertSeen, Check, Verdict
from proxy.session.dtls13 import ALL_LABELS, epoch_name, label_for, missing_labels
from proxy.session.session import MessageRecord, Session
from proxy.verdict.checks import CV_CHECK, SignatureResult, find_message, leaf_der
from proxy.verdict.rules import Context, flight_messages, ref

DTLS13 = 0xFEFC
DTLS12 = 0xFEFD
SERVER_CV_CHECK = "server CertificateVerify signature"
HRR_CHECK = "HelloRetryRequest"
GROUP_CHECK = "key_share group"
DOWNGRADE_CHECK = "downgrade sentinel"
RECORDS_CHECK = "records authenticate"
KEYS_CHECK = "key log secrets"
KNOWN_CHECK = "what is known without keys"
ORDER_CHECK = "message order"

EXT_SUPPORTED_GROUPS = 10
EXT_USE_SRTP = 14
EXT_PRE_SHARED_KEY = 41
EXT_COOKIE = 44
EXT_KEY_SHARE = 51
MESSAGE_HASH = 254
DOWNGRADE_12 = b"DOWNGRD\x01"
DOWNGRADE_11 = b"DOWNGRD\x00"

DECRYPT_ERROR = 51
BAD_RECORD_MAC = 20
ILLEGAL_PARAMETER = 47
HANDSHAKE_FAILURE = 40
MISSING_EXTENSION = 109
UNEXPECTED_MESSAGE = 10


def is13(s: Session) -> bool:
    """The session negotiated DTLS 1.3."""
    return s.neg.version == DTLS13


# ------------------------------------------------------------------ transcript


def transcript13(s: Session) -> list[tuple[int, int, bytes]]:
    """The handshake as DTLS 1.3 hashes it: ``(sender, msg_type, bytes)`` in order, each
    message as TLS 1.3 writes it (type, 24-bit length, body: RFC 9147 §5.2 drops the
    message_seq and fragment fields), the first ClientHello as ``message_hash`` when a
    HelloRetryRequest follows it (RFC 8446 §4.4.1)."""
    suite = tls13.suite(s.neg.cipher_suite or 0)
    hash_name = suite.hash_name if suite is not None else "sha256"
    out: list[tuple[int, int, bytes]] = []
    entries = s.transcript.entries
    hrr_at = next((i for i, e in enumerate(entries)
                   if e.msg_type == 2 and e.raw[14:46] == HRR_RANDOM), None)
    for i, e in enumerate(entries):
        m = e.raw[:4] + e.raw[12:]
        if hrr_at is not None and i < hrr_at and e.msg_type == 1:
            digest = hashlib.new(hash_name, m).digest()
            m = bytes([MESSAGE_HASH, 0, 0, len(digest)]) + digest
        out.append((e.sender, e.msg_type, m))
    return out


def _hash_before(msgs: Sequence[tuple[int, int, bytes]], sender: int, msg_type: int,
                 hash_name: str) -> tuple[bytes, int] | None:
    """Transcript-Hash of every message before ``sender``'s ``msg_type`` (and how many)."""
    for i, (snd, t, _m) in enumerate(msgs):
        if snd == sender and t == msg_type:
            return hashlib.new(hash_name, b"".join(m for _s, _t, m in msgs[:i])).digest(), i
    return None


def missing_before(s: Session, sender: int, msg_type: int) -> str | None:
    """Why the transcript up to ``sender``'s ``msg_type`` is incomplete (messages the
    proxy never saw: a message_seq gap, or the peer's Finished absent when the client's
    last flight is checked), or None when it is whole. A check over a partial transcript
    would fail and blame a message that was fine."""
    entries = s.transcript.entries
    at = next((i for i, e in enumerate(entries) if e.sender == sender and e.msg_type == msg_type),
              None)
    if at is None:
        return None
    before = entries[:at + 1]
    gaps: list[str] = []
    for who in (0, 1):
        seqs = {e.message_seq for e in before if e.sender == who}
        if not seqs:
            continue
        lost = sorted(set(range(max(seqs) + 1)) - seqs)  # DTLS 1.3: each side from 0
        if lost:
            role = s.role(who) or s.labels[who]
            gaps.append(f"{role} message_seq {', '.join(map(str, lost[:6]))}")
    if sender == s.client and not any(e.sender != sender and e.msg_type == 20 for e in before):
        gaps.append("the server Finished")
    if not gaps:
        return None
    return (f"the proxy did not see the whole handshake ({'; '.join(gaps)} never seen, e.g. "
            "sent on another ICE path): not checked")


def _index(s: Session, role: str) -> int | None:
    if s.client is None:
        return None
    return s.client if role == "client" else 1 - s.client


# ------------------------------------------------------------------ signatures, Finished


def certificate_verify13(s: Session, role: str) -> SignatureResult | None:
    """``role``'s CertificateVerify over the TLS 1.3 content (None: no decrypted CV)."""
    m = find_message(s, role, "CertificateVerify")
    if m is None:
        return None
    name = CV_CHECK if role == "client" else SERVER_CV_CHECK
    body = m.body
    if not isinstance(body, CertificateVerifyBody) or body.signature_algorithm is None:
        return SignatureResult(Check(name, None, "CertificateVerify body did not parse"),
                               message=m)
    der = leaf_der(s, role)
    if der is None:
        return SignatureResult(Check(name, None, f"no {role} certificate seen: cannot check "
                                     "the signature"), message=m)
    suite = tls13.suite(s.neg.cipher_suite or 0)
    idx = _index(s, role)
    if suite is None or idx is None:
        return SignatureResult(Check(name, None, "not a TLS 1.3 cipher suite"), message=m)
    partial = missing_before(s, idx, 15)
    if partial is not None:
        return SignatureResult(Check(name, None, partial), message=m)
    msgs = transcript13(s)
    found = _hash_before(msgs, idx, 15, suite.hash_name)
    if found is None:
        return SignatureResult(Check(name, None, "CertificateVerify not in the transcript"),
                               message=m)
    th, count = found
    content = tls13.certificate_verify_content(role, th)
    r = verify_tls13_certificate_verify(der, body.signature_algorithm, body.signature,
                                        content, role)
    values = {
        "scheme": r.algorithm,
        "key": r.key_type + (f" {r.key_bits}-bit" if r.key_bits else ""),
        "signed": f"64 spaces + \"TLS 1.3, {role} CertificateVerify\" + 0 + "
                  f"{suite.hash_name.upper()} of {count} messages",
        "transcript hash": th.hex(),
        "signature": f"{len(body.signature)} bytes, ends {body.signature[-4:].hex()}",
    }
    return SignatureResult(Check(name, r.passed, r.reason, values), r, m)


def finished13(s: Session, role: str, lookup: KeyLog | None) -> Check | None:
    """``role``'s Finished: HMAC(finished_key, Transcript-Hash up to it) (RFC 8446 §4.4.4)."""
    name = f"{role} Finished"
    idx = _index(s, role)
    m = find_message(s, role, "Finished")
    suite = tls13.suite(s.neg.cipher_suite or 0)
    cr = s.neg.client_random
    if idx is None or suite is None or cr is None:
        return None
    failures = [(f, r) for snd, f, _e, r in s.dtls13.auth_failures if snd == idx]
    if m is None:
        hidden = s.dtls13.unreadable.get((idx, 2))
        if failures and (hidden is None or not s.dtls13.opened):
            return None
        if hidden is not None:
            label = label_for(role, 2)
            why = (f"the key log has no {label} for this client_random" if s.secrets13
                   else f"no key log given (--keylog); its {label} line opens them")
            return Check(name, None, f"not verified: the {role}'s handshake records are "
                         f"encrypted and {why}", {"client_random": cr.hex(), "needs": label})
        return None
    if not isinstance(m.body, Finished):
        return Check(name, False, f"decrypted {role} Finished does not decode")
    label = label_for(role, 2)
    base = lookup.secret(label, cr) if lookup is not None else None
    if base is None:
        return Check(name, None, f"no {label} for this client_random", {"needs": label})
    partial = missing_before(s, idx, 20)
    if partial is not None:
        return Check(name, None, partial)
    found = _hash_before(transcript13(s), idx, 20, suite.hash_name)
    if found is None:
        return Check(name, None, "Finished not in the transcript")
    th, count = found
    expected = tls13.finished_verify_data(suite, base, th)
    values = {"verify_data sent": m.body.verify_data.hex(),
              "verify_data expected": expected.hex(),
              "transcript": f"{count} messages, {suite.hash_name} {th.hex()[:16]}..."}
    if m.body.verify_data == expected:
        return Check(name, True, f"{role} Finished authenticates and its verify_data is the "
                     f"HMAC of the transcript with the {role} finished_key", values)
    return Check(name, False, f"{role} Finished decrypts but its verify_data is not the HMAC "
                 "of the transcript: the two sides hashed different handshakes", values)


# ------------------------------------------------------------------ hellos


def _shares(body: ClientHello) -> tuple[int, ...]:
    e = body.extension(EXT_KEY_SHARE)
    if e is None or not isinstance(e.value, tuple):
        return ()
    return tuple(x.group for x in e.value if isinstance(x, KeyShareEntry))


def _groups(body: ClientHello) -> tuple[int, ...]:
    e = body.extension(EXT_SUPPORTED_GROUPS)
    if e is None or not isinstance(e.value, tuple):
        return ()
    return tuple(x for x in e.value if isinstance(x, int))


def _names(table: registry.Table, values: Sequence[int]) -> str:
    shown = [registry.name(table, v) for v in values if not registry.is_grease(v)]
    return ", ".join(shown) or "(none)"


def hello_checks(s: Session) -> dict[str, Check]:
    """key_share group, HelloRetryRequest, downgrade sentinel: from the plaintext hellos."""
    out: dict[str, Check] = {}
    hellos = [m for m in s.messages if m.sender == s.client and isinstance(m.body, ClientHello)]
    hrrs = [m for m in s.messages if m.sender != s.client
            and isinstance(m.body, HelloRetryRequest)]
    sh = next((m for m in s.messages if m.sender != s.client
               and isinstance(m.body, ServerHello)
               and not isinstance(m.body, HelloRetryRequest)), None)
    G = registry.SUPPORTED_GROUPS
    if hrrs:
        out[HRR_CHECK] = _hrr_check(hellos, hrrs)
    if sh is not None and isinstance(sh.body, ServerHello) and hellos and is13(s):
        ch = hellos[-1].body
        assert isinstance(ch, ClientHello)
        e = sh.body.extension(EXT_KEY_SHARE)
        if isinstance(e.value if e else None, KeyShareEntry):
            assert e is not None
            g = e.value.group
            v = {"client key shares": _names(G, _shares(ch)), "server chose": registry.name(G, g)}
            if g in _shares(ch):
                out[GROUP_CHECK] = Check(GROUP_CHECK, True, f"server chose "
                                         f"{registry.name(G, g)}, a group the client sent a "
                                         "key share for", v)
            else:
                out[GROUP_CHECK] = Check(GROUP_CHECK, False, f"server's key_share is for "
                                         f"{registry.name(G, g)}, but the client sent no share "
                                         "for it (it must send HelloRetryRequest instead)", v)
        elif sh.body.extension(EXT_PRE_SHARED_KEY) is None:
            out[GROUP_CHECK] = Check(GROUP_CHECK, False, "ServerHello has neither key_share "
                                     "nor pre_shared_key: no key exchange")
    if sh is not None and isinstance(sh.body, ServerHello):
        tail = sh.body.random[-8:]
        offered13 = DTLS13 in s.neg.offered_versions
        v = {"ServerHello.random ends": tail.hex(), "server chose": s.neg.version_name() or "?"}
        if offered13 and s.neg.version != DTLS13 and tail in (DOWNGRADE_12, DOWNGRADE_11):
            out[DOWNGRADE_CHECK] = Check(
                DOWNGRADE_CHECK, False, "the server chose " + (s.neg.version_name() or "?")
                + f" and its random ends with the downgrade sentinel ({tail!r}): it supports "
                "DTLS 1.3, so something removed 1.3 from the ClientHello on the way (RFC 8446 "
                "§4.1.3; the client must abort with illegal_parameter)", v)
        elif offered13:
            out[DOWNGRADE_CHECK] = Check(DOWNGRADE_CHECK, True, "no downgrade sentinel in "
                                         "ServerHello.random", v)
    return out


def _hrr_check(hellos: list[MessageRecord], hrrs: list[MessageRecord]) -> Check:
    """One HelloRetryRequest, asking for a group the client supports but sent no share
    for, and a second ClientHello that echoes its cookie and shares that group."""
    G = registry.SUPPORTED_GROUPS
    hrr = hrrs[0].body
    assert isinstance(hrr, HelloRetryRequest)
    first = hellos[0].body if hellos else None
    second = hellos[1].body if len(hellos) > 1 else None
    want = hrr.selected_group()
    cookie = hrr.extension(EXT_COOKIE)
    v = {"HelloRetryRequests": str(len(hrrs)),
         "group asked": registry.name(G, want) if want is not None else "(none)",
         "cookie": f"{len(cookie.data)} bytes" if cookie is not None else "(none)"}
    if len(hrrs) > 1:
        return Check(HRR_CHECK, False, f"the server sent {len(hrrs)} HelloRetryRequests in "
                     "one handshake: a client must abort at the second (RFC 8446 §4.1.4)", v)
    if isinstance(first, ClientHello) and want is not None:
        v["client supports"] = _names(G, _groups(first))
        v["first key shares"] = _names(G, _shares(first))
        if want not in _groups(first):
            return Check(HRR_CHECK, False, f"HelloRetryRequest asks for "
                         f"{registry.name(G, want)}, which the client does not support: the "
                         "client must abort with illegal_parameter", v)
        if want in _shares(first):
            return Check(HRR_CHECK, False, f"HelloRetryRequest asks for "
                         f"{registry.name(G, want)}, for which the client already sent a key "
                         "share: the client must abort with illegal_parameter", v)
    if isinstance(second, ClientHello):
        if cookie is not None:
            echoed = second.extension(EXT_COOKIE)
            if echoed is None or echoed.data != cookie.data:
                return Check(HRR_CHECK, False, "the second ClientHello does not echo the "
                             "HelloRetryRequest's cookie" + (" (it is absent)" if echoed is None
                                                             else " (it differs)"), v)
        if want is not None and want not in _shares(second):
            v["second key shares"] = _names(G, _shares(second))
            return Check(HRR_CHECK, False, "the second ClientHello has no key share for "
                         f"{registry.name(G, want)}, the group the server asked for", v)
        what = f"a key share for {registry.name(G, want)}" if want is not None else "a retry"
        return Check(HRR_CHECK, True, f"server asked for {what}"
                     + (" and a cookie round trip" if cookie is not None else "")
                     + "; the second ClientHello complies", v)
    return Check(HRR_CHECK, None, "no second ClientHello (yet)", v)


def srtp13(s: Session) -> Check | None:
    """use_srtp answered in the EncryptedExtensions (DTLS 1.3, RFC 5764 with RFC 9147)."""
    ee = find_message(s, "server", "EncryptedExtensions")
    n = s.neg
    if ee is None or not isinstance(ee.body, EncryptedExtensions) or not n.offered_srtp:
        return None
    e = ee.body.extensions
    chosen = next((x.value for x in e if x.type == EXT_USE_SRTP), None)
    profiles = getattr(chosen, "profiles", ())
    P = registry.SRTP_PROFILES
    v = {"client offers": _names(P, n.offered_srtp),
         "server chose": _names(P, profiles) if profiles else "(none)"}
    if not profiles:
        return Check("SRTP profile", False, "client offered use_srtp but the server's "
                     "EncryptedExtensions has no use_srtp: no SRTP keys for media", v)
    if profiles[0] not in n.offered_srtp:
        return Check("SRTP profile", False, "server chose an SRTP profile the client did not "
                     "offer", v)
    return Check("SRTP profile", True, f"server chose {registry.name(P, profiles[0])} (in its "
                 "EncryptedExtensions), offered by the client", v)


NEXT13: dict[str, dict[str, frozenset[str]]] = {
    "server": {
        "start": frozenset({"HelloRetryRequest", "ServerHello"}),
        "HelloRetryRequest": frozenset({"ServerHello"}),
        "ServerHello": frozenset({"EncryptedExtensions"}),
        "EncryptedExtensions": frozenset({"CertificateRequest", "Certificate", "Finished"}),
        "CertificateRequest": frozenset({"Certificate"}),
        "Certificate": frozenset({"CertificateVerify"}),
        "CertificateVerify": frozenset({"Finished"}),
    },
    "client": {
        "start": frozenset({"ClientHello"}),
        "ClientHello": frozenset({"ClientHello", "Certificate", "Finished", "EndOfEarlyData"}),
        "EndOfEarlyData": frozenset({"Certificate", "Finished"}),
        "Certificate": frozenset({"CertificateVerify", "Finished"}),
        "CertificateVerify": frozenset({"Finished"}),
    },
}
"""DTLS 1.3 handshake order per sender (RFC 8446 §2, §4.4): what may follow its previous
message. After the Finished anything is post-handshake (tickets, KeyUpdate, ACK)."""


def order13(s: Session) -> tuple[Check, list[MessageRecord]]:
    """The decrypted DTLS 1.3 handshake in a legal order (hellos alone without keys)."""
    bad: list[MessageRecord] = []
    why = ""
    previous = {"client": "start", "server": "start"}
    seen = 0
    for m in s.handshake_order():
        role = s.role(m.sender)
        if role is None or m.msg_type is None or m.type == "EncryptedHandshake":
            continue
        prev = previous[role]
        if prev == "Finished":
            continue
        allowed = NEXT13[role].get(prev, frozenset())
        if m.type not in allowed and not bad:
            bad.append(m)
            why = (f"{role} sent {m.type} after its {prev}; DTLS 1.3 allows "
                   f"{', '.join(sorted(allowed)) or 'nothing'} there")
        previous[role] = m.type
        seen += 1
    if bad:
        return Check(ORDER_CHECK, False, why, {"message": bad[0].type}), bad
    hidden = "" if s.dtls13.opened or not s.dtls13.unreadable else (
        " (the encrypted ones unread: no key log)")
    return Check(ORDER_CHECK, True, f"{seen} messages in a legal DTLS 1.3 order{hidden}"), []


# ------------------------------------------------------------------ records, key logs


def records_check(s: Session) -> Check | None:
    """Records that did not authenticate with the key log, by sender and epoch."""
    st = s.dtls13
    if not st.opened and not st.auth_failures:
        return None
    if not st.auth_failures:
        return Check(RECORDS_CHECK, True, f"{st.opened} encrypted records decrypted and "
                     "authenticated with the key log")
    first = st.auth_failures[0]
    who = s.role(first[0]) or "?"
    frames = ", ".join(str(f) for _s, f, _e, _r in st.auth_failures[:10])
    epochs = sorted({e for _s, _f, e, _r in st.auth_failures})
    return Check(RECORDS_CHECK, False, f"{len(st.auth_failures)} record(s) failed to "
                 f"authenticate ({who} first, epoch {', '.join(map(str, epochs))}): altered "
                 "in transit, or the key log is for another connection",
                 {"frames": frames, "opened": str(st.opened), "first": first[3]})


def keylog_agreement13(s: Session, keylog: KeyLog) -> Check | None:
    """Every key log source gives the same DTLS 1.3 secrets for this client_random."""
    cr = s.neg.client_random
    if cr is None:
        return None
    name = "key logs agree"
    conflicts: list[str] = []
    sources: set[str] = set()
    for label in ALL_LABELS:
        per = keylog.secrets(label, cr)
        sources.update(per)
        if len(set(per.values())) > 1:
            conflicts.append(label)
    if not sources:
        return None
    values = {"sources": ", ".join(sorted(sources)), "client_random": cr.hex()}
    if conflicts:
        return Check(name, False, f"the key logs disagree on {', '.join(conflicts)} for this "
                     "client_random: the two peers derived different keys", values)
    return Check(name, True, f"{len(sources)} key log source(s) give the same DTLS 1.3 "
                 "secrets for this client_random", values)


def keys_check(s: Session) -> Check | None:
    """Which key log labels would open what stays encrypted (None: nothing hidden)."""
    missing = missing_labels(s)
    cr = s.neg.client_random
    if not missing or cr is None:
        return None
    if not s.dtls13.opened:  # nothing open: every secret of the handshake is wanted
        missing = {role: [lab for lab in ALL_LABELS if lab.startswith(role.upper())]
                   for role in ("client", "server")}
    wants = "; ".join(f"{role}: {', '.join(labels)}" for role, labels in missing.items())
    return Check(KEYS_CHECK, None, f"encrypted records stay unread: the key log lines "
                 f"{wants} for client_random {cr.hex()} would open them",
                 {"client_random": cr.hex(),
                  **{f"{role} needs": ", ".join(labels) for role, labels in missing.items()}})


def known_check(s: Session) -> Check | None:
    """Without keys, what is still known: the hellos, epochs, record counts and sizes,
    who sent last, the retransmission pattern (an observer's honest view)."""
    st = s.dtls13
    if st.opened or not st.unreadable:
        return None
    parts: list[str] = []
    values: dict[str, str] = {}
    for (sender, bits), u in sorted(st.unreadable.items()):
        who = s.role(sender) or s.labels[sender]
        epoch = {2: "2 (handshake)", 3: "3 (application)", 1: "1 (early data)"}.get(
            bits, f"{bits} (low bits; 4+ after KeyUpdate)")
        key = f"{who} epoch {epoch}"
        sizes = ", ".join(map(str, u.sizes[:12])) + (" ..." if len(u.sizes) > 12 else "")
        values[key] = f"{u.records} records, {u.bytes} bytes: {sizes}"
        parts.append(f"{who} sent {u.records} record(s) in epoch {epoch}")
    last = max(s.flights, key=lambda f: f.last_ts, default=None)
    if last is not None:
        values["last to send"] = s.role(last.dir_key) or "?"
    for f in s.flights:
        if f.copies > 1:
            values[f"{s.role(f.dir_key)} flight {f.number}"] = (
                f"sent {f.copies} times (the same record sizes again)")
    return Check(KNOWN_CHECK, None, "without keys: the hellos are decoded; "
                 + "; ".join(parts) + "; the content, CertificateVerify and Finished are not",
                 values)


def tls13_checks(ctx: Context, keylog: KeyLog | None) -> dict[str, Check]:
    """Every DTLS 1.3 check of the session (sets ``ctx.cv`` and ``ctx.server_cv``)."""
    s = ctx.s
    out: dict[str, Check] = {}
    ctx.cv = certificate_verify13(s, "client")
    ctx.server_cv = certificate_verify13(s, "server")
    for role, sig in (("client", ctx.cv), ("server", ctx.server_cv)):
        if sig is None:
            continue
        out[sig.check.name] = sig.check
        r = sig.result
        if r is not None:
            name = f"{role} certificate key vs signature scheme"
            mismatch = "but signature scheme" in r.reason or "only signs with" in r.reason \
                or "needs an RSASSA-PSS" in r.reason or "not allowed in a TLS 1.3" in r.reason
            out[name] = Check(name, not mismatch, r.reason if mismatch else
                              f"{r.key_type} key can sign {r.algorithm}",
                              {"key": r.key_type, "scheme": r.algorithm})
    for role in ("server", "client"):
        fin = finished13(s, role, keylog)
        if fin is not None:
            out[fin.name] = fin
    srtp = srtp13(s)
    if srtp is not None:
        out["SRTP profile"] = srtp
    for check in (records_check(s), keys_check(s), known_check(s)):
        if check is not None:
            out[check.name] = check
    if keylog is not None:
        agree = keylog_agreement13(s, keylog)
        if agree is not None:
            out[agree.name] = agree
    return out


# ------------------------------------------------------------------ rules


def _labels_hint(s: Session, role: str) -> str:
    labels = missing_labels(s).get(role) or [label_for(role, 2)]
    return (f"give a key log with {', '.join(labels)} for this client_random "
            "(Firefox and NSS write them with SSLKEYLOGFILE)")


def explain_alert13(ctx: Context, a: AlertSeen) -> Verdict | None:
    """A DTLS 1.3 alert (decrypted, or encrypted and unread) and its culprit; None hands
    it to the DTLS 1.2 rules (certificate alerts, handshake_failure, protocol_version...,
    which read the same checks)."""
    s = ctx.s
    if not is13(s) or s.client is None:
        return None
    sender = s.client if a.dir.startswith("client") else 1 - s.client
    me, peer = ctx.role(sender), ctx.role(1 - sender)
    answered = flight_messages(s, 1 - sender, a.answers_flight)
    last = answered[-1] if answered else None
    every = list(ctx.checks.values())
    if a.description is None:
        hidden = [m for m in answered if m.type == "EncryptedHandshake"]
        what = (f"a {2 + 1 + _tag(s)}-byte record, the size of an encrypted alert (or of an "
                "empty ACK),") if a.by_size else "an encrypted alert"
        return ctx.verdict(
            "encrypted_alert", ref(s, last) if last else None,
            f"{me} sent {what} in epoch {a.epoch} ({epoch_name(a.epoch)}) after {peer} "
            f"flight {a.answers_flight}: DTLS 1.3 encrypts alerts, and the "
            f"{'flight it answers' if hidden else 'alert'} cannot be read without keys",
            every, certain=False, to_be_certain=_labels_hint(s, me))
    d = a.description
    if d == DECRYPT_ERROR:
        return _decrypt_error13(ctx, a, me, peer, answered)
    if d == BAD_RECORD_MAC:
        fails = [x for x in s.dtls13.auth_failures if x[0] == 1 - sender]
        enc = next((m for m in answered if m.encrypted), last)
        rec = ctx.checks.get(RECORDS_CHECK)
        if fails and rec is not None:
            return ctx.verdict(
                "record_auth_failed", ref(s, enc, (fails[0][1],)) if enc else None,
                f"{me} could not authenticate a {peer} record (bad_record_mac): the record in "
                f"frame {fails[0][1]} fails to authenticate with the key log too "
                f"({fails[0][3]})", ctx.pick(RECORDS_CHECK, "key logs agree") + every,
                certain=True)
        return None
    if d in (ILLEGAL_PARAMETER, HANDSHAKE_FAILURE, MISSING_EXTENSION, UNEXPECTED_MESSAGE):
        for name in (HRR_CHECK, GROUP_CHECK, DOWNGRADE_CHECK, ORDER_CHECK):
            c = ctx.checks.get(name)
            if c is None or c.passed is not False:
                continue
            bad = _hello_culprit(s, name)
            return ctx.verdict(_code(name), ref(s, bad) if bad else None,
                               f"{c.detail}; the {me} answered {a.description_name}",
                               [c, *every], certain=True)
    return None


def _tag(s: Session) -> int:
    suite = tls13.suite(s.neg.cipher_suite or 0)
    return suite.tag_length if suite is not None else 16


def _hello_culprit(s: Session, check: str) -> MessageRecord | None:
    if check == HRR_CHECK:
        hrrs = [m for m in s.messages if isinstance(m.body, HelloRetryRequest)]
        hellos = [m for m in s.messages if m.sender == s.client and m.type == "ClientHello"]
        if len(hrrs) > 1:
            return hrrs[1]
        return hellos[1] if len(hellos) > 1 else (hrrs[0] if hrrs else None)
    return find_message(s, "server", "ServerHello")


def _code(check: str) -> str:
    return {HRR_CHECK: "hello_retry_request_bad", GROUP_CHECK: "key_share_group_not_offered",
            DOWNGRADE_CHECK: "downgrade_sentinel", ORDER_CHECK: "message_out_of_order"}[check]


def _decrypt_error13(ctx: Context, a: AlertSeen, me: str, peer: str,
                     answered: list[MessageRecord]) -> Verdict:
    """decrypt_error in DTLS 1.3: the peer's CertificateVerify signature or its Finished."""
    s = ctx.s
    cv_name = CV_CHECK if peer == "client" else SERVER_CV_CHECK
    names = (cv_name, f"{peer} Finished", f"{peer} Certificate signature",
             f"{peer} certificate key vs signature scheme", RECORDS_CHECK, KEYS_CHECK,
             KNOWN_CHECK)
    evidence = ctx.pick(*names)
    evidence += [c for c in ctx.checks.values() if c not in evidence]
    sig = ctx.cv if peer == "client" else ctx.server_cv
    if sig is not None and sig.check.passed is False and sig.message is not None:
        r = sig.result
        key = r.key_type if r is not None else "?"
        scheme = r.algorithm if r is not None else "?"
        fin_seen = ctx.checks.get(f"{peer} Finished")
        altered = ""
        if fin_seen is not None and fin_seen.passed is False:
            altered = (f"; the {peer} Finished does not match this transcript either, so the "
                       f"CertificateVerify changed after the {peer} computed its Finished: "
                       "altered on the way, not signed with a wrong key")
        return ctx.verdict(
            "certificate_verify_bad_signature", ref(s, sig.message),
            f"{peer} CertificateVerify signature does not verify under the {peer} "
            f"certificate's key ({key}, {scheme}) over the DTLS 1.3 transcript: the {me} "
            f"answered decrypt_error{altered}", evidence, certain=True)
    fin = find_message(s, peer, "Finished")
    fin_check = ctx.checks.get(f"{peer} Finished")
    if fin is not None and fin_check is not None and fin_check.passed is False:
        return ctx.verdict("finished_bad", ref(s, fin),
                           f"{peer} Finished is wrong: {fin_check.detail}; the {me} answered "
                           "decrypt_error", evidence, certain=True)
    cert = ctx.checks.get(f"{peer} Certificate signature")
    if cert is not None and cert.passed is False:
        cm = find_message(s, peer, "Certificate")
        if cm is not None:
            return ctx.verdict("certificate_bad_signature", ref(s, cm),
                               f"{cert.detail}; the {me} answered decrypt_error", evidence,
                               certain=True)
    last = answered[-1] if answered else None
    if sig is None and fin is None:
        return ctx.verdict(
            "alert_unexplained", ref(s, last) if last else None,
            f"{me} sent decrypt_error answering {peer} flight {a.answers_flight}: in DTLS 1.3 "
            f"that is the {peer}'s CertificateVerify or Finished, both encrypted",
            evidence, certain=False, to_be_certain=_labels_hint(s, peer))
    return ctx.verdict(
        "alert_unexplained", ref(s, last) if last else None,
        f"{me} sent decrypt_error, but the {peer}'s CertificateVerify and Finished verify "
        "over the transcript the proxy rebuilt", evidence, certain=False,
        to_be_certain="the peer's own log names the failing step")


def immediate13(ctx: Context) -> list[Verdict]:
    """Findings on the hellos and the records that do not wait for an alert."""
    s = ctx.s
    out: list[Verdict] = []
    for name in (HRR_CHECK, GROUP_CHECK, DOWNGRADE_CHECK):
        c = ctx.checks.get(name)
        if c is None or c.passed is not False:
            continue
        culprit = _hello_culprit(s, name)
        out.append(ctx.verdict(_code(name), ref(s, culprit) if culprit else None, c.detail,
                               [c], certain=True))
    fails = s.dtls13.auth_failures
    if fails:
        sender, frame, epoch, _why = fails[0]
        m = next((x for x in s.messages if frame in x.frames and x.sender == sender), None)
        c = ctx.checks.get(RECORDS_CHECK)
        if m is not None and c is not None:
            out.append(ctx.verdict(
                "record_auth_failed", ref(s, m, (frame,)),
                f"a {s.role(sender)} record (frame {frame}, epoch {epoch}, "
                f"{epoch_name(epoch)}) failed to authenticate with the key log: altered in "
                "transit (the peer drops it as well), or a key log of another connection",
                [c, *ctx.pick("key logs agree")], certain=False,
                to_be_certain="whether the peer retransmits it and the handshake goes on "
                "shows which"))
    return out


def fragment_lost(s: Session, now: float, evidence: Sequence[Check] = ()) -> Verdict | None:
    """A ClientHello of which only some fragments arrived, and no answer: the server got
    fragment 1 of 2 and waits (a ClientHello with an ML-KEM key share is two datagrams)."""
    for sender in (0, 1) if s.client is None else (s.client,):
        partial = s.dirs[sender].reassembler.partial()
        if partial is None or partial.msg_type != 1 or any(
                m.sender != sender and m.ts >= s.dirs[sender].last_ts for m in s.messages):
            continue
        got = ", ".join(f"{a}-{b}" for a, b in partial.covered)
        frames = ", ".join(map(str, partial.frames))
        return Verdict(
            now, s.sid, "client_hello_fragment_lost", None,
            f"the {s.labels[sender]} ClientHello ({partial.length} bytes) arrived only in part "
            f"(bytes {got}, frames {frames}): the rest never came, so the server got fragment "
            "1 of 2 and waits for the other (a large key share, e.g. X25519MLKEM768, splits "
            "the ClientHello over two datagrams; the second was lost)",
            (Check("ClientHello fragments", False, f"bytes {got} of {partial.length} seen",
                   {"frames": frames, "length": str(partial.length)}), *evidence),
            False, "a capture next to the server shows whether the second fragment arrives")
    return None


def silent13(ctx: Context, threshold: int) -> Verdict | None:
    """DTLS 1.3 silences: the second ClientHello fragment never came; the client's last
    flight is never acknowledged (no ACK, RFC 9147 §7)."""
    s = ctx.s
    if s.client is None:
        return None
    lost = fragment_lost(s, ctx.now, list(ctx.checks.values()))
    if lost is not None:
        return lost
    if not is13(s):
        return None
    client_last = next((f for f in reversed(s.flights) if f.dir_key == s.client), None)
    server_after = client_last is not None and (
        any(f.dir_key != s.client and f.number > client_last.number for f in s.flights)
        or (not s.dtls13.opened and s.dirs[1 - s.client].last_ts > client_last.first_ts))
    if client_last is None or server_after or client_last.copies - 1 < threshold:
        return None
    if client_last.number < 5 and "Finished" not in client_last.messages:
        return None
    fin = ctx.checks.get("client Finished")
    cv = ctx.checks.get(CV_CHECK)
    n = client_last.copies - 1
    evidence = [Check("ACK", False, f"client flight {client_last.number} sent "
                      f"{client_last.copies} times, no ACK and nothing else from the server",
                      {"copies": str(client_last.copies)}),
                *ctx.pick("client Finished", CV_CHECK, RECORDS_CHECK, KEYS_CHECK, KNOWN_CHECK)]
    msgs = flight_messages(s, s.client, client_last.number)
    first = msgs[0] if msgs else None
    for check, what in ((cv, "CertificateVerify"), (fin, "Finished")):
        if check is not None and check.passed is False:
            m = find_message(s, "client", what)
            return ctx.verdict(
                "ack_missing", ref(s, m) if m else None,
                f"the server never acknowledges client flight {client_last.number} "
                f"(retransmitted {n} times, no ACK): the client {what} is wrong "
                f"({check.detail}) and the server discards the flight", evidence,
                certain=True)
    ok = fin is not None and fin.passed is True
    return ctx.verdict(
        "ack_missing", ref(s, first, client_last.frames) if first else None,
        f"the server never acknowledges client flight {client_last.number} (retransmitted "
        f"{n} times, no ACK, no data): the flight does not reach the server, or the server "
        "drops it" + (" although it verifies with the key log" if ok else ""),
        evidence, certain=False,
        to_be_certain=("a capture next to the server shows whether the flight arrives" if ok
                       else _labels_hint(s, "client")))
