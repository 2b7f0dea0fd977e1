"""Re-cut and re-pack DTLS datagrams (the ``refragment`` and ``coalesce`` fault actions).

Pure functions on bytes. Only plaintext (epoch 0) handshake records are re-cut: their
bodies are not protected, and the receiver reassembles a message from any fragments
(RFC 6347 §4.2.3, RFC 9147 §5.5), so a path with a smaller MTU is reproduced exactly:
the same messages, the same ``message_seq``, new record and fragment headers. Encrypted
records, CCS, alerts and anything that does not parse are kept byte for byte.
"""

from __future__ import annotations

from proxy.decode.dtls.handshake import parse_fragments
from proxy.decode.dtls.reader import DecodeError
from proxy.decode.dtls.record import Record, parse_records

RECORD_HEADER = 13
"""DTLSPlaintext header: type, version, epoch, sequence_number, length."""
HANDSHAKE_HEADER = 12
MIN_SIZE = RECORD_HEADER + HANDSHAKE_HEADER + 1
"""The smallest ``size`` that still carries one body byte per fragment."""


def plaintext_record(content_type: int, version: int, sequence: int, payload: bytes) -> bytes:
    """One epoch 0 DTLSPlaintext record."""
    return (bytes([content_type]) + version.to_bytes(2, "big") + b"\x00\x00"
            + sequence.to_bytes(6, "big") + len(payload).to_bytes(2, "big") + payload)


def fragment(msg_type: int, length: int, message_seq: int, offset: int, body: bytes) -> bytes:
    """One handshake fragment: its 12-byte header and ``body``."""
    return (bytes([msg_type]) + length.to_bytes(3, "big") + message_seq.to_bytes(2, "big")
            + offset.to_bytes(3, "big") + len(body).to_bytes(3, "big") + body)


def records(data: bytes) -> list[bytes]:
    """The datagram's records as bytes (a tail that does not parse is one piece)."""
    out = []
    for rec in parse_records(data):
        if isinstance(rec, Record):
            out.append(data[rec.offset:rec.end])
        else:
            out.append(data[rec.offset:])
    return out


def recut(data: bytes, size: int, only: int | None = None) -> tuple[list[bytes], int]:
    """Re-cut the plaintext handshake records of ``data`` into records of at most ``size``
    bytes (one fragment each); ``only``: just the fragments of that message type.

    Returns the records in order (others unchanged) and how many fragments were re-cut.
    """
    chunk = max(1, size - RECORD_HEADER - HANDSHAKE_HEADER)
    out: list[bytes] = []
    cut = 0
    for rec in parse_records(data):
        if not isinstance(rec, Record):
            out.append(data[rec.offset:])
            continue
        raw = data[rec.offset:rec.end]
        if rec.unified or rec.epoch != 0 or rec.content_type != 22:
            out.append(raw)
            continue
        try:
            frags = parse_fragments(rec.fragment, 0)
        except DecodeError:
            out.append(raw)
            continue
        if only is not None and not any(fr.msg_type == only for fr in frags):
            out.append(raw)
            continue
        for fr in frags:
            body = fr.body
            if only is not None and fr.msg_type != only:
                pieces = [(fr.fragment_offset, body)]
            else:
                cut += 1
                pieces = [(fr.fragment_offset + i, body[i:i + chunk])
                          for i in range(0, len(body), chunk)] or [(fr.fragment_offset, b"")]
            for off, piece in pieces:
                out.append(plaintext_record(22, rec.version, rec.sequence,
                                            fragment(fr.msg_type, fr.length, fr.message_seq,
                                                     off, piece)))
    return out, cut


def pack(recs: list[bytes], size: int) -> list[bytes]:
    """Records into datagrams of at most ``size`` bytes, in order (a record larger than
    ``size`` goes alone), as a stack packs a flight."""
    out: list[bytes] = []
    cur = b""
    for r in recs:
        if cur and len(cur) + len(r) > size:
            out.append(cur)
            cur = b""
        cur += r
    if cur:
        out.append(cur)
    return out


class Renumber:
    """Epoch 0 record sequence numbers of one sender, kept increasing when records are
    added (a re-cut record becomes several): each record gets at least its own number
    and always more than the one sent before it, so the receiver's replay window never
    drops a later record as a replay."""

    def __init__(self) -> None:
        self.last = -1

    def __call__(self, data: bytes) -> bytes:
        buf = bytearray(data)
        changed = False
        for rec in parse_records(data):
            if not isinstance(rec, Record) or rec.unified or rec.epoch != 0:
                continue
            seq = max(rec.sequence, self.last + 1)
            self.last = seq
            if seq != rec.sequence:
                buf[rec.offset + 5:rec.offset + 11] = seq.to_bytes(6, "big")
                changed = True
        return bytes(buf) if changed else data
