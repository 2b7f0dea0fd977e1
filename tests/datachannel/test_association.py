"""The data channel of a real call, followed from the capture: aiortc (DTLS client) <->
dtlsproxy <-> Janus 1.1.2 echotest (tests/data/janus-aiortc-datachannel.pcapng, both
legs, with aiortc's key log). Datagrams in, the association and its channel out."""

from __future__ import annotations

from pathlib import Path

from proxy.capture.pcap import read_capture
from proxy.decode.keylog import KeyLog
from proxy.events import DataChannelMessage, DataChannels, Event, SctpSeen
from proxy.session import Tracker
from proxy.verdict import VerdictEngine
from proxy.verdict.inputs import Secrets, VerdictOptions

DATA = Path(__file__).resolve().parent.parent / "data"
CAPTURE = DATA / "janus-aiortc-datachannel.pcapng"
KEYS = DATA / "janus-aiortc-datachannel.keys"


def run(keylog: bool = True, show_payloads: bool = False) -> list[Event]:
    secrets = Secrets(keylog=KeyLog.load(KEYS)) if keylog else Secrets()
    tr = Tracker(verdict_hook=VerdictEngine(VerdictOptions(show_payloads=show_payloads),
                                            secrets))
    out: list[Event] = []
    last = 0.0
    for d in read_capture(CAPTURE):
        out += tr.receive(d)
        last = d.ts
    return out + tr.finish(last + 1)


def of(events: list[Event], cls: type, sid: str = "s1") -> list:  # type: ignore[type-arg]
    return [e for e in events if isinstance(e, cls) and e.session == sid]


def test_the_association_and_the_echo_channel_with_the_key_log() -> None:
    events = run()
    chunks = [(e.dir, e.chunk) for e in of(events, SctpSeen)]
    assert chunks == [
        ("server->client", "INIT"), ("client->server", "INIT"),  # both send INIT (a collision)
        ("client->server", "INIT ACK"), ("server->client", "INIT ACK"),
        ("server->client", "COOKIE ECHO"), ("client->server", "COOKIE ECHO"),
        ("client->server", "COOKIE ACK"), ("client->server", "DATA_CHANNEL_OPEN"),
        ("server->client", "COOKIE ACK"), ("server->client", "DATA_CHANNEL_ACK"),
    ]
    opened = next(e for e in of(events, SctpSeen) if e.chunk == "DATA_CHANNEL_OPEN")
    assert opened.stream == 0 and opened.detail["label"] == "echo"
    last = of(events, DataChannels)[-1]
    assert last.state == "established" and last.ports == (5000, 5000)
    (ch,) = last.channels
    assert (ch.label, ch.protocol, ch.ordered, ch.reliability, ch.state, ch.opened_by) == (
        "echo", "", True, "reliable", "open", "client->server")
    assert ch.messages == {"client->server": 1, "server->client": 1}
    assert ch.bytes == {"client->server": 4, "server->client": 36}  # "ping", the echo
    assert last.checksum == {"server->client": "ok 7", "client->server": "ok 8"}
    assert of(events, DataChannelMessage) == []  # user data only when asked
    assert all("Janus EchoTest" not in repr(e) for e in events)
    # the other leg (proxy <-> Janus) shows the same channel
    assert of(events, DataChannels, "s2")[-1].channels[0].label == "echo"


def test_payloads_only_with_show_payloads() -> None:
    msgs = of(run(show_payloads=True), DataChannelMessage)
    assert [(m.dir, m.label, m.ppid, m.text) for m in msgs] == [
        ("client->server", "echo", "WebRTC String", "ping"),
        ("server->client", "echo", "WebRTC String", "Janus EchoTest here! You wrote: ping"),
    ]


def test_without_a_key_log_it_says_what_is_blocked() -> None:
    events = run(keylog=False)
    assert of(events, SctpSeen) == []
    (dc,) = of(events, DataChannels)
    assert dc.state == "encrypted" and dc.channels == ()
    assert dc.note is not None and "CLIENT_RANDOM" in dc.note and "--keylog" in dc.note
