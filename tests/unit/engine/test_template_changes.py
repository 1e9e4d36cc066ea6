"""Following the template: rejected revisions stay rejected until retry, a new template replaces the candidate."""

from __future__ import annotations

from engine_harness import Simulation, analysis_step, canary, events, of_kind, promoted, rollout_of

from controller.api.resource import ModelRollout
from controller.api.status import Phase, TrafficSplit, Verdict
from controller.engine.actions import EnsureRevision, ScaleRevision, SetTraffic
from controller.engine.inputs import ManualAction

STEPS = canary(
    {"setWeight": 10}, analysis_step(count=1), {"setWeight": 50}, {"pause": {"duration": "1m"}}, {"setWeight": 100}
)


def rolled_back() -> tuple[Simulation, dict[str, Verdict]]:
    """A rollout of template "2" rolled back by a failed analysis; the returned dict sets later verdicts."""
    answer = {"now": Verdict.FAILED}
    sim = Simulation(rollout_of(STEPS), verdicts=lambda r: answer["now"])
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.phase is Phase.DEGRADED)
    return sim, answer


def test_reapplying_the_rejected_template_does_not_restart_it() -> None:
    sim, answer = rolled_back()
    answer["now"] = Verdict.PASSED
    sim.apply("2")  # the same template again: a new generation, the same revision
    for _ in range(10):
        decision = sim.tick(60)
        assert decision.actions == []
    status = sim.rollout.status
    assert (status.phase, status.reason, status.rejected_revision) == (
        Phase.DEGRADED,
        "AnalysisFailed",
        sim.revision("2"),
    )
    assert status.observed_generation == sim.rollout.generation


def test_retry_rolls_the_rejected_template_out_again() -> None:
    sim, answer = rolled_back()
    answer["now"] = Verdict.PASSED
    decision = sim.tick(request=ManualAction.RETRY)

    candidate = sim.revision("2")
    assert decision.status.rejected_revision is None
    assert (decision.status.phase, decision.status.candidate_revision, decision.status.current_step) == (
        Phase.PROGRESSING,
        candidate,
        0,
    )
    # At the share its first step gives it: 10% of 3 replicas is 1 pod.
    assert (
        EnsureRevision(revision=candidate, template=sim.rollout.spec.template, replicas=1, role="candidate")
        in decision.actions
    )
    assert "retry requested (req-1)" in events(decision.actions, "RolloutStarted")[0].message
    sim.run(promoted)


def test_a_different_template_after_a_rollback_starts_a_new_rollout() -> None:
    sim, answer = rolled_back()
    answer["now"] = Verdict.PASSED
    sim.apply("3")
    decision = sim.tick()

    assert (decision.status.phase, decision.status.candidate_revision) == (Phase.PROGRESSING, sim.revision("3"))
    sim.run(promoted)
    assert sim.rollout.status.stable_revision == sim.revision("3")


def test_reverting_the_template_after_a_rollback_makes_the_rollout_healthy_again() -> None:
    sim, _ = rolled_back()
    sim.apply("1")
    decision = sim.tick()

    status = decision.status
    assert (status.phase, status.reason, status.rejected_revision) == (Phase.HEALTHY, "Reverted", None)
    assert {c.type: c.status.value for c in status.conditions}["Ready"] == "True"


def test_a_new_template_mid_rollout_replaces_the_candidate_while_stable_keeps_serving() -> None:
    sim = Simulation(rollout_of(STEPS))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.current_step == 3)  # 50% on candidate 2
    sim.apply("3")
    decision = sim.tick()

    stable, old, new = sim.revision("1"), sim.revision("2"), sim.revision("3")
    assert ScaleRevision(revision=old, replicas=0) in decision.actions
    assert (
        EnsureRevision(revision=new, template=sim.rollout.spec.template, replicas=1, role="candidate")
        in decision.actions
    )
    assert of_kind(decision.actions, SetTraffic) == [
        SetTraffic(stable_revision=stable, candidate_revision=new, split=TrafficSplit.all_stable())
    ]
    status = decision.status
    assert (status.stable_revision, status.candidate_revision, status.current_step) == (stable, new, 0)
    assert status.rejected_revision is None and status.phase is Phase.PROGRESSING
    assert [e.reason for e in events(decision.actions)] == ["CandidateReplaced", "RolloutStarted"]

    sim.run(promoted)
    assert (sim.rollout.status.stable_revision, sim.rollout.status.previous_stable_revision) == (new, stable)


def test_the_template_back_to_stable_mid_rollout_cancels_the_rollout() -> None:
    sim = Simulation(rollout_of(STEPS))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.current_step == 3)
    sim.apply("1")
    decision = sim.tick()

    status = decision.status
    assert (status.phase, status.reason, status.candidate_revision, status.rejected_revision) == (
        Phase.HEALTHY,
        "RolloutCancelled",
        None,
        None,
    )
    assert ScaleRevision(revision=sim.revision("2"), replicas=0) in decision.actions
    assert status.traffic == TrafficSplit.all_stable()


def test_steps_cut_short_mid_rollout_go_on_to_the_final_promotion() -> None:
    sim = Simulation(rollout_of(STEPS))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.current_step == 4)  # the 1m pause, fifth of six steps
    wire = sim.rollout.to_wire()
    wire["spec"]["strategy"] = canary({"setWeight": 100})
    wire["metadata"]["generation"] += 1
    sim.rollout = ModelRollout.model_validate(wire)
    decision = sim.tick()

    assert (decision.status.stable_revision, decision.status.phase) == (sim.revision("2"), Phase.HEALTHY)
    assert [e.reason for e in events(decision.actions)] == ["Promoted"]
