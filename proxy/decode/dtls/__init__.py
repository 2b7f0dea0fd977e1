"""Sans-IO DTLS wire decoding: records, handshake fragments, messages, registries.

Only :class:`~proxy.decode.dtls.reader.DecodeError` ever leaves a parser here.
"""

from proxy.decode.dtls.reader import DecodeError, Reader

__all__ = ["DecodeError", "Reader"]
