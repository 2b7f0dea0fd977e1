"""Read a JSONL event log (one ``event_to_dict`` object per line) back into events.

The inverse of :func:`proxy.events.event_to_dict`: classes come from
``EVENT_TYPES``, ``ts`` from ISO 8601, bytes from hex, nested dataclasses
(``Check``, ``CulpritRef``) and tuples rebuilt from the field annotations.
``MessageSeen.body`` is parsed again from ``raw`` (the message bytes the log
keeps), so a reopened log shows the same field tree, registry names and byte
spans as the live view; when that fails, the plain dict of the log is kept.
Unknown event names and unknown keys are skipped, so newer logs still open.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import proxy.events as events_mod
from proxy.decode.dtls.handshake import HEADER_LENGTH
from proxy.decode.dtls.messages import ParseContext, parse_ack, parse_body
from proxy.decode.dtls.reader import DecodeError
from proxy.events import EVENT_TYPES, Event

_HINTS: dict[type, dict[str, Any]] = {}


class LogFormatError(ValueError):
    """A line of the log is not an event object (``line`` is 1-based)."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


_EXPANDED = re.compile(r"([+-])(\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z")
"""ISO 8601 with an expanded, signed year (how :func:`proxy.events.iso_time` writes a
time outside years 1-9999)."""


def parse_ts(value: Any) -> float:
    """ISO 8601 (``...Z``, also with an expanded year) or a number -> seconds since the
    epoch."""
    if isinstance(value, int | float):
        return float(value)
    m = _EXPANDED.fullmatch(str(value))
    if m is not None:
        sign, year, month, day, hh, mm, ss, frac = m.groups()
        y = int(year) * (-1 if sign == "-" else 1) - (int(month) <= 2)
        era, yoe = divmod(y, 400)  # Hinnant's days_from_civil
        mp = (int(month) + 9) % 12
        doy = (153 * mp + 2) // 5 + int(day) - 1
        doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
        days = era * 146_097 + doe - 719_468
        seconds = days * 86_400 + int(hh) * 3600 + int(mm) * 60 + int(ss)
        return seconds + int((frac or "0").ljust(6, "0")) / 1e6
    dt = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_dt.UTC)
    return dt.timestamp()


def _hints(cls: type) -> dict[str, Any]:
    h = _HINTS.get(cls)
    if h is None:
        h = typing.get_type_hints(cls, vars(events_mod))
        _HINTS[cls] = h
    return h


def _convert(tp: Any, value: Any) -> Any:
    if value is None or tp is Any:
        return value
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        for a in (a for a in typing.get_args(tp) if a is not type(None)):
            try:
                return _convert(a, value)
            except (TypeError, ValueError):
                continue
        return value
    if tp is bytes:
        return bytes.fromhex(value) if isinstance(value, str) else bytes(value)
    if tp is float:
        return float(value)
    if tp is int:
        return int(value)
    if tp in (str, bool):
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v) for v in value)
        return tuple(_convert(a, v) for a, v in zip(args, value, strict=False))
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        return dict(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, Mapping):
        return _build(tp, value)
    return value


def _body(data: Mapping[str, Any]) -> Any:
    """The message body re-parsed from ``raw`` (12-byte header + body; an ACK's record
    numbers), else the dict. A decrypted DTLS 1.3 message is parsed as 1.3."""
    raw, msg_type = data.get("raw"), data.get("msg_type")
    try:
        if isinstance(raw, str) and data.get("type") == "ACK":
            return parse_ack(bytes.fromhex(raw))
        if isinstance(raw, str) and len(raw) >= 24 and isinstance(msg_type, int):
            dtls13 = bool(data.get("decrypted")) or int(data.get("epoch") or 0) >= 2
            return parse_body(msg_type, bytes.fromhex(raw)[HEADER_LENGTH:],
                              ParseContext(is_dtls13=dtls13) if dtls13 else None)
    except (ValueError, DecodeError):
        pass
    return data["body"]


def _build(cls: type, data: Mapping[str, Any]) -> Any:
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        if f.name == "ts":
            kwargs["ts"] = parse_ts(data["ts"])
        elif f.name == "body":
            kwargs["body"] = _body(data)
        else:
            kwargs[f.name] = _convert(hints.get(f.name, Any), data[f.name])
    return cls(**kwargs)


def event_from_dict(data: Mapping[str, Any]) -> Event | None:
    """One event from its JSONL object; None for an unknown ``event`` name."""
    cls = EVENT_TYPES.get(str(data.get("event")))
    if cls is None:
        return None
    ev: Event = _build(cls, data)
    return ev


def events_from_lines(lines: Iterable[str]) -> list[Event]:
    """Events from JSONL lines (blank lines skipped); raises LogFormatError."""
    out: list[Event] = []
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LogFormatError(n, f"not JSON ({exc.msg})") from None
        if not isinstance(data, dict) or "event" not in data:
            raise LogFormatError(n, "not an event object (no 'event' key)")
        try:
            ev = event_from_dict(data)
        except (TypeError, ValueError, KeyError) as exc:
            raise LogFormatError(n, f"bad {data.get('event')} event: {exc}") from None
        if ev is not None:
            out.append(ev)
    return out


def events_from_jsonl(path: str | Path) -> list[Event]:
    """Every event of a JSONL log file (exported or live)."""
    with Path(path).open(encoding="utf-8") as fh:
        return events_from_lines(fh)
