"""SDP for a DTLS proxy in the middle of WebRTC: inspect what matters (ICE, candidates,
fingerprints, setup roles) and rewrite the addresses so both peers talk to the proxy.

Rewriting touches only the tokens it must (candidate address and port, ``c=`` address,
``m=`` port, a non-placeholder ``a=rtcp``); every other byte, including each line's ending
(CRLF, LF or none), is kept as it was.

Grammar: RFC 8866 (SDP), RFC 8839 (ICE candidates), RFC 8122 (fingerprint), RFC 4145
(setup).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from proxy.events import Address


class SdpError(ValueError):
    """Input that is not a usable SDP, candidate or address; ``reason`` is one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Candidate:
    """One ICE candidate (``a=candidate`` line or a trickled ``candidate:`` string)."""

    foundation: str
    component: int
    transport: str
    """As written (``udp``, ``UDP``, ``tcp``)."""
    priority: int
    address: str
    """IP address, or an mDNS name ending in ``.local``."""
    port: int
    type: str
    """``host``, ``srflx``, ``prflx``, ``relay``."""
    raddr: str | None = None
    rport: int | None = None
    tcptype: str | None = None
    extensions: tuple[tuple[str, str], ...] = ()
    """Other name/value pairs in order (``generation``, ``network-id``, ``ufrag``...)."""

    @property
    def is_udp(self) -> bool:
        """Transport is UDP."""
        return self.transport.lower() == "udp"

    @property
    def is_mdns(self) -> bool:
        """The address is an mDNS name (hidden host address)."""
        return self.address.lower().endswith(".local")

    def describe(self) -> str:
        """One readable line, e.g. ``1 udp host 10.0.0.1:5000 prio 2130706431``."""
        addr = f"[{self.address}]" if ":" in self.address else self.address
        out = f"{self.component} {self.transport.lower()} {self.type} {addr}:{self.port}"
        if self.tcptype:
            out += f" tcptype {self.tcptype}"
        if self.raddr is not None:
            out += f" from {self.raddr}:{self.rport}"
        return out + f" prio {self.priority} foundation {self.foundation}"


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """``a=fingerprint``: hash algorithm and the colon-separated hex value."""

    algorithm: str
    value: str


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """One m-section. Attributes absent here may be set at session level (:class:`SdpInfo`)."""

    index: int
    media: str
    """``audio``, ``video``, ``application``."""
    port: int
    """0 means rejected or bundle-only."""
    proto: str
    connection: str | None
    """``c=`` address of this section."""
    mid: str | None = None
    ice_ufrag: str | None = None
    ice_pwd: bool = False
    """Whether ``a=ice-pwd`` is present (the password itself is never kept)."""
    fingerprints: tuple[Fingerprint, ...] = ()
    setup: str | None = None
    candidates: tuple[Candidate, ...] = ()
    end_of_candidates: bool = False
    rtcp_mux: bool = False
    bundle_only: bool = False


@dataclass(frozen=True, slots=True)
class SdpInfo:
    """What :func:`inspect_sdp` found."""

    origin: str
    """The ``o=`` line's value."""
    connection: str | None
    """Session-level ``c=`` address."""
    groups: tuple[str, ...] = ()
    """``a=group`` values, e.g. ``BUNDLE 0 1``."""
    ice_ufrag: str | None = None
    ice_pwd: bool = False
    ice_lite: bool = False
    fingerprints: tuple[Fingerprint, ...] = ()
    setup: str | None = None
    media: tuple[MediaInfo, ...] = ()
    problems: tuple[str, ...] = ()
    """Lines that could not be parsed (``line 12: bad candidate: ...``)."""

    def setup_of(self, m: MediaInfo) -> str | None:
        """Effective ``a=setup`` of a section (its own, else the session's)."""
        return m.setup or self.setup

    def ufrag_of(self, m: MediaInfo) -> str | None:
        """Effective ``a=ice-ufrag`` of a section."""
        return m.ice_ufrag or self.ice_ufrag

    def fingerprints_of(self, m: MediaInfo) -> tuple[Fingerprint, ...]:
        """Effective fingerprints of a section."""
        return m.fingerprints or self.fingerprints


# --------------------------------------------------------------- candidates

_TOKEN = re.compile(r"\S+")


