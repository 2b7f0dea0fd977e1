"""A seeded mutator over real captures, for the fuzz tests and ``bench/fuzz.py``.

The corpus is every datagram of the real captures (``tests/data`` and
``../shared/captures``), kept per flow (one pair of endpoints) so that a case replays a
real conversation with some of its datagrams mutated: bit flips, interesting bytes and
length fields (0, 1, 0x7f, 0x80, 0xff, 0xffff...), truncation, inserted garbage,
deletions, splices from other datagrams, and random datagrams beginning ``16 fe fd``
(a DTLS 1.2 handshake record header) with plausible or random record and handshake
headers. A case is a pure function of ``(seed, index)``: rerunning it with the same
pair gives the same bytes (the reproducer).
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from proxy.capture.pcap import read_capture
from proxy.events import Address, Datagram
from tests.conftest import CAPTURES, DATA

INTERESTING8 = (0, 1, 0x7F, 0x80, 0xFE, 0xFF, 0x14, 0x15, 0x16, 0x17, 0x2E, 0x3F)
INTERESTING16 = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x3FFF, 0x4000, 0x7FFF, 0x8000, 0xFFFE,
                 0xFFFF, 0xFEFD, 0xFEFF, 0xFEFC)
INTERESTING32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x10000)


@dataclass(frozen=True)
class Flow:
    """The datagrams of one pair of endpoints in one real capture."""

    capture: str
    datagrams: tuple[Datagram, ...]


def capture_files() -> list[Path]:
    """The real captures of the corpus (tests/data first, then the shared ones)."""
    files = sorted(DATA.glob("*.pcap*"))
    if CAPTURES.is_dir():
        files += sorted(CAPTURES.glob("*.pcap*"))
    return files


@cache
def flows() -> tuple[Flow, ...]:
    """Every flow of every capture of the corpus, in file order."""
    out: list[Flow] = []
    for path in capture_files():
        by_pair: dict[frozenset[Address], list[Datagram]] = {}
        for d in read_capture(path):
            by_pair.setdefault(frozenset((d.src, d.dst)), []).append(d)
        out += [Flow(path.name, tuple(v)) for v in by_pair.values()]
    return tuple(out)


@cache
def pool() -> tuple[bytes, ...]:
    """Every payload of the corpus (the material of splices)."""
    return tuple(d.data for f in flows() for d in f.datagrams)


def mutate(rng: random.Random, data: bytes, ops: int | None = None) -> bytes:
    """``data`` with 1..4 (or ``ops``) random mutations applied."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4) if ops is None else ops):
        op = rng.randrange(10)
        n = len(b)
        if op == 0 and n:  # flip a bit
            b[rng.randrange(n)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:  # an interesting byte
            b[rng.randrange(n)] = rng.choice(INTERESTING8)
        elif op == 2 and n >= 2:  # an interesting 16-bit field (record/handshake lengths)
            i = rng.randrange(n - 1)
            b[i : i + 2] = struct.pack("!H", rng.choice((*INTERESTING16, n, n - i, n + 1)))
        elif op == 3 and n >= 3:  # an interesting 24-bit field (handshake lengths, offsets)
            i = rng.randrange(n - 2)
            v = rng.choice((0, 1, n, n - i, n - i - 12, n * 2, 0xFFFFFF, 0x800000))
            b[i : i + 3] = (v & 0xFFFFFF).to_bytes(3, "big")
        elif op == 4:  # truncate
            del b[rng.randint(0, n) :]
        elif op == 5:  # insert garbage
            at = rng.randint(0, n)
            b[at:at] = rng.randbytes(rng.randint(1, 32))
        elif op == 6 and n:  # delete a range
            a = rng.randrange(n)
            del b[a : a + rng.randint(1, 32)]
        elif op == 7:  # splice a piece of another datagram
            other = rng.choice(pool())
            a = rng.randint(0, len(other))
            piece = other[a : a + rng.randint(0, 200)]
            at = rng.randint(0, n)
            b[at : at + (rng.randint(0, len(piece)) if rng.random() < 0.5 else 0)] = piece
        elif op == 8 and n:  # duplicate a range in place
            a = rng.randrange(n)
            b[a:a] = b[a : a + rng.randint(1, 64)]
        elif op == 9 and n >= 4:  # an interesting 32-bit value
            i = rng.randrange(n - 3)
            b[i : i + 4] = struct.pack("!I", rng.choice(INTERESTING32))
    return bytes(b)


def random_dtls(rng: random.Random) -> bytes:
    """A random datagram beginning ``16 fe fd``: a record header (epoch, sequence,
    length: plausible or not), often a handshake header, then random bytes."""
    epoch = rng.choice((0, 0, 1, rng.randrange(65536)))
    body_len = rng.choice((0, 1, 12, 13, rng.randrange(300), rng.randrange(70000)))
    body = bytearray()
    if rng.random() < 0.7:
        msg_type = rng.choice((0, 1, 2, 3, 4, 11, 12, 13, 14, 15, 16, 20, rng.randrange(256)))
        length = rng.choice((0, 1, body_len, rng.randrange(1 << 24)))
        frag_off = rng.choice((0, 0, rng.randrange(length + 1), rng.randrange(1 << 24)))
        frag_len = rng.choice((max(0, body_len - 12), length - frag_off, rng.randrange(1 << 24)))
        body += bytes([msg_type]) + (length & 0xFFFFFF).to_bytes(3, "big")
        body += struct.pack("!H", rng.randrange(65536) if rng.random() < 0.2 else rng.randrange(8))
        body += (frag_off & 0xFFFFFF).to_bytes(3, "big")
        body += (frag_len & 0xFFFFFF).to_bytes(3, "big")
    body += rng.randbytes(rng.randrange(400))
    rec_len = rng.choice((len(body), len(body), rng.randrange(65536)))
    head = (b"\x16\xfe\xfd" + struct.pack("!H", epoch) + rng.randbytes(6)
            + struct.pack("!H", rec_len))
    out = head + bytes(body)
    if rng.random() < 0.2:  # a second record after it
        out += random_dtls(rng)[: rng.randrange(200)]
    return out


def mutated_flow(seed: int, index: int, p: float = 0.3) -> tuple[str, list[Datagram]]:
    """Case ``index`` of run ``seed``: a real flow, each datagram mutated with
    probability ``p``, some random ``16 fe fd`` datagrams and some duplicates or
    reorderings mixed in. Returns (the capture it came from, the datagrams)."""
    rng = random.Random(seed * 1_000_003 + index)
    flow = rng.choice(flows())
    out: list[Datagram] = []
    dgs = list(flow.datagrams)
    if len(dgs) > 1 and rng.random() < 0.2:  # reorder two
        i, j = rng.randrange(len(dgs)), rng.randrange(len(dgs))
        dgs[i], dgs[j] = dgs[j], dgs[i]
    for d in dgs:
        data = d.data
        r = rng.random()
        if r < p:
            data = mutate(rng, data)
        out.append(Datagram(d.ts, d.src, d.dst, data, d.frame, d.side))
        if rng.random() < 0.05:  # a retransmission (mutated or not)
            again = mutate(rng, d.data) if rng.random() < 0.5 else d.data
            out.append(Datagram(d.ts + 0.5, d.src, d.dst, again, d.frame, d.side))
        if rng.random() < 0.08:  # a random DTLS-looking datagram, either way
            src, dst = (d.src, d.dst) if rng.random() < 0.5 else (d.dst, d.src)
            out.append(Datagram(d.ts + 0.001, src, dst, random_dtls(rng), d.frame, d.side))
    return flow.capture, out


def mutated_file(seed: int, index: int) -> bytes:
    """Case ``index`` of run ``seed`` of a whole capture file: a real file's bytes
    mutated (headers, block lengths, timestamps and packets alike)."""
    rng = random.Random(seed * 1_000_003 + index)
    path = rng.choice(capture_files())
    data = path.read_bytes()
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        n = len(b)
        op = rng.randrange(5)
        if op == 0 and n >= 4:  # a 32-bit field at a 4-byte boundary (block lengths, ts)
            i = rng.randrange(n // 4) * 4
            v = rng.choice((*INTERESTING32, rng.randrange(1 << 32)))
            b[i : i + 4] = v.to_bytes(4, rng.choice(("little", "big")))
        else:
            b = bytearray(mutate(rng, bytes(b), ops=1))
    return bytes(b)
