"""dtlsproxy: a DTLS debugging proxy for WebRTC.

Layers (dependencies point down only): ``ui`` -> ``proxy.cli`` -> ``proxy.relay``
-> ``proxy.export`` / ``proxy.bus`` -> sans-IO core (``proxy.session``,
``proxy.verdict``, ``proxy.decode.dtls``, ``proxy.events``). Nothing in ``proxy``
imports textual.
"""

__version__ = "0.1.0"
