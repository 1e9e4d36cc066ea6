"""A resource whose spec cannot be read at all: say so in status, and act on nothing.

The API server's schema keeps most bad input out, but not all of it (an older CRD, a field the
models reject). Such a rollout has no spec to decide on, so `decide` cannot run; this decides
the little there is: reason InvalidSpec with the message naming every field, Degraded when no
revision serves yet (otherwise the phase stays, as the revisions keep running), kstatus
conditions that say it is stalled, and one Warning event per distinct message.
"""

from __future__ import annotations

from datetime import datetime

from controller.api.status import ModelRolloutStatus, Phase
from controller.engine.actions import Action, EmitEvent
from controller.engine.conditions import with_kstatus
from controller.engine.decide import Decision
from controller.engine.reasons import Reason

__all__ = ["decide_unreadable"]


def decide_unreadable(status: ModelRolloutStatus, generation: int, message: str, now: datetime) -> Decision:
    """The status for a spec that cannot be read (`message` says why); unchanged when it already says so."""
    phase = Phase.DEGRADED if status.stable_revision is None else status.phase
    updated = status.model_copy(
        update={"reason": Reason.INVALID_SPEC.value, "message": message, "phase": phase, "observed_generation": generation}
    )
    updated = with_kstatus(updated, generation, now)
    if updated == status:
        return Decision(status=status, actions=[])
    actions: list[Action] = []
    if status.message != message:
        actions.append(EmitEvent(type="Warning", reason=Reason.INVALID_SPEC.value, message=message))
    return Decision(status=updated, actions=actions)
