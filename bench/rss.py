"""Peak memory of ``dtlsproxy analyze`` on a big capture, per output format and --jobs.

    .venv/bin/python bench/rss.py                      # ~70 MB capture, this checkout
    .venv/bin/python bench/rss.py --before /work/main  # and another checkout, same run

The capture (built once, cached in ``bench/.cache/``) is the real handshakes of the shared
captures (Chromium, Firefox, OpenSSL-style with HelloVerifyRequest, fragmented
certificates, WebRTC STUN + DTLS + SRTP...) repeated between ever new pairs of
addresses, one second apart, until it reaches ``--megabytes``. Peak RSS (``ru_maxrss``
of the largest process, from ``wait4``, in KiB on Linux) is a fine measure on a loaded machine:
it counts bytes, not time.
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


def build(path: Path, megabytes: float) -> int:
    """Write the capture; returns its number of sessions."""
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


def peak_rss(argv: list[str], env: dict[str, str]) -> tuple[int, float]:
    """(peak RSS in KiB of the command and its children, wall seconds)."""
    import time

    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
    ap.add_argument("--megabytes", type=float, default=70.0)
    ap.add_argument("--before", type=Path, default=None,
                    help="another checkout to measure in the same run (e.g. /work/main)")
    ap.add_argument("--formats", default="jsonl,text")
    ap.add_argument("--jobs", default="1,2")
    args = ap.parse_args()
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"handshakes-{args.megabytes:g}MB.pcapng"
    if not path.exists():
        print(f"building {path} ...", flush=True)
        build(path, args.megabytes)
    size = path.stat().st_size / 1e6
    print(f"# analyze peak RSS: {path.name}, {size:.1f} MB, load average "
          f"{os.getloadavg()[0]:.1f}")
    trees = [("this checkout", ROOT)] + ([("before", args.before)] if args.before else [])
    print("| checkout | format | --jobs | peak RSS (largest process) | wall s |")
    print("|---|---|---:|---:|---:|")
    for name, tree in trees:
        env = {**os.environ, "PYTHONPATH": str(tree)}
        for fmt in args.formats.split(","):
            for jobs in args.jobs.split(","):
                argv = [sys.executable, "-m", "proxy", "analyze", str(path), "--format", fmt,
                        "--jobs", jobs]
                rss, wall = peak_rss(argv, env)
                print(f"| {name} | {fmt} | {jobs} | {rss / 1024:,.0f} MB | {wall:.1f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
