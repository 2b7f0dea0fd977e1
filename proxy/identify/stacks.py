"""Which stack wrote a hello: the features of a ClientHello or ServerHello compared with
a data file of known stacks (``stacks.toml`` beside this module, plus the user's files:
``[fingerprints] files`` in the config). Each entry names the capture it was built from
(docs/stacks.md).

A guess is :class:`proxy.events.StackGuess`: ``high`` when every feature the entry knows
matches, ``medium`` when the library's own features match but settings an application
chooses (suites, SRTP profiles) differ, ``low`` for a partial match or a tie between
stacks, and ``unknown`` (with the nearest entry) when nothing fits well enough.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from proxy.decode.dtls.extensions import Alpn
from proxy.decode.dtls.messages import ClientHello, ServerHello
from proxy.events import StackGuess
from proxy.identify.features import HelloFeatures, hello_features

WEIGHTS = {
    "extensions": 4.0, "extension_set": 4.0, "sigalgs": 2.0, "groups": 2.0, "versions": 2.0,
    "key_shares": 1.0, "grease": 1.0, "ciphers": 1.0, "srtp": 0.5, "alpn": 0.5,
    "point_formats": 0.5,
    "server_extensions": 3.0, "server_session_id": 1.0, "server_point_formats": 0.5,
    "server_versions": 1.0, "certificate_subject": 1.5,
}
"""How much each feature says about the library (suites and SRTP profiles are often the
application's choice)."""
APP_FEATURES = frozenset({"ciphers", "srtp", "alpn", "groups"})
CLIENT_KEYS = frozenset({"versions", "ciphers", "extensions", "extension_set", "groups",
                         "sigalgs", "key_shares", "srtp", "alpn", "grease", "point_formats"})
SERVER_KEYS = frozenset({"server_extensions", "server_session_id", "server_point_formats",
                         "server_versions"})
COMMON_KEYS = frozenset({"certificate_subject"})
"""Features of either role: the subject of the side's own certificate (a regular
expression; not compared while the certificate is unknown, e.g. encrypted in DTLS 1.3)."""
LIST_KEYS = (CLIENT_KEYS | SERVER_KEYS) - {"grease", "alpn"}
INFO_KEYS = frozenset({"id", "name", "version", "provenance", "note"})
UNKNOWN_BELOW = 0.6
"""A best score under this is ``unknown`` (nearest match named)."""


class StackFileError(ValueError):
    """A stacks file that does not parse; names the file, the entry and the key."""


def _hexes(text: str) -> tuple[int, ...]:
    return tuple(int(x, 16) for x in text.replace(" ", "").split(",") if x)


@dataclass(frozen=True)
class StackEntry:
    """One known stack (one role: its ClientHello or its ServerHello features)."""

    id: str
    name: str
    version: str | None
    provenance: str
    features: Mapping[str, Any]
    note: str | None = None
    user: bool = False
    """From the user's file: wins a tie with a shipped entry."""
    role: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "role",
                           "server" if set(self.features) - COMMON_KEYS <= SERVER_KEYS
                           else "client")


def parse_entries(doc: Mapping[str, Any], source: str) -> list[StackEntry]:
    """Entries of a parsed stacks TOML document (``[[stack]]`` tables)."""
    tables = doc.get("stack", [])
    if not isinstance(tables, list):
        raise StackFileError(f"{source}: 'stack' must be an array of tables ([[stack]])")
    out = []
    for i, t in enumerate(tables, 1):
        where = f"{source}: [[stack]] #{i}"
        if not isinstance(t, Mapping):
            raise StackFileError(f"{where}: not a table")
        for key in ("id", "name", "provenance"):
            if not isinstance(t.get(key), str) or not t[key]:
                raise StackFileError(f"{where}: '{key}' (a string) is required")
        features: dict[str, Any] = {}
        for key, value in t.items():
            if key in INFO_KEYS:
                continue
            if key not in CLIENT_KEYS | SERVER_KEYS | COMMON_KEYS:
                raise StackFileError(f"{where} ({t['id']}): unknown key '{key}'")
            if key == "grease":
                if not isinstance(value, bool):
                    raise StackFileError(f"{where} ({t['id']}): 'grease' must be true/false")
                features[key] = value
            elif key == "alpn":
                features[key] = str(value)
            elif key == "certificate_subject":
                try:
                    re.compile(str(value))
                except re.error as e:
                    raise StackFileError(f"{where} ({t['id']}): 'certificate_subject' is not a "
                                         f"regular expression ({e})") from None
                features[key] = str(value)
            elif key == "server_session_id":
                features[key] = tuple(int(x) for x in str(value).split(",") if x.strip())
            else:
                try:
                    features[key] = _hexes(str(value))
                except ValueError:
                    raise StackFileError(
                        f"{where} ({t['id']}): '{key}' must be comma-separated hex values"
                    ) from None
        if not set(features) - COMMON_KEYS:
            raise StackFileError(f"{where} ({t['id']}): no hello features to compare")
        if set(features) & CLIENT_KEYS and set(features) & SERVER_KEYS:
            raise StackFileError(f"{where} ({t['id']}): mixes ClientHello and ServerHello "
                                 "features: make two entries")
        note = t.get("note")
        out.append(StackEntry(t["id"], t["name"], t.get("version"), t["provenance"],
                              features, note if isinstance(note, str) else None))
    return out


