"""A restarted controller reads only the stored status, and decides exactly as one that never stopped."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from engine_harness import ERROR_RATE, Simulation, Tick, analysis_step, canary, rollout_of

from controller.api.resource import ModelRollout
from controller.api.status import Verdict
from controller.engine.decide import decide, due_measurements
from controller.engine.inputs import ManualAction, MeasurementRequest

Script = Callable[[MeasurementRequest], Verdict]


def stored(rollout: ModelRollout) -> ModelRollout:
    """The rollout as the API server hands it to a fresh process: JSON, parsed again."""
    return ModelRollout.model_validate(json.loads(json.dumps(rollout.to_wire())))


def flaky() -> Script:
    """Three Inconclusive answers (too little traffic yet), then Passed."""
    answered = [0]

    def script(request: MeasurementRequest) -> Verdict:
        answered[0] += 1
        return Verdict.INCONCLUSIVE if answered[0] <= 3 else Verdict.PASSED

    return script


def always(verdict: Verdict) -> Callable[[], Script]:
    return lambda: lambda request: verdict


def background_fails() -> Script:
    return lambda request: Verdict.FAILED if request.scope == "background" else Verdict.PASSED


CANARY = canary(
    {"setMirror": 50},
    {"setWeight": 10},
    {"pause": {"duration": "45s"}},
    analysis_step(count=2, failureLimit=1),
    {"setMirror": 0},
    {"setWeight": 60},
    {"pause": {}},
    {"setWeight": 100},
)
BACKGROUND = {"interval": "40s", "metrics": [{**ERROR_RATE, "name": "live-errors"}]}
BLUE_GREEN = {
    "blueGreen": {
        "prePromotionAnalysis": {"metrics": [ERROR_RATE]},
        "autoPromotionSeconds": 30,
        "postPromotionAnalysis": {"count": 2, "metrics": [ERROR_RATE]},
        "scaleDownDelaySeconds": 60,
    }
}
SHADOW = {
    "shadow": {
        "percent": 20,
        "duration": "2m",
        "promote": False,
        "analysis": {"interval": "30s", "metrics": [{**ERROR_RATE, "router": {"metric": "shadowErrorRate"}}]},
    }
}

SCENARIOS: dict[str, tuple[dict[str, Any], dict[str, Any] | None, Callable[[], Script], dict[int, ManualAction]]] = {
    "canary to promotion": (CANARY, BACKGROUND, always(Verdict.PASSED), {30: ManualAction.PROMOTE}),
    "canary with holds and a manual pause": (
        CANARY,
        None,
        flaky,
        {8: ManualAction.PAUSE, 14: ManualAction.RESUME, 40: ManualAction.PROMOTE},
    ),
    "canary rolled back then retried": (CANARY, BACKGROUND, background_fails, {20: ManualAction.RETRY}),
    "blue-green": (BLUE_GREEN, None, always(Verdict.PASSED), {}),
    "shadow verdict": (SHADOW, None, always(Verdict.PASSED), {}),
}


def play(
    strategy: dict[str, Any],
    analysis: dict[str, Any] | None,
    script: Callable[[], Script],
    requests: dict[int, ManualAction],
    restart: bool,
) -> list[Tick]:
    sim = Simulation(rollout_of(strategy, analysis=analysis), verdicts=script(), restart_at_step_boundaries=restart)
    sim.tick()
    sim.apply("2")
    for index in range(60):
        sim.tick(15, request=requests.get(index))
    return sim.ticks


def wire(tick: Tick) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return tick.decision.status.to_wire(), [a.model_dump(mode="json") for a in tick.decision.actions]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_controller_restarted_at_every_step_boundary_decides_exactly_the_same(name: str) -> None:
    strategy, analysis, script, requests = SCENARIOS[name]
    straight = play(strategy, analysis, script, requests, restart=False)
    restarted = play(strategy, analysis, script, requests, restart=True)

    boundaries = [i for i, t in enumerate(straight) if t.decision.status.current_step != t.before.status.current_step]
    assert len(boundaries) >= 4  # the scenario really crosses steps
    assert [t.wanted for t in restarted] == [t.wanted for t in straight]
    assert [wire(t) for t in restarted] == [wire(t) for t in straight]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_a_fresh_engine_given_only_the_stored_status_repeats_every_decision(name: str) -> None:
    strategy, analysis, script, requests = SCENARIOS[name]
    for tick in play(strategy, analysis, script, requests, restart=False):
        fresh = stored(tick.before)
        assert due_measurements(fresh, tick.now) == tick.wanted
        again = decide(fresh, tick.observations, tick.now)
        assert again.status.to_wire() == tick.decision.status.to_wire()
        assert again.actions == tick.decision.actions
