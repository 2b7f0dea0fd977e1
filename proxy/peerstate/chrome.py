"""Chrome's webrtc-internals dump ("Create Dump" in chrome://webrtc-internals) -> views.

The dump is ``{"PeerConnections": {ID: {"updateLog": [...], "stats": {...}}, ...},
"UserAgent": ...}``. ``updateLog`` entries are ``{"time", "type", "value"}``: the SDPs of
``setLocalDescription``/``setRemoteDescription`` (value ``type: offer, sdp: v=0...``; the
``...OnSuccess`` entries are what Chrome applied), ICE and connection state changes,
candidates. ``stats`` holds each stat's history: key ``REPORTID-NAME``, value
``{"statsType", "values": "[JSON list]"}``: the transport's ``dtlsState``,
``tlsVersion``, ``dtlsCipher``, ``srtpCipher``, ``dtlsRole``, the selected candidate pair
and the certificates' fingerprints.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from proxy.peerstate.views import PeerDataError, PeerView, SdpSeen, parse_candidate_address

APPLIED = {"setLocalDescriptionOnSuccess": "local", "setRemoteDescriptionOnSuccess": "remote"}
ASKED = {"setLocalDescription": "local", "setRemoteDescription": "remote"}


def is_webrtc_internals(data: object) -> bool:
    """Whether parsed JSON looks like a webrtc-internals dump."""
    return isinstance(data, Mapping) and isinstance(data.get("PeerConnections"), Mapping)


def parse_webrtc_internals(data: Mapping[str, Any], name: str) -> list[PeerView]:
    """Every peer connection of a dump; ``name`` (the file) goes into each view's name.
    Raises :class:`PeerDataError`."""
    pcs = data.get("PeerConnections")
    if not isinstance(pcs, Mapping):
        raise PeerDataError(f"{name}: no PeerConnections (not a webrtc-internals dump)")
    out = []
    for pc_id, pc in pcs.items():
        if isinstance(pc, Mapping):
            out.append(_view(str(pc_id), pc, name))
    return out


def _view(pc_id: str, pc: Mapping[str, Any], name: str) -> PeerView:
    label = f"Chrome peer connection {pc_id} ({name})"
    log = [u for u in pc.get("updateLog") or [] if isinstance(u, Mapping)]
    use = APPLIED if any(u.get("type") in APPLIED for u in log) else ASKED
    history: list[SdpSeen] = []
    ice = conn = None
    cands: list[tuple[str, int]] = []
    last_ts = 0.0
    for u in log:
        kind, value = u.get("type"), u.get("value")
        ts = _time(u.get("time"))
        last_ts = max(last_ts, ts)
        if not isinstance(value, str):
            continue
        if kind in use:
            typ, sdp = _description(value)
            if sdp:
                side = use[str(kind)]
                what = "applied by" if use is APPLIED else "given to"
                source = (f"{side} SDP ({typ or 'description'}) {what} {label}")
                history.append(SdpSeen(side, typ, sdp, source, ts))
        elif kind == "iceconnectionstatechange":
            ice = value
        elif kind == "connectionstatechange":
            conn = value
        elif kind == "icecandidate":
            addr = parse_candidate_address(value.split("candidate:", 1)[-1])
            if addr is not None and addr not in cands:
                cands.append(addr)
    stats = _stats(pc.get("stats"))
    transport = next((rid for rid, (typ, _) in stats.items() if typ == "transport"), None)

    def last(rid: str | None, attr: str) -> Any:
        if rid is None or rid not in stats:
            return None
        values = stats[rid][1].get(attr)
        return values[-1] if values else None

    def every(rid: str | None, attr: str) -> list[Any]:
        return list(stats[rid][1].get(attr) or []) if rid in stats and rid else []

    pair = last(transport, "selectedCandidatePairId")
    selected = None
    if isinstance(pair, str):
        lc, rc = last(pair, "localCandidateId"), last(pair, "remoteCandidateId")
        la = _cand_addr(lc if isinstance(lc, str) else None, last)
        ra = _cand_addr(rc if isinstance(rc, str) else None, last)
        if la and ra:
            selected = (la, ra)
    local_cert = last(transport, "localCertificateId")
    remote_cert = last(transport, "remoteCertificateId")
    dtls_states = every(transport, "dtlsState")
    role = last(transport, "dtlsRole")
    local = next((s for s in reversed(history) if s.side == "local"), None)
    remote = next((s for s in reversed(history) if s.side == "remote"), None)
    return PeerView(
        "chrome", f"chrome {pc_id}", label, last_ts, local, remote, tuple(history),
        ice_state=ice or conn,
        selected_pair=selected,
        local_candidates=tuple(cands),
        dtls_state=str(dtls_states[-1]) if dtls_states else None,
        dtls_role=str(role) if role in ("client", "server") else None,
        local_fingerprint=_fp(last(local_cert, "fingerprint") if isinstance(local_cert, str)
                              else None),
        remote_fingerprint=_fp(last(remote_cert, "fingerprint")
                               if isinstance(remote_cert, str) else None),
        srtp_profile=_str(last(transport, "srtpCipher")),
        tls_version=_str(last(transport, "tlsVersion")),
        cipher=_str(last(transport, "dtlsCipher")),
        webrtcup=conn == "connected",
        closed=conn == "closed" or ice == "closed",
        hangup="connection failed" if conn == "failed" or "failed" in dtls_states else None,
    )


def _cand_addr(cid: str | None, last: Any) -> tuple[str, int] | None:
    if cid is None:
        return None
    addr = last(cid, "address") or last(cid, "ip")
    port = last(cid, "port")
    if isinstance(addr, str) and isinstance(port, int):
        return addr, port
    return None


def _stats(raw: object) -> dict[str, tuple[str, dict[str, list[Any]]]]:
    """``REPORTID-NAME`` entries -> {report id: (statsType, {name: values})}."""
    out: dict[str, tuple[str, dict[str, list[Any]]]] = {}
    if not isinstance(raw, Mapping):
        return out
    for key, entry in raw.items():
        if not isinstance(key, str) or "-" not in key or not isinstance(entry, Mapping):
            continue
        rid, attr = key.rsplit("-", 1)
        values = entry.get("values")
        if isinstance(values, str):
            try:
                values = json.loads(values)
            except ValueError:
                continue
        if not isinstance(values, list):
            continue
        typ = str(entry.get("statsType") or "")
        found = out.setdefault(rid, (typ, {}))
        found[1][attr] = values
        if typ and not found[0]:
            out[rid] = (typ, found[1])
    return out


def _description(value: str) -> tuple[str | None, str]:
    """``type: offer, sdp: v=0...`` -> (type, sdp)."""
    head, sep, sdp = value.partition("sdp: ")
    if not sep:
        return None, ""
    typ = head.strip().removeprefix("type: ").rstrip(", ").strip() or None
    return typ, sdp


def _time(value: object) -> float:
    """A log entry's time: ms since the epoch, or an ISO 8601 string; 0 when neither."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    return 0.0


def _fp(value: object) -> str | None:
    return value.upper() if isinstance(value, str) and value else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
