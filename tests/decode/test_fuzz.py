"""Property tests: truncations, bit flips and splices of REAL datagrams (the shared
captures) never raise anything but DecodeError from the decoder, and nothing at all
from the session layer (mitmproxy's test_tls_fuzz habit). Then a bounded share of
``bench/fuzz.py``'s cases per build (a new seed each time): mutated real flows into the
core, mutated real capture files through ``analyze``."""

from __future__ import annotations

import os
import random
import tempfile
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.capture.pcap import read_capture
from proxy.decode.dtls.handshake import parse_fragments
from proxy.decode.dtls.reader import DecodeError
from proxy.decode.dtls.record import CT_HANDSHAKE, Record, looks_like_dtls, parse_records
from proxy.events import Datagram
from proxy.session import Tracker
from tests.conftest import CAPTURES


@cache
def real_datagrams() -> tuple[Datagram, ...]:
    out: list[Datagram] = []
    for path in sorted(CAPTURES.glob("*.pcap*")):
        out.extend(d for d in read_capture(path) if looks_like_dtls(d.data))
    return tuple(out)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    pool = real_datagrams()
    data = bytearray(pool[draw(st.integers(0, len(pool) - 1))].data)
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["flip", "truncate", "splice", "insert"]))
        if op == "flip" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "truncate" and data:
            data = data[: draw(st.integers(0, len(data)))]
        elif op == "splice":
            other = pool[draw(st.integers(0, len(pool) - 1))].data
            a = draw(st.integers(0, len(other)))
            b = draw(st.integers(a, len(other)))
            at = draw(st.integers(0, len(data)))
            data[at:at] = other[a:b]
        elif op == "insert":
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(max_size=16))
    return bytes(data)


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated())
def test_decoder_raises_only_decode_error(data: bytes) -> None:
    for rec in parse_records(data):  # never raises
        if isinstance(rec, Record) and rec.content_type == CT_HANDSHAKE and rec.epoch == 0:
            try:
                for frag in parse_fragments(rec.fragment, rec.payload_offset):
                    assert frag.fragment_offset + frag.fragment_length <= frag.length
            except DecodeError as e:
                assert 0 <= e.offset <= len(data)


@FUZZ
@given(st.lists(mutated(), min_size=1, max_size=12))
def test_session_layer_never_raises(datagrams: list[bytes]) -> None:
    tr = Tracker()
    a, b = ("127.0.0.1", 5000), ("127.0.0.1", 6000)
    for i, data in enumerate(datagrams):
        src, dst = (a, b) if i % 3 else (b, a)
        tr.receive(Datagram(1000.0 + i * 0.01, src, dst, data, i + 1))
        tr.tick(1000.0 + i * 0.01)
    tr.finish(2000.0)


@FUZZ
@given(st.data())
def test_real_handshake_with_some_datagrams_mutated_never_raises(data: st.DataObject) -> None:
    pool = real_datagrams()
    name = data.draw(st.sampled_from(sorted({d.src for d in pool})))
    flow = [d for d in pool if name in (d.src, d.dst)]
    tr = Tracker()
    for d in flow:
        payload = d.data
        if data.draw(st.booleans()):
            payload = data.draw(mutated())
        tr.receive(Datagram(d.ts, d.src, d.dst, payload, d.frame))
    tr.finish(flow[-1].ts + 60)


# ------------------------------------------------ the seeded mutator (bench/fuzz.py)

SEED = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().randrange(1 << 32))
"""A new seed per build (bounded cases each time, different ones every time); a failure
names it, and ``bench/fuzz.py TARGET --seed S --case N --show`` replays that case."""


def _fuzz(target: str, cases: int) -> None:
    import bench.fuzz as fuzz

    crashes = []
    for index in range(cases):
        try:
            if target == "core":
                fuzz.run_core_case(SEED, index)
            else:
                with tempfile.TemporaryDirectory() as tmp:
                    fuzz.run_analyze_case(SEED, index, tmp)
        except Exception as exc:  # collected: every crash of this build, with its reproducer
            crashes.append(f"{type(exc).__name__}: {exc} -- reproduce: .venv/bin/python "
                           f"bench/fuzz.py {target} --seed {SEED} --case {index} --show")
    assert not crashes, "\n".join(crashes)


def test_mutated_real_flows_never_crash_the_core() -> None:
    """Real flows with mutated datagrams and random 16 fe fd ones, through the Tracker
    and the verdict rules (about 5,000 datagrams a build)."""
    _fuzz("core", 300)


def test_mutated_real_capture_files_never_crash_analyze(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    """Real capture files with mutated bytes through `analyze` in text and JSONL."""
    _fuzz("analyze", 40)
    capsys.readouterr()  # analyze's warnings about the damaged files


def test_the_mutator_is_a_function_of_seed_and_case() -> None:
    from tests.mutate import flows, mutated_file, mutated_flow

    assert len(flows()) >= 10  # every real capture of the corpus, flow by flow
    assert mutated_flow(7, 42) == mutated_flow(7, 42) != mutated_flow(7, 43)
    assert mutated_file(7, 42) == mutated_file(7, 42)
