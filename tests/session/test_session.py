"""Sessions and flights: datagrams of real captures in, the exact event sequence out."""

from __future__ import annotations

from pathlib import Path

from proxy.analyze.pipeline import analyze_capture
from proxy.events import (
    AlertSeen,
    Event,
    FlightComplete,
    FlightRetransmitted,
    MessageSeen,
    SessionSummary,
)
from proxy.session import Tracker
from tests.conftest import CAPTURES


def events(name: str) -> list[Event]:
    return list(analyze_capture(CAPTURES / name))


def ladder(evs: list[Event]) -> list[tuple[object, ...]]:
    """The transcript view a test compares: messages, flights, copies and alerts."""
    out: list[tuple[object, ...]] = []
    for e in evs:
        if isinstance(e, MessageSeen):
            out.append(("msg", e.dir, e.flight, e.type, e.copy, e.frames))
        elif isinstance(e, FlightComplete):
            out.append(("flight", e.dir, e.flight, e.messages))
        elif isinstance(e, FlightRetransmitted):
            out.append(("retransmit", e.dir, e.flight, e.copy))
        elif isinstance(e, AlertSeen):
            out.append(("alert", e.dir, e.encrypted, e.description_name, e.answers_flight))
    return out


def final_summary(evs: list[Event]) -> SessionSummary:
    return [e for e in evs if isinstance(e, SessionSummary)][-1]


C2S, S2C = "client->server", "server->client"


def test_openssl_handshake_with_cookie_fragments_and_ticket() -> None:
    evs = events("dtls1_2.pcap")
    assert ladder(evs) == [
        ("msg", C2S, 1, "ClientHello", 1, (1, 2)),
        ("flight", C2S, 1, ("ClientHello",)),
        ("msg", S2C, 2, "HelloVerifyRequest", 1, (3,)),
        ("flight", S2C, 2, ("HelloVerifyRequest",)),
        ("msg", C2S, 3, "ClientHello", 1, (4, 5)),
        ("flight", C2S, 3, ("ClientHello",)),
        ("msg", S2C, 4, "ServerHello", 1, (6,)),
        ("msg", S2C, 4, "Certificate", 1, (6, 7, 8, 9, 10)),
        ("msg", S2C, 4, "ServerKeyExchange", 1, (10, 11, 12)),
        ("msg", S2C, 4, "ServerHelloDone", 1, (12,)),
        ("flight", S2C, 4, ("ServerHello", "Certificate", "ServerKeyExchange", "ServerHelloDone")),
        ("msg", C2S, 5, "ClientKeyExchange", 1, (13,)),
        ("msg", C2S, 5, "ChangeCipherSpec", 1, (13,)),
        ("msg", C2S, 5, "Finished", 1, (13,)),
        ("flight", C2S, 5, ("ClientKeyExchange", "ChangeCipherSpec", "Finished")),
        ("msg", S2C, 6, "NewSessionTicket", 1, (14,)),
        ("msg", S2C, 6, "ChangeCipherSpec", 1, (14,)),
        ("msg", S2C, 6, "Finished", 1, (15,)),
        ("flight", S2C, 6, ("NewSessionTicket", "ChangeCipherSpec", "Finished")),
        ("alert", C2S, True, None, 6),
    ]
    s = final_summary(evs)
    # both Finished, then 0.8 s later an encrypted alert from the client and no data: a
    # close_notify after accepting flight 6, or a fatal alert refusing it; nobody can tell
    # without keys, so the handshake is not called established (RFC 6347 4.2.4)
    assert (s.state, s.version, s.cipher_suite, s.cookie) == (
        "unconfirmed", "DTLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", True,
    )


def test_chromium_clienthello_retransmission_is_a_copy_not_a_new_handshake() -> None:
    lad = ladder(events("capture-chrome-Chromium_123.0.6312.0_.pcap"))
    assert lad[:4] == [
        ("msg", C2S, 1, "ClientHello", 1, (1,)),
        ("flight", C2S, 1, ("ClientHello",)),
        ("retransmit", C2S, 1, 2),
        ("msg", C2S, 1, "ClientHello", 2, (2,)),
    ]
    assert [x for x in lad if x[0] == "flight"] == [
        ("flight", C2S, 1, ("ClientHello",)),
        ("flight", S2C, 4, ("ServerHello", "Certificate", "ServerKeyExchange",
                            "CertificateRequest", "ServerHelloDone")),
        ("flight", C2S, 5, ("Certificate", "ClientKeyExchange", "CertificateVerify",
                            "ChangeCipherSpec", "Finished")),
        ("flight", S2C, 6, ("NewSessionTicket", "ChangeCipherSpec", "Finished")),
    ]


