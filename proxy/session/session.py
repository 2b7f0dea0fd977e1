"""One session: the DTLS conversation between two endpoints, turned into events.

Sans-IO: :meth:`Session.receive_dtls` takes a datagram's bytes with its time and
frame number and returns events. Roles come from who sent ClientHello; flights
are numbered by :mod:`proxy.session.flights`; the transcript is kept for the
verdict rules; retransmissions are recognised as copies, never decoded as new
messages.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxy.datachannel.association import Association, encrypted_event
from proxy.decode.dtls import registry
from proxy.decode.dtls.crypto.decrypt import AuthenticationFailed
from proxy.decode.dtls.handshake import AssembledMessage, Reassembler, parse_fragments
from proxy.decode.dtls.messages import (
    ClientHello,
    HelloRetryRequest,
    NewConnectionId,
    ParseContext,
    ServerHello,
    parse_body,
)
from proxy.decode.dtls.reader import DecodeError
from proxy.decode.dtls.record import (
    CT_ACK,
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    MalformedRecord,
    Record,
    parse_records,
)
from proxy.events import (
    AlertSeen,
    Event,
    FlightComplete,
    FlightRetransmitted,
    Malformed,
    MessageSeen,
    RecordSeen,
)
from proxy.identify.ja4 import fingerprints
from proxy.session.confirm import CONFIRMED, REJECTED, Confirmation
from proxy.session.dtls13 import (
    Dtls13,
    SecretLookup,
    flush_pending,
    plaintext_ack,
    receive_unified,
)
from proxy.session.dtls13 import note as dtls13_note
from proxy.session.flights import FLIGHT_ENDERS, Flight, next_flight_number
from proxy.session.legs import LegIndex
from proxy.session.summary import Negotiation
from proxy.session.transcript import Transcript

HT_CLIENT_HELLO = 1
HT_SERVER_HELLO = 2
HT_HELLO_VERIFY_REQUEST = 3
HT_FINISHED = 20
HT_NEW_CONNECTION_ID = 10
EXT_CONNECTION_ID = 54
COPY_GAP = 0.04
"""Seconds of silence before an encrypted DTLS 1.3 flight's first record size, seen
again, counts as the flight sent again (retransmission timers start at 50 ms or more)."""
EXT_PRE_SHARED_KEY = 41
DTLS13 = 0xFEFC
CLOSE_NOTIFY = 0

RecordDecryptor = Callable[["Session", int, Record], bytes | None]
"""(session, sender index, encrypted record) -> plaintext, or None when no keys are known.
Raises :class:`proxy.decode.dtls.crypto.decrypt.AuthenticationFailed` when the record does not
authenticate. Set as ``Session.decrypt`` by the key-log layer (proxy.verdict)."""

MAX_FLIGHTS = 64
"""Flights kept per session (a long renegotiating call must not grow memory)."""


@dataclass
class Direction:
    """What one endpoint has sent."""

    reassembler: Reassembler = field(default_factory=Reassembler)
    ccs_seen: int = 0
    """ChangeCipherSpec records sent (copies included)."""
    epoch_records: dict[int, int] = field(default_factory=dict)
    """Encrypted handshake records per epoch (the first of epoch 1 is the Finished)."""
    encrypted_finished_len: int | None = None
    finished_frames: list[int] = field(default_factory=list)
    """Frames of every copy of this side's first encrypted handshake record (its Finished)."""
    app_data_records: int = 0
    app_data_bytes: int = 0
    last_ts: float = 0.0


@dataclass(slots=True)
class MessageRecord:
    """A first-copy message as the verdict rules see it.

    Not frozen (made per datagram; a frozen dataclass's ``__init__`` costs about
    four times as much, docs/performance.md), but never changed once made."""

    sender: int
    flight: int | None
    type: str
    msg_type: int | None
    message_seq: int | None
    frames: tuple[int, ...]
    ts: float
    body: Any
    raw: bytes
    encrypted: bool = False
    epoch: int = 0
    wire: bytes = b""
    """An encrypted DTLS 1.0/1.2 message: its record payload as on the wire (``raw`` holds
    the plaintext once decrypted). Empty otherwise: ``raw`` is what was sent."""


@dataclass(frozen=True, slots=True)
class PathLoss:
    """One datagram the relay's path fault lost (``Datagram.lost``)."""

    sender: int
    frame: int
    size: int
    ts: float
    rule: str


MAX_PATH_LOST = 256


