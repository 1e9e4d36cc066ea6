"""The decision bench walks the real engine, sharing decisions without changing outcomes; and every example meets the bar on a small run."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from bench.decision_cases import EXAMPLES, cases, load_example, reference_spec
from bench.decision_streams import Stream
from bench.decisions import T0, Outcome, Paths, _run_task, _scaled, _Task, _tasks, walk
from controller.engine.decide import decide, due_measurements
from controller.engine.inputs import Observations, ScopedObservation


def _walk_deciding_every_tick(paths: Paths, stream: Stream) -> Outcome:
    """The same rollout with `decide` called at every tick on this rollout's own measurements."""
    node = paths.root
    while node.ending is None:
        now = node.now + timedelta(seconds=paths.tick_s)
        wanted = due_measurements(node.rollout, now)
        assert wanted == node.wanted
        measured = paths.measure(node, stream)
        observations = Observations(
            measurements=[ScopedObservation(scope=r.scope, observation=o) for r, o in zip(wanted, measured)],
            ready_revisions=frozenset(r for r, n in node.replicas.items() if n > 0),
        )
        decision = decide(node.rollout, observations, now)
        rollout = node.rollout.model_copy(update={"status": decision.status})
        node = paths._node(rollout, now, _scaled(node.replicas, decision.actions))
    return Outcome(node.ending, (node.now - T0).total_seconds(), stream.candidate_samples)


# Per example, cases that take its rollouts down different paths: promoted, rolled back, at several steps.
SAMPLED = {
    "canary.yaml": ("good at 5 rps", "error rate +3 pt", "agreement -5 pt"),
    "shadow.yaml": ("good at 20 rps", "accuracy -5 pt", "drift PSI 0.3"),
    "drift-gated.yaml": ("good at 5 rps", "error rate +3 pt", "drift PSI 0.3"),
    "blue-green.yaml": ("good at 5 rps", "error rate +1 pt"),
}


@pytest.mark.parametrize("reference", [False, True], ids=["judge", "reference"])
@pytest.mark.parametrize("example", sorted(SAMPLED))
def test_shared_decisions_give_each_rollout_the_outcome_deciding_alone_gives(example: str, reference: bool) -> None:
    document = load_example(example)
    document = reference_spec(document) if reference else document
    paths = Paths(document, reference)
    by_name = {case.name: case for case in cases()}
    outcomes = set()
    for name in SAMPLED[example]:
        case = by_name[name]
        for seed in range(4):
            shared = walk(paths, case, (seed,))
            stream = Stream(rng=np.random.default_rng((seed,)), rps=case.rps, candidate=case.candidate)
            alone = _walk_deciding_every_tick(Paths(document, reference), stream)
            assert shared == alone
            outcomes.add(shared.decision)
    assert {"promoted", "rolled back"} <= outcomes


LARGER_REGRESSIONS = {"error rate +3 pt", "latency +30%", "agreement -5 pt", "drift PSI 0.3", "accuracy -5 pt"}


@pytest.mark.parametrize("example", sorted(path.name for path in EXAMPLES.glob("*.yaml")))
def test_each_example_keeps_good_candidates_and_stops_the_larger_regressions(example: str) -> None:
    """A small, seeded run of the bench: an edit to an example that lets these through fails here, not in a user's cluster.

    The full bench puts both rates at or under 0.3%; 3 of 100 would be ten times that. A pass here
    is no proof of the figures, but an example that loses them shows.
    """
    tasks, _ = _tasks([example], good_rollouts=100, bad_rollouts=100)
    task = next(t for t in tasks if not t.reference)
    wanted = tuple(
        item for item in task.cases if item[1].name == "good at 20 rps" or item[1].name in LARGER_REGRESSIONS
    )
    _, outcomes, _ = _run_task(_Task(task.example, task.reference, wanted))
    wrong = {
        case.name: sum(o.decision == ("rolled back" if case.good else "promoted") for o in of_case)
        for (_, case, _), of_case in zip(wanted, outcomes)
    }
    assert any(not case.good for _, case, _ in wanted), f"{example} watches none of the larger regressions"
    assert all(count <= 2 for count in wrong.values()), wrong
