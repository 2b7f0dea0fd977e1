"""Janus's own view: Admin API ``handle_info`` replies and event handler events -> views.

:class:`JanusHandles` keeps one :class:`~proxy.peerstate.views.PeerView` per handle and
updates it from either source: a ``handle_info`` reply (the SDPs as Janus applied them,
its ``webrtc.ice`` and ``webrtc.dtls`` blocks; times are Janus's monotonic microseconds,
placed on the wall clock with the reply's ``current_time``) or an event of the sample
event handler (JSON objects, one per event, real-time microseconds in ``timestamp``).
Formats as Janus 1.1 sends them (``tests/data/peerstate/``: real replies and POSTs).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from proxy.peerstate.views import (
    PeerDataError,
    PeerView,
    SdpSeen,
    parse_candidate_address,
    parse_pair,
)

MAX_HANDLES = 4096
"""Handles remembered (the oldest is forgotten beyond: a gateway runs for months)."""

EVENT_TYPES = {1: "session", 2: "handle", 4: "external", 8: "jsep", 16: "webrtc",
               32: "media", 64: "plugin", 128: "transport", 256: "core"}
"""Janus's event type numbers (events.h)."""

ROLES = {"active": "client", "passive": "server"}
"""Janus's ``dtls-role`` (its a=setup) -> its DTLS role."""


@dataclass(frozen=True, slots=True)
class JanusNote:
    """One thing Janus said about a handle (an event handler event, or a change seen in
    ``handle_info``), in the proxy's words."""

    ts: float
    handle: int | None
    what: str
    """``ice``, ``dtls``, ``selected-pair``, ``webrtcup``, ``hangup``, ``media``, ``sdp``,
    ``candidate``, ``handle``, ``session``, ``core``."""
    value: str
    detail: str = ""


def handle_name(handle: int) -> str:
    """``Janus handle 123``: how findings name a handle."""
    return f"Janus handle {handle}"


