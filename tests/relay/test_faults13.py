"""Fault rules on encrypted messages: decrypt with the key log, alter, encrypt again.

Real captures in: DTLS 1.3 between two NSS tstclnt (tests/data/dtls13) and GnuTLS's
DTLS 1.2 PSK/CCM_8 capture (../shared/captures, with its key log). What comes out must
be records that still authenticate, carrying the altered message.
"""

from __future__ import annotations

from pathlib import Path

from proxy.capture.pcap import read_capture
from proxy.cli.inputs import load_secrets
from proxy.decode.dtls.crypto import tls13
from proxy.decode.dtls.crypto.decrypt import decrypt_record
from proxy.decode.dtls.crypto.prf import cipher_params, key_block
from proxy.decode.dtls.messages import CertificateVerify
from proxy.decode.dtls.record import Record, parse_records
from proxy.decode.keylog import KeyLog
from proxy.events import Datagram, Event, Verdict
from proxy.relay.faults import FaultEngine, parse_rule
from proxy.session import Tracker
from proxy.verdict import VerdictEngine

DATA = Path(__file__).resolve().parent.parent / "data" / "dtls13"


def faulted(name: str, rules: list[str], keys: Path | None) -> tuple[list[Datagram], list[str]]:
    """The capture's datagrams after the fault engine (client = side a)."""
    grams = list(read_capture(name if "/" in name else DATA / f"nss-{name}.pcap"))
    engine = FaultEngine([parse_rule(r) for r in rules], 0,
                         KeyLog.load(keys) if keys is not None else None)
    out: list[Datagram] = []
    details: list[str] = []
    first = grams[0].src
    for d in grams:
        ems, evs = engine.apply(d.data, "a" if d.src == first else "b", frame=d.frame)
        details += [f"{e.frame}: {e.detail}" for e in evs]
        out += [Datagram(d.ts, d.src, d.dst, e.data, d.frame) for e in ems]
    return out, details


def events(grams: list[Datagram], keys: Path) -> list[Event]:
    t = Tracker(verdict_hook=VerdictEngine(secrets=load_secrets([keys])))
    out: list[Event] = []
    for d in grams:
        out += t.receive(d)
    return out + t.finish(grams[-1].ts + 30)


def test_server_certificate_verify_altered_inside_its_record() -> None:
    keys = DATA / "nss-1rtt.keys"
    out, details = faulted("1rtt", ["who=server,msg=CertificateVerify,action=corrupt,offset=-1"],
                           keys)
    (detail,) = details
    assert detail.startswith("3: decrypted the epoch 2 record, flipped byte -1 of the "
                             "CertificateVerify body")
    assert "encrypted it again (the record authenticates" in detail
    evs = events(out, keys)
    cvs = [m for m in evs if getattr(m, "type", "") == "CertificateVerify"]
    assert len(cvs) == 1 and isinstance(cvs[0].body, CertificateVerify)  # type: ignore[attr-defined]
    assert not [m for m in evs if getattr(m, "error", None)]  # every record authenticates
    original = next(m for m in events(list(read_capture(DATA / "nss-1rtt.pcap")), keys)
                    if getattr(m, "type", "") == "CertificateVerify")
    a, b = original.body.signature, cvs[0].body.signature  # type: ignore[attr-defined]
    assert a[:-1] == b[:-1] and a[-1] ^ b[-1] == 0xFF
    report = {c.name: c.passed for e in evs if type(e).__name__ == "CheckReport"
              for c in e.evidence}  # type: ignore[attr-defined]
    assert report["server CertificateVerify signature"] is False


def test_flights_follow_dtls13() -> None:
    keys = DATA / "nss-hrr.keys"
    _, details = faulted("hrr", ["flight=4,msg=Finished,action=corrupt,offset=0",
                                 "flight=5,msg=Finished,action=corrupt,offset=0",
                                 "flight=2,action=corrupt,offset=0",
                                 "flight=3,msg=ClientHello,action=corrupt,offset=0",
                                 "who=server,content=ack,action=corrupt,offset=-1"], keys)
    frames = [int(d.split(":")[0]) for d in details]
    assert frames == [2, 3, 4, 5, 7], details
    assert "ServerHello body" in details[0]  # a HelloRetryRequest is a ServerHello
    assert "ack content" in details[4]


def test_without_keys_the_encrypted_message_is_not_reached() -> None:
    out, details = faulted("1rtt", ["who=server,msg=CertificateVerify,action=corrupt"], None)
    assert details == []
    assert [d.data for d in out] == [d.data for d in read_capture(DATA / "nss-1rtt.pcap")]


def test_corrupt_ciphertext_fails_authentication() -> None:
    keys = DATA / "nss-1rtt.keys"
    out, details = faulted("1rtt", ["who=server,content=dtls,encrypted=1,action=corrupt,"
                                    "offset=-1,count=1"], None)
    assert len(details) == 1 and "payload" in details[0]
    verdicts = [v for v in events(out, keys) if isinstance(v, Verdict)]
    assert any(v.code == "record_auth_failed" for v in verdicts)


def test_dtls12_finished_reencrypted(captures_dir: Path) -> None:
    """GnuTLS PSK, AES-128-CCM_8: the client Finished's last verify_data byte flipped
    and sealed again with the key block from the key log: the tag verifies."""
    cap = captures_dir / "dtls12-aes128ccm8-dsb.pcapng"
    keys = captures_dir / "dtls12-aes128ccm8-dsb.keys.derived.txt"
    rule = "who=client,msg=Finished,encrypted=1,reencrypt=1,action=corrupt,offset=-1"
    out, details = faulted(str(cap), [rule], keys)
    (detail,) = details
    assert "decrypted the epoch 1 record" in detail and "Finished body" in detail
    grams = list(read_capture(cap))
    ch = next(d for d in grams if d.data[13] == 1)
    sh = next(d for d in grams if len(d.data) > 25 and d.data[13] == 2)
    cr, sr = ch.data[13 + 12 + 2:13 + 12 + 34], sh.data[13 + 12 + 2:13 + 12 + 34]
    log = KeyLog.load(keys)
    ms = log.master_secret(cr)
    params = cipher_params(0xC0A8)
    assert ms is not None and params is not None
    kb = key_block(ms, cr, sr, params)
    frame = int(detail.split(":")[0])
    before = next(d for d in grams if d.frame == frame)
    after = next(d for d in out if d.frame == frame)

    def finished(d: Datagram) -> bytes:
        rec = next(r for r in parse_records(d.data) if isinstance(r, Record)
                   and r.content_type == 22 and r.epoch == 1)
        return decrypt_record(kb, "client", 22, rec.version, rec.epoch, rec.sequence,
                              rec.fragment)

    a, b = finished(before), finished(after)
    assert a[:-1] == b[:-1] and a[-1] ^ b[-1] == 0xFF and a[0] == 20


def test_reprotect_keeps_the_header_form() -> None:
    keys = tls13.traffic_keys(tls13.SUITES[0x1301], bytes(32))
    rec = tls13.protect(keys, 2, 5, 22, b"x" * 40, seq16=False, with_length=False)
    (r,) = parse_records(rec)
    assert isinstance(r, Record)
    opened = tls13.unprotect(keys, 2, rec[:r.header_length], 0, r.fragment, 0)
    again = tls13.reprotect(keys, rec[:r.header_length], 0, opened, b"y" * 40)
    assert again[0] == rec[0] and len(again) == len(rec)
