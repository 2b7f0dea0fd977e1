"""SCTP over DTLS (RFC 8261, RFC 9260) and DCEP (RFC 8832), decoded sans-IO.

Hand-written: no maintained library decodes SCTP chunks and DCEP from bytes for an
observer (see docs/architecture.md). :mod:`.packet` (common header, chunk framing,
checksum), :mod:`.chunks` (one parser per chunk type), :mod:`.params` (parameters,
error causes, RE-CONFIG requests), :mod:`.dcep`, :mod:`.registry` (IANA names).
"""
