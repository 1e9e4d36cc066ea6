"""Invariants over random valid canary specs and random sequences of observations, requests and template changes.

After every decision: weights sum to 100; no router config sends anything to the rejected
revision; a rollback leaves 100% on stable with mirror 0; the step index only moves forward
while the same candidate runs (rollback, retry, undo and a new template start over).
"""

from __future__ import annotations

from typing import Any

from engine_harness import ERROR_RATE, Simulation, Tick, events, of_kind, rollout_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.api.status import Phase, TrafficSplit, Verdict
from controller.api.validation import validate_spec
from controller.engine.actions import SetTraffic
from controller.engine.inputs import ManualAction
from controller.engine.traffic import reaches_candidate

VERDICTS = st.sampled_from([Verdict.PASSED] * 3 + [Verdict.INCONCLUSIVE] * 2 + [Verdict.FAILED, Verdict.ERROR])


@st.composite
def metrics(draw: st.DrawFn) -> dict[str, Any]:
    return {
        **ERROR_RATE,
        "failureLimit": draw(st.integers(0, 2)),
        "onProviderError": draw(st.sampled_from(["hold", "fail"])),
        **({"inconclusiveLimit": draw(st.integers(0, 2))} if draw(st.booleans()) else {}),
    }


@st.composite
def canary_steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    weight = 0
    for kind in draw(
        st.lists(st.sampled_from(["weight", "mirror", "pause", "analysis", "header"]), min_size=1, max_size=6)
    ):
        if kind == "weight":
            weight = draw(st.integers(weight, 100))
            steps.append({"setWeight": weight})
        elif kind == "mirror" and weight < 100:
            steps.append({"setMirror": draw(st.integers(0, 100))})
        elif kind == "pause":
            duration = draw(st.sampled_from([None, "0s", "20s", "1m"]))
            steps.append({"pause": {"duration": duration} if duration else {}})
        elif kind == "analysis":
            count, interval = draw(st.integers(1, 3)), draw(st.sampled_from(["10s", "30s"]))
            steps.append({"analysis": {"count": count, "interval": interval, "metrics": [draw(metrics())]}})
        elif kind == "header":
            steps.append({"setHeaderRoute": {}})
    return steps if weight == 100 else [*steps, {"setWeight": 100}]


@st.composite
def rollouts(draw: st.DrawFn) -> Simulation:
    background = draw(st.none() | st.builds(lambda m: {"interval": "30s", "metrics": [m]}, metrics()))
    rollout = rollout_of({"canary": {"steps": draw(canary_steps())}}, analysis=background)
    assert validate_spec(rollout.spec) == []
    return Simulation(rollout)


OPERATIONS = st.one_of(
    st.tuples(st.just("tick"), st.sampled_from([0.0, 5.0, 30.0, 120.0]), VERDICTS),
    st.tuples(st.just("request"), st.sampled_from(list(ManualAction))),
    st.tuples(st.just("apply"), st.sampled_from(["1", "2", "3"])),
    st.tuples(st.just("ready"), st.booleans()),
    st.tuples(st.just("stuck"), st.booleans()),
)


def play(sim: Simulation, operation: tuple[Any, ...]) -> None:
    match operation:
        case ("tick", seconds, verdict):
            sim.verdicts = lambda request: verdict
            sim.tick(seconds)
        case ("request", action):
            sim.tick(5.0, request=action)
        case ("apply", version):
            sim.apply(version)
            sim.tick(5.0)
        case ("ready", ready):
            sim.unready = set() if ready else {sim.revision(v) for v in "123"} - {sim.rollout.status.stable_revision}
        case ("stuck", stuck):
            sim.routers_stuck = stuck


def routers_config(ticks: list[Tick]) -> SetTraffic | None:
    """The last split written so far: what the routers serve or are about to."""
    written = [a for t in ticks for a in of_kind(t.decision.actions, SetTraffic)]
    return written[-1] if written else None


def check(tick: Tick, config: SetTraffic | None) -> None:
    before, status, actions = tick.before.status, tick.decision.status, tick.decision.actions
    # Weights always sum to 100.
    assert status.traffic.stable + status.traffic.candidate == 100
    assert all(a.split.stable + a.split.candidate == 100 for a in of_kind(actions, SetTraffic))
    # No traffic ever goes to a rejected revision.
    rejected = status.rejected_revision
    if rejected is not None and config is not None:
        assert config.stable_revision != rejected
        assert config.candidate_revision != rejected or not reaches_candidate(config.split)
    # After a rollback traffic is 100% stable with mirror 0.
    if events(actions, "RolledBack"):
        assert status.phase is Phase.DEGRADED and status.candidate_revision is None
        assert status.traffic == TrafficSplit.all_stable()
        assert config is not None and config.split == TrafficSplit.all_stable() and config.candidate_revision is None
    # Steps only move forward while the same candidate runs.
    same = before.candidate_revision is not None and before.candidate_revision == status.candidate_revision
    if same and before.current_step is not None and status.current_step is not None:
        assert status.current_step >= before.current_step
    # A rollout runs exactly while a candidate is set.
    assert (status.candidate_revision is None) == (status.current_step is None)
    if status.candidate_revision is not None:
        assert status.phase in (Phase.PROGRESSING, Phase.PAUSED)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sim=rollouts(), operations=st.lists(OPERATIONS, min_size=5, max_size=40))
def test_invariants_hold_after_every_decision(sim: Simulation, operations: list[tuple[Any, ...]]) -> None:
    sim.tick()
    sim.apply("2")
    for operation in operations:
        play(sim, operation)
    for index, tick in enumerate(sim.ticks):
        check(tick, routers_config(sim.ticks[: index + 1]))


@settings(max_examples=60, deadline=None)
@given(sim=rollouts())
def test_a_passing_candidate_with_cooperative_routers_is_always_promoted(sim: Simulation) -> None:
    sim.tick()
    sim.apply("2")
    target = sim.revision("2")
    for _ in range(300):
        if sim.rollout.status.stable_revision == target:
            break
        status = sim.rollout.status
        waiting = status.reason in ("WaitingForPromote", "AnalysisInconclusive")
        sim.tick(30.0, request=ManualAction.PROMOTE if waiting else None)
    assert (sim.rollout.status.stable_revision, sim.rollout.status.phase) == (target, Phase.HEALTHY)
