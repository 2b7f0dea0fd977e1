"""The `/` filter: ``s:ID`` session, ``t:TYPE`` message type, ``d:DIR`` direction,
``alerts`` (sessions with an alert or a verdict only). Bare words are guessed:
``s12`` is a session, ``c2s``/``s2c`` a direction, anything else a message type."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ui.ladder import LadderRow
from ui.model import SessionState
from ui.sessions import peers_text

_SESSION_ID = re.compile(r"^s\d+$")
_LANES = {"c2s": True, "client": True, "s2c": False, "server": False}


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed filter; the empty filter matches everything."""

    text: str = ""
    sessions: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()
    alerts_only: bool = False
    unknown: tuple[str, ...] = field(default=())

    @property
    def active(self) -> bool:
        """True unless empty."""
        return bool(self.sessions or self.types or self.dirs or self.alerts_only)

    def session_ok(self, st: SessionState) -> bool:
        """Does the session pass?"""
        if self.alerts_only and not (st.alerts or st.verdicts):
            return False
        if self.sessions:
            peers = peers_text(st).lower()
            return any(s == st.sid.lower() or (not _SESSION_ID.match(s) and s in peers)
                       for s in self.sessions)
        return True

    def row_ok(self, st: SessionState, row: LadderRow) -> bool:
        """Does the ladder row pass? (type and direction terms)"""
        if self.types and not (row.type and any(t in row.type.lower() for t in self.types)):
            return False
        if self.dirs:
            if row.dir is None:
                return False
            for d in self.dirs:
                lane = _LANES.get(d)
                if lane is not None and st.is_c2s(row.dir) == lane:
                    return True
                if lane is None and d in row.dir.lower():
                    return True
            return False
        return True


def parse_filter(text: str) -> Filter:
    """Parse the filter line (case-insensitive)."""
    sessions: list[str] = []
    types: list[str] = []
    dirs: list[str] = []
    alerts = False
    for word in text.lower().split():
        key, sep, value = word.partition(":")
        if sep and value:
            if key in ("s", "session"):
                sessions.append(value)
            elif key in ("t", "type"):
                types.append(value)
            elif key in ("d", "dir"):
                dirs.append(value)
            else:
                types.append(word)
        elif word in ("alerts", "alert", "!"):
            alerts = True
        elif _SESSION_ID.match(word):
            sessions.append(word)
        elif word in _LANES or "->" in word:
            dirs.append(word)
        else:
            types.append(word)
    return Filter(text.strip(), tuple(sessions), tuple(types), tuple(dirs), alerts)
