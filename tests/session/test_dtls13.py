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
from proxy.decode.dtls.crypto import tls13
from proxy.decode.dtls.messages import (
    Ack,
    Certificate,
    CertificateVerify,
    EncryptedExtensions,
    Finished,
    KeyUpdate,
    NewSessionTicket,
)
from proxy.decode.dtls.record import Record, parse_records
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


def test_records_wait_for_a_key_log_line_written_after_them(tmp_path: Path) -> None:
    """Live, a client writes its handshake secrets only once it got the ServerHello the
    proxy already forwarded: the server's encrypted records wait for the line (up to
    dtls13.GRACE) and come out decrypted, in order, once the key log has it."""
    keys = tmp_path / "live.keys"
    keys.write_text("")
    tracker = Tracker(verdict_hook=VerdictEngine(secrets=load_secrets([str(keys)])))
    grams = list(read_capture(DATA / "nss-1rtt.pcap"))
    evs: list[Event] = []
    for i, d in enumerate(grams):
        if i == 3:  # after the server's flight and the client's Finished passed
            keys.write_text((DATA / "nss-1rtt.keys").read_text())
        evs.extend(tracker.receive(d))
    evs.extend(tracker.finish(grams[-1].ts + 10))
    got = messages(evs)
    assert (S2C, 4, "CertificateVerify", 2) in got and (C2S, 5, "Finished", 2) in got
    assert not [m for m in evs if isinstance(m, MessageSeen) and m.type == "EncryptedHandshake"]
    frames = [m.frames[0] for m in evs if isinstance(m, MessageSeen) and m.copy == 1]
    assert frames == sorted(frames)  # held back, never reordered


def test_records_shown_encrypted_when_the_line_never_comes(tmp_path: Path) -> None:
    keys = tmp_path / "empty.keys"
    keys.write_text("")
    tracker = Tracker(verdict_hook=VerdictEngine(secrets=load_secrets([str(keys)])))
    grams = list(read_capture(DATA / "nss-1rtt.pcap"))
    grams[-1] = dataclasses.replace(grams[-1], ts=grams[-1].ts + 3)  # past the wait
    evs: list[Event] = []
    for d in grams[:-1]:
        evs.extend(tracker.receive(d))
    last = tracker.receive(grams[-1])  # releases the held records, then its own at once
    evs += last + tracker.finish(grams[-1].ts + 10)
    hidden = [m for m in evs if isinstance(m, MessageSeen) and m.type == "EncryptedHandshake"]
    assert len(hidden) == 6
    assert [r.frame for r in last if isinstance(r, RecordSeen)][-1] == grams[-1].frame
    assert ("client", 3) in tracker.sessions["s1"].dtls13.waited


def _keys(label: str, name: str = "1rtt") -> tuple[bytes, bytes]:
    """(client_random, secret) of one key log line."""
    for line in (DATA / f"nss-{name}.keys").read_text().splitlines():
        lab, cr, secret = line.split()
        if lab == label:
            return bytes.fromhex(cr), bytes.fromhex(secret)
    raise KeyError(label)


def test_key_update_then_epoch_4() -> None:
    """After the real handshake, the server updates its keys: a KeyUpdate in epoch 3, then
    data in epoch 4 under HKDF-Expand-Label(secret, "traffic upd") (RFC 8446 §7.2); the
    header carries only the epoch's low bits (0), reconstructed as 4."""
    suite = tls13.SUITES[0x1301]
    _cr, app = _keys("SERVER_TRAFFIC_SECRET_0")
    k3 = tls13.traffic_keys(suite, app)
    k4 = tls13.traffic_keys(suite, tls13.next_traffic_secret(suite, app))
    grams = list(read_capture(DATA / "nss-1rtt.pcap"))
    server_to_client = next(d for d in grams if d.src != grams[0].src)
    update = bytes([24, 0, 0, 1, 0, 5, 0, 0, 0, 0, 0, 1, 0])  # message_seq 5, not requested
    last = grams[-1]
    extra = [
        Datagram(last.ts + 0.1, server_to_client.src, server_to_client.dst,
                 tls13.protect(k3, 3, 2, 22, update), last.frame + 1),
        Datagram(last.ts + 0.2, server_to_client.src, server_to_client.dst,
                 tls13.protect(k4, 4, 0, 23, b"after the update"), last.frame + 2),
    ]
    tracker = Tracker(verdict_hook=VerdictEngine(
        secrets=load_secrets([str(DATA / "nss-1rtt.keys")])))
    evs: list[Event] = []
    for d in [*grams, *extra]:
        evs.extend(tracker.receive(d))
    ku = [m for m in evs if isinstance(m, MessageSeen) and m.type == "KeyUpdate"]
    assert len(ku) == 1 and isinstance(ku[0].body, KeyUpdate) and ku[0].epoch == 3
    assert ku[0].flight is not None and ku[0].flight > 6  # post-handshake, its own flight
    rec4 = [r for r in evs if isinstance(r, RecordSeen) and r.frame == last.frame + 2]
    assert [(r.epoch, r.sequence, r.decrypted, r.content_type_name) for r in rec4] == [
        (4, 0, True, "application_data")]