def parse_events(body: bytes | str) -> list[dict[str, Any]]:
    """A POST body of the sample event handler: one event object, or an array of them
    (``grouping = true``). Raises :class:`PeerDataError`."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PeerDataError(f"not JSON ({exc})") from None
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) for i in items):
        raise PeerDataError("not a Janus event (an object or an array of objects)")
    return items


class JanusHandles:
    """Every handle's view, from ``handle_info`` replies and events (either or both)."""

    def __init__(self) -> None:
        self.views: dict[int, PeerView] = {}
        self.sessions: dict[int, int] = {}
        """handle id -> Janus session id."""

    def view(self, handle: int) -> PeerView | None:
        """The handle's view as now known."""
        return self.views.get(handle)

    def _put(self, handle: int, view: PeerView) -> PeerView:
        if handle not in self.views and len(self.views) >= MAX_HANDLES:
            old = next(iter(self.views))
            self.views.pop(old)
            self.sessions.pop(old, None)
        self.views[handle] = view
        return view

    def _base(self, handle: int, ts: float) -> PeerView:
        v = self.views.get(handle)
        if v is not None:
            return v
        return PeerView("janus", f"janus {handle}", handle_name(handle), ts)

    # ------------------------------------------------------------------ Admin API

    def info(self, reply: Mapping[str, Any], now: float) -> tuple[PeerView, list[JanusNote]]:
        """A ``handle_info`` reply (the whole ``{"janus": "success", ..., "info": {...}}``
        or its ``info``) received at ``now``: the handle's new view and what changed.
        Raises :class:`PeerDataError` when it is not one."""
        info = reply.get("info", reply)
        if not isinstance(info, Mapping) or not isinstance(info.get("handle_id"), int):
            raise PeerDataError("handle_info reply without info.handle_id")
        handle = int(info["handle_id"])
        if isinstance(info.get("session_id"), int):
            self.sessions[handle] = int(info["session_id"])
        clock = info.get("current_time")

        def wall(t: object) -> float | None:
            if not isinstance(t, int) or isinstance(t, bool) or t <= 0:
                return None
            return now - (clock - t) / 1e6 if isinstance(clock, int) else None

        old = self._base(handle, now)
        v = dataclasses.replace(old, ts=now)
        sdps = info.get("sdps") or {}
        name = handle_name(handle)
        if isinstance(sdps, Mapping):
            local, remote = sdps.get("local"), sdps.get("remote")
            if isinstance(remote, str) and remote.strip():
                v = _with_sdp(v, SdpSeen("remote", _type_of(old.remote_sdp, remote), remote,
                                         f"remote SDP as applied by {name}", now))
            if isinstance(local, str) and local.strip():
                v = _with_sdp(v, SdpSeen("local", _type_of(old.local_sdp, local), local,
                                         f"local SDP of {name}", now))
        webrtc = info.get("webrtc")
        if isinstance(webrtc, Mapping):
            ice = webrtc.get("ice") or {}
            dtls = webrtc.get("dtls") or {}
            if isinstance(ice, Mapping):
                pair = ice.get("selected-pair")
                v = dataclasses.replace(
                    v,
                    ice_state=_str(ice.get("state")) or v.ice_state,
                    selected_pair=(parse_pair(pair) if isinstance(pair, str) else None)
                    or v.selected_pair,
                    local_candidates=_cands(ice.get("local-candidates")) or v.local_candidates,
                    remote_candidates=_cands(ice.get("remote-candidates"))
                    or v.remote_candidates,
                )
            if isinstance(dtls, Mapping):
                role = _str(dtls.get("dtls-role"))
                fp = _str(dtls.get("fingerprint"))
                rfp = _str(dtls.get("remote-fingerprint"))
                retr = dtls.get("retransmissions")
                v = dataclasses.replace(
                    v,
                    dtls_state=_str(dtls.get("dtls-state")) or v.dtls_state,
                    dtls_role=ROLES.get(role or "", v.dtls_role),
                    local_fingerprint=fp.upper() if fp else v.local_fingerprint,
                    remote_fingerprint=rfp.upper() if rfp else v.remote_fingerprint,
                    srtp_profile=_profile(dtls.get("srtp-profile")) or v.srtp_profile,
                    retransmissions=retr if isinstance(retr, int) else v.retransmissions,
                    dtls_started=wall(dtls.get("handshake-started")) or v.dtls_started,
                    dtls_ready=wall(dtls.get("connected")) or v.dtls_ready,
                )
        flags = info.get("flags")
        if isinstance(flags, Mapping) and flags.get("ready") is True:
            v = dataclasses.replace(v, webrtcup=True)
        return self._put(handle, v), _changes(old, v, handle, now)

    # ------------------------------------------------------------------ events

    def event(self, ev: Mapping[str, Any]) -> tuple[PeerView | None, list[JanusNote]]:
        """One event handler event: the handle's new view (None for events of no handle)
        and what it says. Unknown types are ignored (no note)."""
        ts = ev.get("timestamp")
        when = ts / 1e6 if isinstance(ts, int) and ts > 0 else 0.0
        typ = ev.get("type")
        kind = EVENT_TYPES.get(typ, "") if isinstance(typ, int) else ""
        body = ev.get("event")
        if not isinstance(body, Mapping):
            return None, []
        handle = ev.get("handle_id")
        if kind == "core":
            status = _str(body.get("status")) or "?"
            return None, [JanusNote(when, None, "core", status, _core_detail(body))]
        if kind == "session":
            return None, [JanusNote(when, None, "session", _str(body.get("name")) or "?",
                                    f"Janus session {ev.get('session_id')}")]
        if not isinstance(handle, int) or kind not in ("handle", "jsep", "webrtc", "media"):
            return None, []
        if isinstance(ev.get("session_id"), int):
            self.sessions[handle] = int(ev["session_id"])
        v = self._base(handle, when)
        v = dataclasses.replace(v, ts=max(v.ts, when))
        notes: list[JanusNote] = []
        name = handle_name(handle)

        def note(what: str, value: str, detail: str = "") -> None:
            notes.append(JanusNote(when, handle, what, value, detail))

        if kind == "handle":
            what = _str(body.get("name")) or "?"
            note("handle", what, _str(body.get("plugin")) or "")
            if what == "detached":
                v = dataclasses.replace(v, closed=True)
        elif kind == "jsep":
            jsep = body.get("jsep")
            owner = _str(body.get("owner"))
            if isinstance(jsep, Mapping) and owner in ("local", "remote"):
                sdp, typ = jsep.get("sdp"), _str(jsep.get("type"))
                if isinstance(sdp, str) and sdp.strip():
                    source = (f"remote SDP as applied by {name}" if owner == "remote"
                              else f"local SDP of {name}")
                    if typ:
                        source += f" ({'its ' if owner == 'local' else ''}{typ})"
                    v = _with_sdp(v, SdpSeen(owner, typ, sdp, source, when))
                    note("sdp", f"{owner} {typ or 'description'}", source)
        elif kind == "webrtc":
            if "ice" in body:
                state = _str(body.get("ice")) or "?"
                v = dataclasses.replace(v, ice_state=state)
                note("ice", state)
            elif "local-candidate" in body or "remote-candidate" in body:
                side = "local" if "local-candidate" in body else "remote"
                addr = parse_candidate_address(str(body.get(f"{side}-candidate")))
                if addr is not None:
                    if side == "local" and addr not in v.local_candidates:
                        v = dataclasses.replace(v, local_candidates=(*v.local_candidates, addr))
                    elif side == "remote" and addr not in v.remote_candidates:
                        v = dataclasses.replace(v, remote_candidates=(*v.remote_candidates,
                                                                      addr))
                    note("candidate", side, f"{addr[0]}:{addr[1]}")
            elif "selected-pair" in body:
                pair = parse_pair(str(body.get("selected-pair")))
                if pair is not None:
                    v = dataclasses.replace(v, selected_pair=pair)
                note("selected-pair", str(body.get("selected-pair")))
            elif "dtls" in body:
                state = _str(body.get("dtls")) or "?"
                retr = body.get("retransmissions")
                v = dataclasses.replace(
                    v, dtls_state=state,
                    retransmissions=retr if isinstance(retr, int) else v.retransmissions,
                    dtls_started=v.dtls_started or (when if state == "trying" else None),
                    dtls_ready=v.dtls_ready or (when if state == "connected" else None))
                note("dtls", state, f"{retr} retransmissions" if isinstance(retr, int) else "")
            elif "connection" in body:
                what = _str(body.get("connection")) or "?"
                if what == "webrtcup":
                    v = dataclasses.replace(v, webrtcup=True)
                    note("webrtcup", "webrtcup")
                elif what == "hangup":
                    reason = _str(body.get("reason")) or ""
                    v = dataclasses.replace(v, hangup=reason, hangup_ts=when)
                    note("hangup", reason)
        elif kind == "media" and "receiving" in body:
            media = _str(body.get("media")) or "media"
            value = body.get("receiving")
            note("media", f"{media} receiving {str(value).lower()}", _str(body.get("mid")) or "")
        return self._put(handle, v), notes

    def events(self, items: Iterable[Mapping[str, Any]]
               ) -> list[tuple[PeerView | None, list[JanusNote]]]:
        """:meth:`event` for each item of a POST."""
        return [self.event(e) for e in items]


