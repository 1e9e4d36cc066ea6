"""A canary from the first apply to promotion and scale-down, on simulated time."""

from __future__ import annotations

from datetime import timedelta

from engine_harness import T0, Simulation, analysis_step, canary, events, of_kind, promoted, rollout_of

from controller.api.status import ConditionStatus, Phase, TrafficSplit, Verdict
from controller.engine.actions import EnsureRevision, ScaleRevision, SetTraffic
from controller.engine.traffic import traffic_pending

STRATEGY = canary(
    {"setWeight": 10}, {"pause": {"duration": "30s"}}, analysis_step(count=2), {"setWeight": 50}, {"setWeight": 100}
)


def conditions(sim: Simulation) -> dict[str, ConditionStatus]:
    return {c.type: c.status for c in sim.rollout.status.conditions}


def test_the_first_template_becomes_stable_at_once() -> None:
    sim = Simulation(rollout_of(STRATEGY, replicas=3))
    decision = sim.tick()
    stable = sim.revision("1")

    assert decision.actions[:2] == [
        EnsureRevision(revision=stable, template=sim.rollout.spec.template, replicas=3, role="stable"),
        SetTraffic(stable_revision=stable, candidate_revision=None, split=TrafficSplit.all_stable()),
    ]
    assert [e.reason for e in events(decision.actions)] == ["Initialized"]
    status = decision.status
    assert (status.phase, status.stable_revision, status.candidate_revision) == (Phase.HEALTHY, stable, None)
    assert status.observed_generation == 1 and status.traffic_summary == "100/0"
    assert conditions(sim) == {
        "TrafficApplied": ConditionStatus.FALSE,
        "Ready": ConditionStatus.TRUE,
        "Reconciling": ConditionStatus.FALSE,
        "Stalled": ConditionStatus.FALSE,
    }


def test_a_template_change_starts_a_rollout_with_the_candidate_at_its_first_share_and_no_traffic() -> None:
    sim = Simulation(rollout_of(STRATEGY, replicas=3))
    sim.tick()
    sim.apply("2")
    sim.unready.add(sim.revision("2"))
    decision = sim.tick()

    candidate = sim.revision("2")
    # setWeight 10 of 3 replicas: ceil(0.3) is 1 pod.
    assert of_kind(decision.actions, EnsureRevision) == [
        EnsureRevision(revision=candidate, template=sim.rollout.spec.template, replicas=1, role="candidate")
    ]
    assert of_kind(decision.actions, SetTraffic) == []
    assert [e.reason for e in events(decision.actions)] == ["RolloutStarted"]
    status = decision.status
    assert (status.phase, status.candidate_revision, status.current_step, status.step_count) == (
        Phase.PROGRESSING,
        candidate,
        0,
        6,
    )
    assert conditions(sim)["Reconciling"] is ConditionStatus.TRUE
    assert conditions(sim)["Ready"] is ConditionStatus.FALSE


