"""kstatus conditions move only on real transitions; the phase table refuses pairs it has no rule for."""

from __future__ import annotations

from datetime import datetime

import pytest
from engine_harness import T0, Simulation, canary, promoted, rollout_of

from controller.api.status import Phase
from controller.engine.decide import decide
from controller.engine.inputs import ManualAction, Observations
from controller.engine.phases import REQUEST_PHASES, TRANSITIONS, Transition, next_phase
from controller.errors import IllegalTransition


def test_a_condition_changes_its_transition_time_only_when_its_status_changes() -> None:
    sim = Simulation(rollout_of(canary({"setWeight": 50}, {"pause": {"duration": "5m"}}, {"setWeight": 100})))
    sim.tick()
    sim.apply("2")
    started = sim.now
    sim.run(promoted)

    ready = [next(c for c in t.decision.status.conditions if c.type == "Ready") for t in sim.ticks]
    times = {(c.status.value, c.last_transition_time) for c in ready}
    assert times == {("True", T0), ("False", started), ("True", sim.ticks[-1].now)}
    assert {c.observed_generation for c in ready[1:]} == {2}


def test_an_illegal_transition_names_phase_and_transition() -> None:
    with pytest.raises(IllegalTransition, match="no rule for event 'Rollback' in state 'Healthy'"):
        next_phase(Phase.HEALTHY, Transition.ROLLBACK)


def test_every_transition_leads_to_a_phase_and_every_request_has_phases() -> None:
    assert {transition for _, transition in TRANSITIONS} == set(Transition)
    assert set(REQUEST_PHASES) == set(ManualAction)


def test_decide_refuses_a_time_without_a_zone() -> None:
    rollout = rollout_of(canary({"setWeight": 100}))
    with pytest.raises(ValueError, match="has no time zone"):
        decide(rollout, Observations(), datetime(2024, 6, 1, 12, 0))
