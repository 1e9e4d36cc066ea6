"""Shadow runs that promote or only judge, and blue-green from preview to scale-down."""

from __future__ import annotations

from datetime import timedelta

from engine_harness import ERROR_RATE, Simulation, events, of_kind, promoted, rollout_of

from controller.api.spec import HeaderRouteStep
from controller.api.status import Phase, TrafficSplit, Verdict
from controller.engine.actions import EnsureRevision, ScaleRevision, SetTraffic
from controller.engine.inputs import ManualAction
from controller.local.session import SessionOutcome, outcome_of

SHADOW_ERRORS = {"name": "shadow-errors", "router": {"metric": "shadowErrorRate"}, "max": 0.05, "minSamples": 50}


def shadow(promote: bool, verdict: Verdict) -> Simulation:
    analysis = {"interval": "1m", "count": 2, "metrics": [SHADOW_ERRORS]}
    strategy = {"shadow": {"percent": 40, "duration": "3m", "promote": promote, "analysis": analysis}}
    sim = Simulation(rollout_of(strategy), verdicts=lambda r: verdict)
    sim.tick()
    sim.apply("2")
    return sim


def test_shadow_with_promote_false_ends_in_a_passed_verdict_with_stable_untouched() -> None:
    sim = shadow(promote=False, verdict=Verdict.PASSED)
    sim.run(lambda r: r.status.shadow_verdict is not None)

    status, stable, candidate = sim.rollout.status, sim.revision("1"), sim.revision("2")
    assert (status.phase, status.reason, status.shadow_verdict) == (
        Phase.HEALTHY,
        "ShadowVerdictPassed",
        Verdict.PASSED,
    )
    assert (status.stable_revision, status.candidate_revision) == (stable, None)
    assert ScaleRevision(revision=candidate, replicas=0) in sim.ticks[-1].decision.actions
    writes = of_kind(sim.actions, SetTraffic)
    assert [a.split.mirror for a in writes] == [0, 40, 0, 0]
    assert writes[-1] == SetTraffic(stable_revision=stable, candidate_revision=None, split=TrafficSplit.all_stable())
    assert all(a.split.candidate == 0 and a.stable_revision == stable for a in of_kind(sim.actions, SetTraffic))
    assert len([e for e in status.evidence if e.scope == "shadow"]) == 3  # at least the 3m duration at 1m
    assert outcome_of(sim.rollout) is SessionOutcome.VERDICT

    sim.apply("2")  # re-applying the judged template does not judge it again
    assert all(sim.tick(60).actions == [] for _ in range(5))


def test_a_failed_shadow_verdict_is_reported_not_rolled_back() -> None:
    sim = shadow(promote=False, verdict=Verdict.FAILED)
    sim.run(lambda r: r.status.shadow_verdict is not None)

    status = sim.rollout.status
    assert (status.phase, status.reason, status.shadow_verdict) == (
        Phase.HEALTHY,
        "ShadowVerdictFailed",
        Verdict.FAILED,
    )
    assert "shadow-errors 50% is above max 5%" in status.message and "nothing live changed" in status.message
    assert status.traffic == TrafficSplit.all_stable()
    assert not events(sim.actions, "RolledBack")
    assert [e.type for e in events(sim.actions, "ShadowVerdictFailed")] == ["Warning"]


def test_shadow_with_promote_true_switches_only_after_the_mirror_is_off() -> None:
    sim = shadow(promote=True, verdict=Verdict.PASSED)
    sim.run(promoted)

    splits = [(a.split.candidate, a.split.mirror) for a in of_kind(sim.actions, SetTraffic)]
    assert splits == [(0, 0), (0, 40), (0, 0), (100, 0), (0, 0)]


BLUE_GREEN = {
    "blueGreen": {
        "previewReplicas": 2,
        "prePromotionAnalysis": {"interval": "1m", "metrics": [ERROR_RATE]},
        "autoPromotionSeconds": 120,
        "postPromotionAnalysis": {"interval": "1m", "count": 2, "metrics": [ERROR_RATE]},
        "scaleDownDelaySeconds": 300,
    }
}


def test_blue_green_previews_switches_and_keeps_the_old_revision_warm_for_the_delay() -> None:
    sim = Simulation(rollout_of(BLUE_GREEN, replicas=4))
    sim.tick()
    sim.apply("2")
    stable, candidate = sim.revision("1"), sim.revision("2")
    started = sim.tick()
    assert (
        EnsureRevision(revision=candidate, template=sim.rollout.spec.template, replicas=2, role="candidate")
        in started.actions
    )

    sim.run(promoted)
    preview, switch, cleared, final = of_kind(sim.actions, SetTraffic)[1:]
    assert preview.split == TrafficSplit(header_route=HeaderRouteStep())
    assert switch.split == TrafficSplit(stable=0, candidate=100, header_route=HeaderRouteStep())
    assert cleared.split == TrafficSplit(stable=0, candidate=100)
    assert final == SetTraffic(stable_revision=candidate, candidate_revision=None, split=TrafficSplit.all_stable())
    scopes = [e.scope for e in sim.rollout.status.evidence]
    assert scopes == ["prePromotion", "postPromotion", "postPromotion"]
    assert (
        EnsureRevision(revision=candidate, template=sim.rollout.spec.template, replicas=4, role="stable") in sim.actions
    )

    promoted_at = sim.ticks[-1].now
    sim.run(lambda r: r.status.scale_down is None)
    assert sim.ticks[-1].now - promoted_at == timedelta(seconds=300)
    assert of_kind(sim.ticks[-1].decision.actions, ScaleRevision) == [ScaleRevision(revision=stable, replicas=0)]


def test_blue_green_without_auto_promotion_waits_on_the_preview_for_a_promote() -> None:
    sim = Simulation(rollout_of({"blueGreen": {}}))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.phase is Phase.PAUSED)
    for _ in range(5):
        assert sim.tick(3600).status.reason == "WaitingForPromote"
    assert sim.rollout.status.pause is not None and sim.rollout.status.pause.reason == "preview"

    sim.tick(request=ManualAction.PROMOTE)
    sim.run(promoted)
