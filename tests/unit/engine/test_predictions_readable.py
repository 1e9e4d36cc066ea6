"""PredictionsReadable: a protocol setting that reads nothing turns it False with one Warning, and it clears."""

from __future__ import annotations

from datetime import timedelta

from engine_harness import T0, canary, events, template

from controller.api.resource import ModelRollout
from controller.api.status import Condition
from controller.engine.decide import decide
from controller.engine.inputs import Observations, PredictionsReading
from controller.engine.predictions import MIN_ANSWERS

OIP_SHAPE = '{"model_name": ..., "outputs": ...}'


def rollout(protocol: str = "kserve-v1") -> ModelRollout:
    spec = {
        "replicas": 2,
        "template": template("1"),
        "strategy": canary({"setWeight": 10}, {"pause": {}}, {"setWeight": 100}),
        "router": {"predictions": {"protocol": protocol}},
    }
    return ModelRollout.model_validate({"metadata": {"name": "iris", "namespace": "ml", "generation": 1}, "spec": spec})


def reading(answers: int, unreadable: int, sample: str | None = OIP_SHAPE) -> Observations:
    return Observations(predictions=PredictionsReading(variant="stable", answers=answers, unreadable=unreadable, sample=sample))


def readable(mr: ModelRollout) -> Condition | None:
    return next((c for c in mr.status.conditions if c.type == "PredictionsReadable"), None)


def step(mr: ModelRollout, observations: Observations, minutes: int) -> tuple[ModelRollout, list]:
    decision = decide(mr, observations, T0 + timedelta(minutes=minutes))
    return mr.model_copy(update={"status": decision.status}), decision.actions


def test_unreadable_answers_turn_the_condition_false_with_one_warning_then_it_clears() -> None:
    mr, actions = step(rollout(), Observations(), 0)
    assert readable(mr) is None and not events(actions, "PredictionsUnreadable")

    mr, actions = step(mr, reading(100, 100), 1)
    condition = readable(mr)
    assert condition is not None
    assert (condition.status.value, condition.reason) == ("False", "PredictionsUnreadable")
    assert "spec.router.predictions.protocol: kserve-v1" in condition.message
    assert f"answers look like {OIP_SHAPE}" in condition.message and "most stable answers" in condition.message
    (warning,) = events(actions, "PredictionsUnreadable")
    assert warning.type == "Warning" and warning.message == condition.message
    since = condition.last_transition_time

    mr, actions = step(mr, reading(120, 90), 2)  # still mostly unreadable: no second Warning
    assert readable(mr).status.value == "False" and readable(mr).last_transition_time == since  # type: ignore[union-attr]
    assert not events(actions, "PredictionsUnreadable")

    mr, actions = step(mr, Observations(), 3)  # nothing read since the last poll: no verdict
    assert readable(mr).status.value == "False"  # type: ignore[union-attr]

    mr, actions = step(mr, reading(100, 2), 4)
    condition = readable(mr)
    assert condition is not None and (condition.status.value, condition.reason) == ("True", "PredictionsReadable")
    (recovered,) = events(actions, "PredictionsReadable")
    assert recovered.type == "Normal"


def test_too_few_answers_or_a_readable_setting_add_nothing() -> None:
    mr, _ = step(rollout(), Observations(), 0)
    mr, actions = step(mr, reading(MIN_ANSWERS - 1, MIN_ANSWERS - 1), 1)
    assert readable(mr) is None and not events(actions, "PredictionsUnreadable")
    mr, actions = step(mr, reading(100, 10), 2)
    assert readable(mr) is None and not events(actions)


def test_half_unreadable_is_not_most() -> None:
    mr, _ = step(rollout("auto"), Observations(), 0)
    mr, _ = step(mr, reading(100, 50), 1)
    assert readable(mr) is None
    mr, _ = step(mr, reading(100, 51, sample=None), 2)
    assert "protocol: auto" in readable(mr).message and "look like nothing recorded" in readable(mr).message  # type: ignore[union-attr]
