"""The decision bench walks the real engine: sharing decisions among rollouts judged alike changes no outcome."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from bench.decision_cases import cases, load_example, reference_spec
from bench.decision_streams import Stream
from bench.decisions import T0, Outcome, Paths, _Node, _scaled, walk
from controller.engine.decide import decide, due_measurements
from controller.engine.inputs import Observations, ScopedObservation


def _walk_deciding_every_tick(paths: Paths, stream: Stream) -> Outcome:
    """The same rollout with `decide` called at every tick on this rollout's own measurements."""
    node = paths.root
    while (ending := paths.ending(node)) is None:
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
        later = now + timedelta(seconds=paths.tick_s)
        node = _Node(rollout, now, _scaled(node.replicas, decision.actions), due_measurements(rollout, later))
    return Outcome(ending, (node.now - T0).total_seconds(), stream.candidate_samples)


@pytest.mark.parametrize("reference", [False, True])
def test_shared_decisions_give_each_rollout_the_outcome_deciding_alone_gives(reference: bool) -> None:
    document = load_example("canary.yaml")
    document = reference_spec(document) if reference else document
    paths = Paths(document, reference)
    by_name = {case.name: case for case in cases()}
    outcomes = set()
    for name in ("good at 5 rps", "error rate +3 pt", "agreement -5 pt"):
        case = by_name[name]
        for seed in range(6):
            shared = walk(paths, case, (seed,))
            stream = Stream(rng=np.random.default_rng((seed,)), rps=case.rps, candidate=case.candidate)
            alone = _walk_deciding_every_tick(Paths(document, reference), stream)
            assert shared == alone
            outcomes.add(shared.decision)
    assert {"promoted", "rolled back"} <= outcomes

