"""DTLS 1.3 sessions decrypted with a key log: real NSS captures in, events out.

The captures in ``tests/data/dtls13/`` are real tstclnt <-> tstclnt handshakes
(Firefox ESR's NSS 3.125, RFC 9147; see its README): 1-RTT with an ML-KEM key share,
a HelloRetryRequest, a PSK resumption and ChaCha20-Poly1305, each with the key log
both peers wrote. Decrypting them proves the ``"dtls13"`` labels, the record
number masks, the sequence reconstruction and the nonce on real records.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from proxy.analyze.pipeline import analyze_capture
from proxy.capture.pcap import read_capture
from proxy.cli.inputs import load_secrets
from proxy.decode.dtls.messages import (
    Ack,
    Certificate,
    CertificateVerify,
    EncryptedExtensions,
    Finished,
    NewSessionTicket,
)
from proxy.events import (
    AlertSeen,
    Datagram,
    Event,
    FlightComplete,
    MessageSeen,
    RecordSeen,
    SessionSummary,
)
from proxy.session import Tracker
from proxy.verdict import VerdictEngine

DATA = Path(__file__).resolve().parent.parent / "data" / "dtls13"


def run(name: str, keylog: str | None = None, *, tamper: object = None,
        keylog_text: str | None = None, tmp: Path | None = None) -> list[Event]:
    """Every event of ``nss-<name>.pcap`` through a Tracker with the given key log."""
    keys: list[Path] = []
    if keylog is not None:
        keys.append(DATA / f"nss-{keylog}.keys")
    if keylog_text is not None:
        assert tmp is not None
        p = tmp / "partial.keys"
        p.write_text(keylog_text)
        keys.append(p)
    tracker = Tracker(verdict_hook=VerdictEngine(secrets=load_secrets(keys)))
    if tamper is None:
        return list(analyze_capture(DATA / f"nss-{name}.pcap", tracker=tracker))
    out: list[Event] = []
    last = 0.0
    for d in read_capture(DATA / f"nss-{name}.pcap"):
        d = tamper(d)  # type: ignore[operator]
        out.extend(tracker.receive(d))
        last = d.ts
    out.extend(tracker.finish(last + 60))
    return out


def messages(evs: list[Event], session: str = "s1") -> list[tuple[object, ...]]:
    return [(m.dir, m.flight, m.type, m.epoch) for m in evs
            if isinstance(m, MessageSeen) and m.session == session and m.copy == 1]


def summary(evs: list[Event], session: str = "s1") -> SessionSummary:
    return [e for e in evs if isinstance(e, SessionSummary) and e.session == session][-1]


C2S, S2C = "client->server", "server->client"


def test_one_rtt_every_record_opens_and_every_message_decodes() -> None:
    evs = run("1rtt", "1rtt")
    assert messages(evs) == [
        (C2S, 1, "ClientHello", 0),
        (S2C, 4, "ServerHello", 0),
        (S2C, 4, "EncryptedExtensions", 2),
        (S2C, 4, "Certificate", 2),
        (S2C, 4, "CertificateVerify", 2),
        (S2C, 4, "Finished", 2),
        (C2S, 5, "Finished", 2),
        (C2S, None, "ApplicationData", 3),
        (S2C, 6, "ACK", 3),
        (S2C, None, "ApplicationData", 3),
        (C2S, None, "ACK", 3),
    ]
    unified = [r for r in evs if isinstance(r, RecordSeen) and r.unified]
    assert unified and all(r.decrypted for r in unified)
    # the full record numbers, per sender and epoch, count from 0 (not the masked bytes)
    server2 = [r.sequence for r in unified if r.dir == S2C and r.epoch == 2]
    assert server2 == list(range(len(server2))) and len(server2) == 5
    assert {r.content_type_name for r in unified} == {"handshake", "application_data", "ack"}
    by_type = {m.type: m for m in evs if isinstance(m, MessageSeen) and m.copy == 1}
    assert isinstance(by_type["EncryptedExtensions"].body, EncryptedExtensions)
    cert = by_type["Certificate"].body
    assert isinstance(cert, Certificate) and cert.certificate_request_context == b""
    assert cert.entries[0].summary is not None and cert.entries[0].summary.subject == "CN=server"
    assert isinstance(by_type["CertificateVerify"].body, CertificateVerify)
    assert isinstance(by_type["Finished"].body, Finished)
    assert len(by_type["Finished"].body.verify_data) == 32
    ack = [m for m in evs if isinstance(m, MessageSeen) and m.type == "ACK"]
    assert isinstance(ack[0].body, Ack) and ack[0].body.record_numbers == ((2, 0),)
    s = summary(evs)
    assert s.state == "established" and s.version == "DTLS 1.3"
    assert s.note == "DTLS 1.3 records decrypted with the key log"
    assert s.group == "X25519MLKEM768"
    assert all(m.decrypted for m in evs if isinstance(m, MessageSeen) and m.epoch >= 2)


def test_hello_retry_request_flights_one_to_six() -> None:
    evs = run("hrr", "hrr")
    flights = [(f.dir, f.flight, f.messages) for f in evs
               if isinstance(f, FlightComplete) and f.flight <= 6]
    assert flights[:6] == [
        (C2S, 1, ("ClientHello",)),
        (S2C, 2, ("HelloRetryRequest",)),
        (C2S, 3, ("ClientHello",)),
        (S2C, 4, ("ServerHello", "EncryptedExtensions", "Certificate", "CertificateVerify",
                  "Finished")),
        (C2S, 5, ("Finished",)),
        (S2C, 6, ("ACK",)),
    ]
    assert summary(evs).cookie and summary(evs).group == "x25519"


def test_resumption_two_handshakes_the_second_with_a_psk() -> None:
    evs = run("resume", "resume")
    first = messages(evs, "s1")
    assert (S2C, 6, "NewSessionTicket", 3) in first
    nst = next(m.body for m in evs if isinstance(m, MessageSeen) and m.type == "NewSessionTicket")
    assert isinstance(nst, NewSessionTicket) and nst.ticket and nst.ticket_nonce is not None
    second = messages(evs, "s2")
    assert [t for _d, _f, t, _e in second][:5] == [
        "ClientHello", "ServerHello", "EncryptedExtensions", "Finished", "Finished"]
    assert summary(evs, "s2").resumption and not summary(evs, "s1").resumption
    assert [f for _d, f, t, _e in second if t in ("ServerHello", "Finished")] == [2, 2, 3]
    closes = [a for a in evs if isinstance(a, AlertSeen) and a.session == "s2"]
    assert closes and all(a.description_name == "close_notify" and a.encrypted for a in closes)
    assert summary(evs, "s2").state == "established"


def test_chacha20_poly1305_masks_open() -> None:
    evs = run("chacha", "chacha")
    assert summary(evs).cipher_suite == "TLS_CHACHA20_POLY1305_SHA256"
    assert all(r.decrypted for r in evs if isinstance(r, RecordSeen) and r.unified)
    assert (S2C, 4, "CertificateVerify", 2) in messages(evs)


def test_without_a_key_log_the_records_stay_encrypted_and_the_note_says_which_lines() -> None:
    evs = run("1rtt")
    assert [t for _d, _f, t, _e in messages(evs)][:3] == [
        "ClientHello", "ServerHello", "EncryptedHandshake"]
    unified = [r for r in evs if isinstance(r, RecordSeen) and r.unified]
    assert all(r.sequence is None and not r.decrypted for r in unified)
    note = summary(evs).note or ""
    assert "only the hellos can be decoded without a key log" in note
    for label in ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"):
        assert label in note


def test_a_key_log_of_another_connection_opens_nothing() -> None:
    evs = run("1rtt", "hrr")
    assert not any(r.decrypted for r in evs if isinstance(r, RecordSeen))
    note = summary(evs).note or ""
    assert "the key log has no" in note and "SERVER_HANDSHAKE_TRAFFIC_SECRET" in note


def test_a_key_log_with_only_the_client_secrets_names_the_missing_server_labels(
        tmp_path: Path) -> None:
    lines = [ln for ln in (DATA / "nss-1rtt.keys").read_text().splitlines()
             if ln.startswith("CLIENT_")]
    evs = run("1rtt", keylog_text="\n".join(lines) + "\n", tmp=tmp_path)
    assert (C2S, 5, "Finished", 2) in messages(evs)
    note = summary(evs).note or ""
    assert "the server records stay encrypted" in note
    assert "SERVER_HANDSHAKE_TRAFFIC_SECRET, SERVER_TRAFFIC_SECRET_0" in note


def test_a_corrupted_ciphertext_is_a_record_that_failed_to_authenticate() -> None:
    """One byte of the server's Certificate record flipped in transit: that record fails
    to authenticate (in epoch 2), the others still open."""
    hits: list[int] = []

    def flip(d: Datagram) -> Datagram:
        at = d.data.find(b"\x2e")  # not a fixed offset: the first epoch-2 unified header
        if d.frame == 2 and at > 0 and not hits:
            hits.append(d.frame)
            data = bytearray(d.data)
            data[-1] ^= 0x01  # the last record's tag
            return dataclasses.replace(d, data=bytes(data))
        return d

    evs = run("1rtt", "1rtt", tamper=flip)
    assert hits == [2]
    failed = [m for m in evs if isinstance(m, MessageSeen) and m.error
              and "failed to authenticate" in m.error]
    assert len(failed) == 1 and "epoch 2 (handshake)" in (failed[0].error or "")
    assert failed[0].frames == (2,)
    note = summary(evs).note or ""
    assert "1 record(s) failed to authenticate (epoch 2)" in note


@pytest.mark.parametrize("name", ["1rtt", "hrr", "resume", "chacha"])
def test_no_exception_and_no_malformed_record(name: str) -> None:
    evs = run(name, name)
    assert not [e for e in evs if type(e).__name__ == "Malformed"]
