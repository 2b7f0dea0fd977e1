"""Verdicts from real failing handshakes: two pyOpenSSL endpoints, a wire that applies the
relay's own fault rules, every datagram (with its time) fed to the Tracker with the hook.

Each scenario of issue 5 is built for real: the alert (or the silence) comes from
OpenSSL itself, never from a mock. Retransmission scenarios wait for OpenSSL's own
timers (1 s, then 2 s), run in lockstep in one session-scoped fixture.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.analyze.pipeline import analyze_capture
from proxy.cli.inputs import load_secrets, read_sdps
from proxy.decode.dtls.crypto.decrypt import decrypt_record
from proxy.decode.dtls.crypto.prf import cipher_params, key_block
from proxy.decode.dtls.record import Record, parse_records
from proxy.demo.peers import DtlsEndpoint, EndpointConfig, make_identity, write_secret
from proxy.events import AlertSeen, Check, CheckReport, CulpritRef, Datagram, Event, Verdict
from proxy.relay.faults import Emission, FaultEngine, parse_rule
from proxy.session import Tracker
from proxy.verdict import VerdictEngine, VerdictOptions, sdp_expectations
from proxy.verdict.order import order_violations
from tests.sdp_text import minimal_sdp

RSA_SERVER = make_identity("rsa-server", "rsa2048")
RSA_SUITE = "AES128-GCM-SHA256"  # TLS_RSA_WITH_AES_128_GCM_SHA256
CLIENT = ("127.0.0.1", 40001)
SERVER = ("127.0.0.1", 40002)
C2S, S2C = "client->server", "server->client"


@dataclass
class Wire:
    """Carries datagrams between two real endpoints through the relay's fault rules.

    ``datagrams`` is what the proxy's Tracker sees: the datagram as forwarded
    (corrupted), or as received when a rule dropped it -- exactly what the relay feeds.
    """

    client: DtlsEndpoint
    server: DtlsEndpoint
    rules: Iterable[str] = ()
    transform: Callable[[Wire, str, bytes], bytes] | None = None
    """Applied after the fault rules (a rewrite the rules cannot express)."""
    datagrams: list[Datagram] = field(default_factory=list)
    t: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.faults = FaultEngine([parse_rule(r) for r in self.rules])

    def pump(self) -> Wire:
        self.client.start()
        self.server.start()
        for _ in range(40):
            moved = False
            for side, src, dst, a, b in (("a", self.client, self.server, CLIENT, SERVER),
                                         ("b", self.server, self.client, SERVER, CLIENT)):
                for d in src.datagrams_to_send():
                    moved = True
                    emissions, _ = self.faults.apply(d, side)
                    if self.transform is not None:
                        emissions = [Emission(self.transform(self, side, e.data))
                                     for e in emissions]
                    self.t += 0.001
                    seen = emissions[0].data if emissions else d
                    self.datagrams.append(Datagram(self.t, a, b, seen, len(self.datagrams) + 1))
                    for e in emissions:
                        dst.receive(e.data)
            if not moved:
                break
        return self

    def waits(self) -> list[float]:
        return [w for w in (self.client.get_timeout(), self.server.get_timeout())
                if w is not None]

    def fire(self, waited: float) -> None:
        self.t += waited
        self.client.handle_timeout()
        self.server.handle_timeout()
        self.pump()


def run_timers(wires: list[Wire], rounds: int) -> None:
    """Let OpenSSL's retransmission timers expire ``rounds`` times on every wire at once."""
    for _ in range(rounds):
        waits = [w for wire in wires for w in wire.waits()]
        if not waits:
            return
        wait = max(waits) + 0.03
        time.sleep(wait)
        for wire in wires:
            wire.fire(wait)


def endpoint(role: str, **kw: object) -> DtlsEndpoint:
    return DtlsEndpoint(EndpointConfig(role, **kw))  # type: ignore[arg-type]


def keylog_file(ep: DtlsEndpoint, path: Path) -> Path:
    ep.write_keylog(path)
    return path


