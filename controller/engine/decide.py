"""The rollout engine: a pure function of (rollout, observations, now) to (new status, actions).

The driver asks `due_measurements` what to measure, measures it, observes readiness, router
state and any request, and calls `decide`. All state lives in the returned status, so a fresh
engine given only the stored status decides exactly as one that never stopped.

`decide` runs a fixed sequence of stages, each `(Plan, Context) -> Plan`:

1. confirm the split the routers now serve (timers and windows start there);
2. follow the template (first stable, start, replace or cancel a rollout);
3. handle a person's request, judged against the state the person saw;
4. judge measurements of scopes still active for the candidate measured (a failure rolls
   back, a stall pauses);
5. record or clear a provider outage (errors past `errorLimit`: held and Stalled), and say
   whether the routers can read the predictions under the protocol setting;
6. run the current step, and the next while steps complete (a candidate grows before it
   gets more);
7. size the revisions: the stable follows spec.replicas, the candidate its share;
8. settle Progressing/Paused; 9. scale down an old stable whose warm period is over;
10. monitor a stable model serving alone (engine/monitoring.py): capture its reference, judge
    drift and quality, open episodes that trigger retraining.

An invalid spec skips all of them: only the reason, message and conditions change. Either way the
decision ends with its upkeep (engine/upkeep.py): the split and the revisions in status kept in
force against hand edits, carried out after the decided actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from controller.api.resource import ModelRollout, revision_of
from controller.api.status import ModelRolloutStatus
from controller.engine.actions import Action
from controller.engine.conditions import with_kstatus
from controller.engine.endings import scale_down_due
from controller.engine.gates import apply_gates, due_gates, tell_post_rollout
from controller.engine.inputs import GateRequest, MeasurementRequest, Observations
from controller.engine.measurements import apply_measurements, due_requests
from controller.engine.monitoring import due_monitoring, watch_monitoring
from controller.engine.outage import watch_providers
from controller.engine.plan import Context, Plan
from controller.engine.predictions import watch_predictions
from controller.engine.replicas import follow_replicas
from controller.engine.requests import handle_request
from controller.engine.revisions import follow_template
from controller.engine.steps import advance, settle_phase
from controller.engine.traffic import confirm_traffic
from controller.engine.upkeep import upkeep
from controller.engine.validity import checked_steps, recover_valid_spec, report_invalid

__all__ = ["Decision", "decide", "due_measurements", "due_monitoring", "gates_to_ask"]

Stage = Callable[[Plan, Context], Plan]

_STAGES: tuple[Stage, ...] = (
    confirm_traffic,
    recover_valid_spec,
    follow_template,
    handle_request,
    apply_measurements,
    apply_gates,
    watch_providers,
    watch_predictions,
    advance,
    follow_replicas,
    settle_phase,
    scale_down_due,
    watch_monitoring,
    tell_post_rollout,
)


@dataclass(frozen=True)
class Decision:
    """The new status to store, and the actions to carry out first, in order, then the upkeep."""

    status: ModelRolloutStatus
    actions: list[Action]
    # Keeps what the status says in force against hand edits; no change of its own (engine/upkeep.py).
    upkeep: list[Action] = field(default_factory=list)


def decide(rollout: ModelRollout, observations: Observations, now: datetime) -> Decision:
    _require_aware(now)
    steps, issues = checked_steps(rollout.spec)
    ctx = Context(rollout=rollout, steps=steps, observations=observations, now=now)
    plan = Plan(status=rollout.status)
    if issues:
        plan = report_invalid(plan, ctx, issues)
    else:
        for stage in _STAGES:
            plan = stage(plan, ctx)
    status = _stamped(plan.status, ctx)
    return Decision(status=status, actions=list(plan.actions), upkeep=upkeep(rollout, status, plan.actions))


def due_measurements(rollout: ModelRollout, now: datetime) -> list[MeasurementRequest]:
    """What to measure before deciding at `now`: background and analysis-step metrics whose interval elapsed."""
    _require_aware(now)
    steps, issues = checked_steps(rollout.spec)
    status = rollout.status
    if issues or status.candidate_revision != revision_of(rollout.spec.template):
        return []
    return due_requests(status, rollout.spec, steps, now)


def gates_to_ask(rollout: ModelRollout, now: datetime) -> list[GateRequest]:
    """Which webhook gates to ask before deciding at `now` (engine/gates.py says when each is asked)."""
    _require_aware(now)
    steps, issues = checked_steps(rollout.spec)
    status = rollout.status
    if issues or status.candidate_revision != revision_of(rollout.spec.template):
        return []
    return due_gates(status, rollout.spec, steps, now)


def _stamped(status: ModelRolloutStatus, ctx: Context) -> ModelRolloutStatus:
    generation = ctx.rollout.generation
    status = status.model_copy(update={"observed_generation": generation, "traffic_summary": status.traffic.summary})
    return with_kstatus(status, generation, ctx.now)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now {now.isoformat()} has no time zone; expected an aware datetime such as one in UTC")
