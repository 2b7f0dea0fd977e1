"""Firefox's about:webrtc data -> views.

about:webrtc shows, per peer connection, what ``WebrtcGlobalInformation.getAllStats``
returns: ``{"reports": [RTCStatsReportInternal, ...]}``, each report with ``pcid``, the
``sdpHistory`` (``{"timestamp", "isLocal", "sdp"}``: every description applied, in
order; older versions have ``localSdp``/``remoteSdp``), ``iceCandidatePairStats`` and
``iceCandidateStats`` (the selected pair), ``closed`` and ``iceRestarts``. A file with
that object, a list of reports or one report is accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from proxy.peerstate.views import PeerDataError, PeerView, SdpSeen


def is_about_webrtc(data: object) -> bool:
    """Whether parsed JSON looks like about:webrtc's reports."""
    reports = _reports(data)
    return bool(reports) and all("pcid" in r for r in reports)


def _reports(data: object) -> list[Mapping[str, Any]]:
    if isinstance(data, Mapping) and isinstance(data.get("reports"), list):
        data = data["reports"]
    elif isinstance(data, Mapping) and "pcid" in data:
        data = [data]
    if not isinstance(data, list):
        return []
    return [r for r in data if isinstance(r, Mapping)]


def parse_about_webrtc(data: object, name: str) -> list[PeerView]:
    """Every peer connection of the export. Raises :class:`PeerDataError`."""
    reports = _reports(data)
    if not reports or not all("pcid" in r for r in reports):
        raise PeerDataError(f"{name}: no reports with a pcid (not about:webrtc data)")
    return [_view(r, name) for r in reports]


def _view(r: Mapping[str, Any], name: str) -> PeerView:
    pcid = str(r.get("pcid"))
    short = pcid.split(" ")[0]
    label = f"Firefox peer connection {short} ({name})"
    history: list[SdpSeen] = []
    for h in r.get("sdpHistory") or []:
        if not isinstance(h, Mapping) or not isinstance(h.get("sdp"), str):
            continue
        side = "local" if h.get("isLocal") else "remote"
        ts = h.get("timestamp")
        when = float(ts) / 1000.0 if isinstance(ts, int | float) else 0.0
        history.append(SdpSeen(side, None, h["sdp"], f"{side} SDP applied by {label}", when))
    if not history:
        for side in ("local", "remote"):
            text = r.get(f"{side}Sdp")
            if isinstance(text, str) and text.strip():
                history.append(SdpSeen(side, None, text, f"{side} SDP applied by {label}"))
    cands = {c.get("id"): c for c in r.get("iceCandidateStats") or [] if isinstance(c, Mapping)}

    def addr(cid: object) -> tuple[str, int] | None:
        c = cands.get(cid)
        if c is None:
            return None
        host, port = c.get("address"), c.get("port")
        return (host, port) if isinstance(host, str) and isinstance(port, int) else None

    selected = None
    state = None
    for p in r.get("iceCandidatePairStats") or []:
        if not isinstance(p, Mapping):
            continue
        if p.get("selected") or (p.get("nominated") and p.get("state") == "succeeded"):
            la, ra = addr(p.get("localCandidateId")), addr(p.get("remoteCandidateId"))
            if la and ra:
                selected = (la, ra)
                state = str(p.get("state") or "") or None
    local_cands = tuple(a for c in cands.values()
                        if c.get("type") == "local-candidate" and (a := addr(c.get("id"))))
    ts = r.get("timestamp")
    local = next((s for s in reversed(history) if s.side == "local"), None)
    remote = next((s for s in reversed(history) if s.side == "remote"), None)
    restarts = r.get("iceRestarts")
    return PeerView(
        "firefox", f"firefox {pcid}", label,
        float(ts) / 1000.0 if isinstance(ts, int | float) else 0.0,
        local, remote, tuple(history),
        ice_state=f"pair {state}" if state else None,
        selected_pair=selected,
        local_candidates=local_cands,
        closed=bool(r.get("closed")),
        ice_restarts=restarts if isinstance(restarts, int) else None,
    )
