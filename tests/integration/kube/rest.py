"""The Scene's own reads and writes: the API server's REST interface with dict bodies.

The same requests reach the stand-in and a real API server, so a test says what it does to
the cluster once and runs on either. Objects are named as `kubectl` names them with a group:
`configmaps`, `deployments.apps`, `leases.coordination.k8s.io`.
"""

from __future__ import annotations

from typing import Any

import orjson
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.api.resource import GROUP, PLURAL, VERSION

__all__ = ["Rest", "RESOURCES"]

JSON, MERGE_PATCH = "application/json", "application/merge-patch+json"
_REQUEST_TIMEOUT_S = 15.0

# name -> API path prefix; every one of them is namespaced.
RESOURCES: dict[str, str] = {
    PLURAL: f"/apis/{GROUP}/{VERSION}",
    "configmaps": "/api/v1",
    "events": "/api/v1",
    "secrets": "/api/v1",
    "services": "/api/v1",
    "serviceaccounts": "/api/v1",
    "deployments.apps": "/apis/apps/v1",
    "roles.rbac.authorization.k8s.io": "/apis/rbac.authorization.k8s.io/v1",
    "rolebindings.rbac.authorization.k8s.io": "/apis/rbac.authorization.k8s.io/v1",
    "endpointslices.discovery.k8s.io": "/apis/discovery.k8s.io/v1",
    "leases.coordination.k8s.io": "/apis/coordination.k8s.io/v1",
}


def _path(resource: str, namespace: str, name: str | None = None) -> str:
    if resource not in RESOURCES:
        raise KeyError(f"{resource!r} is not one of {sorted(RESOURCES)}")
    plural = resource.split(".", 1)[0]
    path = f"{RESOURCES[resource]}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path


class Rest:
    """Blocking verbs on namespaced objects, as whoever `api_client` authenticates as."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self._api = api_client

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            return self._call("GET", _path(resource, namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(self, resource: str, namespace: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        query = {"labelSelector": label_selector} if label_selector else {}
        items: list[dict[str, Any]] = self._call("GET", _path(resource, namespace), query=query).get("items") or []
        return items

    def create(self, resource: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", _path(resource, namespace), body=body)

    def replace(self, resource: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT of the whole object; its `metadata.resourceVersion` makes it conditional."""
        return self._call("PUT", _path(resource, namespace, body["metadata"]["name"]), body=body)

    def patch(self, resource: str, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch."""
        return self._call("PATCH", _path(resource, namespace, name), body=body, content_type=MERGE_PATCH)

    def delete(self, resource: str, namespace: str, name: str) -> None:
        """Deleted as `kubectl delete` does: dependents are left to the garbage collector."""
        self._call("DELETE", _path(resource, namespace, name), body={"propagationPolicy": "Background"})

    def _call(self, method: str, path: str, *, query: dict[str, str] | None = None, body: Any = None, content_type: str = JSON) -> Any:
        headers = {"Accept": JSON, "Content-Type": content_type}
        # param_serialize adds the credentials (a bearer token, when the kubeconfig has one) and the host.
        request = self._api.param_serialize(method, path, query_params=list((query or {}).items()), header_params=headers,
                                            body=body, auth_settings=["BearerToken"])  # fmt: skip
        response = self._api.call_api(*request, _request_timeout=_REQUEST_TIMEOUT_S)
        data = response.read()
        if response.status >= 400:
            raise ApiException(status=response.status, reason=response.reason, body=data.decode(errors="replace"))
        return orjson.loads(data) if data else None
