"""``dtlsproxy analyze`` pauses the cycle collector for its batch run, and restores it."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from proxy.cli.analyze import cyclic_gc_paused
from proxy.cli.main import main


def test_the_collector_is_off_inside_and_restored_after_even_on_error() -> None:
    assert gc.isenabled()
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()


def test_analyze_leaves_the_collector_as_it_found_it(captures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert main(["analyze", str(captures_dir / "dtls1_2.pcap"), "--format", "jsonl",
                 "-o", str(out)]) == 0
    assert gc.isenabled()
    assert out.read_text().count('"event":"message"') > 5
