"""Typed configuration of ``dtlsproxy run``: TOML file + command-line flags.

:func:`load_toml` reads a file, :func:`from_mapping` validates a parsed mapping,
:func:`apply_flags` lays command-line values over it. Every problem raises
:class:`ConfigError` whose message names the key, e.g.
``config error: [relay] side_a: expected "HOST:PORT", got 5000``; the CLI prints
that one line and exits 2. The schema is documented in ``docs/config.md``.
"""

from __future__ import annotations

import ipaddress
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from proxy.events import Address, format_address
from proxy.identify.stacks import StackFileError
from proxy.identify.stacks import load_file as load_stack_file
from proxy.relay.faults import FaultRule, FaultRuleError, rule_from_mapping
from proxy.turn.auth import Credentials
from proxy.turn.policy import PeerPolicy
from proxy.turn.server import Settings as TurnSettings

POLICIES = ("latch-first", "fixed", "allow")
"""Peer policies of a side: latch the first sender, a fixed peer, or an allow-list."""

MODES = ("two-sided", "reverse")
LOOPS = ("auto", "uvloop", "asyncio")
ENGINES = ("protocol", "dgram")

MAX_RCVBUF = 2**31 - 1
"""The largest socket buffer a socket option can ask for (a C int)."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ConfigError(Exception):
    """A config key is unknown, missing or of the wrong type; ``str()`` is the user message."""

    def __init__(self, key: str, message: str) -> None:
        line = f"config error: {key}: {message}"
        if not line.isprintable():  # a key or value with a newline...: still one line
            line = "".join(c if c.isprintable() else c.encode("unicode_escape").decode()
                           for c in line)
        super().__init__(line)
        self.key = key
        self.message = message


# ------------------------------------------------------------------ addresses


def _normalise_host(host: str) -> str:
    if host in ("", "*"):
        return "0.0.0.0"
    if host == "localhost":
        return "127.0.0.1"
    return host


def parse_address(text: str, *, allow_port_zero: bool = True) -> Address:
    """``HOST:PORT`` or ``[V6]:PORT`` -> ``(host, port)``. Raises ValueError."""
    host, port_text = _split_host_port(text)
    port = _parse_port(port_text)
    if port == 0 and not allow_port_zero:
        raise ValueError("port 0 is not a peer port")
    return (_check_host(host), port)


def parse_address_range(text: str) -> list[Address]:
    """``HOST:PORT`` or ``HOST:FIRST-LAST`` (a port range: one socket per port)."""
    host, port_text = _split_host_port(text)
    if "-" in port_text:
        lo_text, hi_text = port_text.split("-", 1)
        lo, hi = _parse_port(lo_text), _parse_port(hi_text)
        if lo == 0 or hi < lo:
            raise ValueError(f"bad port range {port_text!r}")
        if hi - lo >= 4096:
            raise ValueError("port range longer than 4096")
        return [(_check_host(host), p) for p in range(lo, hi + 1)]
    return [(_check_host(host), _parse_port(port_text))]


def _split_host_port(text: str) -> tuple[str, str]:
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            raise ValueError("expected [V6]:PORT")
        return text[1:end], text[end + 2 :]
    if text.count(":") != 1:
        raise ValueError("expected HOST:PORT (IPv6 as [V6]:PORT)")
    host, port = text.split(":")
    return host, port


def _parse_port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"bad port {text!r}")
    return int(text)


def _check_host(host: str) -> str:
    host = _normalise_host(host)
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address") from None


def parse_network(text: str) -> Network | Address:
    """An allow-list entry: ``10.0.0.0/8``, ``::1``, ``192.0.2.7`` or ``192.0.2.7:5000``."""
    text = text.strip()
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    return parse_address(text, allow_port_zero=False)


# --------------------------------------------------------------------- config


@dataclass(frozen=True, slots=True)
class SideConfig:
    """One socket of a call: where it binds and who may talk to it."""

    bind: Address
    label: str
    peer: Address | None = None
    """The peer's address when fixed; None = latched from the first datagram."""
    policy: str = "latch-first"
    allow: tuple[Network | Address, ...] = ()
    """Allowed sources (policy ``allow``): networks, hosts or host:port."""


@dataclass(frozen=True, slots=True)
class CallConfig:
    """One pair of sockets relaying one call: side A <-> side B."""

    name: str
    a: SideConfig
    b: SideConfig


TURN_TRANSPORTS = ("udp", "tcp")