def analyze(datagrams: list[Datagram], keylogs: list[Path] | None = None,
            rsa_keys: list[Path] | None = None, **options: Any) -> list[Event]:
    """Every event of the datagrams through the verdict engine, given the files as the
    command line loads them and ``VerdictOptions(**options)``."""
    hook = VerdictEngine(VerdictOptions(**options), load_secrets(keylogs or [], rsa_keys or []))
    tr = Tracker(verdict_hook=hook)
    out: list[Event] = []
    for d in datagrams:
        out += tr.receive(d)
    out += tr.finish(datagrams[-1].ts + 30)
    assert hook.errors == []
    return out


def verdicts(evs: list[Event]) -> list[Verdict]:
    return [e for e in evs if isinstance(e, Verdict)]


def reports(evs: list[Event]) -> list[CheckReport]:
    return [e for e in evs if isinstance(e, CheckReport)]


def checks(v: Verdict | CheckReport) -> dict[str, bool | None]:
    return {c.name: c.passed for c in v.evidence}


def check(v: Verdict | CheckReport, name: str) -> Check:
    return next(c for c in v.evidence if c.name == name)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Wire, Path]]:
    """Scenarios that need OpenSSL's retransmission timers, run together (about 3 s)."""
    d = tmp_path_factory.mktemp("timed")
    wires = {
        "finished_always": Wire(endpoint("client", keylog=True), endpoint("server"),
                                ["who=client,msg=Finished,encrypted=1,action=corrupt,"
                                 "offset=-1,count=always"]),
        "finished_once": Wire(endpoint("client", keylog=True), endpoint("server"),
                              ["who=client,msg=Finished,encrypted=1,action=corrupt,offset=-1"]),
        "drop_flight4": Wire(endpoint("client"), endpoint("server"),
                             ["who=server,flight=4,action=drop,count=always"]),
        # TLS_RSA_*: the server's OpenSSL (implicit rejection) goes on with a random
        # premaster and silently discards the client's Finished
        "rsa_cke": Wire(endpoint("client", cipher_list=RSA_SUITE, mutual_auth=False),
                        endpoint("server", identity=RSA_SERVER, mutual_auth=False),
                        ["who=client,msg=ClientKeyExchange,action=corrupt,offset=-1"]),
    }
    for w in wires.values():
        w.pump()
    run_timers(list(wires.values()), 2)
    return {name: (w, keylog_file(w.client, d / f"{name}.keys")) for name, w in wires.items()}


# ------------------------------------------------------------------ 1. CertificateVerify


def test_corrupt_certificate_verify_is_named_and_the_seed_candidates_are_cleared() -> None:
    w = Wire(endpoint("client"), endpoint("server"),
             ["who=client,msg=CertificateVerify,action=corrupt,offset=-1"]).pump()
    assert str(w.server.alert) == "sent fatal decrypt_error(51)"  # real OpenSSL answer
    (v,) = verdicts(analyze(w.datagrams))
    assert v.code == "certificate_verify_bad_signature"
    assert v.culprit == CulpritRef(C2S, 5, "CertificateVerify", 3, (3,))
    assert v.reason == (
        "client CertificateVerify signature does not verify under the client certificate's "
        "key (EC P-256, ecdsa_secp256r1_sha256): the server answered decrypt_error")
    assert v.certain and v.to_be_certain is None
    # the seed thread's four candidates: the one that failed, and the others as checks
    got = checks(v)
    assert got["client CertificateVerify signature"] is False
    assert got["client Certificate signature"] is True  # "CRL signature" candidate
    assert got["ClientKeyExchange premaster"] is True  # "bad RSA decrypt": ECDHE, no RSA
    assert got["client Finished"] is None  # needs a key log
    assert got["server ServerKeyExchange signature"] is True
    cv = check(v, "client CertificateVerify signature")
    assert cv.values["scheme"] == "ecdsa_secp256r1_sha256"
    assert cv.values["transcript"].startswith("8 messages")


# ------------------------------------------------------------------ 2. ServerKeyExchange


