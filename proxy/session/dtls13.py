"""DTLS 1.3 in a session (RFC 9147): open the encrypted records with a key log.

After the ServerHello every DTLS 1.3 record has the unified header (``001CSLEE``):
its real content type, its epoch (two bits sent) and its sequence number (8 or 16
bits sent, masked) are inside. :class:`Protection` derives, per sender and epoch,
the traffic keys from the key log's secrets (epoch 1 early data, 2 handshake, 3 the
first application secret, 4+ each KeyUpdate, ``"traffic upd"``), reconstructs the
full record number and decrypts. :class:`Dtls13` is the session's DTLS 1.3 state:
connection ids, what was opened, what failed to authenticate, ACKs, the Finished
seen, and what stayed unreadable (the honest view without a key log).

:func:`receive_unified` turns one such record into events; handshake content goes
back through the session's reassembler and message logic, so a decrypted
Certificate, CertificateVerify or Finished is a message like any other.
Secrets never leave :class:`Protection` (no repr of them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from proxy.decode.dtls import registry
from proxy.decode.dtls.crypto import tls13
from proxy.decode.dtls.crypto.decrypt import AuthenticationFailed
from proxy.decode.dtls.messages import Ack, parse_ack
from proxy.decode.dtls.reader import DecodeError
from proxy.decode.dtls.record import (
    CT_ACK,
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_HANDSHAKE,
    Record,
)
from proxy.events import Event, MessageSeen, RecordSeen

if TYPE_CHECKING:
    from proxy.session.session import Session

DTLS13 = 0xFEFC

SecretLookup = Callable[[str, bytes], "bytes | None"]
"""(key log label, client_random) -> secret, or None when the key log has no such line."""

EPOCH_LABELS: dict[tuple[str, int], str] = {
    ("client", 1): "CLIENT_EARLY_TRAFFIC_SECRET",
    ("client", 2): "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    ("server", 2): "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    ("client", 3): "CLIENT_TRAFFIC_SECRET_0",
    ("server", 3): "SERVER_TRAFFIC_SECRET_0",
}
"""The key log label of each (sender, epoch) secret; epochs 4+ derive from epoch 3's."""

RETRY_AFTER = 0.25
"""Seconds (of packet time) before a key log is asked again for a secret it lacked (a
peer's SSLKEYLOGFILE may get the line a moment after the proxy saw the record)."""
GRACE = 2.0
"""Seconds a record waits for its key log line (a client writes its handshake secrets
only once it got the ServerHello the proxy already forwarded): its events come then,
in order; after that it is shown encrypted."""
MAX_PENDING = 256
"""Records held back for their keys per session (beyond, the oldest is shown encrypted)."""


def epoch_name(epoch: int) -> str:
    """``handshake`` for 2, ``application`` for 3, ``application after KeyUpdate n``..."""
    if epoch == 0:
        return "plaintext"
    if epoch == 1:
        return "early data"
    if epoch == 2:
        return "handshake"
    if epoch == 3:
        return "application"
    return f"application after KeyUpdate {epoch - 3}"


def label_for(role: str, epoch: int) -> str:
    """The key log label that unlocks ``role``'s records of ``epoch`` (4+: epoch 3's)."""
    return EPOCH_LABELS.get((role, min(epoch, 3)), f"{role.upper()}_TRAFFIC_SECRET_0")


