"""Who may act, and how a forged request is told apart from the page's own.

- Bound to loopback, the dashboard acts with the caller's own kubeconfig: only the caller's
  machine reaches it, and the caller could run `kubectl modelrollout promote` anyway.
- Bound beyond loopback it is read-only unless a bearer token is configured (the chart mounts
  it from a Secret); then every action must carry `Authorization: Bearer <token>`.
- CSRF: nothing changes state on GET; every action is a POST that carries the per-session token
  the page was rendered with (`X-CSRF-Token`, an HMAC of the session cookie, which is
  SameSite=Strict and HttpOnly), and an `Origin`, when sent, must be this server's. A form
  posted from another site has neither the header nor the cookie.
- Nothing secret is rendered: the token is never sent back, the CSRF token only to its session.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlsplit

__all__ = ["SESSION_COOKIE", "CSRF_HEADER", "Guard", "Denied", "is_loopback"]

SESSION_COOKIE = "modelrollout_session"
CSRF_HEADER = "x-csrf-token"


class Denied(Exception):
    """An action refused before anything was written: `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@dataclass
class Guard:
    address: str
    token: str | None = None
    allow_actions: bool = True
    _secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @property
    def local(self) -> bool:
        return is_loopback(self.address)

    @property
    def actions_enabled(self) -> bool:
        return self.allow_actions and (self.local or self.token is not None)

    @property
    def needs_token(self) -> bool:
        return self.token is not None

    def why_read_only(self) -> str:
        if not self.allow_actions:
            return "actions are turned off for this dashboard"
        return "this dashboard is reachable beyond localhost without a token, so it is read-only"

    def new_session(self) -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, session: str) -> str:
        return hmac.new(self._secret, session.encode(), hashlib.sha256).hexdigest()

    def check_action(self, session: str | None, csrf: str | None, origin: str | None, host: str | None, authorization: str | None) -> None:
        """Raise Denied unless this POST may act."""
        if not self.actions_enabled:
            raise Denied(403, self.why_read_only())
        if origin and origin != "null" and urlsplit(origin).netloc != host:
            raise Denied(403, f"cross-site request refused: Origin {origin} is not this dashboard ({host})")
        if not session or not csrf or not hmac.compare_digest(csrf, self.csrf_token(session)):
            raise Denied(403, "missing or wrong CSRF token: reload the page and try again")
        if self.token is not None:
            scheme, _, given = (authorization or "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token.encode()):
                raise Denied(401, "this action needs the dashboard's bearer token")
