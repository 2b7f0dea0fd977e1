"""Long-term credentials (RFC 8489 §9.2) and the TURN REST API's time-limited ones.

Users are fixed ``name -> password`` pairs, or (coturn's ``use-auth-secret``, the
"TURN REST API" draft) usernames ``EXPIRY:NAME`` whose password is
``base64(HMAC-SHA1(secret, username))``: a web app hands those out and no list is kept
here. Nonces are stateless: the expiry time, bound to the client's address by an HMAC
under a key of this process, so a nonce cannot be moved to another client or extended.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from proxy.turn.stun import long_term_key


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who may allocate: fixed users and/or a TURN REST API shared secret, in one realm."""

    realm: str = "dtlsproxy"
    users: Mapping[str, str] = field(default_factory=dict)
    """Username -> password."""
    secret: str | None = None
    """TURN REST API shared secret (usernames ``EXPIRY:NAME``)."""

    def __repr__(self) -> str:  # passwords and the secret never reach a log
        return (f"Credentials(realm={self.realm!r}, users={sorted(self.users)!r}, "
                f"secret={'set' if self.secret else None})")

    def key(self, username: str, now: float) -> tuple[bytes | None, str]:
        """The integrity key for ``username``, or None and why not (for the log)."""
        password = self.users.get(username)
        if password is not None:
            return long_term_key(username, self.realm, password), ""
        if self.secret is not None:
            stamp = username.split(":", 1)[0]
            if not stamp.isdigit():
                return None, (f"unknown user {username!r} (and not a TURN REST API "
                              "username EXPIRY:NAME)")
            if int(stamp) < now:
                ago = int(now) - int(stamp)
                return None, f"TURN REST API username {username!r} expired {ago} s ago"
            return long_term_key(username, self.realm, rest_password(self.secret, username)), ""
        return None, f"unknown user {username!r}"


def rest_password(secret: str, username: str) -> str:
    """The TURN REST API password of ``username``: base64(HMAC-SHA1(secret, username))."""
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


class Nonces:
    """Stateless nonces: ``EXPIRY(hex) + HMAC(key, expiry, client)``, valid ``lifetime`` s."""

    def __init__(self, lifetime: float = 600.0, key: bytes | None = None) -> None:
        self.lifetime = lifetime
        self._key = key if key is not None else os.urandom(16)

    def _mac(self, expiry: int, client: str) -> str:
        msg = f"{expiry}|{client}".encode()
        return hmac.new(self._key, msg, hashlib.sha256).hexdigest()[:24]

    def make(self, client: str, now: float) -> str:
        """A fresh nonce for ``client`` (its ``host:port`` and transport)."""
        expiry = int(now + self.lifetime)
        return f"{expiry:08x}{self._mac(expiry, client)}"

    def valid(self, nonce: str, client: str, now: float) -> bool:
        """Issued by this process for this client, and not expired (else: 438 Stale Nonce)."""
        head, mac = nonce[:8], nonce[8:]
        try:
            expiry = int(head, 16)
        except ValueError:
            return False
        return expiry >= now and hmac.compare_digest(mac, self._mac(expiry, client))
