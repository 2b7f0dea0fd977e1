"""The legal order of DTLS 1.0/1.2 handshake messages, as data (h11 ``_state.py`` style).

Two tables say what may happen; :func:`order_violations` only reads them. An
illegal step is a finding (a Verdict), never an exception.

- :data:`NEXT`: per sender role, the messages that may follow that sender's
  previous message (``"start"`` before its first one).
- :data:`PREREQUISITES`: a message that may only be sent after the peer sent one of
  the listed messages (the peer's flight it answers). :data:`RESUMPTION_PREREQUISITES`
  overrides entries for an abbreviated handshake (server Finished first).

Message names are those of :class:`proxy.session.session.MessageRecord.type`
(``ChangeCipherSpec`` and the encrypted ``Finished`` included).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from proxy.session.session import MessageRecord

START = "start"

NEXT: dict[str, dict[str, frozenset[str]]] = {
    "client": {
        START: frozenset({"ClientHello"}),
        "ClientHello": frozenset({"ClientHello", "Certificate", "ClientKeyExchange",
                                  "ChangeCipherSpec"}),
        "Certificate": frozenset({"ClientKeyExchange"}),
        "ClientKeyExchange": frozenset({"CertificateVerify", "ChangeCipherSpec"}),
        "CertificateVerify": frozenset({"ChangeCipherSpec"}),
        "ChangeCipherSpec": frozenset({"Finished"}),
        "Finished": frozenset(),
    },
    "server": {
        START: frozenset({"HelloVerifyRequest", "ServerHello"}),
        "HelloVerifyRequest": frozenset({"ServerHello"}),
        "ServerHello": frozenset({"Certificate", "ServerKeyExchange", "CertificateRequest",
                                  "ServerHelloDone", "NewSessionTicket", "ChangeCipherSpec"}),
        "Certificate": frozenset({"CertificateStatus", "ServerKeyExchange",
                                  "CertificateRequest", "ServerHelloDone"}),
        "CertificateStatus": frozenset({"ServerKeyExchange", "CertificateRequest",
                                        "ServerHelloDone"}),
        "ServerKeyExchange": frozenset({"CertificateRequest", "ServerHelloDone"}),
        "CertificateRequest": frozenset({"ServerHelloDone"}),
        "ServerHelloDone": frozenset({"NewSessionTicket", "ChangeCipherSpec"}),
        "NewSessionTicket": frozenset({"ChangeCipherSpec"}),
        "ChangeCipherSpec": frozenset({"Finished"}),
        "Finished": frozenset(),
    },
}
"""role -> previous message of that role -> messages that may come next from it."""

PREREQUISITES: dict[tuple[str, str], frozenset[str]] = {
    ("server", "HelloVerifyRequest"): frozenset({"ClientHello"}),
    ("server", "ServerHello"): frozenset({"ClientHello"}),
    ("client", "Certificate"): frozenset({"CertificateRequest"}),
    ("client", "ClientKeyExchange"): frozenset({"ServerHelloDone"}),
    ("client", "ChangeCipherSpec"): frozenset({"ServerHelloDone"}),
    ("server", "ChangeCipherSpec"): frozenset({"Finished"}),
}
"""(role, message) -> the peer must already have sent one of these (full handshake)."""

RESUMPTION_PREREQUISITES: dict[tuple[str, str], frozenset[str]] = {
    ("client", "ChangeCipherSpec"): frozenset({"Finished"}),
    ("server", "ChangeCipherSpec"): frozenset({"ClientHello"}),
}
"""Entries that differ in an abbreviated (resumed) handshake."""

_RESUMPTION_TABLE = {**PREREQUISITES, **RESUMPTION_PREREQUISITES}


@dataclass(frozen=True, slots=True)
class OrderViolation:
    """A message its sender may not send at that point."""

    message: MessageRecord
    role: str
    previous: str
    """The sender's previous message (``start`` if none)."""
    expected: tuple[str, ...]
    """What the tables allow there (sorted), or the missing peer messages."""
    why: str
    """One sentence."""


def settled(messages: Sequence[MessageRecord]) -> list[MessageRecord]:
    """The messages a receiver could already have processed: each sender's messages up
    to the first gap in its message_seq (a lost or late message may still arrive, and
    DTLS buffers what comes after it; judging the order before that is premature)."""
    expected: dict[int, int] = {}
    stopped: set[int] = set()
    out: list[MessageRecord] = []
    for m in messages:
        if m.sender in stopped:
            continue
        if m.message_seq is not None:
            exp = expected.get(m.sender)
            if exp is not None and m.message_seq > exp:
                stopped.add(m.sender)
                continue
            expected[m.sender] = m.message_seq + 1
        out.append(m)
    return out


def order_violations(
    messages: Sequence[MessageRecord], client: int, *, resumption: bool = False
) -> list[OrderViolation]:
    """Every illegal step in ``messages`` (first copies, in handshake order: see
    :meth:`proxy.session.Session.handshake_order`; arrival order is UDP's business).

    Message types the tables do not know (HelloRequest, DTLS 1.3 records,
    ``EncryptedHandshake``) are skipped; each violation is reported and the walk
    goes on from the message actually sent.
    """
    prereq = _RESUMPTION_TABLE if resumption else PREREQUISITES
    last = {"client": START, "server": START}
    sent: dict[str, set[str]] = {"client": set(), "server": set()}
    out: list[OrderViolation] = []
    for m in messages:
        role = "client" if m.sender == client else "server"
        other = "server" if role == "client" else "client"
        table = NEXT[role]
        if m.type not in table:
            continue
        prev = last[role]
        allowed = table.get(prev, frozenset())
        if m.type not in allowed:
            exp = tuple(sorted(allowed))
            after = "as its first message" if prev == START else f"after its {prev}"
            want = ", ".join(exp) if exp else "nothing more"
            out.append(OrderViolation(
                m, role, prev, exp,
                f"{role} sent {m.type} {after}; the handshake allows {want} there",
            ))
        else:
            need = prereq.get((role, m.type))
            if need is not None and not (need & sent[other]):
                exp = tuple(sorted(need))
                out.append(OrderViolation(
                    m, role, prev, exp,
                    f"{role} sent {m.type} before the {other} sent {' or '.join(exp)}",
                ))
        last[role] = m.type
        sent[role].add(m.type)
    return out
