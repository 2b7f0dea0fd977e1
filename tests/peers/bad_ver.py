"""A DTLS 1.0 capture rewritten into OpenSSL 0.9.8's pre-RFC format (``DTLS1_BAD_VER``).

No peer on this machine speaks 0x0100 as a server (OpenSSL 3.0 keeps only a client for
Cisco AnyConnect, and it resumes a session made over TLS), so the test capture is built
from a real ``openssl s_server -dtls1`` / ``s_client -dtls1`` RSA key exchange: every
record version, the hellos' versions and the HelloVerifyRequest's become 0x0100, and the
ClientKeyExchange loses the 2-byte length of its EncryptedPreMasterSecret, as 0.9.8 sent
it (Wireshark: ``DTLSV1DOT0_OPENSSL_VERSION``, no length vector). The ciphertext itself is
the real one (its premaster still carries the real client's 0xfeff; the Finished were
made over the unrewritten transcript, so they no longer verify).

    python -m tests.peers.bad_ver IN.pcap OUT.pcapng
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from proxy.capture.pcap import PcapngWriter, read_capture

BAD_VER = b"\x01\x00"
_VERSIONED = {1: 0, 2: 0, 3: 0}
"""Handshake types whose body starts with a version: ClientHello, ServerHello, HVR."""


def to_bad_ver(datagram: bytes) -> bytes:
    """One datagram's plaintext records in the 0x0100 format (encrypted ones: version)."""
    out = bytearray()
    pos = 0
    while pos + 13 <= len(datagram):
        ctype, epoch = datagram[pos], int.from_bytes(datagram[pos + 3:pos + 5], "big")
        length = int.from_bytes(datagram[pos + 11:pos + 13], "big")
        body = bytearray(datagram[pos + 13:pos + 13 + length])
        if ctype == 22 and epoch == 0:
            body = _handshake(body)
        out += bytes([ctype]) + BAD_VER + datagram[pos + 3:pos + 11]
        out += len(body).to_bytes(2, "big") + body
        pos += 13 + length
    return bytes(out + datagram[pos:])


def _handshake(frag: bytes | bytearray) -> bytearray:
    out = bytearray()
    pos = 0
    while pos + 12 <= len(frag):
        mtype = frag[pos]
        total = int.from_bytes(frag[pos + 1:pos + 4], "big")
        offset = int.from_bytes(frag[pos + 6:pos + 9], "big")
        flen = int.from_bytes(frag[pos + 9:pos + 12], "big")
        body = bytearray(frag[pos + 12:pos + 12 + flen])
        if mtype in _VERSIONED and offset == 0:
            body[0:2] = BAD_VER
        if mtype == 16:  # ClientKeyExchange: no length before the encrypted premaster
            if offset != 0 or flen != total:
                raise ValueError("a fragmented ClientKeyExchange is not rewritten")
            body, total, flen = body[2:], total - 2, flen - 2
        out += bytes([mtype]) + total.to_bytes(3, "big") + frag[pos + 4:pos + 9]
        out += flen.to_bytes(3, "big") + body
        pos += 12 + int.from_bytes(frag[pos + 9:pos + 12], "big")
    return out + frag[pos:]


def rewrite(src: Path, dst: Path) -> int:
    """``src`` (a real DTLS 1.0 capture) as ``dst`` in the 0x0100 format; datagrams."""
    n = 0
    with read_capture(src) as cap, PcapngWriter(dst, force=True) as out:
        for d in cap:
            out.write(dataclasses.replace(d, data=to_bad_ver(d.data)))
            n += 1
    return n


if __name__ == "__main__":
    print(rewrite(Path(sys.argv[1]), Path(sys.argv[2])), "datagrams")
