"""Real DTLS peers (pyOpenSSL) for ``dtlsproxy demo`` and the tests.

- :mod:`proxy.demo.peers.certs`: WebRTC-style self-signed identities and SDP fingerprints.
- :mod:`proxy.demo.peers.pyopenssl_peer`: :class:`DtlsEndpoint`, datagrams in and out.
- :mod:`proxy.demo.peers.udp_runner`: run endpoints over real UDP sockets with asyncio.
"""

from proxy.demo.peers.certs import Identity, KeyType, make_identity, sdp_fingerprint, write_secret
from proxy.demo.peers.pyopenssl_peer import (
    AlertInfo,
    DtlsEndpoint,
    EndpointConfig,
    PairResult,
    describe_ssl_error,
    pump_pair,
)
from proxy.demo.peers.udp_runner import PeerResult, UdpPeer, run_udp_pair, run_udp_peer

__all__ = [
    "AlertInfo",
    "DtlsEndpoint",
    "EndpointConfig",
    "Identity",
    "KeyType",
    "PairResult",
    "PeerResult",
    "UdpPeer",
    "describe_ssl_error",
    "make_identity",
    "pump_pair",
    "run_udp_pair",
    "run_udp_peer",
    "sdp_fingerprint",
    "write_secret",
]
