"""A busy gateway's capture, of any size, for ``bench/decode.py`` (issue 20).

500 sessions between browsers and one gateway (Janus-like: one address, a port per
peer connection), each a real OpenSSL DTLS 1.2 handshake of the benchmark's
1000-handshake capture (fresh ECDSA certificates per side, ``use_srtp``, cookie,
fragmented flight 4) moved to the session's addresses and time, without its
close_notify, then SRTP both ways until the file has the size asked for: every session
an audio stream (50 packets/s, 182 bytes), every other one also video (30 packets/s,
800-1200 bytes), an SRTCP sender report per second per direction. About 50 sessions
overlap at any time; a 1 GiB capture holds about 6 hours of calls, 2.7 million
datagrams. A few sessions fail, in two real ways:

* ``alert``: the gateway answers the client's last flight with a fatal
  ``bad_certificate`` alert instead of its Finished (and no media flows);
* ``lost``: the gateway's last flight never arrives: the client retransmits its flight
  5 three times (1, 2, 4 s later) and gives up (no media).

The SRTP payloads are random bytes (opaque to both tools, as real SRTP is without
keys). The file is written block by block with :mod:`struct` rather than
:class:`proxy.capture.pcap.PcapngWriter` (dpkt builds each frame as objects: about
15 us a datagram, minutes for a gigabyte); the blocks are the same: Ethernet, IPv4,
UDP, one pcapng Enhanced Packet Block each.
"""

from __future__ import annotations

import heapq
import os
import struct
from collections.abc import Iterator
from pathlib import Path

from proxy.events import Datagram

SESSIONS = 500
GATEWAY_HOST = "192.0.2.10"
AUDIO_PPS = 50
VIDEO_PPS = 30
OVERLAP = 50
"""Sessions in progress at the same time (about)."""
FAILING = {37: "alert", 71: "lost"}
"""Session index modulo 100 -> how that session fails (10 of 500)."""

_ETH = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
_EPB_OVERHEAD = 32 + 14 + 20 + 8
_POOL = os.urandom(1 << 16)

Packet = tuple[float, int, tuple[str, int], tuple[str, int], bytes]
"""(time, tie-break, src, dst, UDP payload)."""


def _ip(host: str) -> bytes:
    return bytes(int(x) for x in host.split("."))


class RawPcapng:
    """Ethernet/IPv4/UDP frames as pcapng Enhanced Packet Blocks (little-endian)."""

    def __init__(self, path: Path) -> None:
        self._f = path.open("wb", buffering=1 << 20)
        shb_body = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        self._block(0x0A0D0D0A, shb_body)
        self._block(1, struct.pack("<HHI", 1, 0, 65535))  # Ethernet, snaplen
        self.count = 0
        self.bytes = 0
        self._ids = 0

    def _block(self, btype: int, body: bytes) -> None:
        total = 12 + len(body)
        self._f.write(struct.pack("<II", btype, total) + body + struct.pack("<I", total))

    def write(self, ts: float, src: tuple[bytes, int], dst: tuple[bytes, int],
              data: bytes) -> None:
        """One datagram; ``src``/``dst`` as (packed IPv4, port)."""
        self._ids = (self._ids + 1) & 0xFFFF
        udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(data), 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 28 + len(data), self._ids, 0x4000, 64, 17,
                         0, src[0], dst[0])
        frame = _ETH + ip + udp + data
        n = len(frame)
        micros = int(ts * 1e6)
        pad = b"\0" * (-n % 4)
        total = 32 + n + len(pad)
        self._f.write(struct.pack("<IIIIIII", 6, total, 0, micros >> 32, micros & 0xFFFFFFFF,
                                  n, n) + frame + pad + struct.pack("<I", total))
        self.count += 1
        self.bytes += total

    def close(self) -> None:
        self._f.close()


def _handshakes(source: Path, count: int) -> list[list[Datagram]]:
    """The first ``count`` handshakes of the benchmark capture (client port 10000+i),
    each without its close_notify alerts."""
    from proxy.capture.pcap import read_capture

    by_port: dict[int, list[Datagram]] = {}
    for d in read_capture(source):
        port = d.src[1] if d.src[1] != 4433 else d.dst[1]
        if port - 10000 < count and d.data[:1] != b"\x15":
            by_port.setdefault(port, []).append(d)
    if len(by_port) < count:
        raise SystemExit(f"bench: {source} has {len(by_port)} handshakes, {count} needed")
    return [by_port[p] for p in sorted(by_port)]


def _alert(epoch_seq: int) -> bytes:
    """A plaintext fatal bad_certificate alert record (epoch 0)."""
    return b"\x15\xfe\xfd" + b"\0\0" + epoch_seq.to_bytes(6, "big") + b"\x00\x02\x02\x2a"


