"""A metric with dryRun: true is measured and recorded, never acted on."""

from __future__ import annotations

from engine_harness import ERROR_RATE, Simulation, analysis_step, canary, promoted, rollout_of

from controller.api.status import Phase, Verdict
from controller.engine.inputs import MeasurementRequest


def test_failing_dry_run_metrics_are_recorded_and_the_rollout_still_promotes() -> None:
    dry = {**ERROR_RATE, "name": "shadow-errors", "dryRun": True}
    background = {"interval": "1m", "metrics": [dry]}
    steps = canary({"setWeight": 10}, analysis_step(count=2), {"setWeight": 100})

    def verdict(request: MeasurementRequest) -> Verdict:
        return Verdict.FAILED if request.metric.dry_run else Verdict.PASSED

    sim = Simulation(rollout_of(steps, analysis=background), verdicts=verdict)
    sim.tick()
    sim.apply("2")
    sim.run(promoted)

    evidence = sim.rollout.status.evidence
    assert any(r.metric == "shadow-errors" and r.verdict is Verdict.FAILED for r in evidence)
    assert sim.rollout.status.phase is Phase.HEALTHY


def test_a_dry_run_step_metric_does_not_hold_its_step() -> None:
    steps = canary({"setWeight": 10}, analysis_step(count=1, dryRun=True), {"setWeight": 100})
    sim = Simulation(rollout_of(steps), verdicts=lambda r: Verdict.INCONCLUSIVE)
    sim.tick()
    sim.apply("2")
    sim.run(promoted)

    assert sim.rollout.status.phase is Phase.HEALTHY
