"""Holds: on too little data, a provider down, a candidate or router not ready, or a person, the rollout waits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_harness import ERROR_RATE, Simulation, analysis_step, canary, events, of_kind, promoted, rollout_of

from controller.api.status import EVIDENCE_LIMIT, Phase, Verdict
from controller.engine.actions import SetTraffic
from controller.engine.inputs import ManualAction, MeasurementRequest

STEPS = canary({"setWeight": 10}, analysis_step(count=2), {"setWeight": 100})


def start(strategy: dict, **options: object) -> Simulation:
    sim = Simulation(rollout_of(strategy, analysis=options.pop("analysis", None)), **options)  # type: ignore[arg-type]
    sim.tick()
    sim.apply("2")
    return sim


def hold_for(sim: Simulation, ticks: int, seconds: float = 30.0) -> set[tuple[Phase | None, str | None, int | None]]:
    """The (phase, reason, step) states seen over `ticks` ticks."""
    seen = set()
    for _ in range(ticks):
        status = sim.tick(seconds).status
        seen.add((status.phase, status.reason, status.current_step))
    return seen


@pytest.mark.parametrize(
    ("verdict", "detail", "reasons"),
    [
        (Verdict.INCONCLUSIVE, "candidate has 3 of 50 samples needed", {"Analyzing"}),
        # Past errorLimit the hold says the provider is down (test_provider_outage.py has the rest).
        (Verdict.ERROR, "provider failed: connection refused", {"Analyzing", "ProviderUnavailable"}),
    ],
)
def test_inconclusive_and_error_hold_the_analysis_step_until_it_passes(
    verdict: Verdict, detail: str, reasons: set[str]
) -> None:
    answer = {"now": verdict}
    sim = start(STEPS, verdicts=lambda r: answer["now"])
    sim.run(lambda r: r.status.current_step == 1)

    assert hold_for(sim, 20) == {(Phase.PROGRESSING, reason, 1) for reason in reasons}
    assert detail in sim.rollout.status.message
    assert {e.verdict for e in sim.rollout.status.evidence} == {verdict}

    answer["now"] = Verdict.PASSED
    sim.run(promoted)
    assert not events(sim.actions, "RolledBack")


def test_no_traffic_reaches_a_candidate_that_is_not_ready() -> None:
    sim = start(STEPS)
    candidate = sim.revision("2")
    sim.unready.add(candidate)

    assert hold_for(sim, 10) == {(Phase.PROGRESSING, "WaitingForCandidate", 0)}
    assert all(a.split.candidate == 0 for a in of_kind(sim.actions, SetTraffic))
    assert candidate in sim.rollout.status.message

    sim.unready.clear()
    sim.run(promoted)


def test_a_step_waits_for_the_routers_and_its_timer_starts_when_they_confirm() -> None:
    sim = start(canary({"setWeight": 10}, {"pause": {"duration": "1m"}}, {"setWeight": 100}))
    sim.run(lambda r: r.status.traffic.candidate == 10)
    sim.routers_stuck = True

    assert hold_for(sim, 10) == {(Phase.PROGRESSING, "WaitingForTraffic", 0)}
    assert [a.split.candidate for a in of_kind(sim.actions, SetTraffic)] == [0, 10]  # written once, not again

    sim.routers_stuck = False
    sim.run(lambda r: r.status.current_step == 1)
    confirmed = sim.ticks[-1].now
    sim.run(lambda r: r.status.current_step == 2)
    assert sim.ticks[-1].now - confirmed == timedelta(minutes=1)


def test_a_pause_without_duration_waits_for_a_promote() -> None:
    sim = start(canary({"setWeight": 10}, {"pause": {}}, {"setWeight": 100}))
    sim.run(lambda r: r.status.current_step == 1)

    assert hold_for(sim, 10, seconds=3600) == {(Phase.PAUSED, "WaitingForPromote", 1)}
    assert [e.message for e in events(sim.actions, "Paused")] == [
        "step 1 (pause until promoted): waiting for a promote"
    ]
    assert sim.rollout.status.pause is not None and sim.rollout.status.pause.reason == "step"

    sim.tick(request=ManualAction.PROMOTE)
    assert sim.rollout.status.current_step == 2 and sim.rollout.status.phase is Phase.PROGRESSING
    sim.run(promoted)


def test_a_manual_pause_stops_every_step_timer_until_resumed() -> None:
    sim = start(canary({"setWeight": 10}, {"pause": {"duration": "1m"}}, {"setWeight": 100}))
    sim.run(lambda r: r.status.current_step == 1)
    sim.tick(request=ManualAction.PAUSE)

    assert hold_for(sim, 10) == {(Phase.PAUSED, "ManualPause", 1)}  # 5 minutes, far past the 1m pause
    assert [e.message for e in events(sim.actions, "Paused")] == ["paused by request req-1; resume to go on"]
    assert sim.rollout.status.manual_pause is not None

    decision = sim.tick(request=ManualAction.RESUME)
    status = decision.status
    assert status.manual_pause is None and status.current_step == 2 and status.phase is Phase.PROGRESSING
    assert [e.reason for e in events(decision.actions)] == ["Resumed", "StepCompleted"]


def test_background_analysis_still_guards_a_manually_paused_rollout() -> None:
    background = {"interval": "1m", "metrics": [ERROR_RATE]}
    fail = {"now": False}

    def verdict(request: MeasurementRequest) -> Verdict:
        return Verdict.FAILED if fail["now"] else Verdict.PASSED

    sim = start(
        canary({"setWeight": 10}, {"pause": {"duration": "1h"}}, {"setWeight": 100}),
        analysis=background,
        verdicts=verdict,
    )
    sim.run(lambda r: r.status.current_step == 1)
    sim.tick(request=ManualAction.PAUSE)
    fail["now"] = True
    sim.run(lambda r: r.status.phase is Phase.DEGRADED)

    assert sim.rollout.status.reason == "AnalysisFailed"


def test_too_many_inconclusive_results_in_a_row_pause_for_a_person() -> None:
    steps = canary({"setWeight": 10}, analysis_step(count=1, interval="1m", inconclusiveLimit=2), {"setWeight": 100})
    sim = start(steps, verdicts=lambda r: Verdict.INCONCLUSIVE)
    sim.run(lambda r: r.status.phase is Phase.PAUSED)

    status = sim.rollout.status
    assert (status.reason, status.current_step) == ("AnalysisInconclusive", 1)
    assert "Inconclusive 3 times in a row, more than inconclusiveLimit 2" in status.message
    assert status.pause is not None and status.pause.reason == "inconclusive"
    assert [e.type for e in events(sim.ticks[-1].decision.actions, "AnalysisInconclusive")] == ["Warning"]
    measured = len(status.evidence)

    assert hold_for(sim, 10, seconds=60) == {(Phase.PAUSED, "AnalysisInconclusive", 1)}
    assert len(sim.rollout.status.evidence) == measured  # nothing is measured while stalled


def test_the_evidence_trail_keeps_the_latest_records_only() -> None:
    sim = start(STEPS, verdicts=lambda r: Verdict.INCONCLUSIVE)
    sim.run(lambda r: r.status.current_step == 1)
    hold_for(sim, EVIDENCE_LIMIT + 10)

    evidence = sim.rollout.status.evidence
    measured = [t.now for t in sim.ticks if t.wanted]
    assert len(measured) > EVIDENCE_LIMIT
    assert len(evidence) == EVIDENCE_LIMIT
    assert [e.time for e in evidence] == measured[-EVIDENCE_LIMIT:]
    assert sim.rollout.status.tallies[0].inconclusive == len(measured)


def test_resume_measures_a_stalled_analysis_again_and_promote_skips_it() -> None:
    steps = canary({"setWeight": 10}, analysis_step(count=1, interval="1m", inconclusiveLimit=0), {"setWeight": 100})
    sim = start(steps, verdicts=lambda r: Verdict.INCONCLUSIVE)
    sim.run(lambda r: r.status.phase is Phase.PAUSED)
    measured = len(sim.rollout.status.evidence)

    sim.tick(request=ManualAction.RESUME)
    assert sim.rollout.status.phase is Phase.PROGRESSING
    sim.run(lambda r: r.status.phase is Phase.PAUSED)
    assert len(sim.rollout.status.evidence) == measured + 1  # one more Inconclusive, then stalled again

    sim.tick(request=ManualAction.PROMOTE)
    assert sim.rollout.status.current_step == 2
    sim.run(promoted)
