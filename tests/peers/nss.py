"""NSS ``tstclnt`` as a real DTLS 1.3 peer (RFC 9147), client or server.

Debian's own NSS speaks only draft-43 DTLS 1.3 and writes no key log; run on Firefox
ESR's bundled NSS (``LD_LIBRARY_PATH=/usr/lib/firefox-esr``) ``tstclnt`` speaks RFC 9147
(0xfefc), sends the X25519MLKEM768 key share and writes ``SSLKEYLOGFILE`` on both sides.
``-P server`` binds ``-h``/``-p`` and serves the first client that sends to it.

What tstclnt cannot do: as a server it never requests a client certificate (no option
for it), so mutual authentication is tested with Firefox, not here.

Usage (see :func:`nss_pair`): a certificate database with ``server`` and ``client``
(self-signed ECDSA P-256), a server on a free loopback port, a client pointed at the
server or at a relay in between, both with their own key log.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.peers.process import ToolProcess

FIREFOX_NSS = Path("/usr/lib/firefox-esr")
TSTCLNT = "tstclnt"
CERTUTIL = "certutil"


def available() -> str | None:
    """Why the NSS peer cannot run here, or None when it can."""
    for tool in (TSTCLNT, CERTUTIL):
        if shutil.which(tool) is None:
            return f"{tool} not installed (apt-get install libnss3-tools)"
    if not (FIREFOX_NSS / "libssl3.so").exists():
        return f"{FIREFOX_NSS}/libssl3.so missing (apt-get install firefox-esr)"
    return None


def make_cert_db(directory: Path, names: Sequence[str] = ("server", "client")) -> Path:
    """An NSS database in ``directory`` with one self-signed ECDSA P-256 certificate per
    name (nickname = name, CN = name), trusted as a CA so the other side accepts it."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run([CERTUTIL, "-N", "-d", str(directory), "--empty-password"], check=True,
                   capture_output=True)
    for serial, name in enumerate(names, start=1):
        noise = directory / f"noise-{name}"
        noise.write_bytes(os.urandom(64))
        subprocess.run(
            [CERTUTIL, "-S", "-d", str(directory), "-n", name, "-s", f"CN={name}", "-x",
             "-t", "CT,C,C", "-k", "ec", "-q", "nistp256", "-m", str(serial), "-v", "12",
             "-z", str(noise)],
            check=True, capture_output=True)
        noise.unlink()
    return directory


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port nobody uses now (the kernel's choice; released for tstclnt to bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def udp_bound(port: int) -> bool:
    """Whether some socket is bound to UDP ``port`` (from /proc/net/udp)."""
    want = f":{port:04X} "
    with contextlib.suppress(OSError):
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                if want in line.split(None, 3)[1] + " ":
                    return True
    return False


@dataclass
class NssOptions:
    """What one tstclnt is asked to do (each field maps to an option)."""

    groups: str | None = None
    """``-I``: e.g. ``x25519`` (a server with only x25519 sends HelloRetryRequest to a
    client whose first group is something else)."""
    tickets: bool = False
    """``-u``: session tickets (TLS 1.3 resumption)."""
    connections: int = 1
    """``-L``: handshakes one after the other (the second resumes with ``tickets``)."""
    nickname: str | None = None
    """``-n``: the certificate to present (servers always need one)."""
    request_file: Path | None = None
    """``-A``: application data to send (at EOF a server closes: close_notify)."""
    ciphers: str | None = None
    """``-c``: e.g. ``:1303`` for TLS_CHACHA20_POLY1305_SHA256 only."""
    quit_after_handshake: bool = False
    """``-Q``: end the connection after the handshake (a server then closes with
    close_notify, after its NewSessionTicket; with ``connections`` it serves the next)."""


class NssPeer(ToolProcess):
    """One ``tstclnt -P client|server`` on Firefox's NSS, with its own key log."""

    def __init__(self, role: str, host: str, port: int, db: Path, keylog: Path,
                 options: NssOptions | None = None) -> None:
        o = options or NssOptions()
        argv = [TSTCLNT, "-P", role, "-h", host, "-p", str(port), "-d", str(db),
                "-V", "tls1.3:tls1.3"]
        if role == "client":
            argv.append("-o")  # the self-signed server certificate is fine
        if o.nickname:
            argv += ["-n", o.nickname]
        if o.groups:
            argv += ["-I", o.groups]
        if o.tickets:
            argv.append("-u")
        if o.connections > 1:
            argv += ["-L", str(o.connections)]
        if o.request_file is not None:
            argv += ["-A", str(o.request_file)]
        if o.ciphers:
            argv += ["-c", o.ciphers]
        if o.quit_after_handshake:
            argv.append("-Q")
        self.role = role
        self.keylog = keylog
        env = {"LD_LIBRARY_PATH": str(FIREFOX_NSS), "SSLKEYLOGFILE": str(keylog)}
        super().__init__(argv, env=env)


def wait_bound(port: int, peer: NssPeer, timeout: float = 10.0) -> None:
    """Until the server has bound its port (it then answers the first ClientHello)."""
    deadline = time.monotonic() + timeout
    while not udp_bound(port):
        if peer.proc.poll() is not None:
            raise RuntimeError(f"tstclnt server exited: {peer.output}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"tstclnt server did not bind {port}: {peer.output}")
        time.sleep(0.02)


@contextlib.contextmanager
def nss_server(workdir: Path, db: Path, options: NssOptions | None = None,
               host: str = "127.0.0.1") -> Iterator[tuple[NssPeer, int]]:
    """A tstclnt DTLS 1.3 server on a free port; yields (peer, port)."""
    o = options or NssOptions()
    if o.nickname is None:
        o.nickname = "server"
    port = free_udp_port(host)
    with NssPeer("server", host, port, db, workdir / "server.keys", o) as server:
        wait_bound(port, server)
        yield server, port


SCENARIOS = ("1rtt", "hrr", "resume", "chacha")
"""What :func:`capture_nss` can record (``tests/data/dtls13/README.md``)."""


def scenario_options(mode: str, workdir: Path) -> tuple[NssOptions, NssOptions]:
    """(server, client) options of one of :data:`SCENARIOS`."""
    so, co = NssOptions(), NssOptions()
    if mode == "hrr":
        so.groups, co.groups = "x25519", "P256,x25519"
    elif mode == "resume":
        (workdir / "server-says.txt").write_text("server says hi\n")
        (workdir / "client-says.txt").write_text("client says hi\n")
        so.tickets = co.tickets = True
        so.connections = co.connections = 2
        so.request_file = workdir / "server-says.txt"
        co.request_file = workdir / "client-says.txt"
    elif mode == "chacha":
        co.ciphers = ":1303"
    elif mode != "1rtt":
        raise ValueError(f"unknown NSS scenario {mode!r} (one of {', '.join(SCENARIOS)})")
    return so, co


def capture_nss(workdir: Path, mode: str, db: Path | None = None) -> tuple[list[object], Path]:
    """Run one scenario between two tstclnt through a recording forwarder; returns the
    recorded datagrams (``tests.peers.capture.CapturedDatagram``) and the client's key log
    (``python -m tests.peers.nss DIR MODE`` writes ``nss-MODE.pcap`` and ``.keys``)."""
    from tests.peers.capture import record_udp_exchange

    db = db or make_cert_db(workdir / "db")
    so, co = scenario_options(mode, workdir)
    with nss_server(workdir, db, so) as (server, port), \
            record_udp_exchange(("127.0.0.1", port)) as rec:
        with NssPeer("client", "127.0.0.1", rec.listen_addr[1], db,
                     workdir / "client.keys", co) as client:
            if mode != "resume":
                client.send(b"hello from the client\n")
                time.sleep(0.5)
                server.send(b"hello from the server\n")
            time.sleep(2.0)
        return list(rec.snapshot()), client.keylog


if __name__ == "__main__":
    import sys

    from tests.peers.capture import write_pcap

    out, which = Path(sys.argv[1]), sys.argv[2]
    out.mkdir(parents=True, exist_ok=True)
    grams, keys = capture_nss(out, which)
    write_pcap(out / f"nss-{which}.pcap", grams)  # type: ignore[arg-type]
    lines = [ln for ln in keys.read_text().splitlines() if not ln.startswith("#")]
    (out / f"nss-{which}.keys").write_text("\n".join(lines) + "\n")
