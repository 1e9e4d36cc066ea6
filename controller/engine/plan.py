"""What one decision works on: the fixed inputs (`Context`) and the growing result (`Plan`).

Each stage of `decide` is a function `(Plan, Context) -> Plan`: it reads the inputs, and
returns a new plan with its status changes and actions added. Nothing is mutated.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from controller.api.resource import ModelRollout, revision_of
from controller.api.spec import ModelRolloutSpec
from controller.api.status import ModelRolloutStatus, Phase
from controller.engine.actions import Action, EmitEvent
from controller.engine.inputs import Observations
from controller.engine.phases import Transition, next_phase
from controller.engine.reasons import Reason
from controller.strategies.steps import Step

__all__ = ["Context", "Plan", "seconds_since"]


@dataclass(frozen=True)
class Context:
    """The inputs of one decision: the rollout as stored, its expanded steps, what was observed, the time."""

    rollout: ModelRollout
    steps: tuple[Step, ...]
    observations: Observations
    now: datetime
    target: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "target", revision_of(self.rollout.spec.template))

    @property
    def spec(self) -> ModelRolloutSpec:
        return self.rollout.spec

    def is_ready(self, revision: str | None) -> bool:
        return revision is not None and revision in self.observations.ready_revisions


@dataclass(frozen=True)
class Plan:
    """The status so far and the actions so far, in the order the driver must carry them out."""

    status: ModelRolloutStatus
    actions: tuple[Action, ...] = ()

    def update(self, **fields: Any) -> Plan:
        return replace(self, status=self.status.model_copy(update=fields))

    def act(self, *actions: Action) -> Plan:
        return replace(self, actions=self.actions + actions)

    def event(self, reason: Reason, message: str, kind: Literal["Normal", "Warning"] = "Normal") -> Plan:
        return self.act(EmitEvent(type=kind, reason=reason.value, message=message))

    def transition(self, transition: Transition, reason: str, message: str) -> Plan:
        """Move to the phase the table gives for `transition`, saying why."""
        phase: Phase = next_phase(self.status.phase, transition)
        return self.update(phase=phase, reason=str(reason), message=message)

    def explain(self, reason: Reason, message: str) -> Plan:
        """Say what the rollout waits on, without a phase change."""
        return self.update(reason=reason.value, message=message)


def seconds_since(then: datetime | None, now: datetime) -> float:
    """Seconds from `then` to `now`; 0 when `then` is unknown."""
    return (now - then) / timedelta(seconds=1) if then is not None else 0.0
