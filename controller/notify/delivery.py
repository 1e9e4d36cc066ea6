"""Delivering notifications: a bounded queue and one worker per target, retries with capped exponential backoff.

`offer` never waits: a rollout's reconcile hands a notification over and goes on. Each target
has its own queue and worker, so its notifications arrive in order and a receiver that answers
an error or never answers delays only its own (bounded by its timeout and the attempts); what
could not be delivered is counted, never raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry, Counter

from controller.notify.config import NotificationsConfig, Target
from controller.notify.messages import Notification, body_for

__all__ = ["NotifierMetrics", "Notifier", "DeliveryError"]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]


class DeliveryError(Exception):
    """One try failed; the message says how (status and body, or the transport error)."""


@dataclass
class NotifierMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.sent = Counter("modelrollout_notifications_sent", "Notifications a target accepted.", ["target", "event"], registry=r)
        self.failed = Counter(
            "modelrollout_notifications_failed",
            "Notifications given up after every try, or dropped because the queue was full or the target unknown.",
            ["target", "event", "cause"],
            registry=r,
        )
        self.retries = Counter("modelrollout_notification_retries", "Tries after a failed one.", ["target"], registry=r)


@dataclass(frozen=True)
class _Job:
    target: Target
    notification: Notification


class Notifier:
    """Queues notifications and delivers them in the background; `close` drains what it can."""

    def __init__(
        self,
        config: NotificationsConfig,
        http: httpx.AsyncClient,
        metrics: NotifierMetrics | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config
        self.metrics = metrics or NotifierMetrics()
        self._http = http
        self._sleep = sleep
        self._queues: dict[str, asyncio.Queue[_Job]] = {}
        self._workers: list[asyncio.Task[None]] = []

    def offer(self, target_name: str, notification: Notification) -> None:
        """Queue a delivery without waiting; an unknown target or a full queue is counted and logged."""
        target = self.config.target(target_name)
        if target is None:
            self._give_up(target_name, notification, "unknownTarget", f"no target {target_name!r} in the notifications config")
            return
        try:
            self._queue_of(target).put_nowait(_Job(target, notification))
        except asyncio.QueueFull:
            self._give_up(target_name, notification, "queueFull", f"{self.config.queue_size} notifications already wait")

    async def close(self, drain_s: float = 5.0) -> None:
        """Wait up to `drain_s` for queued notifications, then stop the workers."""
        if self._queues:
            try:
                await asyncio.wait_for(asyncio.gather(*(queue.join() for queue in self._queues.values())), drain_s)
            except TimeoutError:
                waiting = sum(queue.qsize() for queue in self._queues.values())
                log.warning("notifications not delivered before shutdown: %d queued, and one in flight per slow target", waiting)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        self._queues.clear()

    def _queue_of(self, target: Target) -> asyncio.Queue[_Job]:
        queue = self._queues.get(target.name)
        if queue is None:
            queue = self._queues[target.name] = asyncio.Queue(maxsize=self.config.queue_size)
            self._workers.append(asyncio.create_task(self._work(queue), name=f"notify-{target.name}"))
        return queue

    async def _work(self, queue: asyncio.Queue[_Job]) -> None:
        while True:
            job = await queue.get()
            try:
                await self._deliver(job)
            finally:
                queue.task_done()

    async def _deliver(self, job: _Job) -> None:
        name, event = job.target.name, job.notification.event.value
        delay = self.config.backoff_seconds
        for attempt in range(1, self.config.attempts + 1):
            try:
                await self._post(job)
            except DeliveryError as exc:
                if attempt == self.config.attempts:
                    self._give_up(name, job.notification, "undelivered", f"{attempt} tries, the last: {exc}")
                    return
                self.metrics.retries.labels(name).inc()
                await self._sleep(delay)
                delay = min(delay * 2, self.config.max_backoff_seconds)
            else:
                self.metrics.sent.labels(name, event).inc()
                return

    async def _post(self, job: _Job) -> None:
        target = job.target
        try:
            url, headers = _address(target)
            response = await self._http.post(
                url, json=body_for(job.notification, target.format), headers=headers, timeout=target.timeout_seconds
            )
        except OSError as exc:
            raise DeliveryError(f"cannot read a secret file of target {target.name}: {exc}") from exc
        except httpx.InvalidURL as exc:
            raise DeliveryError(f"target {target.name} has no usable URL: {exc}") from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
        if response.status_code >= 300:
            raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}")

    def _give_up(self, target: str, notification: Notification, cause: str, detail: str) -> None:
        self.metrics.failed.labels(target, notification.event.value, cause).inc()
        log.warning(
            "notification %s of %s/%s to %s not delivered (%s): %s",
            notification.event.value, notification.namespace, notification.rollout, target, cause, detail,
        )


def _address(target: Target) -> tuple[str, dict[str, str]]:
    """The URL and headers of a target, its secrets read now so a rotated Secret is used at once."""
    url = target.url or (target.url_file.read_text().strip() if target.url_file else "")
    headers = {"user-agent": "modelrollout-controller"}
    if target.token_file is not None:
        headers["authorization"] = f"Bearer {target.token_file.read_text().strip()}"
    return url, headers
