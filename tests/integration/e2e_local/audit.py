"""What the API server's audit log says the operator's and the routers' ServiceAccounts did.

Requests are read from `ControlPlane.audit_events()` (the log kube-apiserver writes, one JSON
object per request, with who asked, what, and the answer's code).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["service_account", "Request", "requests_by", "refused"]


def service_account(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


@dataclass(frozen=True)
class Request:
    user: str
    verb: str
    resource: str  # "configmaps", "endpointslices.discovery.k8s.io", or the URI when not a resource
    namespace: str
    name: str
    code: int

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.name else self.namespace
        return f"{self.user}: {self.verb} {self.resource} {where} -> {self.code}"


def _request(event: dict[str, Any]) -> Request:
    ref = event.get("objectRef") or {}
    group = ref.get("apiGroup")
    resource = f"{ref.get('resource')}.{group}" if ref.get("resource") and group else ref.get("resource") or event.get("requestURI", "")
    if ref.get("subresource"):
        resource += f"/{ref['subresource']}"
    return Request(
        user=(event.get("user") or {}).get("username", ""), verb=event.get("verb", ""), resource=resource,
        namespace=ref.get("namespace", ""), name=ref.get("name", ""), code=int((event.get("responseStatus") or {}).get("code", 0)),
    )  # fmt: skip


def requests_by(events: Iterable[dict[str, Any]], users: set[str]) -> list[Request]:
    return [request for request in map(_request, events) if request.user in users]


def refused(requests: Iterable[Request]) -> list[Request]:
    """Requests the API server refused for want of permission (403)."""
    return [request for request in requests if request.code == 403]
