"""Captures in and out: pcap/pcapng files to :class:`~proxy.events.Datagram` values, and a
streaming pcapng writer.

Reading walks the file blocks itself rather than through ``dpkt.pcapng.Reader``, which
honours only the first interface (one link type, one timestamp resolution), skips Simple
Packet Blocks (so frame numbers drift from Wireshark's), ignores Decryption Secrets Blocks
and raises mid-file on truncation. Here:

* pcap (micro- and nanosecond magic, both byte orders) and pcapng (every section and
  interface, per-interface link type, ``if_tsresol`` and ``if_tsoffset``; EPB, SPB and
  the obsolete PB);
* link types Ethernet (VLAN/QinQ tags), Linux cooked SLL and SLL2, DLT_NULL / DLT_LOOP,
  raw IP (101, 12, 14, 228, 229);
* IPv4 and IPv6 (extension headers walked) carrying UDP; other traffic is skipped but
  still numbered;
* IP fragments are reassembled when all of them are in the capture (IPv4 and IPv6,
  bounded: at most :data:`MAX_PENDING_FRAGMENTS` datagrams in progress); the datagram
  gets the frame number and time of the fragment that completed it, as Wireshark shows it;
* ``frame`` is the 1-based number of the packet in the file, counting every packet (UDP
  or not), so it equals tshark's ``frame.number``.

Writing (:class:`PcapngWriter`) uses dpkt's pcapng blocks and IP/UDP packers (which fill
in the checksums).
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import ipaddress
import os
import struct
import sys
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Final, Protocol

from proxy.capture.outfile import open_output
from proxy.events import Address, Datagram, iso_time

if TYPE_CHECKING:
    import dpkt

LINKTYPE_NULL: Final = 0
LINKTYPE_ETHERNET: Final = 1
LINKTYPE_RAW: Final = 101
LINKTYPE_LOOP: Final = 108
LINKTYPE_LINUX_SLL: Final = 113
LINKTYPE_IPV4: Final = 228
LINKTYPE_IPV6: Final = 229
LINKTYPE_LINUX_SLL2: Final = 276
_RAW_TYPES: Final = frozenset({LINKTYPE_RAW, 12, 14, LINKTYPE_IPV4, LINKTYPE_IPV6})
SUPPORTED_LINKTYPES: Final = frozenset(
    {LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_LOOP, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2}
    | _RAW_TYPES
)

MAX_PENDING_FRAGMENTS: Final = 64
"""IP datagrams being reassembled at once; the oldest is dropped beyond this."""
MAX_WARNINGS: Final = 50
"""Distinct warning lines kept on a :class:`Capture` (a count covers the rest)."""

_PCAP_MAGIC: Final = {
    b"\xd4\xc3\xb2\xa1": ("<", 1_000_000, 16),
    b"\xa1\xb2\xc3\xd4": (">", 1_000_000, 16),
    b"\x4d\x3c\xb2\xa1": ("<", 1_000_000_000, 16),
    b"\xa1\xb2\x3c\x4d": (">", 1_000_000_000, 16),
    b"\x34\xcd\xb2\xa1": ("<", 1_000_000, 24),  # Kuznetzov's modified pcap
    b"\xa1\xb2\xcd\x34": (">", 1_000_000, 24),
}
_SHB: Final = 0x0A0D0D0A
_IDB: Final = 1
_PB: Final = 2
_SPB: Final = 3
_EPB: Final = 6
_DSB: Final = 10
_TLS_KEY_LOG: Final = 0x544C534B  # "TLSK"
_VLAN_TYPES: Final = frozenset({0x8100, 0x88A8, 0x9100})
_ETH_IPV4: Final = 0x0800
_ETH_IPV6: Final = 0x86DD
_UDP: Final = 17
_IPV6_EXT: Final = frozenset({0, 43, 60})  # hop-by-hop, routing, destination options


class CaptureError(Exception):
    """The file cannot be read as a capture; ``reason`` is one line for the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Interface:
    linktype: int
    per_second: int = 1_000_000
    power_of_two: bool = False
    offset: int = 0
    snaplen: int = 0

    def time(self, units: int) -> float:
        if self.power_of_two:
            return self.offset + units / self.per_second
        sec, frac = divmod(units, self.per_second)
        return self.offset + sec + frac / self.per_second


