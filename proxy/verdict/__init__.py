"""Verdicts: rules that name the culprit of a failed handshake, with evidence.

Sans-IO: :class:`VerdictEngine` (the ``proxy.session.Tracker(verdict_hook=...)``) is
given typed :class:`VerdictOptions` and the loaded :class:`Secrets`; the command line
reads the files (``proxy.cli.inputs``). See ``docs/verdicts.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from proxy.verdict.engine import VerdictEngine
from proxy.verdict.inputs import (
    ExpectedFingerprint,
    SdpText,
    Secrets,
    VerdictOptions,
    sdp_expectations,
)

__all__ = ["ExpectedFingerprint", "SdpText", "Secrets", "VerdictEngine", "VerdictOptions",
           "reread_sdp", "sdp_expectations"]


def reread_sdp(engine: VerdictEngine, texts: Sequence[SdpText]) -> None:
    """SDP files ``(source, text)`` were read again (``dtlsproxy run`` follows its
    ``--sdp`` files): their fingerprints and a=setup replace those read before."""
    engine.use_sdp(texts)