def test_a_canary_walks_every_step_to_promotion_on_simulated_time() -> None:
    sim = Simulation(rollout_of(STRATEGY, replicas=3))
    sim.tick(10)  # 12:00:00 first apply
    sim.apply("2")
    stable, candidate = sim.revision("1"), sim.revision("2")
    sim.tick(10)  # 12:00:10 rollout starts; the candidate becomes ready in the cluster
    decision = sim.tick(10)  # 12:00:20 setWeight 10 written
    assert of_kind(decision.actions, SetTraffic) == [
        SetTraffic(stable_revision=stable, candidate_revision=candidate, split=TrafficSplit(stable=90, candidate=10))
    ]
    assert decision.status.current_step == 0 and decision.status.reason == "WaitingForTraffic"

    decision = sim.tick(10)  # 12:00:30 the routers confirm: the pause starts now
    assert decision.status.current_step == 1
    assert decision.status.step_started_at == T0 + timedelta(seconds=30)

    sim.run(lambda r: r.status.current_step == 2)
    assert sim.ticks[-1].now == T0 + timedelta(seconds=60)  # exactly 30s of pause

    sim.run(lambda r: r.status.current_step == 3)
    analysis_ticks = [t for t in sim.ticks if t.wanted]
    assert [t.now for t in analysis_ticks] == [T0 + timedelta(seconds=90), T0 + timedelta(seconds=120)]
    assert {r.window_start for t in analysis_ticks for r in t.wanted} == {T0 + timedelta(seconds=30)}
    evidence = sim.rollout.status.evidence
    assert [(e.metric, e.scope, e.revision, e.verdict) for e in evidence] == [
        ("error-rate", "step 2", candidate, Verdict.PASSED)
    ] * 2
    assert (
        evidence[0].candidate_value == 0.01 and evidence[0].threshold == 0.05 and evidence[0].candidate_samples == 1000
    )

    sim.run(lambda r: r.status.phase is Phase.HEALTHY)
    status = sim.rollout.status
    assert (status.stable_revision, status.previous_stable_revision, status.candidate_revision) == (
        candidate,
        stable,
        None,
    )
    assert status.current_step is None and status.traffic == TrafficSplit.all_stable()
    last = sim.ticks[-1].decision.actions
    assert EnsureRevision(revision=candidate, template=sim.rollout.spec.template, replicas=3, role="stable") in last
    assert SetTraffic(stable_revision=candidate, candidate_revision=None, split=TrafficSplit.all_stable()) in last
    assert status.scale_down is not None and status.scale_down.revision == stable
    assert status.scale_down.at == sim.ticks[-1].now + timedelta(seconds=30)
    assert conditions(sim)["Ready"] is ConditionStatus.TRUE

    sim.run(lambda r: r.status.scale_down is None)
    assert of_kind(sim.ticks[-1].decision.actions, ScaleRevision) == [ScaleRevision(revision=stable, replicas=0)]
    assert sim.ticks[-1].now == status.scale_down.at
    reasons = [e.reason for e in events(sim.actions)]
    assert reasons == ["Initialized", "RolloutStarted", *["StepCompleted"] * 5, "Promoted", "ScaledDown"]


def test_each_traffic_step_waits_for_the_routers_before_the_next_step() -> None:
    # A fixed candidate size, so no step also waits for the candidate to grow.
    sim = Simulation(rollout_of(canary({"setWeight": 20}, {"setWeight": 60}, {"setWeight": 100}, candidateReplicas=3)))
    sim.tick()
    sim.apply("2")
    sim.run(promoted)

    splits = [a.split.candidate for a in of_kind(sim.actions, SetTraffic)]
    assert splits == [0, 20, 60, 100, 0]
    writes = [t for t in sim.ticks if of_kind(t.decision.actions, SetTraffic)]
    # Each split is written by the decision that learns the routers applied the one before it: never sooner.
    assert [traffic_pending(t.before.status) for t in writes] == [False, False, True, True, True]
    assert len({t.now for t in writes}) == len(writes)


def test_background_analysis_runs_on_its_interval_once_the_candidate_takes_traffic() -> None:
    strategy = canary(
        {"pause": {"duration": "1m"}}, {"setWeight": 10}, {"pause": {"duration": "2m"}}, {"setWeight": 100}
    )
    background = {"interval": "1m", "metrics": [{"name": "error-rate", "router": {"metric": "errorRate"}, "max": 0.05}]}
    sim = Simulation(rollout_of(strategy, analysis=background))
    sim.tick()
    sim.apply("2")
    sim.run(promoted)

    measured = [t for t in sim.ticks if t.wanted]
    assert all(r.scope == "background" for t in measured for r in t.wanted)
    confirmed = next(t.now for t in sim.ticks if t.decision.status.current_step == 2)
    assert [t.now - confirmed for t in measured] == [timedelta(minutes=1), timedelta(minutes=2)]
    assert all(r.window_start == confirmed for t in measured for r in t.wanted)
    assert sim.rollout.status.background_measured_at == measured[-1].now
