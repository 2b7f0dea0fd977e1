"""One capture analysed by several processes (``dtlsproxy analyze --jobs N``).

Sessions are independent: each process reads the whole capture but decodes only its
share of the sessions (:func:`proxy.analyze.pipeline.analyze_share`), renders its events (JSONL
lines, ladder blocks) and hands them back with their keys; merged by key, they come out
exactly as one process writes them. Children are forked (they inherit the imported
modules and the verdict hook built from the key logs and SDPs) and stream their items
through a pipe, pickled in chunks of :data:`CHUNK`; the parent merges them with its own
share 0 as they come, so that the output is written while the capture is read and no
process holds more than its share's chunk in flight (a child a pipe ahead of the
writer waits for it).

Hand-written because the standard pools do not fit: ``multiprocessing`` re-imports or
pickles the work per task and adds a result thread; here it is one fork per share and
one stream of pickled chunks back, which is all the job needs.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import heapq
import itertools
import os
import pickle
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from proxy.analyze.pipeline import Key, sessions_ahead

T = TypeVar("T")

AUTO_MIN_BYTES = 128 << 10
"""``--jobs`` by default: captures smaller than this are analysed in one process. On this
project's 2-core machine two processes already win from about 50 handshakes (170 KB):
0.21 -> 0.17 s wall; smaller captures take a tenth of a second either way."""

MAX_AUTO_JOBS = 8

PEEK_DATAGRAMS = 500
"""How far :func:`default_jobs` looks into a capture for its sessions."""

CHUNK = 512
"""Items a child pickles and sends at a time."""

PIPE_BYTES = 1 << 20
"""Pipe buffer asked for per child (Linux ``F_SETPIPE_SZ``; the default is 64 KiB): how
far a child may run ahead of the merge before it waits."""


class ShareFailed(RuntimeError):
    """A child process failed; the message says how."""


def default_jobs(path: str | os.PathLike[str]) -> int:
    """One process per CPU this process may use (at most :data:`MAX_AUTO_JOBS`), but no
    more than the sessions that the capture's first :data:`PEEK_DATAGRAMS` datagrams
    open (a call is one session: a second process would only read the file again);
    1 for a capture under :data:`AUTO_MIN_BYTES`, and off Linux (macOS forks badly once
    system frameworks are loaded, which is why Python's own pools spawn there)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return 1
    try:
        if os.path.getsize(path) < AUTO_MIN_BYTES:
            return 1
    except OSError:
        return 1  # the analysis says what is wrong with the file
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    most = min(cpus, MAX_AUTO_JOBS)
    if most <= 1:
        return 1
    return max(1, min(most, sessions_ahead(path, PEEK_DATAGRAMS)))


def run_shares(count: int, work: Callable[[tuple[int, int]], Iterable[tuple[Key, T]]]
               ) -> Iterator[tuple[Key, T]]:
    """``work((i, count))`` for every share ``i``: share 0 here, the others in forked
    children; every item of every share, in key order, as the shares produce them (each
    share's items must come in key order).

    An exception in share 0 propagates (after the children are reaped); one in a child
    raises :class:`ShareFailed` with its type and message. Closing the iterator early
    kills the children.
    """
    if count <= 1:
        yield from work((0, 1))
        return
    sys.stdout.flush()
    sys.stderr.flush()
    children: list[tuple[int, int]] = []
    done = False
    try:
        for index in range(1, count):
            r, w = os.pipe()
            with contextlib.suppress(OSError, AttributeError):  # Linux only; a hint
                fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(r)
                for _, other in children:
                    os.close(other)
                _child(w, functools.partial(work, (index, count)))
            os.close(w)
            children.append((pid, r))
        streams = [iter(work((0, count)))] + [_stream(pid, r) for pid, r in children]
        yield from heapq.merge(*streams, key=_key)
        done = True
    finally:
        for pid, r in children:
            _reap(pid, r, kill=not done)


def _key(item: tuple[Key, object]) -> Key:
    return item[0]


def _child(w: int, job: Callable[[], Iterable[object]]) -> None:
    status = 0
    try:
        with open(w, "wb") as f:
            try:
                items = iter(job())
                while chunk := list(itertools.islice(items, CHUNK)):
                    pickle.dump(("ok", chunk), f, protocol=pickle.HIGHEST_PROTOCOL)
                payload: tuple[str, object] = ("end", None)
            except BaseException as e:  # reported to the parent, which raises
                payload = ("error", f"{type(e).__name__}: {e}")
                status = 1
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:
        status = 2
    finally:
        os._exit(status)  # no atexit handlers, no flushing of the parent's buffers


def _stream(pid: int, r: int) -> Iterator[tuple[Key, T]]:
    """A child's items, chunk by chunk, until its end mark."""
    with open(r, "rb", closefd=False) as f:
        while True:
            try:
                status, value = pickle.load(f)
            except (EOFError, pickle.UnpicklingError):
                raise ShareFailed(f"analysis process {pid} ended without a result") from None
            if status == "end":
                return
            if status != "ok":
                raise ShareFailed(f"analysis process {pid} failed: {value}")
            yield from value


def _reap(pid: int, r: int, kill: bool) -> None:
    if kill:  # the analysis failed: the other shares' work is not needed
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.close(r)  # a child still writing gets EPIPE and exits
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
