"""The test page (HTML + JavaScript) and the loopback HTTP server that serves it.

The page only holds RTCPeerConnections and reports on them; it never edits an
SDP. The Python driver does all signalling (Janus's HTTP API, the SDP rewriting
with :mod:`proxy.sdp`) and calls the page's functions through chromedriver
(:meth:`tests.browser.chrome.Chromium.call`). A page served from
``http://127.0.0.1`` is a secure context, so ``getUserMedia`` works (fake devices).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAGE_JS = r"""
const T = {pcs: {}, dcs: {}, msgs: {}, states: {}, stream: null, log: {}, sdps: {},
           configs: {}};

// What chrome://webrtc-internals and about:webrtc record, kept by the page itself so that
// the harness can write a dump of the same JSON shape (internalsDump, aboutWebrtc).
function note(name, type, value) {
  T.log[name].push({time: new Date().toISOString(), type, value});
}

async function applyDescription(name, local, desc) {
  const pc = T.pcs[name];
  const what = local ? 'setLocalDescription' : 'setRemoteDescription';
  note(name, what, `type: ${desc.type}, sdp: ${desc.sdp}`);
  await (local ? pc.setLocalDescription(desc) : pc.setRemoteDescription(desc));
  const applied = local ? pc.localDescription : pc.remoteDescription;
  note(name, what + 'OnSuccess', `type: ${applied.type}, sdp: ${applied.sdp}`);
  T.sdps[name].push({timestamp: Date.now(), isLocal: local, sdp: applied.sdp, errors: []});
}

async function media() {
  if (!T.stream) {
    T.stream = await navigator.mediaDevices.getUserMedia(
      {audio: true, video: {width: 320, height: 240, frameRate: 15}});
  }
  return T.stream.getTracks().map(t => t.kind);
}

function wire(name, dc) {
  T.dcs[name] = dc;
  dc.onmessage = e => T.msgs[name].push(String(e.data));
}

function newPc(name, withMedia, withData, config) {
  // config: extra RTCConfiguration, e.g. {iceServers: [{urls: 'turn:...', username,
  // credential}], iceTransportPolicy: 'relay'} (TURN mode: the one setting a web app changes)
  const pc = new RTCPeerConnection(
    Object.assign({iceServers: [], bundlePolicy: 'max-bundle'}, config || {}));
  T.pcs[name] = pc; T.msgs[name] = []; T.states[name] = []; T.log[name] = [];
  T.sdps[name] = []; T.configs[name] = pc.getConfiguration();
  pc.onconnectionstatechange = () => {
    T.states[name].push(pc.connectionState);
    note(name, 'connectionstatechange', pc.connectionState);
  };
  pc.oniceconnectionstatechange = () => note(name, 'iceconnectionstatechange',
                                             pc.iceConnectionState);
  pc.onicecandidate = e => e.candidate && note(name, 'icecandidate',
    `sdpMid: ${e.candidate.sdpMid}, sdpMLineIndex: ${e.candidate.sdpMLineIndex}, ` +
    `candidate: ${e.candidate.candidate}`);
  if (withMedia) for (const t of T.stream.getTracks()) pc.addTrack(t, T.stream);
  if (withData) wire(name, pc.createDataChannel('echo'));
  pc.ondatachannel = e => wire(name, e.channel);
  return true;
}

function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise(resolve => pc.addEventListener('icegatheringstatechange', () => {
    if (pc.iceGatheringState === 'complete') resolve();
  }));
}

async function offer(name) {
  const pc = T.pcs[name];
  await applyDescription(name, true, await pc.createOffer());
  await gathered(pc);
  return pc.localDescription.sdp;
}

async function answer(name, sdp) {
  const pc = T.pcs[name];
  await applyDescription(name, false, {type: 'offer', sdp});
  await applyDescription(name, true, await pc.createAnswer());
  await gathered(pc);
  return pc.localDescription.sdp;
}

async function accept(name, sdp) {
  await applyDescription(name, false, {type: 'answer', sdp});
  return true;
}

