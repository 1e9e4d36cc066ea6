"""Who may act, and how a forged request is told apart from the page's own.

- Bound to loopback, the dashboard acts with the caller's own kubeconfig: only the caller's
  machine reaches it, and the caller could run `kubectl modelrollout promote` anyway.
- Bound beyond loopback it is read-only unless a bearer token is configured (the chart mounts
  it from a Secret) or Kubernetes identities are accepted; then every action must carry
  `Authorization: Bearer <token>`: the dashboard's token, or the person's own Kubernetes token,
  which the API server authenticates (TokenReview) and authorizes to patch the rollout
  (SubjectAccessReview) before the dashboard acts for them (`identity.py`).
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

__all__ = ["SESSION_COOKIE", "CSRF_HEADER", "LOOPBACK_HOSTS", "Guard", "Denied", "is_loopback"]

SESSION_COOKIE = "modelrollout_session"
CSRF_HEADER = "x-csrf-token"
# The names a dashboard bound to loopback answers to (any port).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


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
    kube_identity: bool = False
    _secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @property
    def local(self) -> bool:
        return is_loopback(self.address)

    @property
    def actions_enabled(self) -> bool:
        return self.allow_actions and (self.local or self.needs_token)

    @property
    def needs_token(self) -> bool:
        """Actions carry a bearer token: the dashboard's own, or a Kubernetes one."""
        return self.token is not None or self.kube_identity

    def is_dashboard_token(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def why_read_only(self) -> str:
        if not self.allow_actions:
            return "actions are turned off for this dashboard"
        return "this dashboard is reachable beyond localhost without a token or Kubernetes identities, so it is read-only"

    def new_session(self) -> str:
        return secrets.token_urlsafe(24)

    def csrf_token(self, session: str) -> str:
        return hmac.new(self._secret, session.encode(), hashlib.sha256).hexdigest()

    def check_action(
        self, session: str | None, csrf: str | None, origin: str | None, host: str | None, authorization: str | None
    ) -> str | None:
        """Raise Denied unless this POST may act; the bearer token still to check, if any.

        A token that is the dashboard's own is checked here (None is returned); another one is
        returned for the caller to check as a Kubernetes identity, when those are accepted.
        """
        if not self.actions_enabled:
            raise Denied(403, self.why_read_only())
        if origin and origin != "null" and urlsplit(origin).netloc != host:
            raise Denied(403, f"cross-site request refused: Origin {origin} is not this dashboard ({host})")
        if not session or not csrf or not hmac.compare_digest(csrf, self.csrf_token(session)):
            raise Denied(403, "missing or wrong CSRF token: reload the page and try again")
        if not self.needs_token:
            return None
        scheme, _, given = (authorization or "").partition(" ")
        given = given.strip()
        if scheme.lower() == "bearer" and given:
            if self.is_dashboard_token(given):
                return None
            if self.kube_identity:
                return given
        raise Denied(401, self.credentials_wanted())

    def credentials_wanted(self) -> str:
        wanted = ["the dashboard's bearer token"] if self.token is not None else []
        wanted += ["your Kubernetes bearer token"] if self.kube_identity else []
        return f"this action needs {' or '.join(wanted)}"
