"""Captures in (every shared capture, every link type) and out (pcapng that tshark reads)."""

from __future__ import annotations

import ipaddress
import os
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.capture.pcap import CaptureError, PcapngWriter, read_capture, read_capture_secrets
from proxy.events import Datagram
from tests.conftest import CAPTURES, require_tool

# ------------------------------------------------------------ shared captures

SHARED = sorted(p.name for p in CAPTURES.glob("*.pcap*")) if CAPTURES.is_dir() else []
# a real DTLS 1.2 ClientHello record (first datagram of dtls12-aes128ccm8-dsb.pcapng)
CLIENT_HELLO_FILE = "dtls12-aes128ccm8-dsb.pcapng"


def tshark_udp(path: Path) -> list[tuple[int, tuple[str, int], tuple[str, int], int, float]]:
    """(frame, src, dst, payload length, time) of every UDP frame, as tshark sees them."""
    tshark = require_tool("tshark")
    fields = ["frame.number", "ip.src", "ipv6.src", "udp.srcport", "ip.dst", "ipv6.dst"]
    fields += ["udp.dstport", "udp.length", "frame.time_epoch"]
    cmd = [tshark, "-n", "-r", str(path), "-Y", "udp && !icmp && !icmpv6", "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        n, s4, s6, sp, d4, d6, dp, ulen, t = line.split("\t")
        rows.append((int(n), (s4 or s6, int(sp)), (d4 or d6, int(dp)), int(ulen) - 8, float(t)))
    return rows


@pytest.mark.parametrize("name", SHARED)
def test_shared_capture_matches_tshark(captures_dir: Path, name: str) -> None:
    path = captures_dir / name
    cap = read_capture(path)
    ours = [(d.frame, d.src, d.dst, len(d.data), d.ts) for d in cap]
    theirs = tshark_udp(path)
    assert [o[:4] for o in ours] == [t[:4] for t in theirs]
    assert all(abs(o[4] - t[4]) < 1e-6 for o, t in zip(ours, theirs, strict=True))
    assert not cap.truncated
    assert cap.warnings == []


def test_tcp_frames_are_counted_not_yielded(captures_dir: Path) -> None:
    cap = read_capture(captures_dir / "stun_dtls_rtp.pcapng")
    frames = [d.frame for d in cap]
    assert (len(frames), cap.frames, cap.skipped) == (39, 102, {"not UDP": 63})
    assert frames[-1] == 39


def test_decryption_secrets_block(captures_dir: Path) -> None:
    lines = read_capture_secrets(captures_dir / "dtls12-aes128ccm8-dsb.pcapng")
    assert len(lines) == 1
    label, client_random, secret = lines[0].split()
    assert (label, len(client_random), len(secret)) == ("CLIENT_RANDOM", 64, 96)
    derived = (captures_dir / "dtls12-aes128ccm8-dsb.keys.derived.txt").read_text()
    assert lines[0] in derived.splitlines()
    assert read_capture_secrets(captures_dir / "dtls1_2.pcap") == []


# ------------------------------------------------ synthesized link types

PAYLOAD = bytes.fromhex("16fefd0000000000000000") + b"hello"


def ipv4(
    payload: bytes,
    src: str = "10.0.0.1",
    dst: str = "10.0.0.2",
    sport: int = 5000,
    dport: int = 6000,
    ident: int = 1,
    flags_off: int = 0,
    proto: int = 17,
    udp: bool = True,
) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload if udp else payload
    hdr = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(seg),
        ident,
        flags_off,
        64,
        proto,
        0,
        bytes(map(int, src.split("."))),
        bytes(map(int, dst.split("."))),
    )
    return hdr + seg


def ipv6(payload: bytes, ext: bytes = b"", first_nh: int = 17, udp: bool = True) -> bytes:
    seg = struct.pack("!HHHH", 5000, 6000, 8 + len(payload), 0) + payload if udp else payload
    src = bytes.fromhex("20010db8000000000000000000000001")
    dst = bytes.fromhex("20010db8000000000000000000000002")
    return (
        struct.pack("!IHBB", 0x60000000, len(ext) + len(seg), first_nh, 64) + src + dst + ext + seg
    )


