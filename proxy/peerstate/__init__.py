"""The peers' own view of a call, from where engineers already have it (sans-IO).

Janus's Admin API (``handle_info``) and event handler POSTs (:mod:`.janus`), Chrome's
webrtc-internals dump (:mod:`.chrome`) and Firefox's about:webrtc data (:mod:`.firefox`)
become typed :class:`~.views.PeerView` values: the SDPs as each peer applied them, its
ICE and DTLS state, fingerprints, selected pair. :mod:`.match` ties a view to the
sessions the proxy sees (ICE ufrag in the STUN it relays, candidates, certificate
fingerprints); :mod:`.compare` puts the peer's view beside the proxy's and names where
they disagree. JSON in, typed values and events out: no socket, no clock, no file.
"""

from proxy.peerstate.views import PeerView, SdpSeen

__all__ = ["PeerView", "SdpSeen"]
