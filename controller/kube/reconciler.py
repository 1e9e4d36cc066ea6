"""One reconcile of one ModelRollout: read, check, observe-decide-act, ensure what surrounds it, store status.

What to do is the engine's, here as in local mode: a resource that cannot be read gets the status
and events `record_unreadable` decides, a readable one the actions and upkeep (the split and the
revisions kept in force) of one driver `reconcile`. This adds what only a cluster has: the router
Deployment and Services around the revisions, the scale subresource's numbers, and the metrics.

The status is written through the status subresource with the resourceVersion that was read.
When that write is refused as stale, the rollout is read again and the whole decision is made
again from the fresh object: a decision made on stale status is never stored. Actions already
carried out are idempotent, so deciding again is safe.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError

from controller.api.crd import openapi_schema
from controller.api.messages import describe_errors
from controller.api.resource import ModelRollout
from controller.api.status import ModelRolloutStatus, Phase
from controller.engine.actions import EmitEvent
from controller.engine.inputs import ManualRequest
from controller.errors import DependencyError, SpecError
from controller.kube.client import MODELROLLOUT, KubeClient
from controller.kube.cluster import KubeCluster
from controller.kube.errors import Conflict, NotFound
from controller.kube.infra import RouterInfra, Stores
from controller.kube.manual import read_request
from controller.kube.outcomes import record_outcome
from controller.kube.router_configmap import KubeTrafficControl
from controller.kube.telemetry import ControllerMetrics
from controller.kube.timers import DEFAULT_CADENCE, Cadence, next_wakeup_s
from controller.runtime.driver import Ports, reconcile, record_unreadable
from controller.runtime.ports import EventSink

__all__ = ["Reconciler", "StatusConflicts", "parse_rollout"]

log = logging.getLogger(__name__)

# Event reason for a `modelrollout.io/request` annotation that is not a valid request.
INVALID_REQUEST = "InvalidRequest"


class StatusConflicts(DependencyError):
    """Every status write of one reconcile was refused as stale."""


def parse_rollout(raw: dict[str, Any]) -> ModelRollout | str:
    """The rollout, or one message naming every field that keeps it from parsing."""
    try:
        return ModelRollout.model_validate(raw)
    except ValidationError as exc:
        problems = describe_errors(exc.errors(), openapi_schema())
        text = "; ".join(f"{path}: {message}" if path else message for path, message in problems)
        return text or str(exc)


@dataclass(frozen=True)
class KubePorts:
    """The adapters a reconcile needs beyond the driver's ports."""

    driver: Ports
    cluster: KubeCluster
    traffic: KubeTrafficControl
    infra: RouterInfra
    # Where a resource whose spec cannot be read is told about: a sink that reads nothing but the
    # metadata (a notifying sink reads spec.notifications, which such a resource does not have).
    # None: the driver's.
    unreadable_events: EventSink | None = None


