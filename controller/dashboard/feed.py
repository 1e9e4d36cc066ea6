"""The dashboard's view of the cluster: a watched cache of ModelRollouts and reads for one rollout's page.

One informer per namespace (or one for all) keeps every visible ModelRollout in memory, so a
page of 200 rollouts is rendered from memory, and every change bumps `version`, which the live
streams wait on. A rollout's page also reads its Events, its router ConfigMap (the generation
written) and each ready router's `/stats` (the generation it serves), when reachable from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiohttp

from controller.kube.client import CONFIGMAP, ENDPOINT_SLICE, EVENT, MODELROLLOUT, KubeClient
from controller.kube.errors import KubeError, NotFound
from controller.kube.informer import Informer
from controller.kube.routerconfig import generation_of
from controller.kube.routers import SERVICE_NAME_LABEL, RouterAddress, endpoints_of, same_address
from controller.kube.store import Store
from router.stats import RouterStats

__all__ = ["RolloutFeed"]

log = logging.getLogger(__name__)


class RolloutFeed:
    def __init__(
        self, client: KubeClient, namespaces: tuple[str, ...], reach: RouterAddress = same_address, router_timeout_s: float = 1.0
    ) -> None:
        self.client = client
        self.namespaces = namespaces
        self.store = Store()
        self.version = 0
        self.closed = False
        self._changed = asyncio.Condition()
        self._reach = reach
        self._router_timeout_s = router_timeout_s
        self._informers = [Informer(client, MODELROLLOUT, ns, store=self.store) for ns in (namespaces or (None,))]
        for informer in self._informers:
            informer.add_handler(self._on_change)
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._tasks = [asyncio.create_task(i.run(), name=f"dashboard-informer-{i.kind.name}") for i in self._informers]
        await asyncio.gather(*(i.synced.wait() for i in self._informers))

    async def close_streams(self) -> None:
        """Every live stream ends at its next wake-up: the server is stopping."""
        self.closed = True
        await self._notify()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    def _on_change(self, _type: str, _obj: dict[str, Any], _old: dict[str, Any] | None) -> None:
        self.version += 1
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_change(self, seen: int, timeout_s: float) -> int:
        """The version once it differs from `seen`, or after `timeout_s` (a keep-alive)."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait_for(lambda: self.version != seen or self.closed), timeout_s)
        return self.version

    def rollouts(self) -> list[dict[str, Any]]:
        return sorted(self.store.values(), key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"].get("name", "")))

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.store.get(namespace, name)

    async def events(self, namespace: str) -> list[dict[str, Any]]:
        try:
            items, _version = await self.client.list(EVENT, namespace)
        except KubeError as exc:
            log.info("cannot list events in %s: %s", namespace, exc)
            return []
        return items

    async def routers(self, namespace: str, name: str) -> list[dict[str, Any]]:
        """Each ready router's served config generation beside the generation written, where reachable."""
        try:
            written = generation_of(await self.client.get(CONFIGMAP, namespace, f"{name}-router"))
        except NotFound:
            written = 0
        except KubeError as exc:
            return [{"router": "-", "served": None, "written": None, "error": f"cannot read the router ConfigMap: {exc.reason or exc}"}]
        try:
            slices, _version = await self.client.list(ENDPOINT_SLICE, namespace, f"{SERVICE_NAME_LABEL}={name}-router")
        except KubeError as exc:
            return [{"router": "-", "served": None, "written": written, "error": f"cannot list router endpoints: {exc.reason or exc}"}]
        endpoints = endpoints_of(slices, self._reach)
        served = await asyncio.gather(*(self._served(e.url) for e in endpoints))
        return [
            {"router": e.key, "served": gen, "written": written, "error": err} for e, (gen, err) in zip(endpoints, served, strict=True)
        ] or [{"router": "-", "served": None, "written": written, "error": "no ready router"}]

    async def _served(self, url: str) -> tuple[int | None, str | None]:
        if self._session is None:
            raise RuntimeError("RolloutFeed.start() must run before routers are read")
        try:
            timeout = aiohttp.ClientTimeout(total=self._router_timeout_s)
            async with self._session.get(f"{url}/stats", timeout=timeout) as response:
                response.raise_for_status()
                return RouterStats.model_validate_json(await response.read()).generation, None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            return None, f"not reachable from the dashboard ({type(exc).__name__})"
