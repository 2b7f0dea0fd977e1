"""Export one session: JSONL (``event_to_dict`` per line), pcapng built from its stored
datagrams, and the HTML report to attach to a bug report (``proxy.report``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from proxy.capture.outfile import OutputError, open_output
from proxy.events import event_to_dict, iso_time
from ui.model import SessionState


def export_name(st: SessionState) -> str:
    """``dtlsproxy-s3-20260101-120000`` (from the session's first time)."""
    day, _, clock = iso_time(st.first_ts).partition("T")  # any time, even year 36812
    sign = day[0] if day[0] in "+-" else ""
    stamp = sign + day[len(sign):].replace("-", "") + "-" + clock[:8].replace(":", "")
    return f"dtlsproxy-{st.sid}-{stamp}"


def export_session(st: SessionState, directory: Path) -> list[Path]:
    """Write the session's events (and datagrams) under ``directory``; return the paths.

    Files are made by :mod:`proxy.capture.outfile` (0600, no symlink followed) and never
    replace one: a second export of the same session is ``...-2.jsonl`` (``.pcapng``,
    ``.html``), and so on."""
    directory.mkdir(parents=True, exist_ok=True)
    name = export_name(st)
    for n in range(1, 1000):
        base = directory / (name if n == 1 else f"{name}-{n}")
        jsonl = base.with_suffix(".jsonl")
        if not any(os.path.lexists(base.with_suffix(s)) for s in (".jsonl", ".pcapng", ".html")):
            break
    else:
        raise OutputError(directory / name, "999 exports of this session already there")
    with open_output(jsonl) as fh:
        for ev in st.export_events():
            fh.write(json.dumps(event_to_dict(ev), separators=(",", ":")) + "\n")
    paths = [jsonl]
    pcap = _write_pcapng(st, base.with_suffix(".pcapng"))
    if pcap is not None:
        paths.append(pcap)
    paths.append(write_report(st, base.with_suffix(".html")))
    return paths


def write_report(st: SessionState, path: Path) -> Path:
    """The session as one self-contained HTML page (what ``analyze --format html`` makes),
    created 0600 and never through a symlink."""
    from proxy.report import ReportOptions, render

    text = render(st.export_events(), "html",
                  ReportOptions(source=f"exported from the dtlsproxy TUI: session {st.sid}"))
    with open_output(path) as out:
        out.write(text)
    return path


def parse_endpoint(text: str) -> tuple[str, int]:
    """``host:port`` / ``[v6]:port`` -> (host, port); port 0 when absent."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or 0)
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return text, 0
    return host, int(port)


def session_endpoints(st: SessionState) -> tuple[tuple[str, int], tuple[str, int]]:
    """(client, server) addresses as best known (summary, else the opening datagram)."""
    s = st.summary
    if s is not None and s.client and s.server:
        return parse_endpoint(s.client), parse_endpoint(s.server)
    if st.opened is not None:
        a, b = st.opened.endpoints
        return parse_endpoint(a), parse_endpoint(b)
    return ("0.0.0.0", 0), ("0.0.0.0", 0)


def _write_pcapng(st: SessionState, path: Path) -> Path | None:
    """pcapng of the stored datagrams (``proxy.capture.pcap.PcapngWriter``); None if none."""
    datagrams = st.datagrams()
    if not datagrams:
        return None
    from proxy.capture.pcap import PcapngWriter
    from proxy.events import Datagram

    client, server = session_endpoints(st)
    with PcapngWriter(path) as writer:
        for dg in datagrams:
            src, dst = (client, server) if st.is_c2s(dg.dir) else (server, client)
            writer.write(Datagram(dg.ts, src, dst, dg.data, dg.frame))
    return path