def _candidate_body(line: str) -> tuple[str, str]:
    """Split ``a=candidate:...`` / ``candidate:...`` into (prefix, body)."""
    for prefix in ("a=candidate:", "candidate:"):
        if line.startswith(prefix):
            return prefix, line[len(prefix) :]
    raise SdpError(f"not a candidate line: {line[:40]!r}")


def parse_candidate(line: str) -> Candidate:
    """Parse ``a=candidate:...`` or a trickled ``candidate:...`` (RFC 8839 §5.1).

    Raises :class:`SdpError` with a one-line reason.
    """
    _, body = _candidate_body(line.rstrip("\r\n"))
    tokens = body.split()
    if len(tokens) < 8 or tokens[6] != "typ":
        raise SdpError(
            f"bad candidate (want 'foundation component transport priority "
            f"address port typ type ...'): {body[:80]!r}"
        )
    try:
        component, priority, port = int(tokens[1]), int(tokens[3]), int(tokens[5])
    except ValueError as exc:
        raise SdpError(f"bad candidate number: {exc}") from None
    if len(tokens) % 2:
        raise SdpError(f"bad candidate: extension without a value: {body[:80]!r}")
    raddr: str | None = None
    rport: int | None = None
    tcptype: str | None = None
    ext: list[tuple[str, str]] = []
    for name, value in zip(tokens[8::2], tokens[9::2], strict=True):
        if name == "raddr":
            raddr = value
        elif name == "rport":
            try:
                rport = int(value)
            except ValueError:
                raise SdpError(f"bad candidate rport {value!r}") from None
        elif name == "tcptype":
            tcptype = value
        else:
            ext.append((name, value))
    return Candidate(
        foundation=tokens[0],
        component=component,
        transport=tokens[2],
        priority=priority,
        address=tokens[4],
        port=port,
        type=tokens[7],
        raddr=raddr,
        rport=rport,
        tcptype=tcptype,
        extensions=tuple(ext),
    )


def _replace_tokens(text: str, replacements: dict[int, str]) -> str:
    """Replace whitespace-separated tokens by index, keeping all spacing."""
    spans = [m.span() for m in _TOKEN.finditer(text)]
    out = text
    for index in sorted(replacements, reverse=True):
        start, end = spans[index]
        out = out[:start] + replacements[index] + out[end:]
    return out


def rewrite_candidate(line: str, to: Address, *, drop_tcp: bool = True) -> str | None:
    """Rewrite one (trickled) candidate so it points at ``to``; None when it must be
    dropped (a TCP candidate with ``drop_tcp``). An empty candidate (end of candidates)
    is returned unchanged. Line ending and every other token are kept."""
    stripped = line.rstrip("\r\n")
    ending = line[len(stripped) :]
    if stripped in ("", "candidate:", "a=candidate:"):
        return line
    cand = parse_candidate(stripped)
    if not cand.is_udp:
        return None if drop_tcp else line
    prefix, body = _candidate_body(stripped)
    return prefix + _replace_tokens(body, {4: to[0], 5: str(to[1])}) + ending


# ------------------------------------------------------------------ inspect


def _lines(text: str) -> list[str]:
    """Lines without their ending (CRLF or LF)."""
    return [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]


def _check_sdp(lines: list[str]) -> None:
    first = next((ln for ln in lines if ln.strip()), "")
    if not first.startswith("v="):
        raise SdpError(f"not an SDP: first line is {first[:40]!r}, expected 'v=0'")


@dataclass(slots=True)
class _Section:
    index: int = -1
    media: str = ""
    port: int = 0
    proto: str = ""
    connection: str | None = None
    mid: str | None = None
    ice_ufrag: str | None = None
    ice_pwd: bool = False
    fingerprints: list[Fingerprint] = field(default_factory=list)
    setup: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    end_of_candidates: bool = False
    rtcp_mux: bool = False
    bundle_only: bool = False
    groups: list[str] = field(default_factory=list)
    ice_lite: bool = False


