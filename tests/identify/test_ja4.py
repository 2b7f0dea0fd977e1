"""JA4 and JA4S against the worked examples of FoxIO's spec (technical_details/JA4.md,
JA4S.md and the unit tests of FoxIO's Rust implementation), then on real DTLS hellos
from the public captures, against nDPI's published results for the same files."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.decode.dtls.extensions import Alpn, Extension
from proxy.decode.dtls.messages import ClientHello, ServerHello
from proxy.identify.ja4 import hash12, ja4, ja4_r, ja4s, ja4s_r
from tests.identify.hellos import hellos_of


def _ext(t: int, value: object = None) -> Extension:
    return Extension(t, b"", value, None, 0)


# The spec's example: ciphers, extensions and signature algorithms in wire order.
SPEC_CIPHERS = (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
                0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035)
SPEC_EXTS = (0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023,
             0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015)
SPEC_SIGS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)


def _spec_hello(grease: bool = False) -> ClientHello:
    values = {0x0010: Alpn((b"h2", b"http/1.1")), 0x000D: SPEC_SIGS, 0x002B: (0x0304, 0x0303)}
    exts = [_ext(t, values.get(t)) for t in SPEC_EXTS]
    suites = SPEC_CIPHERS
    if grease:  # GREASE anywhere is ignored
        exts.insert(0, _ext(0x0A0A))
        suites = (0x2A2A, *suites)
        values[0x002B] = (0x7A7A, 0x0304, 0x0303)
        exts[exts.index(next(e for e in exts if e.type == 0x002B))] = _ext(0x2B, values[0x2B])
    return ClientHello(0x0303, bytes(32), b"", b"", suites, (0,), tuple(exts))


@pytest.mark.parametrize("grease", [False, True])
def test_ja4_spec_example(grease: bool) -> None:
    ch = _spec_hello(grease)
    assert ja4(ch, "t") == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert ja4(ch, "t", original=True) == "t13d1516h2_acb858a92679_18f69afefd3d"
    assert ja4_r(ch, "t") == (
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,"
        "cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,"
        "0804,0401,0503,0805,0501,0806,0601"
    )
    assert ja4_r(ch, "t", original=True) == (
        "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,"
        "0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,"
        "0015_0403,0804,0401,0503,0805,0501,0806,0601"
    )


def test_spec_hash_vectors() -> None:
    """The spec's intermediate strings and their truncated hashes."""
    assert hash12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,"
                  "cca9") == "8daaf6152771"
    assert hash12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,"
                  "ff01") == "6d807ffa2a79"
    assert hash12("0005,0017,ff01,0000") == "4e8089b08790"


def test_no_ciphers_no_extensions_zero_sentinels() -> None:
    ch = ClientHello(0xFEFD, bytes(32), b"", b"", (), (0,), (), has_extensions_block=False)
    assert ja4(ch) == "dd2i000000_000000000000_000000000000"


def test_alpn_edge_cases() -> None:
    def code(p: bytes) -> str:
        ch = ClientHello(0xFEFD, bytes(32), b"", b"", (0xC02B,), (0,),
                         (_ext(0x10, Alpn((p,))),))
        return ja4(ch).split("_")[0][-2:]

    assert code(b"webrtc") == "wc"
    assert code(b"c-webrtc") == "cc"
    assert code(b"h") == "hh"
    # not alphanumeric at an end: first and last hex digit of the value (spec examples)
    assert code(b"\xab") == "ab"
    assert code(b"\xab\xcd") == "ad"
    assert code(b"\x30\xab") == "3b"
    assert code(b"\x30\x31\xab\xcd") == "3d"
    assert code(b"\x30\xab\xcd\x31") == "01"


def test_ja4s_spec_example() -> None:
    sh = ServerHello(0x0303, bytes(32), b"", 0xC030, 0,
                     tuple(_ext(t) for t in (0x0005, 0x0017, 0xFF01, 0x0000)))
    assert ja4s(sh, "t") == "t120400_c030_4e8089b08790"
    assert ja4s_r(sh, "t") == "t120400_c030_0005,0017,ff01,0000"


def test_dtls_versions_newest_wins() -> None:
    """supported_versions {DTLS 1.3, DTLS 1.2}: d3, though 0xfefc < 0xfefd."""
    ch = ClientHello(0xFEFD, bytes(32), b"", b"", (0x1301,), (0,),
                     (_ext(0x2B, (0xFEFC, 0xFEFD)),))
    assert ja4(ch).startswith("dd3i0101")
    sh = ServerHello(0xFEFD, bytes(32), b"", 0x1301, 0, (_ext(0x2B, 0xFEFC),))
    assert ja4s(sh).startswith("dd30100_1301_")


# nDPI's results (ntop/nDPI tests/cfgs/default/result/<capture>.out) for the same files
# as ../shared/captures: an independent implementation on the same real hellos.
NDPI = {
    "dtls_certificate_fragments.pcap": {"dd2i800500_9cedc1f1428b_a1e935682795",
                                        "dd2i120700_7c0e62f61317_d9dd6182da81"},
    # nDPI writes "d" here, but this ClientHello has no server_name extension (its 7 are
    # 0017,ff01,000a,000b,0023,000d,000e): nDPI takes the host name it learnt from the
    # flow's STUN/TURN traffic. The spec decides on the extension alone: "i".
    "stun_dtls_rtp.pcapng": {"dd2i110700_c45550529adf_d9dd6182da81"},
}
NDPI_PUBLISHED = {"stun_dtls_rtp.pcapng": {"dd2d110700_c45550529adf_d9dd6182da81"}}


@pytest.mark.parametrize("name", sorted(NDPI))
def test_ja4_matches_ndpi_on_public_captures(name: str, captures_dir: Path) -> None:
    path = captures_dir / name
    clients = {ja4(m) for m in hellos_of(path) if isinstance(m, ClientHello)}
    assert clients == NDPI[name]
    published = NDPI_PUBLISHED.get(name, NDPI[name])
    # the hashed parts and the counts agree with nDPI's in every case
    assert {c[:3] + c[4:] for c in clients} == {c[:3] + c[4:] for c in published}