def test_webrtc_flight_retransmissions_and_media_are_counted() -> None:
    evs = events("stun_dtls_rtp.pcapng")
    retrans = [(e.dir, e.flight, e.copy) for e in evs if isinstance(e, FlightRetransmitted)]
    assert retrans == [(C2S, 5, 2), (S2C, 6, 2)]
    s = final_summary(evs)
    assert s.srtp_profile == "SRTP_AEAD_AES_256_GCM"
    assert s.extended_master_secret is True
    assert s.counters["stun client->server"] + s.counters.get("stun server->client", 0) == 4
    assert sum(v for k, v in s.counters.items() if k.startswith("rtp")) == 11


def test_dtls13_hello_retry_request_and_encrypted_flights() -> None:
    evs = events("dtls13-wolfssl.pcap")
    flights = [(e.dir, e.flight, e.messages) for e in evs if isinstance(e, FlightComplete)]
    assert flights[:4] == [
        (C2S, 1, ("ClientHello",)),
        (S2C, 2, ("HelloRetryRequest",)),
        (C2S, 3, ("ClientHello",)),
        (S2C, 4, ("ServerHello", "EncryptedHandshake")),
    ]
    s = final_summary(evs)
    assert s.version == "DTLS 1.3" and s.group == "secp256r1" and s.cookie
    assert s.note is not None and "encrypts everything after ServerHello" in s.note


def test_dtls10_fragmented_certificate_session_and_second_flow() -> None:
    evs = events("dtls_certificate_fragments.pcap")
    summaries = {e.session: e for e in evs if isinstance(e, SessionSummary)}
    assert summaries["s1"].version == "DTLS 1.0"
    assert summaries["s1"].cipher_suite == "TLS_RSA_WITH_AES_256_CBC_SHA"
    cert = [e for e in evs if isinstance(e, MessageSeen) and e.type == "Certificate"
            and e.session == "s1"]
    assert len(cert) == 1 and len(cert[0].frames) == 2  # split over two datagrams
    assert summaries["s2"].srtp_profile == "SRTP_AES128_CM_HMAC_SHA1_80"


def test_transcript_excludes_first_clienthello_and_hvr() -> None:
    tr = Tracker()
    for _ in analyze_capture(CAPTURES / "dtls12-aes128ccm8-dsb.pcapng", tracker=tr):
        pass
    s = tr.sessions["s1"]
    assert [e.msg_type for e in s.transcript.entries] == [1, 2, 14, 16]
    assert s.transcript.entries[0].raw[4:6] == b"\x00\x01"  # the second ClientHello (seq 1)


def test_not_a_capture_and_empty_results(tmp_path: Path) -> None:
    import pytest

    from proxy.capture.pcap import CaptureError

    bad = tmp_path / "x.pcap"
    bad.write_text("hello")
    with pytest.raises(CaptureError, match="not a pcap or pcapng file"):
        list(analyze_capture(bad))


def test_media_fast_path_counts_exactly_like_receive() -> None:
    """The relay counts RTP/RTCP through Tracker.media (no Datagram built): same events
    and counters as Tracker.receive on the WebRTC capture's STUN+DTLS+SRTP flow."""
    from proxy.capture.pcap import read_capture
    from proxy.decode.demux import classify
    from proxy.events import Datagram, MediaStats

    flow = list(read_capture(CAPTURES / "stun_dtls_rtp.pcapng"))
    slow, fast = Tracker(), Tracker()
    a: list[object] = []
    b: list[object] = []
    for d in flow:
        a += slow.receive(d)
        if classify(d.data) in ("rtp", "rtcp"):
            b += fast.media(d.src, d.dst, [(d.ts, d.data)])
        else:
            b += fast.receive(Datagram(d.ts, d.src, d.dst, d.data, d.frame))
    a += slow.finish(flow[-1].ts)
    b += fast.finish(flow[-1].ts)
    stats_a = [e for e in a if isinstance(e, MediaStats)]
    assert stats_a and stats_a == [e for e in b if isinstance(e, MediaStats)]
    assert final_summary(a).counters == final_summary(b).counters
