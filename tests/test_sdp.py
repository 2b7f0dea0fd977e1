"""SDP inspect/rewrite on real (aiortc) and browser-/Janus-like SDPs, and `dtlsproxy sdp`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.cli.main import main as cli_main
from proxy.sdp import (
    Candidate,
    Fingerprint,
    SdpError,
    TrickleRewriter,
    inspect_sdp,
    parse_candidate,
    parse_hostport,
    rewrite_candidate,
    rewrite_sdp,
)

DATA = Path(__file__).parent / "data" / "sdp"
FILES = sorted(p.name for p in DATA.glob("*.sdp"))
PROXY = ("127.0.0.1", 5000)


def load(name: str) -> str:
    return (DATA / name).read_bytes().decode()


# ------------------------------------------------------------------ inspect


def test_inspect_aiortc_offer() -> None:
    info = inspect_sdp(load("aiortc-offer.sdp"))
    assert [(m.media, m.mid, m.port, m.proto) for m in info.media] == [
        ("audio", "0", 58067, "UDP/TLS/RTP/SAVPF"),
        ("application", "1", 50635, "UDP/DTLS/SCTP"),
    ]
    audio = info.media[0]
    assert (audio.setup, audio.ice_ufrag, audio.ice_pwd, audio.connection) == (
        "actpass",
        "ZGHO",
        True,
        "10.99.0.1",
    )
    assert [f.algorithm for f in audio.fingerprints] == ["sha-256", "sha-384", "sha-512"]
    assert audio.fingerprints[0].value.startswith("6B:E4:21:37")
    assert audio.candidates == (
        Candidate(
            "28d09117ed7be62fd2553196dd6100b6", 1, "udp", 2130706431, "10.99.0.1", 58067, "host"
        ),
        Candidate(
            "3f65c917899289d77416899209b94e50", 1, "udp", 2130706431, "fd00:99::1", 55765, "host"
        ),
    )
    assert audio.end_of_candidates and audio.rtcp_mux
    assert info.groups == ("BUNDLE 0 1",)
    assert info.problems == ()


def test_inspect_chromium_offer() -> None:
    info = inspect_sdp(load("chromium-offer.sdp"))
    audio, video, data = info.media
    kinds = [(c.transport, c.type, c.is_mdns, c.tcptype) for c in audio.candidates]
    assert kinds == [
        ("udp", "host", False, None),
        ("udp", "host", False, None),
        ("udp", "host", True, None),
        ("udp", "srflx", False, None),
        ("udp", "relay", False, None),
        ("udp", "host", False, None),
        ("tcp", "host", False, "active"),
        ("tcp", "host", False, "active"),
    ]
    srflx = audio.candidates[3]
    assert (srflx.raddr, srflx.rport, srflx.extensions) == (
        "192.168.1.20",
        54400,
        (("generation", "0"), ("network-id", "1"), ("network-cost", "10")),
    )
    assert (data.port, data.bundle_only, data.candidates) == (0, True, ())
    assert info.setup_of(video) == "actpass"
    assert info.fingerprints_of(data) == (
        Fingerprint(
            "sha-256",
            "3B:AF:21:6B:C7:D3:C1:8D:84:8F:23:0A:4D:1B:99:13:52:9F:A7:9D:6C:"
            "26:0E:BC:11:54:C0:52:43:EF:44:2A",
        ),
    )


def test_session_level_attributes_janus() -> None:
    info = inspect_sdp(load("janus-answer.sdp"))
    assert info.fingerprints[0].value.startswith("D2:B9:31")
    assert info.media[0].fingerprints == ()
    assert info.fingerprints_of(info.media[0]) == info.fingerprints
    assert [info.setup_of(m) for m in info.media] == ["active", "active"]


def test_bad_candidate_is_a_problem_not_a_crash() -> None:
    text = load("firefox-offer-lf.sdp").replace("a=mid:0", "a=candidate:x 1 udp\na=mid:0")
    info = inspect_sdp(text)
    assert len(info.problems) == 1
    assert info.problems[0].startswith("line 19: bad candidate")
    assert info.media[0].mid == "0"


def test_not_an_sdp() -> None:
    with pytest.raises(SdpError, match="not an SDP: first line is '<html>'"):
        inspect_sdp("<html>\n")
    with pytest.raises(SdpError, match="not an SDP"):
        rewrite_sdp("", PROXY)


# ------------------------------------------------------------------ rewrite


def test_rewrite_chromium_offer_transcript() -> None:
    text = load("chromium-offer.sdp")
    out = rewrite_sdp(text, PROXY)
    removed = [ln for ln in text.split("\r\n") if ln not in out.split("\r\n")]
    added = [ln for ln in out.split("\r\n") if ln not in text.split("\r\n")]
    cand = (
        "a=candidate:1467250027 1 udp 2122260223 127.0.0.1 5000 typ host generation 0 "
        "network-id 1 network-cost 10"
    )
    assert added == [
        "m=audio 5000 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 127.0.0.1",
        cand,
        "m=video 5000 UDP/TLS/RTP/SAVPF 96 97",
        "c=IN IP4 127.0.0.1",
        cand,
        "c=IN IP4 127.0.0.1",
    ]
    assert (
        sum(ln.startswith("a=candidate") for ln in removed) == 10
    )  # audio's 8 and video's 2 originals
    assert not any(ln.startswith("a=candidate") and " tcp " in ln for ln in out.split("\r\n"))
    assert "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n" in out  # port 0 kept
    assert "a=rtcp:9 IN IP4 0.0.0.0\r\n" in out  # placeholder kept
    assert out.count("\r\n") == out.count("\n")  # CRLF everywhere, as in the input


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("to", [("127.0.0.1", 5000), ("::1", 6000)])
def test_rewrite_keeps_everything_else_byte_identical(name: str, to: tuple[str, int]) -> None:
    text = load(name)
    out = rewrite_sdp(text, to)
    touched = ("a=candidate:", "c=", "m=", "a=rtcp:")
    keep_in = [ln for ln in text.split("\n") if not ln.startswith(touched)]
    keep_out = [ln for ln in out.split("\n") if not ln.startswith(touched)]
    assert keep_in == keep_out  # line endings included (the \r stays on each line)
    assert text.endswith("\r\n") == out.endswith("\r\n")
    assert ("\r" in text) == ("\r" in out)
    info = inspect_sdp(out)
    for m in info.media:
        assert all((c.address, c.port) == to for c in m.candidates)
        assert len({(c.component, c.transport) for c in m.candidates}) == len(m.candidates)
        assert m.port in (0, to[1])
        assert m.connection == to[0]
    assert inspect_sdp(rewrite_sdp(out, to)) == info  # idempotent


def test_rewrite_ipv4_sdp_to_ipv6_proxy_and_rtcp_line() -> None:
    out = rewrite_sdp(load("firefox-offer-lf.sdp"), ("::1", 6000), drop_tcp=False)
    lines = out.split("\n")
    assert "c=IN IP6 ::1" in lines
    assert "a=rtcp:6000 IN IP6 ::1" in lines
    assert "a=candidate:2 1 TCP 2105524479 2001:db8::7 9 typ host tcptype active" in lines
    assert "a=candidate:0 2 UDP 2122252542 ::1 6000 typ host" in lines  # component 2 kept
    janus = rewrite_sdp(load("janus-answer.sdp"), ("::1", 6000))
    assert "c=IN IP6 ::1\r\n" in janus
    assert "a=candidate:3 " not in janus  # srflx collapsed onto the host candidate
    assert janus.count("a=end-of-candidates\r\n") == 2


def test_rewrite_keep_predicate() -> None:
    out = rewrite_sdp(load("chromium-offer.sdp"), PROXY, keep=lambda c: c.type == "relay")
    cands = [c for m in inspect_sdp(out).media for c in m.candidates]
    assert [(c.foundation, c.type) for c in cands] == [("1064843311", "relay")]


def test_rewrite_rejects_a_malformed_candidate() -> None:
    text = load("janus-answer.sdp").replace("typ srflx", "typo srflx")
    with pytest.raises(SdpError, match=r"^line 22: bad candidate"):
        rewrite_sdp(text, PROXY)


def test_trickled_candidates() -> None:
    line = "candidate:842163049 1 udp 1686052607 203.0.113.7 61000 typ srflx raddr 10.0.0.2 rport 5"
    assert rewrite_candidate(line, PROXY) == (
        "candidate:842163049 1 udp 1686052607 127.0.0.1 5000 typ srflx raddr 10.0.0.2 rport 5"
    )
    assert rewrite_candidate("a=candidate:1 1 UDP 1 a.local 9 typ host\r\n", ("::1", 7)) == (
        "a=candidate:1 1 UDP 1 ::1 7 typ host\r\n"
    )
    tcp = "candidate:2 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active"
    assert rewrite_candidate(tcp, PROXY) is None
    assert rewrite_candidate(tcp, PROXY, drop_tcp=False) == tcp
    assert rewrite_candidate("", PROXY) == ""  # end of candidates
    with pytest.raises(SdpError):
        rewrite_candidate("candidate:1 1 udp", PROXY)

    tr = TrickleRewriter(PROXY)
    tr.seen_sdp(inspect_sdp(rewrite_sdp(load("janus-answer.sdp"), PROXY)))
    host2 = "candidate:9 1 udp 2015363327 172.17.0.9 20001 typ host"
    assert tr.rewrite(host2, mid="0") is None  # mid 0 already has a candidate at the proxy
    assert tr.rewrite(host2, mid="7") == "candidate:9 1 udp 2015363327 127.0.0.1 5000 typ host"
    assert tr.rewrite(host2, mid="7") is None


def test_parse_candidate_errors() -> None:
    with pytest.raises(SdpError, match="extension without a value"):
        parse_candidate("candidate:1 1 udp 1 1.2.3.4 5 typ host generation")
    with pytest.raises(SdpError, match="bad candidate number"):
        parse_candidate("candidate:1 one udp 1 1.2.3.4 5 typ host")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:5000", ("127.0.0.1", 5000)),
        ("[::1]:5000", ("::1", 5000)),
        ("[2001:DB8::1]:1", ("2001:db8::1", 1)),
    ],
)
def test_parse_hostport(text: str, expected: tuple[str, int]) -> None:
    assert parse_hostport(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("::1:5000", "put IPv6 addresses in brackets"),
        ("localhost:5000", "'localhost' is not an IP address"),
        ("127.0.0.1", "expected e.g. 127.0.0.1:5000"),
        ("127.0.0.1:0", "port must be 1-65535"),
        ("127.0.0.1:70000", "port must be 1-65535"),
        ("[127.0.0.1]:5", "brackets are for IPv6"),
    ],
)
def test_parse_hostport_errors(text: str, reason: str) -> None:
    with pytest.raises(SdpError) as exc:
        parse_hostport(text)
    assert reason in exc.value.reason


# ---------------------------------------------------------------------- CLI


def test_cli_inspect_never_prints_the_password(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert cli_main(["sdp", "inspect", str(DATA / "chromium-offer.sdp")]) == 0
    out = capsysbinary.readouterr().out.decode()
    assert "0dpNpJ3qMvCkqTbfEZ3Y5Ahn" not in out
    assert "  setup actpass  ice-ufrag Zq0b  ice-pwd present  rtcp-mux\n" in out
    assert "  candidate 1 tcp host 192.168.1.20:9 tcptype active prio 1518280447" in out
    assert "  candidate 1 udp srflx 203.0.113.7:61000 from 192.168.1.20:54400 prio" in out
    assert "m[2] application port 0 UDP/DTLS/SCTP  mid=2  c=0.0.0.0  (bundle-only)\n" in out


def test_cli_inspect_json(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert cli_main(["sdp", "inspect", "--json", str(DATA / "aiortc-answer.sdp")]) == 0
    doc = json.loads(capsysbinary.readouterr().out)
    assert doc["media"][0]["setup"] == "active"
    assert doc["media"][0]["ice_pwd"] is True
    assert doc["media"][1]["candidates"][1]["address"] == "fd00:99::1"
    assert "5qzgEYzogGD8SRGVgZuE43" not in json.dumps(doc)


def test_cli_rewrite_stdin_to_stdout_keeps_crlf() -> None:
    text = (DATA / "janus-answer.sdp").read_bytes()
    run = subprocess.run(
        [sys.executable, "-m", "proxy", "sdp", "rewrite", "--to", "[::1]:5000", "-"],
        input=text,
        capture_output=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == rewrite_sdp(text.decode(), ("::1", 5000)).encode()
    assert run.stdout.count(b"\r\n") == text.count(b"\r\n") - 2  # srflx and ::2 collapsed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rewrite", "--to", "::1:5000", "FILE"], "bad HOST:PORT '::1:5000': put IPv6"),
        (["rewrite", "--to", "127.0.0.1:5000", "NOTSDP"], "not an SDP: first line is"),
        (["inspect", "MISSING"], "cannot read"),
    ],
)
def test_cli_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    (tmp_path / "notsdp").write_text("hello\n")
    paths = {
        "FILE": str(DATA / "janus-answer.sdp"),
        "NOTSDP": str(tmp_path / "notsdp"),
        "MISSING": str(tmp_path / "missing.sdp"),
    }
    argv = [paths.get(a, a) for a in argv]
    assert cli_main(["sdp", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("dtlsproxy sdp: error: ")
    assert message in err


# ------------------------------------------------------------ aiortc, live


def test_aiortc_accepts_the_rewritten_offer() -> None:
    """A fresh aiortc offer (no ICE servers: nothing leaves loopback) is inspected,
    rewritten to the proxy, and a second aiortc peer takes the result as a valid offer."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    async def run() -> tuple[str, str]:
        a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            a.addTransceiver("audio")
            a.createDataChannel("chat")
            await a.setLocalDescription(await a.createOffer())
            offer = a.localDescription.sdp
            # b may send ICE checks to the rewritten candidate: a loopback address nobody uses
            rewritten = rewrite_sdp(offer, ("127.77.77.77", 9))
            await b.setRemoteDescription(RTCSessionDescription(rewritten, "offer"))
            await b.setLocalDescription(await b.createAnswer())
            return offer, b.localDescription.sdp
        finally:
            await a.close()
            await b.close()

    offer, answer = asyncio.run(run())
    info = inspect_sdp(offer)
    assert [m.media for m in info.media] == ["audio", "application"]
    assert all(m.setup == "actpass" and m.ice_pwd for m in info.media)
    assert {f.algorithm for f in info.media[0].fingerprints} >= {"sha-256"}
    assert [info.setup_of(m) for m in inspect_sdp(answer).media] == ["active", "active"]
