"""The TrafficControl port for Kubernetes: the router ConfigMap, and proof the routers applied it.

`set_traffic` writes `<name>-router` with a RouterConfig whose generation goes up by one for
every change of routing and stays put when nothing changed (so repeating an action is free).
Writes carry the resourceVersion read, so two writers can never issue the same generation for
different configs. `traffic_applied` is true once every ready router reports that generation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.api.resource import ModelRollout
from controller.api.spec import RouterMode
from controller.engine.actions import SetTraffic
from controller.errors import DependencyError
from controller.kube.client import CONFIGMAP, KubeClient
from controller.kube.errors import AlreadyExists, Conflict, NotFound
from controller.kube.objects import ROUTER_ADMIN_PORT, router_configmap, router_name
from controller.kube.routerconfig import config_of, generation_of
from controller.kube.store import Store
from controller.routing.config import UpstreamResolver, build_config, same_routing
from controller.routing.polling import RouterEndpoint, RouterPoller

__all__ = ["KubeTrafficControl"]

_WRITE_ATTEMPTS = 5


class KubeTrafficControl:
    def __init__(
        self,
        client: KubeClient,
        configmaps: Store,
        poller: RouterPoller,
        upstream: UpstreamResolver,
        on_written: Callable[[ModelRollout, int], None] | None = None,
    ) -> None:
        self._client = client
        self._configmaps = configmaps
        self._poller = poller
        self._upstream = upstream
        self._on_written = on_written
        # (namespace, name) -> (generation, routers) last seen all serving it: no need to ask again.
        self._confirmed: dict[tuple[str, str], tuple[int, list[RouterEndpoint]]] = {}

    def generation(self, rollout: ModelRollout) -> int:
        return generation_of(self._configmaps.get(rollout.namespace, router_name(rollout)))

    async def set_traffic(self, rollout: ModelRollout, action: SetTraffic) -> None:
        for _attempt in range(_WRITE_ATTEMPTS):
            live = self._configmaps.get(rollout.namespace, router_name(rollout))
            current = config_of(live)
            desired = build_config(rollout, action, generation_of(live) + 1, self._upstream, _peers(rollout))
            if current is not None and same_routing(current, desired):
                return
            body = router_configmap(rollout, desired.model_dump_json(by_alias=True))
            try:
                written = await self._write(rollout, live, body)
            except (Conflict, AlreadyExists, NotFound):
                await self._refresh(rollout)
                continue
            self._configmaps.put(written)
            if self._on_written is not None:
                self._on_written(rollout, desired.generation)
            return
        raise DependencyError(f"ConfigMap {rollout.namespace}/{router_name(rollout)} kept changing under {_WRITE_ATTEMPTS} writes")

    async def _write(self, rollout: ModelRollout, live: dict[str, Any] | None, body: dict[str, Any]) -> dict[str, Any]:
        if live is None:
            return await self._client.create(CONFIGMAP, rollout.namespace, body)
        body["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        return await self._client.replace(CONFIGMAP, rollout.namespace, router_name(rollout), body)

    async def _refresh(self, rollout: ModelRollout) -> None:
        """The cache was behind: read the ConfigMap from the API server."""
        try:
            self._configmaps.put(await self._client.get(CONFIGMAP, rollout.namespace, router_name(rollout)))
        except NotFound:
            self._configmaps.remove(rollout.namespace, router_name(rollout))

    async def traffic_applied(self, rollout: ModelRollout) -> bool:
        key = (rollout.namespace, rollout.name)
        if self._configmaps.get(rollout.namespace, router_name(rollout)) is None:
            return False
        generation = self.generation(rollout)
        routers = self._poller.routers(rollout)
        if not routers:
            return False
        if self._confirmed.get(key) == (generation, routers):
            return True
        readings = await self._poller.read(rollout)
        served = [r.stats.generation if r.stats is not None else None for r in readings]
        applied = bool(readings) and all(g is not None and g >= generation for g in served)
        if applied:
            self._confirmed[key] = (generation, [r.endpoint for r in readings])
        return applied

    def forget(self, namespace: str, name: str) -> None:
        self._confirmed.pop((namespace, name), None)


def _peers(rollout: ModelRollout) -> list[str]:
    """The router replicas, for labels to join where their request was served: the headless admin
    Service's name resolves to every ready router pod. Sidecars have no such Service."""
    if rollout.spec.router.mode != RouterMode.DEPLOYMENT:
        return []
    return [f"http://{router_name(rollout)}.{rollout.namespace}.svc:{ROUTER_ADMIN_PORT}"]
