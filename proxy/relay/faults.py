"""Fault rules: parse, match, apply. Pure and deterministic (no sockets, no clock).

A rule is a comma-separated list of ``key=value`` (the ``--fault`` flag) or the
same keys in a TOML ``[[fault]]`` table::

    who=client,msg=CertificateVerify,action=corrupt,offset=-1
    who=server,flight=4,action=drop,count=always
    side=a,content=handshake,action=delay,ms=200
    msg=Finished,encrypted=1,action=corrupt,offset=-1,count=1

Match keys (all given keys must hold; a datagram matches when one of its units
does -- a unit is a handshake fragment, a record, or the whole non-DTLS datagram):

``side``      the side that received the datagram (``a``/``b``, or its label)
``who``       the sender's DTLS role, ``client`` or ``server`` (known once a
              ClientHello / HelloVerifyRequest / ServerHello was seen)
``content``   ``handshake``, ``alert``, ``ccs``, ``appdata``, ``dtls`` (any record),
              or an RFC 7983 class: ``stun``, ``rtp``, ``rtcp``, ``other``
``msg``       handshake message name (``CertificateVerify``) or number (``15``);
              with ``encrypted=1``, ``msg=Finished`` is the side's first encrypted
              handshake record (and its retransmissions). DTLS 1.3: with a key log
              the encrypted messages are matched inside their records (below)
``flight``    the flight number of the negotiated version: DTLS 1.2 (RFC 6347 §4.2.4)
              1 ClientHello, 2 HelloVerifyRequest, 3 ClientHello, 4 server, 5 client,
              6 server; DTLS 1.3 (RFC 9147 §5.6) 1 ClientHello, 2 HelloRetryRequest,
              3 ClientHello, 4 ServerHello .. Finished, 5 client Certificate ..
              Finished, 6 the server's ACK (a PSK resumption: 2 server, 3 client)
``encrypted`` ``1``: records of epoch > 0 only; ``0``: plaintext only
``copy``      ``first``, ``retransmission``, or a number (2 = the first resend)
``nth``       skip the first nth-1 matching datagrams (default 1)

Action keys: ``action`` = ``drop`` | ``duplicate`` | ``delay`` (``ms``) |
``corrupt`` (``offset``: from the start of the handshake message body when >= 0,
from its end when < 0; for an encrypted record or other unit, of its payload;
``xor``: the mask, default 0xff) | ``truncate`` (``bytes``: cut this many bytes off
the end, default 1); ``count`` = ``1`` (default), ``N`` or ``always``; ``p`` = a
probability (drawn from a generator seeded with ``seed``); ``name`` = a label.

When ``corrupt`` targets a handshake message, only the datagram carrying the byte
at ``offset`` matches, so a fragmented message is corrupted in the right fragment.

Encrypted messages, with the key log (``--keylog``): a DTLS 1.3 record is decrypted
(its traffic secrets), so ``msg=CertificateVerify`` / ``Finished`` / ... and
``content=alert`` / ``ack`` / ``handshake`` / ``appdata`` match what is inside; a
``corrupt`` flips the byte in the plaintext and the record is encrypted again (same
record number, its mask computed anew): the peer receives a record that authenticates
and a message that is wrong. With ``reencrypt=1`` DTLS 1.2's encrypted Finished is
treated the same way (its master secret): the peer sees a bad verify_data, not a bad
record MAC. Without keys, or on ``content=dtls``, ``corrupt`` flips the ciphertext: the
record fails to authenticate and the peer drops it.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from proxy.decode.demux import DTLS, classify
from proxy.decode.dtls import registry
from proxy.decode.dtls.crypto import tls13
from proxy.decode.dtls.crypto.decrypt import AuthenticationFailed, decrypt_record, encrypt_record
from proxy.decode.dtls.crypto.prf import ConnectionKeys, cipher_params, key_block
from proxy.decode.dtls.handshake import HandshakeFragment, parse_fragments
from proxy.decode.dtls.messages import HRR_RANDOM, ServerHello, parse_body
from proxy.decode.dtls.reader import DecodeError
from proxy.decode.dtls.record import Record, parse_records
from proxy.decode.keylog import KeyLog
from proxy.events import FaultApplied
from proxy.relay import reshape
from proxy.relay.reshape import MIN_SIZE
from proxy.session.dtls13 import Protection

ACTIONS = ("drop", "duplicate", "delay", "corrupt", "truncate", "blackhole", "reorder",
           "refragment", "coalesce", "loss", "rate", "jitter")
PATH_ACTIONS = frozenset({"blackhole", "loss", "rate"})
"""Actions that lose datagrams as a network path does: the decoder is told (live), so
the verdict can infer the path (``Datagram.lost``)."""
HOLD_ACTIONS = frozenset({"reorder", "coalesce"})
ALWAYS_BY_DEFAULT = frozenset({"blackhole", "refragment", "coalesce", "loss", "rate", "jitter"})
"""Path behaviours: they apply to every matching datagram unless ``count`` says less."""
FLIGHT_ENDS = frozenset({1, 3, 14, 20})
"""Messages that end a flight once whole: ClientHello, HelloVerifyRequest,
ServerHelloDone, Finished (a held flight is released when its last one passed)."""
DEFAULT_HOLD_MS = 200
"""How long a held datagram waits at most (``reorder,after=K`` with too little traffic
after it, a held flight whose end is not seen, ``coalesce``)."""

HANDSHAKE_TYPES: dict[str, int] = registry.HANDSHAKE_TYPE_IDS
"""Handshake message names accepted by ``msg=`` (case-insensitive), RFC spelling."""

CONTENTS: dict[str, int | None] = {
    "ccs": 20,
    "alert": 21,
    "handshake": 22,
    "appdata": 23,
    "ack": 26,
    "dtls": None,
}
DTLS13 = 0xFEFC
DTLS10 = 0xFEFF
_KINDS = ("stun", "rtp", "rtcp", "zrtp", "turn", "other")

_SERVER_FLIGHT4 = {2, 11, 12, 13, 14}
_CLIENT_FLIGHT5 = {11, 15, 16}
_SERVER_FLIGHT4_13 = {8, 11, 13, 15, 20}
_CLIENT_FLIGHT5_13 = {11, 15, 20}

MATCH_KEYS = ("side", "who", "content", "msg", "flight", "encrypted", "copy", "nth",
              "reencrypt", "from", "until")
ACTION_KEYS = ("action", "count", "ms", "offset", "xor", "bytes", "p", "name", "above",
               "icmp", "after", "size", "burst", "kbps", "queue")


class FaultRuleError(Exception):
    """A rule key is unknown or has a bad value."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One parsed rule (see the module docstring for the keys)."""

    text: str
    """Canonical ``key=value,...`` form (what FaultApplied.rule shows)."""
    action: str
    side: str | None = None
    who: str | None = None
    content: str | None = None
    msg: int | None = None
    flight: int | None = None
    encrypted: bool | None = None
    copy: str | int | None = None
    nth: int = 1
    reencrypt: bool = False
    """DTLS 1.2: decrypt the encrypted Finished, alter it, encrypt it again (key log)."""
    count: int | None = 1
    """How many times the rule fires; None = always."""
    ms: int = 0
    offset: int | None = None
    xor: int = 0xFF
    bytes: int = 1
    p: float = 1.0
    name: str = ""
    above: int = 0
    """``blackhole``: datagrams larger than this many bytes are lost."""
    icmp: bool = False
    """``blackhole``: count each as "would be ICMP too big" (a path that says so)."""
    after: int | None = None
    """``reorder``: hold the datagram until this many later ones passed."""
    size: int = 0
    """``refragment``: largest record/datagram; ``coalesce``: largest datagram."""
    burst: float | None = None
    """``loss``: mean burst length in datagrams (Gilbert-Elliott); None: independent."""
    kbps: float = 0.0
    queue: int = 15000
    """``rate``: the queue's limit in bytes (a full queue drops)."""
    t_from: float | None = None
    """Seconds since the engine's first datagram before which the rule does not match."""
    t_until: float | None = None


