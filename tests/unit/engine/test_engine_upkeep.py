"""Upkeep: every decision also says what keeps the status in force — the split and the revisions — in simulated time."""

from __future__ import annotations

from typing import Any

from engine_harness import Simulation, analysis_step, canary, of_kind, rollout_of, started
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_invariants import OPERATIONS, play, rollouts

from controller.api.resource import ModelRollout, revision_of
from controller.api.status import Phase, TrafficSplit, Verdict
from controller.engine.actions import EnsureRevision, KeepRevisions, KeepTraffic, SetTraffic
from controller.engine.decide import Decision

WALK = canary({"setWeight": 20}, {"pause": {"duration": "1m"}}, {"setWeight": 100})


def invalid(rollout: ModelRollout) -> ModelRollout:
    """The same rollout with steps that never reach 100: valid to the schema, refused by the engine."""
    wire = rollout.to_wire()
    wire["spec"]["strategy"] = canary({"setWeight": 10}, {"setWeight": 50})
    return ModelRollout.model_validate(wire)


def kept_traffic(decision: Decision) -> list[KeepTraffic]:
    return of_kind(decision.upkeep, KeepTraffic)


def kept_revisions(decision: Decision) -> KeepRevisions:
    [keep] = of_kind(decision.upkeep, KeepRevisions)
    return keep


def test_a_healthy_rollout_keeps_its_split_and_its_stable_on_every_reconcile() -> None:
    sim = Simulation(rollout_of(WALK, replicas=4))
    sim.tick()
    stable = sim.revision("1")

    for _ in range(3):
        decision = sim.tick(60)
        assert decision.actions == []  # nothing decided ...
        [traffic] = kept_traffic(decision)  # ... and still the split is kept in force
        assert traffic.as_set_traffic() == SetTraffic(stable_revision=stable, candidate_revision=None, split=TrafficSplit())
        keep = kept_revisions(decision)
        assert keep.live == (stable,)
        assert keep.recreate == EnsureRevision(revision=stable, template=sim.rollout.spec.template, replicas=4, role="stable")


def test_a_decision_that_writes_a_split_keeps_no_other() -> None:
    sim = Simulation(rollout_of(WALK))
    first = sim.tick()  # the first stable: its split is written, not kept

    assert len(of_kind(first.actions, SetTraffic)) == 1
    assert kept_traffic(first) == []
    sim.apply("2")
    for _ in range(20):
        decision = sim.tick()
        written = of_kind(decision.actions, SetTraffic)
        assert len(written) + len(kept_traffic(decision)) == 1  # exactly one of the two, every time


def test_mid_rollout_the_split_in_status_is_kept_and_the_candidate_recreated_at_its_asked_size() -> None:
    sim = started(strategy=WALK)
    sim.run(lambda r: r.status.current_step == 1 and r.status.traffic.candidate == 20)
    decision = sim.tick()
    status = sim.rollout.status

    [traffic] = kept_traffic(decision)
    assert (traffic.stable_revision, traffic.candidate_revision, traffic.split) == (
        status.stable_revision,
        status.candidate_revision,
        status.traffic,
    )
    keep = kept_revisions(decision)
    assert keep.live == tuple(sorted((sim.revision("1"), sim.revision("2"))))
    assert keep.recreate is not None
    assert (keep.recreate.revision, keep.recreate.role, keep.recreate.replicas) == (
        sim.revision("2"),
        "candidate",
        status.candidate_replicas,
    )


def test_a_candidate_from_a_status_without_its_size_is_recreated_at_its_share() -> None:
    sim = started(strategy=WALK)
    sim.run(lambda r: r.status.current_step == 1 and r.status.traffic.candidate == 20)
    # A status written before candidateReplicas was recorded, and a spec that keeps the engine from sizing anew.
    sim.rollout = sim.rollout.model_copy(update={"status": sim.rollout.status.model_copy(update={"candidate_replicas": None})})
    sim.rollout = invalid(sim.rollout)
    decision = sim.tick()

    assert decision.status.candidate_replicas is None
    keep = kept_revisions(decision)
    assert keep.recreate is not None and keep.recreate.replicas == 1  # 20% of 3, rounded up


def test_after_a_rollback_the_rejected_template_is_not_recreated() -> None:
    sim = started(strategy=canary({"setWeight": 20}, analysis_step(), {"setWeight": 100}))
    sim.verdicts = lambda request: Verdict.FAILED
    sim.run(lambda r: r.status.phase is Phase.DEGRADED)
    decision = sim.tick()

    assert kept_revisions(decision) == KeepRevisions(live=(sim.revision("1"),))
    [traffic] = kept_traffic(decision)
    assert (traffic.candidate_revision, traffic.split) == (None, TrafficSplit.all_stable())


def test_an_invalid_spec_mid_rollout_still_keeps_the_split_it_froze() -> None:
    sim = started(strategy=WALK)
    sim.run(lambda r: r.status.current_step == 1 and r.status.traffic.candidate == 20)
    frozen = sim.rollout.status.traffic
    sim.rollout = invalid(sim.rollout)

    decision = sim.tick()

    assert decision.status.reason == "InvalidSpec"
    [traffic] = kept_traffic(decision)
    assert traffic.split == frozen
    assert len(kept_revisions(decision).live) == 2


def test_nothing_serves_yet_nothing_to_keep_but_the_empty_set_of_revisions() -> None:
    sim = Simulation(rollout_of(canary({"setWeight": 50})))  # invalid: never reaches 100
    decision = sim.tick()

    assert decision.status.stable_revision is None
    assert decision.upkeep == [KeepRevisions(live=())]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sim=rollouts(), operations=st.lists(OPERATIONS, min_size=5, max_size=30))
def test_upkeep_always_keeps_exactly_what_the_new_status_says(sim: Simulation, operations: list[tuple[Any, ...]]) -> None:
    sim.tick()
    sim.apply("2")
    for operation in operations:
        play(sim, operation)

    for tick in sim.ticks:
        status, decision = tick.decision.status, tick.decision
        written = of_kind(decision.actions, SetTraffic)
        kept = kept_traffic(decision)
        if written:
            assert kept == [] and written[-1].split == status.traffic  # the split written is the one in status
        elif status.stable_revision is not None:
            assert kept == [
                KeepTraffic(stable_revision=status.stable_revision, candidate_revision=status.candidate_revision, split=status.traffic)
            ]
        else:
            assert kept == []
        keep = kept_revisions(decision)
        live = {r for r in (status.stable_revision, status.candidate_revision) if r}
        assert set(keep.live) == live
        target = revision_of(tick.before.spec.template)
        assert (keep.recreate is not None) == (target in live)
        if keep.recreate is not None:
            assert keep.recreate.revision == target
            assert keep.recreate.role == ("stable" if target == status.stable_revision else "candidate")
