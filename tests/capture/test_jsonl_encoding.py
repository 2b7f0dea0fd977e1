"""``event_to_json`` (the JSONL hot path of ``dtlsproxy analyze``) writes exactly the text
``json`` writes for ``event_to_dict``: every event of every shared capture, and odd values."""

from __future__ import annotations

import dataclasses
import enum
import json
from pathlib import Path

from proxy.analyze.pipeline import analyze_capture
from proxy.capture.jsonl import event_to_json
from proxy.events import (
    Check,
    CheckReport,
    DatagramSeen,
    Event,
    FlightComplete,
    MediaStats,
    MessageSeen,
    Notice,
    SessionSummary,
    event_to_dict,
)
from proxy.session import Tracker
from proxy.verdict import VerdictEngine
from tests.ui_scenarios import all_scenarios


def _dumps(ev: Event) -> str:
    return json.dumps(event_to_dict(ev), separators=(",", ":"))


def test_every_event_of_every_shared_capture_renders_as_json_dumps(captures_dir: Path) -> None:
    seen = 0
    for path in sorted(captures_dir.glob("*.pcap*")):
        for ev in analyze_capture(path, tracker=Tracker(verdict_hook=VerdictEngine())):
            assert event_to_json(ev) == _dumps(ev), (path.name, ev)
            seen += 1
    assert seen > 500


def test_scenario_events_with_verdicts_render_as_json_dumps() -> None:
    events = all_scenarios()
    assert {type(e).__name__ for e in events} >= {"Verdict", "MessageSeen", "AlertSeen"}
    for ev in events:
        assert event_to_json(ev) == _dumps(ev)


class Level(enum.IntEnum):
    FATAL = 2


class Name(enum.StrEnum):
    X = "x"


def test_odd_values_render_as_json_dumps() -> None:
    ts = 1_700_000_000.125
    odd: list[Event] = [
        Notice(ts, "s\u00e9\n\"1\"", "warning", Name.X, "caf\u00e9 \U0001f600 \\ \x00 \t"),
        DatagramSeen(ts, "s1", Level.FATAL, "a->b", "dtls", True,
                     bytearray(b"\x00\xff")),  # type: ignore[arg-type]
        FlightComplete(ts, "s1", "a->b", 1, ("CH",), (1, 2), float("nan")),
        FlightComplete(ts, "s1", "a->b", 1, [], (), float("-inf")),  # type: ignore[arg-type]
        MediaStats(ts, "", "a->b", 1.5, 0, 10**30, -1, {"0x1": 3, "\u00fc": 4}),
        MediaStats(ts, "", "a->b", 1.5, 0, 1, 1, {"a": True, "b": Level.FATAL}),
        MediaStats(ts, "", "a->b", 1.5, 0, 1, 1, {1: 2, None: 3, 2.5: 4}),  # type: ignore[dict-item]
        FlightComplete(ts, "s1", "a->b", 1, ("A", Name.X), (True, Level.FATAL, 3), 0.5),
        FlightComplete(ts, "s1", "a->b", 1, ("A", b"\x01"), (1, 2.5), 0.5),  # type: ignore[arg-type]
        SessionSummary(ts, "s1", "x", None, None, None, None, None, fingerprints={"k": b"\x00"},  # type: ignore[dict-item]
                       counters={"c": None}),  # type: ignore[dict-item]
        SessionSummary(ts, "s1", "established", None, None, None, None, "DTLS 1.2",
                       fingerprints={"client": "AB:CD"}, counters={}),
        CheckReport(ts, "s1", False, (Check("c", None, "d", {"k": "v"}),)),
        MessageSeen(ts, "s1", "a->b", None, "Finished", None, None, 1, True, 1, (3,), 0,
                    memoryview(b"\x01"),  # type: ignore[arg-type]
                    body={"b": (b"\x02", 1.0)}, error="e"),
    ]
    for ev in odd:
        assert event_to_json(ev) == _dumps(ev)


class _Slotted:
    __slots__ = ("v",)

    def __init__(self, v: int) -> None:
        self.v = v

    def __json__(self) -> dict[str, int]:
        return {"v": self.v}


class _Plain:
    def __json__(self) -> str:
        return "class"


def test_objects_rendering_themselves_after_the_first_one() -> None:
    ts = 1_700_000_000.0
    own = _Plain()
    own.__json__ = lambda: "instance"  # type: ignore[method-assign]
    for body in ([_Slotted(1), _Slotted(2)], [_Plain(), own, _Plain()]):
        ev = MessageSeen(ts, "s1", "a->b", 1, "X", 1, 0, 0, False, 1, (1,), 0, b"", body=body)
        assert event_to_json(ev) == _dumps(ev)
    assert '"body":["class","instance","class"]' in event_to_json(
        MessageSeen(ts, "s1", "a->b", 1, "X", 1, 0, 0, False, 1, (1,), 0, b"",
                    body=[_Plain(), own, _Plain()]))


@dataclasses.dataclass
class _Inner:
    a: float
    b: tuple[int, ...]
    hidden: int = dataclasses.field(default=0, metadata={"json": False})
    _private: int = 0


def test_nested_values_render_as_json_dumps() -> None:
    ts = 1_700_000_000.0
    bodies: list[object] = [
        {1: "a", "1": "b"},  # keys that collide once made strings
        {"k": [_Inner(0.5, (1, True)), _Inner(float("inf"), ())], "e": {}},
        (Check("c", True, "d", {"k": "v"}), [b"\x00", None, 2.5, Name.X, Level.FATAL]),
        _Inner(1.0, (1, 2)),
        _Inner(1.0, (1, 2)),  # the second one takes the generated writer
        [[], (), {}],
    ]
    for body in bodies:
        ev = MessageSeen(ts, "s1", "a->b", 1, "X", 1, 0, 0, False, 1, (1,), 0, b"", body=body)
        assert event_to_json(ev) == _dumps(ev)