class Protection:
    """The record keys of one DTLS 1.3 handshake, derived on demand from a key log."""

    def __init__(self, lookup: SecretLookup, client_random: bytes, suite: tls13.Tls13Suite
                 ) -> None:
        self.lookup = lookup
        self.client_random = client_random
        self.suite = suite
        self._secrets: dict[tuple[str, int], bytes] = {}
        self._keys: dict[tuple[str, int], tls13.TrafficKeys] = {}
        self._asked: dict[tuple[str, int], float] = {}
        """When a missing secret was last asked for (packet time)."""
        self.next_sequence: dict[tuple[str, int], int] = {}
        """One past the highest sequence number opened, per (sender role, epoch)."""
        self.top: dict[str, int] = {}
        """Highest epoch opened per sender role."""

    def __repr__(self) -> str:
        return f"Protection({self.suite.name}, {len(self._keys)} epoch key(s))"

    def secret(self, role: str, epoch: int, now: float) -> bytes | None:
        """The traffic secret of (role, epoch), or None (not in the key log, yet)."""
        key = (role, epoch)
        got = self._secrets.get(key)
        if got is not None:
            return got
        if epoch >= 4:
            prev = self.secret(role, epoch - 1, now)
            if prev is None:
                return None
            got = tls13.next_traffic_secret(self.suite, prev)
        else:
            label = EPOCH_LABELS.get(key)
            last = self._asked.get(key)
            if label is None or (last is not None and now - last < RETRY_AFTER):
                return None
            self._asked[key] = now
            got = self.lookup(label, self.client_random)
            if got is None:
                return None
            if len(got) != self.suite.hash_length:
                return None  # a line for another suite: not this handshake's secret
        self._secrets[key] = got
        return got

    def keys(self, role: str, epoch: int, now: float) -> tls13.TrafficKeys | None:
        """Traffic keys of (role, epoch), or None when its secret is unknown."""
        k = self._keys.get((role, epoch))
        if k is None:
            secret = self.secret(role, epoch, now)
            if secret is None:
                return None
            k = self._keys[(role, epoch)] = tls13.traffic_keys(self.suite, secret)
        return k

    def open(self, role: str, rec: Record, header: bytes, cid_length: int, now: float
             ) -> tls13.Unprotected | None:
        """Decrypt one unified-header record sent by ``role``: None when no epoch it may
        belong to has keys; raises AuthenticationFailed (the epoch tried is in its
        reason) or DecodeError."""
        top = self.top.get(role, 2)
        best = tls13.reconstruct(rec.epoch, 2, top, limit_bits=16)
        failure: AuthenticationFailed | None = None
        for epoch in (best, best - 4, best + 4):
            if epoch < 1:
                continue
            keys = self.keys(role, epoch, now)
            if keys is None:
                continue
            try:
                opened = tls13.unprotect(keys, epoch, header, cid_length, rec.fragment,
                                         self.next_sequence.get((role, epoch), 0))
            except AuthenticationFailed as e:
                if failure is None:
                    failure = AuthenticationFailed(
                        f"epoch {epoch} ({epoch_name(epoch)}): {e.reason}")
                continue
            seq_key = (role, epoch)
            self.next_sequence[seq_key] = max(self.next_sequence.get(seq_key, 0),
                                              opened.sequence + 1)
            self.top[role] = max(top, epoch)
            return opened
        if failure is not None:
            raise failure
        return None


@dataclass
class Unreadable:
    """Records of one sender and epoch that stayed encrypted (the honest view)."""

    records: int = 0
    bytes: int = 0
    sizes: list[int] = field(default_factory=list)
    """Ciphertext sizes, in order (the first 64)."""


