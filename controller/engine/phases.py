"""The phase table: which transition is legal in which phase, and where it leads.

An engine function that changes the phase names a `Transition`; `next_phase` looks it up here
and raises `IllegalTransition` naming both for a pair the table lacks, which is always a bug.
`REQUEST_PHASES` says in which phases a person's request can mean anything; elsewhere it is
ignored with a Warning event.

    none       --Initialize-->                Healthy      (Invalid: Degraded)
    Healthy    --Start-->                     Progressing  (Undo: Degraded)
    Progressing --Hold--> Paused --Resume-->  Progressing  (Replace: Progressing)
    running    --Promote / Verdict / CancelToStable-->  Healthy
    running    --Rollback / CancelToRejected-->          Degraded
    Degraded   --Start (retry, new template)-->          Progressing
    Degraded   --Revert (template back to stable)-->     Healthy
"""

from __future__ import annotations

from enum import StrEnum

from controller.api.status import Phase
from controller.engine.inputs import ManualAction
from controller.errors import IllegalTransition

__all__ = ["REQUEST_PHASES", "TRANSITIONS", "Transition", "next_phase", "request_makes_sense"]


class Transition(StrEnum):
    INITIALIZE = "Initialize"  # the first template becomes stable
    START = "Start"  # a new template (or a retry) starts a rollout
    REPLACE = "Replace"  # the template changed mid-rollout
    HOLD = "Hold"  # waiting on a person: indefinite pause, manual pause, inconclusive stall
    RESUME = "Resume"
    PROMOTE = "Promote"
    VERDICT = "Verdict"  # a judge-only shadow run ends
    CANCEL_TO_STABLE = "CancelToStable"  # the template went back to the stable one
    CANCEL_TO_REJECTED = "CancelToRejected"  # the template went back to a rejected one
    ROLLBACK = "Rollback"
    UNDO = "Undo"
    REVERT = "Revert"  # the template is the stable one again after a rollback or undo
    INVALID = "Invalid"  # an invalid spec before anything runs


_RUNNING = (Phase.PROGRESSING, Phase.PAUSED)

TRANSITIONS: dict[tuple[Phase | None, Transition], Phase] = {
    (None, Transition.INITIALIZE): Phase.HEALTHY,
    (Phase.DEGRADED, Transition.INITIALIZE): Phase.HEALTHY,
    (None, Transition.INVALID): Phase.DEGRADED,
    (Phase.DEGRADED, Transition.INVALID): Phase.DEGRADED,
    (Phase.HEALTHY, Transition.START): Phase.PROGRESSING,
    (Phase.DEGRADED, Transition.START): Phase.PROGRESSING,
    (Phase.HEALTHY, Transition.UNDO): Phase.DEGRADED,
    (Phase.DEGRADED, Transition.REVERT): Phase.HEALTHY,
    (Phase.PROGRESSING, Transition.HOLD): Phase.PAUSED,
    (Phase.PAUSED, Transition.RESUME): Phase.PROGRESSING,
    **{(phase, Transition.REPLACE): Phase.PROGRESSING for phase in _RUNNING},
    **{(phase, Transition.PROMOTE): Phase.HEALTHY for phase in _RUNNING},
    **{(phase, Transition.VERDICT): Phase.HEALTHY for phase in _RUNNING},
    **{(phase, Transition.CANCEL_TO_STABLE): Phase.HEALTHY for phase in _RUNNING},
    **{(phase, Transition.CANCEL_TO_REJECTED): Phase.DEGRADED for phase in _RUNNING},
    **{(phase, Transition.ROLLBACK): Phase.DEGRADED for phase in _RUNNING},
}

REQUEST_PHASES: dict[ManualAction, frozenset[Phase]] = {
    ManualAction.PROMOTE: frozenset(_RUNNING),
    ManualAction.PROMOTE_FULL: frozenset(_RUNNING),
    ManualAction.ABORT: frozenset(_RUNNING),
    ManualAction.PAUSE: frozenset(_RUNNING),
    ManualAction.RESUME: frozenset({Phase.PAUSED}),
    ManualAction.RETRY: frozenset({Phase.DEGRADED, Phase.HEALTHY}),
    ManualAction.UNDO: frozenset({Phase.HEALTHY, *_RUNNING}),
}


def next_phase(phase: Phase | None, transition: Transition) -> Phase:
    """Where `transition` leads from `phase`; raises IllegalTransition for a pair the table lacks."""
    try:
        return TRANSITIONS[(phase, transition)]
    except KeyError:
        raise IllegalTransition(str(phase.value if phase else None), transition.value) from None


def request_makes_sense(action: ManualAction, phase: Phase | None) -> bool:
    return phase is not None and phase in REQUEST_PHASES[action]
