"""Known answers for the (D)TLS 1.3 key schedule and record protection.

RFC 8448 §3 (the IETF's TLS 1.3 trace) pins HKDF, HKDF-Expand-Label, the traffic
secrets, keys, IVs, the Finished MAC and a real record; RFC 9001 §A (QUIC, which
uses the same record number protection as DTLS 1.3, RFC 9147 §4.2.3) pins the AES-ECB
and ChaCha20 masks and the nonce; RFC 9000 §A.3 the number reconstruction. The
``"dtls13"`` label prefix is pinned by real NSS records (tests/session/test_dtls13.py).
"""

from __future__ import annotations

import hashlib

import pytest

from proxy.decode.dtls.crypto import tls13
from proxy.decode.dtls.crypto.decrypt import AuthenticationFailed
from proxy.decode.dtls.reader import DecodeError
from proxy.decode.dtls.record import parse_records

H = bytes.fromhex
SHA256 = "sha256"
AES128 = tls13.SUITES[0x1301]
CHACHA = tls13.SUITES[0x1303]
EMPTY_HASH = hashlib.sha256(b"").digest()

# RFC 8448 §3, TLS_AES_128_GCM_SHA256
EARLY = H("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
DERIVED = H("6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba")
ECDHE = H("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d")
HANDSHAKE = H("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac")
CH_SH_HASH = H("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8")
C_HS = H("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
S_HS = H("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
MASTER = H("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919")
CH_SF_HASH = H("9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13")
C_AP = H("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
CLIENT_FINISHED = H("14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61")
CLIENT_FINISHED_RECORD = H(
    "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f80338ac98fc46de"
    "b384bd1caeacab6867d726c40546")


def test_rfc8448_secrets() -> None:
    """Extract, Expand-Label and Derive-Secret through the whole schedule of the trace."""
    T = tls13.TLS13_PREFIX
    assert tls13.hkdf_extract(b"", bytes(32), SHA256) == EARLY
    assert tls13.derive_secret(EARLY, "derived", EMPTY_HASH, SHA256, T) == DERIVED
    assert tls13.hkdf_extract(DERIVED, ECDHE, SHA256) == HANDSHAKE
    assert tls13.derive_secret(HANDSHAKE, "c hs traffic", CH_SH_HASH, SHA256, T) == C_HS
    assert tls13.derive_secret(HANDSHAKE, "s hs traffic", CH_SH_HASH, SHA256, T) == S_HS
    derived2 = tls13.derive_secret(HANDSHAKE, "derived", EMPTY_HASH, SHA256, T)
    assert tls13.hkdf_extract(derived2, bytes(32), SHA256) == MASTER
    assert tls13.derive_secret(MASTER, "c ap traffic", CH_SF_HASH, SHA256, T) == C_AP


def test_rfc8448_traffic_keys_and_finished() -> None:
    """key/iv of both handshake secrets, and the client Finished = HMAC over CH..server Fin."""
    server = tls13.traffic_keys(AES128, S_HS, tls13.TLS13_PREFIX)
    assert server.key == H("3fce516009c21727d0f2e4e86ee403bc")
    assert server.iv == H("5d313eb2671276ee13000b30")
    client = tls13.traffic_keys(AES128, C_HS, tls13.TLS13_PREFIX)
    assert client.key == H("dbfaa693d1762c5b666af5d950258d01")
    assert client.iv == H("5bd3c71b836e0b76bb73265f")
    verify = tls13.finished_verify_data(AES128, C_HS, CH_SF_HASH, tls13.TLS13_PREFIX)
    assert verify == CLIENT_FINISHED[4:]
    assert "key" not in repr(client) and client.key.hex() not in repr(client)


def test_rfc8448_client_finished_record_opens_and_seals() -> None:
    """The trace's protected client Finished: AEAD with nonce = iv XOR 0, the header as
    additional data, inner type 22 after the content, no padding; and back."""
    keys = tls13.traffic_keys(AES128, C_HS, tls13.TLS13_PREFIX)
    header, body = CLIENT_FINISHED_RECORD[:5], CLIENT_FINISHED_RECORD[5:]
    ctype, content, padding = tls13.open_record(keys, 0, header, body)
    assert (ctype, content, padding) == (22, CLIENT_FINISHED, 0)
    assert tls13.seal(keys, 0, header, 22, CLIENT_FINISHED) == body
    altered = body[:-1] + bytes([body[-1] ^ 1])
    with pytest.raises(AuthenticationFailed, match="tag does not verify"):
        tls13.open_record(keys, 0, header, altered)


def test_rfc9001_masks_nonce_and_key_update_label() -> None:
    """QUIC header protection is DTLS 1.3's record number protection (the same
    AES-ECB / ChaCha20 masks over a 16-byte ciphertext sample)."""
    aes = tls13.Tls13Suite(0, "aes", "gcm", 16, SHA256)
    sample = H("d1b1c98dd7689fb8ec11d242b123dc9b")
    mask = tls13.record_number_mask(aes, H("9f50449e04a0e810283a1e9933adedd2"), sample)
    assert mask[:5] == H("437b9aec36")
    secret = H("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b")
    T = tls13.TLS13_PREFIX
    hp = tls13.hkdf_expand_label(secret, "quic hp", b"", 32, SHA256, T)
    assert hp == H("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4")
    mask = tls13.record_number_mask(CHACHA, hp, H("5e5cd55c41f69080575d7999c25a5bfb"))
    assert mask[:5] == H("aefefe7d03")
    iv = tls13.hkdf_expand_label(secret, "quic iv", b"", 12, SHA256, T)
    assert iv == H("e0459b3474bdd0e44a41c144")
    assert tls13.nonce(iv, 654360564) == H("e0459b3474bdd0e46d417eb0")
    ku = tls13.hkdf_expand_label(secret, "quic ku", b"", 32, SHA256, T)
    assert ku == H("1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9")
    with pytest.raises(DecodeError, match="16-byte sample"):
        tls13.record_number_mask(CHACHA, hp, b"short")


@pytest.mark.parametrize(("low", "bits", "expected", "full"), [
    (0x9B32, 16, 0xA82F30EB, 0xA82F9B32),  # RFC 9000 §A.3
    (0x05, 8, 0x100, 0x105),
    (0xFF, 8, 0x100, 0xFF),                # a late record of the previous window
    (0x01, 8, 0, 0x01),
    (2, 2, 3, 2),                          # epoch 2 while epoch 3 is current
    (0, 2, 3, 4),                          # epoch 4: after a KeyUpdate
    (3, 2, 2, 3),
])
def test_reconstruct(low: int, bits: int, expected: int, full: int) -> None:
    assert tls13.reconstruct(low, bits, expected) == full


@pytest.mark.parametrize("suite", [AES128, CHACHA, tls13.SUITES[0x1302],
                                   tls13.SUITES[0x1304], tls13.SUITES[0x1305]])
@pytest.mark.parametrize("cid", [None, b"\x01\x02\x03\x04"])
@pytest.mark.parametrize(("seq16", "with_length"), [(True, True), (False, False)])
def test_protect_parse_unprotect_round_trip(
        suite: tls13.Tls13Suite, cid: bytes | None, seq16: bool, with_length: bool) -> None:
    """A unified-header record made by :func:`protect` parses (with its connection id),
    opens to the same content, type, padding and full sequence number; the masked
    sequence number on the wire is not the clear one."""
    keys = tls13.traffic_keys(suite, bytes(range(suite.hash_length)))
    sequence = 0x1234 if seq16 else 0x34
    wire = tls13.protect(keys, 6, 0x10000 + sequence, 22, b"hello handshake", cid=cid,
                         seq16=seq16, with_length=with_length, padding=3)
    (rec,) = parse_records(wire, len(cid) if cid else None)
    assert not isinstance(rec, type(None)) and getattr(rec, "unified", False)
    assert rec.epoch == 2 and rec.cid == cid
    header = wire[: rec.header_length]
    opened = tls13.unprotect(keys, 6, header, len(cid or b""), rec.fragment, 0x10000)
    assert (opened.content_type, opened.content, opened.padding) == (22, b"hello handshake", 3)
    assert opened.sequence == 0x10000 + sequence
    again = tls13.reprotect(keys, header, len(cid or b""), opened, b"hello handshakE")
    assert again != wire and len(again) == len(wire)
    (rec2,) = parse_records(again, len(cid) if cid else None)
    reopened = tls13.unprotect(keys, 6, again[: rec2.header_length], len(cid or b""),
                               rec2.fragment, 0x10000)
    assert reopened.content == b"hello handshakE" and reopened.sequence == opened.sequence


def test_unified_record_with_an_announced_connection_id_of_another_length() -> None:
    """NewConnectionId may announce ids of another length: a known id at the start of
    the header wins over the negotiated length."""
    keys = tls13.traffic_keys(AES128, bytes(32))
    wire = tls13.protect(keys, 3, 7, 23, b"data", cid=b"\xaa\xbb")
    (rec,) = parse_records(wire, 4, (b"\xaa\xbb",))
    assert getattr(rec, "cid", None) == b"\xaa\xbb"
    (bad,) = parse_records(wire)
    assert "connection id of unknown length" in getattr(bad, "reason", "")


def test_certificate_verify_content() -> None:
    """64 spaces, the context string, a zero byte, the transcript hash (RFC 8446 §4.4.3)."""
    content = tls13.certificate_verify_content("server", b"\x01" * 32)
    assert content == b" " * 64 + b"TLS 1.3, server CertificateVerify\x00" + b"\x01" * 32
