"""The vocabulary every layer speaks: frozen dataclasses, one per thing that happened.

The sans-IO core (``proxy.session``) turns :class:`Datagram` values into these
events; the relay adds its own (:class:`Notice`, :class:`FaultApplied`); the
exporters, the verdict rules and the TUI only ever consume them.

Every event has ``ts`` (seconds since the epoch, UTC, supplied by the caller:
capture time offline, receive time live) and ``session`` (a short id such as
``"s1"``; empty for events that belong to no session). ``EVENT`` is the name used
as ``"event"`` in the JSONL schema (``docs/log-schema.md``).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, ClassVar

Address = tuple[str, int]
"""A UDP endpoint: (host, port). IPv6 hosts are written without brackets."""


def format_address(addr: Address) -> str:
    """``host:port``, with brackets around IPv6 hosts."""
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True, slots=True)
class Datagram:
    """One UDP payload that crossed the proxy (or a capture), with where and when."""

    ts: float
    """Receive (or capture) time, seconds since the epoch."""
    src: Address
    """Sender."""
    dst: Address
    """Receiver as the sender addressed it (the proxy's socket when live)."""
    data: bytes
    """The UDP payload, exactly as received."""
    frame: int
    """1-based number: capture frame offline, a per-run counter live."""
    side: str | None = None
    """Live relay only: the configured label of the side that received it (e.g. "a")."""
    via: str = ""
    """How it travelled when it was carried inside another protocol: in TURN mode the
    allocation then the encapsulation, ``t1 send``/``t1 data`` (a Send/Data indication),
    ``t1 channel 0x4000`` (ChannelData), with ``/tcp`` when the client is on TCP; offline
    the same without the allocation, or ``rfc4571/tcp`` (ICE-TCP framing); empty for a
    plain UDP datagram."""
    comment: str = ""
    """Offline: the capture's comment on the packet (pcapng ``opt_comment``). The relay's
    own ``--pcap`` marks each datagram it sent on with ``relayed by dtlsproxy``."""
    lost: str = ""
    """Live relay only: the path fault rule (blackhole, loss, rate) that kept it from its
    receiver. The decoder records its size (the path's evidence) and decodes nothing."""


class Event:
    """Base of all events (marker class; every subclass is a frozen dataclass)."""

    EVENT: ClassVar[str] = "event"
    ts: float
    session: str


# --------------------------------------------------------------------- traffic


@dataclass(frozen=True, slots=True)
class SessionOpened(Event):
    """A new pair of endpoints started talking (first datagram between them)."""

    EVENT: ClassVar[str] = "session_opened"
    ts: float
    session: str
    endpoints: tuple[str, str]
    """``host:port`` of the first sender and of its peer."""
    labels: tuple[str, str]
    """Display names of the two endpoints (configured side names, or the addresses)."""


@dataclass(frozen=True, slots=True)
class SessionClosed(Event):
    """The session ended (idle timeout, relay shutdown, end of capture)."""

    EVENT: ClassVar[str] = "session_closed"
    ts: float
    session: str
    reason: str


@dataclass(frozen=True, slots=True)
class DatagramSeen(Event):
    """A non-media datagram (DTLS, STUN, other). RTP/RTCP are only counted (MediaStats)."""

    EVENT: ClassVar[str] = "datagram"
    ts: float
    session: str
    frame: int
    dir: str
    """Direction label, e.g. ``client->server``, or ``browser->janus`` before roles are known."""
    kind: str
    """RFC 7983 class: ``dtls``, ``stun``, ``rtp``, ``rtcp``, ``zrtp``, ``turn``, ``other``."""
    size: int
    data: bytes = field(repr=False, default=b"")
    """The payload (kept so a session can be exported as pcapng; not for media)."""
    via: str = ""
    """The encapsulation it came in (:attr:`Datagram.via`): TURN indication, ChannelData,
    TCP framing; empty for a plain UDP datagram."""


@dataclass(frozen=True, slots=True)
class RecordSeen(Event):
    """One DTLS record inside a datagram."""

    EVENT: ClassVar[str] = "record"
    ts: float
    session: str
    frame: int
    dir: str
    offset: int
    """Offset of the record in its datagram."""
    content_type: int
    content_type_name: str
    version: int
    """Record-layer version (0xFEFD, 0xFEFF, 0x0100...); 0 for a DTLS 1.3 unified header."""
    epoch: int
    sequence: int | None
    """The record sequence number; for a DTLS 1.3 unified header the reconstructed 48-bit
    number once the record was decrypted, None while it is still masked."""
    length: int
    encrypted: bool
    unified: bool = False
    """DTLS 1.3 unified header (``001CSLEE``): epoch holds only its low two bits, unless
    the record was decrypted (``decrypted``): then the full epoch."""
    decrypted: bool = False
    """The record was opened with a key log: ``content_type`` is the real (inner) one."""


@dataclass(frozen=True, slots=True)
class MessageSeen(Event):
    """A handshake message (reassembled), a ChangeCipherSpec, or an encrypted record
    taken for a message (``[Finished (encrypted)]``).

    Copies (retransmissions) are events too, with ``copy`` > 1 and the same body.
    """

    EVENT: ClassVar[str] = "message"
    ts: float
    session: str
    dir: str
    flight: int | None
    type: str
    """RFC name: ClientHello, ServerKeyExchange, ChangeCipherSpec, Finished, ApplicationData..."""
    msg_type: int | None
    """Handshake type number; None for ChangeCipherSpec, application data, encrypted records."""
    message_seq: int | None
    epoch: int
    encrypted: bool
    copy: int
    """1 = first transmission; n = the n-th copy of the same message."""
    frames: tuple[int, ...]
    """Frames (datagrams) that carried this copy of the message."""
    length: int
    """Body length (handshake) or record payload length."""
    raw: bytes = field(repr=False, default=b"")
    """The message as if unfragmented: 12-byte DTLS handshake header + body (empty if encrypted)."""
    body: Any = field(repr=False, default=None, compare=False)
    """The parsed body dataclass from :mod:`proxy.decode.dtls.messages`, or None."""
    error: str | None = None
    """Why the body could not be parsed (the raw bytes are still kept)."""
    differs: bool = False
    """A copy whose bytes differ from the first transmission (never legitimate)."""
    decrypted: bool = False
    """An encrypted DTLS 1.3 message (or ACK, application data) opened with the key log:
    ``raw`` and ``body`` are its plaintext."""
    ja4: str | None = None
    """JA4 fingerprint of a ClientHello (FoxIO's spec, protocol ``d``), else None."""
    ja4s: str | None = None
    """JA4S fingerprint of a ServerHello or HelloRetryRequest, else None."""


@dataclass(frozen=True, slots=True)
class FlightComplete(Event):
    """A flight's last message arrived (or the other side started the next flight)."""

    EVENT: ClassVar[str] = "flight"
    ts: float
    session: str
    dir: str
    flight: int
    messages: tuple[str, ...]
    frames: tuple[int, ...]
    first_ts: float
    """Time of its first datagram (``ts`` is the time of the last)."""


@dataclass(frozen=True, slots=True)
class FlightRetransmitted(Event):
    """A flight was sent again (all or part of it): the copy number and who stays silent."""

    EVENT: ClassVar[str] = "flight_retransmitted"
    ts: float
    session: str
    dir: str
    flight: int
    copy: int
    frames: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class AlertSeen(Event):
    """A DTLS alert (content type 21): plaintext with level and description, or encrypted."""

    EVENT: ClassVar[str] = "alert"
    ts: float
    session: str
    dir: str
    frames: tuple[int, ...]
    epoch: int
    encrypted: bool
    level: int | None
    level_name: str | None
    description: int | None
    description_name: str | None
    """RFC name (``decrypt_error``), or None when encrypted."""
    answers_flight: int | None
    """The other side's last flight before this alert: the one the alert answers."""
    flight: int | None = None
    by_size: bool = False
    """DTLS 1.3 without keys: an encrypted record of exactly an alert's size (2 bytes, the
    inner type, the tag), taken for an alert (it could also be an empty ACK)."""


@dataclass(frozen=True, slots=True)
class Malformed(Event):
    """Something that could not be decoded. The datagram was still forwarded."""

    EVENT: ClassVar[str] = "malformed"
    ts: float
    session: str
    frame: int
    dir: str
    layer: str
    """``record``, ``handshake``, ``message``, ``stun``, ``rtp``."""
    offset: int
    """Offset in the datagram where decoding failed."""
    reason: str
    data: bytes = field(repr=False, default=b"")


@dataclass(frozen=True, slots=True)
class StunSeen(Event):
    """A STUN message (ICE connectivity check or answer)."""

    EVENT: ClassVar[str] = "stun"
    ts: float
    session: str
    frame: int
    dir: str
    method: str
    """``binding`` etc."""
    cls: str
    """``request``, ``success``, ``error``, ``indication``."""
    transaction_id: str
    attributes: Mapping[str, str]
    """Selected attributes, rendered: USERNAME, XOR-MAPPED-ADDRESS, USE-CANDIDATE,
    ICE-CONTROLLING / ICE-CONTROLLED, ERROR-CODE, PRIORITY."""


@dataclass(frozen=True, slots=True)
class MediaStats(Event):
    """RTP/RTCP counted over one interval (never one event per packet)."""

    EVENT: ClassVar[str] = "media"
    ts: float
    session: str
    dir: str
    interval: float
    """Seconds covered (the interval ends at ``ts``)."""
    rtp_packets: int
    rtp_bytes: int
    rtcp_packets: int
    ssrcs: Mapping[str, int]
    """Packets per SSRC (``0x1234abcd``) in this interval."""


@dataclass(frozen=True, slots=True)
class StackGuess:
    """Which implementation one side's hellos look like (``proxy.identify.stacks``)."""

    name: str
    """``OpenSSL``, ``Chromium (BoringSSL)``... or ``unknown``."""
    version: str | None
    """``3.0.x``, ``1.0.1``...; None when the hellos do not tell versions apart."""
    confidence: str
    """``high`` (every known feature matches), ``medium``, ``low`` (nearest match only)."""
    evidence: tuple[str, ...] = ()
    """What matched (and, for ``unknown``, what did not)."""
    nearest: str | None = None
    """For ``unknown``: the closest known entry."""


@dataclass(frozen=True, slots=True)
class SessionSummary(Event):
    """The session's state as now known; emitted whenever it changes."""

    EVENT: ClassVar[str] = "session"
    ts: float
    session: str
    state: str
    """``idle`` (no DTLS yet), ``handshaking``, ``established``, ``failed``, ``alert``,
    ``stalled``."""
    client: str | None
    server: str | None
    client_label: str | None
    server_label: str | None
    version: str | None
    """Negotiated version name (``DTLS 1.2``)."""
    offered_versions: tuple[str, ...] = ()
    cipher_suite: str | None = None
    group: str | None = None
    signature_schemes: tuple[str, ...] = ()
    srtp_profile: str | None = None
    extended_master_secret: bool | None = None
    encrypt_then_mac: bool | None = None
    cookie: bool = False
    resumption: bool = False
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    """Role (``client``/``server``) -> SHA-256 fingerprint of its end-entity certificate."""
    counters: Mapping[str, int] = field(default_factory=dict)
    """Datagrams per kind and direction, e.g. ``rtp client->server``."""
    note: str | None = None
    """One human sentence, e.g. "client offered DTLS 1.3 and 1.2; server chose 1.2"."""
    client_stack: StackGuess | None = None
    """The client's implementation as its ClientHello shows it (None before one)."""
    server_stack: StackGuess | None = None
    """The server's implementation as its hello (and certificate) show it."""
    legs: tuple[str, ...] = ()
    """The other sessions that carry the same handshake (the same ClientHello random): the
    same handshake seen at other points (a relay's own capture has both its legs,
    merged captures, a middlebox); their messages are compared with this one's."""


# ------------------------------------------------------------------ findings


@dataclass(frozen=True, slots=True)
class Check:
    """One verification step and its outcome (part of a verdict's evidence)."""

    name: str
    """e.g. ``client CertificateVerify signature``."""
    passed: bool | None
    """True passed, False failed, None could not be run (``detail`` says why)."""
    detail: str
    values: Mapping[str, str] = field(default_factory=dict)
    """What was compared (fingerprints, lists, algorithm names...)."""


@dataclass(frozen=True, slots=True)
class CulpritRef:
    """Points at the message a verdict blames."""

    dir: str
    flight: int | None
    type: str
    message_seq: int | None
    frames: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Verdict(Event):
    """Our finding: which message caused the failure, why, and the evidence."""

    EVENT: ClassVar[str] = "verdict"
    ts: float
    session: str
    code: str
    """Stable identifier of the rule, e.g. ``certificate_verify_bad_signature``."""
    culprit: CulpritRef | None
    reason: str
    """One sentence a WebRTC engineer understands."""
    evidence: tuple[Check, ...] = ()
    certain: bool = False
    to_be_certain: str | None = None
    """What would make it certain, e.g. "give a key log to check the Finished"."""


@dataclass(frozen=True, slots=True)
class CheckReport(Event):
    """The passive (and key-log) checks run on a handshake that did not fail, all listed.

    A clean handshake has no Verdict; this report shows what was verified anyway."""

    EVENT: ClassVar[str] = "checks"
    ts: float
    session: str
    passed: bool
    """No check failed (checks that could not run are listed with passed=None)."""
    evidence: tuple[Check, ...] = ()


@dataclass(frozen=True, slots=True)
class FaultApplied(Event):
    """A fault rule changed traffic (so nobody mistakes it for a real failure)."""

    EVENT: ClassVar[str] = "fault"
    ts: float
    session: str
    rule: str
    action: str
    frame: int
    dir: str
    detail: str


@dataclass(frozen=True, slots=True)
class Notice(Event):
    """Something the relay wants the user to know (latching, refusals, silence, errors)."""

    EVENT: ClassVar[str] = "notice"
    ts: float
    session: str
    level: str
    """``info``, ``warning`` or ``error``."""
    code: str
    """e.g. ``latched``, ``refused``, ``icmp_unreachable``, ``silent_side``, ``one_way``."""
    message: str


@dataclass(frozen=True, slots=True)
class TurnAllocation(Event):
    """A TURN allocation as it now stands (sent when it opens, changes, and closes, and
    at most every few seconds while bytes flow): who holds it, where it relays, to whom."""

    EVENT: ClassVar[str] = "allocation"
    ts: float
    session: str
    allocation: str
    """Short id, ``t1``, ``t2``..."""
    state: str
    """``active`` or ``closed``."""
    client: str
    """The client's address as the proxy sees it (``host:port``)."""
    transport: str
    """``udp`` or ``tcp``: how the client reaches the TURN port."""
    username: str
    relayed: str
    """The relayed transport address (``host:port``) peers send to."""
    lifetime: int
    """Seconds granted by the last Allocate or Refresh."""
    expires: float
    """When it expires without a Refresh (seconds since the epoch)."""
    permissions: Mapping[str, float] = field(default_factory=dict)
    """Peer IP -> when its permission expires."""
    channels: Mapping[str, str] = field(default_factory=dict)
    """Channel number (``0x4000``) -> peer ``host:port``."""
    to_peer: tuple[int, int] = (0, 0)
    """(datagrams, bytes) relayed from the client to peers."""
    from_peer: tuple[int, int] = (0, 0)
    """(datagrams, bytes) relayed from peers to the client."""
    reason: str = ""
    """Why it closed (Refresh with LIFETIME 0, expired, TCP connection closed, shutdown)."""


@dataclass(frozen=True, slots=True)
class PeerState(Event):
    """A peer's own view of the session (Janus's Admin API or events, a browser's dump),
    sent when it is first matched to the session and whenever it changes."""

    EVENT: ClassVar[str] = "peer"
    ts: float
    session: str
    source: str
    """Who says it: ``Janus handle 123``, ``Chrome peer connection 12-1 (dump.txt)``."""
    peer: str
    """``janus``, ``chrome`` or ``firefox``."""
    matched_by: str
    """How the view was tied to this session: ``ICE ufrag 'ab:cd'``, ``selected pair ...``."""
    ice_state: str | None = None
    dtls_state: str | None = None
    dtls_role: str | None = None
    """The peer's own DTLS role as it says it (``client``/``server``)."""
    selected_pair: str | None = None
    """``local <-> remote`` as the peer sees it."""
    local_fingerprint: str | None = None
    remote_fingerprint: str | None = None
    srtp_profile: str | None = None
    tls_version: str | None = None
    hangup: str | None = None
    """The peer's reason for closing (``DTLS alert``), if it did."""
    webrtcup: bool = False
    sdps: tuple[str, ...] = ()
    """The SDPs the checks now use from this peer, by source (never their text: an SDP
    holds the ICE password)."""


@dataclass(frozen=True, slots=True)
class PeerNote(Event):
    """One thing a peer said about the session (a Janus event: ICE or DTLS state, the
    selected pair, webrtcup, hangup and its reason, media receiving)."""

    EVENT: ClassVar[str] = "peer_event"
    ts: float
    session: str
    source: str
    what: str
    """``ice``, ``dtls``, ``selected-pair``, ``webrtcup``, ``hangup``, ``media``, ``sdp``,
    ``candidate``, ``handle``."""
    value: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PeerViews(Event):
    """The peer's view next to the proxy's, in one sentence, and whether they agree."""

    EVENT: ClassVar[str] = "views"
    ts: float
    session: str
    source: str
    peer_says: str
    proxy_says: str
    agree: bool | None
    """True both say the call works (or both that it failed); False they disagree (a
    ``views_disagree`` verdict says how); None one side has not said yet."""
    sentence: str


# ------------------------------------------------------------- data channels


@dataclass(frozen=True, slots=True)
class SctpSeen(Event):
    """An SCTP control chunk or a DCEP message inside a decrypted DTLS record (RFC 8261):
    INIT, INIT ACK, COOKIE ECHO/ACK, ABORT, ERROR, SHUTDOWN*, RE-CONFIG, FORWARD-TSN,
    DATA_CHANNEL_OPEN, DATA_CHANNEL_ACK. DATA, SACK and HEARTBEAT are only counted
    (:class:`DataChannels`)."""

    EVENT: ClassVar[str] = "sctp"
    ts: float
    session: str
    frame: int
    dir: str
    chunk: str
    """``INIT``, ``ABORT``, ``DATA_CHANNEL_OPEN``..."""
    stream: int | None = None
    """The stream of a DCEP message (or of a DATA chunk that does not decode)."""
    detail: Mapping[str, str] = field(default_factory=dict)
    """The fields that matter, readable: tags, streams, causes, label, protocol..."""
    error: str | None = None
    """Why the chunk (or the packet, or the DCEP message) does not decode."""


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One data channel of an SCTP association, as seen so far."""

    stream: int
    label: str | None
    """From its DATA_CHANNEL_OPEN; None for a channel negotiated out of band (no OPEN)."""
    protocol: str | None
    channel_type: str | None
    """``DATA_CHANNEL_RELIABLE``...; None without an OPEN."""
    ordered: bool | None
    reliability: str | None
    """``reliable``, ``max 3 retransmissions``, ``max lifetime 500 ms``."""
    priority: int | None
    opened_by: str | None
    """Direction label of the DATA_CHANNEL_OPEN's sender."""
    state: str
    """``opening`` (OPEN sent, no ACK yet), ``open``, ``negotiated`` (data without an
    OPEN), ``closed`` (its stream was reset)."""
    messages: Mapping[str, int] = field(default_factory=dict)
    """User messages per direction label (DCEP excluded)."""
    bytes: Mapping[str, int] = field(default_factory=dict)
    """User message bytes per direction label."""


@dataclass(frozen=True, slots=True)
class DataChannels(Event):
    """The SCTP association over this session's DTLS and its data channels, as now known;
    sent when it changes (counters at most once a second, and at the end)."""

    EVENT: ClassVar[str] = "datachannels"
    ts: float
    session: str
    state: str
    """``encrypted`` (no keys: nothing read), ``cookie-wait`` (INIT sent), ``cookie-echoed``,
    ``established``, ``shutdown``, ``closed``, ``aborted``, ``not sctp`` (the decrypted
    data is no SCTP)."""
    ports: tuple[int, int] | None = None
    """(source, destination) SCTP ports of the first INIT."""
    channels: tuple[ChannelInfo, ...] = ()
    packets: Mapping[str, int] = field(default_factory=dict)
    """SCTP packets (decrypted records) per direction label."""
    checksum: Mapping[str, str] = field(default_factory=dict)
    """Per direction: what its CRC32c field holds in the packets sampled (``zero``,
    ``ok``, ``bad``, or several, ``zero 3, ok 1``)."""
    note: str | None = None
    """A sentence: what blocks the view (no key log), what was negotiated (zero
    checksum, partial reliability), what failed to decrypt."""


@dataclass(frozen=True, slots=True)
class DataChannelMessage(Event):
    """One user message of a data channel, only with ``--show-payloads`` (user data)."""

    EVENT: ClassVar[str] = "dc_message"
    ts: float
    session: str
    frame: int
    dir: str
    stream: int
    label: str | None
    ppid: str
    size: int
    text: str | None = None
    """The message as text (string PPIDs), cut at 1024 characters."""
    data: bytes = b""
    """The first 256 bytes of a binary message."""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.EVENT: cls
    for cls in (
        SessionOpened,
        SessionClosed,
        DatagramSeen,
        RecordSeen,
        MessageSeen,
        FlightComplete,
        FlightRetransmitted,
        AlertSeen,
        Malformed,
        StunSeen,
        MediaStats,
        SessionSummary,
        Verdict,
        CheckReport,
        FaultApplied,
        Notice,
        TurnAllocation,
        PeerState,
        PeerNote,
        PeerViews,
        SctpSeen,
        DataChannels,
        DataChannelMessage,
    )
}
"""``"event"`` name -> class, for readers of JSONL (``dtlsproxy view``)."""