class Reconciler:
    def __init__(
        self,
        client: KubeClient,
        stores: Stores,
        ports: KubePorts,
        metrics: ControllerMetrics,
        *,
        cadence: Cadence = DEFAULT_CADENCE,
        attempts: int = 5,
    ) -> None:
        self._client = client
        self._stores = stores
        self._ports = ports
        self._metrics = metrics
        self._cadence = cadence
        self._attempts = attempts
        self._phases: dict[tuple[str, str], str] = {}
        self._phase_counts: Counter[str] = Counter()
        self._bad_requests: dict[tuple[str, str], str] = {}

    async def reconcile(self, namespace: str, name: str) -> float | None:
        """Seconds until this rollout wants another look, or None when it is gone."""
        raw = self._stores.rollouts.get(namespace, name)
        for _attempt in range(self._attempts):
            if raw is None or raw.get("metadata", {}).get("deletionTimestamp"):
                self.forget(namespace, name)
                return None
            try:
                return await self._once(raw)
            except Conflict:
                self._metrics.status_conflicts.inc()
                raw = await self._fresh(namespace, name)
        raise StatusConflicts(f"status of {namespace}/{name} was refused as stale {self._attempts} times in a row")

    async def _fresh(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            raw = await self._client.get(MODELROLLOUT, namespace, name)
        except NotFound:
            self._stores.rollouts.remove(namespace, name)
            return None
        self._stores.rollouts.put(raw)
        return self._stores.rollouts.get(namespace, name)

    async def _once(self, raw: dict[str, Any]) -> float:
        parsed = parse_rollout(raw)
        if isinstance(parsed, str):
            await self._report_unparsable(raw, parsed)
            return self._cadence.idle_resync_s
        rollout = parsed
        started = time.perf_counter()
        reconciled = await reconcile(self._ports.driver, rollout, await self._request(rollout))
        self._metrics.decision_latency.observe(time.perf_counter() - started)
        after = reconciled.rollout
        # Everything around the revisions follows the new status: Services point at the new stable
        # (sidecar mode) or candidate (preview) in the same reconcile that moved them.
        await self._ports.infra.ensure(after)
        # Observed, not decided: what the scale subresource (kubectl scale, an HPA) reads back.
        after = after.model_copy(update={"status": after.status.model_copy(update=self._ports.cluster.scale_status(after))})
        if after.status != rollout.status:
            await self._write_status(raw, after.status)
        record_outcome(self._metrics, rollout.status, after.status)
        self._track_phase(rollout, after.status.phase)
        outage = after.status.provider_outage
        self._metrics.set_outage(rollout.namespace, rollout.name, outage.metric if outage is not None else None)
        return next_wakeup_s(after, self._ports.driver.clock.now(), self._cadence)

    async def _request(self, rollout: ModelRollout) -> ManualRequest | None:
        """The person's request on the object; a malformed one is reported once and ignored."""
        key = (rollout.namespace, rollout.name)
        try:
            request = read_request(rollout.metadata)
        except SpecError as exc:
            if self._bad_requests.get(key) != str(exc):
                self._bad_requests[key] = str(exc)
                event = EmitEvent(type="Warning", reason=INVALID_REQUEST, message=f"manual request ignored: {exc}")
                await self._ports.driver.events.emit(rollout, event)
            return None
        self._bad_requests.pop(key, None)
        return request

    async def _write_status(self, raw: dict[str, Any], status: ModelRolloutStatus) -> None:
        metadata = raw["metadata"]
        body = {**raw, "status": status.to_wire()}
        written = await self._client.replace_status(MODELROLLOUT, metadata["namespace"], metadata["name"], body)
        self._stores.rollouts.put(written)

    async def _report_unparsable(self, raw: dict[str, Any], message: str) -> None:
        """What the engine decides for a spec that cannot be read: reason InvalidSpec, nothing acted on."""
        metadata = raw.get("metadata", {})
        try:
            status = ModelRolloutStatus.model_validate(raw.get("status") or {})
        except ValidationError:
            log.error("%s/%s: neither spec nor status can be read: %s", metadata.get("namespace"), metadata.get("name"), message)
            return
        # Events name the resource by its metadata alone; there is no spec to give it.
        subject = ModelRollout.model_construct(**{"metadata": metadata})
        events = self._ports.unreadable_events
        ports = self._ports.driver if events is None else replace(self._ports.driver, events=events)
        decision = await record_unreadable(ports, subject, status, int(metadata.get("generation", 1)), message)
        if decision.status != status:
            await self._write_status(raw, decision.status)

    def _track_phase(self, rollout: ModelRollout, phase: Phase | None) -> None:
        key = (rollout.namespace, rollout.name)
        new = phase.value if phase is not None else "Unknown"
        old = self._phases.get(key)
        if old == new:
            return
        if old is not None:
            self._phase_counts[old] -= 1
        self._phases[key] = new
        self._phase_counts[new] += 1
        self._metrics.set_phases(dict(self._phase_counts))

    def forget(self, namespace: str, name: str) -> None:
        old = self._phases.pop((namespace, name), None)
        if old is not None:
            self._phase_counts[old] -= 1
            self._metrics.set_phases(dict(self._phase_counts))
        self._bad_requests.pop((namespace, name), None)
        self._metrics.forget_outages(namespace, name)
        self._ports.traffic.forget(namespace, name)
