"""RFC 7983 (updated by RFC 9443) demultiplexing of one UDP 5-tuple on the first byte.

``0-3`` STUN, ``16-19`` ZRTP, ``20-63`` DTLS (the DTLS 1.3 unified header
``0b001xxxxx`` is inside that range), ``64-79`` TURN ChannelData, ``128-191``
RTP or RTCP (RTCP when the second byte, the RTCP packet type, is 192-223: RFC 5761
§4), anything else ``other``. Called once per datagram on the relay's hot path: one
table lookup, plus one comparison for RTP/RTCP.
"""

from __future__ import annotations

from typing import Final

STUN: Final = "stun"
ZRTP: Final = "zrtp"
DTLS: Final = "dtls"
TURN: Final = "turn"
RTP: Final = "rtp"
RTCP: Final = "rtcp"
OTHER: Final = "other"

KINDS: Final = (STUN, ZRTP, DTLS, TURN, RTP, RTCP, OTHER)
"""Every value :func:`classify` returns."""


def _build_table() -> tuple[str, ...]:
    table = [OTHER] * 256
    for b in range(256):
        if b <= 3:
            table[b] = STUN
        elif 16 <= b <= 19:
            table[b] = ZRTP
        elif 20 <= b <= 63:
            table[b] = DTLS
        elif 64 <= b <= 79:
            table[b] = TURN
        elif 128 <= b <= 191:
            table[b] = RTP
    return tuple(table)


_TABLE: Final = _build_table()


_MEDIA: Final = frozenset(range(128, 192))


def is_media(data: bytes) -> bool:
    """Whether a datagram is RTP or RTCP (first byte 128-191): what the relay only counts."""
    return bool(data) and data[0] in _MEDIA


def classify(data: bytes) -> str:
    """The RFC 7983 class of a datagram: ``stun``, ``zrtp``, ``dtls``, ``turn``,
    ``rtp``, ``rtcp`` or ``other`` (also for an empty datagram)."""
    if not data:
        return OTHER
    kind = _TABLE[data[0]]
    if kind is RTP and len(data) > 1 and 192 <= data[1] <= 223:
        return RTCP
    return kind
