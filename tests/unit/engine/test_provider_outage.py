"""A provider that stays down: the rollout holds as ever, but Stalled says so, with an event, until it answers."""

from __future__ import annotations

import json

from engine_harness import ERROR_RATE, Simulation, analysis_step, canary, events, promoted, rollout_of

from controller.api.resource import ModelRollout
from controller.api.status import Condition, ModelRolloutStatus, Phase, Verdict
from controller.engine.inputs import ManualAction

STEPS = canary({"setWeight": 10}, analysis_step(count=2, errorLimit=2), {"setWeight": 100})


def stalled(status: ModelRolloutStatus) -> Condition:
    return next(c for c in status.conditions if c.type == "Stalled")


def start(steps: dict, **options: object) -> tuple[Simulation, dict[str, Verdict]]:
    """A rollout of revision 2 whose provider answers what `answer["now"]` says."""
    answer = {"now": Verdict.ERROR}
    analysis = options.pop("analysis", None)
    sim = Simulation(rollout_of(steps, analysis=analysis), verdicts=lambda r: answer["now"], **options)  # type: ignore[arg-type]
    sim.tick()
    sim.apply("2")
    return sim, answer


def errors_so_far(sim: Simulation) -> int:
    return sum(1 for t in sim.ticks for o in t.observations.measurements if o.observation.error is not None)


def test_errors_past_the_error_limit_mark_the_rollout_stalled_with_the_providers_message() -> None:
    sim, _ = start(STEPS)
    sim.run(lambda r: r.status.current_step == 1)

    sim.run(lambda r: errors_so_far(sim) == 2, seconds=30)
    assert sim.rollout.status.provider_outage is None  # two errors are within errorLimit 2
    assert stalled(sim.rollout.status).status.value == "False"

    sim.run(lambda r: r.status.provider_outage is not None, seconds=30)
    status = sim.rollout.status
    assert errors_so_far(sim) == 3
    condition = stalled(status)
    assert (condition.status.value, condition.reason) == ("True", "ProviderUnavailable")
    assert "provider failed: connection refused" in condition.message
    assert "more than errorLimit 2" in condition.message and "error-rate" in condition.message
    assert (status.phase, status.reason) == (Phase.PROGRESSING, "ProviderUnavailable")
    (warning,) = events(sim.actions, "ProviderUnavailable")
    assert warning.type == "Warning" and "connection refused" in warning.message


def test_a_long_outage_holds_without_rolling_back_and_warns_once() -> None:
    sim, _ = start(STEPS)
    sim.run(lambda r: r.status.provider_outage is not None, seconds=30)
    since = sim.rollout.status.provider_outage.since  # type: ignore[union-attr]

    for _ in range(100):  # fifty minutes of a provider that does not answer
        sim.tick(30)

    status = sim.rollout.status
    assert status.current_step == 1 and status.phase is Phase.PROGRESSING
    assert status.provider_outage is not None and status.provider_outage.since == since
    assert status.provider_outage.errors > 50
    assert len(events(sim.actions, "ProviderUnavailable")) == 1
    assert not events(sim.actions, "RolledBack")


def test_the_first_answer_clears_stalled_with_a_normal_event_and_the_rollout_goes_on() -> None:
    sim, answer = start(STEPS)
    sim.run(lambda r: r.status.provider_outage is not None, seconds=30)
    answer["now"] = Verdict.INCONCLUSIVE  # any answer is an answer: the provider is back
    sim.run(lambda r: r.status.provider_outage is None, seconds=30)

    condition = stalled(sim.rollout.status)
    assert condition.status.value == "False" and condition.reason != "ProviderUnavailable"
    (recovered,) = events(sim.actions, "ProviderRecovered")
    assert recovered.type == "Normal" and "error-rate (step 1)" in recovered.message

    answer["now"] = Verdict.PASSED
    sim.run(promoted)
    assert len(events(sim.actions, "ProviderUnavailable")) == 1


def test_the_error_limit_defaults_to_four_errors_tolerated() -> None:
    sim, _ = start(canary({"setWeight": 10}, analysis_step(count=1), {"setWeight": 100}))
    sim.run(lambda r: r.status.provider_outage is not None, seconds=30)

    assert errors_so_far(sim) == 5
    assert "more than errorLimit 4" in stalled(sim.rollout.status).message


def test_a_background_provider_down_holds_every_step_until_it_answers() -> None:
    background = {"interval": "30s", "metrics": [{**ERROR_RATE, "name": "live-errors", "errorLimit": 1}]}
    sim, answer = start(canary({"setWeight": 10}, {"pause": {"duration": "5m"}}, {"setWeight": 100}), analysis=background)
    sim.run(lambda r: r.status.provider_outage is not None, seconds=30)
    assert sim.rollout.status.current_step == 1

    for _ in range(40):  # twenty minutes: the five-minute pause would long be over
        sim.tick(30)
    assert sim.rollout.status.current_step == 1
    assert "live-errors (background)" in stalled(sim.rollout.status).message

    answer["now"] = Verdict.PASSED
    sim.run(promoted)
    assert len(events(sim.actions, "ProviderRecovered")) == 1


def test_an_abort_during_an_outage_clears_it_without_a_recovery_event() -> None:
    sim, _ = start(STEPS)
    sim.run(lambda r: r.status.provider_outage is not None, seconds=30)
    sim.tick(request=ManualAction.ABORT)

    status = sim.rollout.status
    assert status.phase is Phase.DEGRADED and status.provider_outage is None
    assert stalled(status).reason == "Aborted"
    assert not events(sim.actions, "ProviderRecovered")


def test_a_promote_past_the_analysis_step_ends_the_outage_quietly() -> None:
    sim, _ = start(STEPS)
    sim.run(lambda r: r.status.provider_outage is not None, seconds=30)
    sim.tick(request=ManualAction.PROMOTE)

    assert sim.rollout.status.provider_outage is None
    assert stalled(sim.rollout.status).status.value == "False"
    assert not events(sim.actions, "ProviderRecovered")
    sim.run(promoted)


def test_on_provider_error_fail_still_rolls_back_past_the_failure_limit() -> None:
    steps = canary({"setWeight": 10}, analysis_step(errorLimit=0, failureLimit=3, onProviderError="fail"), {"setWeight": 100})
    sim, _ = start(steps)
    sim.run(lambda r: r.status.provider_outage is not None, seconds=30)
    sim.run(lambda r: r.status.phase is Phase.DEGRADED, seconds=30)

    assert errors_so_far(sim) == 4
    assert sim.rollout.status.reason == "AnalysisFailed"
    assert stalled(sim.rollout.status).reason == "AnalysisFailed"


def test_an_outage_survives_a_restart_of_the_controller() -> None:
    sim, answer = start(STEPS)
    sim.run(lambda r: r.status.provider_outage is not None, seconds=30)
    before = sim.rollout.status.provider_outage
    sim.rollout = ModelRollout.model_validate(json.loads(json.dumps(sim.rollout.to_wire())))

    sim.tick(30)
    assert sim.rollout.status.provider_outage is not None
    assert sim.rollout.status.provider_outage.since == before.since  # type: ignore[union-attr]
    assert len(events(sim.actions, "ProviderUnavailable")) == 1

    answer["now"] = Verdict.PASSED
    sim.run(promoted)
    assert len(events(sim.actions, "ProviderRecovered")) == 1
