"""An invalid spec stops the engine where it stands and says which field is wrong."""

from __future__ import annotations

from typing import Any

from engine_harness import Simulation, canary, events, rollout_of

from controller.api.resource import ModelRollout
from controller.api.status import ConditionStatus, ModelRolloutStatus, Phase
from controller.engine.decide import due_measurements

NEVER_FULL = canary({"setWeight": 10}, {"setWeight": 50})


def with_strategy(rollout: ModelRollout, strategy: dict[str, Any], **spec: Any) -> ModelRollout:
    wire = rollout.to_wire()
    wire["spec"] = {**wire["spec"], "strategy": strategy, **spec}
    wire["metadata"]["generation"] = rollout.generation + 1
    return ModelRollout.model_validate(wire)


def conditions(status: ModelRolloutStatus) -> dict[str, ConditionStatus]:
    return {c.type: c.status for c in status.conditions}


def test_an_invalid_first_spec_runs_nothing_and_names_the_field() -> None:
    sim = Simulation(rollout_of(NEVER_FULL))
    decision = sim.tick()

    status = decision.status
    assert (status.phase, status.reason, status.stable_revision) == (Phase.DEGRADED, "InvalidSpec", None)
    assert (
        status.message
        == ".spec.strategy.canary.steps: the highest setWeight is 50; the steps must reach setWeight 100 to promote"
    )
    assert conditions(status) == {
        "Ready": ConditionStatus.FALSE,
        "Reconciling": ConditionStatus.FALSE,
        "Stalled": ConditionStatus.TRUE,
    }
    [event] = decision.actions
    assert (event.type, event.reason, event.message) == ("Warning", "InvalidSpec", status.message)
    assert sim.tick().actions == []  # told once, not on every reconcile


def test_the_message_counts_the_other_problems() -> None:
    broken = canary({"setWeight": 60}, {"setWeight": 20})
    decision = Simulation(rollout_of(broken)).tick()

    assert decision.status.message == (
        ".spec.strategy.canary.steps[1].setWeight: 20 lowers the weight from 60; weights must not decrease"
        " (and 1 more problem)"
    )


def test_an_invalid_spec_mid_rollout_freezes_it_and_a_fixed_spec_lets_it_go_on() -> None:
    good = canary({"setWeight": 10}, {"pause": {"duration": "1m"}}, {"setWeight": 100})
    sim = Simulation(rollout_of(good))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.current_step == 1)
    frozen = sim.rollout.status
    sim.rollout = with_strategy(sim.rollout, NEVER_FULL)

    for _ in range(12):
        decision = sim.tick(30)
        assert [e.reason for e in events(decision.actions)] in (["InvalidSpec"], [])
        assert len(decision.actions) == len(events(decision.actions))
    status = sim.rollout.status
    assert (status.phase, status.reason, status.current_step, status.traffic) == (
        Phase.PROGRESSING,
        "InvalidSpec",
        1,
        frozen.traffic,
    )
    assert conditions(status)["Stalled"] is ConditionStatus.TRUE
    assert conditions(status)["Reconciling"] is ConditionStatus.FALSE
    assert due_measurements(sim.rollout, sim.now) == []

    sim.rollout = with_strategy(sim.rollout, good)
    decision = sim.tick()
    assert "SpecCorrected" in [e.reason for e in events(decision.actions)]
    assert decision.status.current_step == 2  # the pause had long run out
