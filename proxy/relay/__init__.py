"""The live relay (``dtlsproxy run``): asyncio-dgram sockets, forward first, then decode.

Public API: :func:`start_relay` (``await start_relay(config, bus) -> Relay``),
:class:`Relay`, :class:`RelayError`.
"""

from proxy.relay.app import Relay, start_relay
from proxy.relay.sockets import RelayError

__all__ = ["Relay", "RelayError", "start_relay"]
