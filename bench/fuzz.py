"""Fuzzing on demand: millions of mutated real datagrams and captures, any crash reported.

    .venv/bin/python bench/fuzz.py core --cases 500000          # flows into the Tracker
    .venv/bin/python bench/fuzz.py analyze --cases 100000       # files through `analyze`
    .venv/bin/python bench/fuzz.py core --seed 7 --case 4242 --show   # replay one case

``core``: a case is a real flow of the corpus (``tests/mutate.py``: every capture in
tests/data and ../shared/captures) with some datagrams mutated and random ``16 fe fd``
datagrams mixed in, fed datagram by datagram to the sans-IO core as ``analyze`` and the
relay do: ``Tracker(verdict_hook=...)`` with the verdict rules (and the capture's key
log, when it has one), a tick after each datagram, ``finish`` at the end. Anything the
core raises is a crash.

``analyze``: a case is a real capture file with mutated bytes (headers, block lengths,
timestamps, packets), run through ``dtlsproxy analyze`` in this process in both output
formats (text and jsonl) with ``--check``: a traceback, or an exit status other than
0, 1 (not a readable capture) and 4 (findings), is a crash.

A case taking more than ``--hang`` seconds is a crash too (a hang). Each crash is printed
once per place (exception type and innermost proxy/ frame) with its reproducer: the seed
and case number (``--seed S --case N --show`` replays it with the traceback; ``--save
FILE`` writes the case as a pcapng for a regression test). Prints cases/s and datagrams/s
as it goes; exits 1 if anything crashed.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHUNK = 200
"""Cases per unit of work handed to a worker process."""


class Hang(Exception):
    """A case ran longer than --hang seconds."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang("case ran longer than the --hang limit")


def _where(exc: BaseException) -> str:
    """The innermost frame of the traceback inside proxy/ (or the last one)."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/proxy/" in f.filename] or frames
    if not ours:
        return "?"
    f = ours[-1]
    name = Path(f.filename)
    shown = name.relative_to(ROOT) if ROOT in name.parents else name
    return f"{shown}:{f.lineno} in {f.name}"


def _hook(capture: str) -> object:
    """A new verdict hook for a flow of ``capture`` (with its key log when the corpus has
    one): no state is shared between cases."""
    from proxy.cli.inputs import load_secrets
    from proxy.verdict import VerdictEngine, VerdictOptions
    from tests.conftest import CAPTURES

    stem = capture.split(".pcap")[0]
    keys = sorted(CAPTURES.glob(f"{stem}.keys*")) if CAPTURES.is_dir() else []
    return VerdictEngine(VerdictOptions(), load_secrets(keys))


def run_core_case(seed: int, index: int) -> int:
    """One core case; returns the datagrams fed (raises what the core raised)."""
    from proxy.session import Tracker
    from tests.mutate import mutated_flow

    capture, dgs = mutated_flow(seed, index)
    tr = Tracker(verdict_hook=_hook(capture))  # type: ignore[arg-type]
    now = 0.0
    for d in dgs:
        tr.receive(d)
        now = max(now, d.ts)
        tr.tick(now)
    tr.tick(now + 30)
    tr.finish(now + 60)
    return len(dgs)


def run_analyze_case(seed: int, index: int, workdir: str) -> int:
    """One analyze case (both formats); returns the capture's size in bytes."""
    from proxy.cli.main import main
    from tests.mutate import mutated_file

    data = mutated_file(seed, index)
    path = os.path.join(workdir, "case.pcapng")
    with open(path, "wb") as f:
        f.write(data)
    for fmt in ("text", "jsonl"):
        out = os.path.join(workdir, f"out.{fmt}")
        try:
            rc = main(["analyze", path, "--format", fmt, "--check", "--jobs", "1", "-o", out])
        finally:
            with contextlib.suppress(FileNotFoundError):  # the next case starts without it
                os.unlink(out)
        if rc not in (0, 1, 4):
            raise RuntimeError(f"analyze --format {fmt} exited {rc}")
    return len(data)


