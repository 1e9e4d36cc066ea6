"""A spec that cannot be read: the engine decides the status and the one warning, in simulated time."""

from __future__ import annotations

from datetime import timedelta

from engine_harness import T0, canary, started

from controller.api.status import ConditionStatus, ModelRolloutStatus, Phase
from controller.engine.actions import EmitEvent
from controller.engine.unreadable import decide_unreadable

MESSAGE = ".spec.replicas: Input should be a valid integer"


def conditions(status: ModelRolloutStatus) -> dict[str, ConditionStatus]:
    return {c.type: c.status for c in status.conditions}


def test_a_resource_never_served_is_degraded_with_the_message_and_one_warning() -> None:
    decision = decide_unreadable(ModelRolloutStatus(), 3, MESSAGE, T0)

    status = decision.status
    assert (status.phase, status.reason, status.message, status.observed_generation) == (Phase.DEGRADED, "InvalidSpec", MESSAGE, 3)
    assert conditions(status) == {"Ready": ConditionStatus.FALSE, "Reconciling": ConditionStatus.FALSE, "Stalled": ConditionStatus.TRUE}
    assert decision.actions == [EmitEvent(type="Warning", reason="InvalidSpec", message=MESSAGE)]
    assert decision.upkeep == []  # nothing is acted on: there is no spec to act on


def test_told_once_for_the_same_message_at_the_same_generation() -> None:
    first = decide_unreadable(ModelRolloutStatus(), 3, MESSAGE, T0)
    again = decide_unreadable(first.status, 3, MESSAGE, T0 + timedelta(minutes=5))

    assert again.status == first.status
    assert again.actions == []


def test_a_new_generation_with_the_same_problem_updates_status_without_another_warning() -> None:
    first = decide_unreadable(ModelRolloutStatus(), 3, MESSAGE, T0)
    later = decide_unreadable(first.status, 4, MESSAGE, T0 + timedelta(minutes=1))

    assert later.status.observed_generation == 4
    assert later.actions == []


def test_a_different_problem_is_told_again() -> None:
    first = decide_unreadable(ModelRolloutStatus(), 3, MESSAGE, T0)
    other = ".spec.strategy: Field required"
    later = decide_unreadable(first.status, 4, other, T0 + timedelta(minutes=1))

    assert later.status.message == other
    assert [e.message for e in later.actions if isinstance(e, EmitEvent)] == [other]


def test_a_rollout_mid_way_keeps_its_phase_and_everything_it_runs() -> None:
    sim = started(strategy=canary({"setWeight": 20}, {"pause": {}}, {"setWeight": 100}))
    sim.run(lambda r: r.status.current_step == 1)
    before = sim.rollout.status

    decision = decide_unreadable(before, sim.rollout.generation + 1, MESSAGE, sim.now)

    status = decision.status
    assert (status.phase, status.reason) == (before.phase, "InvalidSpec")
    same = ("stable_revision", "candidate_revision", "traffic", "current_step", "candidate_replicas")
    assert {f: getattr(status, f) for f in same} == {f: getattr(before, f) for f in same}
    assert conditions(status)["Stalled"] is ConditionStatus.TRUE
