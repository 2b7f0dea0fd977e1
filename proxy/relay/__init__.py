"""The live relay (``dtlsproxy run``): forward first, then decode.

Public API: :func:`start_relay` (``await start_relay(config, bus) -> Relay``),
:class:`Relay` (``side_a_addr``, ``side_b_addr``, ``listen_addr``, ``add_tap``,
``tick``, ``close``), :class:`RelayError` (a user-facing message).

Socket library and forwarding path. The product owner chose asyncio-dgram: every
socket is opened with it (``asyncio_dgram.from_socket`` / ``connect``), and its
recv()/send() loop is available as ``--engine dgram``. Its cost was measured
(``bench/relay.py``, numbers in ``docs/relay-performance.md``): an await per datagram
means a queue put/get and a future, about twice the CPU per datagram of the default
path, and its queue is unbounded (a backlog grows in memory instead of the socket
buffer). So by default the forwarding runs one level below, as the issue allows: a
plain ``asyncio.DatagramProtocol`` installed on asyncio-dgram's transport
(``transport.set_protocol``), whose ``datagram_received`` sends at once: on the
socket connected to the peer (``socket.send``, 0.45 us cheaper than
``transport.sendto(data, addr)``, which converts the address every time) while the
transport has nothing queued, else through the transport; on uvloop when installed
(libuv reads up to 32 datagrams per wake-up), and on the stdlib loop with
``transport.max_size = 65536`` (its 256 KiB default costs an mmap/munmap per
datagram). Sockets ask for 4 MiB SO_RCVBUF/SO_SNDBUF (SO_RCVBUFFORCE
as root); the granted size is logged at start.

What follows the send is queued and done in batches, within 5 ms or every 64
datagrams (:mod:`proxy.relay.recorder`): ``Tracker.receive`` (media counted per run
of one source and destination), bus publish, pcapng legs. Under overload the decoder
sheds media counting (reported), never DTLS, never forwarding.

ICMP port unreachable: Linux only reports it on a connected UDP socket (an
unconnected one needs IP_RECVERR, which crashes uvloop 0.23), so each known peer
gets a socket on the side's own port (SO_REUSEPORT) connected to it; the kernel
delivers that peer's datagrams to it and ``error_received`` gets the
ConnectionRefusedError. Before switching, datagrams still queued on the main
socket are handed over first, so order is kept.
"""

from proxy.relay.app import Relay, start_relay
from proxy.relay.sockets import RelayError

__all__ = ["Relay", "RelayError", "start_relay"]