def _quiet_stderr() -> None:
    """analyze prints its warnings (truncated file...) on stderr: not wanted here."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115


def work(job: tuple[str, int, int, int, float]) -> tuple[int, int, list[tuple[str, int, str]]]:
    """Cases ``[start, stop)`` of ``target``: (cases, units, crashes (where, index, text))."""
    target, seed, start, stop, hang = job
    signal.signal(signal.SIGALRM, _alarm)
    units = 0
    crashes: list[tuple[str, int, str]] = []
    workdir = tempfile.mkdtemp(prefix="dtlsproxy-fuzz-", dir="/dev/shm" if
                               os.path.isdir("/dev/shm") else None)
    try:
        for index in range(start, stop):
            signal.setitimer(signal.ITIMER_REAL, hang)
            try:
                if target == "core":
                    units += run_core_case(seed, index)
                else:
                    units += run_analyze_case(seed, index, workdir)
            except Exception as exc:  # a crash: reported with its reproducer
                crashes.append((f"{type(exc).__name__} at {_where(exc)}", index,
                                "".join(traceback.format_exception(exc))[-3000:]))
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        for name in os.listdir(workdir):
            os.unlink(os.path.join(workdir, name))
        os.rmdir(workdir)
    return stop - start, units, crashes


def _init_worker(target: str) -> None:
    os.nice(0)  # inherit the caller's niceness (run the whole thing under nice -n 19)
    if target == "analyze":
        _quiet_stderr()
    from tests.mutate import flows

    flows()  # parse the corpus once per worker


def jobs(target: str, seed: int, first: int, cases: int, hang: float
         ) -> Iterator[tuple[str, int, int, int, float]]:
    for start in range(first, first + cases, CHUNK):
        yield target, seed, start, min(start + CHUNK, first + cases), hang


def show(target: str, seed: int, index: int, save: Path | None) -> int:
    """Replay one case, print its traceback (if any), and save it as a capture."""
    from tests.mutate import mutated_file, mutated_flow

    if save is not None:
        if target == "core":
            from proxy.capture.pcap import PcapngWriter
            from proxy.events import Datagram

            _, dgs = mutated_flow(seed, index)
            with PcapngWriter(save) as w:
                for n, d in enumerate(dgs, 1):
                    w.write(Datagram(d.ts, d.src, d.dst, d.data, n))
        else:
            save.write_bytes(mutated_file(seed, index))
        print(f"case saved as {save}")
    try:
        if target == "core":
            n = run_core_case(seed, index)
            print(f"core case {seed}/{index}: {n} datagrams, no crash")
        else:
            with tempfile.TemporaryDirectory() as tmp:
                run_analyze_case(seed, index, tmp)
            print(f"analyze case {seed}/{index}: no crash")
    except Exception:
        traceback.print_exc()
        return 1
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target", choices=("core", "analyze"))
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=None, help="default: from the clock")
    ap.add_argument("--first", type=int, default=0, help="first case number")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--hang", type=float, default=20.0, help="seconds before a case is a hang")
    ap.add_argument("--case", type=int, default=None, help="with --show: the case to replay")
    ap.add_argument("--show", action="store_true", help="replay --case and print its traceback")
    ap.add_argument("--save", type=Path, default=None, help="with --show: write the case here")
    ap.add_argument("--every", type=float, default=30.0, help="seconds between progress lines")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int(time.time())
    if args.show:
        if args.case is None:
            ap.error("--show needs --case")
        return show(args.target, seed, args.case, args.save)
    unit = "datagrams" if args.target == "core" else "bytes"
    print(f"# fuzz {args.target}: seed {seed}, cases {args.first}..{args.first + args.cases - 1}, "
          f"{args.workers} worker(s), hang limit {args.hang:g} s", flush=True)
    ctx = multiprocessing.get_context("fork")
    seen: dict[str, tuple[int, str]] = {}
    crashes = cases = units = 0
    t0 = last = time.monotonic()
    with ctx.Pool(args.workers, initializer=_init_worker, initargs=(args.target,)) as pool:
        for n, u, found in pool.imap_unordered(
            work, jobs(args.target, seed, args.first, args.cases, args.hang)
        ):
            cases += n
            units += u
            for where, index, text in found:
                crashes += 1
                if where not in seen:
                    seen[where] = (index, text)
                    print(f"CRASH {where}\n  reproduce: .venv/bin/python bench/fuzz.py "
                          f"{args.target} --seed {seed} --case {index} --show\n{text}",
                          flush=True)
            now = time.monotonic()
            if now - last >= args.every:
                last = now
                dt = now - t0
                print(f"  {cases:,} cases, {units:,} {unit}, {crashes} crashes: "
                      f"{cases / dt:,.0f} cases/s, {units / dt:,.0f} {unit}/s", flush=True)
    dt = time.monotonic() - t0
    print(f"# done: {cases:,} cases, {units:,} {unit} in {dt:,.0f} s ({cases / dt:,.0f} "
          f"cases/s, {units / dt:,.0f} {unit}/s); {crashes} crashes at {len(seen)} places",
          flush=True)
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