@dataclass
class Dtls13:
    """What a session knows of its DTLS 1.3 record layer."""

    protection: Protection | None = None
    cids: dict[int, tuple[bytes, ...]] = field(default_factory=dict)
    """Sender index -> connection ids its records carry (the receiver's, from the
    hellos' connection_id extensions and NewConnectionId)."""
    opened: int = 0
    """Records decrypted."""
    unreadable: dict[tuple[int, int], Unreadable] = field(default_factory=dict)
    """(sender, epoch low bits) -> records that could not be decrypted (no keys)."""
    auth_failures: list[tuple[int, int, int, str]] = field(default_factory=list)
    """(sender, frame, epoch, reason) of records that failed to authenticate."""
    acks: list[tuple[int, int, tuple[tuple[int, int], ...]]] = field(default_factory=list)
    """(sender, frame, record numbers) of every ACK opened."""
    sent: dict[tuple[int, int, int], int | None] = field(default_factory=dict)
    """(sender, epoch, sequence) -> the flight of the handshake record: what an ACK names."""
    finished: set[str] = field(default_factory=set)
    """Roles whose Finished was decrypted."""
    confirmed: bool = False
    """The server sent a decrypted record in epoch 3+ that is not an alert (an ACK, data,
    a ticket) after the client's epoch-2 flight: it accepted that flight."""
    server_app_opened: bool = False
    """Some server record of epoch 3+ was decrypted (then :attr:`confirmed` decides)."""
    epoch2_senders: set[int] = field(default_factory=set)
    """Senders of epoch-2 (handshake) records, decrypted or not."""
    post_flight: int | None = None
    """Number of the current post-handshake flight (NewSessionTicket, KeyUpdate...)."""
    sizes: dict[int, list[int]] = field(default_factory=dict)
    """Flight number -> ciphertext sizes of its undecrypted records (copies detection)."""
    pending: list[tuple[int, Record, bytes, float, int]] = field(default_factory=list)
    """(sender, record, its header, ts, frame) waiting for their key log line (GRACE)."""
    waited: set[tuple[str, int]] = field(default_factory=set)
    """(sender role, epoch) whose line did not come within GRACE: its later records are
    not held back (still opened if the line comes after all)."""


def _keys_for(s: Session) -> Protection | None:
    """The session's Protection, made once the ServerHello named a TLS 1.3 suite and a
    key log is known to the session (``Session.secrets13``)."""
    st = s.dtls13
    if st.protection is not None:
        return st.protection
    lookup = s.secrets13
    n = s.neg
    if lookup is None or n.client_random is None or n.cipher_suite is None:
        return None
    suite = tls13.suite(n.cipher_suite)
    if suite is None:
        return None
    st.protection = Protection(lookup, n.client_random, suite)
    return st.protection


def receive_unified(s: Session, sender: int, rec: Record, data: bytes, ts: float,
                    frame: int) -> list[Event]:
    """Events of one unified-header record: the record (with its real epoch, sequence
    number and content type when it could be opened) and what it carries. With a key log
    that lacks its secret yet, the record waits (up to :data:`GRACE`, behind the records
    already waiting) and its events come when the line does."""
    header = data[rec.offset:rec.payload_offset]
    out = flush_pending(s, ts)
    st = s.dtls13
    if st.pending or _waits(s, sender, rec, ts):
        if len(st.pending) >= MAX_PENDING:
            old = st.pending.pop(0)
            out.extend(_open_one(s, *old))
        st.pending.append((sender, rec, header, ts, frame))
        return out
    out.extend(_open_one(s, sender, rec, header, ts, frame))
    return out


def _waits(s: Session, sender: int, rec: Record, ts: float) -> bool:
    """Whether this record should wait for its key log line: a key log is given, the
    session is DTLS 1.3, and the keys of its epoch are not known yet."""
    if s.secrets13 is None or s.role(sender) is None:
        return False
    prot = _keys_for(s)
    if prot is None:
        return s.neg.version == DTLS13 and s.neg.client_random is not None
    role = s.role(sender) or ""
    top = prot.top.get(role, 2)
    epoch = tls13.reconstruct(rec.epoch, 2, top, limit_bits=16)
    if (role, epoch) in s.dtls13.waited:
        return False
    return prot.keys(role, epoch, ts) is None and epoch < 4


def flush_pending(s: Session, now: float, final: bool = False) -> list[Event]:
    """Events of the records that waited for keys: those whose keys came, in order, and
    those whose wait is over (or ``final``: end of capture) as encrypted."""
    st = s.dtls13
    out: list[Event] = []
    while st.pending:
        sender, rec, header, ts, frame = st.pending[0]
        expired = final or now - ts >= GRACE
        if not expired and _waits(s, sender, rec, now):
            break
        st.pending.pop(0)
        role = s.role(sender)
        prot = st.protection
        if expired and role is not None and prot is not None:
            epoch = tls13.reconstruct(rec.epoch, 2, prot.top.get(role, 2), limit_bits=16)
            if prot.keys(role, epoch, now) is None:
                st.waited.add((role, epoch))
        out.extend(_open_one(s, sender, rec, header, ts, frame))
    return out


