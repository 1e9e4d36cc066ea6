"""Leader election on a `coordination.k8s.io/v1` Lease, so two controller replicas can run.

The holder renews `renewTime` every `retry_period_s`; another candidate takes the Lease only
when it has seen the same record unchanged for `lease_duration_s` of its own clock (clock skew
between machines does not matter). Every write carries the resourceVersion that was read, so
of two candidates racing for an expired Lease exactly one wins; the other gets a Conflict.
A leader that cannot renew within `renew_deadline_s` stops leading at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from controller.kube.client import LEASE, KubeClient
from controller.kube.errors import AlreadyExists, Conflict, KubeError, NotFound

__all__ = ["LeaseConfig", "LeaderElector", "micro_time"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseConfig:
    namespace: str
    name: str
    identity: str
    lease_duration_s: float = 15.0
    renew_deadline_s: float = 10.0
    retry_period_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration_s > self.renew_deadline_s > self.retry_period_s > 0:
            raise ValueError(
                f"lease timings must satisfy duration {self.lease_duration_s} > renew deadline "
                f"{self.renew_deadline_s} > retry period {self.retry_period_s} > 0"
            )


def micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime: RFC 3339 with microseconds, in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class _Observed:
    """The Lease spec last read and when (monotonic) it last changed."""

    spec: dict[str, Any]
    resource_version: str
    changed_at: float


class LeaderElector:
    """`run` campaigns forever; `leading` tells whether this replica holds the Lease right now."""

    def __init__(self, client: KubeClient, config: LeaseConfig, now: Callable[[], datetime]) -> None:
        self._client = client
        self._config = config
        self._now = now
        self._observed: _Observed | None = None
        self._leading = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    @property
    def leading(self) -> bool:
        return self._leading.is_set()

    @property
    def identity(self) -> str:
        return self._config.identity

    async def run(self, lead: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
        """Campaign until `stop`; while leading run `lead()`, cancelling it the moment the Lease is lost.

        `lead()` returning means a clean stop: the Lease is handed back.
        """
        while not stop.is_set():
            if not await self._acquire(stop):
                return
            log.info("%s became leader of lease %s/%s", self.identity, self._config.namespace, self._config.name)
            if await self._lead_while_held(lead):
                await self.release()
                return
            log.warning("%s lost the lease %s/%s", self.identity, self._config.namespace, self._config.name)

    async def _lead_while_held(self, lead: Callable[[], Awaitable[None]]) -> bool:
        """Run `lead()` while renewing; True when it ended by itself, False when the Lease was lost."""
        work = asyncio.ensure_future(lead())
        keeper = asyncio.create_task(self._keep(), name="lease-renewal")
        try:
            done, _pending = await asyncio.wait({work, keeper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # Also on our own cancellation: work must never outlive the leadership it ran under.
            self._leading.clear()
            for task in (work, keeper):
                task.cancel()
            await asyncio.gather(work, keeper, return_exceptions=True)
        return work in done and not work.cancelled() and work.exception() is None

    async def _acquire(self, stop: asyncio.Event) -> bool:
        """Try every retry period until the Lease is ours (True) or `stop` is set (False)."""
        while not await self._try_acquire_or_renew():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._config.retry_period_s)
            if stop.is_set():
                return False
        self._leading.set()
        return True

    async def _keep(self) -> None:
        """Renew until a renewal has failed for longer than the renew deadline."""
        last_renewed = self._loop.time()
        while True:
            await asyncio.sleep(self._config.retry_period_s)
            if await self._try_acquire_or_renew():
                last_renewed = self._loop.time()
            elif self._observed and self._observed.spec.get("holderIdentity") != self.identity:
                return  # someone else holds it now
            elif self._loop.time() - last_renewed > self._config.renew_deadline_s:
                return

    async def _try_acquire_or_renew(self) -> bool:
        try:
            lease = await self._client.get(LEASE, self._config.namespace, self._config.name)
        except NotFound:
            return await self._create()
        except KubeError as exc:
            log.warning("reading lease failed: %s", exc)
            return False
        self._observe(lease)
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") not in (None, "", self.identity) and not self._expired():
            return False
        return await self._write(lease, spec)

    def _observe(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        rv = str(lease.get("metadata", {}).get("resourceVersion", ""))
        if self._observed is None or self._observed.spec != spec:
            self._observed = _Observed(spec, rv, self._loop.time())
        else:
            self._observed.resource_version = rv

    def _expired(self) -> bool:
        if self._observed is None:
            return True
        duration = float(self._observed.spec.get("leaseDurationSeconds") or self._config.lease_duration_s)
        return self._loop.time() - self._observed.changed_at > duration

    def _record(self, previous: dict[str, Any]) -> dict[str, Any]:
        now = micro_time(self._now())
        ours = previous.get("holderIdentity") == self.identity
        transitions = int(previous.get("leaseTransitions") or 0)
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self._config.lease_duration_s),
            "acquireTime": previous.get("acquireTime") if ours else now,
            "renewTime": now,
            "leaseTransitions": transitions if ours or not previous.get("holderIdentity") else transitions + 1,
        }

    async def _create(self) -> bool:
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self._config.name, "namespace": self._config.namespace},
            "spec": self._record({}),
        }
        try:
            created = await self._client.create(LEASE, self._config.namespace, body)
        except (AlreadyExists, Conflict):
            return False
        except KubeError as exc:
            log.warning("creating lease failed: %s", exc)
            return False
        self._observe(created)
        return True

    async def _write(self, lease: dict[str, Any], spec: dict[str, Any]) -> bool:
        body = {**lease, "spec": self._record(spec)}
        try:
            written = await self._client.replace(LEASE, self._config.namespace, self._config.name, body)
        except Conflict:
            return False  # lost the race to another candidate
        except KubeError as exc:
            log.warning("writing lease failed: %s", exc)
            return False
        self._observe(written)
        return True

    async def release(self) -> None:
        """Hand the Lease back on a clean stop so the other replica need not wait for it to expire."""
        try:
            lease = await self._client.get(LEASE, self._config.namespace, self._config.name)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            released = {**spec, "holderIdentity": None, "leaseDurationSeconds": 1, "renewTime": micro_time(self._now())}
            await self._client.replace(LEASE, self._config.namespace, self._config.name, {**lease, "spec": released})
        except KubeError as exc:
            log.warning("releasing lease failed: %s", exc)