# ----------------------------------------------------------------- rendering


_last_iso: tuple[float, str] = (float("nan"), "")


def iso_time(ts: float) -> str:
    """ISO 8601 UTC with microseconds, e.g. ``2015-05-01T16:32:06.123456Z``.

    Any time is written: outside years 1-9999 (a capture's timestamps are whatever its
    file says) with ISO 8601's expanded, signed year, e.g. ``+036812-02-20T...Z``.
    """
    global _last_iso
    last = _last_iso  # the events of one datagram share its time: remember the last one
    if last[0] == ts:
        return last[1]
    try:
        dt = _dt.datetime.fromtimestamp(ts, _dt.UTC)
    except (OverflowError, ValueError, OSError):
        out = _iso_expanded(ts)
    else:
        out = dt.isoformat(timespec="microseconds")[:-6] + "Z"
    _last_iso = (ts, out)
    return out


def _iso_expanded(ts: float) -> str:
    """:func:`iso_time` for any finite time (proleptic Gregorian calendar, year 0 = 1 BC,
    the days to a date as in Hinnant's ``civil_from_days``); ``nan``/``inf`` as such."""
    if ts != ts or ts in (float("inf"), float("-inf")):
        return str(ts)
    frac, whole = math.modf(ts)  # rounded as datetime.fromtimestamp rounds
    us = round(frac * 1e6)
    seconds = int(whole) + us // 1_000_000
    us %= 1_000_000
    days, secs = divmod(seconds, 86_400)
    era, doe = divmod(days + 719_468, 146_097)
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (month <= 2)
    sign = "-" if year < 0 else "+"
    return (f"{sign}{abs(year):06d}-{month:02d}-{day:02d}T{secs // 3600:02d}:"
            f"{secs // 60 % 60:02d}:{secs % 60:02d}.{us:06d}Z")