def test_corrupt_server_key_exchange_signature_is_named() -> None:
    w = Wire(endpoint("client"), endpoint("server"),
             ["who=server,msg=ServerKeyExchange,action=corrupt,offset=-1"]).pump()
    assert str(w.client.alert) == "sent fatal decrypt_error(51)"
    (v,) = verdicts(analyze(w.datagrams))
    assert v.code == "server_key_exchange_bad_signature"
    assert v.culprit == CulpritRef(S2C, 4, "ServerKeyExchange", 2, (2,))
    assert v.reason.startswith("server ServerKeyExchange signature does not verify under the "
                               "server certificate's key (EC P-256")
    assert v.reason.endswith("the client answered decrypt_error")
    assert v.certain
    assert checks(v)["server Certificate signature"] is True


# ------------------------------------------------------------------ 3. Finished


def test_finished_always_corrupted_without_keylog_is_a_silent_discard(
        timed: dict[str, tuple[Wire, Path]]) -> None:
    w, _ = timed["finished_always"]
    assert not w.server.handshake_done and w.server.alerts == []  # OpenSSL stays silent
    (v,) = verdicts(analyze(w.datagrams))
    assert v.code == "finished_discarded"
    assert v.culprit == CulpritRef(C2S, 5, "Finished", None, (3,))
    assert v.reason == ("server never answers client flight 5 (retransmitted 2 times); its "
                        "Finished is being discarded: keys or record corrupted")
    assert not v.certain
    assert v.to_be_certain == "give a key log (--keylog) to check the Finished"
    assert check(v, "retransmissions").values == {"flight": "5", "copies": "3"}
    assert checks(v)["client CertificateVerify signature"] is True


def test_finished_always_corrupted_with_keylog_fails_authentication(
        timed: dict[str, tuple[Wire, Path]]) -> None:
    w, keys = timed["finished_always"]
    (v,) = verdicts(analyze(w.datagrams, keylogs=[keys]))
    assert v.code == "finished_auth_failed"
    assert v.culprit == CulpritRef(C2S, 5, "Finished", None, (3,))
    assert v.reason == ("client Finished fails authentication: the server never answers client "
                        "flight 5 (retransmitted 2 times) and discards it silently")
    assert v.certain
    fin = check(v, "client Finished")
    assert fin.passed is False and "GCM tag does not verify" in fin.detail
    assert checks(v)["key logs agree"] is True


def test_finished_corrupted_once_with_keylog_is_corruption_in_transit(
        timed: dict[str, tuple[Wire, Path]]) -> None:
    w, keys = timed["finished_once"]
    assert w.server.handshake_done and w.client.handshake_done
    evs = analyze(w.datagrams, keylogs=[keys])
    (v,) = verdicts(evs)
    assert v.code == "record_corrupted_in_transit"
    assert v.culprit == CulpritRef(C2S, 5, "Finished", None, (3,))
    assert v.certain
    (r,) = reports(evs)
    # the server Finished still verifies: the client Finished it hashes is rebuilt
    assert checks(r)["server Finished"] is True
    assert checks(r)["client Finished"] is False


def test_finished_corrupted_once_without_keylog_is_no_verdict(
        timed: dict[str, tuple[Wire, Path]]) -> None:
    w, _ = timed["finished_once"]
    evs = analyze(w.datagrams)
    assert verdicts(evs) == []
    (r,) = reports(evs)
    assert r.passed


