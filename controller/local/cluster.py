"""Local stand-ins for the cluster-side ports: revisions are model servers already listening on URLs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from controller.api.resource import ModelRollout
from controller.engine.actions import EmitEvent, EnsureRevision, KeepRevisions, ScaleRevision
from controller.runtime.ports import Clock

__all__ = ["LocalCluster", "RecordedEvent", "EventLog"]


class LocalCluster:
    """Maps each revision to the URL of a model server that the user (or the demo) runs.

    Local mode cannot start a pod template, so `EnsureRevision` only checks that the revision
    has a server; scaling to zero is remembered so a scaled-down revision never counts as ready.
    """

    def __init__(self, urls: dict[str, str], health_paths: dict[str, str], client: httpx.AsyncClient) -> None:
        self._urls = dict(urls)
        self._health = dict(health_paths)
        self._client = client
        self._scaled_down: set[str] = set()

    def url_of(self, revision: str) -> str:
        try:
            return self._urls[revision]
        except KeyError:
            raise KeyError(f"revision {revision} has no model server in local mode") from None

    async def ensure_revision(self, rollout: ModelRollout, action: EnsureRevision) -> None:
        self.url_of(action.revision)
        if action.replicas > 0:
            self._scaled_down.discard(action.revision)
        else:
            self._scaled_down.add(action.revision)

    async def scale_revision(self, rollout: ModelRollout, action: ScaleRevision) -> None:
        if action.replicas == 0:
            self._scaled_down.add(action.revision)
        else:
            self._scaled_down.discard(action.revision)

    async def keep_revisions(self, rollout: ModelRollout, action: KeepRevisions) -> None:
        """Servers the user runs cannot be put back from here: a live revision must still have one."""
        for revision in action.live:
            self.url_of(revision)

    async def ready_revisions(self, rollout: ModelRollout) -> frozenset[str]:
        candidates = [r for r in self._urls if r not in self._scaled_down]
        answers = await asyncio.gather(*(self._healthy(r) for r in candidates))
        return frozenset(r for r, ok in zip(candidates, answers) if ok)

    async def _healthy(self, revision: str) -> bool:
        url = self._urls[revision].rstrip("/") + self._health.get(revision, "")
        try:
            response = await self._client.get(url, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code < 500


@dataclass(frozen=True)
class RecordedEvent:
    time: str
    type: str
    reason: str
    message: str


@dataclass
class EventLog:
    """Events of a local run, kept for the live view and the report."""

    clock: Clock
    events: list[RecordedEvent] = field(default_factory=list)

    async def emit(self, rollout: ModelRollout, event: EmitEvent) -> None:
        now = self.clock.now()
        self.events.append(RecordedEvent(now.isoformat(), event.type, event.reason, event.message))
