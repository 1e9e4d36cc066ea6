"""Finding a rollout's router pods and reading their admin `/stats`.

Router pods, managed or sidecar, are selected by the headless Service `<name>-router`; its
EndpointSlices (from the informer cache) list every ready one with its admin port. Each
reconcile reads `/stats` from each of them once: the same reading tells which config
generation a router serves and feeds the built-in metrics. A listed address is reached as
`RouterAddress` says: itself in a cluster; a test harness whose routers answer on loopback,
which an EndpointSlice may not hold, lists them elsewhere and maps the address back.

Polling itself is shared with local mode, in `controller.routing.polling`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.api.resource import ModelRollout
from controller.kube.objects import router_name
from controller.kube.store import Store
from controller.routing.polling import RouterEndpoint

__all__ = ["SERVICE_NAME_LABEL", "RouterAddress", "SliceDirectory", "same_address", "endpoints_of"]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
ADMIN_PORT = "admin"

# (address listed in an EndpointSlice) -> the address to connect to.
RouterAddress = Callable[[str], str]


def same_address(address: str) -> str:
    """In a cluster a pod is reached at the address its EndpointSlice lists."""
    return address


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def endpoints_of(slices: list[dict[str, Any]], reach: RouterAddress = same_address) -> list[RouterEndpoint]:
    """Ready endpoints of EndpointSlices, at their `admin` port; unknown readiness counts as ready.

    The key keeps the listed address (it names the pod); only the URL goes where `reach` says.
    """
    found: dict[str, RouterEndpoint] = {}
    for endpoint_slice in slices:
        ports = [p for p in endpoint_slice.get("ports") or [] if p.get("name") == ADMIN_PORT and p.get("port")]
        if not ports:
            continue
        port = int(ports[0]["port"])
        for endpoint in endpoint_slice.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is False or not endpoint.get("addresses"):
                continue
            address = str(endpoint["addresses"][0])
            url = f"http://{_host(reach(address))}:{port}"
            target = endpoint.get("targetRef") or {}
            key = str(target.get("name") or f"{address}:{port}")
            found[f"{key}@{url}"] = RouterEndpoint(key=key, url=url)
    return [found[k] for k in sorted(found)]


class SliceDirectory:
    """Routers from the cached EndpointSlices of Service `<name>-router` (indexed by service name)."""

    def __init__(self, slices: Store, reach: RouterAddress = same_address) -> None:
        self._slices = slices
        self._reach = reach

    def __call__(self, rollout: ModelRollout) -> list[RouterEndpoint]:
        return endpoints_of(self._slices.by_label(rollout.namespace, router_name(rollout)), self._reach)
