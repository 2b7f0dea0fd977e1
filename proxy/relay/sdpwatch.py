"""``dtlsproxy run`` follows its ``--sdp`` files, as it follows a growing key log.

During a call the answer often becomes known after the proxy started: save it into the
file given with ``--sdp`` and, within a second, the verdict rules take its fingerprints
and a=setup, every open session is checked against them again, and a notice says what
was read. IO lives here (the relay side); the verdict engine only gets the texts.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.relay.recorder import Recorder

FOLLOW_EVERY = 1.0
"""Seconds between two looks at the files."""


def summarize_sdp(path: Path) -> tuple[str, str]:
    """(level, line) about an --sdp file: setup roles and fingerprints (for the verdicts)."""
    from proxy.sdp import SdpError, inspect_sdp

    try:
        text = path.read_text(errors="replace")
        if not text.strip():
            return "info", f"--sdp {path}: empty for now: read when written"
        info = inspect_sdp(text)
    except (OSError, SdpError) as exc:
        return "warning", f"--sdp {path}: cannot use it ({exc})"
    setups = sorted({s for m in info.media if (s := info.setup_of(m))})
    fps = sorted({f"{f.algorithm} {f.value}" for m in info.media for f in info.fingerprints_of(m)})
    cands = sum(len(m.candidates) for m in info.media)
    problems = f"; {len(info.problems)} unparsed lines" if info.problems else ""
    return "info", (f"--sdp {path}: a=setup {', '.join(setups) or 'none'}; fingerprint "
                    f"{', '.join(fps) or 'none'}; {cands} candidates{problems}")


class SdpWatch:
    """Tells which of some files changed (modification time or size) since last asked."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self._stamps = {p: _stamp(p) for p in self.paths}

    def changed(self) -> list[Path]:
        """The files whose stamp changed since the last call (or since created)."""
        out = []
        for p in self.paths:
            stamp = _stamp(p)
            if stamp != self._stamps[p]:
                self._stamps[p] = stamp
                out.append(p)
        return out

    def texts(self) -> list[tuple[str, str]]:
        """``(path, text)`` of every file that holds an SDP now (one being written, or
        not one, is left out until it changes again; its notice said why)."""
        from proxy.sdp import SdpError, inspect_sdp

        out = []
        for p in self.paths:
            try:
                text = p.read_text(encoding="utf-8", errors="replace")
                inspect_sdp(text)
            except (OSError, SdpError):
                continue
            out.append((str(p), text))
        return out


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


async def follow_sdp(recorder: Recorder, paths: Sequence[Path],
                     every: float = FOLLOW_EVERY) -> None:
    """Until cancelled: when an --sdp file changes, a notice per changed file and the
    verdict rules re-read them all (:meth:`Recorder.sdp_changed`)."""
    watch = SdpWatch(paths)
    while True:
        await asyncio.sleep(every)
        changed = watch.changed()
        if not changed:
            continue
        for path in changed:
            level, line = summarize_sdp(path)
            recorder.notice(level, "sdp", line.replace(f"--sdp {path}:",
                                                       f"--sdp {path} changed:", 1))
        recorder.sdp_changed(watch.texts())
