"""A browser's dump, whichever browser wrote it: text in, views out."""

from __future__ import annotations

import json

from proxy.peerstate.chrome import is_webrtc_internals, parse_webrtc_internals
from proxy.peerstate.firefox import is_about_webrtc, parse_about_webrtc
from proxy.peerstate.views import PeerDataError, PeerView


def parse_dump(text: str, name: str) -> list[PeerView]:
    """A webrtc-internals dump (Chrome) or about:webrtc data (Firefox) -> its views.
    Raises :class:`PeerDataError` naming ``name`` and what is wrong."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PeerDataError(f"{name}: not JSON ({exc})") from None
    if is_webrtc_internals(data):
        return parse_webrtc_internals(data, name)
    if is_about_webrtc(data):
        return parse_about_webrtc(data, name)
    raise PeerDataError(f"{name}: neither a webrtc-internals dump (Chrome's \"Create Dump\": "
                        "PeerConnections) nor about:webrtc data (Firefox: reports with pcid)")
