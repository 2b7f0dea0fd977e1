"""OpenSSL retransmits its flight 4 split at DIFFERENT fragment boundaries than the
first copy (after a timeout it falls back to a smaller MTU guess). tshark 4.0 then
reports "New fragment overlaps old data (retransmission?)"; we must reassemble each
copy on its own and call it a copy.

The capture ``tests/data/openssl-refragmented-retransmission.pcapng`` was made on this
machine by real peers: ``openssl s_server -dtls1_2`` (no -mtu: OpenSSL's fallback
MTU), ``openssl s_client -dtls1_2`` with a client certificate, through
``dtlsproxy run --listen .. --upstream .. --fault "who=server,flight=4,action=drop,count=3"
--pcap ..`` (reverse mode: both legs are in the file, the relayed ones carry the
comment "relayed by dtlsproxy"). The first three datagrams of flight 4 were dropped,
so on the client's leg the ServerHello arrives AFTER the ServerHelloDone.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from proxy.analyze.pipeline import analyze_capture
from proxy.events import CheckReport, FlightComplete, Malformed, MessageSeen, Verdict
from proxy.session import Tracker
from tests.conftest import require_tool

DATA = Path(__file__).resolve().parents[1] / "data"
CAPTURE = DATA / "openssl-refragmented-retransmission.pcapng"


def test_tshark_4_reports_an_overlap_on_this_capture() -> None:
    tshark = require_tool("tshark")
    out = subprocess.run(
        [tshark, "-r", str(CAPTURE), "-d", "udp.port==5555,dtls", "-d", "udp.port==4433,dtls",
         "-T", "fields", "-e", "frame.number", "-e", "_ws.expert.message"],
        capture_output=True, text=True, check=True,
    ).stdout
    overlaps = [ln.split("\t")[0] for ln in out.splitlines() if "overlaps old data" in ln]
    assert overlaps == ["16", "18"]


def test_each_copy_reassembles_on_its_own_and_is_a_copy() -> None:
    events = list(analyze_capture(CAPTURE))
    assert not [e for e in events if isinstance(e, Malformed)]
    certs = [(e.session, e.copy, e.frames) for e in events if isinstance(e, MessageSeen)
             and e.type == "Certificate" and e.dir.startswith("server")]
    # server leg (upstream side, s2): first copy in 3 fragments, the copy in 2 others
    assert ("s2", 1, (7, 8, 9)) in certs and ("s2", 2, (16, 18)) in certs
    # client leg (s1): the first copy was dropped by the fault, the copy is its first
    assert ("s1", 1, (17, 19)) in certs


def test_late_serverhello_is_hashed_in_handshake_order_and_everything_verifies() -> None:
    tr = Tracker()
    from proxy.verdict import VerdictEngine

    tr.verdict_hook = VerdictEngine()
    events = list(analyze_capture(CAPTURE, tracker=tr))
    s1 = tr.sessions["s1"]
    arrival = [m.type for m in s1.messages if m.flight == 4]
    assert arrival[:2] == ["CertificateRequest", "ServerHelloDone"]  # as the client got them
    # the transcript starts at the second ClientHello (RFC 6347 4.2.6), then flight 4 by seq
    assert [e.msg_type for e in s1.transcript.entries][:6] == [1, 2, 11, 12, 13, 14]
    assert not [e for e in events if isinstance(e, Verdict)]
    reports = [e for e in events if isinstance(e, CheckReport)]
    assert {r.session for r in reports} == {"s1", "s2"} and all(r.passed for r in reports)
    cv = [c for r in reports for c in r.evidence if c.name == "client CertificateVerify signature"]
    assert len(cv) == 2 and all(c.passed for c in cv)


GAPS = DATA / "openssl-lost-fragments-filled-by-retransmission.pcapng"
"""Issue 14 item 3 (tests/data/README.md): the client's leg (s1) lost the datagram with
the end of the Certificate and the start of the ServerKeyExchange; the retransmission,
a second later, brings both."""


def test_messages_a_retransmission_fills_in_stay_in_their_flight() -> None:
    tr = Tracker()
    from proxy.verdict import VerdictEngine

    tr.verdict_hook = VerdictEngine()
    events = list(analyze_capture(GAPS, tracker=tr))
    flights = [(e.dir, e.flight, e.messages) for e in events
               if isinstance(e, FlightComplete) and e.session == "s1"]
    assert flights == [
        ("client->server", 1, ("ClientHello",)),
        ("server->client", 2, ("HelloVerifyRequest",)),
        ("client->server", 3, ("ClientHello",)),
        # one flight, in message_seq order, complete once the gap is filled
        ("server->client", 4, ("ServerHello", "Certificate", "ServerKeyExchange",
                               "CertificateRequest", "ServerHelloDone")),
        ("client->server", 5, ("Certificate", "ClientKeyExchange", "CertificateVerify",
                               "ChangeCipherSpec", "Finished")),
        ("server->client", 6, ("NewSessionTicket", "ChangeCipherSpec", "Finished")),
    ]
    s1 = tr.sessions["s1"]
    arrival = [m.type for m in s1.messages if m.sender != s1.client][:6]
    assert arrival == ["HelloVerifyRequest", "ServerHello", "CertificateRequest",
                       "ServerHelloDone", "Certificate", "ServerKeyExchange"]
    assert [e.msg_type for e in s1.transcript.entries][:6] == [1, 2, 11, 12, 13, 14]
    assert not [e for e in events if isinstance(e, Verdict)]  # no false order or transcript
    reports = [e for e in events if isinstance(e, CheckReport)]
    assert {r.session for r in reports} == {"s1", "s2"} and all(r.passed for r in reports)
    cv = [c for r in reports for c in r.evidence if c.name == "client CertificateVerify signature"]
    assert len(cv) == 2 and all(c.passed for c in cv)
    orders = [c for r in reports for c in r.evidence if c.name == "message order"]
    assert [c.passed for c in orders] == [True, True]
