"""One SCTP association as an observer follows it, from both directions' decrypted DTLS
records: its state, its data channels and their traffic.

:meth:`Association.receive` takes one decrypted record (one SCTP packet) and returns
events: :class:`~proxy.events.SctpSeen` for control chunks and DCEP messages,
:class:`~proxy.events.DataChannels` when the picture changed (counters at most once
per :data:`SNAPSHOT_EVERY`), :class:`~proxy.events.DataChannelMessage` per user message
only when payloads are shown. Memory is bounded: a fixed number of channels, of
messages being reassembled, and only their sizes (bytes only to show them).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from proxy.decode.dtls.reader import DecodeError
from proxy.decode.sctp import chunks as C
from proxy.decode.sctp import registry as reg
from proxy.decode.sctp.dcep import DataChannelAck, DataChannelOpen, parse_dcep
from proxy.decode.sctp.packet import MalformedPacket, SctpPacket, checksum_status, parse_packet
from proxy.events import ChannelInfo, DataChannelMessage, DataChannels, Event, SctpSeen

SNAPSHOT_EVERY = 1.0
"""Seconds between two DataChannels events that only change counters."""
CHECKSUM_SAMPLE = 32
"""Packets per direction whose CRC32c is checked (then the status is known)."""
MAX_CHANNELS = 1024
MAX_PARTIAL = 256
"""Messages being reassembled kept per association."""
MAX_SHOWN = 64 * 1024
"""Bytes of one message kept to show it (--show-payloads); beyond, only its size."""
MAX_CONTROL_EVENTS = 256
"""SctpSeen events per association (a RE-CONFIG or FORWARD-TSN storm stays bounded)."""
TEXT_CUT = 1024
DATA_CUT = 256


@dataclass
class Channel:
    """One stream's data channel."""

    stream: int
    open: DataChannelOpen | None = None
    opened_by: int | None = None
    open_ts: float = 0.0
    open_frame: int = 0
    acked: bool = False
    closed: bool = False
    messages: list[int] = field(default_factory=lambda: [0, 0])
    bytes: list[int] = field(default_factory=lambda: [0, 0])

    @property
    def state(self) -> str:
        """opening / open / negotiated / closed."""
        if self.closed:
            return "closed"
        if self.open is None:
            return "negotiated"
        return "open" if self.acked else "opening"


@dataclass
class Abort:
    """An ABORT seen."""

    sender: int
    ts: float
    frame: int
    causes: tuple[str, ...]


@dataclass
class _Partial:
    size: int = 0
    ppid: int | None = None
    data: bytearray = field(default_factory=bytearray)