def inspect_sdp(text: str) -> SdpInfo:
    """Parse an SDP into :class:`SdpInfo`. Raises :class:`SdpError` when it is not an SDP;
    unparsable lines inside it are listed in ``problems``."""
    lines = _lines(text)
    _check_sdp(lines)
    session = _Section()
    origin = ""
    sections: list[_Section] = []
    cur = session
    problems: list[str] = []
    for n, line in enumerate(lines, 1):
        key, _, value = line.partition("=")
        try:
            if key == "m":
                parts = value.split()
                if len(parts) < 3:
                    raise SdpError(f"bad m-line: {line!r}")
                cur = _Section(len(sections), parts[0], int(parts[1].split("/")[0]), parts[2])
                sections.append(cur)
            elif key == "o":
                origin = value
            elif key == "c":
                parts = value.split()
                if len(parts) < 3:
                    raise SdpError(f"bad c-line: {line!r}")
                cur.connection = parts[2].split("/")[0]
            elif key == "a":
                name, _, arg = value.partition(":")
                if name == "candidate":
                    cur.candidates.append(parse_candidate(line))
                elif name == "ice-ufrag":
                    cur.ice_ufrag = arg
                elif name == "ice-pwd":
                    cur.ice_pwd = True
                elif name == "fingerprint":
                    algo, _, fp = arg.strip().partition(" ")
                    cur.fingerprints.append(Fingerprint(algo.lower(), fp.strip()))
                elif name == "setup":
                    cur.setup = arg.strip()
                elif name == "mid":
                    cur.mid = arg.strip()
                elif name == "end-of-candidates":
                    cur.end_of_candidates = True
                elif name == "rtcp-mux":
                    cur.rtcp_mux = True
                elif name == "bundle-only":
                    cur.bundle_only = True
                elif name == "group":
                    cur.groups.append(arg.strip())
                elif name == "ice-lite":
                    cur.ice_lite = True
        except (SdpError, ValueError) as exc:
            reason = exc.reason if isinstance(exc, SdpError) else str(exc)
            problems.append(f"line {n}: {reason}")
    media = tuple(
        MediaInfo(
            index=s.index,
            media=s.media,
            port=s.port,
            proto=s.proto,
            connection=s.connection,
            mid=s.mid,
            ice_ufrag=s.ice_ufrag,
            ice_pwd=s.ice_pwd,
            fingerprints=tuple(s.fingerprints),
            setup=s.setup,
            candidates=tuple(s.candidates),
            end_of_candidates=s.end_of_candidates,
            rtcp_mux=s.rtcp_mux,
            bundle_only=s.bundle_only,
        )
        for s in sections
    )
    return SdpInfo(
        origin=origin,
        connection=session.connection,
        groups=tuple(session.groups),
        ice_ufrag=session.ice_ufrag,
        ice_pwd=session.ice_pwd,
        ice_lite=session.ice_lite,
        fingerprints=tuple(session.fingerprints),
        setup=session.setup,
        media=media,
        problems=tuple(problems),
    )


# ------------------------------------------------------------------ rewrite


def parse_hostport(text: str) -> Address:
    """``HOST:PORT`` or ``[IPv6]:PORT`` (HOST an IP address) -> (host, port).

    Raises :class:`SdpError` with a one-line reason.
    """
    m = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([^:\[\]]+):(\d+)", text.strip())
    if m is None:
        if text.count(":") > 1 and not text.startswith("["):
            raise SdpError(
                f"bad HOST:PORT {text!r}: put IPv6 addresses in brackets, e.g. [::1]:5000"
            )
        raise SdpError(f"bad HOST:PORT {text!r}: expected e.g. 127.0.0.1:5000 or [::1]:5000")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        raise SdpError(f"bad HOST:PORT {text!r}: {host!r} is not an IP address") from None
    if m.group(1) and addr.version != 6:
        raise SdpError(f"bad HOST:PORT {text!r}: brackets are for IPv6 addresses")
    if not 0 < port < 65536:
        raise SdpError(f"bad HOST:PORT {text!r}: port must be 1-65535")
    return str(addr), port


def _ip_kind(host: str) -> str:
    return "IP6" if ":" in host else "IP4"


