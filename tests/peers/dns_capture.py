"""Real DNS traffic, recorded: glibc's resolver asking a real dnsmasq, and mDNS queries.

Run as ``unshare --net --mount --fork --kill-child -- python -m tests.peers.dns_capture
OUT OUTER_NETNS_INODE`` (:func:`record`): a private network namespace with only ``lo`` and a private
mount namespace whose ``/etc/resolv.conf`` says ``nameserver 127.0.0.1``. dnsmasq
answers on 127.0.0.1:53; ``getent ahosts`` (glibc: an A and an AAAA query each, random
transaction ids) resolves many names, and a few mDNS queries (RFC 6762: transaction id 0,
so a first byte STUN's range has) go to 127.0.0.1:5353. tshark records ``lo``.

About one transaction id in eight starts with a byte of DTLS's RFC 7983 range (20-63),
and every mDNS message with one of STUN's (0-3): the capture shows that the first byte
alone does not make a datagram DTLS or STUN.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.peers.capture import tshark_capture
from tests.peers.process import ToolProcess

NAMES = 48


def record(out: Path) -> None:
    """pytest side: run this module in fresh network and mount namespaces."""
    userns = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    cmd = ["unshare", *userns, "--net", "--mount", "--fork", "--kill-child", "--",
           sys.executable, "-m", "tests.peers.dns_capture", str(out),
           str(os.stat("/proc/self/ns/net").st_ino)]
    subprocess.run(cmd, check=True, timeout=90, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})


def mdns_query(name: str) -> bytes:
    """An mDNS question for ``name`` (A, class IN), as RFC 6762 §18 has it: id 0."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!6H", 0, 0, 1, 0, 0, 0) + labels + struct.pack("!HH", 1, 1)


def main(out: Path, outer: int) -> None:
    """Inside the namespaces: dnsmasq, the queries, tshark's capture of lo. ``outer``: the
    caller's network namespace (inode), never configured."""
    if os.stat("/proc/self/ns/net").st_ino == outer:
        raise RuntimeError("refusing to run outside a network namespace of our own")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    conf = Path(tempfile.mkdtemp()) / "resolv.conf"
    conf.write_text("nameserver 127.0.0.1\noptions attempts:1 timeout:1\n")
    subprocess.run(["mount", "--bind", str(conf), "/etc/resolv.conf"], check=True)
    dns = ToolProcess(["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--no-resolv",
                       "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
                       "--address=/example.test/10.0.0.7", "--address=/example.test/fd00::7",
                       "--log-queries"])
    with dns, tshark_capture("tshark", out, 53, also=(5353,)):
        dns.wait_for("started", 10)
        for n in range(NAMES):
            subprocess.run(["getent", "ahosts", f"host{n}.example.test"], timeout=10,
                           capture_output=True)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for n in range(4):
                s.sendto(mdns_query(f"peer{n}.local"), ("127.0.0.1", 5353))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
