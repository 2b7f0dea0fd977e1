"""Record every datagram between two loopback peers, and write them as pcap (dpkt) or with tshark.

``record_udp_exchange`` is a tiny UDP forwarder in a thread: the client sends to
its ``listen_addr``, it forwards to the server from a second socket, and it
records each payload both ways with the client's view of the 5-tuple
(client <-> forwarder's listening address).
"""

from __future__ import annotations

import contextlib
import ipaddress
import selectors
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dpkt

from tests.peers.process import ToolProcess

Address = tuple[str, int]


@dataclass(frozen=True)
class CapturedDatagram:
    """One recorded UDP payload."""

    ts: float
    src: Address
    dst: Address
    data: bytes
    direction: str
    """``"c2s"`` (client to server) or ``"s2c"``."""


Transform = Callable[[str, bytes], bytes | None]
"""``(direction, payload) -> payload to forward, or None to drop`` (direction c2s / s2c)."""


class UdpRecorder:
    """A forwarding recorder; use :func:`record_udp_exchange` to get one.

    With ``transform`` it also injects faults: it records what it received, then
    forwards what ``transform`` returns (nothing when it returns None).
    """

    def __init__(self, server_addr: Address, host: str = "127.0.0.1",
                 transform: Transform | None = None) -> None:
        self.transform = transform
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.server_addr = server_addr
        self.datagrams: list[CapturedDatagram] = []
        self._lock = threading.Lock()
        self._listen = socket.socket(family, socket.SOCK_DGRAM)
        self._listen.bind((host, 0))
        self._up = socket.socket(family, socket.SOCK_DGRAM)
        self._up.bind((host, 0))
        self._client: Address | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="udp-recorder", daemon=True)

    @property
    def listen_addr(self) -> Address:
        """Where the client must send."""
        h, p = self._listen.getsockname()[:2]
        return (str(h), int(p))

    def start(self) -> None:
        """Start forwarding in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and close both sockets."""
        self._stop.set()
        self._thread.join(timeout=5)
        self._listen.close()
        self._up.close()

    def snapshot(self) -> list[CapturedDatagram]:
        """A copy of what was recorded so far."""
        with self._lock:
            return list(self.datagrams)

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listen, selectors.EVENT_READ)
        sel.register(self._up, selectors.EVENT_READ)
        try:
            while True:
                events = sel.select(timeout=0.05)
                if not events and self._stop.is_set():
                    break  # stopped and quiet for 50 ms: nothing left in the socket buffers
                for key, _ in events:
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    data, addr = sock.recvfrom(65535)
                    now = time.time()
                    src = (str(addr[0]), int(addr[1]))
                    if sock is self._listen:
                        self._client = src
                        self._record(now, src, self.listen_addr, data, "c2s")
                        out = self.transform("c2s", data) if self.transform else data
                        if out is not None:
                            self._up.sendto(out, self.server_addr)
                    elif self._client is not None and src == self.server_addr:
                        self._record(now, self.listen_addr, self._client, data, "s2c")
                        out = self.transform("s2c", data) if self.transform else data
                        if out is not None:
                            self._listen.sendto(out, self._client)
        except OSError:
            pass
        finally:
            sel.close()

    def _record(self, ts: float, src: Address, dst: Address, data: bytes, d: str) -> None:
        with self._lock:
            self.datagrams.append(CapturedDatagram(ts, src, dst, data, d))


@contextlib.contextmanager
def record_udp_exchange(server_addr: Address, host: str = "127.0.0.1",
                        transform: Transform | None = None) -> Iterator[UdpRecorder]:
    """Forward client -> ``listen_addr`` -> ``server_addr`` and back, recording both ways.

    The recorded payloads are what each side sent (before ``transform``).
    """
    rec = UdpRecorder(server_addr, host, transform)
    rec.start()
    try:
        yield rec
    finally:
        rec.stop()


def _packet(d: CapturedDatagram) -> bytes:
    udp = dpkt.udp.UDP(sport=d.src[1], dport=d.dst[1], data=d.data)
    udp.ulen = len(udp)
    src_ip = ipaddress.ip_address(d.src[0])
    dst_ip = ipaddress.ip_address(d.dst[0])
    ip: dpkt.Packet
    if src_ip.version == 4:
        ip = dpkt.ip.IP(src=src_ip.packed, dst=dst_ip.packed, p=dpkt.ip.IP_PROTO_UDP, ttl=64,
                        data=udp)
        ip.len = len(ip)
        eth_type = dpkt.ethernet.ETH_TYPE_IP
    else:
        ip = dpkt.ip6.IP6(src=src_ip.packed, dst=dst_ip.packed, nxt=dpkt.ip.IP_PROTO_UDP,
                          hlim=64, data=udp)
        ip.plen = len(udp)
        eth_type = dpkt.ethernet.ETH_TYPE_IP6
    eth = dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02",
                                 type=eth_type, data=ip)
    return bytes(eth)


def write_pcap(path: Path, datagrams: list[CapturedDatagram]) -> Path:
    """Write the datagrams as a classic pcap, Ethernet/IPv4-or-IPv6/UDP (tshark reads it)."""
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB)
        for d in datagrams:
            writer.writepkt(_packet(d), ts=d.ts)
    return path


def read_pcap_payloads(path: Path) -> list[bytes]:
    """UDP payloads of a pcap/pcapng (Ethernet) from :func:`write_pcap` or tshark on ``lo``.

    :data:`CAPTURE_END` markers are left out.
    """
    out: list[bytes] = []
    with path.open("rb") as f:
        for _, buf in dpkt.pcap.UniversalReader(f):
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6) and isinstance(ip.data, dpkt.udp.UDP):
                payload = bytes(ip.data.data)
                if payload != CAPTURE_END:
                    out.append(payload)
    return out


CAPTURE_END = b"dtlsproxy-capture-end"
"""Payload of the marker datagram :func:`tshark_capture` sends before it stops tshark."""


@contextlib.contextmanager
def tshark_capture(tshark: str, path: Path, port: int, interface: str = "lo",
                   host: str = "127.0.0.1", timeout: float = 10.0,
                   also: tuple[int, ...] = ()) -> Iterator[Path]:
    """Run ``tshark -i lo -f "udp port N" -w path`` around the block (needs capture rights);
    ``also``: more UDP ports captured.

    Starts capturing before the block runs: waits for tshark's ``File:`` log line
    (``Capturing on`` comes a few ms before dumpcap really captures). At the end it
    sends one marker datagram (:data:`CAPTURE_END`) to ``host:port`` and waits until
    it is in the file, because libpcap hands packets over in blocks (up to ~250 ms
    late): so every earlier packet is in the file too. Then SIGINT, always reaped.
    The marker is the last packet; :func:`read_pcap_payloads` leaves it out.
    """
    bpf = " or ".join(f"udp port {p}" for p in (port, *also))
    tool = ToolProcess([tshark, "-i", interface, "-f", bpf, "-w", str(path)])
    with tool:
        tool.wait_for(r"File: ", timeout)
        try:
            yield path
        finally:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as marker:
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline:
                    marker.sendto(CAPTURE_END, (host, port))
                    time.sleep(0.1)
                    if path.exists() and CAPTURE_END in path.read_bytes():
                        break
            tool.stop(signal.SIGINT, group=False)  # tshark stops its dumpcap cleanly
