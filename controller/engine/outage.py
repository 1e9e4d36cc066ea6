"""A metrics provider that stays down: held as ever, but visibly, once `errorLimit` is passed.

An Error verdict holds the rollout (never a rollback, unless `onProviderError: fail`), and a
provider can stay down for hours. After more than `errorLimit` errors in a row from one
metric's provider, the rollout records a `providerOutage` (which turns the kstatus `Stalled`
condition True with the provider's message), emits a Warning event, and holds every step, so a
pipeline waiting on the rollout sees why nothing moves. The first answer from that provider
(Passed, Failed or Inconclusive) clears it with a Normal event. A scope that stops being
measured (the rollout ended, a person promoted past the step) clears it without one: there is
nothing to recover.

Only scopes that are measured count: the background analysis while the candidate takes live
or mirrored traffic, and the current analysis step. A stale streak of a scope that is not
measured any more could never clear.
"""

from __future__ import annotations

from controller.api.metrics import MetricSpec
from controller.api.status import MetricTally, ModelRolloutStatus, ProviderOutage, Verdict
from controller.engine.measurements import BACKGROUND_SCOPE, current_step, tally_for
from controller.engine.plan import Context, Plan
from controller.engine.reasons import Message, Reason
from controller.engine.traffic import takes_live_traffic
from controller.strategies.steps import Analysis

__all__ = ["watch_providers"]


def watch_providers(plan: Plan, ctx: Context) -> Plan:
    """Record, keep or clear the provider outage the tallies show now, with an event at each edge."""
    status = plan.status
    current = status.provider_outage
    found = _down(status, ctx, current)
    same = found is not None and current is not None and (found[0], found[1].name) == (current.scope, current.metric)
    if current is not None and not same:
        plan = _clear(plan, ctx, current)
    if found is None:
        return plan
    scope, metric, tally = found
    outage = ProviderOutage(
        metric=metric.name,
        scope=scope,
        since=current.since if same and current is not None else ctx.now,
        errors=tally.consecutive_errors,
        message=Message.PROVIDER_UNAVAILABLE.format(
            metric=metric.name,
            scope=scope,
            source=metric.source_kind,
            errors=tally.consecutive_errors,
            limit=metric.error_limit,
            detail=_last_error(status, metric.name, scope),
        ),
    )
    plan = plan.update(provider_outage=outage)
    return plan if same else plan.event(Reason.PROVIDER_UNAVAILABLE, outage.message, "Warning")


def _watched(status: ModelRolloutStatus, ctx: Context) -> dict[str, tuple[MetricSpec, ...]]:
    """The scopes measured while the rollout is where it is now."""
    if status.candidate_revision is None:
        return {}
    scopes: dict[str, tuple[MetricSpec, ...]] = {}
    if ctx.spec.analysis is not None and takes_live_traffic(status.traffic):
        scopes[BACKGROUND_SCOPE] = tuple(ctx.spec.analysis.metrics)
    step = current_step(status, ctx.steps)
    if isinstance(step, Analysis):
        scopes[step.scope] = step.metrics
    return scopes


def _down(
    status: ModelRolloutStatus, ctx: Context, current: ProviderOutage | None
) -> tuple[str, MetricSpec, MetricTally] | None:
    """A measured metric whose provider failed more than its errorLimit times in a row: the recorded one
    while it still is (so two providers down do not take turns), else the first."""
    down = [
        (scope, metric, tally)
        for scope, metrics in _watched(status, ctx).items()
        for metric in metrics
        if not metric.dry_run and (tally := tally_for(status, metric, scope)).consecutive_errors > metric.error_limit
    ]
    kept = (d for d in down if current is not None and (d[0], d[1].name) == (current.scope, current.metric))
    return next(kept, down[0] if down else None)


def _clear(plan: Plan, ctx: Context, outage: ProviderOutage) -> Plan:
    """No outage any more; a Normal event only when that provider did answer."""
    plan = plan.update(provider_outage=None)
    metrics = _watched(plan.status, ctx).get(outage.scope, ())
    metric = next((m for m in metrics if m.name == outage.metric), None)
    if metric is None or tally_for(plan.status, metric, outage.scope).consecutive_errors > 0:
        return plan
    message = Message.PROVIDER_RECOVERED.format(
        metric=outage.metric, scope=outage.scope, source=metric.source_kind, errors=outage.errors
    )
    return plan.event(Reason.PROVIDER_RECOVERED, message)


def _last_error(status: ModelRolloutStatus, metric: str, scope: str) -> str:
    """The reason of the metric's latest Error in the evidence trail: the provider's own message."""
    found = (r for r in reversed(status.evidence) if (r.metric, r.scope, r.verdict) == (metric, scope, Verdict.ERROR))
    record = next(found, None)
    return record.reason if record is not None else "no answer"