def _session(i: int, hs: list[Datagram], start: float, duration: float
             ) -> Iterator[Packet]:
    """Session ``i``: its handshake at ``start``, then ``duration`` seconds of SRTP."""
    client = (f"198.51.{100 + i // 250}.{1 + i % 250}", 50000 + i)
    gateway = (GATEWAY_HOST, 20000 + i)
    t0 = hs[0].ts
    fail = FAILING.get(i % 100)
    last_client = max(k for k, d in enumerate(hs) if d.dst[1] == 4433)
    tie = 0
    end = start
    for k, d in enumerate(hs):
        to_gateway = d.dst[1] == 4433
        ts = start + (d.ts - t0)
        if fail is not None and k > last_client and not to_gateway:
            break  # the gateway's last flight: replaced by an alert, or lost
        tie += 1
        yield (ts, tie, client if to_gateway else gateway,
               gateway if to_gateway else client, d.data)
        end = ts
    if fail == "alert":
        yield (end + 0.002, tie + 1, gateway, client, _alert(20))
        return
    if fail == "lost":
        flight5 = [d for k, d in enumerate(hs) if d.dst[1] == 4433 and k <= last_client][-1:]
        for delay in (1.0, 3.0, 7.0):
            for d in flight5:
                tie += 1
                yield (end + delay, tie, client, gateway, d.data)
        return
    video = i % 2 == 0
    yield from _media(i, client, gateway, end + 0.05, duration, video)


def _media(i: int, client: tuple[str, int], gateway: tuple[str, int], start: float,
           duration: float, video: bool) -> Iterator[Packet]:
    """SRTP/SRTCP both ways, in time order."""
    step = 1.0 / AUDIO_PPS
    steps = int(duration * AUDIO_PPS)
    seq = [i * 7 % 60000, i * 13 % 60000, i * 17 % 60000, i * 19 % 60000]
    ssrc = [0x10000000 + 4 * i + k for k in range(4)]
    tie = 1000
    pool = _POOL
    for n in range(steps):
        t = start + n * step
        now: list[Packet] = []
        for side, (src, dst) in enumerate(((client, gateway), (gateway, client))):
            off = (n * 131 + side * 977 + i * 31) % 60000
            seq[side] = (seq[side] + 1) & 0xFFFF
            hdr = struct.pack("!BBHII", 0x80, 111, seq[side], (n * 960) & 0xFFFFFFFF, ssrc[side])
            now.append((t + side * 0.0003, 0, src, dst, hdr + pool[off:off + 170]))
            if video and n % 5 < 3:  # 30 of 50 steps
                v = 2 + side
                seq[v] = (seq[v] + 1) & 0xFFFF
                size = 800 + (n * 37 + i) % 400
                hdr = struct.pack("!BBHII", 0x90 if n % 9 == 0 else 0x80, 96, seq[v],
                                  (n * 1800) & 0xFFFFFFFF, ssrc[v])
                now.append((t + 0.001 + side * 0.0003, 0, src, dst, hdr + pool[off:off + size]))
            if n % AUDIO_PPS == side:  # an SRTCP sender report a second per direction
                body = struct.pack("!BBHI", 0x80, 200, 6, ssrc[side]) + pool[off:off + 24]
                now.append((t + 0.0005, 0, src, dst, body + b"\x80\x00\x00\x01" + pool[:10]))
        now.sort(key=lambda p: p[0])
        for p in now:
            tie += 1
            yield p[0], tie, p[2], p[3], p[4]


def session_seconds(target_bytes: int) -> float:
    """Seconds of media per session that make a capture of about ``target_bytes``."""
    audio = 2 * AUDIO_PPS * (12 + 170 + _EPB_OVERHEAD)
    video = 2 * VIDEO_PPS * (12 + 1000 + _EPB_OVERHEAD) / 2  # every other session
    rtcp = 2 * (8 + 24 + 14 + _EPB_OVERHEAD)
    per_second = audio + video + rtcp
    return max(1.0, target_bytes / SESSIONS / per_second)


def build_gateway(path: Path, target_bytes: int, source: Path) -> tuple[int, int]:
    """Write the capture (see the module doc); returns (datagrams, bytes)."""
    hss = _handshakes(source, SESSIONS)
    duration = session_seconds(target_bytes)
    gap = duration / OVERLAP
    base = hss[0][0].ts  # when the certificates were made: valid then
    streams = [_session(i, hs, base + i * gap, duration) for i, hs in enumerate(hss)]
    w = RawPcapng(path)
    packed: dict[str, bytes] = {}
    try:
        for ts, _, src, dst, data in heapq.merge(*streams, key=lambda p: (p[0], p[1])):
            s = packed.get(src[0]) or packed.setdefault(src[0], _ip(src[0]))
            d = packed.get(dst[0]) or packed.setdefault(dst[0], _ip(dst[0]))
            w.write(ts, (s, src[1]), (d, dst[1]), data)
    finally:
        w.close()
    return w.count, w.bytes


def failing_sessions() -> dict[int, str]:
    """Index of each failing session (0-based, as built) -> how it fails."""
    return {i: FAILING[i % 100] for i in range(SESSIONS) if i % 100 in FAILING}
