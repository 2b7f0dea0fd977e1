"""Peak memory of ``dtlsproxy analyze`` on a big capture, per output format and --jobs.

    .venv/bin/python bench/rss.py                      # ~70 MB capture, this checkout
    .venv/bin/python bench/rss.py --before /work/main  # and another checkout, same run

Two captures (built once, cached in ``bench/.cache/``):

* ``datachannel``: 8 sessions, each the real DTLS 1.2 handshake of ``dtls1_2.pcap``, then
  DTLS application data records both ways (a data channel) until ``--megabytes``: the
  JSONL output is about three times the capture (each datagram is a ``datagram`` and a
  ``record`` event), the decoder's state small. What streaming the output is about.
* ``handshakes``: the real handshakes of every shared capture (Chromium, Firefox,
  OpenSSL-style with HelloVerifyRequest, fragmented certificates, WebRTC STUN + DTLS +
  SRTP...) repeated between ever new pairs of addresses until ``--handshake-megabytes``:
  tens of thousands of sessions, whose state ``analyze`` keeps to the end (their final
  summaries and verdicts close the output).

Peak RSS (``ru_maxrss`` of the largest process, from ``wait4``, in KiB on Linux) is a
fine measure on a loaded machine: it counts bytes, not time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "bench" / ".cache"
SHARED = ROOT.parent / "shared" / "captures"


def build_datachannel(path: Path, megabytes: float, sessions: int = 8) -> None:
    """The ``datachannel`` capture (see the module doc)."""
    from proxy.capture.pcap import PcapngWriter, read_capture
    from proxy.events import Datagram

    hs = list(read_capture(SHARED / "dtls1_2.pcap"))
    client = hs[0].src
    tmp = path.with_suffix(".tmp")
    frame = 0
    with PcapngWriter(tmp, force=True) as w:
        pairs = [((f"10.0.0.{k}", 50000 + k), (f"10.0.1.{k}", 4433)) for k in range(sessions)]
        t = 1_700_000_000.0
        for c, s in pairs:  # the handshakes first
            for d in hs:
                frame += 1
                src, dst = (c, s) if d.src == client else (s, c)
                w.write(Datagram(t + d.ts - hs[0].ts, src, dst, d.data, frame))
        t += 60
        seq = 100
        while tmp.stat().st_size < megabytes * 1e6:
            for c, s in pairs:
                for src, dst in ((c, s), (s, c)):
                    seq += 1
                    size = 200 + seq % 800
                    rec = (b"\x17\xfe\xfd\x00\x01" + seq.to_bytes(6, "big")
                           + size.to_bytes(2, "big") + bytes(size))
                    frame += 1
                    w.write(Datagram(t, src, dst, rec, frame))
                t += 0.001
            if seq % 1000 < 2 * sessions:
                w.flush()
    tmp.replace(path)


def build_handshakes(path: Path, megabytes: float) -> int:
    """The ``handshakes`` capture; returns its number of sessions."""
    from proxy.capture.pcap import PcapngWriter, read_capture
    from proxy.events import Datagram

    flows = []
    for src in sorted(SHARED.glob("*.pcap*")):
        flows.append(list(read_capture(src)))
    tmp = path.with_suffix(".tmp")
    sessions = frame = 0
    with PcapngWriter(tmp, force=True) as w:
        t = 1_700_000_000.0
        while tmp.stat().st_size < megabytes * 1e6:
            for flow in flows:
                sessions += 1
                k = sessions
                hosts: dict[str, str] = {}
                start = flow[0].ts
                for d in flow:
                    for host, _ in (d.src, d.dst):  # each host of the flow: a new address
                        if host not in hosts:
                            net = (10, 172, 192)[min(len(hosts), 2)]
                            hosts[host] = f"{net}.{k >> 16 & 255}.{k >> 8 & 255}.{k & 255}"
                    frame += 1
                    w.write(Datagram(t + (d.ts - start), (hosts[d.src[0]], d.src[1]),
                                     (hosts[d.dst[0]], d.dst[1]), d.data, frame))
                t += 0.01
            w.flush()
    tmp.replace(path)
    return sessions


def peak_rss(argv: list[str], tree: Path) -> tuple[int, float]:
    """(peak RSS in KiB of the largest process of the command, wall seconds), with the
    ``proxy`` package of ``tree`` (run from there: ``-m`` puts the cwd first on the path)."""
    import time

    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=tree, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 4):
        raise RuntimeError(f"{argv} exited {proc.returncode}: "
                           f"{proc.stderr.read().decode() if proc.stderr else ''}")
    if proc.stderr:
        proc.stderr.close()
    return int(usage.ru_maxrss), time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--megabytes", type=float, default=70.0,
                    help="size of the datachannel capture")
    ap.add_argument("--handshake-megabytes", type=float, default=20.0,
                    help="size of the handshakes capture (0: not measured)")
    ap.add_argument("--before", type=Path, default=None,
                    help="another checkout to measure in the same run (e.g. /work/main)")
    ap.add_argument("--formats", default="jsonl,text")
    ap.add_argument("--jobs", default="1,2")
    args = ap.parse_args()
    CACHE.mkdir(exist_ok=True)
    captures = [CACHE / f"datachannel-{args.megabytes:g}MB.pcapng"]
    if not captures[0].exists():
        print(f"building {captures[0]} ...", flush=True)
        build_datachannel(captures[0], args.megabytes)
    if args.handshake_megabytes:
        captures.append(CACHE / f"handshakes-{args.handshake_megabytes:g}MB.pcapng")
        if not captures[1].exists():
            print(f"building {captures[1]} ...", flush=True)
            build_handshakes(captures[1], args.handshake_megabytes)
    print(f"# analyze peak RSS, load average {os.getloadavg()[0]:.1f}", flush=True)
    trees = [("this checkout", ROOT)] + ([("before", args.before)] if args.before else [])
    print("| capture | checkout | format | --jobs | peak RSS (largest process) | wall s |")
    print("|---|---|---|---:|---:|---:|", flush=True)
    for path in captures:
        label = f"{path.name} ({path.stat().st_size / 1e6:.0f} MB)"
        for fmt in args.formats.split(","):
            for jobs in args.jobs.split(","):
                for name, tree in trees:
                    argv = [sys.executable, "-m", "proxy", "analyze", str(path), "--format",
                            fmt, "--jobs", jobs]
                    rss, wall = peak_rss(argv, tree)
                    print(f"| {label} | {name} | {fmt} | {jobs} | {rss / 1024:,.0f} MB | "
                          f"{wall:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