def rewrite_client_finished(wire: Wire, side: str, data: bytes) -> bytes:
    """Flip the last verify_data byte of the client's Finished and re-encrypt it with the
    client's own keys (from its key log): the record authenticates, verify_data is wrong --
    the seed's "digest check failed processing the Finished"."""
    recs = [r for r in parse_records(data) if isinstance(r, Record)]
    fin = next((r for r in recs if r.content_type == 22 and r.epoch == 1), None)
    if side != "a" or fin is None:
        return data
    tr = Tracker()
    for d in wire.datagrams:
        tr.receive(d)
    neg = tr.sessions["s1"].neg
    assert neg.client_random is not None and neg.server_random is not None
    assert neg.cipher_suite is not None
    line = next(x for x in wire.client.keylog_lines if x.startswith(b"CLIENT_RANDOM"))
    master = bytes.fromhex(line.split()[2].decode())
    params = cipher_params(neg.cipher_suite)
    assert params is not None and params.mode == "gcm"
    keys = key_block(master, neg.client_random, neg.server_random, params)
    plain = decrypt_record(keys, "client", 22, fin.version, 1, fin.sequence, fin.fragment)
    plain = plain[:-1] + bytes([plain[-1] ^ 0x01])
    explicit = fin.fragment[:8]
    aad = (fin.epoch.to_bytes(2, "big") + fin.sequence.to_bytes(6, "big") + bytes([22])
           + fin.version.to_bytes(2, "big") + len(plain).to_bytes(2, "big"))
    sealed = AESGCM(keys.client_write_key).encrypt(keys.client_write_iv + explicit, plain, aad)
    start = fin.payload_offset
    return data[:start] + explicit + sealed + data[start + len(fin.fragment):]


@pytest.fixture(scope="module")
def bad_finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Wire, Path]:
    w = Wire(endpoint("client", keylog=True), endpoint("server"),
             transform=rewrite_client_finished).pump()
    return w, keylog_file(w.client, tmp_path_factory.mktemp("fin") / "client.keys")


def test_wrong_finished_verify_data_without_keylog_is_the_likely_culprit(
        bad_finished: tuple[Wire, Path]) -> None:
    w, _ = bad_finished
    assert str(w.server.alert) == "sent fatal decrypt_error(51)"  # OpenSSL: digest check
    (v,) = verdicts(analyze(w.datagrams))
    assert v.code == "finished_suspected"
    assert v.culprit == CulpritRef(C2S, 5, "Finished", None, (3,))
    assert v.reason.startswith("client Finished is the likely culprit of decrypt_error: "
                               "signatures verify")
    assert not v.certain
    assert v.to_be_certain == "give a key log (--keylog, from either peer) to check the Finished"
    got = checks(v)
    assert got["client CertificateVerify signature"] is True
    assert got["client Certificate signature"] is True
    assert got["ClientKeyExchange premaster"] is True
    assert got["client Finished"] is None


def test_wrong_finished_verify_data_with_keylog_is_certain(
        bad_finished: tuple[Wire, Path]) -> None:
    w, keys = bad_finished
    (v,) = verdicts(analyze(w.datagrams, keylogs=[keys]))
    assert v.code == "finished_bad"
    assert v.culprit == CulpritRef(C2S, 5, "Finished", None, (3,))
    assert v.certain
    fin = check(v, "client Finished")
    assert fin.passed is False
    sent, expected = fin.values["verify_data sent"], fin.values["verify_data expected"]
    assert sent != expected and sent[:-2] == expected[:-2]  # exactly the flipped byte


@pytest.fixture(scope="module")
def rsa_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rsa") / "server.key"
    write_secret(path, RSA_SERVER.key_pem)
    return path


def test_rsa_key_decrypts_the_premaster_and_verifies_both_finished(rsa_key_file: Path) -> None:
    w = Wire(endpoint("client", cipher_list=RSA_SUITE),
             endpoint("server", identity=RSA_SERVER)).pump()
    assert w.client.cipher == RSA_SUITE and w.client.handshake_done
    evs = analyze(w.datagrams, rsa_keys=[rsa_key_file])
    assert verdicts(evs) == []
    (r,) = reports(evs)
    got = checks(r)
    assert got["ClientKeyExchange premaster"] is True
    assert got["client Finished"] is True and got["server Finished"] is True


def test_corrupt_rsa_premaster_is_named_with_the_server_key(
        timed: dict[str, tuple[Wire, Path]], rsa_key_file: Path) -> None:
    w, _ = timed["rsa_cke"]
    assert w.server.alerts == [] and not w.server.handshake_done
    (v,) = verdicts(analyze(w.datagrams, rsa_keys=[rsa_key_file]))
    assert v.code == "premaster_bad"
    assert v.culprit == CulpritRef(C2S, 5, "ClientKeyExchange", 1, (3,))
    assert v.reason.startswith("the RSA-encrypted premaster does not decrypt to a 48-byte "
                               "premaster with the client's version under the server's key: "
                               "the ClientKeyExchange is corrupted (bad RSA decrypt)")
    assert v.certain
    # without the key the same capture is the silent-discard verdict
    (plain,) = verdicts(analyze(w.datagrams))
    assert plain.code == "finished_discarded"
    assert check(plain, "ClientKeyExchange premaster").passed is None


