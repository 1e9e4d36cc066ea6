"""What the engine asks the adapters to do: plain, frozen data.

The Kubernetes adapter and the local runtime each carry these out; the engine never does I/O.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from controller.api.gates import WebhookGate
from controller.api.monitoring import ModelReference, MonitoringCondition, RetrainingSpec
from controller.api.status import TrafficSplit

__all__ = [
    "Action", "EnsureRevision", "ScaleRevision", "SetTraffic", "EmitEvent", "KeepTraffic", "KeepRevisions", "TellGate",
    "SaveReference", "TriggerRetraining",
]


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EnsureRevision(_Action):
    """Run `revision` (Deployment + Service `<name>-<revision>`) with `replicas` pods."""

    kind: Literal["EnsureRevision"] = "EnsureRevision"
    revision: str
    template: dict[str, Any]
    replicas: int = Field(ge=0)
    role: Literal["stable", "candidate"]


class ScaleRevision(_Action):
    """Scale an existing revision; 0 keeps its Deployment as history for undo."""

    kind: Literal["ScaleRevision"] = "ScaleRevision"
    revision: str
    replicas: int = Field(ge=0)


class SetTraffic(_Action):
    """Write the router config: which revision is stable/candidate and the split in force."""

    kind: Literal["SetTraffic"] = "SetTraffic"
    stable_revision: str
    candidate_revision: str | None
    split: TrafficSplit


class EmitEvent(_Action):
    kind: Literal["EmitEvent"] = "EmitEvent"
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


class KeepTraffic(_Action):
    """Routers go on serving the split in status: a router config deleted or edited by hand is written back.

    Upkeep, not a change: carried out as `SetTraffic`, which writes nothing where the config already
    routes this way, so it costs one comparison on a reconcile where nothing drifted.
    """

    kind: Literal["KeepTraffic"] = "KeepTraffic"
    stable_revision: str
    candidate_revision: str | None
    split: TrafficSplit

    def as_set_traffic(self) -> SetTraffic:
        return SetTraffic(stable_revision=self.stable_revision, candidate_revision=self.candidate_revision, split=self.split)


class KeepRevisions(_Action):
    """Every revision runs as it was last asked to (a hand-edited one is put back); `live` revisions that vanished come back.

    Only the template's revision can be recreated from the spec: `recreate` says how, when it is live.
    A live revision of an older template that vanished stays gone; the engine sees it unready.
    """

    kind: Literal["KeepRevisions"] = "KeepRevisions"
    live: tuple[str, ...]
    recreate: EnsureRevision | None = None


class TellGate(_Action):
    """Tell a post-rollout gate how the rollout of `revision` ended; its answer changes nothing, so it is never awaited."""

    kind: Literal["TellGate"] = "TellGate"
    gate: WebhookGate
    revision: str
    outcome: str


class SaveReference(_Action):
    """Store `reference` where it survives restarts (a ConfigMap in a cluster, a file locally), replacing any earlier one."""

    kind: Literal["SaveReference"] = "SaveReference"
    reference: ModelReference


class TriggerRetraining(_Action):
    """Start a retraining for one monitoring episode: the webhook and/or the Job, in the background, retried.

    `episode` identifies it (also to the receiver, which can drop a repeat after a controller restart);
    `evidence` is the JSON the receiver and the Job get.
    """

    kind: Literal["TriggerRetraining"] = "TriggerRetraining"
    episode: str
    condition: MonitoringCondition
    retraining: RetrainingSpec
    evidence: dict[str, Any]


Action = (
    EnsureRevision | ScaleRevision | SetTraffic | EmitEvent | KeepTraffic | KeepRevisions | TellGate | SaveReference | TriggerRetraining
)
