"""DTLS 1.3 checks and verdicts on real NSS captures (tests/data/dtls13), as they are and
altered the way a faulty peer or path would alter them: a server CertificateVerify that
does not verify answered by the client's decrypt_error (both made with the capture's own
keys, as the proxy's re-encrypting fault rule does live), a second ClientHello that does
not echo the cookie, a downgrade sentinel, a lost ClientHello fragment, a client flight
the server never acknowledges."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from proxy.capture.pcap import read_capture
from proxy.cli.inputs import load_secrets
from proxy.decode.dtls.crypto import tls13
from proxy.decode.dtls.record import Record, parse_records
from proxy.decode.keylog import KeyLog
from proxy.events import CheckReport, Datagram, Event, Verdict
from proxy.session import Tracker
from proxy.verdict import VerdictEngine

DATA = Path(__file__).resolve().parent.parent / "data" / "dtls13"
SUITE = tls13.SUITES[0x1301]


def datagrams(name: str) -> list[Datagram]:
    return list(read_capture(DATA / f"nss-{name}.pcap"))


def run(grams: list[Datagram], keylog: str | None, end: float = 60.0) -> list[Event]:
    hook = VerdictEngine(secrets=load_secrets([DATA / f"nss-{keylog}.keys"] if keylog else []))
    t = Tracker(verdict_hook=hook)
    out: list[Event] = []
    for d in grams:
        out.extend(t.receive(d))
    out.extend(t.finish(grams[-1].ts + end))
    return out


def verdicts(evs: list[Event]) -> list[Verdict]:
    return [v for v in evs if isinstance(v, Verdict)]


def checks(evs: list[Event]) -> dict[str, object]:
    reports = [e for e in evs if isinstance(e, CheckReport)]
    assert reports, [v.code for v in verdicts(evs)]
    return {c.name: c.passed for c in reports[-1].evidence}


def keys_of(name: str, label: str) -> tls13.TrafficKeys:
    log = KeyLog.load(DATA / f"nss-{name}.keys")
    (cr,) = {e.client_random for e in log.entries()}
    secret = log.secret(label, cr)
    assert secret is not None
    return tls13.traffic_keys(SUITE, secret)


def unified(d: Datagram) -> list[Record]:
    return [r for r in parse_records(d.data) if isinstance(r, Record) and r.unified]


def test_every_check_passes_on_a_real_handshake() -> None:
    evs = run(datagrams("1rtt"), "1rtt")
    assert verdicts(evs) == []
    c = checks(evs)
    for name in ("server CertificateVerify signature", "server Finished", "client Finished",
                 "key_share group", "downgrade sentinel", "records authenticate",
                 "key logs agree", "message order", "server Certificate signature",
                 "cipher suite", "protocol version", "server certificate key vs signature "
                 "scheme"):
        assert c[name] is True, name
    assert "extended_master_secret" not in c  # no DTLS 1.2 master secret in 1.3


def test_hello_retry_request_checked() -> None:
    evs = run(datagrams("hrr"), "hrr")
    assert verdicts(evs) == []
    assert checks(evs)["HelloRetryRequest"] is True


def test_resumption_checks_without_certificates() -> None:
    evs = run(datagrams("resume"), "resume")
    assert verdicts(evs) == []
    reports = [e for e in evs if isinstance(e, CheckReport) and e.session == "s2"]
    names = {c.name: c.passed for c in reports[-1].evidence}
    assert names["server Finished"] is True and names["client Finished"] is True
    assert "server CertificateVerify signature" not in names


def _bad_cv_then_decrypt_error(grams: list[Datagram]) -> list[Datagram]:
    """The server's CertificateVerify with its last signature byte flipped and encrypted
    again (what ``action=corrupt`` does live), then the client's answer: a fatal
    decrypt_error alert in its handshake epoch, instead of its Finished."""
    server = keys_of("1rtt", "SERVER_HANDSHAKE_TRAFFIC_SECRET")
    client = keys_of("1rtt", "CLIENT_HANDSHAKE_TRAFFIC_SECRET")
    client_addr = grams[0].src
    out: list[Datagram] = []
    expected = 0
    for d in grams:
        if d.src == client_addr and unified(d):  # the client's flight 5 and later: replaced
            alert = tls13.protect(client, 2, 0, 21, b"\x02\x33")
            out.append(dataclasses.replace(d, data=alert))
            break
        data = bytearray(d.data)
        for rec in unified(d):
            header = d.data[rec.offset:rec.payload_offset]
            opened = tls13.unprotect(server, 2, header, 0, rec.fragment, expected)
            expected = opened.sequence + 1
            if opened.content[0] == 15:  # CertificateVerify
                content = opened.content[:-1] + bytes([opened.content[-1] ^ 0x01])
                data[rec.offset:rec.end] = tls13.reprotect(server, header, 0, opened, content)
        out.append(dataclasses.replace(d, data=bytes(data)))
    return out


def test_corrupted_server_certificate_verify_is_named_behind_decrypt_error() -> None:
    evs = run(_bad_cv_then_decrypt_error(datagrams("1rtt")), "1rtt")
    (v,) = [v for v in verdicts(evs) if v.code == "certificate_verify_bad_signature"]
    assert v.culprit is not None and v.culprit.type == "CertificateVerify"
    assert v.culprit.dir == "server->client" and v.culprit.flight == 4
    assert v.certain and "over the DTLS 1.3 transcript" in v.reason
    assert "client answered decrypt_error" in v.reason
    first = v.evidence[0]
    assert first.name == "server CertificateVerify signature" and first.passed is False
    by = {c.name: c.passed for c in v.evidence}
    # the real server computed its Finished over the CertificateVerify it signed: over the
    # altered one it does not match, which tells an alteration on the way from a bad key
    assert by["server Finished"] is False
    assert "altered on the way, not signed with a wrong key" in v.reason


def test_without_keys_the_encrypted_alert_names_the_lines_that_would_read_it() -> None:
    evs = run(_bad_cv_then_decrypt_error(datagrams("1rtt")), None)
    (v,) = [v for v in verdicts(evs) if v.code == "encrypted_alert"]
    assert not v.certain and "in epoch 2 (handshake)" in v.reason
    assert "19-byte record, the size of an encrypted alert" in v.reason
    assert v.to_be_certain is not None and "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in v.to_be_certain
    known = next(c for c in v.evidence if c.name == "what is known without keys")
    assert "server epoch 2 (handshake)" in known.values


def test_a_second_client_hello_that_does_not_echo_the_cookie() -> None:
    grams = datagrams("hrr")
    cookie_at = grams[1].data.find(b"\x00\x2c")  # the HRR's cookie extension
    cookie = grams[1].data[cookie_at + 6: cookie_at + 14]
    i = grams[2].data.find(cookie)
    assert cookie_at > 0 and i > 0
    data = bytearray(grams[2].data)
    data[i] ^= 0xFF
    grams[2] = dataclasses.replace(grams[2], data=bytes(data))
    evs = run(grams[:3], "hrr")
    (v,) = [v for v in verdicts(evs) if v.code == "hello_retry_request_bad"]
    assert "does not echo the HelloRetryRequest's cookie (it differs)" in v.reason
    assert v.culprit is not None and v.culprit.type == "ClientHello" and v.culprit.flight == 3


def test_downgrade_sentinel_in_a_server_hello_that_chose_dtls12() -> None:
    grams = datagrams("1rtt")
    sh = bytearray(grams[1].data)
    random_at = 13 + 12 + 2
    sh[random_at + 24: random_at + 32] = b"DOWNGRD\x01"
    sv = sh.find(b"\x00\x2b\x00\x02\xfe\xfc")  # supported_versions: DTLS 1.3
    sh[sv + 4: sv + 6] = b"\xfe\xfd"
    grams[1] = dataclasses.replace(grams[1], data=bytes(sh))
    evs = run(grams[:2], None)
    (v,) = [v for v in verdicts(evs) if v.code == "downgrade_sentinel"]
    assert v.culprit is not None and v.culprit.type == "ServerHello" and v.certain
    assert "downgrade sentinel" in v.reason and "DTLS 1.2" in v.reason


def test_a_second_hello_retry_request() -> None:
    """The server asks again after the second ClientHello: a HelloRetryRequest loop (a
    client must abort at the second one, RFC 8446 4.1.4)."""
    grams = datagrams("hrr")
    hrr = bytearray(grams[1].data)
    hrr[13 + 4:13 + 6] = (1).to_bytes(2, "big")  # message_seq 1: a new message
    hrr[3 + 2:3 + 8] = (1).to_bytes(6, "big")  # record sequence 1
    again = dataclasses.replace(grams[1], data=bytes(hrr), frame=grams[2].frame + 1,
                                ts=grams[2].ts + 0.001)
    evs = run([*grams[:3], again], "hrr")
    (v,) = [v for v in verdicts(evs) if v.code == "hello_retry_request_bad"]
    assert "2 HelloRetryRequests in one handshake" in v.reason
    assert v.culprit is not None and v.culprit.type == "HelloRetryRequest"
    assert v.culprit.frames == (again.frame,)


def test_server_key_share_for_a_group_the_client_did_not_share() -> None:
    grams = datagrams("1rtt")
    sh = bytearray(grams[1].data)
    at = sh.find(b"\x00\x33", 13 + 12 + 35)  # the ServerHello's key_share extension
    assert sh[at + 4:at + 6] == b"\x11\xec"  # X25519MLKEM768, the client's only share
    sh[at + 4:at + 6] = b"\x00\x1d"  # x25519
    grams[1] = dataclasses.replace(grams[1], data=bytes(sh))
    evs = run(grams[:2], None)
    (v,) = [v for v in verdicts(evs) if v.code == "key_share_group_not_offered"]
    assert "x25519, but the client sent no share for it" in v.reason
    assert v.culprit is not None and v.culprit.type == "ServerHello" and v.certain


def _fragment(d: Datagram, cut: int) -> tuple[Datagram, Datagram]:
    """The ClientHello record split into two handshake fragments in two datagrams."""
    body = d.data[13 + 12:]
    head = d.data[13:13 + 6]  # type, length, message_seq

    def rec(seq: int, off: int, part: bytes) -> bytes:
        frag = head + off.to_bytes(3, "big") + len(part).to_bytes(3, "big") + part
        return (b"\x16\xfe\xfd\x00\x00" + seq.to_bytes(6, "big") + len(frag).to_bytes(2, "big")
                + frag)

    return (dataclasses.replace(d, data=rec(0, 0, body[:cut])),
            dataclasses.replace(d, data=rec(1, cut, body[cut:]), frame=d.frame + 1,
                                ts=d.ts + 0.001))


def test_the_second_client_hello_fragment_lost() -> None:
    first, _second = _fragment(datagrams("1rtt")[0], 1000)
    evs = run([first], None)
    (v,) = [v for v in verdicts(evs) if v.code == "client_hello_fragment_lost"]
    assert "server got fragment 1 of 2 and waits" in v.reason
    assert "bytes 0-1000" in v.reason


def test_both_fragments_make_one_client_hello() -> None:
    first, second = _fragment(datagrams("1rtt")[0], 1000)
    evs = run([first, second], None)
    assert not [v for v in verdicts(evs) if v.code == "client_hello_fragment_lost"]


def test_client_flight_never_acknowledged() -> None:
    """The client's Finished sent three more times and nothing from the server after it:
    with the key log the copies are the same message, and the ACK never came."""
    grams = datagrams("1rtt")
    client_addr = grams[0].src
    cut = next(i for i, d in enumerate(grams) if d.src == client_addr and unified(d))
    fin = grams[cut]
    keys = keys_of("1rtt", "CLIENT_HANDSHAKE_TRAFFIC_SECRET")
    (rec,) = unified(fin)[:1]
    opened = tls13.unprotect(keys, 2, fin.data[:rec.payload_offset], 0, rec.fragment, 0)
    copies = [dataclasses.replace(fin, data=tls13.protect(keys, 2, k, 22, opened.content),
                                  ts=fin.ts + k, frame=fin.frame + 100 + k) for k in (1, 2, 3)]
    evs = run([*grams[:cut], dataclasses.replace(fin, data=fin.data[:rec.end]), *copies],
              "1rtt")
    (v,) = [v for v in verdicts(evs) if v.code == "ack_missing"]
    assert "never acknowledges client flight 5 (retransmitted 3 times, no ACK" in v.reason
    assert "although it verifies with the key log" in v.reason


def test_without_keys_a_flight_sent_again_is_seen_by_its_record_sizes() -> None:
    """No key log: the client's flight 5 comes three more times (re-encrypted: other bytes,
    the same sizes) and the server sends nothing after it: the copies are counted by
    their sizes, and the silence is reported with what is known."""
    grams = datagrams("1rtt")
    client_addr = grams[0].src
    cut = next(i for i, d in enumerate(grams) if d.src == client_addr and unified(d))
    fin = grams[cut]
    keys = keys_of("1rtt", "CLIENT_HANDSHAKE_TRAFFIC_SECRET")
    (rec,) = unified(fin)[:1]
    opened = tls13.unprotect(keys, 2, fin.data[:rec.payload_offset], 0, rec.fragment, 0)
    copies = [dataclasses.replace(fin, data=tls13.protect(keys, 2, k, 22, opened.content),
                                  ts=fin.ts + k, frame=fin.frame + 100 + k) for k in (1, 2, 3)]
    evs = run([*grams[:cut], dataclasses.replace(fin, data=fin.data[:rec.end]), *copies],
              None)
    resent = [e for e in evs if type(e).__name__ == "FlightRetransmitted"]
    assert [(e.dir, e.flight, e.copy) for e in resent] == [  # type: ignore[attr-defined]
        ("client->server", 5, 2), ("client->server", 5, 3), ("client->server", 5, 4)]
    (v,) = [v for v in verdicts(evs) if v.code == "ack_missing"]
    assert not v.certain and "CLIENT_HANDSHAKE_TRAFFIC_SECRET" in (v.to_be_certain or "")
    known = next(c for c in v.evidence if c.name == "what is known without keys")
    assert known.values["client flight 5"] == "sent 4 times (the same record sizes again)"


def test_corrupted_ciphertext_record_failed_to_authenticate() -> None:
    grams = datagrams("1rtt")
    data = bytearray(grams[1].data)
    data[-3] ^= 0x40
    grams[1] = dataclasses.replace(grams[1], data=bytes(data))
    evs = run(grams, "1rtt")
    (v,) = [v for v in verdicts(evs) if v.code == "record_auth_failed"]
    assert "failed to authenticate with the key log" in v.reason and "epoch 2" in v.reason
    assert not v.certain


def test_a_handshake_seen_in_part_is_not_checked_nor_blamed() -> None:
    """The datagram with the server's CertificateVerify and Finished went another way (an
    ICE path the proxy is not on): the client's Finished, which covers them, is not
    checked, and nothing is called broken."""
    grams = [d for d in datagrams("1rtt") if d.frame != 3]
    evs = run(grams, "1rtt")
    assert [v.code for v in verdicts(evs)] == []
    c = {ch.name: ch for e in evs if isinstance(e, CheckReport) for ch in e.evidence}
    assert c["client Finished"].passed is None
    assert "did not see the whole handshake" in c["client Finished"].detail
    assert "the server Finished never seen" in c["client Finished"].detail


Tamper = Callable[[Datagram], Datagram]
