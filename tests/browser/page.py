"""The test page (HTML + JavaScript) and the loopback HTTP server that serves it.

The page only holds RTCPeerConnections and reports on them; it never edits an
SDP. The Python driver does all signalling (Janus's HTTP API, the SDP rewriting
with :mod:`proxy.sdp`) and calls the page's functions through chromedriver
(:meth:`tests.browser.chrome.Chromium.call`). A page served from
``http://127.0.0.1`` is a secure context, so ``getUserMedia`` works (fake devices).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE_JS = r"""
const T = {pcs: {}, dcs: {}, msgs: {}, states: {}, stream: null};

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

function newPc(name, withMedia, withData) {
  const pc = new RTCPeerConnection({iceServers: [], bundlePolicy: 'max-bundle'});
  T.pcs[name] = pc; T.msgs[name] = []; T.states[name] = [];
  pc.onconnectionstatechange = () => T.states[name].push(pc.connectionState);
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
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  return pc.localDescription.sdp;
}

async function answer(name, sdp) {
  const pc = T.pcs[name];
  await pc.setRemoteDescription({type: 'offer', sdp});
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  return pc.localDescription.sdp;
}

async function accept(name, sdp) {
  await T.pcs[name].setRemoteDescription({type: 'answer', sdp});
  return true;
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

function closeAll() {
  for (const pc of Object.values(T.pcs)) pc.close();
  if (T.stream) T.stream.getTracks().forEach(t => t.stop());
  return true;
}
"""

PAGE_HTML = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>dtlsproxy browser bed</title></head>
<body><p>dtlsproxy browser bed</p><script>{PAGE_JS}</script></body></html>
"""


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE_HTML.encode()
        self.send_response(200 if self.path in ("/", "/index.html") else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class PageServer:
    """The page on ``http://127.0.0.1:PORT/`` (ephemeral port), served by a thread."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.httpd = ThreadingHTTPServer((host, 0), _Handler)
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
        self.httpd.shutdown()
        self.httpd.server_close()
