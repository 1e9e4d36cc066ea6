"""Drive one rollout to its end on this machine: reconcile on a tick until promoted, rolled back or judged.

With `monitor_s`, a promoted rollout is reconciled on for that much rollout time more, so
spec.monitoring watches the new stable (captures its reference, checks drift and quality);
`stop_monitoring` ends that early, e.g. once the episode a scenario waits for has opened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from controller.api.resource import ModelRollout, revision_of
from controller.api.status import Phase
from controller.runtime.driver import Ports, Reconciled, reconcile

__all__ = ["SessionOutcome", "SessionResult", "outcome_of", "run_session"]


class SessionOutcome(StrEnum):
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    VERDICT = "verdict"  # shadow with promote: false — judged, nothing switched
    INVALID = "invalid"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class SessionResult:
    outcome: SessionOutcome
    reason: str
    rollout: ModelRollout


def outcome_of(rollout: ModelRollout) -> SessionOutcome | None:
    """The rollout's end, read from its status alone; None while it is still going."""
    status = rollout.status
    target = revision_of(rollout.spec.template)
    if status.reason == "InvalidSpec":
        return SessionOutcome.INVALID
    if status.shadow_verdict is not None and status.candidate_revision is None:
        return SessionOutcome.VERDICT
    if status.phase is Phase.DEGRADED and status.rejected_revision == target:
        return SessionOutcome.ROLLED_BACK
    if status.phase is Phase.HEALTHY and status.stable_revision == target and status.candidate_revision is None:
        return SessionOutcome.PROMOTED
    return None


async def run_session(
    ports: Ports,
    rollout: ModelRollout,
    *,
    tick_s: float,
    deadline_s: float,
    on_tick: Callable[[Reconciled], Awaitable[None]] | None = None,
    monitor_s: float = 0.0,
    stop_monitoring: Callable[[ModelRollout], bool] | None = None,
) -> SessionResult:
    """Reconcile every `tick_s` of rollout time until an outcome (and `monitor_s` after a promotion),
    or `deadline_s` of rollout time."""
    started = ports.clock.now()
    promoted_at = None
    while True:
        reconciled = await reconcile(ports, rollout)
        rollout = reconciled.rollout
        if on_tick is not None:
            await on_tick(reconciled)
        outcome = outcome_of(rollout)
        if outcome is SessionOutcome.PROMOTED and monitor_s > 0 and rollout.spec.monitoring is not None:
            promoted_at = promoted_at or ports.clock.now()
            watched_s = (ports.clock.now() - promoted_at).total_seconds()
            if watched_s < monitor_s and not (stop_monitoring is not None and stop_monitoring(rollout)):
                await ports.clock.sleep(tick_s)
                continue
        if outcome is not None:
            return SessionResult(outcome, rollout.status.message or rollout.status.reason or "", rollout)
        if (ports.clock.now() - started).total_seconds() > deadline_s:
            step = rollout.status.current_step
            return SessionResult(SessionOutcome.TIMED_OUT, f"no outcome after {deadline_s:.0f}s (at step {step})", rollout)
        await ports.clock.sleep(tick_s)
