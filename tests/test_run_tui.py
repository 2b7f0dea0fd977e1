"""`dtlsproxy run` on a terminal opens the TUI on the relay's loop: a datagram sent to
side A is forwarded to side B's peer AND shows up decoded on screen; `q` quits (exit 0)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from proxy.dtls.record import looks_like_dtls
from proxy.pcap import read_capture
from tests.conftest import CAPTURES, ROOT, require_tool


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_run_opens_the_tui_on_a_terminal_and_forwards(tmp_path: Path) -> None:
    tmux = require_tool("tmux")
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
    rc = tmp_path / "rc"
    name = f"dtlsproxy-run-{id(tmp_path)}"
    cmd = (
        f"env -u COLUMNS -u LINES {exe} run --side-a 127.0.0.1:{side_a} "
        f"--side-b 127.0.0.1:0 --label-a browser --label-b janus "
        f"--peer-b 127.0.0.1:{sink.getsockname()[1]}; echo $? > {rc}"
    )
    subprocess.run(
        [tmux, "new-session", "-d", "-s", name, "-x", "160", "-y", "40", cmd], check=True, cwd=ROOT
    )
    try:
        screen = ""
        for _ in range(100):
            screen = subprocess.run(
                [tmux, "capture-pane", "-p", "-t", name], capture_output=True, text=True
            ).stdout
            if f"browser 127.0.0.1:{side_a}" in screen:
                break
            time.sleep(0.1)
        assert f"browser 127.0.0.1:{side_a}" in screen, screen
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer_a:
            peer_a.sendto(hello, ("127.0.0.1", side_a))
            forwarded, _ = sink.recvfrom(65535)
        assert forwarded == hello
        for _ in range(100):
            screen = subprocess.run(
                [tmux, "capture-pane", "-p", "-t", name], capture_output=True, text=True
            ).stdout
            if "ClientHello" in screen:
                break
            time.sleep(0.1)
        assert "ClientHello" in screen and "handshaking" in screen, screen
        subprocess.run([tmux, "send-keys", "-t", name, "q"], check=True)
        for _ in range(100):
            if rc.exists() and rc.read_text().strip():
                break
            time.sleep(0.1)
        assert rc.read_text().strip() == "0"
    finally:
        subprocess.run([tmux, "kill-session", "-t", name], capture_output=True)
        sink.close()