def load_file(path: str | Path) -> list[StackEntry]:
    """Entries of a user's stacks file (the format of ``stacks.toml``; user entries)."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise StackFileError(f"{p}: cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise StackFileError(f"{p}: not TOML ({e})") from None
    return [dataclasses.replace(e, user=True) for e in parse_entries(doc, str(p))]


def builtin_entries() -> list[StackEntry]:
    """The entries shipped with dtlsproxy (``proxy/identify/stacks.toml``)."""
    text = resources.files("proxy.identify").joinpath("stacks.toml").read_text("utf-8")
    return parse_entries(tomllib.loads(text), "stacks.toml")


def _h(values: Iterable[int]) -> str:
    return ",".join(f"{v:04x}" for v in values)


def _short(values: tuple[int, ...], n: int = 4) -> str:
    text = _h(values[:n])
    return text + ("..." if len(values) > n else "") + f" ({len(values)})"


def _subsequence(seen: tuple[int, ...], order: tuple[int, ...]) -> bool:
    """Every value of ``seen`` is in ``order``, in that order."""
    pos = -1
    for v in seen:
        try:
            pos = order.index(v, pos + 1)
        except ValueError:
            return False
    return True


def _observed(f: HelloFeatures, alpn: str | None) -> dict[str, Any]:
    if f.role == "client":
        return {"versions": f.versions, "ciphers": f.ciphers, "extensions": f.extensions,
                "extension_set": tuple(sorted(f.extensions)), "groups": f.groups,
                "sigalgs": f.sigalgs, "key_shares": f.key_shares, "srtp": f.srtp,
                "alpn": alpn, "grease": f.grease, "point_formats": f.point_formats}
    return {"server_extensions": f.extensions, "server_session_id": f.session_id_length,
            "server_point_formats": f.point_formats, "server_versions": f.versions}


def _matches(key: str, want: Any, got: Any) -> bool:
    if key == "extension_set":
        return bool(tuple(sorted(want)) == got)
    if key == "server_extensions":
        return _subsequence(got, want)
    if key == "server_session_id":
        return bool(got in want)
    if key == "certificate_subject":
        return re.search(want, got) is not None
    return bool(want == got)


def _describe(key: str, f: HelloFeatures, alpn: str | None, subject: str | None) -> str:
    """Evidence wording for a matched feature."""
    exts = set(f.extensions)
    if key in ("extensions", "server_extensions"):
        text = f"extension order {_h(f.extensions)}"
        extra = [name for t, name in ((0x17, "EMS"), (0x16, "ETM")) if t in exts]
        return text + (f" ({'+'.join(extra)})" if extra else "")
    if key == "extension_set":
        return f"extensions {_h(sorted(f.extensions))} (in a permuted order)"
    if key == "versions":
        if not f.supported_versions:
            return f"no supported_versions (version {_h(f.versions)})"
        return f"supported_versions {_h(f.versions)}"
    if key == "ciphers":
        return f"suite order {_short(f.ciphers)}"
    if key == "groups":
        return f"groups {_short(f.groups)}"
    if key == "sigalgs":
        return f"signature schemes {_short(f.sigalgs)}"
    if key == "key_shares":
        mlkem = " (ML-KEM)" if any(v in (0x11EC, 0x11EB, 0x11ED) for v in f.key_shares) else ""
        return f"key shares {_h(f.key_shares)}{mlkem}"
    if key == "srtp":
        return f"use_srtp {_h(f.srtp)}"
    if key == "alpn":
        return f"ALPN {alpn}"
    if key == "grease":
        return "GREASE values" if f.grease else "no GREASE"
    if key in ("point_formats", "server_point_formats"):
        return f"point formats {','.join(str(p) for p in f.point_formats)}"
    if key == "server_versions":
        return f"version {_h(f.versions)}"
    if key == "certificate_subject":
        return f"certificate subject {subject}"
    if key == "server_versions":
        return f"version {_h(f.versions)}"
    if key == "server_session_id":
        return f"session id of {f.session_id_length} bytes"
    return key.replace("_", " ")


@dataclass(frozen=True)
class Score:
    """How well one entry fits one hello."""

    entry: StackEntry
    value: float
    matched: tuple[str, ...]
    missed: tuple[str, ...]

    @property
    def weight(self) -> float:
        """How much matched: of two full matches the more specific entry wins."""
        return sum(WEIGHTS[k] for k in self.matched)

    def rank(self) -> tuple[float, bool, float]:
        """Sort key, best first when reversed: score, user entry, matched weight."""
        return (self.value, self.entry.user, self.weight)


class StackDb:
    """The known stacks; :meth:`guess` names the one a hello looks like."""

    def __init__(self, entries: Iterable[StackEntry]) -> None:
        self.entries = list(entries)
        self._cache: dict[tuple[HelloFeatures, str | None, str | None], StackGuess] = {}

    @classmethod
    def default(cls, extra_files: Iterable[str | Path] = ()) -> StackDb:
        """The shipped entries, then the user's (a user entry wins a tie)."""
        entries = builtin_entries()
        for path in extra_files:
            entries += load_file(path)
        return cls(entries)

    def scores(self, body: ClientHello | ServerHello, subject: str | None = None
               ) -> list[Score]:
        """Every entry of the hello's role, best first."""
        return self._scores(hello_features(body), _alpn(body), subject)

    def _scores(self, f: HelloFeatures, alpn: str | None, subject: str | None
                ) -> list[Score]:
        got = _observed(f, alpn)
        got["certificate_subject"] = subject
        out = []
        for e in self.entries:
            if e.role != f.role:
                continue
            total = hit = 0.0
            matched, missed = [], []
            for key, want in e.features.items():
                if got[key] is None and key in COMMON_KEYS:
                    continue  # the certificate is not known (yet): not compared
                w = WEIGHTS[key]
                total += w
                if _matches(key, want, got[key]):
                    hit += w
                    matched.append(key)
                else:
                    missed.append(key)
            out.append(Score(e, hit / total if total else 0.0, tuple(matched), tuple(missed)))
        out.sort(key=Score.rank, reverse=True)  # stable: file order breaks the last ties
        return out

    def guess(self, body: ClientHello | ServerHello, subject: str | None = None
              ) -> StackGuess:
        """The stack the hello (and the subject of the same side's certificate, when
        known) looks like; cached per distinct hello and subject."""
        f = hello_features(body)
        alpn = _alpn(body)
        key = (f, alpn, subject)
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            cached = self._cache[key] = self._guess(f, alpn, subject)
        return cached

    def _guess(self, f: HelloFeatures, alpn: str | None, subject: str | None) -> StackGuess:
        scores = self._scores(f, alpn, subject)
        fp = f"{'JA4' if f.role == 'client' else 'JA4S'} {f.fingerprint}"
        if not scores:
            return StackGuess("unknown", None, "low", (fp,))
        best = scores[0]
        if best.value < UNKNOWN_BELOW:
            differs = ", ".join(k.replace("_", " ") for k in best.missed)
            return StackGuess("unknown", None, "low",
                              (fp, f"nearest {best.entry.name} {best.entry.version or ''}"
                               .rstrip() + f" (differs in {differs})"),
                              nearest=_label(best.entry))
        tied = [s for s in scores if s.rank() == best.rank()]
        names = list(dict.fromkeys(s.entry.name for s in tied))
        versions = list(dict.fromkeys(s.entry.version for s in tied
                                      if s.entry.name == best.entry.name and s.entry.version))
        evidence = [_describe(k, f, alpn, subject) for k in best.matched]
        if best.missed:
            evidence.append("differs in " + ", ".join(k.replace("_", " ") for k in best.missed))
        if best.entry.note:
            evidence.append(best.entry.note)
        evidence.append(fp)
        library_only = set(best.missed) <= APP_FEATURES
        if len(names) > 1:
            confidence = "low"
            name = " or ".join(sorted(names))
            versions = []
        elif f.role == "server":
            # a ServerHello answers what the client offered: few extensions say little
            name = names[0]
            n = len(f.extensions)
            if best.value == 1.0 and n >= 4 and len(versions) <= 1:
                confidence = "high"
            elif n >= 3 and not set(best.missed) - {"server_point_formats"}:
                confidence = "medium"
            else:
                confidence = "low"
        else:
            name = names[0]
            if best.value == 1.0 and sum(WEIGHTS[k] for k in best.matched) >= 4:
                confidence = "high" if len(versions) <= 1 else "medium"
            elif best.value >= 0.8 or library_only:
                confidence = "medium"
            else:
                confidence = "low"
        version = " or ".join(versions) if versions else None
        if len(versions) > 1:
            evidence.insert(0, "the hello does not tell " + " and ".join(versions) + " apart")
        return StackGuess(name, version, confidence, tuple(evidence))


def _label(e: StackEntry) -> str:
    return f"{e.name} {e.version}" if e.version else e.name


def _alpn(body: ClientHello | ServerHello) -> str | None:
    for e in body.extensions:
        if e.type == 0x10 and isinstance(e.value, Alpn) and e.value.protocols:
            return e.value.protocols[0].decode("utf-8", "backslashreplace")
    return None


_DEFAULT: StackDb | None = None


def default_db() -> StackDb:
    """The shipped entries, loaded once."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = StackDb.default()
    return _DEFAULT
