"""The part of ``dtlsproxy analyze``'s time that no decoder design can remove.

Issue 2 asks for 3x tshark's handshakes/s. Whatever the decoder is written in, a run of
``dtlsproxy analyze --format jsonl`` on the benchmark capture has to

* start a Python interpreter and import the libraries the checks need (``cryptography``'s
  X.509 and ECDSA, ``json``);
* do the ``cryptography`` work of the checks: load each certificate once and run every
  signature verification the checks run (CertificateVerify, ServerKeyExchange and each
  self-signed certificate's own signature), with nothing of ours around the calls;

:func:`measure` times the second on the same capture, :data:`STARTUP_ARGV` is the first,
both in the same run as the tools, so the benchmark can say how much of the 3x budget is
left for the project's own code. For reference it also times the standard library's C
JSON encoder writing the same text from ready-made dicts (not part of the floor:
dtlsproxy's own writer, conversion included, is about as fast).
The inputs of the verifications are the real ones: they are recorded by running the
analysis once with the verification functions wrapped.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STARTUP_ARGV = [sys.executable, "-c",
                "import json, cryptography.x509\n"
                "from cryptography.hazmat.primitives.asymmetric import ec"]
"""Interpreter start-up plus the libraries' imports, without any of the project's code."""

_ECDSA_HASHES = {0x0403: "SHA256", 0x0503: "SHA384", 0x0603: "SHA512"}


@dataclass
class Floor:
    """Seconds of CPU (median of runs): ``crypto`` the unavoidable ``cryptography`` work,
    ``json`` the reference encoding; ``skipped`` counts verifications left out (not ECDSA:
    this floor only replays ECDSA)."""

    crypto: float
    json: float
    verifications: int
    certificates: int
    skipped: int


def _record(path: Path) -> tuple[list[tuple[bytes, int | None, bytes, bytes]], list[bytes]]:
    """Run the CLI's analysis once with the verification functions wrapped; returns the
    (certificate DER, scheme, signature, signed data) of every CertificateVerify and
    ServerKeyExchange check, and the DER of every certificate whose own signature is
    checked."""
    from proxy.analyze.pipeline import analyze_capture
    from proxy.decode.dtls import x509
    from proxy.decode.dtls.crypto import signatures
    from proxy.session import Tracker
    from proxy.verdict import VerdictEngine

    calls: list[tuple[bytes, int | None, bytes, bytes]] = []
    selfsigned: list[bytes] = []
    verify, own = signatures._verify, x509._own_signature

    def verify_spy(cert_der: bytes, scheme: int | None, signature: bytes, data: bytes,
                   dtls10: bool, whose: str) -> signatures.SignatureCheck:
        calls.append((cert_der, scheme, signature, data))
        return verify(cert_der, scheme, signature, data, dtls10, whose)

    def own_spy(cert: Any) -> Any:
        selfsigned.append(_der(cert))
        return own(cert)

    signatures._verify_cached.cache_clear()
    x509._SELF_SIGNATURE.clear()
    signatures._verify, x509._own_signature = verify_spy, own_spy
    try:
        for _ in analyze_capture(path, tracker=Tracker(verdict_hook=VerdictEngine())):
            pass
    finally:
        signatures._verify, x509._own_signature = verify, own
    # the checks memoize: the distinct inputs are what a first run verifies
    return list(dict.fromkeys(calls)), list(dict.fromkeys(selfsigned))


def _der(cert: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return bytes(cert.public_bytes(Encoding.DER))


def _median_cpu(fn: Callable[[], object], runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        c0 = time.process_time()
        fn()
        times.append(time.process_time() - c0)
    times.sort()
    return times[len(times) // 2]


def measure(path: Path, runs: int) -> Floor:
    """Time the unavoidable ``cryptography`` work and the reference JSON encoding."""
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from proxy.analyze.pipeline import analyze_capture
    from proxy.events import event_to_dict
    from proxy.session import Tracker
    from proxy.verdict import VerdictEngine

    calls, selfsigned = _record(path)
    ecdsa = [(der, getattr(hashes, _ECDSA_HASHES[scheme])(), sig, data)
             for der, scheme, sig, data in calls if scheme in _ECDSA_HASHES]
    ders = list(dict.fromkeys([*selfsigned, *(c[0] for c in ecdsa)]))

    def crypto() -> None:
        certs = {der: cx509.load_der_x509_certificate(der) for der in ders}
        keys: dict[bytes, ec.EllipticCurvePublicKey] = {}
        for der, c in certs.items():
            key = c.public_key()
            assert isinstance(key, ec.EllipticCurvePublicKey), "only ECDSA is replayed"
            keys[der] = key
        for der, algo, sig, data in ecdsa:
            keys[der].verify(sig, data, ec.ECDSA(algo))
        for der in selfsigned:
            c = certs[der]
            assert c.signature_hash_algorithm is not None
            keys[der].verify(c.signature, c.tbs_certificate_bytes,
                             ec.ECDSA(c.signature_hash_algorithm))

    dicts = [event_to_dict(ev)
             for ev in analyze_capture(path, tracker=Tracker(verdict_hook=VerdictEngine()))]
    encoder = json.JSONEncoder(separators=(",", ":"))

    def encode() -> None:
        sink = []
        for d in dicts:
            sink.append(encoder.encode(d))
        "\n".join(sink)

    return Floor(crypto=_median_cpu(crypto, runs), json=_median_cpu(encode, runs),
                 verifications=len(ecdsa) + len(selfsigned), certificates=len(ders),
                 skipped=len(calls) - len(ecdsa))
