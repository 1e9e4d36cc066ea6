"""When a rollout is looked at again: the earliest timer in its status, or a resync."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.api.resource import ModelRollout
from controller.kube.timers import Cadence, next_wakeup_s

RolloutFactory = Callable[..., ModelRollout]
T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
CADENCE = Cadence(router_poll_s=1.0, idle_router_poll_s=5.0, progressing_resync_s=40.0, idle_resync_s=300.0)


def _applied(at: datetime, true: bool = True) -> dict[str, Any]:
    return {
        "type": "TrafficApplied",
        "status": "True" if true else "False",
        "reason": "TrafficApplied" if true else "WaitingForRouters",
        "lastTransitionTime": at.isoformat(),
    }


def _running(step: int, **status: Any) -> dict[str, Any]:
    return {
        "phase": "Progressing",
        "stableRevision": "s1",
        "candidateRevision": "c1",
        "currentStep": step,
        "stepCount": 3,
        "stepStartedAt": T0.isoformat(),
        "traffic": {"stable": 80, "candidate": 20},
        "conditions": [_applied(T0)],
        **status,
    }


def test_a_timed_pause_wakes_the_rollout_when_it_ends(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout(status=_running(1))  # step 1 is `pause: 30s`
    assert next_wakeup_s(rollout, T0 + timedelta(seconds=12), CADENCE) == pytest.approx(18.0)


def test_a_pause_already_over_wakes_it_at_once_but_not_in_a_spin(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout(status=_running(1))
    assert next_wakeup_s(rollout, T0 + timedelta(seconds=31), CADENCE) == CADENCE.floor_s


def test_background_analysis_wakes_it_at_each_interval(make_rollout: RolloutFactory) -> None:
    analysis = {"interval": "10s", "metrics": [{"name": "errors", "router": {"metric": "errorRate"}, "max": 0.05}]}
    measured = T0 + timedelta(seconds=25)
    rollout = make_rollout(analysis=analysis, status=_running(0, backgroundMeasuredAt=measured.isoformat()))
    assert next_wakeup_s(rollout, T0 + timedelta(seconds=27), CADENCE) == pytest.approx(8.0)


def test_an_analysis_step_wakes_it_an_interval_after_its_last_measurement(make_rollout: RolloutFactory) -> None:
    steps = [{"setWeight": 20}, {"analysis": {"interval": "20s", "count": 3, "metrics": [
        {"name": "errors", "router": {"metric": "errorRate"}, "max": 0.05}]}}, {"setWeight": 100}]
    tally = {"metric": "errors", "scope": "step 1", "passed": 1, "lastMeasuredAt": (T0 + timedelta(seconds=20)).isoformat()}
    rollout = make_rollout(strategy={"canary": {"steps": steps}}, status=_running(1, tallies=[tally]))
    assert next_wakeup_s(rollout, T0 + timedelta(seconds=30), CADENCE) == pytest.approx(10.0)


def test_a_split_not_yet_confirmed_is_asked_about_every_poll(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout(status=_running(1, conditions=[_applied(T0, true=False)]))
    assert next_wakeup_s(rollout, T0, CADENCE) == CADENCE.router_poll_s


def test_a_warm_old_stable_wakes_the_idle_rollout_for_its_scale_down(make_rollout: RolloutFactory) -> None:
    status = {
        "phase": "Healthy",
        "stableRevision": "c1",
        "scaleDown": {"revision": "s1", "at": (T0 + timedelta(seconds=45)).isoformat()},
        "conditions": [_applied(T0)],
    }
    assert next_wakeup_s(make_rollout(status=status), T0, CADENCE) == pytest.approx(45.0)


def test_nothing_running_means_a_slow_resync(make_rollout: RolloutFactory) -> None:
    status = {"phase": "Healthy", "stableRevision": "s1", "conditions": [_applied(T0)]}
    assert next_wakeup_s(make_rollout(status=status), T0, CADENCE) == CADENCE.idle_resync_s


def test_a_rollout_waiting_on_a_person_still_resyncs_while_progressing(make_rollout: RolloutFactory) -> None:
    steps = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]
    rollout = make_rollout(strategy={"canary": {"steps": steps}}, status=_running(1))
    assert next_wakeup_s(rollout, T0, CADENCE) == CADENCE.progressing_resync_s