# ------------------------------------------------------------------ 4. fingerprint


def test_client_certificate_differs_from_sdp_fingerprint(tmp_path: Path) -> None:
    w = Wire(endpoint("client"), endpoint("server")).pump()
    assert w.client.handshake_done  # the handshake itself succeeds
    wrong = "AB:" * 31 + "CD"
    offer = tmp_path / "offer.sdp"
    offer.write_text(
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
        f"a=fingerprint:sha-256 {wrong}\r\na=setup:active\r\n")
    answer = tmp_path / "answer.sdp"
    answer.write_text(
        "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
        f"a=fingerprint:sha-256 {w.server.fingerprint}\r\na=setup:passive\r\n")
    evs = analyze(w.datagrams, sdps=read_sdps([offer, answer]))
    (v,) = verdicts(evs)
    assert v.code == "fingerprint_mismatch"
    assert v.culprit == CulpritRef(C2S, 5, "Certificate", 1, (3,))
    assert v.certain
    (fp,) = v.evidence
    assert fp.values == {"certificate sha-256": w.client.fingerprint,
                         f"SDP a=fingerprint ({offer})": wrong}
    (r,) = reports(evs)
    assert not r.passed and checks(r)["server certificate fingerprint vs SDP"] is True


# ------------------------------------------------------------------ 5. negotiation


