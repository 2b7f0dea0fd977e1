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