@dataclass(slots=True)
class _Fragments:
    parts: dict[int, bytes] = field(default_factory=dict)
    total: int | None = None


class _Source(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def close(self) -> None: ...


class _Gunzip:
    """A gzip-compressed capture (``.pcap.gz``, ``.pcapng.gz``: Wireshark reads them as
    they are), decompressed as it is read. A damaged or cut-short stream reads as the end
    of the file, so the capture reports a truncation; ``damage`` says what was wrong."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._gz = gzip.GzipFile(fileobj=raw, mode="rb")
        self.damage: str | None = None

    def read(self, n: int = -1, /) -> bytes:
        if self.damage is not None:
            return b""
        try:
            return self._gz.read(n)
        except (EOFError, OSError, zlib.error) as exc:
            self.damage = str(exc) or type(exc).__name__
            return b""

    def seek(self, offset: int, whence: int = 0, /) -> int:
        return self._gz.seek(offset, whence)

    def close(self) -> None:
        self._gz.close()
        self._raw.close()


def _fail_open(path: str | os.PathLike[str]) -> tuple[_Source, IO[bytes], int]:
    """The file opened for reading, the file underneath (compressed) and its size. A pipe
    (``tshark -w - | dtlsproxy analyze /dev/stdin``) is read whole into memory, as pcapng
    reading seeks; a gzip-compressed file is decompressed as it is read."""
    try:
        f: IO[bytes] = open(path, "rb")  # noqa: SIM115 -- the Capture closes it
        if not f.seekable():
            with f:
                f = io.BytesIO(f.read())
        size = f.seek(0, os.SEEK_END)
        f.seek(0)
        if f.read(2) == b"\x1f\x8b":
            f.seek(0)
            return _Gunzip(f), f, size
        f.seek(0)
        return f, f, size
    except OSError as exc:
        raise CaptureError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from exc


class Capture:
    """An open capture: iterate it once for its UDP :class:`Datagram` values.

    After (or during) iteration: ``frames`` counts every packet read, ``truncated`` says
    the file ended inside a block or record, ``warnings`` holds one line per problem
    (truncation, unsupported interfaces, snaplen-cut payloads, incomplete fragments), and
    ``on_warning`` (if given) is called with each line as it happens.
    """

    def __init__(
        self, path: str | os.PathLike[str], on_warning: Callable[[str], None] | None = None
    ) -> None:
        self.path = os.fspath(path)
        self.on_warning = on_warning
        self.frames = 0
        self.truncated = False
        self.warnings: list[str] = []
        self.warnings_dropped = 0
        self.skipped: dict[str, int] = {}
        """Packets not yielded, by reason (``not UDP``, ``not IP``, ``fragment``...)."""
        self.format = ""
        """``pcap`` or ``pcapng``."""
        self._f, self._file, self._size = _fail_open(path)
        head = self._f.read(4)
        if not head:
            self._f.close()
            damage = getattr(self._f, "damage", None)
            if damage:
                raise CaptureError(f"{self.path}: gzip-compressed, but damaged: {damage}")
            raise CaptureError(f"{self.path}: empty file, not a capture")
        if head in _PCAP_MAGIC:
            self.format = "pcap"
            self._pcap_head = self._read_pcap_header(head)
        elif head == struct.pack("<I", _SHB):
            self.format = "pcapng"
        else:
            self._f.close()
            raise CaptureError(f"{self.path}: not a pcap or pcapng file (starts with {head.hex()})")
        self._fragments: OrderedDict[tuple[object, ...], _Fragments] = OrderedDict()
        self._snapped = 0
        self._yielded = 0
        self._unsupported: set[int] = set()
        self._iterated = False

    # ------------------------------------------------------------- public

    def __iter__(self) -> Iterator[Datagram]:
        if self._iterated:
            raise RuntimeError("a Capture can be iterated once")
        self._iterated = True
        try:
            packets = self._pcap_packets() if self.format == "pcap" else self._pcapng_packets()
            for frame, ts, iface, data, comment in packets:
                dg = self._decode(frame, ts, iface, data)
                if dg is not None:
                    self._yielded += 1
                    yield dataclasses.replace(dg, comment=comment) if comment else dg
            self._finish()
        finally:
            self.close()

    def close(self) -> None:
        """Close the file (iteration does it at the end)."""
        self._f.close()

    def fraction_read(self) -> float | None:
        """How much of the file has been read so far, 0 to 1 (of a compressed file: of
        its compressed bytes); None when that cannot be told."""
        try:
            return self._file.tell() / self._size if self._size else None
        except (OSError, ValueError):  # closed
            return None

    def __enter__(self) -> Capture:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------ helpers

    def _warn(self, line: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(line)
        else:
            self.warnings_dropped += 1
        if self.on_warning is not None:
            self.on_warning(line)

    def _skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def _truncated(self, where: str) -> None:
        self.truncated = True
        damage = getattr(self._f, "damage", None)
        how = f"; the gzip stream is damaged: {damage}" if damage else ""
        self._warn(f"truncated capture: {where} (read {self.frames} frames{how})")

    def _finish(self) -> None:
        if self._snapped:
            self._warn(f"{self._snapped} UDP payloads cut short by the capture's snaplen")
        if self._fragments:
            self._warn(f"{len(self._fragments)} fragmented IP datagrams incomplete")
        if self._unsupported and self._yielded == 0:
            types = ", ".join(str(t) for t in sorted(self._unsupported))
            raise CaptureError(f"{self.path}: unsupported link type {types}")

    def _read_exact(self, n: int) -> bytes | None:
        """``n`` bytes, b"" at a clean end of file, None when the file ends inside them."""
        buf = self._f.read(n)
        if len(buf) == n:
            return buf
        return b"" if not buf else None

    # --------------------------------------------------------------- pcap

    def _read_pcap_header(self, magic: bytes) -> tuple[str, _Interface, int]:
        order, per_second, rec_len = _PCAP_MAGIC[magic]
        rest = self._f.read(20)
        if len(rest) < 20:
            self._f.close()
            raise CaptureError(f"{self.path}: truncated pcap file header")
        major, _minor, _zone, _sigfigs, snaplen, network = struct.unpack(order + "HHiIII", rest)
        if major != 2:
            self._f.close()
            raise CaptureError(f"{self.path}: unknown pcap version {major}")
        linktype = network & 0xFFFF
        if linktype not in SUPPORTED_LINKTYPES:
            self._f.close()
            raise CaptureError(f"{self.path}: unsupported link type {linktype}")
        return order, _Interface(linktype, per_second, snaplen=snaplen), rec_len

    def _pcap_packets(self) -> Iterator[tuple[int, float, _Interface, bytes, str]]:
        order, iface, rec_len = self._pcap_head
        fmt = order + "IIII"
        while True:
            head = self._read_exact(rec_len)
            if head == b"":
                return
            if head is None:
                self._truncated(f"record header of frame {self.frames + 1} cut short")
                return
            sec, frac, caplen, _origlen = struct.unpack(fmt, head[:16])
            if caplen > max(iface.snaplen, 262144) * 4:
                self._truncated(f"frame {self.frames + 1} claims {caplen} bytes (corrupt)")
                return
            data = self._read_exact(caplen)
            if data is None or (data == b"" and caplen):
                self._truncated(f"frame {self.frames + 1} cut short")
                return
            self.frames += 1
            yield self.frames, sec + frac / iface.per_second, iface, data, ""

    # ------------------------------------------------------------- pcapng

    def _blocks(self) -> Iterator[tuple[int, bytes, str]]:
        """(type, body, byte order) for each block; body excludes type/length/trailer."""
        self._f.seek(0)
        order = "<"
        while True:
            head = self._read_exact(8)
            if head == b"":
                return
            if head is None:
                self._truncated("block header cut short")
                return
            if head[:4] == b"\x0a\x0d\x0d\x0a":
                bom = self._f.read(4)
                if bom == b"\x4d\x3c\x2b\x1a":
                    order = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    order = ">"
                else:
                    self._truncated("section header with a bad byte-order magic")
                    return
                self._f.seek(-4, os.SEEK_CUR)
            btype, blen = struct.unpack(order + "II", head)
            if blen < 12 or blen % 4:
                self._truncated(f"block of type {btype} has a bad length {blen} (corrupt)")
                return
            rest = self._read_exact(blen - 8)
            if not rest:
                self._truncated(f"block of type {btype} ({blen} bytes) cut short")
                return
            yield btype, rest[:-4], order

    def _secrets_blocks(self) -> Iterator[tuple[bytes, str]]:
        """(body, byte order) of each Decryption Secrets Block; other blocks are skipped
        by their length, unread. Ends quietly where the file does not parse."""
        self._f.seek(0)
        order = "<"
        while True:
            head = self._f.read(12)
            if len(head) < 12:
                return
            if head[:4] == b"\x0a\x0d\x0d\x0a":
                if head[8:12] == b"\x1a\x2b\x3c\x4d":
                    order = ">"
                elif head[8:12] == b"\x4d\x3c\x2b\x1a":
                    order = "<"
                else:
                    return
            btype, blen = struct.unpack(order + "II", head[:8])
            if blen < 12 or blen % 4:
                return
            if btype == _DSB and blen >= 20:
                rest = self._f.read(blen - 12)
                if len(rest) < blen - 12:
                    return
                yield (head[8:] + rest)[:-4], order
            else:
                try:
                    self._f.seek(blen - 12, os.SEEK_CUR)
                except (EOFError, OSError, zlib.error):  # a damaged gzip stream
                    return

    def _pcapng_packets(self) -> Iterator[tuple[int, float, _Interface, bytes, str]]:
        interfaces: list[_Interface] = []
        last_ts = 0.0
        for btype, body, order in self._blocks():
            try:
                if btype == _SHB:
                    major = struct.unpack_from(order + "H", body, 4)[0]
                    if major != 1:
                        raise CaptureError(f"{self.path}: unknown pcapng version {major}")
                    interfaces = []
                elif btype == _IDB:
                    iface = _parse_idb(body, order)
                    if iface.linktype not in SUPPORTED_LINKTYPES:
                        self._unsupported.add(iface.linktype)
                        self._warn(
                            f"interface {len(interfaces)}: unsupported link type "
                            f"{iface.linktype}; its packets are skipped"
                        )
                    interfaces.append(iface)
                elif btype in (_EPB, _PB, _SPB):
                    self.frames += 1
                    if btype == _SPB:
                        (origlen,) = struct.unpack_from(order + "I", body, 0)
                        index, units = 0, None
                        caplen = min(origlen, len(body) - 4)
                        if interfaces and interfaces[0].snaplen:
                            caplen = min(caplen, interfaces[0].snaplen)
                        data = body[4 : 4 + caplen]
                    else:
                        if btype == _EPB:
                            index, high, low, caplen, _ = struct.unpack_from(order + "5I", body)
                        else:
                            index, _drops, high, low, caplen, _ = struct.unpack_from(
                                order + "HH4I", body
                            )
                        units = (high << 32) | low
                        data = body[20 : 20 + caplen]
                        if len(data) < caplen:
                            raise struct.error("packet data beyond its block")
                    if index >= len(interfaces):
                        self._skip("no interface")
                        continue
                    iface = interfaces[index]
                    if units is not None:
                        last_ts = iface.time(units)
                    comment = ""
                    if btype == _EPB:
                        comment = _epb_comment(body, 20 + caplen + (-caplen % 4), order)
                    yield self.frames, last_ts, iface, data, comment
            except struct.error:
                self._truncated(f"block of type {btype} is malformed")
                return

    # ------------------------------------------------------------ decoding

    def _decode(self, frame: int, ts: float, iface: _Interface, data: bytes) -> Datagram | None:
        lt = iface.linktype
        try:
            if lt == LINKTYPE_ETHERNET:
                etype, off = _ethertype(data, 12)
                return self._ip(frame, ts, etype, data[off:])
            if lt == LINKTYPE_LINUX_SLL:
                etype, off = _ethertype(data, 14)
                return self._ip(frame, ts, etype, data[off:])
            if lt == LINKTYPE_LINUX_SLL2:
                (etype,) = struct.unpack_from("!H", data, 0)  # then 18 more header bytes
                return self._ip(frame, ts, etype, data[20:])
            if lt in (LINKTYPE_NULL, LINKTYPE_LOOP):
                return self._ip(frame, ts, None, data[4:])
            if lt in _RAW_TYPES:
                return self._ip(frame, ts, None, data)
        except (struct.error, IndexError, ValueError):
            self._skip("malformed")
            return None
        self._skip("unsupported link type")
        return None

    def _ip(self, frame: int, ts: float, etype: int | None, pkt: bytes) -> Datagram | None:
        version = pkt[0] >> 4 if pkt else 0
        if etype not in (None, _ETH_IPV4, _ETH_IPV6) or version not in (4, 6):
            self._skip("not IP")
            return None
        if version == 4:
            ihl = (pkt[0] & 0x0F) * 4
            total, ident, flags_off, proto = struct.unpack_from("!2xHHHxB", pkt)
            if total == 0:  # TCP segmentation offload: the length is not filled in
                total = len(pkt)
            src, dst = pkt[12:16], pkt[16:20]
            payload = pkt[ihl:total] if total >= ihl else b""
            more, offset = bool(flags_off & 0x2000), (flags_off & 0x1FFF) * 8
            claimed = total - ihl
        else:
            (plen, nh) = struct.unpack_from("!4xHB", pkt)
            src, dst = pkt[8:24], pkt[24:40]
            off = 40
            more, offset, ident = False, 0, -1
            fragmented = False
            while nh in _IPV6_EXT or nh == 44 or nh == 51:
                if nh == 44:
                    nxt, fo, ident = struct.unpack_from("!BxHI", pkt, off)
                    more, offset, fragmented = bool(fo & 1), fo & 0xFFF8, True
                    nh, off = nxt, off + 8
                    break
                nxt, hlen = pkt[off], pkt[off + 1]
                off += (hlen + 2) * 4 if nh == 51 else (hlen + 1) * 8
                nh = nxt
            proto = nh
            payload = pkt[off : 40 + plen]
            claimed = 40 + plen - off
            if not fragmented:
                ident = -1
        if proto != _UDP:
            self._skip("not UDP")
            return None
        if more or offset:
            key = (version, src, dst, ident, proto)
            if len(payload) < claimed:
                self._snapped += 1
                self._skip("fragment cut short")
                return None
            whole = self._reassemble(key, offset, more, payload)
            if whole is None:
                self._skip("fragment")
                return None
            payload, claimed = whole, len(whole)
        return self._udp(frame, ts, src, dst, payload, claimed)

    def _reassemble(
        self, key: tuple[object, ...], offset: int, more: bool, part: bytes
    ) -> bytes | None:
        entry = self._fragments.get(key)
        if entry is None:
            if len(self._fragments) >= MAX_PENDING_FRAGMENTS:
                self._fragments.popitem(last=False)
                self._warn("too many fragmented datagrams in progress; dropped the oldest")
            entry = self._fragments[key] = _Fragments()
        entry.parts[offset] = part
        if not more:
            entry.total = offset + len(part)
        if entry.total is None:
            return None
        out = bytearray()
        for off in sorted(entry.parts):
            if off > len(out):
                return None  # a hole
            chunk = entry.parts[off]
            out[off : off + len(chunk)] = chunk
        if len(out) < entry.total:
            return None
        del self._fragments[key]
        return bytes(out[: entry.total])

    def _udp(
        self, frame: int, ts: float, src: bytes, dst: bytes, seg: bytes, claimed: int
    ) -> Datagram | None:
        if len(seg) < 8:
            self._skip("malformed")
            return None
        sport, dport, ulen = struct.unpack_from("!HHH", seg)
        if ulen < 8:
            ulen = claimed  # 0 = IPv6 jumbogram; anything else is bogus: trust IP
        payload = seg[8:ulen]
        if ulen > len(seg):
            self._snapped += 1
        return Datagram(
            ts=ts,
            src=(_host(src), sport),
            dst=(_host(dst), dport),
            data=bytes(payload),
            frame=frame,
        )


_HOSTS: dict[bytes, str] = {}
_MAX_HOSTS: Final = 4096


def _host(packed: bytes) -> str:
    """The text form of a 4- or 16-byte address (cached: a capture has few hosts)."""
    host = _HOSTS.get(packed)
    if host is None:
        if len(_HOSTS) >= _MAX_HOSTS:
            _HOSTS.clear()
        host = _HOSTS[packed] = str(ipaddress.ip_address(packed))
    return host


def _ethertype(data: bytes, off: int) -> tuple[int, int]:
    """Ethertype at ``off``, skipping VLAN tags; returns (type, offset of the payload)."""
    (etype,) = struct.unpack_from("!H", data, off)
    off += 2
    while etype in _VLAN_TYPES:
        (etype,) = struct.unpack_from("!H", data, off + 2)
        off += 4
    return etype, off


def _epb_comment(body: bytes, pos: int, order: str) -> str:
    """The ``opt_comment`` of an Enhanced Packet Block whose options start at ``pos``
    (``""`` when it has none)."""
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        if code == 0:
            break
        if code == 1:
            return body[pos + 4 : pos + 4 + length].decode("utf-8", errors="replace")
        pos += 4 + length + (-length % 4)
    return ""


def _parse_idb(body: bytes, order: str) -> _Interface:
    linktype, _reserved, snaplen = struct.unpack_from(order + "HHI", body)
    iface = _Interface(linktype, snaplen=snaplen)
    pos = 8
    while pos + 4 <= len(body):
        code, length = struct.unpack_from(order + "HH", body, pos)
        value = body[pos + 4 : pos + 4 + length]
        pos += 4 + length + (-length % 4)
        if code == 0:
            break
        if code == 9 and length >= 1:  # if_tsresol
            exp = value[0] & 0x7F
            iface.power_of_two = bool(value[0] & 0x80)
            iface.per_second = (2 if iface.power_of_two else 10) ** exp
        elif code == 14 and length == 8:  # if_tsoffset
            (iface.offset,) = struct.unpack(order + "q", value)
    return iface


def read_capture(
    path: str | os.PathLike[str], on_warning: Callable[[str], None] | None = None
) -> Capture:
    """Open a pcap/pcapng file; iterate the result for its UDP datagrams.

    Raises :class:`CaptureError` at once when the file cannot be opened, is not a
    capture or has an unsupported link type (pcap); while iterating, when no interface of
    a pcapng has a supported link type. A truncated file yields what was read and then
    sets ``truncated`` and a warning (``on_warning`` is called with it too).
    """
    return Capture(path, on_warning)


def read_capture_secrets(path: str | os.PathLike[str]) -> list[str]:
    """TLS key log lines from the pcapng Decryption Secrets Blocks (empty for pcap), as
    tshark uses them: every block of the file, wherever it stands. Only the block headers
    are read, the other blocks are skipped (a quick pass, even over a large capture).
    Raises :class:`CaptureError` as :func:`read_capture` does.

    The lines are secrets: never log them.
    """
    cap = Capture(path)
    lines: list[str] = []
    if cap.format != "pcapng":
        cap.close()
        return lines
    with cap:
        for body, order in cap._secrets_blocks():
            stype, slen = struct.unpack_from(order + "II", body)
            if stype == _TLS_KEY_LOG:
                text = body[8 : 8 + slen].decode("utf-8", errors="replace")
                lines.extend(ln.strip() for ln in text.splitlines() if ln.strip())
    return lines


# ------------------------------------------------------------------- writing

_MAC_A: Final = b"\x02\x00\x00\x00\x00\x01"
_MAC_B: Final = b"\x02\x00\x00\x00\x00\x02"


_MAX_PCAPNG_TS: Final = (2**64 - 1024) / 1e6
"""The latest time a pcapng EPB holds in microseconds (64 bits; a float's margin off)."""


class PcapngWriter:
    """Streams :class:`Datagram` values into a pcapng file, one block per datagram.

    ``linktype`` is ``"ethernet"`` (synthesized MACs) or ``"raw"`` (LINKTYPE_RAW). IPv4 and
    IPv6 headers are synthesized with correct IP and UDP checksums; an IPv4 endpoint paired
    with an IPv6 one is written as an IPv4-mapped IPv6 address; a host that is not an IP
    address is written as 0.0.0.0. Timestamps are microseconds. ``comment`` becomes the
    packet's ``opt_comment`` (Wireshark: ``frame.comment``). Nothing is buffered beyond
    the file object's buffer; call :meth:`flush` to push it to disk. The file is opened by
    :mod:`proxy.capture.outfile` (0600, no symlink, an existing file only with ``force``),
    unless ``file`` is given: an open file (``path`` then only names it).
    """

    def __init__(self, path: str | os.PathLike[str], linktype: str = "ethernet", *,
                 force: bool = False, file: IO[bytes] | None = None) -> None:
        if linktype not in ("ethernet", "raw"):
            raise ValueError(f"linktype must be 'ethernet' or 'raw', not {linktype!r}")
        self.path = Path(path)
        self.linktype = linktype
        self.count = 0
        import dpkt  # only writers need it (keeps `dtlsproxy analyze` start-up short)

        self._f: IO[bytes] = (open_output(self.path, binary=True, force=force) if file is None
                              else file)
        dlt = LINKTYPE_ETHERNET if linktype == "ethernet" else LINKTYPE_RAW
        self._w = dpkt.pcapng.Writer(self._f, snaplen=65535, linktype=dlt)

    def write(self, dg: Datagram, comment: str | None = None) -> None:
        """Append one datagram (``dg.ts``, ``dg.src`` -> ``dg.dst``, ``dg.data``)."""
        import dpkt
        frame = self._frame(dg.src, dg.dst, dg.data)
        epb_cls = dpkt.pcapng.EnhancedPacketBlockLE
        opt_cls = dpkt.pcapng.PcapngOptionLE
        if sys.byteorder != "little":
            epb_cls = dpkt.pcapng.EnhancedPacketBlock
            opt_cls = dpkt.pcapng.PcapngOption
        ts = dg.ts
        if not 0 <= ts <= _MAX_PCAPNG_TS:  # 64-bit microseconds: write the nearest, say so
            ts = min(max(ts, 0.0), _MAX_PCAPNG_TS) if ts == ts else 0.0
            note = f"captured at {iso_time(dg.ts)}, outside the pcapng timestamp range"
            comment = f"{comment}; {note}" if comment else note
        opts = []
        if comment:
            opts = [opt_cls(code=dpkt.pcapng.PCAPNG_OPT_COMMENT, text=comment), opt_cls()]
        epb = epb_cls(pkt_data=frame, opts=opts)
        self._w.writepkt(epb, ts=ts)
        self.count += 1

    def write_secrets(self, lines: list[str]) -> None:
        """Append a Decryption Secrets Block holding TLS key log ``lines`` (NSS format:
        ``CLIENT_RANDOM``, ``*_TRAFFIC_SECRET*``): Wireshark decrypts the packets that
        follow it with them (pcapng §4.7). The file then holds secrets."""
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode("ascii")
        pad = (4 - len(data) % 4) % 4
        order = "<" if sys.byteorder == "little" else ">"
        total = 12 + 8 + len(data) + pad
        self._f.write(struct.pack(order + "III", _DSB, total, _TLS_KEY_LOG)
                      + struct.pack(order + "I", len(data)) + data + bytes(pad)
                      + struct.pack(order + "I", total))

    def flush(self) -> None:
        """Push buffered blocks to the file."""
        self._f.flush()

    def close(self) -> None:
        """Flush and close."""
        if not self._f.closed:
            self._f.flush()
            self._f.close()

    def __enter__(self) -> PcapngWriter:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _frame(self, src: Address, dst: Address, data: bytes) -> bytes:
        import dpkt
        s, d = _ip_of(src[0]), _ip_of(dst[0])
        if s.version != d.version:
            s, d = _mapped(s), _mapped(d)
        udp = dpkt.udp.UDP(sport=src[1], dport=dst[1], data=data, ulen=8 + len(data))
        ip: dpkt.Packet
        if s.version == 4:
            ip = dpkt.ip.IP(src=s.packed, dst=d.packed, p=_UDP, ttl=64, data=udp)
            ip.len = 20 + len(udp)
            etype = _ETH_IPV4
        else:
            ip = dpkt.ip6.IP6(src=s.packed, dst=d.packed, nxt=_UDP, hlim=64, data=udp)
            ip.plen = len(udp)
            udp.sum = _udp6_checksum(s.packed, d.packed, bytes(udp))
            etype = _ETH_IPV6
        raw = bytes(ip)
        if self.linktype == "raw":
            return raw
        return _MAC_B + _MAC_A + struct.pack("!H", etype) + raw


def _ip_of(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return ipaddress.IPv4Address(0)


def _mapped(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> ipaddress.IPv6Address:
    if isinstance(a, ipaddress.IPv6Address):
        return a
    return ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + a.packed)


def _udp6_checksum(src: bytes, dst: bytes, udp: bytes) -> int:
    import dpkt
    udp = udp[:6] + b"\0\0" + udp[8:]
    pseudo = src + dst + struct.pack("!IxxxB", len(udp), _UDP)
    s = dpkt.in_cksum_add(0, pseudo)
    s = dpkt.in_cksum_add(s, udp)
    csum: int = dpkt.in_cksum_done(s)
    return csum or 0xFFFF


def move_secrets_first(path: str | os.PathLike[str]) -> None:
    """Rewrite a pcapng file with its Decryption Secrets Blocks right after the first
    section and interface blocks: tshark reads a secret only before the packets it
    decrypts. Blocks are copied byte for byte; the file keeps its mode (replaced whole,
    never through a symlink)."""
    src = Path(path)
    with src.open("rb") as f:
        data = f.read()
    if data[:4] != b"\x0a\x0d\x0d\x0a" or len(data) < 12:
        return
    order = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    head: list[bytes] = []
    secrets: list[bytes] = []
    rest: list[bytes] = []
    pos = 0
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from(order + "II", data, pos)
        if blen < 12 or pos + blen > len(data):
            rest.append(data[pos:])
            break
        block = data[pos:pos + blen]
        if btype == _DSB:
            secrets.append(block)
        elif not rest and btype in (0x0A0D0D0A, 1):
            head.append(block)
        else:
            rest.append(block)
        pos += blen
    tmp = src.with_name(src.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW,
                 os.stat(src).st_mode & 0o777)
    with os.fdopen(fd, "wb") as out:
        out.write(b"".join(head + secrets + rest))
    os.replace(tmp, src)
