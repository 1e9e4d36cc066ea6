"""The driver: observe, decide, carry out the actions and then the upkeep — and what it does when a port fails."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from runtime_ports import Journal, PortFailure, SimulatedClock, journal_ports

from controller.api.resource import ModelRollout, revision_of
from controller.api.status import ModelRolloutStatus, Phase, Verdict
from controller.engine.actions import KeepRevisions, SetTraffic
from controller.engine.decide import due_measurements
from controller.engine.inputs import ScopedObservation
from controller.runtime.driver import Ports, Reconciled, measure_all, reconcile, record_unreadable

ERROR_RATE: dict[str, Any] = {"name": "error-rate", "router": {"metric": "errorRate"}, "max": 0.05, "minSamples": 50}


def template(version: str) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": "model", "image": f"registry.example/iris:{version}"}]}}


def rollout(version: str = "1", *, steps: list[dict[str, Any]] | None = None) -> ModelRollout:
    strategy = {"canary": {"steps": steps or [{"setWeight": 20}, {"setWeight": 100}]}}
    spec = {"replicas": 2, "template": template(version), "strategy": strategy}
    return ModelRollout.model_validate({"metadata": {"name": "iris", "namespace": "ml", "generation": 1}, "spec": spec})


def run(ports: Ports, subject: ModelRollout) -> Reconciled:
    return asyncio.run(reconcile(ports, subject))


def with_template(subject: ModelRollout, version: str) -> ModelRollout:
    spec = subject.spec.model_copy(update={"template": template(version)})
    return subject.model_copy(update={"spec": spec, "metadata": {**subject.metadata, "generation": subject.generation + 1}})


def test_the_decided_actions_run_in_order_then_the_upkeep_against_the_new_status() -> None:
    journal, clock = Journal(), SimulatedClock()
    first = run(journal_ports(journal, clock), rollout())

    assert journal.verbs() == ["ready_revisions", "traffic_applied", "ensure_revision", "set_traffic", "emit", "keep_revisions"]
    _verb, (keep, stable_seen) = journal.calls[-1]
    assert isinstance(keep, KeepRevisions) and keep.live == (revision_of(template("1")),)
    # Upkeep is carried out against the rollout that has the new status, not the one read.
    assert stable_seen == first.rollout.status.stable_revision == revision_of(template("1"))
    assert first.rollout.status.phase is Phase.HEALTHY


def test_a_quiet_reconcile_carries_out_only_upkeep_and_keeps_the_split_through_set_traffic() -> None:
    journal, clock = Journal(), SimulatedClock()
    ports = journal_ports(journal, clock)
    stable = run(ports, rollout()).rollout
    journal.calls.clear()

    again = run(ports, stable)

    assert again.decision.actions == []
    assert journal.verbs() == ["ready_revisions", "traffic_applied", "set_traffic", "keep_revisions"]
    _verb, written = journal.calls[2]
    assert written == SetTraffic(stable_revision=stable.status.stable_revision, candidate_revision=None, split=stable.status.traffic)


def test_a_failing_action_stops_the_reconcile_before_the_rest_and_the_upkeep() -> None:
    journal, clock = Journal(), SimulatedClock()
    ports = journal_ports(journal, clock)
    journal.fail.add("set_traffic")

    with pytest.raises(PortFailure, match="set_traffic failed"):
        run(ports, rollout())
    # The revision was asked for, nothing after the failure was: no event, no upkeep. The caller keeps
    # the old status, and the next reconcile decides the same again (every action is idempotent).
    assert journal.verbs() == ["ready_revisions", "traffic_applied", "ensure_revision"]

    journal.fail.clear()
    retried = run(ports, rollout())
    assert retried.rollout.status.phase is Phase.HEALTHY


def test_a_failing_observation_decides_nothing_and_carries_out_nothing() -> None:
    journal, clock = Journal(), SimulatedClock()
    journal.fail.add("ready_revisions")

    with pytest.raises(PortFailure):
        run(journal_ports(journal, clock), rollout())
    assert journal.verbs() == []


def test_a_failing_upkeep_surfaces_after_the_decided_actions_ran() -> None:
    journal, clock = Journal(), SimulatedClock()
    journal.fail.add("keep_revisions")

    with pytest.raises(PortFailure, match="keep_revisions failed"):
        run(journal_ports(journal, clock), rollout())
    assert journal.verbs()[-3:] == ["ensure_revision", "set_traffic", "emit"]


def test_a_provider_that_raises_becomes_an_error_observation_that_holds_the_step() -> None:
    journal, clock = Journal(), SimulatedClock()
    ports = journal_ports(journal, clock)
    analysis = {"analysis": {"interval": "30s", "count": 1, "metrics": [ERROR_RATE]}}
    subject = run(ports, rollout(steps=[{"setWeight": 20}, analysis, {"setWeight": 100}])).rollout
    subject = with_template(subject, "2")
    while subject.status.current_step != 1 or not due_measurements(subject, clock.now()):
        subject = run(ports, subject).rollout
        asyncio.run(clock.sleep(10))

    journal.measure = ZeroDivisionError
    [scoped] = asyncio.run(measure_all(ports, subject, due_measurements(subject, clock.now()), clock.now()))
    assert isinstance(scoped, ScopedObservation)
    assert scoped.observation.error == "ZeroDivisionError: the provider broke"

    held = run(ports, subject)
    status = held.rollout.status
    assert (status.current_step, status.candidate_revision, status.phase) == (1, subject.status.candidate_revision, Phase.PROGRESSING)
    assert [r.verdict for r in status.evidence][-1:] == [Verdict.ERROR]


def test_an_unreadable_resource_gets_the_engines_status_and_one_warning_through_the_event_port() -> None:
    journal, clock = Journal(), SimulatedClock()
    subject = ModelRollout.model_construct(**{"metadata": {"name": "broken", "namespace": "ml"}})

    decision = asyncio.run(record_unreadable(journal_ports(journal, clock), subject, ModelRolloutStatus(), 2, ".spec: broken"))

    assert (decision.status.phase, decision.status.reason, decision.status.observed_generation) == (Phase.DEGRADED, "InvalidSpec", 2)
    assert journal.calls == [("emit", ("InvalidSpec", "broken"))]
