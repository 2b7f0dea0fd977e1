"""Bed driver: ``dtlsproxy run --turn`` refereed by coturn's turnutils_uclient/_peer.

Runs as ``unshare --net --fork --kill-child -- python -m tests.turnbed.coturn --workdir
DIR --outer-netns INODE`` (:func:`run_bed`): a private network namespace with only
``lo`` (IPv4 and IPv6), so the fixed ports below cannot clash with anything. It starts
two real ``dtlsproxy run`` processes and ``turnutils_peer``, runs ``turnutils_uclient``
in each mode and writes ``DIR/result.json``: every client's output and exit status, the
proxies' logs are ``DIR/open.jsonl`` and ``DIR/strict.jsonl``.

``open``   --turn 127.0.0.1:3478, user ``user:pass``, a REST API secret, loopback peers
           allowed (``--turn-allow-loopback``: the only way to test on one machine),
           IPv6 relay on ::1.
``strict`` --turn 127.0.0.1:3479, the defaults (loopback peers refused), and a config
           file with ``max_allocations_per_user = 2`` (turnutils_uclient makes two
           allocations per client; users ``user`` and ``quota``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PEER_PORT = 3480
SECRET = "north-secret"

RUNS: dict[str, tuple[str, list[str]]] = {
    # name: (proxy, uclient arguments before the server address)
    "channel": ("open", ["-u", "user", "-w", "pass"]),
    "send": ("open", ["-s", "-u", "user", "-w", "pass"]),
    "tcp": ("open", ["-t", "-u", "user", "-w", "pass"]),
    "tcp_send": ("open", ["-t", "-s", "-u", "user", "-w", "pass"]),
    "ipv6": ("open", ["-x", "-u", "user", "-w", "pass", "-e", "::1"]),
    "rest_api": ("open", ["-W", SECRET, "-u", "alice"]),
    "wrong_password": ("open", ["-u", "user", "-w", "wrong"]),
    "loopback_refused": ("strict", ["-u", "user", "-w", "pass"]),
}


def run_bed(workdir: Path, timeout: float = 120.0) -> Any:
    """pytest side: run this driver in a fresh network namespace; the BedResult."""
    from tests.janus import netns
    from tests.janus.harness import BedRun

    cmd = [*netns.unshare_prefix(), sys.executable, "-m", "tests.turnbed.coturn",
           "--workdir", str(workdir), "--outer-netns", str(netns.netns_inode())]
    return BedRun(workdir, cmd, timeout, kill_when_ready=False).wait()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tests.turnbed.coturn")
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--outer-netns", type=int, required=True)
    return p.parse_args(argv)


def setup_namespace(outer: int) -> None:
    if os.stat("/proc/self/ns/net").st_ino == outer:
        raise RuntimeError("refusing to configure the caller's network namespace")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def proxy(workdir: Path, name: str) -> subprocess.Popen[bytes]:
    log = workdir / f"{name}.jsonl"
    cmd = [sys.executable, "-m", "proxy", "run", "--headless", "--log-file", str(log),
           "--pcap", str(workdir / f"{name}.pcapng")]
    if name == "open":
        cmd += ["--turn", "127.0.0.1:3478", "--turn-user", "user:pass", "--relay-ip",
                "127.0.0.1", "--relay-ip", "::1", "--turn-allow-loopback", "--turn-secret",
                SECRET]
    else:
        conf = workdir / "strict.toml"
        conf.write_text('[turn]\nmax_allocations_per_user = 2\nlisten = "127.0.0.1:3479"\n'
                        'users = ["user:pass", "quota:pass"]\n')
        cmd += ["--config", str(conf)]
    err = (workdir / f"{name}.stderr").open("wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=err, stderr=err, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        if log.exists() and '"code":"listening"' in log.read_text():
            return proc
        if proc.poll() is not None or time.monotonic() > deadline:
            why = (workdir / f"{name}.stderr").read_text()
            raise RuntimeError(f"{name} proxy did not start: {why}")
        time.sleep(0.05)


def uclient(args: list[str], port: int, extra: list[str]) -> dict[str, Any]:
    cmd = ["turnutils_uclient", *args, "-p", str(port), "-c", "-n", "10", "-z", "5",
           "-l", "200", *extra]
    if "-e" not in args:
        cmd += ["-e", "127.0.0.1"]
    cmd += ["-r", str(PEER_PORT), "127.0.0.1"]
    t0 = time.monotonic()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        rc, text = out.returncode, out.stdout + out.stderr
    except subprocess.TimeoutExpired as exc:
        rc, text = None, f"timeout: {exc.stdout!r}"
    return {"cmd": cmd, "rc": rc, "output": text, "seconds": round(time.monotonic() - t0, 2)}


def unauthenticated_allocate(port: int) -> dict[str, Any]:
    """A bare Allocate (no credentials) from a plain socket: the answer's class and code."""
    from proxy.turn import stun

    req = stun.build(stun.ALLOCATE, stun.REQUEST, b"unauthentic!",
                     [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(req, ("127.0.0.1", port))
        reply = stun.parse(s.recv(2048))
    err = reply.get(stun.ERROR_CODE)
    return {"cls": reply.cls, "code": stun.parse_error(err)[0] if err else None,
            "realm": reply.text(stun.REALM), "nonce": bool(reply.get(stun.NONCE))}


def allocate(port: int, user: str, password: str) -> int | None:
    """One authenticated Allocate from a fresh socket (401 first, as any client): the
    final error code, None on success."""
    from proxy.turn import stun

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        attrs = [(stun.REQUESTED_TRANSPORT, b"\x11\0\0\0")]
        s.sendto(stun.build(stun.ALLOCATE, stun.REQUEST, os.urandom(12), attrs),
                 ("127.0.0.1", port))
        challenge = stun.parse(s.recv(2048))
        realm, nonce = challenge.get(stun.REALM), challenge.get(stun.NONCE)
        assert realm is not None and nonce is not None
        key = stun.long_term_key(user, realm, password)
        attrs += [(stun.USERNAME, user.encode()), (stun.REALM, realm), (stun.NONCE, nonce)]
        s.sendto(stun.build(stun.ALLOCATE, stun.REQUEST, os.urandom(12), attrs, key=key),
                 ("127.0.0.1", port))
        reply = stun.parse(s.recv(2048))
    err = reply.get(stun.ERROR_CODE)
    return stun.parse_error(err)[0] if err else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"runs": {}}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        setup_namespace(args.outer_netns)
        result["netns"] = {"inode": os.stat("/proc/self/ns/net").st_ino}
        procs.append(proxy(workdir, "open"))
        procs.append(proxy(workdir, "strict"))
        for host in ("127.0.0.1", "::1"):
            procs.append(subprocess.Popen(["turnutils_peer", "-L", host, "-p", str(PEER_PORT)],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.2)
        result["unauthenticated"] = unauthenticated_allocate(3478)
        for name, (which, uargs) in RUNS.items():
            result["runs"][name] = uclient(uargs, 3478 if which == "open" else 3479, [])
        # three allocations against a quota of two per user
        result["quota"] = [allocate(3479, "quota", "pass") for _ in range(3)]
    except Exception:
        result["crash"] = traceback.format_exc()
    finally:
        for p in procs[:2]:
            if p.poll() is None:
                p.send_signal(2)
        for p in procs[2:]:
            p.kill()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        result["exit"] = [p.returncode for p in procs[:2]]
        (workdir / "result.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
