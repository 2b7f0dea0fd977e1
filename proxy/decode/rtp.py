"""RTP/RTCP header parsing (RFC 3550; SRTP/SRTCP keep these headers in clear, RFC 3711)
and :class:`MediaCounter`, which counts media per SSRC instead of keeping packets.

Sans-IO: the caller supplies every timestamp.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from proxy.decode.dtls.reader import DecodeError, Reader

RTCP_TYPES: Final = {
    192: "FIR",
    193: "NACK",
    195: "IJ",
    200: "SR",
    201: "RR",
    202: "SDES",
    203: "BYE",
    204: "APP",
    205: "RTPFB",
    206: "PSFB",
    207: "XR",
}
"""RTCP packet type -> short name (RFC 3550, 4585, 3611, 2032, 5450)."""


@dataclass(frozen=True, slots=True)
class RtpHeader:
    """The fixed RTP header, CSRCs and header-extension profile (all in clear under SRTP)."""

    version: int
    padding: bool
    extension: bool
    csrc_count: int
    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    csrcs: tuple[int, ...] = ()
    extension_profile: int | None = None
    """e.g. 0xBEDE (RFC 8285 one-byte) or 0x1000 (two-byte); None without extension."""
    header_length: int = 12
    """Bytes before the payload (fixed header + CSRCs + extension)."""

    kind: str = "rtp"


@dataclass(frozen=True, slots=True)
class RtcpHeader:
    """The first RTCP header of a (compound) packet: SRTCP keeps its 8 bytes in clear."""

    version: int
    padding: bool
    count: int
    """Reception report count, or the FMT subtype for feedback packets."""
    packet_type: int
    length_words: int
    """Length field: 32-bit words minus one."""
    ssrc: int
    """Sender SSRC (packet sender)."""
    kind: str = "rtcp"

    @property
    def packet_type_name(self) -> str:
        """``SR``, ``RR``, ``PSFB``... or the number."""
        return RTCP_TYPES.get(self.packet_type, str(self.packet_type))


def parse_rtp_header(data: bytes) -> RtpHeader | RtcpHeader:
    """Parse the RTP header, or the first RTCP header when the second byte is 192-223
    (RFC 5761 §4). Raises :class:`DecodeError` on a version other than 2 or a short packet."""
    if len(data) >= 2 and 192 <= data[1] <= 223:
        return parse_rtcp_header(data)
    r = Reader(data)
    b0 = r.pull_uint8("RTP first byte")
    version = b0 >> 6
    if version != 2:
        raise DecodeError(0, f"RTP version {version}, expected 2")
    b1 = r.pull_uint8("RTP marker/payload type")
    sequence = r.pull_uint16("RTP sequence number")
    timestamp = r.pull_uint(4, "RTP timestamp")
    ssrc = r.pull_uint(4, "RTP SSRC")
    cc = b0 & 0x0F
    csrcs = tuple(r.pull_uint(4, "RTP CSRC") for _ in range(cc))
    profile: int | None = None
    if b0 & 0x10:
        profile = r.pull_uint16("RTP extension profile")
        words = r.pull_uint16("RTP extension length")
        r.pull_bytes(4 * words, "RTP header extension")
    return RtpHeader(
        version=version,
        padding=bool(b0 & 0x20),
        extension=bool(b0 & 0x10),
        csrc_count=cc,
        marker=bool(b1 & 0x80),
        payload_type=b1 & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        csrcs=csrcs,
        extension_profile=profile,
        header_length=r.offset,
    )


def parse_rtcp_header(data: bytes) -> RtcpHeader:
    """Parse the first RTCP header (8 bytes). Raises :class:`DecodeError`."""
    r = Reader(data)
    b0 = r.pull_uint8("RTCP first byte")
    version = b0 >> 6
    if version != 2:
        raise DecodeError(0, f"RTCP version {version}, expected 2")
    packet_type = r.pull_uint8("RTCP packet type")
    length = r.pull_uint16("RTCP length")
    ssrc = r.pull_uint(4, "RTCP sender SSRC")
    return RtcpHeader(
        version=version,
        padding=bool(b0 & 0x20),
        count=b0 & 0x1F,
        packet_type=packet_type,
        length_words=length,
        ssrc=ssrc,
    )


# ------------------------------------------------------------------- counting


OTHER_SSRCS: Final = "other"
"""Key in :attr:`MediaInterval.ssrcs` for packets of SSRCs beyond the cap."""


@dataclass(frozen=True, slots=True)
class MediaInterval:
    """Media counted in one direction over ``[end - interval, end]``
    (the session layer turns it into :class:`proxy.events.MediaStats`)."""

    dir: str
    end: float
    interval: float
    rtp_packets: int
    rtp_bytes: int
    rtcp_packets: int
    rtcp_bytes: int
    ssrcs: dict[str, int]
    """Packets per SSRC (``0x1234abcd``), RTP and RTCP; ``other`` for SSRCs over the cap."""
    malformed: int = 0
    """Packets in the RTP range whose header did not parse (counted, no SSRC)."""


_OTHER: Final = -1
"""The key SSRCs over the cap are counted under while a window is open."""


@dataclass(slots=True)
class _Window:
    start: float
    end: float
    """``start`` + the interval: a packet at or after it closes the window."""
    rtp_packets: int = 0
    rtp_bytes: int = 0
    rtcp_packets: int = 0
    rtcp_bytes: int = 0
    malformed: int = 0
    ssrcs: dict[int, int] = field(default_factory=dict)
    """SSRC (``_OTHER`` for those over the cap) -> packets; keys formatted on closing."""


class MediaCounter:
    """Counts RTP/RTCP per direction and SSRC; one :class:`MediaInterval` per ``interval``
    seconds of data time per direction that saw media.

    Memory is bounded: at most ``max_ssrcs`` SSRCs per window (the rest are counted under
    ``other``) and at most ``max_directions`` directions (packets of further directions
    are only counted in :attr:`dropped`).
    """

    def __init__(self, interval: float = 1.0, max_ssrcs: int = 32, max_directions: int = 8) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.max_ssrcs = max_ssrcs
        self.max_directions = max_directions
        self.dropped = 0
        """Packets not counted because ``max_directions`` was reached."""
        self._windows: dict[str, _Window] = {}

    def add_packets(
        self, direction: str, packets: Iterable[tuple[float, bytes]]
    ) -> tuple[list[MediaInterval], int, int]:
        """Count RTP/RTCP datagrams ``(ts, payload)`` sent in ``direction``; returns the
        intervals their times closed (usually none) and how many were RTP and RTCP.

        Only the kind (RFC 5761: second byte 192-223 is RTCP) and the SSRC (RTP bytes
        8-11, RTCP 4-7; SRTP/SRTCP keep both in clear) are read, in place: this is the
        relay's per-packet hot path, so no header is parsed and nothing is kept. A packet
        too short for its SSRC is counted as ``malformed``.
        """
        out: list[MediaInterval] = []
        rtp = rtcp = 0
        w = self._windows.get(direction)
        for ts, data in packets:
            size = len(data)
            if size > 1 and 192 <= data[1] <= 223:
                rtcp += 1
                at = 4
            else:
                rtp += 1
                at = 8
            if w is None or ts >= w.end:
                out += self._close_due(ts, direction)
                if len(self._windows) >= self.max_directions:
                    self.dropped += 1
                    w = None
                    continue
                w = self._windows[direction] = _Window(ts, ts + self.interval)
            if at == 4:
                w.rtcp_packets += 1
                w.rtcp_bytes += size
            else:
                w.rtp_packets += 1
                w.rtp_bytes += size
            if size < at + 4:
                w.malformed += 1
                continue
            ssrc = int.from_bytes(data[at : at + 4])
            ssrcs = w.ssrcs
            n = ssrcs.get(ssrc)
            if n is not None:
                ssrcs[ssrc] = n + 1
            elif len(ssrcs) < self.max_ssrcs:
                ssrcs[ssrc] = 1
            else:
                ssrcs[_OTHER] = ssrcs.get(_OTHER, 0) + 1
        return out, rtp, rtcp

    def tick(self, now: float) -> list[MediaInterval]:
        """Close every window whose interval has passed by ``now`` (silent directions)."""
        out: list[MediaInterval] = []
        for direction in list(self._windows):
            out.extend(self._close_due(now, direction))
        return out

    def flush(self, now: float | None = None) -> list[MediaInterval]:
        """Close every open window (end of capture or session); a partial window ends at
        ``now`` (default: its start plus the interval)."""
        out: list[MediaInterval] = []
        for direction, w in list(self._windows.items()):
            end = w.end if now is None else min(now, w.end)
            out.append(self._summary(direction, w, max(end, w.start)))
        self._windows.clear()
        return out

    def _close_due(self, ts: float, direction: str) -> list[MediaInterval]:
        w = self._windows.get(direction)
        if w is None or ts < w.end:
            return []
        del self._windows[direction]
        return [self._summary(direction, w, w.end)]

    def _summary(self, direction: str, w: _Window, end: float) -> MediaInterval:
        return MediaInterval(
            dir=direction,
            end=end,
            interval=end - w.start,
            rtp_packets=w.rtp_packets,
            rtp_bytes=w.rtp_bytes,
            rtcp_packets=w.rtcp_packets,
            rtcp_bytes=w.rtcp_bytes,
            ssrcs={
                (OTHER_SSRCS if k == _OTHER else f"0x{k:08x}"): n for k, n in w.ssrcs.items()
            },
            malformed=w.malformed,
        )
