"""A person's requests: undo, promote --full, handled once, ignored with a warning when they mean nothing."""

from __future__ import annotations

import pytest
from engine_harness import Simulation, analysis_step, canary, events, of_kind, promoted, rollout_of

from controller.api.status import Phase, TrafficSplit
from controller.engine.actions import ScaleRevision, SetTraffic
from controller.engine.inputs import ManualAction, ManualRequest

STEPS = canary({"setWeight": 10}, analysis_step(count=2), {"pause": {}}, {"setWeight": 100})


def promoted_sim(strategy: dict = STEPS) -> Simulation:
    sim = Simulation(rollout_of(strategy))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.current_step == 2)
    sim.tick(request=ManualAction.PROMOTE)
    sim.run(promoted)
    return sim


def test_undo_inside_the_warm_window_switches_back_at_once() -> None:
    sim = promoted_sim()
    good, bad = sim.revision("1"), sim.revision("2")
    decision = sim.tick(request=ManualAction.UNDO)

    status = decision.status
    assert (status.phase, status.reason) == (Phase.DEGRADED, "Undone")
    assert (status.stable_revision, status.rejected_revision, status.previous_stable_revision) == (good, bad, None)
    assert status.scale_down is None  # the revision now serving is not scaled away
    assert of_kind(decision.actions, SetTraffic) == [
        SetTraffic(stable_revision=good, candidate_revision=None, split=TrafficSplit.all_stable())
    ]
    assert ScaleRevision(revision=bad, replicas=0) in decision.actions
    assert "revert spec.template in Git to revision" in status.message

    assert all(sim.tick(60).actions == [] for _ in range(3))  # the template is still the undone one: nothing restarts
    sim.apply("1")
    assert sim.tick().status.phase is Phase.HEALTHY


def test_undo_after_the_scale_down_waits_for_the_old_revision_to_be_ready() -> None:
    sim = promoted_sim()
    sim.run(lambda r: r.status.scale_down is None)
    good = sim.revision("1")
    sim.unready.add(good)
    request = ManualRequest(id="undo-1", action=ManualAction.UNDO)

    decision = sim.tick(request=request)
    assert ScaleRevision(revision=good, replicas=3) in decision.actions
    assert decision.status.reason == "UndoWaitingForRevision"
    assert decision.status.last_request_id != "undo-1"  # not handled yet: the next reconcile tries it again
    assert of_kind(decision.actions, SetTraffic) == []

    sim.unready.clear()
    decision = sim.tick(request=request)
    assert (decision.status.reason, decision.status.stable_revision, decision.status.last_request_id) == (
        "Undone",
        good,
        "undo-1",
    )


def test_undo_during_a_rollout_aborts_it() -> None:
    sim = Simulation(rollout_of(STEPS))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.current_step == 1)
    decision = sim.tick(request=ManualAction.UNDO)

    assert (decision.status.phase, decision.status.reason) == (Phase.DEGRADED, "Aborted")
    assert decision.status.rejected_revision == sim.revision("2")


def test_promote_full_skips_every_remaining_step_once_the_candidate_runs_at_full_size() -> None:
    sim = Simulation(rollout_of(STEPS))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.current_step == 1)
    candidate = sim.revision("2")
    decision = sim.tick(request=ManualAction.PROMOTE_FULL)

    # At 10% the candidate runs 1 of 3 pods: it grows to all 3 before it takes everything.
    assert ScaleRevision(revision=candidate, replicas=3) in decision.actions
    assert (decision.status.reason, decision.status.stable_revision) == ("WaitingForCandidate", sim.revision("1"))
    assert [e.reason for e in events(decision.actions)] == ["PromoteFull"]

    decision = sim.tick()
    assert (decision.status.phase, decision.status.stable_revision) == (Phase.HEALTHY, candidate)
    assert [e.reason for e in events(decision.actions)] == ["Promoted"]


@pytest.mark.parametrize(
    ("action", "why"),
    [
        (ManualAction.RESUME, "resume has nothing to act on"),
        (ManualAction.ABORT, "abort has nothing to act on"),
        (ManualAction.PROMOTE, "promote has nothing to act on"),
        (ManualAction.RETRY, "is not rejected"),
    ],
)
def test_a_request_that_means_nothing_is_ignored_with_a_warning(action: ManualAction, why: str) -> None:
    sim = promoted_sim()
    before = sim.rollout.status
    decision = sim.tick(request=action)

    [warning] = events(decision.actions)
    assert (warning.type, warning.reason) == ("Warning", "RequestIgnored")
    assert warning.message.startswith(f"{action.value} ignored in phase Healthy") and why in warning.message
    assert decision.status.last_request_id == "req-2"  # handled: it will not warn again
    assert (decision.status.phase, decision.status.stable_revision) == (before.phase, before.stable_revision)


def test_promote_on_a_traffic_step_is_ignored_naming_the_step() -> None:
    sim = Simulation(rollout_of(STEPS))
    sim.tick()
    sim.apply("2")
    sim.unready.add(sim.revision("2"))
    sim.tick()
    decision = sim.tick(request=ManualAction.PROMOTE)

    [warning] = events(decision.actions)
    assert "promote ignored in phase Progressing" in warning.message and "step 0 is neither" in warning.message


def test_promote_full_on_a_judge_only_shadow_is_ignored() -> None:
    sim = Simulation(rollout_of({"shadow": {"promote": False, "duration": "1h"}}))
    sim.tick()
    sim.apply("2")
    sim.tick()
    decision = sim.tick(request=ManualAction.PROMOTE_FULL)

    assert "nothing to promote" in events(decision.actions, "RequestIgnored")[0].message
    assert decision.status.candidate_revision == sim.revision("2")


def test_each_request_id_is_handled_once() -> None:
    sim = Simulation(rollout_of(STEPS))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.current_step == 1)
    pause = ManualRequest(id="p-1", action=ManualAction.PAUSE)
    assert [e.reason for e in events(sim.tick(request=pause).actions)] == ["Paused"]

    for _ in range(3):  # the same annotation, read by every later reconcile
        decision = sim.tick(request=pause)
        assert decision.status.phase is Phase.PAUSED and decision.actions == []
    assert sim.rollout.status.last_request_id == "p-1"