def test_no_common_cipher_suite_blames_the_client_hello_with_the_lists() -> None:
    w = Wire(endpoint("client", cipher_list="ECDHE-RSA-AES128-GCM-SHA256"),
             endpoint("server")).pump()
    assert str(w.server.alert) == "sent fatal handshake_failure(40)"
    (v,) = verdicts(analyze(w.datagrams))
    assert v.code == "no_common_cipher_suite"
    assert v.culprit == CulpritRef(C2S, 1, "ClientHello", 0, (1,))
    assert v.reason == (
        "server refused the ClientHello (handshake_failure): no cipher suite in common -- the "
        "client offers only TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, none usable with the "
        "ECDSA certificate every WebRTC peer uses")
    assert not v.certain and v.to_be_certain == "the server's cipher list (its config) settles it"
    suites = check(v, "cipher suites")
    assert suites.passed is False
    assert suites.values == {
        "client offers": "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "server accepts": "unknown to a passive observer (the server never sent it)"}


def test_srtp_profiles_the_server_does_not_accept() -> None:
    w = Wire(endpoint("client", srtp_profiles="SRTP_AEAD_AES_256_GCM"),
             endpoint("server", srtp_profiles="SRTP_AES128_CM_SHA1_80")).pump()
    assert w.client.handshake_done and w.client.srtp_profile is None  # OpenSSL goes on
    (v,) = verdicts(analyze(w.datagrams))
    assert v.code == "no_common_srtp_profile"
    assert v.culprit == CulpritRef(C2S, 1, "ClientHello", 0, (1,))
    assert v.reason.startswith("server accepted none of the client's SRTP profiles "
                               "(SRTP_AEAD_AES_256_GCM)")
    assert check(v, "SRTP profile").values == {"client offers": "SRTP_AEAD_AES_256_GCM",
                                               "server chose": "(none)"}


def strip_renegotiation_info(_wire: Wire, side: str, data: bytes) -> bytes:
    """Remove renegotiation_info (0xff01) from an unfragmented ServerHello, fixing the
    extensions, handshake and record lengths."""
    if side != "b" or len(data) < 26 or data[0] != 22 or data[13] != 2:
        return data
    rec_len = int.from_bytes(data[11:13], "big")
    body = data[25:25 + int.from_bytes(data[14:17], "big")]
    pos = 2 + 32
    pos += 1 + body[pos]  # session_id
    pos += 3  # cipher_suite, compression
    exts_start = pos + 2
    exts, kept = body[exts_start:], b""
    i = 0
    while i < len(exts):
        etype, elen = int.from_bytes(exts[i:i + 2], "big"), int.from_bytes(exts[i + 2:i + 4], "big")
        if etype != 0xFF01:
            kept += exts[i:i + 4 + elen]
        i += 4 + elen
    removed = len(exts) - len(kept)
    if removed == 0:
        return data
    new_body = body[:pos] + len(kept).to_bytes(2, "big") + kept
    n = len(new_body).to_bytes(3, "big")
    header = data[13:14] + n + data[17:22] + n
    record = data[:11] + (rec_len - removed).to_bytes(2, "big")
    return record + header + new_body + data[25 + len(body):]


def test_server_without_renegotiation_info_is_refused_by_openssl() -> None:
    w = Wire(endpoint("client"), endpoint("server"), transform=strip_renegotiation_info).pump()
    assert "unsafe legacy renegotiation" in (w.client.error or "")
    assert str(w.client.alert) == "sent fatal handshake_failure(40)"
    (v,) = verdicts(analyze(w.datagrams))
    assert v.code == "renegotiation_info_missing"
    assert v.culprit == CulpritRef(S2C, 4, "ServerHello", 0, (2,))
    assert v.reason.startswith("renegotiation_info: client signals secure renegotiation but "
                               "the ServerHello has no renegotiation_info")
    assert v.certain


# ------------------------------------------------------------------ 6. lost flight 4


def test_server_flight_4_dropped_never_reaches_the_client(
        timed: dict[str, tuple[Wire, Path]]) -> None:
    w, _ = timed["drop_flight4"]
    (v,) = verdicts(analyze(w.datagrams))
    assert v.code == "flight_lost"
    assert v.culprit is not None
    assert (v.culprit.dir, v.culprit.flight, v.culprit.type) == (S2C, 4, "ServerHello")
    assert v.reason == ("flight 4 never reaches the client: the server sent it 3 times, and the "
                        "client retransmitted flight 1 2 times as if it never arrived (dropped "
                        "on the path)")
    assert check(v, "retransmissions").values == {"flight": "1", "copies": "3"}
    assert check(v, "server flight 4").values["copies"] == "3"


def test_retransmission_threshold_is_an_option(timed: dict[str, tuple[Wire, Path]]) -> None:
    w, _ = timed["drop_flight4"]
    evs = analyze(w.datagrams, retransmit_threshold=5)
    assert [v.code for v in verdicts(evs)] == ["handshake_incomplete"]


# ------------------------------------------------------------------ 7. clean


def test_clean_handshake_has_no_verdict_and_every_check_passes(tmp_path: Path) -> None:
    w = Wire(endpoint("client", keylog=True), endpoint("server", keylog=True)).pump()
    evs = analyze(
        w.datagrams,
        keylogs=[keylog_file(w.client, tmp_path / "c.keys"),
                 keylog_file(w.server, tmp_path / "s.keys")],
        fingerprints={"client": w.client.fingerprint, "server": w.server.fingerprint.lower()},
        mtu=1200,
    )
    assert verdicts(evs) == []
    (r,) = reports(evs)
    assert r.passed
    assert checks(r) == {
        "client CertificateVerify signature": True,
        "server ServerKeyExchange signature": True,
        "client certificate key vs signature scheme": True,
        "server certificate key vs signature scheme": True,
        "client Certificate validity": True,
        "client Certificate signature": True,
        "client certificate fingerprint vs SDP": True,
        "server Certificate validity": True,
        "server Certificate signature": True,
        "server certificate fingerprint vs SDP": True,
        "ClientKeyExchange premaster": True,
        "cipher suite": True,
        "protocol version": True,
        "SRTP profile": True,
        "extended_master_secret": True,
        "renegotiation_info": True,
        "message order": True,
        "datagram size vs path MTU": True,
        "client Finished": True,
        "server Finished": True,
        "key logs agree": True,
        "last flight accepted": True,
    }


@pytest.mark.parametrize("name", [
    "capture-chrome-Chromium_123.0.6312.0_.pcap",
    "capture-firefox-Mozilla_Firefox_125.0.pcap",
    "webrtc-stun.pcap",
    "stun_dtls_rtp.pcapng",
])
def test_shared_webrtc_captures_are_clean_and_their_certificate_verify_verifies(
        captures_dir: Path, name: str) -> None:
    hook = VerdictEngine()
    evs = list(analyze_capture(captures_dir / name, tracker=Tracker(verdict_hook=hook)))
    assert verdicts(evs) == []
    (r,) = reports(evs)
    assert r.passed
    assert checks(r)["client CertificateVerify signature"] is True  # our transcript is right
    assert checks(r)["server ServerKeyExchange signature"] is True


def test_gnutls_capture_with_its_keylog_verifies_both_finished(captures_dir: Path) -> None:
    keys = captures_dir / "dtls12-aes128ccm8-dsb.keys.derived.txt"
    hook = VerdictEngine(secrets=load_secrets([keys]))
    evs = list(analyze_capture(captures_dir / "dtls12-aes128ccm8-dsb.pcapng",
                               tracker=Tracker(verdict_hook=hook)))
    assert verdicts(evs) == []
    (r,) = reports(evs)
    assert checks(r)["client Finished"] is True and checks(r)["server Finished"] is True
    # the engine's decryptor lets the session read the encrypted alert by name
    (alert,) = [e for e in evs if isinstance(e, AlertSeen)]
    assert (alert.encrypted, alert.level_name, alert.description_name) == (
        True, "warning", "close_notify")


# ------------------------------------------------------------------ roles, MTU, key logs, order


def test_both_sides_acting_as_client_is_a_role_conflict() -> None:
    w = Wire(endpoint("client"), endpoint("client")).pump()
    assert "sent fatal unexpected_message(10)" in [str(a) for a in w.client.alerts]
    (v,) = verdicts(analyze(w.datagrams))
    assert v.code == "role_conflict"
    assert v.culprit == CulpritRef(S2C, 1, "ClientHello", 0, (2,))
    assert v.reason.startswith("both sides sent ClientHello")


def test_datagram_larger_than_path_mtu() -> None:
    w = Wire(endpoint("client"), endpoint("server")).pump()
    size = len(w.datagrams[1].data)
    (v,) = verdicts(analyze(w.datagrams, mtu=size - 1))
    assert v.code == "datagram_exceeds_mtu"
    assert v.culprit == CulpritRef(S2C, 4, "ServerHello", 0, (2,))
    assert v.reason == (f"server sends a {size}-byte datagram (frame 2, ServerHello) larger "
                        f"than the {size - 1}-byte path MTU: it may be dropped on the way")


def test_two_keylogs_disagreeing_on_the_master_secret_is_the_finding(tmp_path: Path) -> None:
    w = Wire(endpoint("client", keylog=True), endpoint("server")).pump()
    real = keylog_file(w.client, tmp_path / "client.keys")
    label, cr, secret = Path(real).read_text().split()[:3]
    other = tmp_path / "server.keys"
    other.write_text(f"{label} {cr} {'00' * 48}\n")
    evs = analyze(w.datagrams, keylogs=[real, other])
    (v,) = verdicts(evs)
    assert v.code == "keylog_conflict"
    assert v.reason.startswith("the key logs disagree on the master secret for this "
                               "client_random: the two peers derived different keys")
    assert "extended_master_secret" in v.reason
    assert secret not in repr(v)  # never a secret in evidence


def test_order_table_flags_a_missing_client_key_exchange() -> None:
    w = Wire(endpoint("client"), endpoint("server")).pump()
    tr = Tracker()
    for d in w.datagrams:
        tr.receive(d)
    s = tr.sessions["s1"]
    assert s.client is not None
    assert order_violations(s.messages, s.client) == []
    without_cke = [m for m in s.messages if m.type != "ClientKeyExchange"]
    (bad,) = order_violations(without_cke, s.client)
    assert bad.message.type == "CertificateVerify" and bad.previous == "Certificate"
    assert bad.why == ("client sent CertificateVerify after its Certificate; the handshake "
                       "allows ClientKeyExchange there")


def test_options_that_cannot_work_are_refused_when_made() -> None:
    with pytest.raises(ValueError, match="retransmit_threshold must be at least 1"):
        VerdictOptions(retransmit_threshold=0)
    with pytest.raises(ValueError, match="mtu must be a positive number of bytes, not 0"):
        VerdictOptions(mtu=0)


# ------------------------------------------------------------------ robustness


@pytest.fixture(scope="module")
def clean_datagrams() -> list[Datagram]:
    return Wire(endpoint("client"), endpoint("server")).pump().datagrams


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_handshakes_never_make_the_hook_raise(
        clean_datagrams: list[Datagram], data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(clean_datagrams) - 1))
    d = clean_datagrams[i]
    pos = data.draw(st.integers(0, len(d.data) - 1))
    flip = data.draw(st.integers(1, 255))
    mutated = d.data[:pos] + bytes([d.data[pos] ^ flip]) + d.data[pos + 1:]
    dgs = [*clean_datagrams[:i], Datagram(d.ts, d.src, d.dst, mutated, d.frame),
           *clean_datagrams[i + 1:]]
    hook = VerdictEngine()
    tr = Tracker(verdict_hook=hook)
    for x in dgs:
        tr.receive(x)
    tr.finish(dgs[-1].ts + 30)
    assert hook.errors == []


