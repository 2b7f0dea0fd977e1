"""JA4 (ClientHello) and JA4S (ServerHello) fingerprints, written from FoxIO's spec.

The spec (``technical_details/JA4.md`` and ``JA4S.md`` of FoxIO-LLC/ja4, BSD 3-Clause
for JA4, FoxIO License 1.1 for JA4S) and its worked examples are the tests
(``tests/identify/test_ja4.py``). Written here rather than taken from a library: the
maintained Python implementations read packets through scapy or tshark, and this
package works on the hello bodies the decoder already parsed (sans-IO).

DTLS specifics: the protocol letter is ``d``; the version is ``d1``/``d2``/``d3``.
"Highest value" of supported_versions means the newest version: DTLS numbers count
down (0xfefc DTLS 1.3 < 0xfefd DTLS 1.2), so a numerical maximum would call every
DTLS 1.3 client ``d2``.
"""

from __future__ import annotations

import hashlib

from proxy.decode.dtls.extensions import Alpn, Extension
from proxy.decode.dtls.messages import ClientHello, ServerHello
from proxy.decode.dtls.registry import is_grease

EXT_SNI = 0x0000
EXT_ALPN = 0x0010
EXT_SIGNATURE_ALGORITHMS = 0x000D
EXT_SUPPORTED_VERSIONS = 0x002B
EXT_QUIC_TRANSPORT_PARAMETERS = 0x0039

_VERSIONS = {
    0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
    0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3",
}
_RANK = {0x0002: 0, 0x0300: 1, 0x0301: 2, 0xFEFF: 2, 0x0302: 3, 0x0303: 4, 0xFEFD: 4,
         0x0304: 5, 0xFEFC: 5}
"""Age of each version (DTLS 1.0 sits with TLS 1.1, as RFC 4347 derives from it)."""
ZERO_HASH = "000000000000"


def hash12(text: str) -> str:
    """First 12 hex digits of the SHA-256 of ``text`` (lowercase)."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _newest(versions: list[int]) -> int:
    return max(versions, key=lambda v: (_RANK.get(v, -1), v))


def version_code(hello: ClientHello | ServerHello) -> str:
    """``d2``, ``13``...: supported_versions (newest, GREASE left out) when present, else
    the hello's own version field; ``00`` when unknown."""
    ext = _find(hello.extensions, EXT_SUPPORTED_VERSIONS)
    if ext is not None:
        value = ext.value
        values = [value] if isinstance(value, int) else list(value or ())
        values = [v for v in values if isinstance(v, int) and not is_grease(v)]
        if values:
            return _VERSIONS.get(_newest(values), "00")
    own = hello.client_version if isinstance(hello, ClientHello) else hello.server_version
    return _VERSIONS.get(own, "00")


def _find(extensions: tuple[Extension, ...], ext_type: int) -> Extension | None:
    for e in extensions:
        if e.type == ext_type:
            return e
    return None


def _alnum(b: int) -> bool:
    return 0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A


def alpn_code(extensions: tuple[Extension, ...]) -> str:
    """First and last character of the first ALPN value; ``00`` when there is none; the
    first and last hex digit of the value when either end is not alphanumeric."""
    ext = _find(extensions, EXT_ALPN)
    if ext is None or not isinstance(ext.value, Alpn) or not ext.value.protocols:
        return "00"
    first = ext.value.protocols[0]
    if not first:
        return "00"
    if _alnum(first[0]) and _alnum(first[-1]):
        return chr(first[0]) + chr(first[-1])
    h = first.hex()
    return h[0] + h[-1]


def _sig_algs(extensions: tuple[Extension, ...]) -> list[int]:
    ext = _find(extensions, EXT_SIGNATURE_ALGORITHMS)
    if ext is None:
        return []
    if isinstance(ext.value, tuple):
        values = [v for v in ext.value if isinstance(v, int)]
    else:  # malformed body: the two-byte items after the length, as far as they go
        data = ext.data[2:]
        values = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data) - 1, 2)]
    return [v for v in values if not is_grease(v)]


def _hexlist(values: list[int]) -> str:
    return ",".join(f"{v:04x}" for v in values)


def _client_parts(ch: ClientHello, protocol: str, original: bool) -> tuple[str, str, str]:
    ciphers = [c for c in ch.cipher_suites if not is_grease(c)]
    exts = [e.type for e in ch.extensions if not is_grease(e.type)]
    if protocol == "t" and EXT_QUIC_TRANSPORT_PARAMETERS in exts:
        protocol = "q"
    sni = "d" if EXT_SNI in exts else "i"
    a = (f"{protocol}{version_code(ch)}{sni}{min(len(ciphers), 99):02d}"
         f"{min(len(exts), 99):02d}{alpn_code(ch.extensions)}")
    if not original:
        ciphers = sorted(ciphers)
        exts = sorted(e for e in exts if e not in (EXT_SNI, EXT_ALPN))
    sigs = _sig_algs(ch.extensions)
    c = _hexlist(exts) + ("_" + _hexlist(sigs) if sigs else "")
    return a, _hexlist(ciphers), c


def ja4(ch: ClientHello, protocol: str = "d", *, original: bool = False) -> str:
    """The JA4 of a ClientHello (``JA4_o`` with ``original=True``: wire order, SNI and
    ALPN kept). ``protocol``: ``d`` DTLS, ``t`` TLS over TCP (``q`` when QUIC)."""
    a, b, c = _client_parts(ch, protocol, original)
    # The zero sentinel follows the sorted list (SNI and ALPN left out) in both forms,
    # as FoxIO's implementations do.
    has_exts = any(not is_grease(e.type) and e.type not in (EXT_SNI, EXT_ALPN)
                   for e in ch.extensions)
    return f"{a}_{hash12(b) if b else ZERO_HASH}_{hash12(c) if has_exts else ZERO_HASH}"


def ja4_r(ch: ClientHello, protocol: str = "d", *, original: bool = False) -> str:
    """The raw JA4 (``JA4_r``; ``JA4_ro`` with ``original=True``): the lists, unhashed."""
    a, b, c = _client_parts(ch, protocol, original)
    return f"{a}_{b}_{c}"


def _server_parts(sh: ServerHello, protocol: str) -> tuple[str, str]:
    exts = [e.type for e in sh.extensions]
    a = (f"{protocol}{version_code(sh)}{min(len(exts), 99):02d}{alpn_code(sh.extensions)}"
         f"_{sh.cipher_suite:04x}")
    return a, _hexlist(exts)


def ja4s(sh: ServerHello, protocol: str = "d") -> str:
    """The JA4S of a ServerHello (or HelloRetryRequest): extensions in wire order."""
    a, exts = _server_parts(sh, protocol)
    return f"{a}_{hash12(exts) if exts else ZERO_HASH}"


def ja4s_r(sh: ServerHello, protocol: str = "d") -> str:
    """The raw JA4S: the extension list unhashed."""
    a, exts = _server_parts(sh, protocol)
    return f"{a}_{exts}"


def fingerprints(body: object) -> tuple[str | None, str | None]:
    """``(ja4, ja4s)`` of a parsed message body: JA4 for a ClientHello, JA4S for a
    ServerHello or HelloRetryRequest, None otherwise (always DTLS: protocol ``d``)."""
    if isinstance(body, ClientHello):
        return ja4(body), None
    if isinstance(body, ServerHello):
        return None, ja4s(body)
    return None, None
