"""Describe recorded datagrams with the product's own record/handshake parsers (for assertions)."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.decode.dtls.handshake import HandshakeFragment, parse_fragments
from proxy.decode.dtls.record import CT_HANDSHAKE, Record, parse_records

CLIENT_HELLO = 1
HELLO_VERIFY_REQUEST = 3
CERTIFICATE = 11
CERTIFICATE_VERIFY = 15


@dataclass(frozen=True)
class Piece:
    """One record of a datagram, with its handshake fragments when plaintext."""

    record: Record
    fragments: tuple[HandshakeFragment, ...]


def pieces(datagram: bytes) -> list[Piece]:
    """Records of a datagram; plaintext (epoch 0) handshake records are split into fragments."""
    out: list[Piece] = []
    for rec in parse_records(datagram):
        if not isinstance(rec, Record):
            raise AssertionError(f"malformed record in datagram: {rec}")
        frags: tuple[HandshakeFragment, ...] = ()
        if rec.content_type == CT_HANDSHAKE and rec.epoch == 0:
            frags = tuple(parse_fragments(rec.fragment, rec.payload_offset))
        out.append(Piece(rec, frags))
    return out


def handshake_types(datagram: bytes) -> list[int]:
    """Plaintext handshake message types in a datagram, fragment by fragment."""
    return [f.msg_type for p in pieces(datagram) for f in p.fragments]


def fragments(datagrams: list[bytes]) -> list[HandshakeFragment]:
    """All plaintext handshake fragments of many datagrams, in order."""
    return [f for d in datagrams for p in pieces(d) for f in p.fragments]


def is_client_hello(datagram: bytes) -> bool:
    """A DTLS handshake record (type 22) whose first message is a ClientHello (byte 13 == 1)."""
    return len(datagram) > 13 and datagram[0] == 22 and datagram[13] == CLIENT_HELLO


def content_types(datagram: bytes) -> list[tuple[int, int]]:
    """``(content_type, epoch)`` of each record."""
    return [(p.record.content_type, p.record.epoch) for p in pieces(datagram)]


def flip_last_byte_of(msg_type: int, datagram: bytes) -> bytes:
    """Flip one bit in the last byte of each plaintext fragment of ``msg_type`` (a fault).

    For CertificateVerify that is the end of the signature. Other datagrams pass unchanged.
    """
    out = bytearray(datagram)
    for f in (f for p in pieces(datagram) for f in p.fragments):
        if f.msg_type == msg_type and f.fragment_length:
            out[f.offset + 12 + f.fragment_length - 1] ^= 0x01
    return bytes(out)