def _as_int(key: str, value: Any, *, signed: bool = False) -> int:
    if isinstance(value, bool):
        raise FaultRuleError(key, f"expected an integer, got {value!r}")
    if isinstance(value, int):
        out = value
    elif isinstance(value, str):
        try:
            out = int(value, 0)
        except ValueError:
            raise FaultRuleError(key, f"expected an integer, got {value!r}") from None
    else:
        raise FaultRuleError(key, f"expected an integer, got {value!r}")
    if out < 0 and not signed:
        raise FaultRuleError(key, f"expected an integer >= 0, got {out}")
    return out


def rule_from_mapping(table: Mapping[str, Any]) -> FaultRule:
    """Validate one rule given as a mapping (a TOML table or a parsed ``--fault``)."""
    for key in table:
        if key not in MATCH_KEYS and key not in ACTION_KEYS:
            known = ", ".join((*MATCH_KEYS, *ACTION_KEYS))
            raise FaultRuleError(key, f"unknown key (known: {known})")
    action = table.get("action")
    if action is None:
        raise FaultRuleError("action", f"missing (one of {', '.join(ACTIONS)})")
    if action not in ACTIONS:
        raise FaultRuleError("action", f"expected one of {', '.join(ACTIONS)}, got {action!r}")
    kw: dict[str, Any] = {"action": action}
    for key in ("side", "name"):
        if key in table:
            if not isinstance(table[key], str):
                raise FaultRuleError(key, f"expected a string, got {table[key]!r}")
            kw[key] = table[key]
    if "who" in table:
        if table["who"] not in ("client", "server"):
            raise FaultRuleError("who", f"expected client or server, got {table['who']!r}")
        kw["who"] = table["who"]
    if "content" in table:
        c = str(table["content"]).lower()
        if c not in CONTENTS and c not in _KINDS:
            known = ", ".join((*CONTENTS, *_KINDS))
            raise FaultRuleError("content", f"expected one of {known}, got {table['content']!r}")
        kw["content"] = c
    if "msg" in table:
        kw["msg"] = _msg_type(table["msg"])
    if "flight" in table:
        kw["flight"] = _as_int("flight", table["flight"])
    if "encrypted" in table:
        v = table["encrypted"]
        if v in (True, 1, "1", "true", "yes"):
            kw["encrypted"] = True
        elif v in (False, 0, "0", "false", "no"):
            kw["encrypted"] = False
        else:
            raise FaultRuleError("encrypted", f"expected 0 or 1, got {v!r}")
    if "copy" in table:
        v = table["copy"]
        if v in ("first", "retransmission"):
            kw["copy"] = v
        else:
            n = _as_int("copy", v)
            if n < 1:
                raise FaultRuleError("copy", "expected first, retransmission or a number >= 1")
            kw["copy"] = n
    if "nth" in table:
        kw["nth"] = max(1, _as_int("nth", table["nth"]))
    if "reencrypt" in table:
        v = table["reencrypt"]
        if v not in (True, False, 1, 0, "1", "0", "true", "false", "yes", "no"):
            raise FaultRuleError("reencrypt", f"expected 0 or 1, got {v!r}")
        kw["reencrypt"] = v in (True, 1, "1", "true", "yes")
    if "count" in table:
        v = table["count"]
        kw["count"] = None if v == "always" else _as_int("count", v)
    if "ms" in table:
        kw["ms"] = _as_int("ms", table["ms"])
    elif action == "delay":
        raise FaultRuleError("ms", "delay needs ms=MILLISECONDS")
    if "offset" in table:
        kw["offset"] = _as_int("offset", table["offset"], signed=True)
    if "xor" in table:
        x = _as_int("xor", table["xor"])
        if not 1 <= x <= 255:
            raise FaultRuleError("xor", f"expected 1..255, got {x}")
        kw["xor"] = x
    if "bytes" in table:
        kw["bytes"] = _as_int("bytes", table["bytes"])
    if "p" in table:
        v = table["p"]
        try:
            p = float(v)
        except (TypeError, ValueError):
            raise FaultRuleError("p", f"expected a probability 0..1, got {v!r}") from None
        if not 0.0 <= p <= 1.0:
            raise FaultRuleError("p", f"expected a probability 0..1, got {v!r}")
        kw["p"] = p
    _path_keys(action, table, kw)
    if "count" not in table and action in ALWAYS_BY_DEFAULT:
        kw["count"] = None
    text = ",".join(f"{k}={_render(table[k])}" for k in table)
    return FaultRule(text=text, **kw)


