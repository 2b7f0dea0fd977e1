"""Real OpenSSL peers through a real ``dtlsproxy run``, its pcapng (both legs) kept.

The relay's own capture is what a user gets from ``--pcap``: every datagram as it
arrived and as it left (a fault rule changes only the second), so one handshake is
in it twice, once per leg. :func:`relay_openssl` runs one scenario and returns the
files; the tests analyse them like a user would.
"""

from __future__ import annotations

import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.peers.openssl_cli import OpenSslClient, OpenSslServer
from tests.peers.process import ToolProcess
from tests.peers.scenarios import CertFiles

ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    """An ephemeral UDP port free right now (for flags that need a number)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class Proxy(ToolProcess):
    """``dtlsproxy run --headless`` as a child process."""

    def __init__(self, *args: str) -> None:
        super().__init__([sys.executable, "-m", "proxy", "run", "--headless",
                          "--silence-after", "0", *args],
                         env={"PYTHONPATH": str(ROOT), "NO_COLOR": "1"})

    def wait_ready(self) -> None:
        """Until the relay says it listens."""
        self.wait_for(r"INFO listening: .*(side B|reverse mode)", 20)

    def finish(self) -> str:
        """SIGINT (Ctrl-C): the relay closes its sessions and flushes the log."""
        return self.stop(signal.SIGINT, group=False)


@dataclass(frozen=True)
class RelayedRun:
    """What one relayed scenario left: the relay's pcapng and JSONL, the client's key log."""

    pcap: Path
    log: Path
    keylog: Path
    client_output: str
    server_output: str
    listen: str
    """``host:port`` the relay listened on: the client's leg has it."""
    upstream: str
    """The server's ``host:port``: the server's leg has it."""


def relay_openssl(openssl: str, workdir: Path, name: str, server: CertFiles,
                  client: CertFiles, faults: Sequence[str] = (), *, resume: bool = False,
                  run_for: float = 0.0, server_args: Sequence[str] = (),
                  client_args: Sequence[str] = ()) -> RelayedRun:
    """``s_client`` -> ``dtlsproxy run --listen X --upstream s_server`` with ``faults``.

    ``resume``: a first ``s_client`` connects to the server directly and saves its
    session; the relayed one resumes it (an abbreviated handshake: the client sends the
    last flight). ``run_for``: seconds to let the peers go on (retransmit) after the
    client started, instead of waiting for its handshake and exchanging a line.
    """
    pcap, log, keylog = (workdir / f"{name}.pcapng", workdir / f"{name}.jsonl",
                         workdir / f"{name}.keys")
    session = workdir / f"{name}.session.pem"
    extra = ["-naccept", "2"] if resume else []
    with OpenSslServer(openssl, server.cert, server.key, srtp=None, extra=[*extra, *server_args]
                       ) as srv:
        addr = srv.wait_ready()
        if resume:
            with OpenSslClient(openssl, addr, client.cert, client.key, srtp=None,
                               extra=["-sess_out", str(session)]) as first:
                first.wait_handshake()
                first.quit()
        listen = free_port()
        rules = [arg for rule in faults for arg in ("--fault", rule)]
        with Proxy("--listen", f"127.0.0.1:{listen}", "--upstream", f"127.0.0.1:{addr[1]}",
                   "--pcap", str(pcap), "--log-file", str(log), *rules) as proxy:
            proxy.wait_ready()
            more = ["-sess_in", str(session)] if resume else []
            with OpenSslClient(openssl, ("127.0.0.1", listen), client.cert, client.key,
                               srtp=None, keylog=keylog, extra=[*more, *client_args]) as cli:
                if run_for:
                    time.sleep(run_for)
                else:
                    cli.wait_handshake(20)
                    cli.send(b"hello through the proxy\n")
                    srv.wait_for("hello through the proxy")
                    cli.quit()
            proxy.finish()
    return RelayedRun(pcap, log, keylog, cli.output, srv.output, f"127.0.0.1:{listen}",
                      f"127.0.0.1:{addr[1]}")