def rewrite_sdp(
    text: str,
    to: Address,
    *,
    drop_tcp: bool = True,
    keep: Callable[[Candidate], bool] | None = None,
) -> str:
    """Point every UDP candidate, ``c=`` line and m-line port of ``text`` at ``to``.

    * UDP ``a=candidate`` lines get address and port ``to`` (mDNS ``.local`` ones too);
      ``raddr``/``rport`` and all other tokens are kept;
    * candidates that become identical to an earlier one of the same m-section (same
      component, transport, address, port) are removed;
    * TCP candidates are removed when ``drop_tcp`` (kept untouched otherwise);
    * ``keep`` (optional) chooses which UDP candidates stay; those it rejects are removed;
    * ``c=`` addresses (session and media) become ``to``'s host, with ``IP4``/``IP6`` set
      to match; ``m=`` ports become ``to``'s port, except port 0 (rejected/bundle-only);
    * ``a=rtcp`` is rewritten unless it is the ``9 ... 0.0.0.0`` placeholder;
    * ``a=end-of-candidates`` and everything else are kept byte for byte, line endings too.

    Raises :class:`SdpError` when ``text`` is not an SDP or a candidate line is malformed.
    """
    host, port = to
    raw_lines = text.split("\n")
    _check_sdp(_lines(text))
    out: list[str] = []
    seen: set[tuple[int, str, str, int]] = set()
    for n, raw in enumerate(raw_lines, 1):
        cr = "\r" if raw.endswith("\r") else ""
        line = raw[: len(raw) - len(cr)]
        if line.startswith("m="):
            seen = set()
            parts = _TOKEN.findall(line[2:])
            if len(parts) >= 2 and parts[1].split("/")[0] != "0":
                count = parts[1][len(parts[1].split("/")[0]) :]
                line = "m=" + _replace_tokens(line[2:], {1: f"{port}{count}"})
        elif line.startswith("c="):
            parts = _TOKEN.findall(line[2:])
            if len(parts) >= 3:
                line = "c=" + _replace_tokens(line[2:], {1: _ip_kind(host), 2: host})
        elif line.startswith("a=rtcp:"):
            parts = _TOKEN.findall(line[7:])
            placeholder = parts[0] == "9" and (len(parts) < 4 or parts[3] in ("0.0.0.0", "::"))
            if parts and not placeholder:
                repl = {0: str(port)}
                if len(parts) >= 4:
                    repl.update({2: _ip_kind(host), 3: host})
                line = "a=rtcp:" + _replace_tokens(line[7:], repl)
        elif line.startswith("a=candidate:"):
            try:
                cand = parse_candidate(line)
            except SdpError as exc:
                raise SdpError(f"line {n}: {exc.reason}") from None
            if not cand.is_udp:
                if drop_tcp:
                    continue
            else:
                if keep is not None and not keep(cand):
                    continue
                key = (cand.component, cand.transport.lower(), host, port)
                if key in seen:
                    continue
                seen.add(key)
                line = "a=candidate:" + _replace_tokens(line[12:], {4: host, 5: str(port)})
        out.append(line + cr)
    return "\n".join(out)


class TrickleRewriter:
    """Rewrites trickled candidates of one negotiation like :func:`rewrite_sdp` does,
    remembering what was sent so candidates that collapse to the same address are dropped.

    Seed it with the SDP's own candidates (:meth:`seen_sdp`) when the SDP was rewritten
    too; then call :meth:`rewrite` per trickled candidate (``mid`` from the signalling).
    """

    def __init__(self, to: Address, *, drop_tcp: bool = True) -> None:
        self.to = to
        self.drop_tcp = drop_tcp
        self._seen: set[tuple[str | None, int, str]] = set()

    def seen_sdp(self, info: SdpInfo) -> None:
        """Record the UDP candidates an (already rewritten) SDP announced."""
        for m in info.media:
            for c in m.candidates:
                if c.is_udp:
                    self._seen.add((m.mid, c.component, c.transport.lower()))

    def rewrite(self, line: str, mid: str | None = None) -> str | None:
        """The rewritten candidate, or None when it must not be sent on."""
        out = rewrite_candidate(line, self.to, drop_tcp=self.drop_tcp)
        stripped = line.rstrip("\r\n")
        if out is None or stripped in ("", "candidate:", "a=candidate:"):
            return out
        cand = parse_candidate(stripped)
        if not cand.is_udp:
            return out
        key = (mid, cand.component, cand.transport.lower())
        if key in self._seen:
            return None
        self._seen.add(key)
        return out
