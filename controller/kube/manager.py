"""The controller process: caches, leader election, the work queue and its workers, health and metrics.

Caches run on every replica, so a replica that takes over the Lease starts from a warm cache;
only the leader runs workers and writes. Losing the Lease cancels the workers at once. A stop
(SIGTERM) lets in-flight reconciles finish (up to `drain_s`), hands the Lease back, and closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from controller.errors import DependencyError
from controller.kube.client import KubeClient
from controller.kube.leader import LeaderElector
from controller.kube.objects import LABEL_ROLLOUT
from controller.kube.reconciler import Reconciler
from controller.kube.store import object_key
from controller.kube.telemetry import ControllerMetrics, HealthServer
from controller.kube.wiring import Adapters, ControllerConfig, Wiring, build_wiring
from controller.kube.workqueue import ShutDown, WorkQueue
from controller.runtime.logs import log_fields

__all__ = ["Controller", "owner_key", "intent_changed"]

log = logging.getLogger(__name__)

Key = tuple[str, str]


def intent_changed(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a ModelRollout update says anything new to act on.

    A change of status alone (most often the controller's own write coming back) does not:
    the spec (seen through `generation`), annotations (manual requests), labels and deletion do.
    """
    before, after = old.get("metadata") or {}, new.get("metadata") or {}
    return any(before.get(field) != after.get(field) for field in ("generation", "annotations", "labels", "deletionTimestamp"))


def owner_key(obj: dict[str, Any]) -> Key | None:
    """The ModelRollout an owned object belongs to: its controller owner reference, else its label."""
    metadata = obj.get("metadata") or {}
    namespace = str(metadata.get("namespace", ""))
    for reference in metadata.get("ownerReferences") or []:
        if reference.get("kind") == "ModelRollout":
            return namespace, str(reference.get("name"))
    name = (metadata.get("labels") or {}).get(LABEL_ROLLOUT)
    return (namespace, str(name)) if name else None


class Controller:
    def __init__(self, client: KubeClient, config: ControllerConfig, adapters: Adapters | None = None) -> None:
        self._client = client
        self._config = config
        self.metrics = ControllerMetrics()
        self._queue: WorkQueue[Key] | None = None
        self.wiring: Wiring = build_wiring(client, config, self.metrics, adapters or Adapters())
        self._connect_handlers()
        self.health = HealthServer(self.metrics, self._healthy)

    @property
    def reconciler(self) -> Reconciler:
        return self.wiring.reconciler

    @property
    def leading(self) -> bool:
        return self._queue is not None

    def _healthy(self) -> bool:
        return all(i.synced.is_set() for i in self.wiring.informers)

    def _connect_handlers(self) -> None:
        for informer in self.wiring.informers:
            if informer.kind.name == "ModelRollout":
                informer.add_handler(self._on_rollout)
            else:
                informer.add_handler(self._on_owned)

    def _on_rollout(self, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        key = object_key(obj)
        if event_type == "DELETED":
            self.wiring.forget(*key)
            return
        if old is None or intent_changed(old, obj):
            self._enqueue(key)

    def _on_owned(self, _event_type: str, obj: dict[str, Any], _old: dict[str, Any] | None) -> None:
        key = owner_key(obj)
        if key is not None and self.wiring.stores.rollouts.get(*key) is not None:
            self._enqueue(key)

    def _enqueue(self, key: Key) -> None:
        if self._queue is not None:
            self._queue.add(key)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set; then drain, release the Lease and close."""
        caches = [asyncio.create_task(i.run(), name=f"informer-{i.kind.name}") for i in self.wiring.informers]
        if self._config.metrics_listen is not None:
            host, port = self._config.metrics_listen
            await self.health.start(host, port)
        try:
            await self._wait_synced(stop)
            if self._config.leader_election is not None:
                elector = LeaderElector(self._client, self._config.leader_election, self.wiring.clock.now)
                await elector.run(lambda: self._lead(stop), stop)
            else:
                await self._lead(stop)
        finally:
            for task in caches:
                task.cancel()
            await asyncio.gather(*caches, return_exceptions=True)
            await self.health.stop()
            await self.wiring.close()

    async def _wait_synced(self, stop: asyncio.Event) -> None:
        await self._until(stop, asyncio.gather(*(i.synced.wait() for i in self.wiring.informers)))

    @staticmethod
    async def _until(stop: asyncio.Event, work: Awaitable[Any]) -> None:
        """Run `work` until it ends or `stop` is set, whichever comes first."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pending in (task, stopper):
                pending.cancel()
            await asyncio.gather(task, stopper, return_exceptions=True)

    async def _lead(self, stop: asyncio.Event) -> None:
        """Workers run while this coroutine runs; cancelling it (a lost Lease) stops them at once."""
        queue: WorkQueue[Key] = WorkQueue(rate=self._config.requeue_rate, burst=self._config.requeue_burst)
        self._queue = queue
        self.metrics.leader.set(1)
        for key in self.wiring.stores.rollouts.all_keys():
            queue.add(key)
        workers = [asyncio.create_task(self._work(queue), name=f"worker-{i}") for i in range(self._config.workers)]
        try:
            await stop.wait()
            queue.shut_down()
            await asyncio.wait(workers, timeout=self._config.drain_s)
        finally:
            self._queue = None
            self.metrics.leader.set(0)
            queue.shut_down()
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self, queue: WorkQueue[Key]) -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            try:
                with log_fields(namespace=key[0], rollout=key[1]):
                    await self._process(queue, key)
            finally:
                queue.done(key)
                self.metrics.queue_depth.set(len(queue))

    async def _process(self, queue: WorkQueue[Key], key: Key) -> None:
        try:
            requeue_s = await self.reconciler.reconcile(*key)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            delay = queue.add_rate_limited(key)
            self.metrics.reconciles.labels(result="error").inc()
            self.metrics.errors.labels(error=type(exc).__name__).inc()
            if isinstance(exc, DependencyError):
                log.warning("reconcile of %s/%s failed, retry in %.1fs: %s", *key, delay, exc)
            else:
                log.exception("reconcile of %s/%s failed, retry in %.1fs", *key, delay)
            return
        queue.forget(key)
        self.metrics.reconciles.labels(result="success").inc()
        if requeue_s is not None:
            queue.add_after(key, requeue_s)
