"""``Session.handshake_order`` keeps its order incrementally; after every datagram of
every capture it equals the full sort it replaced (also with the DSB key log, where a
decrypted Finished replaces its ciphertext in place)."""

from __future__ import annotations

from pathlib import Path

from proxy.capture.pcap import read_capture
from proxy.cli.inputs import load_secrets
from proxy.session import Tracker
from proxy.session.session import MessageRecord, Session
from proxy.verdict import VerdictEngine

DATA = Path(__file__).resolve().parents[1] / "data"


def _full_sort(s: Session) -> list[MessageRecord]:
    def key(item: tuple[int, MessageRecord]) -> tuple[int, int, int, int]:
        i, m = item
        kind = 0 if m.message_seq is not None else (1 if m.type == "ChangeCipherSpec" else 2)
        return (m.flight if m.flight is not None else 0, kind, m.message_seq or 0, i)

    return [m for _, m in sorted(enumerate(s.messages), key=key)]


def _check(path: Path, keylogs: list[Path] | None = None) -> int:
    tracker = Tracker(verdict_hook=VerdictEngine(secrets=load_secrets(keylogs or [])))
    compared = 0
    for d in read_capture(path):
        tracker.receive(d)
        for s in tracker.sessions.values():
            order = s.handshake_order()
            assert order == _full_sort(s), (path.name, d.frame, s.sid)
            order.clear()  # callers get a copy
            assert len(s.handshake_order()) == len(s.messages)
            compared += len(s.messages)
    return compared


def test_incremental_order_equals_the_full_sort(captures_dir: Path) -> None:
    paths = sorted(captures_dir.glob("*.pcap*")) + sorted(DATA.glob("*.pcapng"))
    assert sum(_check(p) for p in paths) > 200
    dsb = captures_dir / "dtls12-aes128ccm8-dsb.pcapng"
    keys = captures_dir / "dtls12-aes128ccm8-dsb.keys.derived.txt"
    assert _check(dsb, [keys]) > 0