_JSON_FIELDS: dict[type, tuple[str, ...]] = {}
"""Dataclass -> names of the fields it renders (filled on first use; see :func:`jsonable`)."""
_EVENT_FIELDS: dict[type, tuple[str, ...]] = {}
"""Event class -> its field names except ``ts`` and ``session``."""


def _json_fields(cls: type) -> tuple[str, ...]:
    names = tuple(
        f.name
        for f in dataclasses.fields(cls)
        if not f.name.startswith("_") and f.metadata.get("json", True)
    )
    if getattr(cls, "__json__", None) is None:
        _JSON_FIELDS[cls] = names  # only plain dataclasses take the fast path
    return names


_JSON_METHOD: set[type] = set()
"""Slotted classes rendered by their ``__json__`` (found once, then taken first)."""
_SCALARS = frozenset({str, int, bool, float, type(None)})
"""Exact types :func:`jsonable` returns unchanged."""


def jsonable(value: Any) -> Any:
    """Turn event fields (dataclasses, bytes, enums, tuples) into JSON-ready values.

    Bytes become lowercase hex. Dataclasses become dicts of their fields, except
    fields whose metadata says ``{"json": False}`` and names starting with ``_``.
    An object with ``__json__()`` renders itself.
    """
    t = type(value)
    # Fast paths on the exact type (the common cases), then the general rules in order.
    if t is str or t is int or value is None or t is bool or t is float:
        return value
    if t is bytes:
        return value.hex()
    # Items and fields that are scalars are taken as they are, without a call.
    if t is tuple or t is list:
        return [v if type(v) in _SCALARS else jsonable(v) for v in value]
    if t is dict:
        return {k if type(k) is str else str(k): v if type(v) in _SCALARS else jsonable(v)
                for k, v in value.items()}
    names = _JSON_FIELDS.get(t)
    if names is not None:
        return {n: v if type(v) in _SCALARS else jsonable(v)
                for n in names for v in [getattr(value, n)]}
    if t in _JSON_METHOD:
        return value.__json__()
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Enum):
        return value.name
    to_json = getattr(value, "__json__", None)
    if callable(to_json):
        if not hasattr(value, "__dict__") and callable(getattr(t, "__json__", None)):
            _JSON_METHOD.add(t)  # slotted: no instance can have its own __json__
        return to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {n: jsonable(getattr(value, n)) for n in _json_fields(t)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def event_to_dict(ev: Event) -> dict[str, Any]:
    """The JSONL object for one event: ``event``, ``ts`` (ISO 8601), ``session``, fields."""
    cls = type(ev)
    names = _EVENT_FIELDS.get(cls)
    if names is None:
        fields = dataclasses.fields(ev)  # type: ignore[arg-type]
        names = tuple(f.name for f in fields if f.name not in ("ts", "session"))
        _EVENT_FIELDS[cls] = names
    out: dict[str, Any] = {"event": ev.EVENT, "ts": iso_time(ev.ts), "session": ev.session}
    for name in names:
        v = getattr(ev, name)
        t = type(v)
        scalar = t is str or t is int or v is None or t is bool or t is float
        out[name] = v if scalar else jsonable(v)
    return out