// chrome://webrtc-internals "Create Dump": {PeerConnections: {ID: {updateLog, stats}}},
// each stat's history under "REPORTID-NAME" as {statsType, values: "[JSON list]"}.
async function internalsDump(names) {
  const pcs = {};
  for (const [i, name] of names.entries()) {
    const now = new Date().toISOString();
    const stats = {};
    (await T.pcs[name].getStats()).forEach(s => {
      for (const [k, v] of Object.entries(s)) {
        if (['id', 'type', 'timestamp'].includes(k)) continue;
        stats[`${s.id}-${k}`] = {startTime: now, endTime: now, statsType: s.type,
                                 values: JSON.stringify([v])};
      }
    });
    pcs[`1-${i + 1}`] = {pid: 1, rid: 1, lid: i + 1, url: location.href,
                         rtcConfiguration: JSON.stringify(T.configs[name]), constraints: '',
                         updateLog: T.log[name], stats};
  }
  return {getUserMedia: [], PeerConnections: pcs, UserAgent: navigator.userAgent};
}

// about:webrtc's data (WebrtcGlobalInformation.getAllStats): {reports: [{pcid, sdpHistory,
// iceCandidatePairStats, iceCandidateStats, ...}]}.
async function aboutWebrtc(names) {
  const reports = [];
  for (const name of names) {
    const pc = T.pcs[name];
    const pairs = [], cands = [];
    (await pc.getStats()).forEach(s => {
      if (s.type === 'candidate-pair') pairs.push(s);
      if (s.type === 'local-candidate' || s.type === 'remote-candidate') cands.push(s);
    });
    reports.push({pcid: `${name} (id=${name}) url=${location.href}`, browserId: 1,
                  timestamp: Date.now(), closed: pc.signalingState === 'closed',
                  offerer: T.sdps[name][0] && T.sdps[name][0].isLocal,
                  iceRestarts: 0, iceRollbacks: 0, sdpHistory: T.sdps[name],
                  iceCandidatePairStats: pairs, iceCandidateStats: cands,
                  configuration: T.configs[name]});
  }
  return {reports};
}

function until(test, ms) {
  const t0 = performance.now();
  return new Promise(resolve => {
    const tick = () => {
      const v = test();
      if (v || performance.now() - t0 > ms) resolve(v || false); else setTimeout(tick, 20);
    };
    tick();
  });
}

async function waitState(name, states, ms) {
  const pc = T.pcs[name];
  return await until(() => states.includes(pc.connectionState) && pc.connectionState, ms)
    || pc.connectionState;
}

async function waitOpen(name, ms) {
  return await until(() => T.dcs[name] && T.dcs[name].readyState === 'open', ms);
}

function send(name, text) { T.dcs[name].send(text); return true; }

async function waitMessage(name, text, ms) {
  return await until(() => T.msgs[name].find(m => m.includes(text)), ms);
}

async function stats(name) {
  const pc = T.pcs[name];
  const report = await pc.getStats();
  const byId = new Map();
  report.forEach(s => byId.set(s.id, s));
  const out = {connectionState: pc.connectionState, states: T.states[name],
               messages: T.msgs[name], inbound: {}, outbound: {}, transport: null, pair: null};
  out.pairs = [];
  report.forEach(s => {
    if (s.type === 'candidate-pair') {
      const l = byId.get(s.localCandidateId), r = byId.get(s.remoteCandidateId);
      out.pairs.push(`${l.address}:${l.port} -> ${r.address}:${r.port} ${s.state} ` +
                     `requests=${s.requestsSent} responses=${s.responsesReceived}`);
    }
    if (s.type === 'inbound-rtp') out.inbound[s.kind] = s.packetsReceived;
    if (s.type === 'outbound-rtp') out.outbound[s.kind] = s.packetsSent;
    if (s.type === 'data-channel') out.dataChannel = {sent: s.messagesSent,
                                                      received: s.messagesReceived};
    if (s.type === 'transport') {
      out.transport = Object.fromEntries(Object.entries(s).filter(
        ([k]) => !['id', 'timestamp', 'type'].includes(k)));
      const pair = byId.get(s.selectedCandidatePairId);
      if (pair) {
        const l = byId.get(pair.localCandidateId), r = byId.get(pair.remoteCandidateId);
        out.pair = {state: pair.state,
                    local: [l.address, l.port], remote: [r.address, r.port]};
      }
    }
  });
  return out;
}

