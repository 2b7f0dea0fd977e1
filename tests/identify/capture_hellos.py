"""Makes ``tests/data/stacks/<name>.pcap``: real handshakes (or first flights) of the DTLS
stacks on this machine, the provenance of their entries in ``proxy/identify/stacks.toml``.

    .venv/bin/python -m tests.identify.capture_hellos [NAME ...]     # default: all

``openssl-1.1.1`` needs an environment with OpenSSL 1.1.1 (cryptography 35's wheels bundle
1.1.1l): ``python3 -m venv /tmp/ossl111 && /tmp/ossl111/bin/pip install cryptography==35.0.0
pyOpenSSL==22.0.0`` (``OSSL111_PYTHON`` names its python). Loopback only.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.peers.capture import CapturedDatagram, record_udp_exchange, write_pcap
from tests.peers.scenarios import capture_openssl_pair, write_cert_files

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "stacks"
CLIENT = ("127.0.0.1", 40000)
SERVER = ("127.0.0.1", 40001)


def _pair(python: str, variant: str) -> list[CapturedDatagram]:
    """Datagrams of tests/identify/pyopenssl_pair.py run by ``python``."""
    out = subprocess.run([python, str(ROOT / "tests/identify/pyopenssl_pair.py"), variant],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    grams, t = [], time.time()
    for i, line in enumerate(out.splitlines()):
        d, value = json.loads(line)
        if d == "version":
            print(f"  {python}: {value}")
            continue
        src, dst = (CLIENT, SERVER) if d == "c2s" else (SERVER, CLIENT)
        grams.append(CapturedDatagram(t + i * 0.001, src, dst, bytes.fromhex(value), d))
    return grams


def first_flight(argv: list[str], env: dict[str, str] | None = None,
                 wait: float = 5.0) -> list[CapturedDatagram]:
    """What a client sends to a silent UDP socket first (its first flight and any
    retransmission within 0.3 s of the last datagram). ``PORT`` in argv is replaced."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    argv = [a.replace("PORT", str(port)) for a in argv]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                            start_new_session=True)
    grams: list[CapturedDatagram] = []
    try:
        sock.settimeout(wait)
        while True:
            try:
                data, src = sock.recvfrom(65535)
            except TimeoutError:
                break
            grams.append(CapturedDatagram(time.time(), src, ("127.0.0.1", port), data, "c2s"))
            sock.settimeout(0.3)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        sock.close()
    if not grams:
        raise RuntimeError(f"{argv[0]} sent nothing")
    # keep one copy of the flight: the datagrams until the first one seen again
    seen: set[bytes] = set()
    keep = []
    for g in grams:
        if g.data in seen:
            break
        seen.add(g.data)
        keep.append(g)
    return keep


def _nss(env: dict[str, str] | None) -> list[CapturedDatagram]:
    with tempfile.TemporaryDirectory() as db:
        subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True,
                       capture_output=True, env={**os.environ, **(env or {})})
        return first_flight(["tstclnt", "-P", "client", "-h", "127.0.0.1", "-p", "PORT", "-o",
                             "-d", f"sql:{db}"], env)


