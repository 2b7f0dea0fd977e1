"""UDP sockets for the relay: bind with clear errors, big buffers, asyncio-dgram streams.

Every socket is opened through asyncio-dgram (``from_socket``/``connect``) and then
its transport is handed a plain :class:`asyncio.DatagramProtocol` (``attach``): the
forwarding path runs in ``datagram_received`` and calls ``transport.sendto`` directly,
without asyncio-dgram's queue and future per datagram (see ``docs/relay-performance.md``
for what each choice costs).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
from typing import Any

import asyncio_dgram

from proxy.events import Address, format_address


class RelayError(Exception):
    """A problem the user must fix before the relay can run; ``str()`` is the message."""


def family_of(addr: Address) -> socket.AddressFamily:
    """AF_INET6 for an IPv6 host, else AF_INET."""
    return socket.AF_INET6 if ":" in addr[0] else socket.AF_INET


def _explain_bind(addr: Address, exc: OSError, what: str) -> RelayError:
    where = format_address(addr)
    if exc.errno == errno.EADDRINUSE:
        return RelayError(
            f"cannot bind {what} {where}: port {addr[1]} is already in use "
            "(another dtlsproxy, or the peer itself?); pick another port or stop that process"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return RelayError(
            f"cannot bind {what} {where}: address {addr[0]} is not available on this machine "
            "(use one of its own addresses, or 0.0.0.0 / ::)"
        )
    if exc.errno == errno.EACCES:
        return RelayError(f"cannot bind {what} {where}: permission denied (ports < 1024?)")
    return RelayError(f"cannot bind {what} {where}: {exc.strerror or exc}")


def set_buffers(sock: socket.socket, size: int) -> int:
    """Ask for ``size`` bytes of receive and send buffer; return the receive buffer granted.

    As root SO_RCVBUFFORCE passes ``net.core.rmem_max``; otherwise the kernel caps it.
    The value returned is what the kernel reports (Linux doubles the request for its
    bookkeeping).
    """
    if size <= 0:
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    for opt_force, opt in ((33, socket.SO_RCVBUF), (32, socket.SO_SNDBUF)):
        # 33 = SO_RCVBUFFORCE, 32 = SO_SNDBUFFORCE (Linux; need CAP_NET_ADMIN)
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt_force, size)
        except OSError:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, opt, size)
    return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))


def check_free(addr: Address, what: str) -> None:
    """Fail with a clear RelayError if ``addr`` cannot be bound exclusively right now."""
    if addr[1] == 0:
        return
    probe = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    try:
        probe.bind(addr)
    except OSError as exc:
        raise _explain_bind(addr, exc, what) from None
    finally:
        probe.close()


def bind_socket(addr: Address, rcvbuf: int, what: str, *, reuse_port: bool = True) -> socket.socket:
    """A non-blocking UDP socket bound to ``addr`` (port 0 = any free port).

    ``reuse_port`` lets the relay add a connected per-peer socket on the same port
    (the kernel hands the peer's datagrams to it, and ICMP errors come back on it);
    :func:`check_free` is called first so a port used by anyone else is refused.
    """
    check_free(addr, what)
    sock = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    try:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        set_buffers(sock, rcvbuf)
        sock.bind(addr)
    except OSError as exc:
        sock.close()
        raise _explain_bind(addr, exc, what) from None
    sock.setblocking(False)
    return sock


def connected_socket(local: Address, peer: Address, rcvbuf: int) -> socket.socket:
    """A socket on the same local port as a relay side, connected to ``peer``."""
    sock = socket.socket(family_of(local), socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        set_buffers(sock, rcvbuf)
        sock.bind(local)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


EMPTY_RETRIES = 20
"""Times a zero-length datagram is tried again (1 ms apart) on a full socket buffer."""


class Endpoint:
    """An asyncio-dgram stream whose transport runs our protocol (or asyncio-dgram's own)."""

    def __init__(self, stream: Any, sock: socket.socket | None) -> None:
        self.stream = stream
        self.sock = sock
        self.transport: asyncio.DatagramTransport = stream._transport
        self._raw: socket.socket | None = None

    def send_empty(self, addr: Address | None, tries: int = EMPTY_RETRIES) -> None:
        """Send a zero-length datagram to ``addr`` (None: the connected peer).

        asyncio's and uvloop's datagram transports silently drop an empty payload
        (``sendto(b"")`` returns and sends nothing), so it goes out on the socket itself;
        a full socket buffer is retried a few times, as the transport would queue it.
        """
        sock = self.sock or self._raw
        if sock is None:  # asyncio_dgram.connect made the socket: a duplicate to send on
            fileno = self.transport.get_extra_info("socket").fileno()
            sock = self._raw = socket.socket(fileno=os.dup(fileno))
            sock.setblocking(False)
        try:
            if addr is None:
                sock.send(b"")
            else:
                sock.sendto(b"", addr)
        except (BlockingIOError, InterruptedError):
            if tries > 0 and not self.transport.is_closing():
                asyncio.get_running_loop().call_later(0.001, self.send_empty, addr, tries - 1)
        except OSError:  # e.g. an ICMP error queued on it: error_received reports those
            pass

    @property
    def sockname(self) -> Address:
        name = self.transport.get_extra_info("sockname")
        return (str(name[0]), int(name[1]))

    def attach(self, protocol: asyncio.DatagramProtocol) -> None:
        """Make ``protocol`` receive this socket's datagrams and errors (the fast path)."""
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        max_size = getattr(self.transport, "max_size", None)
        if isinstance(max_size, int) and max_size > 65536:
            # stdlib asyncio reads into a 256 KiB buffer: each recvfrom then pays an
            # mmap/munmap. 64 KiB covers any UDP payload.
            self.transport.max_size = 65536  # type: ignore[attr-defined]

    def close(self) -> None:
        self.transport.close()
        if self._raw is not None:
            self._raw.close()


async def open_endpoint(sock: socket.socket) -> Endpoint:
    """Wrap a bound, unconnected socket with ``asyncio_dgram.from_socket``."""
    stream = await asyncio_dgram.from_socket(sock)
    return Endpoint(stream, sock)


async def open_connected(local: Address, peer: Address, rcvbuf: int) -> Endpoint:
    """A per-peer socket sharing ``local``'s port, connected to ``peer``.

    Connected after asyncio-dgram wraps it (its ``from_socket`` cannot wrap a connected
    socket on uvloop); sends still name the peer, which Linux accepts.
    """
    sock = connected_socket(local, peer, rcvbuf)
    stream = await asyncio_dgram.from_socket(sock)
    sock.connect(peer)
    return Endpoint(stream, sock)


async def open_upstream(upstream: Address, rcvbuf: int) -> Endpoint:
    """Reverse mode: a new socket connected to the upstream (``asyncio_dgram.connect``)."""
    stream: Any = await asyncio_dgram.connect(upstream)
    ep = Endpoint(stream, None)
    sock_obj = ep.transport.get_extra_info("socket")
    if sock_obj is not None:
        with contextlib.suppress(OSError):
            for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                sock_obj.setsockopt(socket.SOL_SOCKET, opt, rcvbuf)
    return ep
