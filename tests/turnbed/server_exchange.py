"""A real STUN/TURN server exchange, recorded: coturn's ``turnserver`` and its clients.

Run as ``unshare --net --fork --kill-child -- python -m tests.turnbed.server_exchange OUT``
(:func:`record`): a private network namespace with only ``lo``, so coturn's fixed ports
clash with nothing. ``turnutils_stunclient`` sends Binding requests (what a WebRTC peer
sends a STUN server such as stun.l.google.com:19302 to learn its address) and
``turnutils_uclient`` allocates, refreshes, binds a channel and sends data through the
relay (what a peer does with its TURN server), each through a recording forwarder in
front of the server. The pcap holds both clients' exchanges with the server: sessions
that are not ICE paths between two peers.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.peers.capture import record_udp_exchange, write_pcap
from tests.peers.process import ToolProcess

STUN_PORT = 3478
PEER_PORT = 3480


def record(out: Path) -> None:
    """pytest side: run this module in a fresh network namespace, writing ``out``."""
    from tests.janus import netns

    cmd = [*netns.unshare_prefix(), sys.executable, "-m", "tests.turnbed.server_exchange",
           str(out)]
    subprocess.run(cmd, check=True, timeout=60, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})


def main(out: Path) -> None:
    """Inside the namespace: the server, the two clients through the recorder, the pcap."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    server = ToolProcess(["turnserver", "-n", "--listening-ip", "127.0.0.1", "-p",
                          str(STUN_PORT), "--relay-ip", "127.0.0.1", "--no-tls", "--no-dtls",
                          "--no-cli", "--lt-cred-mech", "--user", "user:pass", "--realm",
                          "example.test", "--allow-loopback-peers", "--log-file", "stdout"])
    peer = ToolProcess(["turnutils_peer", "-L", "127.0.0.1", "-p", str(PEER_PORT)])
    with server, peer:
        server.wait_for(r"Total General servers", 10)
        time.sleep(0.5)  # its UDP listener threads start right after
        datagrams = []
        with record_udp_exchange(("127.0.0.1", STUN_PORT)) as rec:
            host, port = rec.listen_addr
            subprocess.run(["turnutils_stunclient", "-p", str(port), host], timeout=10,
                           capture_output=True)
            datagrams += rec.snapshot()
        with record_udp_exchange(("127.0.0.1", STUN_PORT)) as rec:
            host, port = rec.listen_addr
            with contextlib.suppress(subprocess.TimeoutExpired):  # what it did is recorded
                subprocess.run(["turnutils_uclient", "-u", "user", "-w", "pass", "-c", "-n",
                                "10", "-z", "5", "-l", "200", "-e", "127.0.0.1", "-r",
                                str(PEER_PORT), "-p", str(port), host], timeout=15,
                               capture_output=True)
            time.sleep(0.2)
            datagrams += rec.snapshot()
    write_pcap(out, sorted(datagrams, key=lambda d: d.ts))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