def gnutls_pair() -> list[CapturedDatagram]:
    """gnutls-cli -> recorder -> gnutls-serv (GnuTLS on both sides), mutual auth, SRTP."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server, client = write_cert_files(work, "server"), write_cert_files(work, "client")
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        srv = subprocess.Popen(
            ["gnutls-serv", "--udp", "--echo", "-p", str(port), "--x509certfile",
             str(server.cert), "--x509keyfile", str(server.key), "--require-client-cert",
             "--verify-client-cert", "--srtp-profiles", "SRTP_AES128_CM_HMAC_SHA1_80"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            time.sleep(1.0)
            with record_udp_exchange(("127.0.0.1", port)) as rec:
                host, lport = rec.listen_addr
                cli = subprocess.Popen(
                    ["gnutls-cli", "--udp", "--insecure", "--port", str(lport),
                     "--x509certfile", str(client.cert), "--x509keyfile", str(client.key),
                     "--srtp-profiles", "SRTP_AES128_CM_HMAC_SHA1_80", host],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    start_new_session=True)
                time.sleep(3.0)
                os.killpg(cli.pid, 9)
                cli.wait()
                grams = rec.snapshot()
        finally:
            os.killpg(srv.pid, 9)
            srv.wait()
    return grams


def openssl_cli_pair() -> list[CapturedDatagram]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cap = capture_openssl_pair(shutil.which("openssl") or "openssl", work, "openssl",
                                   write_cert_files(work, "server"),
                                   write_cert_files(work, "client"))
        return list(cap.datagrams)


FIREFOX_PREFS = {
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "permissions.default.camera": 1,  # without these two no candidate is gathered
    "permissions.default.microphone": 1,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "app.update.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.manage-offline-status": False,
}
FIREFOX_PAGE = """<html><body><script>(async () => {
  const a = new RTCPeerConnection(), b = new RTCPeerConnection();
  a.onicecandidate = e => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = e => e.candidate && a.addIceCandidate(e.candidate);
  const s = await navigator.mediaDevices.getUserMedia({audio: true});
  s.getTracks().forEach(t => a.addTrack(t, s));
  a.createDataChannel("x");
  await a.setLocalDescription(await a.createOffer());
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription(await b.createAnswer());
  await a.setRemoteDescription(b.localDescription);
})();</script></body></html>"""


def firefox_pair() -> list[CapturedDatagram]:
    """Two RTCPeerConnections in headless Firefox ESR, in a private network namespace
    (only its loopback), captured there by tshark: the DTLS datagrams (at most 40)."""
    from proxy.capture.pcap import read_capture

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "prof").mkdir()
        (work / "prof" / "user.js").write_text("".join(
            f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in FIREFOX_PREFS.items()))
        (work / "page.html").write_text(FIREFOX_PAGE)
        script = (f"ip link set lo up; tshark -i lo -f udp -w {work}/ff.pcapng -q "
                  f"2>/dev/null & T=$!; sleep 2; HOME={work} timeout 20 firefox-esr --headless "
                  f"--no-remote --profile {work}/prof file://{work}/page.html >/dev/null 2>&1;"
                  " sleep 1; kill -INT $T; wait $T")
        subprocess.run(["unshare", "-n", "--fork", "bash", "-c", script], check=True,
                       timeout=60)
        grams = [CapturedDatagram(d.ts, d.src, d.dst, d.data, "?")
                 for d in read_capture(work / "ff.pcapng") if 20 <= d.data[0] <= 63]
    if not grams:
        raise RuntimeError("Firefox sent no DTLS")
    return grams[:40]


CAPTURES: dict[str, Callable[[], list[CapturedDatagram]]] = {
    "openssl-3.0-cli": openssl_cli_pair,
    "pyopenssl-openssl-4.0": lambda: _pair(sys.executable, "plain"),
    "aiortc-1.16": lambda: _pair(sys.executable, "aiortc"),
    "openssl-1.1.1l": lambda: _pair(os.environ.get("OSSL111_PYTHON", "/tmp/ossl111/bin/python"),
                                    "plain"),
    "gnutls-3.7": gnutls_pair,
    "nss-3.87-tstclnt": lambda: _nss(None),
    "nss-3.125-tstclnt": lambda: _nss({"LD_LIBRARY_PATH": "/usr/lib/firefox-esr"}),
    "firefox-153-pair": firefox_pair,
}


def main(names: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names or list(CAPTURES):
        grams = CAPTURES[name]()
        path = write_pcap(OUT / f"{name}.pcap", grams)
        print(f"{path.relative_to(ROOT)}: {len(grams)} datagrams")


if __name__ == "__main__":
    main(sys.argv[1:])
