"""`dtlsproxy run` on a terminal opens the TUI on the relay's loop: a datagram sent to
side A is forwarded to side B's peer AND shows up decoded on screen; `q` quits (exit 0)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from proxy.capture.pcap import read_capture
from proxy.decode.dtls.record import looks_like_dtls
from tests.conftest import CAPTURES
from tests.tmux import TmuxApp


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_opens_the_tui_on_a_terminal_and_forwards(tmp_path: Path) -> None:
    hello = next(
        d.data
        for d in read_capture(CAPTURES / "capture-firefox-Mozilla_Firefox_125.0.pcap")
        if looks_like_dtls(d.data)
    )
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sink.settimeout(10)
    side_a = free_udp_port()
    exe = Path(sys.executable).parent / "dtlsproxy"
    cmd = (
        f"{exe} run --side-a 127.0.0.1:{side_a} --side-b 127.0.0.1:0 --label-a browser "
        f"--label-b janus --peer-b 127.0.0.1:{sink.getsockname()[1]}"
    )
    try:
        with TmuxApp(cmd, tmp_path, (160, 40)) as term:
            screen = term.wait_for(lambda s: f"browser 127.0.0.1:{side_a}" in s)
            assert f"browser 127.0.0.1:{side_a}" in screen, screen
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer_a:
                peer_a.sendto(hello, ("127.0.0.1", side_a))
                forwarded, _ = sink.recvfrom(65535)
            assert forwarded == hello
            screen = term.wait_for(lambda s: "ClientHello" in s)
            assert "ClientHello" in screen and "handshaking" in screen, screen
            assert term.quit() == "0"
    finally:
        sink.close()


def test_run_turn_mode_shows_the_culprit_and_the_allocations(tmp_path: Path) -> None:
    """`dtlsproxy run --turn` on a terminal: a DTLS client behind aiortc's TURN client
    (aioice), a corrupted CertificateVerify, the banner names it; `t` lists the
    allocation."""
    import asyncio

    from aioice.turn import create_turn_endpoint

    from proxy.demo.peers.pyopenssl_peer import DtlsEndpoint, EndpointConfig
    from proxy.demo.peers.udp_runner import UdpPeer, _Inbox

    port = free_udp_port()
    exe = Path(sys.executable).parent / "dtlsproxy"
    cmd = (
        f"{exe} run --turn 127.0.0.1:{port} --turn-user alice:secret --turn-allow-loopback "
        "--fault who=client,msg=CertificateVerify,action=corrupt,offset=-1"
    )

    async def call() -> None:
        server = await UdpPeer.bind(DtlsEndpoint(EndpointConfig(role="server")))
        turn, inbox = await create_turn_endpoint(
            _Inbox, server_addr=("127.0.0.1", port), username="alice", password="secret")
        client = UdpPeer(DtlsEndpoint(EndpointConfig(role="client")), turn, inbox)  # type: ignore[arg-type]
        try:
            await asyncio.gather(client.run(server.local_addr, timeout=5),
                                 server.run(None, timeout=5))
        finally:
            turn.close()
            server.close()

    with TmuxApp(cmd, tmp_path, (160, 40)) as term:
        screen = term.wait_for(lambda s: f"turn udp 127.0.0.1:{port}" in s)
        assert f"tcp 127.0.0.1:{port}" in screen, screen
        asyncio.run(call())
        screen = term.wait_for(lambda s: "CertificateVerify  —" in s)
        assert "decrypt_error in answer to client flight 5; culprit:" in screen, screen
        assert "alice 127.0.0.1:" in screen  # the session, labelled with the TURN user
        term.send("t")
        screen = term.wait_for(lambda s: "TURN allocations" in s)
        assert "alice" in screen and "0x4000" in screen, screen
        term.send("Escape")
        screen = term.wait_for(lambda s: "TURN allocations" not in s)
        assert "TURN allocations" not in screen
        assert term.quit() == "0"
