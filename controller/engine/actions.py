"""What the engine asks the adapters to do: plain, frozen data.

The Kubernetes adapter and the local runtime each carry these out; the engine never does I/O.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from controller.api.status import TrafficSplit

__all__ = ["Action", "EnsureRevision", "ScaleRevision", "SetTraffic", "EmitEvent"]


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


Action = EnsureRevision | ScaleRevision | SetTraffic | EmitEvent
