"""Instruction counts (not time) of the decode and JSONL paths: a measure that stays
the same on a loaded machine, for before/after comparisons of a change in the core.

    .venv/bin/python -m bench.instructions CAPTURE [--encode-repeat 3]

Counts with ``perf stat -e instructions`` where the kernel allows it, else with
``valgrind --tool=callgrind`` (about 50x slower; the counts are what matter). Each
count is one run of a fresh interpreter (``PYTHONHASHSEED=0``, bytecode written by a
warm-up run first):

* ``cli``: ``python -m proxy analyze CAPTURE --format jsonl -o /dev/null --jobs 1``;
* ``decode``: one in-process ``analyze_capture`` with verdicts (a second run's count
  minus the first's: imports and start-up left out);
* ``encode``: one JSONL encode of every event of the capture (N encodes minus none,
  divided by N).

A capture: ``python -c "from bench.decode import build_capture; ..."`` (see
docs/performance.md) or the one ``bench/decode.py`` caches in ``bench/.cache/``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


def workload(capture: Path, decodes: int, encodes: int) -> None:
    """Decode ``capture`` ``decodes`` times, then encode the last run's events
    ``encodes`` times (the in-process side of :func:`count`)."""
    from proxy.analyze.pipeline import analyze_capture
    from proxy.capture.jsonl import event_to_json
    from proxy.session import Tracker
    from proxy.verdict import VerdictEngine

    events: list[object] = []
    for _ in range(decodes):
        events = list(analyze_capture(capture, tracker=Tracker(verdict_hook=VerdictEngine())))
    for _ in range(encodes):
        for ev in events:
            event_to_json(ev)  # type: ignore[arg-type]


def _perf_works() -> bool:
    if shutil.which("perf") is None:
        return False
    out = subprocess.run(["perf", "stat", "-x,", "-e", "instructions", "true"],
                         capture_output=True, text=True)
    return out.returncode == 0 and "not supported" not in out.stderr


def count(argv: list[str], perf: bool) -> int:
    """Instructions ``argv`` executes (user space)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)  # warm-up: .pyc
    if perf:
        out = subprocess.run(["perf", "stat", "-x,", "-e", "instructions:u", *argv], env=env,
                             check=True, capture_output=True, text=True,).stderr
        return int(next(line for line in out.splitlines() if "instructions" in line)
                   .split(",")[0])
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                          *argv], env=env, check=True, capture_output=True, text=True).stderr
    match = re.search(r"Collected : (\d+)", out)
    if match is None:
        raise SystemExit(f"bench: no count in valgrind's output:\n{out[-2000:]}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    """Print the three counts (millions of instructions)."""
    p = argparse.ArgumentParser(prog="python -m bench.instructions",
                                description=__doc__.split("\n")[0])
    p.add_argument("capture", type=Path)
    p.add_argument("--encode-repeat", type=int, default=3, metavar="N")
    p.add_argument("--work", nargs=2, type=int, metavar=("DECODES", "ENCODES"),
                   help=argparse.SUPPRESS)  # the in-process workload itself
    p.add_argument("--only", choices=("cli", "decode", "encode"), action="append")
    args = p.parse_args(argv)
    if args.work:
        workload(args.capture, *args.work)
        return 0
    perf = _perf_works()
    py = sys.executable
    me = [py, "-m", "bench.instructions", str(args.capture), "--work"]
    only = set(args.only or ("cli", "decode", "encode"))
    print(f"counter: {'perf stat' if perf else 'valgrind --tool=callgrind'}")
    if "cli" in only:
        cli = count([py, "-m", "proxy", "analyze", str(args.capture), "--format", "jsonl",
                     "-o", os.devnull, "--jobs", "1"], perf)
        print(f"cli     {cli / 1e6:12.1f} M  analyze --format jsonl -o /dev/null --jobs 1")
    if only & {"decode", "encode"}:
        one = count([*me, "1", "0"], perf)
        if "decode" in only:
            two = count([*me, "2", "0"], perf)
            print(f"decode  {(two - one) / 1e6:12.1f} M  analyze_capture + verdicts, in-process")
        if "encode" in only:
            n = args.encode_repeat
            enc = count([*me, "1", str(n)], perf)
            print(f"encode  {(enc - one) / n / 1e6:12.1f} M  JSONL of every event, in-process")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