def _with_sdp(v: PeerView, sdp: SdpSeen) -> PeerView:
    """``v`` with ``sdp`` in force; a new text is appended to the history."""
    current = v.local_sdp if sdp.side == "local" else v.remote_sdp
    if current is not None and current.text == sdp.text:
        if sdp.type and not current.type:  # the event named the type handle_info does not
            sdp = dataclasses.replace(current, type=sdp.type, source=sdp.source)
        else:
            return v
    history = v.sdp_history
    if current is None or current.text != sdp.text:
        history = (*history, sdp)[-8:]
    if sdp.side == "local":
        return dataclasses.replace(v, local_sdp=sdp, sdp_history=history)
    return dataclasses.replace(v, remote_sdp=sdp, sdp_history=history)


def _type_of(old: SdpSeen | None, text: str) -> str | None:
    return old.type if old is not None and old.text == text else None


def _changes(old: PeerView, new: PeerView, handle: int, now: float) -> list[JanusNote]:
    """What a ``handle_info`` changed, as notes (the first reply of a handle says all)."""
    out = []
    for what, a, b in (("ice", old.ice_state, new.ice_state),
                       ("dtls", old.dtls_state, new.dtls_state)):
        if b is not None and a != b:
            out.append(JanusNote(now, handle, what, b, "Admin API"))
    if new.selected_pair is not None and new.selected_pair != old.selected_pair:
        (lh, lp), (rh, rp) = new.selected_pair
        out.append(JanusNote(now, handle, "selected-pair", f"{lh}:{lp} <-> {rh}:{rp}",
                             "Admin API"))
    for side in ("remote", "local"):
        a = getattr(old, f"{side}_sdp")
        b = getattr(new, f"{side}_sdp")
        if b is not None and (a is None or a.text != b.text):
            out.append(JanusNote(now, handle, "sdp", f"{side} description", b.source))
    return out


def _cands(value: object) -> tuple[tuple[str, int], ...]:
    if not isinstance(value, list):
        return ()
    out = []
    for c in value:
        addr = parse_candidate_address(c) if isinstance(c, str) else None
        if addr is not None and addr not in out:
            out.append(addr)
    return tuple(out)


def _str(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int):
        return str(value).lower()
    return None


def _profile(value: object) -> str | None:
    """Janus's ``srtp-profile`` (``none`` before the handshake)."""
    return value if isinstance(value, str) and value not in ("", "none") else None


def _core_detail(body: Mapping[str, Any]) -> str:
    info = body.get("info")
    if isinstance(info, Mapping) and isinstance(info.get("version_string"), str):
        return f"Janus {info['version_string']}"
    return ""
