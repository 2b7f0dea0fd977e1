"""Records: datagram bytes in, records (or a malformed record with offset + reason) out."""

from __future__ import annotations

from proxy.decode.dtls.record import MalformedRecord, Record, looks_like_dtls, parse_records


def rec(ct: int, payload: bytes, *, version: int = 0xFEFD, epoch: int = 0, seq: int = 0) -> bytes:
    return (
        bytes([ct])
        + version.to_bytes(2, "big")
        + epoch.to_bytes(2, "big")
        + seq.to_bytes(6, "big")
        + len(payload).to_bytes(2, "big")
        + payload
    )


def test_several_records_in_one_datagram() -> None:
    d = (
        rec(22, b"\x0e" + b"\x00" * 11, seq=3)
        + rec(20, b"\x01", seq=4)
        + rec(22, b"E" * 40, epoch=1, seq=0)
    )
    out = parse_records(d)
    assert [(r.content_type, r.epoch, r.sequence, r.length) for r in out] == [  # type: ignore[union-attr]
        (22, 0, 3, 12),
        (20, 0, 4, 1),
        (22, 1, 0, 40),
    ]
    assert all(isinstance(r, Record) for r in out)
    assert out[1].offset == 25  # 13 + 12


def test_record_versions_including_pre_rfc_0x0100() -> None:
    for v in (0xFEFF, 0xFEFD, 0x0100):
        (r,) = parse_records(rec(21, b"\x02\x28", version=v))
        assert isinstance(r, Record) and r.version == v


def test_length_overrun_is_malformed_with_offset_and_reason() -> None:
    good = rec(20, b"\x01")
    bad = rec(22, b"x" * 10)[:-4]  # claims 10 bytes, carries 6
    out = parse_records(good + bad)
    assert isinstance(out[0], Record)
    m = out[1]
    assert isinstance(m, MalformedRecord)
    assert m.offset == len(good)
    assert "record length 10 overruns the datagram (6 bytes left)" in m.reason


def test_unknown_version_and_truncated_header() -> None:
    (m,) = parse_records(rec(22, b"", version=0x0303))
    assert isinstance(m, MalformedRecord) and "unknown record version 0x0303" in m.reason
    (m,) = parse_records(rec(22, b"abc")[:7])
    assert (
        isinstance(m, MalformedRecord) and m.offset == 5 and "sequence number: needs 6" in m.reason
    )


def test_dtls13_unified_header_is_an_encrypted_record_of_its_epoch() -> None:
    # 001CSLEE = 0b00101110: no CID, 16-bit seq, length present, epoch bits 2
    d = bytes([0x2E]) + b"\x12\x34" + (5).to_bytes(2, "big") + b"ABCDE"
    (r,) = parse_records(d)
    assert isinstance(r, Record)
    assert (r.unified, r.epoch, r.sequence, r.fragment, r.header_length) == (
        True,
        2,
        0x1234,
        b"ABCDE",
        5,
    )
    # 8-bit sequence, no length: the record runs to the end of the datagram
    (r,) = parse_records(bytes([0x23, 0x07]) + b"xyz")
    assert isinstance(r, Record) and (r.epoch, r.sequence, r.fragment) == (3, 7, b"xyz")


def test_tls12_cid_record_infers_cid_length() -> None:
    cid = b"\xaa\xbb\xcc\xdd"
    payload = b"ciphertext!"
    d = (
        bytes([25])
        + b"\xfe\xfd"
        + b"\x00\x01"
        + (9).to_bytes(6, "big")
        + cid
        + len(payload).to_bytes(2, "big")
        + payload
    )
    (r,) = parse_records(d)
    assert isinstance(r, Record) and r.cid == cid and r.fragment == payload
    (r,) = parse_records(d, cid_length=4)
    assert isinstance(r, Record) and r.cid == cid


def test_looks_like_dtls() -> None:
    assert looks_like_dtls(rec(22, b"x"))
    assert not looks_like_dtls(b"\x00\x01\x00\x00" + b"\x21\x12\xa4\x42" + b"0" * 12)  # STUN
    assert not looks_like_dtls(b"\x80\x60" + b"0" * 20)  # RTP
