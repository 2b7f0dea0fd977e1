"""Redaction for sharing a report: addresses become consistent pseudonyms, certificates
their fingerprints only.

Addresses are replaced in the finished text of the whole report, so nothing that names
one is missed (titles, lanes, notices, check details) and one address keeps one name
throughout: ``10.0.0.5`` becomes ``private-1`` everywhere, ``127.0.0.1`` ``loopback-1``
(the kind is kept: it matters when debugging NAT). Ports are kept (they tell the legs
apart). Bytes of DTLS messages are not rewritten (DTLS carries no address a capture does
not already show in its headers; certificates can, see ``--redact certificates``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

_TOKEN = re.compile(
    r"(?<![\w:.\[])"
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<bare>[0-9A-Fa-f:.]*[:.][0-9A-Fa-f:.]*))"
    r"(?![\w.\]])"
)
"""A word of hex digits, dots and colons (a candidate address), or ``[v6]``."""
_PORT = re.compile(r":\d{1,5}$")
_MDNS = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}\.local\b")
"""The ``.local`` names browsers put in ICE candidates instead of their addresses."""

REDACTIONS = ("addresses", "certificates")


def _kind(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if addr.is_loopback:
        return "loopback"
    if addr.is_link_local:
        return "link-local"
    if addr.is_private:
        return "private"
    return "public"


class Pseudonyms:
    """Replace every IP address (and mDNS name) in a text with a stable pseudonym."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def _name(self, key: str, kind: str) -> str:
        name = self.names.get(key)
        if name is None:
            n = self._counts[kind] = self._counts.get(kind, 0) + 1
            name = self.names[key] = f"{kind}-{n}"
        return name

    def _address(self, text: str) -> str | None:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return None
        return self._name(addr.compressed, _kind(addr))

    def _token(self, m: re.Match[str]) -> str:
        v6 = m.group("v6")
        if v6 is not None:
            name = self._address(v6)
            return m.group(0) if name is None else f"[{name}]"
        bare = m.group("bare")
        name = self._address(bare)
        if name is not None:
            return name
        port = _PORT.search(bare)
        if port is not None and "." in bare:  # IPv4 host:port (IPv6 ones are bracketed)
            name = self._address(bare[:port.start()])
            if name is not None and ":" not in bare[:port.start()]:
                return name + port.group(0)
        return bare

    def sub(self, text: str) -> str:
        """``text`` with every address replaced."""
        text = _MDNS.sub(lambda m: self._name(m.group(0).lower(), "mdns"), text)
        return _TOKEN.sub(self._token, text)


def parse_redactions(values: Iterable[str]) -> frozenset[str]:
    """``--redact`` values (repeatable, or comma-separated); ValueError names a bad one."""
    out: set[str] = set()
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part not in REDACTIONS:
                raise ValueError(f"--redact {part!r}: choose {' or '.join(REDACTIONS)}")
            out.add(part)
    return frozenset(out)


class Scrub:
    """The certificate names of a session (subjects, issuers) replaced in any text."""

    WITHHELD = "[withheld]"

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, self.WITHHELD)
        return text
