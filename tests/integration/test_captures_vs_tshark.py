"""Every shared capture: our (frame, content types, handshake types) per datagram equals
tshark 4.0's, except where tshark is wrong -- each exception asserted and explained here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from proxy.capture.pcap import read_capture
from proxy.decode.dtls.handshake import parse_fragments
from proxy.decode.dtls.record import CT_HANDSHAKE, Record, looks_like_dtls, parse_records
from tests.conftest import CAPTURES, require_tool

Row = tuple[tuple[int, ...], tuple[int, ...]]

CAPTURE_FILES = sorted(p.name for p in CAPTURES.glob("*.pcap*")) if CAPTURES.is_dir() else []


def ours(path: Path) -> dict[int, Row]:
    """frame -> (content types of its records, handshake types of its plaintext fragments)."""
    out: dict[int, Row] = {}
    for d in read_capture(path):
        if not looks_like_dtls(d.data):
            continue
        records = [r for r in parse_records(d.data) if isinstance(r, Record)]
        types = tuple(r.content_type for r in records)
        hs: list[int] = []
        for r in records:
            if r.content_type == CT_HANDSHAKE and r.epoch == 0 and not r.unified:
                hs.extend(f.msg_type for f in parse_fragments(r.fragment, r.payload_offset))
        out[d.frame] = (types, tuple(hs))
    return out


def tsharks(path: Path) -> dict[int, Row]:
    tshark = require_tool("tshark")
    res = subprocess.run(
        [tshark, "-r", str(path), "-Y", "dtls", "-T", "fields", "-e", "frame.number",
         "-e", "dtls.record.content_type", "-e", "dtls.handshake.type", "-E", "separator=;"],
        capture_output=True, text=True, check=True,
    )
    out: dict[int, Row] = {}
    for line in res.stdout.splitlines():
        if line.count(";") != 2:
            continue
        frame, cts, hts = line.split(";")
        out[int(frame)] = (
            tuple(int(x) for x in cts.split(",") if x),
            tuple(int(x) for x in hts.split(",") if x),
        )
    return out


@pytest.mark.peers
@pytest.mark.parametrize("name", CAPTURE_FILES)
def test_record_and_handshake_types_match_tshark(name: str) -> None:
    path = CAPTURES / name
    mine, theirs = ours(path), tsharks(path)
    assert theirs, "tshark found DTLS in every shared capture"
    if name == "dtls13-wolfssl.pcap":
        # tshark 4.0 does not dissect DTLS 1.3 unified-header records (first byte 001CSLEE):
        # it shows frames 5-15 as plain UDP. We decode them as encrypted records.
        extra = {f: mine.pop(f) for f in sorted(set(mine) - set(theirs))}
        assert list(extra) == list(range(5, 16))
        unified = {
            dg.frame
            for dg in read_capture(path)
            if dg.frame in extra and all(
                isinstance(r, Record) and r.unified for r in parse_records(dg.data)
            )
        }
        assert unified == set(extra)
    if name == "dtls12-aes128ccm8-dsb.pcapng":
        # This pcapng embeds its key log (Decryption Secrets Block): tshark decrypts the two
        # epoch-1 Finished records (frames 6 and 8) and lists their handshake type 20. Our
        # record layer shows them as encrypted handshake records (decryption is the key-log
        # layer's job, fed by --keylog), so only the plaintext types are compared there.
        for frame in (6, 8):
            types, hs = theirs[frame]
            assert hs[-1] == 20
            theirs[frame] = (types, hs[:-1])
    assert mine == theirs
