"""A minimal SDP carrying one DTLS fingerprint and its a=setup (tests' input)."""

from __future__ import annotations


def minimal_sdp(setup: str, fingerprint: str) -> str:
    """One audio m-line, ``a=fingerprint:sha-256`` and ``a=setup``, CRLF line ends."""
    return ("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
            f"a=fingerprint:sha-256 {fingerprint}\r\na=setup:{setup}\r\n")