def _as_float(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise FaultRuleError(key, f"expected a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise FaultRuleError(key, f"expected a number, got {value!r}") from None
    if not out >= 0:
        raise FaultRuleError(key, f"expected a number >= 0, got {value!r}")
    return out


def _path_keys(action: str, table: Mapping[str, Any], kw: dict[str, Any]) -> None:
    """The keys of the path actions (blackhole, reorder, refragment, coalesce, loss,
    rate, jitter) and the time window."""
    if "from" in table:
        kw["t_from"] = _as_float("from", table["from"])
    if "until" in table:
        kw["t_until"] = _as_float("until", table["until"])
    if "above" in table:
        kw["above"] = _as_int("above", table["above"])
    elif action == "blackhole":
        raise FaultRuleError("above", "blackhole needs above=BYTES (the largest datagram "
                             "that still passes)")
    if "icmp" in table:
        v = table["icmp"]
        if v not in (True, False, 1, 0, "1", "0", "true", "false", "yes", "no"):
            raise FaultRuleError("icmp", f"expected 0 or 1, got {v!r}")
        kw["icmp"] = v in (True, 1, "1", "true", "yes")
    if "after" in table:
        n = _as_int("after", table["after"])
        if n < 1:
            raise FaultRuleError("after", "expected a number of datagrams >= 1")
        kw["after"] = n
    elif action == "reorder" and "ms" not in table and "flight" not in table:
        kw["after"] = 1
    if "size" in table:
        n = _as_int("size", table["size"])
        if action == "refragment" and n < MIN_SIZE:
            raise FaultRuleError("size", f"expected at least {MIN_SIZE} bytes (a record and "
                                 "a handshake header and one body byte)")
        kw["size"] = n
    elif action == "refragment":
        raise FaultRuleError("size", "refragment needs size=BYTES (the largest record)")
    elif action == "coalesce":
        kw["size"] = 65507
    if "burst" in table:
        b = _as_float("burst", table["burst"])
        if b < 1:
            raise FaultRuleError("burst", "expected a mean burst length >= 1 datagram")
        kw["burst"] = b
    if action == "loss" and "p" not in table:
        raise FaultRuleError("p", "loss needs p=PROBABILITY (the long-run loss rate)")
    if action == "loss" and kw.get("burst") is not None and kw.get("p", 0) >= 1:
        raise FaultRuleError("p", "with burst=, p must be below 1")
    if "kbps" in table:
        r = _as_float("kbps", table["kbps"])
        if r <= 0:
            raise FaultRuleError("kbps", "expected a rate > 0")
        kw["kbps"] = r
    elif action == "rate":
        raise FaultRuleError("kbps", "rate needs kbps=KILOBITS_PER_SECOND")
    if "queue" in table:
        kw["queue"] = _as_int("queue", table["queue"])
    if action == "jitter" and "ms" not in table:
        raise FaultRuleError("ms", "jitter needs ms=MILLISECONDS (the largest extra delay)")


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _msg_type(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        for name, num in HANDSHAKE_TYPES.items():
            if name.lower() == value.lower():
                return num
    raise FaultRuleError("msg", f"unknown handshake message {value!r} (e.g. CertificateVerify)")


def parse_rule(text: str) -> FaultRule:
    """Parse the ``--fault`` syntax: ``key=value,key=value,...``."""
    table: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise FaultRuleError(part, "expected key=value")
        key, value = part.split("=", 1)
        key = key.strip()
        if key in table:
            raise FaultRuleError(key, "given twice")
        table[key] = value.strip()
    return rule_from_mapping(table)


def msg_name(msg_type: int) -> str:
    """RFC name of a handshake type number (or ``handshake(N)``)."""
    found = registry.HANDSHAKE_TYPES.get(msg_type)
    return found if found is not None else f"handshake({msg_type})"


# -------------------------------------------------------------------- engine


@dataclass(frozen=True, slots=True)
class Emission:
    """One datagram to send as the outcome of the rules: after ``delay`` seconds."""

    data: bytes
    delay: float = 0.0


@dataclass(slots=True)
class _Unit:
    """A matchable piece of a datagram."""

    content: str
    content_type: int | None
    msg: int | None
    encrypted: bool
    flight: int | None
    copy: int
    start: int
    """Offset in the datagram of the body/payload described by ``body_*``."""
    body_offset: int
    """Where this unit's bytes sit inside the whole message body (fragment_offset)."""
    body_len: int
    """Bytes of the body present here."""
    total_len: int
    """Length of the whole message body (or of the payload)."""
    sealed: _Sealed | None = None
    """A decrypted record's unit: ``start`` is then an offset in its plaintext."""


@dataclass(slots=True)
class _Sealed:
    """How to put a decrypted record back: where it sits and how to encrypt it again."""

    offset: int
    end: int
    plaintext: bytes
    reseal: Any
    """``(new plaintext) -> the record's new bytes``."""
    epoch: int


@dataclass(slots=True)
class _Hold:
    """Datagrams a reorder/coalesce rule keeps back."""

    rule: FaultRule
    side: str
    items: list[bytes]
    deadline: float
    after: int | None
    """Datagrams still to pass before the release (``reorder,after=K``)."""
    flight: int | None
    frame: int
    dir: str
    session: str


@dataclass(frozen=True, slots=True)
class _EventMaker:
    ts: float
    session: str
    frame: int
    dir: str

    def __call__(self, rule: FaultRule, detail: str) -> FaultApplied:
        return FaultApplied(ts=self.ts, session=self.session, rule=rule.name or rule.text,
                            action=rule.action, frame=self.frame, dir=self.dir, detail=detail)


def _ends_flight(units: list[_Unit], flight: int) -> bool:
    """A unit of ``flight`` completes a message that ends a flight."""
    return any(u.flight == flight and u.msg in FLIGHT_ENDS
               and u.body_offset + u.body_len >= u.total_len for u in units)


@dataclass(slots=True)
class _SideState:
    copies: dict[tuple[int, int], int] = field(default_factory=dict)
    encrypted_hs: int = 0
    finished_len: int | None = None
    """Length of this side's first encrypted handshake record of epoch 1 (its Finished)."""
    appdata: bool = False
    finished13: bool = False


@dataclass(slots=True)
class _Hellos:
    """What the engine learns from the plaintext hellos (for keys and flight numbers)."""

    client_random: bytes | None = None
    server_random: bytes | None = None
    suite: int | None = None
    version: int | None = None
    etm: bool = False
    resumption: bool = False


class FaultEngine:
    """Applies rules to the datagrams of one call (keeps the roles and copy counters).

    ``apply`` returns what to send (nothing when dropped) and the FaultApplied events.
    It never raises on bad input: undecodable datagrams only match ``content=``
    rules on their RFC 7983 class.
    """

    def __init__(self, rules: tuple[FaultRule, ...] | list[FaultRule], seed: int = 0,
                 secrets: KeyLog | None = None) -> None:
        self.rules = tuple(rules)
        self.secrets = secrets
        """Key logs: encrypted messages are matched and altered inside their records."""
        self._hellos = _Hellos()
        self._protection: Protection | None = None
        self._keys12: ConnectionKeys | None = None
        self._inner = secrets is not None and any(
            r.msg is not None or r.content in ("alert", "ack", "handshake", "appdata")
            or r.reencrypt for r in self.rules)
        self._rng = random.Random(seed)
        self._matches = [0] * len(self.rules)
        self._fired = [0] * len(self.rules)
        self._roles: dict[str, str] = {}
        self._sides: dict[str, _SideState] = {}
        self._hello_flight: dict[tuple[str, int], int] = {}
        self._hvr_seen = False
        self._t0: float | None = None
        self._holds: dict[tuple[int, str], _Hold] = {}
        self._bad: dict[int, bool] = {}
        self._busy: dict[tuple[int, str], float] = {}
        self._numbers: dict[str, reshape.Renumber] = {}
        self._renumber = any(r.action == "refragment" for r in self.rules)
        """Re-cut records need new epoch 0 sequence numbers (see reshape.Renumber)."""
        self.reshapes = any(r.action in ("refragment", "coalesce", "reorder")
                            for r in self.rules)
        """Datagrams may leave in another shape or order than they came."""
        self.held = False
        """The last datagram given to :meth:`apply` was held (it goes out later)."""
        self.lost = ""
        """The path fault (blackhole, loss, rate) that lost the last datagram, or ''."""
        self.icmp_too_big = 0
        """Datagrams a ``blackhole,icmp=1`` rule lost that would have had an ICMP too big."""

    def role_of(self, side: str) -> str | None:
        """``client``/``server`` for a side once the handshake told us."""
        return self._roles.get(side)

    def _set_role(self, side: str, role: str) -> None:
        if side not in self._roles:
            self._roles[side] = role
            for other in self._sides:
                if other != side and other not in self._roles:
                    self._roles[other] = "server" if role == "client" else "client"

    def apply(
        self,
        data: bytes,
        side: str,
        *,
        label: str = "",
        frame: int = 0,
        ts: float = 0.0,
        session: str = "",
        dir: str = "",
    ) -> tuple[list[Emission], list[FaultApplied]]:
        """Run the rules over one datagram received on ``side`` (label ``label``).

        The emissions are what to send now (or after their delay), in order: datagrams
        held earlier (``reorder``, ``coalesce``) are among them when this one releases
        them. :attr:`held` says whether this datagram was held; :attr:`lost` names the
        path fault that lost it."""
        self.held = False
        self.lost = ""
        if self._t0 is None:
            self._t0 = ts
        self._sides.setdefault(side, _SideState())
        units = self._units(data, side)
        role = self._roles.get(side)
        out = [Emission(data)]
        events: list[FaultApplied] = []
        before: list[Emission] = []
        after: list[Emission] = []
        ev = _EventMaker(ts, session, frame, dir or side)
        for i, rule in enumerate(self.rules):
            if not out:
                break
            if rule.side is not None and rule.side not in (side, label):
                continue
            if rule.who is not None and rule.who != role:
                continue
            if not self._in_window(rule, ts):
                continue
            unit = next((u for u in units if _unit_matches(rule, u)), None)
            hold = self._holds.get((i, side))
            if hold is not None and hold.flight is not None:
                if unit is not None:  # the held flight goes on: join it
                    hold.items.append(data)
                    self.held = True
                    out = []
                    if _ends_flight(units, hold.flight):
                        after.extend(self._release(hold, ev, events, "its last datagram"))
                    continue
                before.extend(self._release(hold, ev, events, "a datagram of another "
                                            "flight came"))
            if unit is None:
                continue
            if rule.action == "blackhole" and len(data) <= rule.above:
                continue
            self._matches[i] += 1
            if self._matches[i] < rule.nth:
                continue
            if rule.count is not None and self._fired[i] >= rule.count:
                continue
            if rule.action == "loss":
                if not self._lose(i, rule):
                    continue
            elif rule.p < 1.0 and self._rng.random() >= rule.p:
                continue
            self._fired[i] += 1
            if rule.action in HOLD_ACTIONS:
                self._hold(i, rule, side, data, ts, ev, events)
                out = []
                self.held = True
                if rule.flight is not None and _ends_flight(units, rule.flight):
                    after.extend(self._release(self._holds[(i, side)], ev, events,
                                               "the flight is in one datagram"))
                continue
            out, detail = self._act_path(i, rule, unit, out, side, ts, data)
            if not out and rule.action in PATH_ACTIONS:
                self.lost = rule.name or rule.text
            events.append(ev(rule, detail))
        if out and not self.held:  # it passed: the datagrams waiting for K later ones
            for key, hold in list(self._holds.items()):
                if key[1] == side and hold.after is not None:
                    hold.after -= 1
                    if hold.after <= 0:
                        after.extend(self._release(hold, ev, events,
                                                   f"{hold.rule.after} later datagram(s) "
                                                   "passed"))
        emitted = [*before, *out, *after]
        if self._renumber and emitted:
            num = self._numbers.setdefault(side, reshape.Renumber())
            emitted = [Emission(num(e.data), e.delay) for e in emitted]
        return emitted, events

    # ---------------------------------------------------------------- path actions

    def _in_window(self, rule: FaultRule, ts: float) -> bool:
        if rule.t_from is None and rule.t_until is None:
            return True
        t = ts - (self._t0 if self._t0 is not None else ts)
        if rule.t_from is not None and t < rule.t_from:
            return False
        return rule.t_until is None or t < rule.t_until

    def _lose(self, i: int, rule: FaultRule) -> bool:
        """``loss``: independent with probability p, or a two-state Gilbert-Elliott chain
        (the bad state loses everything, the good state nothing) whose bursts last
        ``burst`` datagrams on average and whose long-run loss rate is p."""
        if rule.burst is None:
            return self._rng.random() < rule.p
        leave_bad = 1.0 / rule.burst
        enter_bad = rule.p * leave_bad / (1.0 - rule.p)
        draw = self._rng.random()
        bad = draw >= leave_bad if self._bad.get(i, False) else draw < enter_bad
        self._bad[i] = bad
        return bad

    def _act_path(self, i: int, rule: FaultRule, u: _Unit, out: list[Emission], side: str,
                  ts: float, data: bytes) -> tuple[list[Emission], str]:
        what = msg_name(u.msg) if u.msg is not None else u.content
        a = rule.action
        if a == "blackhole":
            self.icmp_too_big += rule.icmp
            icmp = (f"; would be ICMP too big (fragmentation needed, MTU {rule.above}) "
                    f"#{self.icmp_too_big}" if rule.icmp else "")
            return [], (f"lost {len(data)}-byte datagram ({what}): the path drops datagrams "
                        f"over {rule.above} bytes{icmp}")
        if a == "loss":
            how = f"burst state, mean burst {rule.burst:g}" if rule.burst else f"p={rule.p:g}"
            return [], f"lost datagram ({what}; {how})"
        if a == "rate":
            key = (i, side)
            rate = rule.kbps * 125.0  # bytes per second
            busy = max(self._busy.get(key, ts), ts)
            backlog = (busy - ts) * rate
            if backlog + len(data) > rule.queue:
                return [], (f"queue full: lost {len(data)}-byte datagram ({what}; "
                            f"{backlog:.0f} bytes queued at {rule.kbps:g} kbit/s, limit "
                            f"{rule.queue})")
            busy += len(data) / rate
            self._busy[key] = busy
            wait = busy - ts
            return ([Emission(e.data, e.delay + wait) for e in out],
                    f"queued {what} {wait * 1000:.1f} ms at {rule.kbps:g} kbit/s")
        if a == "jitter":
            extra = self._rng.uniform(0, rule.ms) / 1000
            return ([Emission(e.data, e.delay + extra) for e in out],
                    f"jitter: delayed {what} by {extra * 1000:.1f} ms (up to {rule.ms} ms)")
        if a == "refragment":
            only = rule.msg
            emitted: list[Emission] = []
            n_cut = 0
            for e in out:
                recs, cut = reshape.recut(e.data, rule.size, only)
                n_cut += cut
                emitted.extend(Emission(d, e.delay) for d in reshape.pack(recs, rule.size))
            sizes = ", ".join(str(len(e.data)) for e in emitted)
            return emitted, (f"re-cut {n_cut} handshake fragment(s) ({what}) into records of "
                             f"at most {rule.size} bytes: {len(emitted)} datagram(s) of "
                             f"{sizes} bytes")
        return _act(rule, u, out)

    def _hold(self, i: int, rule: FaultRule, side: str, data: bytes, ts: float,
              ev: _EventMaker, events: list[FaultApplied]) -> None:
        """``reorder`` / ``coalesce``: keep the datagram until its release."""
        ms = rule.ms if rule.ms else DEFAULT_HOLD_MS
        if rule.action == "coalesce" and not rule.ms:
            ms = 20
        hold = _Hold(rule, side, [data], ts + ms / 1000,
                     rule.after if rule.action == "reorder" and rule.flight is None else None,
                     rule.flight, ev.frame, ev.dir, ev.session)
        if rule.action == "coalesce" and rule.flight is None:
            hold.after = None
        self._holds[(i, side)] = hold
        what = f"flight {rule.flight}" if rule.flight is not None else f"{len(data)}-byte datagram"
        if rule.action == "reorder":
            until = (f"until {hold.after} later datagram(s) passed" if hold.after
                     else "and release it reversed" if rule.flight is not None
                     else f"for {ms} ms while later ones pass")
            events.append(ev(rule, f"held {what} {until}"))
        else:
            events.append(ev(rule, f"held {what} to pack with the next records"))

    def _release(self, hold: _Hold, ev: _EventMaker, events: list[FaultApplied],
                 why: str) -> list[Emission]:
        """Release a hold: its datagrams (reversed for a held flight, packed for
        ``coalesce``) and the event that says so."""
        key = next(k for k, h in self._holds.items() if h is hold)
        del self._holds[key]
        rule = hold.rule
        items = hold.items
        if rule.action == "coalesce":
            recs = [r for d in items for r in reshape.records(d)]
            packed = reshape.pack(recs, rule.size)
            detail = (f"packed {len(recs)} records of {len(items)} datagram(s) into "
                      f"{len(packed)} datagram(s) of {', '.join(str(len(d)) for d in packed)} "
                      f"bytes ({why})")
            out = [Emission(d) for d in packed]
        elif rule.flight is not None:
            # the flight reversed: its datagrams, or the records of a one-datagram flight
            # (each then in a datagram of its own)
            parts = items if len(items) > 1 else reshape.records(items[0])
            what = "datagram" if len(items) > 1 else "record"
            detail = (f"released flight {rule.flight} reversed: {len(parts)} {what}(s), last "
                      f"first ({why})")
            out = [Emission(d) for d in reversed(parts)]
        else:
            detail = f"released {len(items)} held datagram(s) ({why})"
            out = [Emission(d) for d in items]
        events.append(FaultApplied(ts=ev.ts, session=ev.session or hold.session,
                                   rule=rule.name or rule.text, action=rule.action,
                                   frame=ev.frame, dir=ev.dir or hold.dir, detail=detail))
        return out

    def next_due(self) -> float | None:
        """When the earliest held datagram must go out at the latest (None: none held)."""
        return min((h.deadline for h in self._holds.values()), default=None)

    def due(self, now: float) -> list[tuple[str, list[Emission], list[FaultApplied]]]:
        """Release the holds whose time is up: ``(side received on, emissions, events)``."""
        out = []
        for hold in [h for h in self._holds.values() if h.deadline <= now]:
            events: list[FaultApplied] = []
            ev = _EventMaker(now, hold.session, hold.frame, hold.dir)
            emitted = self._release(hold, ev, events, "its time was up")
            if self._renumber:
                num = self._numbers.setdefault(hold.side, reshape.Renumber())
                emitted = [Emission(num(e.data), e.delay) for e in emitted]
            out.append((hold.side, emitted, events))
        return out

    def _units(self, data: bytes, side: str) -> list[_Unit]:
        kind = classify(data)
        if kind != DTLS:
            return [_Unit(kind, None, None, False, None, 1, 0, 0, len(data), len(data))]
        st = self._sides[side]
        units: list[_Unit] = []
        for rec in parse_records(data):
            if not isinstance(rec, Record):
                continue
            encrypted = rec.unified or rec.epoch > 0
            ctype = rec.content_type
            inside = self._inside(data, rec, side, st) if encrypted and self._inner else []
            units.extend(inside)
            if ctype == 22 and not encrypted:
                try:
                    frags = parse_fragments(rec.fragment, rec.payload_offset)
                except DecodeError:
                    frags = []
                for fr in frags:
                    self._hello(fr)
                    f = self._flight_of(side, fr)
                    key = (fr.message_seq, fr.fragment_offset)
                    st.copies[key] = st.copies.get(key, 0) + 1
                    units.append(
                        _Unit("handshake", 22, fr.msg_type, False, f, st.copies[key],
                              fr.offset + 12, fr.fragment_offset, fr.fragment_length, fr.length)
                    )
                continue
            msg: int | None = None
            copy = 1
            f = None
            # the Finished and its copies: the first epoch-1 handshake records, and later
            # ones of the same length (a server that already sends application data still
            # retransmits its Finished; a renegotiation's messages are longer)
            finished_copy = (ctype == 22 and rec.epoch == 1 and not rec.unified
                             and st.finished_len == len(rec.fragment))
            if ctype == 22 and encrypted and (not st.appdata or finished_copy):
                st.encrypted_hs += 1
                msg, copy = 20, st.encrypted_hs
                if st.finished_len is None and rec.epoch == 1:
                    st.finished_len = len(rec.fragment)
            elif ctype == 23:
                st.appdata = True
            role = self._roles.get(side)
            if ctype in (20, 22) and role is not None:
                f = 5 if role == "client" else 6
            name = next((n for n, t in CONTENTS.items() if t == ctype), "dtls")
            if rec.unified and inside:
                name = "dtls"  # its real content type is the inner units'
            n = len(rec.fragment)
            units.append(
                _Unit(name, ctype, msg, encrypted, f, copy, rec.payload_offset, 0, n, n)
            )
        return units

    def _hello(self, fr: HandshakeFragment) -> None:
        """Take the randoms, suite and version from the plaintext hellos."""
        h = self._hellos
        if fr.msg_type == 1 and fr.fragment_offset == 0 and len(fr.body) >= 34:
            h.client_random = fr.body[2:34]
        elif fr.msg_type == 2 and fr.whole:
            try:
                body = parse_body(2, fr.body)
            except DecodeError:
                return
            if isinstance(body, ServerHello) and body.random != HRR_RANDOM:
                h.server_random = body.random
                h.suite = body.cipher_suite
                h.version = body.selected_version()
                h.etm = body.extension(22) is not None
                h.resumption = (body.extension(41) is not None if h.version == DTLS13
                                else False)
                self._protection = None
                self._keys12 = None

    def _flight_of(self, side: str, fr: HandshakeFragment) -> int | None:
        t = fr.msg_type
        if t == 1:
            self._set_role(side, "client")
            key = (side, fr.message_seq)
            if fr.fragment_offset == 0:
                self._hello_flight[key] = 3 if _has_cookie(fr) or self._hvr_seen else 1
            return self._hello_flight.get(key, 3 if self._hvr_seen else 1)
        if t in (2, 3):
            self._set_role(side, "server")
            hrr = t == 2 and fr.fragment_offset == 0 and fr.body[2:34] == HRR_RANDOM
            if t == 3 or hrr:
                self._hvr_seen = True
                return 2
            return 2 if self._hellos.resumption else 4
        role = self._roles.get(side)
        if role == "server" and t in _SERVER_FLIGHT4:
            return 4
        if role == "client" and t in _CLIENT_FLIGHT5:
            return 5
        if t == 4:
            return 6
        return None


    def _flight13(self, side: str, msg_type: int) -> int | None:
        """A DTLS 1.3 encrypted message's flight (RFC 9147 §5.6)."""
        role = self._roles.get(side)
        st = self._sides[side]
        resumed = self._hellos.resumption
        if role == "server" and msg_type in _SERVER_FLIGHT4_13 and not st.finished13:
            return 2 if resumed else 4
        if role == "client" and msg_type in _CLIENT_FLIGHT5_13 and not st.finished13:
            return 3 if resumed else 5
        return None

    # ---------------------------------------------------------------- decryption

    def _open13(self) -> Protection | None:
        h = self._hellos
        if self._protection is None and self.secrets is not None and h.client_random:
            suite = tls13.suite(h.suite or 0)
            if suite is not None:
                self._protection = Protection(self.secrets.secret, h.client_random, suite)
        return self._protection

    def _open12(self) -> ConnectionKeys | None:
        h = self._hellos
        if self._keys12 is None and self.secrets is not None and h.client_random \
                and h.server_random and h.suite is not None:
            ms = self.secrets.master_secret(h.client_random)
            params = cipher_params(h.suite)
            if ms is not None and params is not None and params.mode != "null":
                self._keys12 = key_block(ms, h.client_random, h.server_random, params,
                                         dtls10=h.version == DTLS10, encrypt_then_mac=h.etm)
        return self._keys12

    def _inside(self, data: bytes, rec: Record, side: str, st: _SideState) -> list[_Unit]:
        """Units inside an encrypted record that the key log opens (none otherwise)."""
        role = self._roles.get(side)
        if role is None:
            return []
        if rec.unified:
            prot = self._open13()
            if prot is None:
                return []
            header = data[rec.offset:rec.payload_offset]
            cid_len = len(rec.cid or b"")
            try:
                opened = prot.open(role, rec, header, cid_len, 0.0)
            except (AuthenticationFailed, DecodeError):
                return []
            if opened is None:
                return []
            keys = prot.keys(role, opened.epoch, 0.0)
            assert keys is not None

            def reseal13(plain: bytes, k: tls13.TrafficKeys = keys,
                         o: tls13.Unprotected = opened) -> bytes:
                return tls13.reprotect(k, header, cid_len, o, plain)

            sealed = _Sealed(rec.offset, rec.end, opened.content, reseal13, opened.epoch)
            return self._inner_units(side, st, opened.content_type, opened.content, sealed,
                                     dtls13=True)
        if rec.content_type != 22 or not any(r.reencrypt for r in self.rules):
            return []
        keys12 = self._open12()
        if keys12 is None:
            return []
        try:
            plain = decrypt_record(keys12, role, 22, rec.version, rec.epoch, rec.sequence,
                                   rec.fragment)
        except (AuthenticationFailed, DecodeError):
            return []

        def reseal12(new: bytes, k: ConnectionKeys = keys12, r: Record = rec) -> bytes:
            frag = encrypt_record(k, role, 22, r.version, r.epoch, r.sequence, new,
                                  r.fragment)
            return data[r.offset:r.offset + 11] + len(frag).to_bytes(2, "big") + frag

        sealed = _Sealed(rec.offset, rec.end, plain, reseal12, rec.epoch)
        return self._inner_units(side, st, 22, plain, sealed, dtls13=False)

    def _inner_units(self, side: str, st: _SideState, ctype: int, plain: bytes,
                     sealed: _Sealed, *, dtls13: bool) -> list[_Unit]:
        name = next((n for n, t in CONTENTS.items() if t == ctype), "dtls")
        if ctype != 22:
            n = len(plain)
            return [_Unit(name, ctype, None, True, None, 1, 0, 0, n, n, sealed)]
        try:
            frags = parse_fragments(plain, 0)
        except DecodeError:
            return []
        units = []
        for fr in frags:
            if dtls13:
                f = self._flight13(side, fr.msg_type)
                if fr.msg_type == 20 and fr.fragment_offset + fr.fragment_length == fr.length:
                    st.finished13 = True
            else:
                f = 5 if self._roles.get(side) == "client" else 6
            key = (fr.message_seq, fr.fragment_offset)
            st.copies[key] = st.copies.get(key, 0) + 1
            units.append(_Unit("handshake", 22, fr.msg_type, True, f, st.copies[key],
                               fr.offset + 12, fr.fragment_offset, fr.fragment_length,
                               fr.length, sealed))
        return units


def _has_cookie(fr: HandshakeFragment) -> bool:
    """A ClientHello first fragment whose cookie is non-empty (flight 3)."""
    b = fr.body
    if fr.fragment_offset != 0 or len(b) < 35:
        return False
    sid_len = b[34]
    at = 35 + sid_len
    return len(b) > at and b[at] > 0


def _target(rule: FaultRule, u: _Unit) -> int | None:
    """Offset in the datagram of the byte a corrupt rule flips in unit ``u``, if here."""
    off = rule.offset if rule.offset is not None else 0
    t = off if off >= 0 else u.total_len + off
    if not 0 <= t < u.total_len:
        return None
    if not u.body_offset <= t < u.body_offset + u.body_len:
        return None
    return u.start + (t - u.body_offset)


def _corrupt_inside(rule: FaultRule, u: _Unit, sealed: _Sealed, pos: int,
                    out: list[Emission], what: str) -> tuple[list[Emission], str]:
    """Flip a byte of a decrypted record's plaintext and encrypt the record again."""
    plain = bytearray(sealed.plaintext)
    old = plain[pos]
    plain[pos] ^= rule.xor
    record = sealed.reseal(bytes(plain))
    emitted = [Emission(e.data[:sealed.offset] + record + e.data[sealed.end:], e.delay)
               for e in out]
    off = rule.offset if rule.offset is not None else 0
    body = "body" if u.msg is not None else "content"
    return emitted, (
        f"decrypted the epoch {sealed.epoch} record, flipped byte {off} of the {what} {body} "
        f"(0x{old:02x} -> 0x{old ^ rule.xor:02x}) and encrypted it again (the record "
        "authenticates; the message is wrong)")


def _unit_matches(rule: FaultRule, u: _Unit) -> bool:
    if (
        rule.content is not None
        and rule.content != u.content
        and not (rule.content == "dtls" and u.content_type is not None)
    ):
        return False
    if rule.msg is not None and rule.msg != u.msg:
        return False
    if rule.encrypted is not None and rule.encrypted != u.encrypted:
        return False
    if rule.reencrypt and u.sealed is None:
        return False
    if rule.flight is not None and rule.flight != u.flight:
        return False
    if rule.copy is not None:
        if rule.copy == "first" and u.copy != 1:
            return False
        if rule.copy == "retransmission" and u.copy < 2:
            return False
        if isinstance(rule.copy, int) and u.copy != rule.copy:
            return False
    return not (rule.action == "corrupt" and _target(rule, u) is None)


def _act(rule: FaultRule, u: _Unit, out: list[Emission]) -> tuple[list[Emission], str]:
    what = msg_name(u.msg) if u.msg is not None else u.content
    if rule.action == "drop":
        return [], f"dropped datagram ({what})"
    if rule.action == "duplicate":
        return [*out, *out], f"sent {what} twice"
    if rule.action == "delay":
        return (
            [Emission(e.data, e.delay + rule.ms / 1000) for e in out],
            f"delayed {what} by {rule.ms} ms",
        )
    if rule.action == "truncate":
        n = rule.bytes
        return (
            [Emission(e.data[: max(0, len(e.data) - n)], e.delay) for e in out],
            f"cut {n} bytes off the end ({what})",
        )
    pos = _target(rule, u)
    assert pos is not None  # _unit_matches checked it
    if u.sealed is not None:
        return _corrupt_inside(rule, u, u.sealed, pos, out, what)
    emitted = []
    for e in out:
        buf = bytearray(e.data)
        if pos < len(buf):
            buf[pos] ^= rule.xor
        emitted.append(Emission(bytes(buf), e.delay))
    off = rule.offset if rule.offset is not None else 0
    body = "body" if u.msg is not None and not u.encrypted else "payload"
    old = out[0].data[pos] if pos < len(out[0].data) else 0
    return emitted, (
        f"flipped byte {off} of the {what} {body} (datagram offset {pos}: "
        f"0x{old:02x} -> 0x{old ^ rule.xor:02x})"
    )
