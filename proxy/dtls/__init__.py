"""Sans-IO DTLS wire decoding: records, handshake fragments, messages, registries.

Only :class:`~proxy.dtls.reader.DecodeError` ever leaves a parser here.
"""

from proxy.dtls.reader import DecodeError, Reader

__all__ = ["DecodeError", "Reader"]