ETH_HDR = b"\x02" * 6 + b"\x04" * 6


def pcap_file(
    path: Path, linktype: int, packets: list[bytes], *, nano: bool = False, big: bool = False
) -> Path:
    o = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    out = struct.pack(o + "IHHiIII", magic, 2, 4, 0, 0, 65535, linktype)
    for i, p in enumerate(packets):
        out += struct.pack(o + "IIII", 1700000000 + i, 5 if not nano else 5000, len(p), len(p))
        out += p
    path.write_bytes(out)
    return path


def block(btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


SHB = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(linktype: int, tsresol: int | None = None) -> bytes:
    opts = b""
    if tsresol is not None:
        opts = struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HH", 0, 0)
    return block(1, struct.pack("<HHI", linktype, 0, 0) + opts)


def epb(iface: int, units: int, data: bytes) -> bytes:
    return block(
        6,
        struct.pack("<IIIII", iface, units >> 32, units & 0xFFFFFFFF, len(data), len(data)) + data,
    )


@pytest.mark.parametrize(
    ("linktype", "frame"),
    [
        (1, ETH_HDR + b"\x08\x00" + ipv4(PAYLOAD)),
        (1, ETH_HDR + b"\x81\x00\x00\x07\x08\x00" + ipv4(PAYLOAD)),  # VLAN 7
        (1, ETH_HDR + b"\x88\xa8\x00\x07\x81\x00\x00\x08\x08\x00" + ipv4(PAYLOAD)),  # QinQ
        (1, ETH_HDR + b"\x08\x00" + ipv4(PAYLOAD) + b"\0" * 20),  # Ethernet padding
        (113, b"\x00\x00\x03\x04\x00\x06" + b"\x02" * 6 + b"\0\0" + b"\x08\x00" + ipv4(PAYLOAD)),
        (276, b"\x08\x00\0\0" + b"\0" * 4 + b"\x03\x04\x00\x06" + b"\x02" * 8 + ipv4(PAYLOAD)),
        (0, struct.pack("=I", 2) + ipv4(PAYLOAD)),  # DLT_NULL, host order
        (108, struct.pack("!I", 2) + ipv4(PAYLOAD)),  # DLT_LOOP, network order
        (101, ipv4(PAYLOAD)),
        (12, ipv4(PAYLOAD)),
        (14, ipv4(PAYLOAD)),
        (228, ipv4(PAYLOAD)),
    ],
)
def test_link_types_ipv4(tmp_path: Path, linktype: int, frame: bytes) -> None:
    path = pcap_file(tmp_path / "x.pcap", linktype, [b"\xff" * 20, frame])
    (dg,) = list(read_capture(path))
    assert dg == Datagram(
        ts=1700000001.000005, src=("10.0.0.1", 5000), dst=("10.0.0.2", 6000), data=PAYLOAD, frame=2
    )


def test_ipv6_with_extension_headers(tmp_path: Path) -> None:
    hop_by_hop = bytes([60, 0]) + b"\x01\x04\0\0\0\0"  # next: destination options
    dest_opts = bytes([17, 0]) + b"\x01\x04\0\0\0\0"
    frames = [ETH_HDR + b"\x86\xdd" + ipv6(PAYLOAD), ipv6(PAYLOAD, hop_by_hop + dest_opts, 0)]
    path = pcap_file(tmp_path / "x.pcap", 1, frames[:1])
    path2 = pcap_file(tmp_path / "y.pcap", 229, frames[1:], nano=True, big=True)
    for p, ts in ((path, 1700000000.000005), (path2, 1700000000.000005)):
        (dg,) = list(read_capture(p))
        assert (dg.src, dg.dst, dg.data, dg.ts) == (
            ("2001:db8::1", 5000),
            ("2001:db8::2", 6000),
            PAYLOAD,
            ts,
        )


def test_ipv4_fragments_reassembled_in_any_order(tmp_path: Path) -> None:
    big = bytes(range(256)) * 12  # 3072 bytes: 3 fragments
    whole = ipv4(big)[20:]  # UDP header + payload
    chunks = [whole[0:1480], whole[1480:2960], whole[2960:]]
    frags = [
        ipv4(chunks[1], ident=9, flags_off=0x2000 | 185, udp=False),
        ipv4(chunks[0], ident=9, flags_off=0x2000, udp=False),
        ipv4(b"other", ident=3, proto=6, udp=False),  # TCP in between
        ipv4(chunks[2], ident=9, flags_off=370, udp=False),
    ]
    path = pcap_file(tmp_path / "f.pcap", 101, frags)
    cap = read_capture(path)
    (dg,) = list(cap)
    assert (dg.frame, dg.data, dg.ts) == (4, big, 1700000003.000005)  # Wireshark: reassembled in 4
    assert cap.skipped == {"fragment": 2, "not UDP": 1}


def test_ipv6_fragments_and_an_incomplete_one(tmp_path: Path) -> None:
    whole = ipv6(PAYLOAD * 20)[40:]
    a, b = whole[:104], whole[104:]
    frag = lambda off, more, ident: struct.pack("!BxHI", 17, off | more, ident)  # noqa: E731
    frames = [
        ipv6(a, frag(0, 1, 77), 44, udp=False),
        ipv6(b, frag(104, 0, 77), 44, udp=False),
        ipv6(a, frag(0, 1, 78), 44, udp=False),  # never completed
    ]
    warnings: list[str] = []
    cap = read_capture(pcap_file(tmp_path / "f.pcap", 229, frames), on_warning=warnings.append)
    (dg,) = list(cap)
    assert (dg.frame, dg.data) == (2, PAYLOAD * 20)
    assert warnings == ["1 fragmented IP datagrams incomplete"]


def test_pcapng_interfaces_with_own_link_type_and_resolution(tmp_path: Path) -> None:
    path = tmp_path / "multi.pcapng"
    path.write_bytes(
        SHB
        + idb(1)  # Ethernet, microseconds
        + idb(101, tsresol=9)  # raw IP, nanoseconds
        + idb(0, tsresol=0x80 | 10)  # null, 1/1024 s
        + epb(0, 1_700_000_000_250_000, ETH_HDR + b"\x08\x00" + ipv4(b"eth"))
        + block(4, b"\0" * 4)  # a name resolution block: ignored
        + epb(1, 1_700_000_000_500_000_001, ipv4(b"raw"))
        + block(3, struct.pack("<I", 20) + b"\xff" * 20)  # a simple packet block (frame 3)
        + epb(2, 1_700_000_000 * 1024 + 256, struct.pack("=I", 2) + ipv4(b"null"))
    )
    got = [(d.frame, d.data, d.ts) for d in read_capture(path)]
    assert got == [
        (1, b"eth", 1700000000.25),
        (2, b"raw", 1700000000.500000001),
        (4, b"null", 1700000000.25),
    ]


def test_truncated_capture_yields_what_was_read(tmp_path: Path, captures_dir: Path) -> None:
    data = (captures_dir / "dtls1_2.pcap").read_bytes()
    path = tmp_path / "cut.pcap"
    path.write_bytes(data[:-50])
    warnings: list[str] = []
    cap = read_capture(path, on_warning=warnings.append)
    frames = [d.frame for d in cap]
    assert frames == list(range(1, 16))
    assert cap.truncated
    assert warnings == ["truncated capture: frame 16 cut short (read 15 frames)"]

    ng = (captures_dir / "stun_dtls_rtp.pcapng").read_bytes()
    path.write_bytes(ng[:5000])
    cap = read_capture(path)
    assert len(list(cap)) > 3
    assert cap.truncated
    assert cap.warnings[0].startswith("truncated capture: block of type 6")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file, not a capture"),
        (b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", "not a pcap or pcapng file (starts with 763d300d)"),
        (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 147), "unsupported link type 147"),
        (struct.pack("<IHH", 0xA1B2C3D4, 2, 4), "truncated pcap file header"),
    ],
)
def test_not_a_capture(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(content)
    with pytest.raises(CaptureError) as exc:
        read_capture(path)
    assert exc.value.reason == f"{path}: {reason}"


def test_missing_file_and_pcapng_without_supported_interface(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match=r"cannot read .*nope\.pcap: No such file"):
        read_capture(tmp_path / "nope.pcap")
    path = tmp_path / "usb.pcapng"
    path.write_bytes(SHB + idb(189) + epb(0, 0, b"\x00" * 64))
    with pytest.raises(CaptureError, match="unsupported link type 189"):
        list(read_capture(path))


# ------------------------------------------------------------------ writing


@pytest.fixture(scope="module")
def client_hello() -> bytes:
    if not CAPTURES.is_dir():
        pytest.skip("shared captures not found")
    return next(iter(read_capture(CAPTURES / CLIENT_HELLO_FILE))).data


@pytest.mark.parametrize("linktype", ["ethernet", "raw"])
def test_written_pcapng_reads_back_and_tshark_decodes_dtls(
    tmp_path: Path, client_hello: bytes, linktype: str
) -> None:
    tshark = require_tool("tshark")
    path = tmp_path / "out.pcapng"
    sent = [
        Datagram(1700000000.123456, ("127.0.0.1", 40000), ("127.0.0.1", 5000), client_hello, 1),
        Datagram(1700000000.5, ("::1", 40001), ("::1", 5001), client_hello, 2),
        Datagram(1700000001.0, ("10.0.0.1", 40002), ("::1", 5002), b"\x00" * 3, 3),
        Datagram(1700000002.0, ("127.0.0.1", 40003), ("127.0.0.1", 5003), b"", 4),
    ]
    with PcapngWriter(path, linktype=linktype) as w:
        w.write(sent[0], comment="fault: corrupt byte 13")
        w.flush()
        for dg in sent[1:]:
            w.write(dg)
    assert w.count == 4
    back = list(read_capture(path))
    assert [(d.src, d.dst, d.data, d.ts, d.frame) for d in back] == [
        (d.src, d.dst, d.data, d.ts, d.frame) for d in sent[:2]
    ] + [
        (
            (str(ipaddress.ip_address("::ffff:10.0.0.1")), 40002),
            ("::1", 5002),
            b"\x00" * 3,
            1700000001.0,
            3,
        ),
        (sent[3].src, sent[3].dst, b"", 1700000002.0, 4),
    ]
    fields = [
        "frame.number",
        "dtls.handshake.type",
        "frame.comment",
        "udp.checksum.status",
        "ip.checksum.status",
    ]
    cmd = [
        tshark,
        "-n",
        "-r",
        str(path),
        "-o",
        "udp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-d",
        "udp.port==5000-5001,dtls",
        "-T",
        "fields",
    ]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [line.split("\t") for line in out]
    assert rows[0] == ["1", "1", "fault: corrupt byte 13", "1", "1"]  # 1 = Good, 0 = Bad
    assert rows[1] == ["2", "1", "", "1", ""]
    assert [r[3] for r in rows[2:]] == ["1", "1"]


def test_writer_streams_and_can_be_read_while_open(tmp_path: Path) -> None:
    path = tmp_path / "live.pcapng"
    w = PcapngWriter(path)
    dg = Datagram(1.0, ("127.0.0.1", 1), ("127.0.0.1", 2), b"x" * 100, 1)
    for _ in range(1000):
        w.write(dg)
    w.flush()
    size = os.path.getsize(path)
    assert size > 100_000
    assert sum(1 for _ in read_capture(path)) == 1000
    w.write(dg)
    w.close()
    assert os.path.getsize(path) > size
    with pytest.raises(ValueError, match="linktype"):
        PcapngWriter(tmp_path / "x", linktype="sll")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_captures_raise_only_capture_error(
    tmp_path: Path, captures_dir: Path, data: st.DataObject
) -> None:
    name = data.draw(st.sampled_from(["stun_dtls_rtp.pcapng", "webrtc-stun.pcap"]))
    raw = bytearray((captures_dir / name).read_bytes()[:3000])
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    path = tmp_path / name
    path.write_bytes(bytes(raw[:cut]))
    try:
        for dg in read_capture(path):
            assert isinstance(dg.data, bytes)
    except CaptureError:
        pass