def test_live_tick_after_silence_emits_the_verdict_before_the_end(
        timed: dict[str, tuple[Wire, Path]]) -> None:
    w, _ = timed["drop_flight4"]
    tr = Tracker(verdict_hook=VerdictEngine(VerdictOptions(silence_after=5.0)))
    for d in w.datagrams:
        tr.receive(d)
    last = w.datagrams[-1].ts
    assert verdicts(tr.tick(last + 4.9)) == []  # OpenSSL may still retransmit
    (v,) = verdicts(tr.tick(last + 5.0))
    assert v.code == "flight_lost" and v.ts == last + 5.0
    assert verdicts(tr.finish(last + 30)) == []  # never the same finding twice


def test_sdp_setup_gives_each_fingerprint_its_role() -> None:
    a, b = "AA:" * 31 + "AA", "BB:" * 31 + "BB"
    got, conflict = sdp_expectations([("offer", minimal_sdp("actpass", a)),
                                      ("answer", minimal_sdp("active", b))])
    assert [(e.source, e.role) for e in got] == [("offer", "server"), ("answer", "client")]
    assert conflict is None
    _, conflict = sdp_expectations([("offer", minimal_sdp("active", a)),
                                    ("answer", minimal_sdp("active", b))])
    assert conflict == ("both SDPs say a=setup:active: both peers will act as DTLS client "
                        "(a=setup role conflict)")


def test_accepted_certificate_verify_that_fails_our_check_is_our_transcript_bug() -> None:
    # The peers complete a clean handshake; the proxy's own view of the CertificateVerify
    # is then altered (as a transcript bug would): the server accepted it, so the
    # verdict must blame the proxy, never the peer.
    w = Wire(endpoint("client"), endpoint("server")).pump()
    assert w.server.handshake_done
    faults = FaultEngine([parse_rule("who=client,msg=CertificateVerify,action=corrupt,"
                                     "offset=-1")])
    seen = []
    for d in w.datagrams:
        out, _ = faults.apply(d.data, "a" if d.src == CLIENT else "b")
        seen.append(Datagram(d.ts, d.src, d.dst, out[0].data, d.frame))
    evs = analyze(seen)
    (v,) = verdicts(evs)
    assert v.code == "internal_transcript_error"
    assert v.culprit == CulpritRef(C2S, 5, "CertificateVerify", 3, (3,))
    assert v.reason.startswith("the server accepted the client CertificateVerify, but it does "
                               "not verify over the transcript the proxy rebuilt: a bug in the "
                               "proxy's transcript, not the peer's fault")
    (r,) = reports(evs)
    assert not r.passed