def _open_one(s: Session, sender: int, rec: Record, header: bytes, ts: float, frame: int
              ) -> list[Event]:
    """Events of one unified-header record, opened when its keys are known."""
    st = s.dtls13
    role = s.role(sender)
    dirl = s.dir_label(sender)
    opened: tls13.Unprotected | None = None
    error: str | None = None
    prot = _keys_for(s) if role is not None else None
    if prot is not None and role is not None:
        try:
            opened = prot.open(role, rec, header, len(rec.cid or b""), ts)
        except AuthenticationFailed as e:
            epoch = int(e.reason.split()[1]) if e.reason.startswith("epoch ") else rec.epoch
            error = f"record failed to authenticate: {e.reason}"
            st.auth_failures.append((sender, frame, epoch, error))
            s.auth_failures.append((sender, frame, error))
        except DecodeError as e:
            error = f"record does not decrypt: {e.reason}"
    if opened is None:
        ev = RecordSeen(ts, s.sid, frame, dirl, rec.offset, CT_APPLICATION_DATA,
                        registry.name(registry.CONTENT_TYPES, CT_APPLICATION_DATA), 0,
                        rec.epoch, None, rec.length, True, True)
        return [ev, *_unreadable(s, sender, rec, ts, frame, error)]
    st.opened += 1
    ct = opened.content_type
    ev = RecordSeen(ts, s.sid, frame, dirl, rec.offset, ct,
                    registry.name(registry.CONTENT_TYPES, ct), 0, opened.epoch,
                    opened.sequence, rec.length, True, True, True)
    out: list[Event] = [ev]
    if opened.epoch == 2:
        st.epoch2_senders.add(sender)
    if role == "server" and opened.epoch >= 3:
        st.server_app_opened = True
        if ct != CT_ALERT and (1 - sender) in st.epoch2_senders:
            st.confirmed = True
    if ct == CT_HANDSHAKE:
        out.extend(s._handshake_payload(sender, opened.content, 0, ts, frame, opened.epoch))
        cur = s.current
        if len(st.sent) < 4096 and cur is not None and cur.dir_key == sender:
            st.sent[(sender, opened.epoch, opened.sequence)] = cur.number
    elif ct == CT_ALERT:
        out.append(s._alert_from(sender, opened.content, ts, frame, opened.epoch))
    elif ct == CT_ACK:
        out.extend(_ack(s, sender, opened, ts, frame))
    elif ct == CT_APPLICATION_DATA:
        out.extend(s._app_data(sender, rec, ts, frame, epoch=opened.epoch,
                               length=len(opened.content), plaintext=opened.content))
    else:
        out.extend(s._encrypted_record(sender, rec, ts, frame, "EncryptedRecord"))
    return out


def _unreadable(s: Session, sender: int, rec: Record, ts: float, frame: int,
                error: str | None) -> list[Event]:
    """A record that stays encrypted: counted for the honest view, shown as before
    (``EncryptedHandshake`` in epoch 2, application data in 3), with why."""
    st = s.dtls13
    if rec.epoch == 2:
        st.epoch2_senders.add(sender)
    u = st.unreadable.setdefault((sender, rec.epoch), Unreadable())
    u.records += 1
    u.bytes += rec.length
    if len(u.sizes) < 64:
        u.sizes.append(rec.length)
    suite = tls13.suite(s.neg.cipher_suite or 0)
    if error is None and suite is not None and rec.length == 2 + 1 + suite.tag_length:
        return [s._alert_event(sender, ts, frame, rec.epoch, True, None, by_size=True)]
    if rec.epoch == 3 and error is None:
        return s._app_data(sender, rec, ts, frame)
    if rec.epoch != 2:
        return s._encrypted_record(sender, rec, ts, frame, "EncryptedRecord", error)
    return s._encrypted_handshake13(sender, rec, ts, frame, error)


