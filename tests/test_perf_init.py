"""``fast_init``: a frozen, slotted dataclass keeps its behaviour with the faster
``__init__`` (same signature, defaults, factories, errors, instances), and the classes
made on every datagram use it."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import InitVar, dataclass, field
from typing import Any

import pytest

from proxy import events
from proxy.decode.dtls.extensions import Extension, UseSrtp
from proxy.decode.dtls.handshake import AssembledMessage, HandshakeFragment
from proxy.decode.dtls.messages import ParseContext
from proxy.decode.dtls.record import Record
from proxy.fastinit import fast_init
from proxy.session.session import MessageRecord
from proxy.session.transcript import TranscriptEntry


def _uses_fast_init(cls: type) -> bool:
    return "_set0" in vars(cls)["__init__"].__code__.co_names


def _twins() -> tuple[Any, Any]:
    """The same class twice: with the generated ``__init__`` and with ``fast_init``."""

    def make() -> Any:
        @dataclass(frozen=True, slots=True)
        class Thing:
            a: int
            b: str
            c: tuple[int, ...] = ()
            d: dict[str, int] = field(default_factory=dict)
            e: bytes = field(repr=False, default=b"")

        return Thing

    return make(), fast_init(make())


def test_same_signature_instances_defaults_factories_and_errors() -> None:
    plain, fast = _twins()
    assert _uses_fast_init(fast) and not _uses_fast_init(plain)
    assert str(inspect.signature(fast)) == str(inspect.signature(plain))
    assert fast.__init__.__qualname__ == plain.__init__.__qualname__
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((1, "x"), {}), ((1, "x", (2,), {"k": 3}, b"\x01"), {}),
        ((), {"a": 1, "b": "y", "e": b"z"}), ((1,), {"b": "x", "d": {}})]
    for args, kwargs in calls:
        p, f = plain(*args, **kwargs), fast(*args, **kwargs)
        assert dataclasses.astuple(p) == dataclasses.astuple(f)
        assert repr(p).replace(".<locals>", "") == repr(f).replace(".<locals>", "")
    one, two = fast(1, "x"), fast(1, "x")
    assert one.d == {} and one.d is not two.d  # a fresh dict per instance
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.a = 2
    bad: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((1,), {}), ((1, "x", (), {}, b"", 9), {}), ((1, "x"), {"z": 1})]
    for bad_args, bad_kwargs in bad:
        with pytest.raises(TypeError) as p_err:
            plain(*bad_args, **bad_kwargs)
        with pytest.raises(TypeError) as f_err:
            fast(*bad_args, **bad_kwargs)
        assert str(f_err.value) == str(p_err.value)


def test_classes_it_cannot_mirror_keep_their_init() -> None:
    @dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        scale: InitVar[int] = 1

    @dataclass(frozen=True, slots=True)
    class KwOnly:
        a: int = field(kw_only=True)

    @dataclass(frozen=True, slots=True)
    class NotInit:
        a: int
        b: int = field(init=False, default=0)

    classes: list[type] = [NoSlots, NotFrozen, PostInit, WithInitVar, KwOnly, NotInit]
    for cls in classes:
        before = vars(cls)["__init__"]
        assert vars(fast_init(cls))["__init__"] is before, cls.__name__
    assert fast_init(str) is str  # not a dataclass at all


def test_the_hot_classes_use_it() -> None:
    hot = [HandshakeFragment, AssembledMessage, Record, Extension, UseSrtp, MessageRecord,
           TranscriptEntry, ParseContext]
    hot += [c for c in vars(events).values() if isinstance(c, type)
            and dataclasses.is_dataclass(c) and c.__module__ == "proxy.events"]
    assert len(hot) > 25
    assert [c.__name__ for c in hot if not _uses_fast_init(c)] == []