def _with_connection_id(d: Datagram, cid: bytes) -> Datagram:
    """The datagram's first (plaintext hello) record with a connection_id extension added
    at the end of its extensions: lengths fixed up, the records after it kept."""
    data = d.data
    rec_len = int.from_bytes(data[11:13], "big")
    hs = bytearray(data[13:13 + rec_len])
    ext = (54).to_bytes(2, "big") + (len(cid) + 1).to_bytes(2, "big") + bytes([len(cid)]) + cid
    body = bytes(hs[12:])
    # extensions block: the last 2-byte length before the extensions (hello-specific)
    from proxy.decode.dtls.messages import parse_body

    parsed = parse_body(hs[0], body)
    ext_start = parsed.spans["extensions"][0]  # type: ignore[attr-defined]
    n = int.from_bytes(body[ext_start:ext_start + 2], "big") + len(ext)
    body = body[:ext_start] + n.to_bytes(2, "big") + body[ext_start + 2:] + ext
    length = len(body).to_bytes(3, "big")
    new_hs = bytes([hs[0]]) + length + bytes(hs[4:6]) + b"\x00\x00\x00" + length + body
    record = data[:11] + len(new_hs).to_bytes(2, "big") + new_hs
    return dataclasses.replace(d, data=record + data[13 + rec_len:])


def test_connection_ids_from_the_hellos() -> None:
    """The hellos negotiate connection ids (RFC 9147 §9): the server's records then carry
    the client's id (C bit), parsed with its length and decrypted."""
    suite = tls13.SUITES[0x1301]
    _cr, hs_secret = _keys("SERVER_HANDSHAKE_TRAFFIC_SECRET")
    keys = tls13.traffic_keys(suite, hs_secret)
    grams = list(read_capture(DATA / "nss-1rtt.pcap"))
    ch = _with_connection_id(grams[0], b"\xc1\x1e\x07")
    server = grams[1]
    plain = [r for r in parse_records(server.data) if isinstance(r, Record)]
    out = bytearray(server.data[:plain[0].end])
    for seq, rec in enumerate(r for r in plain if r.unified):
        opened = tls13.unprotect(keys, 2, server.data[rec.offset:rec.payload_offset], 0,
                                 rec.fragment, seq)
        out += tls13.protect(keys, 2, opened.sequence, opened.content_type, opened.content,
                             cid=b"\xc1\x1e\x07")
    sh = _with_connection_id(dataclasses.replace(server, data=bytes(out)), b"\x5e")
    tracker = Tracker(verdict_hook=VerdictEngine(
        secrets=load_secrets([str(DATA / "nss-1rtt.keys")])))
    evs = tracker.receive(ch) + tracker.receive(sh)
    assert not [e for e in evs if type(e).__name__ == "Malformed"]
    got = [m.type for m in evs if isinstance(m, MessageSeen)]
    assert got == ["ClientHello", "ServerHello", "EncryptedExtensions"]  # + a Certificate part
    unified = [r for r in evs if isinstance(r, RecordSeen) and r.unified]
    assert len(unified) == 2 and all(r.decrypted for r in unified)
    s = tracker.sessions["s1"]
    assert s.dtls13.cids == {1: (b"\xc1\x1e\x07",), 0: (b"\x5e",)}
