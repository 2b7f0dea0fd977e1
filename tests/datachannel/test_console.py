"""``run --headless`` lines for the data channel of the aiortc <-> Janus echotest capture:
the association's steps and the channel's OPEN/ACK, one line when a state changes (never
for counters), messages only with --show-payloads, and without keys what it blocks."""

from __future__ import annotations

import io

from proxy.export.console import ConsoleRenderer
from tests.datachannel.test_association import run


def lines(keylog: bool = True, show_payloads: bool = False) -> list[str]:
    buf = io.StringIO()
    r = ConsoleRenderer(buf, colour=False)
    r.write(run(keylog, show_payloads))
    return [line.split(" ", 1)[1] for line in buf.getvalue().splitlines()]  # no clock


def test_the_echo_channel_on_the_console() -> None:
    s1 = [line for line in lines() if line.startswith("s1 ") and "SCTP" in line]
    assert any(line.startswith("s1 server->client SCTP INIT: ports 5000 -> 5000") for line in s1)
    assert any("SCTP COOKIE ACK" in line for line in s1)
    assert any("SCTP DATA_CHANNEL_OPEN stream 0: label 'echo', protocol ''" in line
               and "reliability reliable" in line for line in s1)
    assert any("SCTP DATA_CHANNEL_ACK stream 0" in line for line in s1)
    assert "s1 SCTP established channels 0 'echo' open" in s1
    states = [line for line in s1 if line.startswith("s1 SCTP ")]
    assert len(states) == len(set(states))  # a line per change, not per counter update
    assert not [line for line in lines() if "Janus EchoTest" in line]


def test_messages_only_with_show_payloads() -> None:
    shown = [line for line in lines(show_payloads=True) if line.startswith("s1 ")]
    assert ("s1 server->client data channel 0 'echo' WebRTC String, 36 bytes: "
            "'Janus EchoTest here! You wrote: ping'") in shown


def test_without_key_log_the_console_says_what_it_blocks() -> None:
    s1 = [line for line in lines(keylog=False) if line.startswith("s1 SCTP")]
    assert len(s1) == 1 and s1[0].startswith("s1 SCTP encrypted -- application data is "
                                             "encrypted")
    assert "CLIENT_RANDOM line in the key log" in s1[0]
