"""The private network namespace the bed runs in.

``unshare --net --fork --kill-child`` gives the driver (and everything it starts)
a fresh namespace that disappears with its last process: nothing to delete by
name, nothing left behind. Inside, :func:`setup_inside` brings up ``lo`` and one
virtual interface carrying :data:`BED_ADDRESS`, because Janus (libnice) and aiortc
(aioice) never gather candidates on loopback. The namespace has no route out.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BED_ADDRESS = "10.99.0.1"
"""The one test-host address inside the namespace: Janus, aiortc and the relay use it."""
BED_PREFIX = 24
IFACE = "d0"


def unshare_prefix() -> list[str]:
    """Command prefix that runs a program in a fresh network namespace.

    ``--kill-child``: if ``unshare`` is killed (pytest timeout), its child dies too.
    Not root: a user namespace too (``--map-root-user``), so a developer without
    sudo can run the bed where unprivileged user namespaces are allowed.
    """
    userns = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    return ["unshare", *userns, "--net", "--fork", "--kill-child", "--"]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def netns_inode(pid: int | str = "self") -> int:
    """Inode of a process's network namespace (identifies the namespace)."""
    return os.stat(f"/proc/{pid}/ns/net").st_ino


def setup_inside(outer_inode: int, address: str = BED_ADDRESS) -> str:
    """Configure the namespace this process is in; returns the interface kind used.

    ``outer_inode`` is :func:`netns_inode` of the process that ran ``unshare``;
    this refuses to run in that namespace: it must never touch the host's network.
    Prefers a ``dummy`` interface; kernels without the dummy module (e.g.
    Firecracker VMs) get a ``veth`` pair instead,
    both ends inside the namespace. IPv6 is disabled in the namespace so no
    link-local candidates appear.
    """
    if netns_inode() == outer_inode:
        raise RuntimeError("refusing to configure the caller's network namespace (no unshare?)")
    Path("/proc/sys/net/ipv6/conf/all/disable_ipv6").write_text("1\n")
    Path("/proc/sys/net/ipv6/conf/default/disable_ipv6").write_text("1\n")
    _ip("link", "set", "lo", "up")
    kind = "dummy"
    if _ip("link", "add", IFACE, "type", "dummy", check=False).returncode != 0:
        kind = "veth"
        _ip("link", "add", IFACE, "type", "veth", "peer", "name", IFACE + "p")
        _ip("link", "set", IFACE + "p", "up")
    _ip("addr", "add", f"{address}/{BED_PREFIX}", "dev", IFACE)
    _ip("link", "set", IFACE, "up")
    return kind


def describe_inside() -> dict[str, object]:
    """Addresses and routes of the namespace (for the result: proves there is no way out)."""
    return {
        "inode": netns_inode(),
        "addresses": _ip("-br", "addr").stdout.split("\n"),
        "routes": _ip("route").stdout.strip().split("\n"),
    }
