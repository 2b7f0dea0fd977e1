"""RFC 7983's first byte is not enough to call a datagram DTLS or STUN: real DNS and mDNS
(tests/data/README.md) fall in those ranges; the plausibility check of what follows (the
records, the STUN header) keeps them out, and keeps every real DTLS and STUN flow in."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.analyze.pipeline import analyze_capture, opens_session
from proxy.capture.pcap import read_capture
from proxy.decode.demux import classify
from proxy.decode.dtls.record import plausible_dtls
from proxy.decode.stun import plausible_stun
from tests.conftest import CAPTURES

DATA = Path(__file__).resolve().parents[1] / "data"
DNS = DATA / "dnsmasq-dns-and-mdns.pcapng"


def test_dns_and_mdns_are_not_dtls_or_stun() -> None:
    dgs = list(read_capture(DNS))
    kinds = [classify(d.data) for d in dgs]
    assert kinds.count("dtls") >= 10 and kinds.count("stun") >= 4  # by the first byte alone
    assert not any(opens_session(d.data) for d in dgs)
    assert list(analyze_capture(DNS)) == []  # no session, no malformed record


@pytest.mark.parametrize("path", sorted([*CAPTURES.glob("*.pcap*"), *DATA.glob("*.pcap*")]))
def test_every_real_dtls_and_stun_flow_still_opens(path: Path) -> None:
    if path == DNS:
        return
    dgs = list(read_capture(path))
    dtls = [d for d in dgs if classify(d.data) == "dtls"]
    stun = [d for d in dgs if classify(d.data) == "stun"]
    assert all(plausible_stun(d.data) for d in stun), path
    # a DTLS flow's handshake records are plausible (an unreadable record in the middle of
    # a flow may not be: it does not have to open the session)
    firsts: dict[frozenset[tuple[str, int]], bool] = {}
    for d in dtls:
        firsts.setdefault(frozenset((d.src, d.dst)), plausible_dtls(d.data))
    assert all(firsts.values()), path
