"""What a hello shows about the stack that wrote it: the lists (GREASE left out) and
flags the stack matcher compares (:mod:`proxy.identify.stacks`)."""

from __future__ import annotations

from dataclasses import dataclass

from proxy.decode.dtls.extensions import Extension, KeyShareEntry, UseSrtp
from proxy.decode.dtls.messages import ClientHello, ServerHello
from proxy.decode.dtls.registry import is_grease
from proxy.identify.ja4 import ja4, ja4s

EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_USE_SRTP = 14
EXT_SUPPORTED_VERSIONS = 43
EXT_KEY_SHARE = 51


def _ints(value: object) -> tuple[int, ...]:
    if isinstance(value, UseSrtp):
        return value.profiles
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, tuple):
        return tuple(v for v in value if isinstance(v, int))
    return ()


def _value(exts: tuple[Extension, ...], t: int) -> object:
    for e in exts:
        if e.type == t:
            return e.value
    return None


def _no_grease(values: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(v for v in values if not is_grease(v))


@dataclass(frozen=True, slots=True)
class HelloFeatures:
    """One hello, as lists of numbers in wire order (GREASE left out)."""

    role: str
    """``client`` (ClientHello) or ``server`` (ServerHello)."""
    fingerprint: str
    """JA4 (client) or JA4S (server)."""
    versions: tuple[int, ...]
    """Offered (client) or chosen (server): supported_versions, else the hello's version."""
    supported_versions: bool
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]
    groups: tuple[int, ...]
    sigalgs: tuple[int, ...]
    srtp: tuple[int, ...]
    key_shares: tuple[int, ...]
    point_formats: tuple[int, ...]
    grease: bool
    """GREASE values anywhere (suites, extensions, groups, versions...)."""
    session_id_length: int


def hello_features(body: ClientHello | ServerHello) -> HelloFeatures:
    """The features of a parsed ClientHello or ServerHello."""
    exts = body.extensions
    ks = _value(exts, EXT_KEY_SHARE)
    if isinstance(ks, tuple):
        shares = tuple(e.group for e in ks if isinstance(e, KeyShareEntry))
    elif isinstance(ks, KeyShareEntry):
        shares = (ks.group,)
    else:
        shares = _ints(ks)
    sv = _value(exts, EXT_SUPPORTED_VERSIONS)
    has_sv = any(e.type == EXT_SUPPORTED_VERSIONS for e in exts)
    if isinstance(body, ClientHello):
        role, fp, suites = "client", ja4(body), body.cipher_suites
        own = body.client_version
    else:
        role, fp, suites = "server", ja4s(body), (body.cipher_suite,)
        own = body.server_version
    raw_lists = (suites, tuple(e.type for e in exts), _ints(_value(exts, EXT_SUPPORTED_GROUPS)),
                 _ints(sv), _ints(_value(exts, EXT_SIGNATURE_ALGORITHMS)), shares)
    grease = any(is_grease(v) for values in raw_lists for v in values)
    return HelloFeatures(
        role, fp, _no_grease(_ints(sv)) if has_sv and _ints(sv) else (own,), has_sv,
        _no_grease(suites), _no_grease(raw_lists[1]), _no_grease(raw_lists[2]),
        _no_grease(raw_lists[4]), _ints(_value(exts, EXT_USE_SRTP)), _no_grease(shares),
        _ints(_value(exts, EXT_EC_POINT_FORMATS)), grease, len(body.session_id),
    )
