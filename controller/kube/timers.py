"""When to look at a rollout again, read from its status: the next timer, or a slow resync.

Watches bring every change of the objects themselves; what no watch reports is time passing
(a pause ending, an analysis interval elapsing, a warm old stable due for scale-down, a monitoring
check) and the routers picking up a new config. This computes the earliest of those.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.api.resource import ModelRollout
from controller.engine.measurements import BACKGROUND_SCOPE, active_scopes, current_step
from controller.engine.monitoring import next_check_at, watching
from controller.engine.traffic import traffic_pending, traffic_since
from controller.engine.validity import checked_steps
from controller.strategies.steps import Analysis, Pause, Step

__all__ = ["Cadence", "DEFAULT_CADENCE", "next_wakeup_s"]


@dataclass(frozen=True)
class Cadence:
    # While the routers have not confirmed a split: how often to ask them again (a step waits on it).
    router_poll_s: float = 1.0
    # The same with no rollout running: only the TrafficApplied condition waits on it.
    idle_router_poll_s: float = 5.0
    # A rollout that is running but waits on no timer (e.g. on a person or on readiness).
    progressing_resync_s: float = 30.0
    # Nothing running: only to notice drift no watch reported.
    idle_resync_s: float = 300.0
    # Never sooner than this, so a timer due "now" does not spin.
    floor_s: float = 0.05


DEFAULT_CADENCE = Cadence()


def _measurement_times(rollout: ModelRollout, steps: tuple[Step, ...]) -> list[datetime]:
    status, spec = rollout.status, rollout.spec
    times: list[datetime] = []
    for scope in active_scopes(status, spec, steps):
        if scope == BACKGROUND_SCOPE and spec.analysis is not None:
            last = status.background_measured_at or traffic_since(status)
            interval_s = spec.analysis.interval
        else:
            step = current_step(status, steps)
            if not isinstance(step, Analysis):
                continue
            measured = [t.last_measured_at for t in status.tallies if t.scope == scope and t.last_measured_at is not None]
            last, interval_s = max(measured, default=status.step_started_at), step.interval_s
        if last is not None:
            times.append(last + timedelta(seconds=interval_s))
    return times


def _pause_end(rollout: ModelRollout, steps: tuple[Step, ...]) -> datetime | None:
    status = rollout.status
    step = current_step(status, steps)
    if not isinstance(step, Pause) or step.duration_s is None or status.step_started_at is None:
        return None
    return status.step_started_at + timedelta(seconds=step.duration_s)


def next_wakeup_s(rollout: ModelRollout, now: datetime, cadence: Cadence = DEFAULT_CADENCE) -> float:
    """Seconds until this rollout should be reconciled again, absent any watch event."""
    status = rollout.status
    steps, issues = checked_steps(rollout.spec)
    running = status.candidate_revision is not None and not issues
    if traffic_pending(status):
        return cadence.router_poll_s if running else cadence.idle_router_poll_s
    times = [status.scale_down.at] if status.scale_down is not None else []
    if running:
        times += _measurement_times(rollout, steps)
        pause_end = _pause_end(rollout, steps)
        times += [pause_end] if pause_end is not None else []
    if rollout.spec.monitoring is not None and watching(status) and not issues:
        # A monitored model's next check; one not yet started is due at once.
        check = next_check_at(status, rollout.spec.monitoring)
        times.append(check if check is not None else now)
    ceiling = cadence.progressing_resync_s if running else cadence.idle_resync_s
    soonest = min(((t - now).total_seconds() for t in times), default=ceiling)
    return max(cadence.floor_s, min(ceiling, soonest))
