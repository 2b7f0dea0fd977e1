"""What the user asked of a report: redactions, title, how much to draw."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from proxy.decode.dtls.x509 import CertificateSummary
from proxy.events import MessageSeen
from proxy.report.model import SessionData

MAX_SESSIONS = 50
"""Sessions drawn in full in an HTML report; the others are listed in the overview."""

_KEY_WORDS = ("secret", "premaster", "key_block", "keylog", "key log line", "private")


@dataclass(frozen=True)
class ReportOptions:
    """How a report is made."""

    redact_addresses: bool = False
    """Every IP address (and mDNS name) replaced by a consistent pseudonym."""
    redact_certificates: bool = False
    """Certificates shown by SHA-256 fingerprint only (no subject, issuer, key, validity,
    bytes)."""
    title: str = "DTLS handshake report"
    source: str = ""
    """What was analysed (a file name), shown under the title."""
    max_sessions: int = MAX_SESSIONS
    overview_notes: tuple[str, ...] = ()
    """What changed, and since when (:meth:`proxy.compare.changes.ChangeTracker.findings`):
    sentences for the overview."""
    overview_groups: tuple[tuple[int, str], ...] = ()
    """(sessions, outcome and handshake shape), largest first."""

    @classmethod
    def of(cls, redact: frozenset[str] = frozenset(), **kw: object) -> ReportOptions:
        """From the ``--redact`` set."""
        return cls(redact_addresses="addresses" in redact,
                   redact_certificates="certificates" in redact, **kw)  # type: ignore[arg-type]


def is_key_material(name: str) -> bool:
    """A check value whose name says it is (or derives) a secret: never shown."""
    low = name.lower()
    return any(w in low for w in _KEY_WORDS)


def _summaries(messages: Iterable[MessageSeen]) -> Iterator[CertificateSummary]:
    for m in messages:
        for entry in getattr(m.body, "entries", None) or ():
            summ = getattr(entry, "summary", None)
            if isinstance(summ, CertificateSummary):
                yield summ


def certificate_names(sd: SessionData | Iterable[MessageSeen]) -> list[str]:
    """What ``--redact certificates`` hides wherever it appears in a text: subjects,
    issuers and serial numbers as the certificates spell them (not their parts: a CN
    such as ``client`` is also an ordinary word)."""
    messages = sd.messages if isinstance(sd, SessionData) else sd
    return [x for s in _summaries(messages) for x in (s.subject, s.issuer, s.serial) if x]