class Session:
    """The DTLS side of one session (STUN and media are counted by the tracker)."""

    def __init__(self, sid: str, endpoints: tuple[str, str], labels: tuple[str, str]) -> None:
        self.sid = sid
        self.endpoints = endpoints
        self.labels = labels
        self.dirs = (Direction(), Direction())
        self.client: int | None = None
        """Index (0/1) of the endpoint that sent ClientHello first."""
        self.clienthello_senders: set[int] = set()
        self.flights: list[Flight] = []
        self.current: Flight | None = None
        self.flight_of: dict[tuple[int, int], int] = {}
        """(sender, message_seq) -> flight number of its first copy."""
        self.transcript = Transcript()
        self.messages: list[MessageRecord] = []
        """First copies of every message of the current handshake, in order."""
        self.neg = Negotiation()
        self.cookie_exchange = False
        self.alerts: list[AlertSeen] = []
        self.handshakes = 1
        self.decrypt: RecordDecryptor | None = None
        self.auth_failures: list[tuple[int, int, str]] = []
        """(sender, frame, reason) of encrypted records that failed authentication."""
        self.secrets13: SecretLookup | None = None
        """DTLS 1.3 traffic secrets by key log label and client_random (set by the key-log
        layer, proxy.verdict): the session then decrypts its unified-header records."""
        self.dtls13 = Dtls13()
        """The DTLS 1.3 record layer state (proxy.session.dtls13)."""
        self.confirm = Confirmation()
        """Whether the last flight was accepted (DTLS 1.0/1.2; :mod:`proxy.session.confirm`)."""
        self.leg_index: LegIndex | None = None
        """The Tracker's index of sessions by ClientHello random (:meth:`legs`)."""
        self.new_legs: list[Session] = []
        """Sessions found to be legs of this one by the last datagram (the Tracker tells
        them: their summary gains this session)."""
        self.ice_checks = 0
        """STUN requests that are ICE connectivity checks (USERNAME, PRIORITY...)."""
        self.server_methods: set[str] = set()
        """STUN/TURN methods used with a server (Binding without ICE credentials,
        Allocate, Refresh...): what a STUN or TURN server exchange shows."""
        self.heard = [0, 0]
        """Datagrams of any kind from each endpoint (the Tracker counts them)."""
        self.relay_notes: dict[int, str] = {}
        """Frame -> the capture's comment on it, for handshake datagrams that a relay wrote
        (``relayed by dtlsproxy``...): who changed a message between two legs."""
        self.show_payloads = False
        """Data channel messages become events (user data: only when the user asks)."""
        self.sctp: Association | None = None
        """The SCTP association its decrypted application data carries (RFC 8261)."""
        self._sctp_blocked = False
        """The sentence on unreadable application data was said."""
        self.path_lost: list[PathLoss] = []
        """Datagrams a live relay's path fault (blackhole, loss, rate) kept from their
        receiver, in order (bounded): the evidence of a path that drops them."""
        self._replaced = 0
        """Messages replaced in place (a decrypted copy): :meth:`handshake_order` redoes."""
        self._order: tuple[tuple[int, int], list[tuple[int, int, int, int]],
                           list[MessageRecord]] | None = None
        """(handshakes, replaced), sort keys, messages: :meth:`handshake_order` so far."""

    # ------------------------------------------------------------------ naming

    def dir_label(self, sender: int) -> str:
        """``client->server`` once roles are known, else ``<label>-><label>``."""
        if self.client is not None:
            return "client->server" if sender == self.client else "server->client"
        return f"{self.labels[sender]}->{self.labels[1 - sender]}"

    def role(self, idx: int) -> str | None:
        """``client`` / ``server`` for endpoint ``idx`` once known."""
        if self.client is None:
            return None
        return "client" if idx == self.client else "server"

    def _ctx(self) -> ParseContext:
        return ParseContext(
            version=self.neg.version,
            cipher_suite=self.neg.cipher_suite,
            is_dtls13=self.neg.version == DTLS13,
        )

    # ---------------------------------------------------------------- records

    def receive_dtls(self, sender: int, data: bytes, ts: float, frame: int) -> list[Event]:
        """Decode one DTLS datagram from endpoint ``sender``."""
        out: list[Event] = []
        d = self.dirs[sender]
        d.last_ts = ts
        dirl = self.dir_label(sender)
        cids = self.dtls13.cids.get(sender, ())
        records = parse_records(data, len(cids[0]), cids) if cids else parse_records(data)
        for rec in records:
            if isinstance(rec, MalformedRecord):
                out.append(
                    Malformed(ts, self.sid, frame, dirl, "record", rec.offset, rec.reason, rec.data)
                )
                continue
            if rec.unified:
                out.extend(receive_unified(self, sender, rec, data, ts, frame))
                continue
            encrypted = rec.epoch > 0
            out.append(
                RecordSeen(
                    ts, self.sid, frame, dirl, rec.offset, rec.content_type,
                    registry.name(registry.CONTENT_TYPES, rec.content_type),
                    rec.version, rec.epoch, rec.sequence, rec.length, encrypted, rec.unified,
                )
            )
            if rec.content_type == CT_HANDSHAKE and rec.epoch == 0:
                out.extend(self._handshake_record(sender, rec, ts, frame))
                dirl = self.dir_label(sender)  # roles may be known now
                if self.neg.version == DTLS13 and self.current is not None:
                    self.dtls13.sent[(sender, 0, rec.sequence)] = self.current.number
            elif rec.content_type == CT_HANDSHAKE:
                out.extend(self._encrypted_handshake(sender, rec, ts, frame))
            elif rec.content_type == CT_CHANGE_CIPHER_SPEC:
                out.extend(self._ccs(sender, rec, ts, frame))
            elif rec.content_type == CT_ALERT:
                out.append(self._alert(sender, rec, ts, frame))
            elif rec.content_type == CT_APPLICATION_DATA:
                out.extend(self._app_data(sender, rec, ts, frame))
            elif rec.content_type == CT_ACK and rec.epoch == 0:
                out.extend(plaintext_ack(self, sender, rec, ts, frame))
            else:
                name = registry.name(registry.CONTENT_TYPES, rec.content_type)
                out.extend(self._encrypted_record(sender, rec, ts, frame, _camel(name)))
        return out

    def _handshake_record(self, sender: int, rec: Record, ts: float, frame: int) -> list[Event]:
        return self._handshake_payload(sender, rec.fragment, rec.payload_offset, ts, frame)

    def _handshake_payload(self, sender: int, payload: bytes, base: int, ts: float, frame: int,
                           epoch: int = 0) -> list[Event]:
        """Handshake fragments of one record (plaintext, or decrypted: ``epoch`` > 0)."""
        out: list[Event] = []
        try:
            frags = parse_fragments(payload, base)
        except DecodeError as e:
            return [
                Malformed(
                    ts, self.sid, frame, self.dir_label(sender), "handshake", e.offset, e.reason,
                    payload,
                )
            ]
        for frag in frags:
            msg, problem = self.dirs[sender].reassembler.add(frag, frame)
            if problem is not None:
                out.append(
                    Malformed(
                        ts, self.sid, frame, self.dir_label(sender), "handshake", frag.offset,
                        f"message_seq {problem.message_seq}: {problem.reason}",
                    )
                )
            if msg is not None:
                out.extend(self._message(sender, msg, ts, epoch))
        return out

    # --------------------------------------------------------------- messages

    def _message(self, sender: int, msg: AssembledMessage, ts: float, epoch: int = 0
                 ) -> list[Event]:
        type_name = _handshake_name(msg.msg_type)
        body: Any = None
        error: str | None = None
        try:
            body = parse_body(msg.msg_type, msg.body, self._ctx())
        except DecodeError as e:
            error = f"offset {e.offset} in {type_name} body: {e.reason}"
        if isinstance(body, HelloRetryRequest):
            type_name = "HelloRetryRequest"

        new_handshake = (
            msg.msg_type == HT_CLIENT_HELLO
            and msg.copy > 1
            and msg.differs
            and not self.cookie_exchange
        )
        if new_handshake:
            self._restart_handshake()
            msg = AssembledMessage(
                msg.msg_type, msg.message_seq, msg.body, msg.frames, 1, msg.fragmented
            )
        out: list[Event] = []
        if msg.copy > 1:
            flight_no = self.flight_of.get((sender, msg.message_seq))
            out.extend(self._copy_seen(sender, flight_no, msg.copy, msg.frames, ts))
            out.append(
                MessageSeen(
                    ts, self.sid, self.dir_label(sender), flight_no, type_name, msg.msg_type,
                    msg.message_seq, epoch, epoch > 0, msg.copy, msg.frames, len(msg.body),
                    msg.raw, body, error, msg.differs, epoch > 0, *fingerprints(body),
                )
            )
            return out

        if msg.msg_type == HT_CLIENT_HELLO:
            self.clienthello_senders.add(sender)
            if self.client is None:
                self.client = sender
            if isinstance(body, ClientHello) and body.cookie:
                self.cookie_exchange = True  # its HelloVerifyRequest may not be captured
        elif msg.msg_type == HT_HELLO_VERIFY_REQUEST:
            self.cookie_exchange = True
            self.transcript.restart_after_cookie()
        if msg.msg_type in (HT_SERVER_HELLO, HT_HELLO_VERIFY_REQUEST) and self.client is None:
            self.client = 1 - sender  # no ClientHello seen (one direction captured?)
        if type_name == "HelloRetryRequest":
            self.cookie_exchange = True
        if body is not None:
            self.neg.observe(self.role(sender), body)
            self._observe13(sender, body)
            if (msg.msg_type == HT_CLIENT_HELLO and self.leg_index is not None
                    and isinstance(body, ClientHello)):
                self.new_legs = self.leg_index.add(self, body.random)

        post13 = self._post_handshake13(msg.msg_type)
        cur = self.current
        joins = (post13 and cur is not None and cur.dir_key == sender and not cur.complete
                 and cur.number == self.dtls13.post_flight)
        held = None if post13 else self._flight_holding(sender, msg.message_seq)
        started: list[Event] = []
        if held is not None:  # its first copy was lost: a retransmission fills the gap
            flight = held
        else:
            flight, started = self._place(sender, type_name, ts, new_flight=post13 and not joins)
        if post13:
            self.dtls13.post_flight = flight.number
        out.extend(started)
        flight.add_frames(msg.frames)
        flight.add_message(type_name, msg.message_seq)
        flight.last_ts = ts
        self.flight_of[(sender, msg.message_seq)] = flight.number
        if type_name != "HelloVerifyRequest" and not post13:
            self.transcript.add(sender, flight.number, msg.msg_type, msg.message_seq, msg.raw)
        self.messages.append(
            MessageRecord(
                sender, flight.number, type_name, msg.msg_type, msg.message_seq, msg.frames, ts,
                body, msg.raw, encrypted=epoch > 0, epoch=epoch,
            )
        )
        out.append(
            MessageSeen(
                ts, self.sid, self.dir_label(sender), flight.number, type_name, msg.msg_type,
                msg.message_seq, epoch, epoch > 0, 1, msg.frames, len(msg.body), msg.raw, body,
                error, False, epoch > 0, *fingerprints(body),
            )
        )
        if msg.msg_type == HT_FINISHED and epoch > 0 and self.role(sender) is not None:
            self.dtls13.finished.add(self.role(sender) or "")
        if msg.msg_type in FLIGHT_ENDERS:
            flight.ender_seen = True
        if flight.ender_seen and not flight.has_gap():
            out.extend(self._complete(flight, ts))
        return out

    def _flight_holding(self, sender: int, seq: int) -> Flight | None:
        """``sender``'s flight whose message_seq range holds ``seq`` (a message that arrives
        after a later one of its flight), if any: each side numbers its messages on across
        the handshake, so its flights split the numbers in ranges."""
        for f in self.flights:
            if f.dir_key == sender and seq < f.max_seq:
                return f
        return None

    # ------------------------------------------------------------- DTLS 1.3

    def _post_handshake13(self, msg_type: int) -> bool:
        """A DTLS 1.3 message after both Finished (NewSessionTicket, KeyUpdate, the
        connection id messages, a post-handshake CertificateRequest...): it starts a flight
        of its own, not part of the handshake's last flight, nor of its transcript."""
        return (self.neg.version == DTLS13 and "client" in self.dtls13.finished
                and msg_type not in (HT_CLIENT_HELLO, HT_SERVER_HELLO))

    def _observe13(self, sender: int, body: Any) -> None:
        """Connection ids: a hello's connection_id extension names the id the records TO
        its sender carry; NewConnectionId adds ids (RFC 9147 §9)."""
        if isinstance(body, ClientHello | ServerHello) and not isinstance(body,
                                                                        HelloRetryRequest):
            ext = body.extension(EXT_CONNECTION_ID)
            if ext is not None and isinstance(ext.value, bytes) and ext.value:
                self.dtls13.cids[1 - sender] = (ext.value,)
            if isinstance(body, ServerHello) and self.neg.version == DTLS13:
                # DTLS 1.3 resumes with a PSK (the server selects one of the offered
                # identities), never by echoing a session id
                self.neg.resumption = body.extension(EXT_PRE_SHARED_KEY) is not None
        elif isinstance(body, NewConnectionId):
            known = self.dtls13.cids.get(1 - sender, ())
            fresh = tuple(c for c in body.cids if c and c not in known)
            self.dtls13.cids[1 - sender] = (*known, *fresh)[:16]

    def _place_ack(self, sender: int, ts: float, acked: set[int], frame: int = 0
                   ) -> tuple[int | None, list[Event]]:
        """The flight of a DTLS 1.3 ACK (``acked``: the other side's flights whose records it
        names): the sender's open flight; else a flight of its own when it answers the
        other side's last flight and that flight ended the handshake or is a
        post-handshake one (the server's ACK of client flight 5, the ACK of a
        NewSessionTicket: RFC 9147 §5.6); else none (an ACK of part of a flight)."""
        cur = self.current
        if cur is not None and cur.dir_key == sender and not cur.complete:
            cur.messages.append("ACK")
            cur.add_frames((frame,))
            cur.last_ts = ts
            return cur.number, []
        if cur is None or cur.dir_key == sender or cur.number not in acked:
            return None, []
        last_of_handshake = "Finished" in cur.messages and self.role(cur.dir_key) == "client"
        if not (last_of_handshake or cur.number == self.dtls13.post_flight):
            return None, []
        flight, started = self._place(sender, "ACK", ts)
        flight.messages.append("ACK")
        flight.add_frames((frame,))
        flight.last_ts = ts
        return flight.number, [*started, *self._complete(flight, ts)]

    def _restart_handshake(self) -> None:
        """A new ClientHello (new random, message_seq restarted): a new handshake."""
        self.handshakes += 1
        self.dirs = (Direction(), Direction())
        self.client = None
        self.clienthello_senders = set()
        self.flights.clear()
        self.current = None
        self.flight_of.clear()
        self.transcript = Transcript()
        self.messages.clear()
        self.neg = Negotiation()
        self.cookie_exchange = False
        self.alerts.clear()
        self.dtls13 = Dtls13()
        self.confirm = Confirmation()

    def _place(self, sender: int, type_name: str, ts: float, new_flight: bool = False
               ) -> tuple[Flight, list[Event]]:
        """The flight a new first-copy message belongs to (starting one if needed;
        ``new_flight``: always, e.g. a DTLS 1.3 post-handshake message)."""
        out: list[Event] = []
        cur = self.current
        if cur is not None and cur.dir_key == sender and not cur.complete and not new_flight:
            return cur, out
        if cur is not None and not cur.complete:
            out.extend(self._complete(cur, ts))
        previous = cur.number if cur is not None else 0
        if cur is not None and cur.dir_key == sender and not self.heard[1 - sender]:
            previous += 1  # a flight again, nothing from the peer: its flight not captured
        number = next_flight_number(
            previous,
            type_name,
            cookie_exchange=self.cookie_exchange,
            resumption=self.neg.resumption,
        )
        flight = Flight(number, sender, ts, last_ts=ts)
        self.flights.append(flight)
        if len(self.flights) > MAX_FLIGHTS:
            del self.flights[0]
        self.current = flight
        return flight, out

    def _complete(self, flight: Flight, ts: float) -> list[Event]:
        if flight.complete:
            return []
        flight.complete = True
        return [
            FlightComplete(
                flight.last_ts, self.sid, self.dir_label(flight.dir_key), flight.number,
                tuple(flight.messages), tuple(flight.frames), flight.first_ts,
            )
        ]

    def _flight(self, number: int | None, sender: int) -> Flight | None:
        for f in reversed(self.flights):
            if f.number == number and f.dir_key == sender:
                return f
        return None

    def _copy_seen(
        self, sender: int, number: int | None, copy: int, frames: tuple[int, ...], ts: float
    ) -> list[Event]:
        flight = self._flight(number, sender)
        if flight is None or number is None or copy <= flight.copies:
            return []
        flight.copies = copy
        flight.copy_times.append(ts)
        self.confirm.copy_seen(sender, number, ts)
        return [
            FlightRetransmitted(ts, self.sid, self.dir_label(sender), number, copy, frames)
        ]

    # ------------------------------------------------- CCS, encrypted, alerts

    def _ccs(self, sender: int, rec: Record, ts: float, frame: int) -> list[Event]:
        d = self.dirs[sender]
        d.ccs_seen += 1
        out: list[Event] = []
        if d.ccs_seen == 1:
            flight, started = self._place(sender, "ChangeCipherSpec", ts)
            out.extend(started)
            flight.add_frames((frame,))
            flight.messages.append("ChangeCipherSpec")
            flight.last_ts = ts
            number: int | None = flight.number
            self.messages.append(
                MessageRecord(sender, number, "ChangeCipherSpec", None, None, (frame,), ts,
                              None, rec.fragment, epoch=rec.epoch)
            )
        else:
            number = self._ccs_flight(sender)
            out.extend(self._copy_seen(sender, number, d.ccs_seen, (frame,), ts))
        out.append(
            MessageSeen(
                ts, self.sid, self.dir_label(sender), number, "ChangeCipherSpec", None, None,
                rec.epoch, rec.epoch > 0, d.ccs_seen, (frame,), rec.length, rec.fragment,
            )
        )
        return out

    def _ccs_flight(self, sender: int) -> int | None:
        for m in self.messages:
            if m.sender == sender and m.type == "ChangeCipherSpec":
                return m.flight
        return None

    def _encrypted_handshake(
        self, sender: int, rec: Record, ts: float, frame: int
    ) -> list[Event]:
        """An epoch>0 handshake record: in DTLS 1.2 the first one is the Finished."""
        d = self.dirs[sender]
        n = d.epoch_records.get(rec.epoch, 0) + 1
        d.epoch_records[rec.epoch] = n
        type_name = "Finished" if rec.epoch == 1 else "EncryptedHandshake"
        out: list[Event] = []
        if n == 1:
            flight, started = self._place(sender, type_name, ts)
            out.extend(started)
            flight.add_frames((frame,))
            flight.messages.append(type_name)
            flight.last_ts = ts
            number: int | None = flight.number
            d.encrypted_finished_len = rec.length
            self.messages.append(
                MessageRecord(sender, number, type_name, HT_FINISHED, None, (frame,), ts, None,
                              rec.fragment, encrypted=True, epoch=rec.epoch, wire=rec.fragment)
            )
            copy = 1
        else:
            number = self._encrypted_flight(sender, type_name)
            copy = n
            out.extend(self._copy_seen(sender, number, copy, (frame,), ts))
        if rec.epoch == 1:
            d.finished_frames.append(frame)
        raw, body, error = self._try_decrypt_handshake(sender, rec, frame)
        if raw:
            self._keep_decrypted(sender, type_name, body, raw)
        out.append(
            MessageSeen(
                ts, self.sid, self.dir_label(sender), number, type_name,
                HT_FINISHED if type_name == "Finished" else None, None, rec.epoch, True, copy,
                (frame,), rec.length, raw, body, error,
            )
        )
        if n == 1 and type_name == "Finished":
            cur = self.current
            if cur is not None:
                out.extend(self._complete(cur, ts))
            if number is not None and self.dirs[1 - sender].epoch_records.get(1, 0) > 0:
                self._final_flight(sender, number, ts)
        return out

    def _final_flight(self, sender: int, number: int, ts: float) -> None:
        """``sender``'s Finished came second: its flight ``number`` is the last flight."""
        prev = self._encrypted_flight(1 - sender, "Finished")
        flight = self._flight(prev, 1 - sender)
        times = [flight.first_ts, *flight.copy_times] if flight is not None else []
        self.confirm.final_seen(sender, number, prev, ts, times)

    def _keep_decrypted(self, sender: int, type_name: str, body: Any, raw: bytes) -> None:
        """The first decrypted copy of an encrypted message replaces its ciphertext in
        :attr:`messages` (keys may arrive late: a key log written during the call)."""
        for i, m in enumerate(self.messages):
            if m.sender == sender and m.type == type_name and m.encrypted:
                if m.body is None:
                    self.messages[i] = MessageRecord(
                        m.sender, m.flight, m.type, m.msg_type, m.message_seq, m.frames, m.ts,
                        body, raw, encrypted=True, epoch=m.epoch, wire=m.wire,
                    )
                    self._replaced += 1
                return

    def _try_decrypt(self, sender: int, rec: Record, frame: int) -> tuple[bytes | None, str | None]:
        """(plaintext, None), (None, why it failed), or (None, None) when no keys."""
        if self.decrypt is None:
            return None, None
        try:
            return self.decrypt(self, sender, rec), None
        except AuthenticationFailed as e:
            reason = f"record fails authentication: {e.reason}"
            self.auth_failures.append((sender, frame, reason))
            return None, reason
        except DecodeError as e:
            return None, f"record does not decrypt: {e.reason}"

    def _try_decrypt_handshake(
        self, sender: int, rec: Record, frame: int
    ) -> tuple[bytes, Any, str | None]:
        """Decrypted handshake message (raw header+body, parsed body) when keys are known."""
        pt, error = self._try_decrypt(sender, rec, frame)
        if pt is None:
            return b"", None, error
        try:
            (frag,) = parse_fragments(pt, 0)[:1]
            return pt, parse_body(frag.msg_type, frag.body, self._ctx()), None
        except (DecodeError, ValueError) as e:
            return pt, None, f"decrypted handshake record does not decode: {e}"

    def _encrypted_flight(self, sender: int, type_name: str) -> int | None:
        for m in self.messages:
            if m.sender == sender and m.type == type_name and m.encrypted:
                return m.flight
        return None

    def _encrypted_handshake13(self, sender: int, rec: Record, ts: float, frame: int,
                               error: str | None = None) -> list[Event]:
        """A DTLS 1.3 epoch-2 record that could not be decrypted (no keys, or it failed to
        authenticate: ``error``): handshake traffic keys protect it, so it is taken for a
        part of the sender's flight (``EncryptedHandshake``)."""
        d = self.dirs[sender]
        d.epoch_records[2] = d.epoch_records.get(2, 0) + 1
        flight, started = self._place(sender, "EncryptedHandshake", ts)
        out: list[Event] = list(started)
        flight.add_frames((frame,))
        if "EncryptedHandshake" not in flight.messages:
            flight.messages.append("EncryptedHandshake")
        sizes = self.dtls13.sizes.setdefault(flight.number, [])
        if sizes and rec.length == sizes[0] and ts - flight.last_ts >= COPY_GAP:
            # the flight's first record size again after a pause: sent again (no keys to
            # read its message_seq; "the same record sizes again")
            flight.copies += 1
            out.append(FlightRetransmitted(ts, self.sid, self.dir_label(sender),
                                           flight.number, flight.copies, (frame,)))
        elif len(sizes) < 64:
            sizes.append(rec.length)
        flight.last_ts = ts
        out.append(MessageSeen(
            ts, self.sid, self.dir_label(sender), flight.number, "EncryptedHandshake", None,
            None, rec.epoch, True, flight.copies, (frame,), rec.length, b"", None, error,
        ))
        return out

    def _encrypted_record(
        self, sender: int, rec: Record, ts: float, frame: int, type_name: str,
        error: str | None = None,
    ) -> list[Event]:
        """A record we cannot read (DTLS 1.3 ciphertext, heartbeat, ack, tls12_cid)."""
        cur = self.current
        flight = cur.number if cur is not None and cur.dir_key == sender else None
        return [
            MessageSeen(
                ts, self.sid, self.dir_label(sender), flight, type_name, None, None, rec.epoch,
                True, 1, (frame,), rec.length, b"", None, error,
            )
        ]

    def _app_data(self, sender: int, rec: Record, ts: float, frame: int,
                  epoch: int | None = None, length: int | None = None,
                  plaintext: bytes | None = None) -> list[Event]:
        """Application data is counted; only the first record per direction is an event.
        ``epoch``/``length``/``plaintext``: the real ones of a decrypted DTLS 1.3 record.
        A DTLS 1.2 record is decrypted here when keys are known; the plaintext (an SCTP
        packet, RFC 8261) goes to :attr:`sctp` and stays in memory."""
        d = self.dirs[sender]
        d.app_data_records += 1
        n = rec.length if length is None else length
        d.app_data_bytes += n
        if self.confirm.how is None:
            self.confirm.data_seen(sender, ts, "application data")
        out: list[Event] = []
        failed = False
        if plaintext is None and epoch is None and rec.epoch > 0 and self.decrypt is not None:
            try:
                plaintext = self.decrypt(self, sender, rec)
            except AuthenticationFailed:
                failed = True
            except DecodeError:
                failed = True
        if d.app_data_records == 1:
            e = rec.epoch if epoch is None else epoch
            out.append(MessageSeen(
                ts, self.sid, self.dir_label(sender), None, "ApplicationData", None, None,
                e, e > 0, 1, (frame,), n, b"", None, None, False, epoch is not None,
            ))
        if plaintext is not None or failed:
            if self.sctp is None:
                self.sctp = Association(self.show_payloads)
            if failed:
                self.sctp.failed(sender)
            else:
                labels = (self.dir_label(sender), self.dir_label(1 - sender))
                out.extend(self.sctp.receive(self.sid, sender, labels, plaintext or b"", ts,
                                             frame))
        elif self.sctp is None and not self._sctp_blocked:
            self._sctp_blocked = True
            out.append(encrypted_event(self.sid, ts, {self.dir_label(sender): 1},
                                       self.app_data_note()))
        return out

    def app_data_note(self) -> str:
        """What unreadable application data hides, and which key log lines open it."""
        cr = self.neg.client_random
        who = f"client_random {cr.hex()[:16]}..." if cr else "this handshake"
        if self.neg.version == DTLS13:
            lines = "CLIENT_TRAFFIC_SECRET_0 and SERVER_TRAFFIC_SECRET_0 lines"
        else:
            lines = "a CLIENT_RANDOM line"
        had = (" the key log given has none" if self.decrypt is not None
               or self.secrets13 is not None else "")
        return (f"application data is encrypted: the SCTP association and its data channels "
                f"(labels, messages, ABORT causes) need {lines} in the key log for {who}"
                + (f";{had}" if had else " (--keylog)"))

    def sctp_flush(self, now: float, final: bool = False) -> list[Event]:
        """The data channels' last picture when its counters changed since it was sent."""
        return [] if self.sctp is None else self.sctp.snapshot(self.sid, now, final)

    def _alert(self, sender: int, rec: Record, ts: float, frame: int) -> AlertSeen:
        if rec.epoch == 0 and rec.length == 2:
            return self._alert_event(sender, ts, frame, rec.epoch, False, rec.fragment)
        pt, _ = self._try_decrypt(sender, rec, frame)
        return self._alert_event(sender, ts, frame, rec.epoch, True, pt)

    def _alert_from(self, sender: int, plaintext: bytes, ts: float, frame: int, epoch: int
                    ) -> AlertSeen:
        """A decrypted DTLS 1.3 alert record."""
        return self._alert_event(sender, ts, frame, epoch, True, plaintext)

    def _alert_event(self, sender: int, ts: float, frame: int, epoch: int, encrypted: bool,
                     plaintext: bytes | None, by_size: bool = False) -> AlertSeen:
        """The AlertSeen of one alert record (``plaintext`` None: encrypted, unreadable;
        ``by_size``: a DTLS 1.3 record only taken for an alert by its size)."""
        answers = None
        for f in reversed(self.flights):
            if f.dir_key != sender:
                answers = f.number
                break
        cur = self.current
        own_flight = cur.number if cur is not None and cur.dir_key == sender else None
        dirl = self.dir_label(sender)
        if plaintext is not None and len(plaintext) == 2:
            lv, ds = plaintext[0], plaintext[1]
            ev = AlertSeen(
                ts, self.sid, dirl, (frame,), epoch, encrypted, lv,
                registry.name(registry.ALERT_LEVELS, lv), ds,
                registry.name(registry.ALERT_DESCRIPTIONS, ds), answers, own_flight,
            )
        else:
            ev = AlertSeen(ts, self.sid, dirl, (frame,), epoch, encrypted, None, None, None,
                           None, answers, own_flight, by_size)
        self.alerts.append(ev)
        self.confirm.alert_seen(ts)
        return ev

    # ------------------------------------------------------------------ state

    def handshake_order(self) -> list[MessageRecord]:
        """First copies in the order the handshake defines, not the arrival order: per
        flight, handshake messages by message_seq, then ChangeCipherSpec, then the
        encrypted Finished (DTLS reorders early arrivals by message_seq)."""
        messages = self.messages
        state = (self.handshakes, self._replaced)
        cached = self._order
        if cached is None or cached[0] != state or len(cached[2]) > len(messages):
            cached = self._order = (state, [], [])
        _, keys, ordered = cached
        # Messages are only appended (a restart or a replacement starts over), and an
        # earlier message's key never changes: each new one is inserted where it sorts.
        for i in range(len(ordered), len(messages)):
            m = messages[i]
            kind = 0 if m.message_seq is not None else (1 if m.type == "ChangeCipherSpec" else 2)
            k = (m.flight if m.flight is not None else 0, kind, m.message_seq or 0, i)
            at = bisect.bisect_right(keys, k)
            keys.insert(at, k)
            ordered.insert(at, m)
        return list(ordered)

    def finished_both(self) -> bool:
        """Both sides sent their (encrypted) Finished: the handshake is complete on the
        wire, which does not yet mean accepted (:meth:`established`)."""
        if self.neg.version == DTLS13:
            return self.established()
        return all(d.epoch_records.get(1, 0) > 0 for d in self.dirs)

    def established(self) -> bool:
        """The handshake is confirmed: both Finished were sent and the last flight was
        accepted (DTLS 1.0/1.2: data from its receiver, or silence, see
        :mod:`proxy.session.confirm`).

        DTLS 1.3 with its records decrypted: the client's Finished, then a record of the
        server's application epoch that is not an alert (its ACK, data, a ticket): the
        server accepted the client's last flight. Without keys: both sides sent encrypted
        records and application data flows (what can be seen from outside)."""
        if self.neg.version == DTLS13:
            if self.dtls13.confirmed or self.dtls13.server_app_opened:
                return self.dtls13.confirmed
            return all(d.app_data_records > 0 or d.epoch_records for d in self.dirs) and any(
                d.app_data_records for d in self.dirs
            )
        return self.confirm.state == CONFIRMED and self.finished_both()

    def rejected(self) -> bool:
        """The receiver of the last flight kept retransmitting its own flight after it
        (DTLS 1.0/1.2): it never accepted the last flight."""
        return self.neg.version != DTLS13 and self.confirm.state == REJECTED

    def confirmation_note(self) -> str | None:
        """A sentence while the last flight is not confirmed (or was rejected)."""
        c = self.confirm
        if c.final_sender is None or c.how is not None or self.neg.version == DTLS13:
            return None
        me, peer = self.role(c.final_sender), self.role(1 - c.final_sender)
        if c.state == REJECTED:
            return (f"the {peer} retransmitted flight {c.prev_flight} {c.retransmitted_after} "
                    f"times after {me} flight {c.final_flight}: it did not accept it")
        note = (f"the {peer} has sent no data since {me} flight {c.final_flight}: whether "
                "it accepted it is not known")
        if any(a.encrypted and a.description is None and a.dir.startswith(str(peer))
               for a in self.alerts):
            note += (f"; then the {peer} sent an encrypted alert: a close_notify, or a fatal "
                     "alert refusing it (a key log reads it)")
        return note

    def stun_seen(self, role: str | None, method: str) -> None:
        """A STUN message (``role`` from :func:`proxy.decode.stun.stun_role`)."""
        if role == "ice":
            self.ice_checks += 1
        elif role == "server" and len(self.server_methods) < 16:
            self.server_methods.add(method)

    def server_exchange(self) -> bool:
        """A client talking to a STUN or TURN server: STUN/TURN server methods, no ICE
        check and no DTLS handshake. Not an ICE path between two peers."""
        return bool(self.server_methods) and not self.ice_checks and self.client is None

    def one_direction(self) -> int | None:
        """The endpoint whose datagrams alone are in the capture, when what it sent shows
        that the other one did send (a server answered a ClientHello; a client sent its
        flight 5, or a ClientHello with a cookie): the other direction was not captured.
        None when both directions were seen, or nothing says the peer spoke."""
        for x in (0, 1):
            if self.heard[1 - x] or not self.heard[x]:
                continue
            mine = [m for m in self.messages if m.sender == x]
            if self.role(x) == "server" and mine:
                return x
            if self.role(x) == "client" and any(
                    m.type != "ClientHello" or (isinstance(m.body, ClientHello)
                                                and m.body.cookie) for m in mine):
                return x
        return None

    def one_direction_note(self) -> str | None:
        """The sentence when only one direction was captured."""
        x = self.one_direction()
        if x is None:
            return None
        me, peer = self.role(x), self.role(1 - x)
        return (f"only one direction captured ({me}->{peer}): nothing from the {peer} is in "
                f"the capture, yet the {me} answered it; message order, transcript and "
                "silence are not judged")

    def legs(self) -> list[Session]:
        """The other sessions that carry this handshake (the same ClientHello random)."""
        return [] if self.leg_index is None else self.leg_index.legs(self)

    def media_seen(self, sender: int, ts: float) -> None:
        """SRTP/SRTCP from ``sender`` (counted by the Tracker): confirms the handshake when
        it comes from the receiver of the last flight."""
        if self.confirm.how is None and self.confirm.final_sender is not None:
            self.confirm.data_seen(sender, ts, "SRTP")

    def time_passed(self, now: float) -> None:
        """Time went on (a datagram or a tick): the last flight may be confirmed by silence."""
        c = self.confirm
        if c.how is None and c.final_sender is not None and self.neg.version != DTLS13:
            c.time_passed(now)

    def flush13(self, now: float, final: bool = False) -> list[Event]:
        """Events of DTLS 1.3 records that waited for their key log line (time passed,
        or ``final``: the end; see :func:`proxy.session.dtls13.flush_pending`)."""
        return flush_pending(self, now, final) if self.dtls13.pending else []

    def note(self) -> str | None:
        """The summary's sentences: the version choice, and for DTLS 1.3 what the key log
        opened or what stays hidden (:func:`proxy.session.dtls13.note`)."""
        if self.server_exchange():
            methods = ", ".join(sorted(self.server_methods))
            return (f"a STUN/TURN server exchange ({methods}): a client and its STUN or TURN "
                    "server, not an ICE path between two peers")
        if self.neg.version != DTLS13:
            parts = [p for p in (self.one_direction_note(), self.confirmation_note(),
                                 self.neg.note()) if p]
        else:
            parts = [p for p in (self.neg.version_note(), dtls13_note(self)) if p]
        return "; ".join(parts) or None

    def fatal_alert(self) -> AlertSeen | None:
        """The first readable fatal alert. A close_notify is an orderly shutdown whatever
        its level (stacks answer one close_notify with another, some at level fatal)."""
        for a in self.alerts:
            if a.level == 2 and a.description != CLOSE_NOTIFY:
                return a
        return None


def _handshake_name(t: int) -> str:
    return registry.name(registry.HANDSHAKE_TYPES, t)


def _camel(name: str) -> str:
    """``client_hello`` -> ``ClientHello`` (RFC message names as the schema uses)."""
    if "_" not in name and name[:1].isupper():
        return name
    special = {"hello_verify_request": "HelloVerifyRequest"}
    if name in special:
        return special[name]
    return "".join(p[:1].upper() + p[1:] for p in name.split("_"))