@dataclass(frozen=True, slots=True)
class TurnConfig:
    """TURN mode (``[turn]``, ``--turn``): dtlsproxy as the browser's TURN server."""

    listen: tuple[Address, ...]
    """Where clients reach the TURN port (UDP and/or TCP on each)."""
    relay_ips: tuple[str, ...]
    """The addresses relayed addresses are on (one per family); peers send to them."""
    settings: TurnSettings
    transports: tuple[str, ...] = TURN_TRANSPORTS
    relay_ports: tuple[int, int] = (49152, 65535)
    """Port range of the relay sockets (open it in the firewall, with the listen port)."""


@dataclass(frozen=True, slots=True, repr=False)
class JanusConfig:
    """``[janus]``, ``--janus-admin``, ``--janus-events``: Janus's own view of its calls."""

    admin_url: str | None = None
    """The Admin API (``http://HOST:7088/admin``), polled for every handle's SDPs and state."""
    admin_secret: str | None = None
    """Janus's ``admin_secret`` (never logged)."""
    poll_every: float = 2.0
    """Seconds between two sweeps of the Admin API (and at once on a new call's STUN)."""
    max_rate: float = 20.0
    """Admin API requests per second at most."""
    events: Address | None = None
    """Where the receiver for Janus's sample event handler listens (``HOST:PORT``)."""
    events_credentials: tuple[str, str] | None = None
    """(user, password) the handler must send (its ``backend_user``/``backend_pwd``)."""

    def __repr__(self) -> str:
        return (f"JanusConfig(admin_url={self.admin_url!r}, events={self.events!r}, "
                f"secret={'set' if self.admin_secret else 'none'})")


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """Everything ``dtlsproxy run`` needs; built from TOML and flags."""

    mode: str = "two-sided"
    calls: tuple[CallConfig, ...] = ()
    listen: Address | None = None
    upstream: Address | None = None
    idle_timeout: float = 60.0
    """Reverse mode: close a client's upstream socket after this many idle seconds."""
    max_sessions: int = 1000
    """Reverse mode: cap on concurrent clients (further clients are refused, reported)."""
    silence_after: float = 10.0
    """Warn when a side has received nothing for this many seconds (0 = never)."""
    rcvbuf: int = 4 * 1024 * 1024
    """SO_RCVBUF/SO_SNDBUF asked of the kernel (what it granted is reported)."""
    loop: str = "auto"
    engine: str = "protocol"
    """``protocol`` (DatagramProtocol fast path) or ``dgram`` (asyncio-dgram recv/send loop)."""
    decode: bool = True
    """Feed the Tracker (False only for benchmarks of the bare relay)."""
    faults: tuple[FaultRule, ...] = ()
    fault_seed: int = 0
    log_file: Path | None = None
    log_max_bytes: int = 100 * 1024 * 1024
    log_backups: int = 3
    pcap: Path | None = None
    force: bool = False
    """Replace an existing ``pcap`` (without it, an existing file is refused)."""
    keylog: tuple[Path, ...] = ()
    """Key log files (NSS ``SSLKEYLOGFILE``), followed while they grow."""
    pcap_keys: bool = False
    """Write the key log lines of the captured handshakes into the pcapng (Decryption
    Secrets Blocks: Wireshark opens it decrypted; the file then holds secrets)."""
    sdp: tuple[Path, ...] = ()
    show_payloads: bool = False
    """Data channel messages shown and logged (user data; decrypted with the key log)."""
    headless: bool = False
    fingerprint_files: tuple[Path, ...] = ()
    """``[fingerprints] files``: the user's known-stack entries (docs/stacks.md)."""
    turn: TurnConfig | None = None
    """TURN mode, alone or beside two-sided mode (None: off)."""
    janus: JanusConfig | None = None
    """Janus's Admin API and/or event handler (None: not used)."""
    peer_dumps: tuple[Path, ...] = ()
    """``--peer-dump``: webrtc-internals dumps, about:webrtc exports (``[peers] dumps``)."""


_RELAY_KEYS = {
    "mode": "string: \"two-sided\" or \"reverse\"",
    "side_a": '"HOST:PORT" or "HOST:FIRST-LAST"',
    "side_b": '"HOST:PORT" or "HOST:FIRST-LAST"',
    "peer_a": '"HOST:PORT"',
    "peer_b": '"HOST:PORT"',
    "policy_a": "string",
    "policy_b": "string",
    "allow_a": "list of strings",
    "allow_b": "list of strings",
    "label_a": "string",
    "label_b": "string",
    "listen": '"HOST:PORT"',
    "upstream": '"HOST:PORT"',
    "idle_timeout": "number",
    "max_sessions": "integer",
    "silence_after": "number",
    "rcvbuf": "integer",
    "loop": "string",
    "engine": "string",
    "fault_seed": "integer",
}
_CALL_KEYS = ("name", "side_a", "side_b", "peer_a", "peer_b", "policy_a", "policy_b",
              "allow_a", "allow_b", "label_a", "label_b")
