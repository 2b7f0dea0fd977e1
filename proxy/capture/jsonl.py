"""One JSONL line per event, written without building :func:`event_to_dict`'s dict.

:func:`event_to_json` is ``json.dumps(event_to_dict(ev), separators=(",", ":"))``,
byte for byte (``tests/test_perf_jsonl.py``), at about half the cost: the JSONL hot
path of ``dtlsproxy analyze`` and of the live log. One function is generated per
event class (and per plain dataclass nested in one) that reads the fields in order
and writes the annotated type inline; any other value goes through the generic path.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from json.encoder import encode_basestring_ascii as _json_str
from typing import Any

from proxy.events import (
    _JSON_FIELDS,
    _JSON_METHOD,
    Event,
    event_to_dict,
    iso_time,
    jsonable,
)

_ENCODER = json.JSONEncoder(separators=(",", ":"))


def _make_encode() -> Callable[[Any], str]:
    """``_ENCODER.encode`` without building a new C encoder per call (values from
    :func:`jsonable` are fresh trees: no circular check needed)."""
    make: Any = getattr(json.encoder, "c_make_encoder", None)  # not in typeshed
    if make is None:
        return _ENCODER.encode
    chunks = make(None, _ENCODER.default, _json_str, None, ":", ",", False, False, True)
    return lambda value: "".join(chunks(value, 0))


_encode = _make_encode()


def _value_json(v: Any) -> str:
    """The JSON text ``json`` writes for ``jsonable(v)`` (one field of an event)."""
    t = type(v)
    if t is str:
        return _json_str(v)
    if t is int:
        return int.__repr__(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if t is bytes:
        return '"' + bytes.hex(v) + '"'
    # The rest in jsonable's order, written directly where the result is the same text.
    if t is tuple or t is list:
        return _items_json(v)
    if t is dict:
        for k in v:
            if type(k) is not str:  # str(k) of two keys may collide: jsonable's dict
                return _encode(jsonable(v))
        return "{" + ",".join([_json_str(k) + ":" + _value_json(x) for k, x in v.items()]) + "}"
    render = _NESTED.get(t)
    if render is not None:
        return render(v)
    names = _JSON_FIELDS.get(t)
    if names is not None:
        return _nested_renderer(t, names)(v)
    if t in _JSON_METHOD:
        return _encode(v.__json__())
    return _encode(jsonable(v))


def _items_json(v: tuple[Any, ...] | list[Any]) -> str:
    for e in v:
        if type(e) is not int:
            return "[" + ",".join([_value_json(x) for x in v]) + "]"
    return "[" + ",".join(map(int.__repr__, v)) + "]"


_NESTED: dict[type, Callable[[Any], str]] = {}
"""Plain dataclass (one of :data:`_JSON_FIELDS`) -> its generated JSON writer."""


def _nested_renderer(cls: type, names: tuple[str, ...]) -> Callable[[Any], str]:
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    render = _compile([(n, f"o.{n}", types[n]) for n in names])
    _NESTED[cls] = render
    return render


def _compile(members: list[tuple[str, str, str]]) -> Callable[[Any], str]:
    """A writer of one JSON object: for each ``(key, expression of o, annotation)``, the
    key and the expression's value, the annotated type written inline (:data:`_INLINE`)."""
    if not members:
        return lambda o: "{}"
    lines = ["def render(o):"]
    parts = []
    for i, (key, expr, annotation) in enumerate(members):
        lines.append(f"    x{i} = {expr}")
        parts.append(repr(("{" if i == 0 else ",") + _json_str(key) + ":"))
        parts.append(_INLINE.get(annotation, "_v(X)").replace("X", f"x{i}"))
    parts.append(repr("}"))
    lines.append(f"    return ''.join(({', '.join(parts)}))")
    namespace = dict(_NAMESPACE)
    exec("\n".join(lines), namespace)  # trusted text: built from field names
    render: Callable[[Any], str] = namespace["render"]
    return render


def _ints(v: Any) -> str:
    """JSON of a tuple of ints (any other value: :func:`_value_json`)."""
    return _items_json(v) if type(v) is tuple else _value_json(v)


def _strs(v: Any) -> str:
    """JSON of a tuple of strings (any other value: :func:`_value_json`)."""
    if type(v) is tuple:
        for e in v:
            if type(e) is not str:
                return _value_json(v)
        return "[" + ",".join(map(_json_str, v)) + "]"
    return _value_json(v)


def _str_map(v: Any) -> str:
    """JSON of a dict of strings to strings or ints (anything else: :func:`_value_json`)."""
    if type(v) is dict:
        parts = []
        for k, x in v.items():
            t = type(x)
            if type(k) is not str or (t is not str and t is not int):
                return _value_json(v)
            parts.append(_json_str(k) + ":" + (_json_str(x) if t is str else int.__repr__(x)))
        return "{" + ",".join(parts) + "}"
    return _value_json(v)


_INLINE: dict[str, str] = {
    "str": "(_s(X) if type(X) is str else _v(X))",
    "int": "(_r(X) if type(X) is int else _v(X))",
    "bool": "('true' if X is True else 'false' if X is False else _v(X))",
    "str | None": "('null' if X is None else _s(X) if type(X) is str else _v(X))",
    "int | None": "('null' if X is None else _r(X) if type(X) is int else _v(X))",
    "bytes": "('\"' + X.hex() + '\"' if type(X) is bytes else _v(X))",
    "tuple[int, ...]": "_ints(X)",
    "tuple[str, ...]": "_strs(X)",
    "Mapping[str, str]": "_str_map(X)",
    "Mapping[str, int]": "_str_map(X)",
}
"""Annotation -> an expression for the JSON of field value ``X``: the annotated type
inline, anything else through :func:`_value_json` (the annotation only picks the
fast case; the text is the same whatever the value)."""

_NAMESPACE: dict[str, Any] = {"_s": _json_str, "_r": int.__repr__, "_v": _value_json,
                              "_iso": iso_time, "_ints": _ints, "_strs": _strs,
                              "_str_map": _str_map}
"""The names the generated writers use."""

_RENDERERS: dict[type, Callable[[Any], str]] = {}
"""Event class -> its generated ``event_to_json`` (built on first use)."""


def _renderer(cls: type) -> Callable[[Any], str]:
    fields = dataclasses.fields(cls)
    render: Callable[[Any], str]
    if any(f.name == "event" for f in fields):  # would replace "event" in event_to_dict
        def render(ev: Any) -> str:
            return _encode(event_to_dict(ev))
    else:
        session = next(f for f in fields if f.name == "session")
        render = _compile(
            [("event", "o.EVENT", "str"), ("ts", "_iso(o.ts)", "str"),
             ("session", "o.session", str(session.type))]
            + [(f.name, f"o.{f.name}", str(f.type)) for f in fields
               if f.name not in ("ts", "session")]
        )
    _RENDERERS[cls] = render
    return render


def event_to_json(ev: Event) -> str:
    """``event_to_dict(ev)`` as compact JSON (``separators=(",", ":")``, ASCII), the same
    text ``json`` writes for it, built without the intermediate dict (JSONL hot path):
    one generated function per event class reads the fields in order."""
    render = _RENDERERS.get(type(ev))
    if render is None:
        render = _renderer(type(ev))
    return render(ev)
