"""Replicas: the stable runs spec.replicas, the candidate its share of it, growing before it gets more."""

from __future__ import annotations

from engine_harness import Simulation, canary, events, of_kind, promoted, rollout_of

from controller.api.status import Phase
from controller.engine.actions import EnsureRevision, ScaleRevision, SetTraffic


def start(strategy: dict, replicas: int = 10) -> Simulation:
    sim = Simulation(rollout_of(strategy, replicas=replicas))
    sim.tick()
    sim.apply("2")
    return sim


def scale(sim: Simulation, replicas: int) -> None:
    """`kubectl scale mr iris --replicas N`, or an HPA: spec.replicas through the scale subresource."""
    spec = sim.rollout.spec.model_copy(update={"replicas": replicas})
    metadata = {**sim.rollout.metadata, "generation": sim.rollout.generation + 1}
    sim.rollout = sim.rollout.model_copy(update={"spec": spec, "metadata": metadata})


def sizes(sim: Simulation, revision: str) -> list[int]:
    """Every size asked of `revision`, in order."""
    asked = [a for a in sim.actions if isinstance(a, (EnsureRevision, ScaleRevision)) and a.revision == revision]
    return [a.replicas for a in asked]


def test_by_default_the_candidate_follows_the_traffic_share() -> None:
    sim = start(canary({"setWeight": 10}, {"setWeight": 50}, {"setWeight": 100}))
    sim.run(promoted)

    candidate = sim.revision("2")
    assert sizes(sim, candidate)[:3] == [1, 5, 10]  # ceil(10% of 10), 50% of 10, all of it
    assert set(sizes(sim, sim.revision("1"))) == {10}  # the stable keeps its full size throughout


def test_a_weight_is_written_only_once_the_candidate_is_ready_at_the_size_it_needs() -> None:
    sim = start(canary({"setWeight": 10}, {"setWeight": 50}, {"setWeight": 100}))
    candidate = sim.revision("2")
    sim.run(lambda r: r.status.candidate_replicas == 5)
    sim.unready.add(candidate)  # the four new pods do not come up

    for _ in range(10):
        decision = sim.tick()
        assert not of_kind(decision.actions, SetTraffic)
    status = sim.rollout.status
    assert (status.traffic.candidate, status.current_step, status.reason) == (10, 1, "WaitingForCandidate")

    sim.unready.clear()
    decision = sim.tick()
    assert [a.split.candidate for a in of_kind(decision.actions, SetTraffic)] == [50]


def test_readiness_seen_before_the_candidate_grew_does_not_count() -> None:
    sim = start(canary({"setWeight": 10}, {"setWeight": 50}, {"setWeight": 100}))
    candidate = sim.revision("2")
    sim.run(lambda r: r.status.candidate_replicas == 5)
    grew = sim.ticks[-1]

    assert candidate in grew.observations.ready_revisions  # ready, but at 1 pod: the observation came first
    assert ScaleRevision(revision=candidate, replicas=5) in grew.decision.actions
    assert not of_kind(grew.decision.actions, SetTraffic)
    assert grew.decision.status.reason == "WaitingForCandidate"


def test_the_candidate_shrinks_only_once_the_routers_serve_the_smaller_share() -> None:
    sim = start(canary({"setMirror": 50}, {"setMirror": 0}, {"pause": {"duration": "1m"}}, {"setWeight": 100}))
    candidate = sim.revision("2")
    sim.run(lambda r: r.status.current_step == 1 and r.status.traffic.mirror == 0)
    sim.routers_stuck = True
    for _ in range(5):
        sim.tick()
    assert sim.rollout.status.candidate_replicas == 5  # the routers may still mirror half to it

    sim.routers_stuck = False
    sim.run(lambda r: r.status.current_step == 2)
    assert sim.rollout.status.candidate_replicas == 1
    sim.run(promoted)
    assert sizes(sim, candidate) == [5, 1, 10, 10]  # half, none but one pod, all before the switch, stable


def test_mirrored_copies_count_in_the_share() -> None:
    # 20% live, plus half of the 80% the stable serves mirrored: 60% of the requests reach the candidate.
    sim = start(canary({"setWeight": 20}, {"setMirror": 50}, {"pause": {}}, {"setWeight": 100}))
    sim.run(lambda r: r.status.current_step == 2)

    assert sim.rollout.status.candidate_replicas == 6


def test_a_shadow_mirroring_everything_runs_the_candidate_at_full_size_from_the_start() -> None:
    sim = start({"shadow": {"percent": 100, "duration": "1m"}}, replicas=4)
    sim.tick()

    assert sizes(sim, sim.revision("2")) == [4]


def test_a_shadow_mirroring_a_share_runs_the_candidate_at_that_share_then_full_size_to_switch() -> None:
    sim = start({"shadow": {"percent": 30, "duration": "1m"}}, replicas=10)
    sim.run(promoted)

    assert sizes(sim, sim.revision("2")) == [3, 10, 10]  # 30%, full before the switch, then stable


def test_an_explicit_candidate_size_is_honoured_and_grows_to_full_size_only_to_be_promoted() -> None:
    sim = start(canary({"setWeight": 10}, {"setWeight": 100}, candidateReplicas=2))
    candidate = sim.revision("2")
    sim.run(lambda r: r.status.candidate_replicas == 10)
    assert [a.split.candidate for a in of_kind(sim.actions, SetTraffic)] == [0, 10, 100]  # all on 2 pods

    grew = sim.ticks[-1].decision  # the promotion: it takes everything as stable, so it grows first
    assert grew.status.current_step == 2 and grew.status.reason == "WaitingForCandidate"
    assert grew.status.stable_revision == sim.revision("1") and not events(grew.actions, "Promoted")
    sim.run(promoted)
    assert sizes(sim, candidate) == [2, 10, 10]


def test_a_total_changed_mid_rollout_resizes_both_revisions_and_keeps_the_split() -> None:
    sim = start(canary({"setWeight": 25}, {"pause": {}}, {"setWeight": 100}), replicas=4)
    stable, candidate = sim.revision("1"), sim.revision("2")
    sim.run(lambda r: r.status.phase is Phase.PAUSED)
    split = sim.rollout.status.traffic
    assert (sim.replicas[stable], sim.replicas[candidate]) == (4, 1)

    scale(sim, 8)
    decision = sim.tick()
    assert ScaleRevision(revision=stable, replicas=8) in decision.actions
    assert ScaleRevision(revision=candidate, replicas=2) in decision.actions
    assert not of_kind(decision.actions, SetTraffic)

    for _ in range(20):  # settled: nothing more is asked of either revision
        assert not of_kind(sim.tick().actions, (EnsureRevision, ScaleRevision))  # type: ignore[arg-type]
    status = sim.rollout.status
    assert (status.traffic, status.current_step, status.phase) == (split, 1, Phase.PAUSED)
    assert (sim.replicas[stable], sim.replicas[candidate]) == (8, 2)


def test_a_rollout_scaled_to_zero_still_runs_a_candidate_and_promotes_it() -> None:
    sim = start(canary({"setWeight": 50}, {"setWeight": 100}), replicas=0)
    sim.run(promoted)

    assert sizes(sim, sim.revision("2")) == [1, 0]  # one pod to judge, then stable at the size asked: 0
