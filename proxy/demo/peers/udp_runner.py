"""Drive a :class:`~proxy.demo.peers.pyopenssl_peer.DtlsEndpoint` over a real UDP socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from proxy.demo.peers.pyopenssl_peer import AlertInfo, DtlsEndpoint, Role
from proxy.events import Address


@dataclass
class PeerResult:
    """How one peer's run ended."""

    role: Role
    ok: bool
    """Handshake done, no OpenSSL error, and the expected application data arrived."""
    handshake_done: bool
    error: str | None
    """OpenSSL's reason, or ``"timed out ..."`` when the deadline passed first."""
    alerts: list[AlertInfo]
    received_app_data: list[bytes]
    cipher: str | None
    srtp_profile: str | None
    peer_fingerprint: str | None
    local_addr: Address
    remote_addr: Address | None
    datagrams: list[tuple[float, str, bytes]] = field(default_factory=list, repr=False)
    """``(unix time, "out" | "in", payload)`` of every datagram this peer sent or received."""
    retransmission_timeouts: int = 0
    """How often OpenSSL's retransmission timer fired."""

    @property
    def alert(self) -> AlertInfo | None:
        """The first fatal alert, else the last alert, else None."""
        fatal = [a for a in self.alerts if a.fatal]
        return fatal[0] if fatal else (self.alerts[-1] if self.alerts else None)


class _Inbox(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[bytes, Address]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.queue.put_nowait((data, (str(addr[0]), int(addr[1]))))

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable and such
        pass


class UdpPeer:
    """A bound UDP socket on loopback plus the endpoint it drives. Create with :meth:`bind`."""

    def __init__(self, endpoint: DtlsEndpoint, transport: asyncio.DatagramTransport,
                 inbox: _Inbox) -> None:
        self.endpoint = endpoint
        self._transport = transport
        self._inbox = inbox

    @classmethod
    async def bind(cls, endpoint: DtlsEndpoint,
                   local_addr: Address = ("127.0.0.1", 0)) -> UdpPeer:
        """Bind the socket now, so a server's port is known before its client starts."""
        loop = asyncio.get_running_loop()
        inbox = _Inbox()
        transport, _ = await loop.create_datagram_endpoint(lambda: inbox, local_addr=local_addr)
        return cls(endpoint, transport, inbox)

    @property
    def local_addr(self) -> Address:
        """The bound (host, port)."""
        sockname = self._transport.get_extra_info("sockname")
        return (str(sockname[0]), int(sockname[1]))

    def close(self) -> None:
        """Close the socket and the endpoint."""
        self._transport.close()
        self.endpoint.close()

    async def run(self, remote_addr: Address | None = None, *, app_data: bytes | None = b"ping",
                  expect_app_data: int | None = None, timeout: float = 10.0,
                  close_notify: bool = True) -> PeerResult:
        """Handshake, send ``app_data`` once connected, wait for ``expect_app_data`` messages.

        A client needs ``remote_addr``; a server learns it from the first datagram.
        ``expect_app_data`` defaults to 1 when ``app_data`` is sent, else 0. Ends on
        success, on an OpenSSL failure (after its alert is on the wire), or at
        ``timeout`` seconds. Sends close_notify on success if ``close_notify``.
        """
        ep = self.endpoint
        expect = expect_app_data if expect_app_data is not None else (1 if app_data else 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        remote = remote_addr
        log: list[tuple[float, str, bytes]] = []
        sent_app = False
        fired = 0
        timed_out = False
        if ep.config.role == "client":
            if remote is None:
                raise ValueError("a client needs remote_addr")
            ep.start()

        def flush() -> None:
            for d in ep.datagrams_to_send():
                if remote is not None:
                    self._transport.sendto(d, remote)
                    log.append((time.time(), "out", d))

        while True:
            flush()
            if ep.failed:
                break
            if ep.handshake_done and not sent_app:
                sent_app = True
                if app_data:
                    ep.send_app_data(app_data)
                    flush()
            if ep.handshake_done and len(ep.received_app_data) >= expect:
                break
            if ep.peer_closed:
                break
            now = loop.time()
            if now >= deadline:
                timed_out = True
                break
            wait = deadline - now
            t = ep.get_timeout()
            if t is not None:
                wait = min(wait, max(t, 0.0))
            try:
                data, addr = await asyncio.wait_for(self._inbox.queue.get(), wait)
            except TimeoutError:
                if ep.handle_timeout():
                    fired += 1
                continue
            if remote is None:
                remote = addr
            if addr != remote:
                continue
            log.append((time.time(), "in", data))
            ep.receive(data)

        ok = ep.handshake_done and not ep.failed and len(ep.received_app_data) >= expect
        if ok and close_notify:
            ep.shutdown()
            flush()
        error = ep.error
        if not ok and error is None and ep.peer_closed:
            error = "peer closed the connection (close_notify) before its application data"
        elif timed_out and error is None:
            stage = "application data" if ep.handshake_done else "handshake"
            error = f"timed out after {timeout:g} s waiting for {stage}"
        return PeerResult(
            role=ep.config.role, ok=ok, handshake_done=ep.handshake_done, error=error,
            alerts=list(ep.alerts), received_app_data=list(ep.received_app_data),
            cipher=ep.cipher, srtp_profile=ep.srtp_profile,
            peer_fingerprint=ep.peer_fingerprint, local_addr=self.local_addr,
            remote_addr=remote, datagrams=log, retransmission_timeouts=fired,
        )


async def run_udp_peer(endpoint: DtlsEndpoint, local_addr: Address = ("127.0.0.1", 0),
                       remote_addr: Address | None = None, **kwargs: object) -> PeerResult:
    """Bind, :meth:`UdpPeer.run` (same keyword arguments), close. One call per peer."""
    peer = await UdpPeer.bind(endpoint, local_addr)
    try:
        return await peer.run(remote_addr, **kwargs)  # type: ignore[arg-type]
    finally:
        peer.close()


async def run_udp_pair(
    client: DtlsEndpoint, server: DtlsEndpoint, *, host: str = "127.0.0.1",
    server_port: int = 0, route: Callable[[Address], Awaitable[Address]] | None = None,
    timeout: float = 10.0, client_data: bytes | None = b"ping",
    server_data: bytes | None = b"pong",
) -> tuple[PeerResult, PeerResult]:
    """Run a server and a client on ``host`` (loopback); return (client, server) results.

    ``route`` is awaited with the server's bound address and returns where the
    client must send (e.g. start a proxy towards the server and return its
    listening address); without it the client talks to the server directly.
    """
    server_peer = await UdpPeer.bind(server, (host, server_port))
    client_peer = await UdpPeer.bind(client, (host, 0))
    try:
        target = await route(server_peer.local_addr) if route else server_peer.local_addr
        results = await asyncio.gather(
            client_peer.run(target, app_data=client_data, timeout=timeout),
            server_peer.run(None, app_data=server_data, timeout=timeout),
        )
        return results[0], results[1]
    finally:
        client_peer.close()
        server_peer.close()