function closePc(name) { T.pcs[name].close(); return true; }

function closeAll() {
  for (const pc of Object.values(T.pcs)) pc.close();
  if (T.stream) T.stream.getTracks().forEach(t => t.stop());
  return true;
}

// A browser with no driver (Firefox): ?remote=1 makes the page fetch its calls from
// the page server and post their results back (tests.browser.page.RemoteCalls).
async function remoteLoop() {
  for (;;) {
    let c;
    try { c = await (await fetch('/cmd')).json(); } catch (e) { continue; }
    if (c.fn === null) return;
    if (c.fn === '') continue;  // nothing to do yet: ask again
    let reply;
    try {
      const v = await window[c.fn](...c.args);
      reply = {id: c.id, ok: v === undefined ? null : v};
    }
    catch (e) { reply = {id: c.id, error: String(e && e.stack || e)}; }
    await fetch('/result', {method: 'POST', body: JSON.stringify(reply)});
  }
}
if (location.search.includes('remote=1')) remoteLoop();
"""

PAGE_HTML = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>dtlsproxy browser bed</title></head>
<body><p>dtlsproxy browser bed</p><script>{PAGE_JS}</script></body></html>
"""


class RemoteCalls:
    """Calls into a page whose browser has no driver: the page long-polls ``/cmd`` for the
    next ``{id, fn, args}`` and posts ``{id, ok|error}`` to ``/result``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: list[dict[str, Any]] = []
        self._results: dict[int, dict[str, Any]] = {}
        self._next = 1
        self.polled = threading.Event()
        """Set once the page asked for its first command (it is loaded and running)."""

    def call(self, fn: str | None, *args: Any, timeout: float = 30.0) -> Any:
        """Await ``fn(...args)`` in the page; its value (``fn=None`` ends the page's loop)."""
        with self._cond:
            cid = self._next
            self._next += 1
            self._queue.append({"id": cid, "fn": fn, "args": list(args)})
            self._cond.notify_all()
            if fn is None:
                return None
            if not self._cond.wait_for(lambda: cid in self._results, timeout):
                raise TimeoutError(f"page did not answer {fn} in {timeout:g}s")
            reply = self._results.pop(cid)
        if "error" in reply:
            raise RuntimeError(f"{fn}: {reply['error']}")
        return reply.get("ok")

    def next_command(self, timeout: float = 25.0) -> dict[str, Any] | None:
        """What the page runs next (None: nothing yet, it asks again)."""
        self.polled.set()
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self._queue), timeout):
                return None
            return self._queue.pop(0)

    def result(self, reply: dict[str, Any]) -> None:
        """A result the page posted."""
        with self._cond:
            self._results[int(reply["id"])] = reply
            self._cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    remote: RemoteCalls

    def do_GET(self) -> None:
        if self.path == "/cmd":
            cmd = self.remote.next_command()
            idle = {"id": 0, "fn": "", "args": []}
            self._send(json.dumps(cmd if cmd is not None else idle).encode(), "application/json")
            return
        body = PAGE_HTML.encode()
        path = self.path.split("?", 1)[0]
        self._send(body, "text/html; charset=utf-8", 200 if path in ("/", "/index.html") else 404)

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n)
        if self.path == "/result":
            self.remote.result(json.loads(data))
        self._send(b"", "text/plain")

    def _send(self, body: bytes, kind: str, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class PageServer:
    """The page on ``http://127.0.0.1:PORT/`` (ephemeral port), served by a thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.remote = RemoteCalls()
        """The command channel of a driverless browser (:class:`RemoteCalls`)."""
        handler = type("Handler", (_Handler,), {"remote": self.remote})
        self.httpd = ThreadingHTTPServer((host, 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The page's URL."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> None:
        """Serve in the background."""
        self.thread.start()

    def close(self) -> None:
        """Stop serving and close the socket."""
        self.remote.call(None)  # a driverless page's loop ends
        self.httpd.shutdown()
        self.httpd.server_close()