def plaintext_ack(s: Session, sender: int, rec: Record, ts: float, frame: int
                  ) -> list[Event]:
    """An ACK record in epoch 0 (NSS acknowledges a HelloRetryRequest so): not encrypted."""
    return _ack(s, sender, tls13.Unprotected(0, rec.sequence, CT_ACK, rec.fragment, 0), ts,
                frame)


def _ack(s: Session, sender: int, opened: tls13.Unprotected, ts: float, frame: int
         ) -> list[Event]:
    """An ACK record: its record numbers, what they carried, in the sender's flight."""
    st = s.dtls13
    try:
        body: Ack | None = parse_ack(opened.content)
        error = None
    except DecodeError as e:
        body, error = None, f"ACK does not decode: {e.reason}"
    numbers = body.record_numbers if body is not None else ()
    if len(st.acks) < 1024:
        st.acks.append((sender, frame, numbers))
    other = 1 - sender
    acked = {f for e, q in numbers if (f := st.sent.get((other, e, q))) is not None}
    number, started = s._place_ack(sender, ts, acked, frame)
    out: list[Event] = list(started)
    encrypted = opened.epoch > 0
    out.append(MessageSeen(ts, s.sid, s.dir_label(sender), number, "ACK", None, None,
                           opened.epoch, encrypted, 1, (frame,), len(opened.content),
                           opened.content, body, error, False, encrypted))
    return out


def missing_labels(s: Session) -> dict[str, list[str]]:
    """Per sender role, the key log labels that would open its unreadable records."""
    out: dict[str, list[str]] = {}
    st = s.dtls13
    for (sender, bits), _u in sorted(st.unreadable.items()):
        role = s.role(sender)
        if role is None:
            continue
        epoch = 2 if bits == 2 else (3 if bits == 3 else (1 if bits == 1 else 4))
        label = label_for(role, epoch)
        if label not in out.setdefault(role, []):
            out[role].append(label)
    return out


ALL_LABELS = ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
              "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0")
"""The key log lines that open a DTLS 1.3 handshake and its application data."""


def note(s: Session) -> str | None:
    """What DTLS 1.3 hides in this session, and what the key log opened or lacks."""
    st = s.dtls13
    cr = s.neg.client_random
    who = f"client_random {cr.hex()[:16]}..." if cr else "this handshake"
    parts: list[str] = []
    if st.opened:
        missing = missing_labels(s)
        if missing:
            lacks = "; ".join(f"the {role} records stay encrypted: no {', '.join(labels)} "
                              f"for {who}" for role, labels in missing.items())
            parts.append(f"DTLS 1.3 records decrypted with the key log, but {lacks}")
        else:
            parts.append("DTLS 1.3 records decrypted with the key log")
    elif s.secrets13 is not None and st.unreadable:
        labels = [lab for labs in missing_labels(s).values() for lab in labs]
        parts.append(f"DTLS 1.3 encrypts everything after ServerHello, and the key log has no "
                     f"{', '.join(labels) or 'secret'} for {who}: only the hellos are decoded")
    else:
        parts.append("DTLS 1.3 encrypts everything after ServerHello (certificates, "
                     "CertificateVerify, Finished): only the hellos can be decoded without a "
                     f"key log ({', '.join(ALL_LABELS)} lines for {who} open the rest)")
    if st.auth_failures:
        epochs = sorted({e for _s, _f, e, _r in st.auth_failures})
        parts.append(f"{len(st.auth_failures)} record(s) failed to authenticate (epoch "
                     f"{', '.join(map(str, epochs))}): a key log for another connection, or "
                     "records altered in transit")
    return "; ".join(parts)
