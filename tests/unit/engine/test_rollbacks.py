"""Every way back: step analysis, background analysis, abort, blue-green after the switch, provider errors."""

from __future__ import annotations

from engine_harness import ERROR_RATE, Simulation, analysis_step, canary, events, of_kind, rollout_of

from controller.api.status import ConditionStatus, Phase, TrafficSplit, Verdict
from controller.engine.actions import ScaleRevision, SetTraffic
from controller.engine.inputs import ManualAction, MeasurementRequest

STEPS = canary({"setWeight": 10}, analysis_step(count=3), {"setWeight": 50}, {"setWeight": 100})


def degraded(sim: Simulation) -> bool:
    return sim.rollout.status.phase is Phase.DEGRADED


def assert_rolled_back(sim: Simulation, reason: str) -> None:
    """All traffic to stable, mirror off, candidate scaled to 0 and rejected, Degraded with the reason."""
    status, actions = sim.rollout.status, sim.ticks[-1].decision.actions
    stable, candidate = sim.revision("1"), sim.revision("2")
    assert (status.phase, status.reason) == (Phase.DEGRADED, reason)
    assert (status.stable_revision, status.candidate_revision, status.rejected_revision) == (stable, None, candidate)
    assert status.traffic == TrafficSplit.all_stable() and status.current_step is None
    assert SetTraffic(stable_revision=stable, candidate_revision=None, split=TrafficSplit.all_stable()) in actions
    assert ScaleRevision(revision=candidate, replicas=0) in actions
    assert [e.type for e in events(actions, "RolledBack")] == ["Warning"]
    stalled = {c.type: c.status for c in status.conditions}["Stalled"]
    assert stalled is ConditionStatus.TRUE


def test_a_failed_step_analysis_rolls_back_naming_metric_value_and_limit() -> None:
    sim = Simulation(rollout_of(STEPS), verdicts=lambda r: Verdict.FAILED)
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.phase is Phase.DEGRADED)

    assert_rolled_back(sim, "AnalysisFailed")
    message = sim.rollout.status.message
    assert "error-rate 50% is above max 5%" in message
    assert "step 1" in message and "1 failure, over failureLimit 0" in message
    assert [e.type for e in events(sim.ticks[-1].decision.actions, "AnalysisFailed")] == ["Warning"]


def test_failures_within_the_failure_limit_hold_and_the_next_failure_rolls_back() -> None:
    steps = canary({"setWeight": 10}, analysis_step(count=3, failureLimit=2), {"setWeight": 100})
    sim = Simulation(rollout_of(steps), verdicts=lambda r: Verdict.FAILED)
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.phase is Phase.DEGRADED)

    judged = [e.verdict for e in sim.rollout.status.evidence]
    assert judged == [Verdict.FAILED] * 3
    assert "3 failures, over failureLimit 2" in sim.rollout.status.message


def test_a_failed_background_measurement_rolls_back_at_any_step() -> None:
    background = {"interval": "1m", "metrics": [{**ERROR_RATE, "name": "live-errors"}]}
    steps = canary({"setWeight": 10}, {"pause": {"duration": "10m"}}, {"setWeight": 100})

    def verdict(request: MeasurementRequest) -> Verdict:
        return Verdict.FAILED if request.scope == "background" else Verdict.PASSED

    sim = Simulation(rollout_of(steps, analysis=background), verdicts=verdict)
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.phase is Phase.DEGRADED)

    assert_rolled_back(sim, "AnalysisFailed")
    assert sim.ticks[-1].before.status.current_step == 1  # in the middle of the pause
    assert "live-errors" in sim.rollout.status.message and "background" in sim.rollout.status.message


def test_an_abort_rolls_back_at_once_with_reason_aborted() -> None:
    sim = Simulation(rollout_of(STEPS))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.current_step == 1)
    sim.tick(request=ManualAction.ABORT)

    assert_rolled_back(sim, "Aborted")
    assert "aborted by request req-1" in sim.rollout.status.message


def test_an_unreachable_provider_rolls_back_only_with_on_provider_error_fail() -> None:
    steps = canary({"setWeight": 10}, analysis_step(count=1, onProviderError="fail"), {"setWeight": 100})
    sim = Simulation(rollout_of(steps), verdicts=lambda r: Verdict.ERROR)
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.phase is Phase.DEGRADED)

    assert_rolled_back(sim, "AnalysisFailed")
    assert "provider failed: connection refused" in sim.rollout.status.message


def test_blue_green_rolls_back_instantly_to_the_warm_old_revision_after_the_switch() -> None:
    strategy = {
        "blueGreen": {
            "autoPromotionSeconds": 0,
            "postPromotionAnalysis": {"interval": "1m", "count": 3, "metrics": [ERROR_RATE]},
            "scaleDownDelaySeconds": 600,
        }
    }
    sim = Simulation(rollout_of(strategy, replicas=4), verdicts=lambda r: Verdict.FAILED)
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.phase is Phase.DEGRADED)

    before = sim.ticks[-1].before.status
    assert before.traffic.candidate == 100  # the candidate served everything: the switch had happened
    assert sim.replicas[sim.revision("1")] == 4  # the old revision never went cold
    assert all(a.replicas == 4 for a in of_kind(sim.actions, ScaleRevision) if a.revision == sim.revision("1"))
    assert_rolled_back(sim, "AnalysisFailed")
    assert "postPromotion" in sim.rollout.status.message