class Association:
    """The SCTP association of one session (sender indexes 0/1 as the Session's)."""

    def __init__(self, show_payloads: bool = False) -> None:
        self.show_payloads = show_payloads
        self.state = "closed"
        self.ports: tuple[int, int] | None = None
        self.init: dict[int, tuple[float, int, C.Init]] = {}
        """Sender -> (ts, frame, body) of its first INIT."""
        self.init_ack: dict[int, tuple[float, int, C.Init]] = {}
        self.aborts: list[Abort] = []
        self.channels: dict[int, Channel] = {}
        self.packets = [0, 0]
        self.not_sctp = [0, 0]
        self.auth_failed = [0, 0]
        """Application data records that failed to authenticate, per sender."""
        self.checksums: list[Counter[str]] = [Counter(), Counter()]
        self.largest: list[tuple[int, int, int]] = [(0, 0, 0), (0, 0, 0)]
        """Per sender: (size, stream, frame) of its largest user message."""
        self._partial: dict[tuple[int, int, bool, int | None], _Partial] = {}
        self._controls = 0
        self._sctp_seen = False
        """A packet decoded whole: from then on a bad one is a malformed SCTP packet."""
        self._dirty = False
        self._structural = True
        self._last_snapshot = float("-inf")
        self._labels = ("0", "1")
        self.reported: set[tuple[object, ...]] = set()
        """Findings already emitted (:mod:`proxy.datachannel.rules`)."""

    # ------------------------------------------------------------------ input

    def receive(self, sid: str, sender: int, labels: tuple[str, str], plaintext: bytes,
                ts: float, frame: int) -> list[Event]:
        """Events of one decrypted application data record from ``sender``; ``labels``
        are the direction labels (this sender's first)."""
        self._labels = labels if sender == 0 else (labels[1], labels[0])
        dirl = labels[0]
        out: list[Event] = []
        self.packets[sender] += 1
        self._dirty = True
        if self.checksums[sender].total() < CHECKSUM_SAMPLE:
            self.checksums[sender][checksum_status(plaintext)] += 1
        pkt = parse_packet(plaintext)
        bad = isinstance(pkt, MalformedPacket) or pkt.error is not None
        if bad and not self._sctp_seen:
            # application data need not be SCTP (DTLS outside WebRTC): counted, said in
            # the DataChannels state, never a malformed SCTP packet per record
            if not self.not_sctp[sender]:
                self._structural = True
            self.not_sctp[sender] += 1
        elif isinstance(pkt, MalformedPacket):
            self.not_sctp[sender] += 1
            out.extend(self._control(SctpSeen(ts, sid, frame, dirl, "SCTP", None, {},
                                              pkt.reason)))
        else:
            self._sctp_seen = True
            self._packet(sid, sender, dirl, pkt, ts, frame, out)
        out.extend(self.snapshot(sid, ts))
        return out

    def failed(self, sender: int) -> None:
        """An application data record of ``sender`` did not authenticate."""
        self.auth_failed[sender] += 1
        self._dirty = True

    def _control(self, ev: SctpSeen) -> list[Event]:
        self._structural = True
        if self._controls >= MAX_CONTROL_EVENTS:
            return []
        self._controls += 1
        return [ev]

    def _packet(self, sid: str, sender: int, dirl: str, pkt: SctpPacket, ts: float,
                frame: int, out: list[Event]) -> None:
        if pkt.error is not None:
            out.extend(self._control(SctpSeen(ts, sid, frame, dirl, "SCTP", None,
                                              {"ports": f"{pkt.src_port} -> {pkt.dst_port}"},
                                              pkt.error)))
        for ch in pkt.chunks:
            body = ch.body
            if body is None:
                out.extend(self._control(SctpSeen(ts, sid, frame, dirl, ch.name, None, {},
                                                  ch.error)))
                continue
            if isinstance(body, C.Data):
                self._data(sid, sender, dirl, body, ts, frame, out)
            elif isinstance(body, C.Init):
                self._init(sid, sender, dirl, ch.type, pkt, body, ts, frame, out)
            elif isinstance(body, C.Abort):
                causes = tuple(f"{c.name}" + (f" ({c.detail})" if c.detail else "")
                               for c in body.causes)
                detail = {"causes": "; ".join(causes) or "none"}
                if ch.type == C.ABORT:
                    self.state = "aborted"
                    if len(self.aborts) < 16:
                        self.aborts.append(Abort(sender, ts, frame, causes))
                out.extend(self._control(SctpSeen(ts, sid, frame, dirl, ch.name, None,
                                                  detail)))
            elif isinstance(body, C.ReConfig):
                out.extend(self._reconfig(sid, sender, dirl, body, ts, frame))
            elif isinstance(body, C.Sack | C.Heartbeat):
                continue  # counted in packets
            else:
                self._other(sid, dirl, ch.type, ch.name, body, ts, frame, out)

    def _init(self, sid: str, sender: int, dirl: str, ctype: int, pkt: SctpPacket,
              body: C.Init, ts: float, frame: int, out: list[Event]) -> None:
        if ctype == C.INIT:
            self.init.setdefault(sender, (ts, frame, body))
            if self.ports is None:
                self.ports = (pkt.src_port, pkt.dst_port)
            if self.state in ("closed",):
                self.state = "cookie-wait"
        else:
            self.init_ack.setdefault(sender, (ts, frame, body))
        detail = {
            "ports": f"{pkt.src_port} -> {pkt.dst_port}",
            "initiate_tag": f"0x{body.initiate_tag:08x}",
            "a_rwnd": str(body.a_rwnd),
            "streams": f"{body.outbound_streams} out, {body.inbound_streams} in",
            "initial_tsn": str(body.initial_tsn),
        }
        if body.extensions:
            detail["extensions"] = ", ".join(body.extensions)
        if body.zero_checksum:
            detail["zero checksum acceptable"] = body.zero_checksum
        if body.cookie_length is not None:
            detail["state cookie"] = f"{body.cookie_length} bytes"
        others = [p.name for p in body.parameters
                  if p.type not in (7, 0x8008, 0x8001, 0xC000)]
        if body.forward_tsn:
            others.insert(0, "Forward-TSN-Supported")
        if others:
            detail["parameters"] = ", ".join(others)
        name = reg.name(reg.CHUNK_TYPES, ctype)
        out.extend(self._control(SctpSeen(ts, sid, frame, dirl, name, None, detail)))

    def _other(self, sid: str, dirl: str, ctype: int, name: str, body: C.ChunkBody,
               ts: float, frame: int, out: list[Event]) -> None:
        detail: dict[str, str] = {}
        if ctype == C.COOKIE_ECHO and self.state in ("closed", "cookie-wait"):
            self.state = "cookie-echoed"
        elif ctype == C.COOKIE_ACK and self.state != "aborted":
            self.state = "established"
        elif ctype == C.SHUTDOWN and self.state != "aborted":
            self.state = "shutdown"
        elif ctype == C.SHUTDOWN_COMPLETE and self.state != "aborted":
            self.state = "closed"
        if isinstance(body, C.Shutdown):
            detail["cumulative_tsn"] = str(body.cumulative_tsn)
        elif isinstance(body, C.ForwardTsn):
            detail["new_cumulative_tsn"] = str(body.new_cumulative_tsn)
            if body.streams:
                detail["streams"] = ", ".join(f"{s}:{n}" for s, n in body.streams[:16])
        elif isinstance(body, C.CookieEcho):
            detail["cookie"] = f"{len(body.cookie)} bytes"
        elif isinstance(body, C.UnknownChunk):
            detail["length"] = str(len(body.value))
        out.extend(self._control(SctpSeen(ts, sid, frame, dirl, name, None, detail)))

    def _reconfig(self, sid: str, sender: int, dirl: str, body: C.ReConfig, ts: float,
                  frame: int) -> list[Event]:
        parts: list[str] = []
        for req in body.requests:
            if req.type in (13, 14):  # stream reset: the channels on them close
                streams = req.streams or tuple(self.channels)
                for sid_ in streams:
                    ch = self.channels.get(sid_)
                    if ch is not None:
                        ch.closed = True
                parts.append(f"{req.name} #{req.request_seq}: streams "
                             f"{', '.join(map(str, req.streams)) or 'all'}")
            elif req.type == 16:
                parts.append(f"{req.name} #{req.request_seq}: {req.result_name}")
            else:
                parts.append(f"{req.name} #{req.request_seq}")
        return self._control(SctpSeen(ts, sid, frame, dirl, "RE-CONFIG", None,
                                      {"requests": "; ".join(parts)}))

    # ------------------------------------------------------------------ user data

    def _data(self, sid: str, sender: int, dirl: str, d: C.Data, ts: float, frame: int,
              out: list[Event]) -> None:
        key = (sender, d.stream, d.unordered, d.mid)
        if d.beginning and d.ending:
            self._message(sid, sender, dirl, d.stream, d.ppid, len(d.user_data),
                          d.user_data, ts, frame, out)
            return
        part = self._partial.get(key)
        if d.beginning or part is None:
            if part is None and len(self._partial) >= MAX_PARTIAL:
                self._partial.pop(next(iter(self._partial)))
            part = self._partial[key] = _Partial(ppid=d.ppid)
        part.size += len(d.user_data)
        if part.ppid is None:
            part.ppid = d.ppid
        if (self.show_payloads or part.ppid == reg.PPID_DCEP) and len(part.data) < MAX_SHOWN:
            part.data += d.user_data[:MAX_SHOWN - len(part.data)]
        if d.ending:
            del self._partial[key]
            self._message(sid, sender, dirl, d.stream, part.ppid, part.size, bytes(part.data),
                          ts, frame, out)

    def channel(self, stream: int) -> Channel | None:
        """The channel on ``stream`` (made on first use, up to :data:`MAX_CHANNELS`)."""
        ch = self.channels.get(stream)
        if ch is None and len(self.channels) < MAX_CHANNELS:
            ch = self.channels[stream] = Channel(stream)
            self._structural = True
        return ch

    def _message(self, sid: str, sender: int, dirl: str, stream: int, ppid: int | None,
                 size: int, data: bytes, ts: float, frame: int, out: list[Event]) -> None:
        if ppid == reg.PPID_DCEP:
            out.extend(self._dcep(sid, sender, dirl, stream, data, ts, frame))
            return
        ch = self.channel(stream)
        if ppid in reg.EMPTY_PPIDS:
            size, data = 0, b""
        if ch is not None:
            ch.messages[sender] += 1
            ch.bytes[sender] += size
        if size > self.largest[sender][0]:
            self.largest[sender] = (size, stream, frame)
        if not self.show_payloads:
            return
        label = ch.open.label if ch is not None and ch.open is not None else None
        ppid_name = reg.name(reg.PPIDS, ppid) if ppid is not None else "unknown"
        if ppid in reg.STRING_PPIDS:
            text = data.decode("utf-8", "replace")[:TEXT_CUT]
            out.append(DataChannelMessage(ts, sid, frame, dirl, stream, label, ppid_name, size,
                                          text))
        else:
            out.append(DataChannelMessage(ts, sid, frame, dirl, stream, label, ppid_name, size,
                                          None, data[:DATA_CUT]))

    def _dcep(self, sid: str, sender: int, dirl: str, stream: int, data: bytes, ts: float,
              frame: int) -> list[Event]:
        try:
            msg = parse_dcep(data)
        except DecodeError as e:
            return self._control(SctpSeen(ts, sid, frame, dirl, "DCEP", stream, {},
                                          f"offset {e.offset}: {e.reason}"))
        ch = self.channel(stream)
        if isinstance(msg, DataChannelAck):
            if ch is not None:
                ch.acked = True
            return self._control(SctpSeen(ts, sid, frame, dirl, "DATA_CHANNEL_ACK", stream))
        if ch is not None:
            ch.open, ch.opened_by, ch.open_ts, ch.open_frame = msg, sender, ts, frame
            ch.acked = ch.closed = False
        detail = {
            "label": msg.label, "protocol": msg.protocol, "channel_type": msg.type_name,
            "ordered": "yes" if msg.ordered else "no", "reliability": msg.reliability_text,
            "priority": str(msg.priority),
        }
        return self._control(SctpSeen(ts, sid, frame, dirl, "DATA_CHANNEL_OPEN", stream,
                                      detail))

    # ------------------------------------------------------------------ output

    def snapshot(self, sid: str, ts: float, final: bool = False) -> list[Event]:
        """The DataChannels event when something changed (counters: at most every
        :data:`SNAPSHOT_EVERY` seconds; ``final``: whatever changed)."""
        if not (self._dirty or self._structural):
            return []
        if not (self._structural or final or ts - self._last_snapshot >= SNAPSHOT_EVERY):
            return []
        self._dirty = self._structural = False
        self._last_snapshot = ts
        return [self.event(sid, ts)]

    def event(self, sid: str, ts: float) -> DataChannels:
        """The association as now known."""
        la, lb = self._labels

        def per(pair: list[int]) -> dict[str, int]:
            return {la: pair[0], lb: pair[1]}

        channels = tuple(
            ChannelInfo(
                ch.stream,
                ch.open.label if ch.open else None,
                ch.open.protocol if ch.open else None,
                ch.open.type_name if ch.open else None,
                ch.open.ordered if ch.open else None,
                ch.open.reliability_text if ch.open else None,
                ch.open.priority if ch.open else None,
                (la, lb)[ch.opened_by] if ch.opened_by is not None else None,
                ch.state, per(ch.messages), per(ch.bytes),
            )
            for _, ch in sorted(self.channels.items())
        )
        checksum = {lbl: ", ".join(f"{k} {n}" for k, n in sorted(c.items()))
                    for lbl, c in zip((la, lb), self.checksums, strict=True) if c}
        state = self.state
        bad, total = self.not_sctp[0] + self.not_sctp[1], self.packets[0] + self.packets[1]
        if state == "closed" and bad and bad == total:
            state = "not sctp"
        return DataChannels(ts, sid, state, self.ports, channels, per(self.packets), checksum,
                            self.note())

    def note(self) -> str | None:
        """What was negotiated or went wrong, in words."""
        parts: list[str] = []
        zero = [body.zero_checksum for d in (self.init, self.init_ack)
                for _, _, body in d.values() if body.zero_checksum]
        if zero:
            parts.append(f"zero checksum acceptable offered ({zero[0]}, RFC 9653)")
        if sum(self.auth_failed):
            parts.append(f"{sum(self.auth_failed)} application data record(s) failed to "
                         "authenticate: keys of another session, or records altered")
        if sum(self.not_sctp):
            parts.append(f"{sum(self.not_sctp)} decrypted record(s) are no SCTP packet")
        return "; ".join(parts) or None

    def waiting(self) -> bool:
        """Something waits on time for a finding (an INIT or an OPEN not answered)."""
        if self.init and not self.init_ack and self.state != "aborted":
            return True
        return any(ch.open is not None and not ch.acked and not ch.closed
                   for ch in self.channels.values())


def encrypted_event(sid: str, ts: float, records: dict[str, int], note: str) -> DataChannels:
    """The DataChannels event of a session whose application data cannot be read."""
    return DataChannels(ts, sid, "encrypted", None, (), records, {}, note)
