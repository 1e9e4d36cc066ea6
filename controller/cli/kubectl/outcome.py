"""Where a rollout stands, read from its object alone: still going, reached what was waited for, or ended otherwise.

Pure: `judge` takes the object as the API server returned it and the goal, and says whether a
pipeline waiting on it can stop, and with which exit code. Nothing counts before the controller
has observed the current generation: a status written for the previous spec says nothing about
the one just applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from controller.api.resource import ModelRollout, revision_of
from controller.api.status import ConditionStatus, ModelRolloutStatus, Phase
from controller.strategies.expand import expand
from controller.strategies.steps import describe

__all__ = ["Goal", "Judgement", "judge", "progress_line", "read_status", "step_names"]


class Goal(StrEnum):
    HEALTHY = "healthy"  # settled: nothing rolling out, whatever revision is stable
    PROMOTED = "promoted"  # the current template's revision is stable
    DEGRADED = "degraded"  # rolled back, undone, or invalid


@dataclass(frozen=True)
class Judgement:
    """`reached` True: exit 0; False: the rollout ended in another state (exit 1)."""

    reached: bool
    why: str


def read_status(obj: dict[str, Any]) -> ModelRolloutStatus:
    try:
        return ModelRolloutStatus.model_validate(obj.get("status") or {})
    except ValidationError:
        return ModelRolloutStatus()


def step_names(obj: dict[str, Any]) -> list[str]:
    """Each expanded step described, or none when the spec cannot be read (an invalid spec has no steps)."""
    try:
        return [describe(step) for step in expand(ModelRollout.model_validate(obj).spec)]
    except (ValidationError, ValueError):
        return []


def _observed(obj: dict[str, Any], status: ModelRolloutStatus) -> bool:
    generation = int(obj.get("metadata", {}).get("generation") or 0)
    return status.phase is not None and status.observed_generation >= generation


def _stalled(status: ModelRolloutStatus) -> str | None:
    for condition in status.conditions:
        if condition.type == "Stalled" and condition.status is ConditionStatus.TRUE:
            return f"stalled ({condition.reason}): {condition.message}"
    return None


def _ended(status: ModelRolloutStatus) -> str:
    return f"{status.phase.value if status.phase else 'Pending'} ({status.reason or 'no reason'}): {status.message or '-'}"


def judge(obj: dict[str, Any], goal: Goal) -> Judgement | None:
    """Whether the wait for `goal` is over; None while the rollout is still going."""
    status = read_status(obj)
    if not _observed(obj, status):
        return None
    settled = status.candidate_revision is None
    if status.phase is Phase.DEGRADED and settled:
        return Judgement(goal is Goal.DEGRADED, _ended(status))
    if (stalled := _stalled(status)) is not None:
        return Judgement(False, stalled)
    if status.phase is not Phase.HEALTHY or not settled:
        return None
    if goal is Goal.PROMOTED:
        target = revision_of(obj.get("spec", {}).get("template") or {})
        if status.stable_revision != target:
            return Judgement(False, f"Healthy on revision {status.stable_revision}, not the template's {target}: {status.message or '-'}")
    return Judgement(goal is not Goal.DEGRADED, _ended(status))


def progress_line(obj: dict[str, Any], steps: list[str]) -> str:
    """One line a person or a CI log reads as the rollout moves: phase, step, traffic, what it waits on."""
    status = read_status(obj)
    phase = status.phase.value if status.phase else "Pending"
    step = ""
    if status.current_step is not None:
        name = steps[status.current_step] if status.current_step < len(steps) else ""
        step = f" step {status.current_step + 1}/{status.step_count or len(steps)}" + (f" ({name})" if name else "")
    traffic = f" traffic {status.traffic_summary}" if status.traffic_summary else ""
    return f"{phase}{step}{traffic}: {status.reason or 'no decision yet'}" + (f": {status.message}" if status.message else "")