_LOG_KEYS = ("file", "max_bytes", "backups", "pcap", "pcap_keys", "force", "keylog",
             "headless", "show_payloads")
_TOP_KEYS = ("relay", "call", "log", "fault", "sdp", "fingerprints", "turn", "janus", "peers")
_JANUS_KEYS = ("admin_url", "admin_secret", "poll_every", "max_rate", "events",
               "events_secret")
_TURN_KEYS = ("listen", "transports", "users", "realm", "secret", "relay_ip", "relay_ports",
              "allow_loopback_peers", "allowed_peers", "denied_peers", "max_allocations",
              "max_allocations_per_user", "max_permissions", "max_channels",
              "default_lifetime", "max_lifetime", "permission_lifetime", "channel_lifetime",
              "nonce_lifetime")


def _shown(text: str) -> str:
    """A key as an error names it: quoted (as TOML would) when it is not printable."""
    return text if text.isprintable() and text.strip() == text and text else json.dumps(text)


def _type_name(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"' if value.isprintable() else json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class _Section:
    """Typed getters over one TOML table; every error names ``[table] key``."""

    def __init__(
        self, name: str, table: Mapping[str, Any], known: tuple[str, ...],
        flag_names: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.table = table
        self.flag_names = flag_names or {}
        for key in table:
            if key not in known:
                raise ConfigError(
                    self.key(key), f"unknown key (known: {', '.join(sorted(known))})"
                )

    def key(self, key: str) -> str:
        if self.name == "flags":
            return self.flag_names.get(key) or "--" + _shown(key).replace("_", "-")
        return f"[{self.name}] {_shown(key)}"

    def has(self, key: str) -> bool:
        return key in self.table

    def text(
        self, key: str, default: str | None = None, choices: tuple[str, ...] = ()
    ) -> str | None:
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, str):
            raise ConfigError(self.key(key), f"expected a string, got {_type_name(value)}")
        if choices and value not in choices:
            raise ConfigError(
                self.key(key), f"expected one of {', '.join(choices)}, got {_type_name(value)}"
            )
        return value

    def address(self, key: str, *, peer: bool = False) -> Address | None:
        if key not in self.table:
            return None
        value = self.table[key]
        if not isinstance(value, str):
            raise ConfigError(self.key(key), f'expected "HOST:PORT", got {_type_name(value)}')
        try:
            return parse_address(value, allow_port_zero=not peer)
        except ValueError as exc:
            raise ConfigError(
                self.key(key), f'expected "HOST:PORT", got "{value}" ({exc})'
            ) from None

    def addresses(self, key: str) -> list[Address] | None:
        if key not in self.table:
            return None
        value = self.table[key]
        if not isinstance(value, str):
            raise ConfigError(self.key(key), f'expected "HOST:PORT", got {_type_name(value)}')
        try:
            return parse_address_range(value)
        except ValueError as exc:
            raise ConfigError(
                self.key(key), f'expected "HOST:PORT", got "{value}" ({exc})'
            ) from None

    def number(self, key: str, default: float) -> float:
        if key not in self.table:
            return default
        value = self.table[key]
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not 0 <= value < float("inf")):  # also refuses nan (TOML has it)
            raise ConfigError(
                self.key(key), f"expected a finite number >= 0, got {_type_name(value)}"
            )
        return float(value)

    def integer(self, key: str, default: int, most: int | None = None) -> int:
        if key not in self.table:
            return default
        value = self.table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(self.key(key), f"expected an integer >= 0, got {_type_name(value)}")
        if most is not None and value > most:
            raise ConfigError(self.key(key), f"expected at most {most}, got {value}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, bool):
            raise ConfigError(self.key(key), f"expected true or false, got {_type_name(value)}")
        return value

    def path(self, key: str) -> Path | None:
        value = self.text(key)
        return Path(value) if value is not None else None

    def paths(self, key: str) -> tuple[Path, ...]:
        """One path (a string) or several (a list of strings)."""
        value = self.table.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (Path(value),)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(Path(v) for v in value)
        raise ConfigError(self.key(key), f"expected a path or a list of paths, got "
                                         f"{_type_name(value)}")

    def networks(self, key: str) -> tuple[Network | Address, ...]:
        if key not in self.table:
            return ()
        value = self.table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(self.key(key), f"expected a list of strings, got {_type_name(value)}")
        out: list[Network | Address] = []
        for item in value:
            try:
                out.append(parse_network(item))
            except ValueError as exc:
                raise ConfigError(self.key(key), f"bad entry {item!r} ({exc})") from None
        return tuple(out)


def _side(
    sec: _Section, which: str, bind: Address, default_label: str
) -> SideConfig:
    peer = sec.address(f"peer_{which}", peer=True)
    allow = sec.networks(f"allow_{which}")
    default_policy = "fixed" if peer else ("allow" if allow else "latch-first")
    policy = sec.text(f"policy_{which}", default_policy, POLICIES) or default_policy
    if policy == "fixed" and peer is None:
        raise ConfigError(sec.key(f"policy_{which}"), f'"fixed" needs peer_{which}')
    if policy == "allow" and not allow:
        raise ConfigError(sec.key(f"policy_{which}"), f'"allow" needs allow_{which}')
    label = sec.text(f"label_{which}", default_label) or default_label
    return SideConfig(bind=bind, label=label, peer=peer, policy=policy, allow=allow)


def _calls_from(sec: _Section, name: str) -> list[CallConfig]:
    a_list = sec.addresses("side_a")
    b_list = sec.addresses("side_b")
    if a_list is None and b_list is None:
        return []
    if a_list is None or b_list is None:
        missing = "side_b" if b_list is None else "side_a"
        raise ConfigError(sec.key(missing), "missing (side_a and side_b go together)")
    if len(a_list) != len(b_list):
        raise ConfigError(
            sec.key("side_b"),
            f"port range has {len(b_list)} ports but side_a has {len(a_list)}",
        )
    calls = []
    for i, (a, b) in enumerate(zip(a_list, b_list, strict=True)):
        call_name = name if len(a_list) == 1 else f"{name}{i + 1}"
        calls.append(
            CallConfig(
                name=call_name,
                a=_side(sec, "a", a, "a"),
                b=_side(sec, "b", b, "b"),
            )
        )
    return calls


def from_mapping(doc: Mapping[str, Any]) -> RelayConfig:
    """Validate a parsed TOML document into a :class:`RelayConfig`."""
    for key in doc:
        if key not in _TOP_KEYS:
            raise ConfigError(_shown(key),
                              f"unknown table or key (known: {', '.join(_TOP_KEYS)})")
    relay_t = doc.get("relay", {})
    if not isinstance(relay_t, Mapping):
        raise ConfigError("relay", "expected a table [relay]")
    sec = _Section("relay", relay_t, tuple(_RELAY_KEYS))
    calls = _calls_from(sec, "call")
    call_tables = doc.get("call", [])
    if not isinstance(call_tables, list):
        raise ConfigError("call", "expected [[call]] tables")
    for i, t in enumerate(call_tables):
        if not isinstance(t, Mapping):
            raise ConfigError(f"call[{i}]", "expected a table")
        csec = _Section(f"call.{i}", t, _CALL_KEYS)
        name = csec.text("name", f"call{len(calls) + 1}") or "call"
        found = _calls_from(csec, name)
        if not found:
            raise ConfigError(csec.key("side_a"), "missing")
        calls.extend(found)

    log_t = doc.get("log", {})
    if not isinstance(log_t, Mapping):
        raise ConfigError("log", "expected a table [log]")
    lsec = _Section("log", log_t, _LOG_KEYS)

    sdp_t = doc.get("sdp", {})
    if not isinstance(sdp_t, Mapping):
        raise ConfigError("sdp", "expected a table [sdp]")
    ssec = _Section("sdp", sdp_t, ("files",))
    sdp_files: tuple[Path, ...] = ()
    if ssec.has("files"):
        files = sdp_t["files"]
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ConfigError(
                ssec.key("files"), f"expected a list of strings, got {_type_name(files)}"
            )
        sdp_files = tuple(Path(f) for f in files)

    fp_t = doc.get("fingerprints", {})
    if not isinstance(fp_t, Mapping):
        raise ConfigError("fingerprints", "expected a table [fingerprints]")
    fsec = _Section("fingerprints", fp_t, ("files",))
    fp_files: tuple[Path, ...] = ()
    if fsec.has("files"):
        files = fp_t["files"]
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ConfigError(
                fsec.key("files"), f"expected a list of strings, got {_type_name(files)}"
            )
        fp_files = tuple(Path(f) for f in files)
        for f in fp_files:
            try:
                load_stack_file(f)
            except StackFileError as exc:
                raise ConfigError(fsec.key("files"), str(exc)) from None

    fault_tables = doc.get("fault", [])
    if not isinstance(fault_tables, list):
        raise ConfigError("fault", "expected [[fault]] tables")
    faults: list[FaultRule] = []
    for i, t in enumerate(fault_tables):
        if not isinstance(t, Mapping):
            raise ConfigError(f"[[fault]] #{i + 1}", "expected a table")
        try:
            faults.append(rule_from_mapping(t))
        except FaultRuleError as exc:
            raise ConfigError(f"[[fault]] #{i + 1} {exc.key}", exc.message) from None

    turn_t = doc.get("turn")
    turn = None
    if turn_t is not None:
        if not isinstance(turn_t, Mapping):
            raise ConfigError("turn", "expected a table [turn]")
        turn = _turn_from(_Section("turn", turn_t, _TURN_KEYS), turn_t)

    janus_t = doc.get("janus")
    janus = None
    if janus_t is not None:
        if not isinstance(janus_t, Mapping):
            raise ConfigError("janus", "expected a table [janus]")
        janus = _janus_from(_Section("janus", janus_t, _JANUS_KEYS))
    peers_t = doc.get("peers", {})
    if not isinstance(peers_t, Mapping):
        raise ConfigError("peers", "expected a table [peers]")
    dumps = _Section("peers", peers_t, ("dumps",)).paths("dumps")

    mode = sec.text("mode", None, MODES)
    listen = sec.address("listen")
    upstream = sec.address("upstream", peer=True)
    if mode is None:
        mode = "reverse" if (listen or upstream) else "two-sided"
    return RelayConfig(
        mode=mode,
        calls=tuple(calls),
        listen=listen,
        upstream=upstream,
        idle_timeout=sec.number("idle_timeout", 60.0),
        max_sessions=sec.integer("max_sessions", 1000),
        silence_after=sec.number("silence_after", 10.0),
        rcvbuf=sec.integer("rcvbuf", 4 * 1024 * 1024, MAX_RCVBUF),
        loop=sec.text("loop", "auto", LOOPS) or "auto",
        engine=sec.text("engine", "protocol", ENGINES) or "protocol",
        faults=tuple(faults),
        fault_seed=sec.integer("fault_seed", 0),
        log_file=lsec.path("file"),
        log_max_bytes=lsec.integer("max_bytes", 100 * 1024 * 1024),
        log_backups=lsec.integer("backups", 3),
        pcap=lsec.path("pcap"),
        force=lsec.boolean("force", False),
        keylog=lsec.paths("keylog"),
        headless=lsec.boolean("headless", False),
        pcap_keys=lsec.boolean("pcap_keys", False),
        show_payloads=lsec.boolean("show_payloads", False),
        sdp=sdp_files,
        fingerprint_files=fp_files,
        turn=turn,
        janus=janus,
        peer_dumps=dumps,
    )


def _janus_from(sec: _Section, base: JanusConfig | None = None) -> JanusConfig:
    """Validate ``[janus]`` (or the ``--janus*`` flags laid out as one) over ``base``."""
    b = base or JanusConfig()
    url = sec.text("admin_url", b.admin_url)
    if url is not None and not re.match(r"^http://[^/\s]+", url):
        raise ConfigError(sec.key("admin_url"), f"expected an http:// URL such as "
                          f"http://127.0.0.1:7088/admin, got {_type_name(url)}")
    every = sec.number("poll_every", b.poll_every)
    rate = sec.number("max_rate", b.max_rate)
    if every <= 0 or rate <= 0:
        raise ConfigError(sec.key("poll_every" if every <= 0 else "max_rate"),
                          "expected a positive number")
    creds = b.events_credentials
    if sec.has("events_secret"):
        user, sep, pwd = (sec.text("events_secret") or "").partition(":")
        if not sep or not user or not pwd:
            raise ConfigError(sec.key("events_secret"), "expected \"USER:PASSWORD\" (the "
                              "sample event handler's backend_user and backend_pwd; the "
                              "password is not shown here)")
        creds = (user, pwd)
    events = sec.address("events") if sec.has("events") else b.events
    return JanusConfig(url, sec.text("admin_secret", b.admin_secret), every, rate, events,
                       creds)


def _strings(sec: _Section, table: Mapping[str, Any], key: str) -> list[str]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(sec.key(key), f"expected a list of strings, got {_type_name(value)}")
    return list(value)


def _only_networks(sec: _Section, key: str) -> tuple[Network, ...]:
    out: list[Network] = []
    for entry in sec.networks(key):
        if isinstance(entry, tuple):
            raise ConfigError(sec.key(key), f"a network or host, not host:port ({entry})")
        out.append(entry)
    return tuple(out)


def _users(sec: _Section, entries: list[str], key: str = "users") -> dict[str, str]:
    users: dict[str, str] = {}
    for entry in entries:
        name, sep, password = entry.partition(":")
        if not sep or not name or not password:
            raise ConfigError(sec.key(key), "expected \"USER:PASSWORD\" (the password is not "
                                            "shown here)")
        users[name] = password
    return users


def _turn_from(sec: _Section, table: Mapping[str, Any]) -> TurnConfig:
    """Validate a ``[turn]`` table (or the ``--turn*`` flags laid out as one)."""
    listen: list[Address] = []
    for text in _strings(sec, table, "listen"):
        try:
            listen.append(parse_address(text))
        except ValueError as exc:
            raise ConfigError(sec.key("listen"), f'expected "HOST:PORT", got "{text}" ({exc})')\
                from None
    if not listen:
        raise ConfigError(sec.key("listen"), 'missing: where the TURN port listens, e.g. '
                                             '"0.0.0.0:3478" (--turn HOST:PORT)')
    transports = tuple(_strings(sec, table, "transports")) or TURN_TRANSPORTS
    for t in transports:
        if t not in TURN_TRANSPORTS:
            raise ConfigError(sec.key("transports"), f"expected udp and/or tcp, got {t!r}")
    users = _users(sec, _strings(sec, table, "users"))
    secret = sec.text("secret")
    if not users and not secret:
        raise ConfigError(sec.key("users"), "TURN needs credentials (there is no "
                          "unauthenticated mode): --turn-user USER:PASSWORD, or [turn] users "
                          "/ secret (TURN REST API)")
    relay_ips = []
    for text in _strings(sec, table, "relay_ip"):
        try:
            relay_ips.append(_check_host(text))
        except ValueError as exc:
            raise ConfigError(sec.key("relay_ip"), str(exc)) from None
    if not relay_ips:
        hosts = {h for h, _ in listen}
        wild = {h for h in hosts if h in ("0.0.0.0", "::")}
        if wild:
            raise ConfigError(sec.key("relay_ip"), "missing: the TURN port listens on "
                              f"{', '.join(sorted(wild))}, so give the address peers reach "
                              "the relay on (--relay-ip IP)")
        relay_ips = sorted(hosts)
    fams = [":" in ip for ip in relay_ips]
    if len(fams) != len(set(fams)):
        raise ConfigError(sec.key("relay_ip"), "at most one IPv4 and one IPv6 address")
    lo, hi = 49152, 65535
    if sec.has("relay_ports"):
        text = sec.text("relay_ports") or ""
        a, sep, b = text.partition("-")
        if not (sep and a.isdigit() and b.isdigit() and 1024 <= int(a) <= int(b) <= 65535):
            raise ConfigError(sec.key("relay_ports"), f'expected "FIRST-LAST" within '
                              f'1024-65535, got "{text}"')
        lo, hi = int(a), int(b)
    d = TurnSettings()
    settings = replace(
        d,
        credentials=Credentials(sec.text("realm", "dtlsproxy") or "dtlsproxy", users, secret),
        peers=PeerPolicy(
            allow_loopback=sec.boolean("allow_loopback_peers", False),
            allowed=_only_networks(sec, "allowed_peers"),
            denied=_only_networks(sec, "denied_peers"),
        ),
        max_allocations=sec.integer("max_allocations", d.max_allocations),
        max_allocations_per_user=sec.integer("max_allocations_per_user",
                                             d.max_allocations_per_user),
        max_permissions=sec.integer("max_permissions", d.max_permissions),
        max_channels=sec.integer("max_channels", d.max_channels),
        default_lifetime=sec.integer("default_lifetime", d.default_lifetime),
        max_lifetime=sec.integer("max_lifetime", d.max_lifetime),
        permission_lifetime=sec.integer("permission_lifetime", d.permission_lifetime),
        channel_lifetime=sec.integer("channel_lifetime", d.channel_lifetime),
        nonce_lifetime=sec.integer("nonce_lifetime", d.nonce_lifetime),
    )
    if settings.max_lifetime < settings.default_lifetime:
        raise ConfigError(sec.key("max_lifetime"), "smaller than default_lifetime")
    return TurnConfig(tuple(listen), tuple(relay_ips), settings, transports, (lo, hi))


def load_toml(path: Path) -> RelayConfig:
    """Read and validate a TOML config file."""
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise ConfigError(str(path), exc.strerror or str(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8 (tomllib decodes before parsing)
        before = exc.object[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        raise ConfigError(
            str(path), f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at line {line}, "
            f"column {column}); TOML files are UTF-8"
        ) from None
    return from_mapping(doc)


def apply_flags(cfg: RelayConfig, flags: Mapping[str, Any]) -> RelayConfig:
    """Lay command-line values (None = not given) over a config.

    Keys: the ``[relay]`` keys (``side_a``, ``peer_b``, ``listen``...), plus
    ``log_file``, ``pcap``, ``force``, ``keylog``, ``headless``, ``faults`` (rule strings),
    ``sdp`` (paths).
    """
    relay_keys = {k: v for k, v in flags.items() if k in _RELAY_KEYS and v is not None}
    changes: dict[str, Any] = {}
    side_keys = {k for k in relay_keys if k.endswith(("_a", "_b"))}
    if side_keys:
        # Side flags override the whole single-call setup: rebuild from flags merged with
        # the first configured call (so --peer-b alone amends a config's call).
        base: dict[str, Any] = {}
        if cfg.calls:
            first = cfg.calls[0]
            base = _call_to_table(first)
        base.update({k: relay_keys[k] for k in side_keys})
        for w in ("a", "b"):
            if side_keys & {f"peer_{w}", f"allow_{w}"} and f"policy_{w}" not in side_keys:
                base.pop(f"policy_{w}", None)  # re-derived from the new peer/allow
        # allow lists arrive as comma-separated strings on the command line
        for k in ("allow_a", "allow_b"):
            if isinstance(base.get(k), str):
                base[k] = [s for s in base[k].split(",") if s]
        sec = _Section("flags", base, _CALL_KEYS)
        calls = _calls_from(sec, "call")
        changes["calls"] = tuple(calls) + tuple(cfg.calls[1:])
    flag_sec = _Section("flags", {k: v for k, v in relay_keys.items() if k not in side_keys},
                        tuple(_RELAY_KEYS))
    if flag_sec.has("listen"):
        changes["listen"] = flag_sec.address("listen")
    if flag_sec.has("upstream"):
        changes["upstream"] = flag_sec.address("upstream", peer=True)
    for k in ("idle_timeout", "silence_after"):
        if flag_sec.has(k):
            changes[k] = flag_sec.number(k, 0.0)
    for k in ("max_sessions", "rcvbuf", "fault_seed"):
        if flag_sec.has(k):
            changes[k] = flag_sec.integer(k, 0, MAX_RCVBUF if k == "rcvbuf" else None)
    if flag_sec.has("loop"):
        changes["loop"] = flag_sec.text("loop", None, LOOPS)
    if flag_sec.has("engine"):
        changes["engine"] = flag_sec.text("engine", None, ENGINES)
    if flag_sec.has("mode"):
        changes["mode"] = flag_sec.text("mode", None, MODES)
    elif "listen" in changes or "upstream" in changes:
        changes["mode"] = "reverse"
    for k in ("log_max_bytes", "log_backups"):
        if flags.get(k) is not None:
            v = flags[k]
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                flag = "--" + k.replace("_", "-")
                raise ConfigError(flag, f"expected an integer >= 0, got {v!r}")
            changes[k] = v
    for k in ("log_file", "pcap"):
        if flags.get(k) is not None:
            changes[k] = Path(flags[k])
    if flags.get("keylog"):
        given = flags["keylog"]
        more = [given] if isinstance(given, str | Path) else list(given)
        changes["keylog"] = cfg.keylog + tuple(Path(p) for p in more)
    if flags.get("headless"):
        changes["headless"] = True
    if flags.get("force"):
        changes["force"] = True
    if flags.get("pcap_keys"):
        changes["pcap_keys"] = True
    if flags.get("show_payloads"):
        changes["show_payloads"] = True
    if flags.get("no_decode"):
        changes["decode"] = False
    if flags.get("sdp"):
        changes["sdp"] = cfg.sdp + tuple(Path(p) for p in flags["sdp"])
    turn = _turn_flags(cfg.turn, flags)
    if turn is not cfg.turn:
        changes["turn"] = turn
    janus_flags = {k: flags[f] for f, k in _JANUS_FLAGS.items() if flags.get(f) is not None}
    if janus_flags:
        changes["janus"] = _janus_from(_Section("flags", janus_flags, _JANUS_KEYS,
                                                {v: "--" + k.replace("_", "-")
                                                 for k, v in _JANUS_FLAGS.items()}), cfg.janus)
    if flags.get("peer_dump"):
        changes["peer_dumps"] = cfg.peer_dumps + tuple(Path(p) for p in flags["peer_dump"])
    if flags.get("faults"):
        from proxy.relay.faults import parse_rule

        rules = list(cfg.faults)
        for text in flags["faults"]:
            try:
                rules.append(parse_rule(text))
            except FaultRuleError as exc:
                raise ConfigError(f"--fault {text!r} {exc.key}", exc.message) from None
        changes["faults"] = tuple(rules)
    return replace(cfg, **changes)


_JANUS_FLAGS = {"janus_admin": "admin_url", "janus_admin_secret": "admin_secret",
                "janus_events": "events", "janus_events_secret": "events_secret"}
"""``--janus*`` flag (argparse dest) -> ``[janus]`` key."""

_TURN_FLAGS = {
    "turn": "listen", "turn_user": "users", "turn_realm": "realm", "relay_ip": "relay_ip",
    "turn_secret": "secret", "relay_ports": "relay_ports",
    "turn_allow_loopback": "allow_loopback_peers", "turn_allow_peer": "allowed_peers",
    "turn_deny_peer": "denied_peers",
}
"""``--turn*`` flag (argparse dest) -> ``[turn]`` key."""


def _turn_flags(turn: TurnConfig | None, flags: Mapping[str, Any]) -> TurnConfig | None:
    """Lay the ``--turn*`` flags over ``[turn]`` (a flag replaces its key)."""
    given = {_TURN_FLAGS[k]: v for k, v in flags.items() if k in _TURN_FLAGS and v}
    if not given:
        return turn
    table: dict[str, Any] = {} if turn is None else _turn_to_table(turn)
    if "users" in given and turn is not None:
        table.pop("users", None)
    table.update(given)
    names = {key: "--" + flag.replace("_", "-") for flag, key in _TURN_FLAGS.items()}
    return _turn_from(_Section("flags", table, _TURN_KEYS, names), table)


def _turn_to_table(turn: TurnConfig) -> dict[str, Any]:
    s = turn.settings
    c = s.credentials
    table: dict[str, Any] = {
        "listen": [format_address(a) for a in turn.listen],
        "transports": list(turn.transports),
        "users": [f"{u}:{p}" for u, p in c.users.items()],
        "realm": c.realm,
        "relay_ip": list(turn.relay_ips),
        "relay_ports": f"{turn.relay_ports[0]}-{turn.relay_ports[1]}",
        "allow_loopback_peers": s.peers.allow_loopback,
        "allowed_peers": [str(n) for n in s.peers.allowed],
        "denied_peers": [str(n) for n in s.peers.denied],
    }
    if c.secret:
        table["secret"] = c.secret
    for k in ("max_allocations", "max_allocations_per_user", "max_permissions", "max_channels",
              "default_lifetime", "max_lifetime", "permission_lifetime", "channel_lifetime",
              "nonce_lifetime"):
        table[k] = getattr(s, k)
    return table


def _call_to_table(call: CallConfig) -> dict[str, Any]:
    t: dict[str, Any] = {"name": call.name}
    for which, side in (("a", call.a), ("b", call.b)):
        t[f"side_{which}"] = format_address(side.bind)
        t[f"label_{which}"] = side.label
        t[f"policy_{which}"] = side.policy
        if side.peer is not None:
            t[f"peer_{which}"] = format_address(side.peer)
        if side.allow:
            t[f"allow_{which}"] = [
                format_address(x) if isinstance(x, tuple) else str(x) for x in side.allow
            ]
    return t


def validate(cfg: RelayConfig) -> RelayConfig:
    """Check the merged config is runnable (a mode with its sockets)."""
    if cfg.mode == "reverse":
        if cfg.listen is None:
            raise ConfigError("[relay] listen", "reverse mode needs --listen HOST:PORT")
        if cfg.upstream is None:
            raise ConfigError("[relay] upstream", "reverse mode needs --upstream HOST:PORT")
        return cfg
    if not cfg.calls and cfg.turn is None:
        raise ConfigError(
            "[relay] side_a", "two-sided mode needs --side-a and --side-b (or a [[call]] "
            "table), or TURN mode --turn HOST:PORT"
        )
    return cfg
