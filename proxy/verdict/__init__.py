"""Verdicts: rules that name the culprit of a failed handshake, with evidence."""

from __future__ import annotations

from collections.abc import Sequence

from proxy.session.tracker import VerdictHook


def build_hook(
    keylogs: Sequence[str] = (), sdp_files: Sequence[str] = ()
) -> VerdictHook | None:
    """The Tracker hook that runs the verdict rules (none yet)."""
    return None
