"""Webhook gates in the engine: asked when due, holding where they stand, rolling back on a rollback gate's yes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from controller.api.gates import WebhookGate
from controller.api.status import Phase, TrafficSplit, Verdict
from controller.engine.actions import TellGate
from controller.engine.decide import decide, due_measurements, gates_to_ask
from controller.engine.inputs import GateAnswer, GateRequest, ManualAction, Observations, ScopedObservation
from controller.engine.reasons import Reason
from tests.unit.engine.engine_harness import Simulation, Tick, canary, events, promoted, rollout_of

Answer = Callable[[GateRequest], GateAnswer]


def _gate(name: str, kind: str, **fields: Any) -> WebhookGate:
    return WebhookGate.model_validate({"name": name, "type": kind, "url": f"http://gates.test/{name}", **fields})


def _simulation(*gates: WebhookGate) -> Simulation:
    rollout = rollout_of(canary({"setWeight": 50}, {"setWeight": 100}))
    rollout = rollout.model_copy(update={"spec": rollout.spec.model_copy(update={"webhooks": list(gates)})})
    sim = Simulation(rollout)
    _tick(sim, _says(yes=True))
    sim.apply("2")
    return sim


def _says(yes: bool, detail: str = "", error: str | None = None) -> Answer:
    return lambda request: GateAnswer(gate=request.gate.name, yes=yes, detail=detail, error=error)


def _tick(sim: Simulation, answer: Answer, seconds: float = 10.0, request: ManualAction | None = None) -> list[GateRequest]:
    """One reconcile as the driver does it, with the gates answered by `answer`; the gates asked."""
    before = sim.rollout
    asked = gates_to_ask(before, sim.now)
    wanted = due_measurements(sim.rollout, sim.now)
    observations = Observations(
        measurements=[ScopedObservation(scope=r.scope, observation=sim._observe(r)) for r in wanted],
        ready_revisions=frozenset(r for r, n in sim.replicas.items() if n > 0),
        gates=[answer(gate) for gate in asked],
        request=sim._request(request),
    )
    decision = decide(sim.rollout, observations, sim.now)
    sim._carry_out(decision.actions)
    sim._store(decision)
    sim.ticks.append(Tick(sim.now, before, wanted, observations, decision))
    sim.now += timedelta(seconds=seconds)
    return asked


def _gate_records(sim: Simulation) -> list[tuple[str, Verdict, str]]:
    return [(r.metric, r.verdict, r.reason) for r in sim.rollout.status.evidence if r.scope == "gate"]


def test_a_confirm_rollout_no_holds_before_the_first_step_and_a_yes_lets_it_run() -> None:
    sim = _simulation(_gate("approve", "confirm-rollout"))
    for _ in range(3):
        asked = _tick(sim, _says(yes=False, detail="HTTP 403: change freeze"))
        assert [r.gate.name for r in asked] in (["approve"], [])  # nothing the first time: the rollout starts then
    status = sim.rollout.status
    assert status.reason == Reason.WAITING_FOR_GATE and status.current_step == 0
    assert status.traffic == TrafficSplit.all_stable()
    assert "confirm-rollout gate approve" in status.message and "change freeze" in status.message
    assert ("approve", Verdict.FAILED, "confirm-rollout gate no: HTTP 403: change freeze") in _gate_records(sim)
    _tick(sim, _says(yes=True, detail="HTTP 200"))
    for _ in range(10):
        assert all(r.gate.name != "approve" for r in _tick(sim, _says(yes=False)))  # a yes is remembered
    assert promoted(sim.rollout)


def test_pre_rollout_gates_are_asked_once_confirm_rollout_said_yes() -> None:
    sim = _simulation(_gate("approve", "confirm-rollout"), _gate("smoke", "pre-rollout"))
    assert [r.gate.name for r in _tick(sim, _says(yes=False))] == []  # the rollout starts this reconcile
    assert [r.gate.name for r in _tick(sim, _says(yes=True))] == ["approve"]
    assert [r.gate.name for r in _tick(sim, _says(yes=False))] == ["smoke"]
    assert sim.rollout.status.reason == Reason.WAITING_FOR_GATE


def test_confirm_promotion_holds_the_promotion_until_it_says_yes() -> None:
    sim = _simulation(_gate("release-manager", "confirm-promotion"))
    for _ in range(12):
        _tick(sim, _says(yes=False, detail="HTTP 409: not yet"))
    status = sim.rollout.status
    assert not promoted(sim.rollout) and status.traffic.candidate == 100
    assert status.reason == Reason.WAITING_FOR_GATE and "confirm-promotion" in status.message
    for _ in range(6):
        _tick(sim, _says(yes=True))
    assert promoted(sim.rollout)


def test_a_rollback_gate_that_says_yes_rolls_back_with_its_reason_in_the_evidence() -> None:
    sim = _simulation(_gate("incidents", "rollback"))
    _tick(sim, _says(yes=False))
    _tick(sim, _says(yes=True, detail="HTTP 200: open incident INC-42"))
    status = sim.rollout.status
    assert status.phase is Phase.DEGRADED and status.reason == Reason.ROLLBACK_GATE
    assert status.candidate_revision is None and status.rejected_revision == sim.revision("2")
    assert ("incidents", Verdict.FAILED, "rollback gate yes: HTTP 200: open incident INC-42") in _gate_records(sim)
    [rolled_back] = events(sim.ticks[-1].decision.actions, Reason.ROLLED_BACK)
    assert "rollback gate incidents said yes: HTTP 200: open incident INC-42" in rolled_back.message


def test_a_rollback_gate_is_asked_once_per_interval() -> None:
    sim = _simulation(_gate("incidents", "rollback", interval="30s"), _gate("approve", "confirm-rollout"))
    _tick(sim, _says(yes=False), seconds=10)  # the rollout starts
    asked = [[r.gate.name for r in _tick(sim, _says(yes=False), seconds=10) if r.gate.type.value == "rollback"] for _ in range(7)]
    assert asked == [["incidents"], [], [], ["incidents"], [], [], ["incidents"]]


def test_no_answer_holds_as_an_error_and_never_rolls_back() -> None:
    sim = _simulation(_gate("approve", "confirm-rollout"), _gate("incidents", "rollback"))
    for _ in range(3):
        _tick(sim, _says(yes=False, error="no answer from http://gates.test after 3 tries: ConnectError"))
    status = sim.rollout.status
    assert status.phase is Phase.PROGRESSING and status.reason == Reason.WAITING_FOR_GATE
    verdicts = {verdict for name, verdict, _ in _gate_records(sim)}
    assert verdicts == {Verdict.ERROR}


def test_post_rollout_gates_are_told_once_when_the_rollout_ends() -> None:
    sim = _simulation(_gate("announce", "post-rollout"))
    told: list[TellGate] = []
    for _ in range(20):
        asked = _tick(sim, _says(yes=True))
        assert all(r.gate.name != "announce" for r in asked)
        told += [a for a in sim.ticks[-1].decision.actions if isinstance(a, TellGate)]
    assert promoted(sim.rollout)
    assert [(t.gate.name, t.revision, t.outcome) for t in told] == [("announce", sim.revision("2"), Reason.PROMOTED)]


def test_promote_full_waits_on_confirm_promotion_and_abort_does_not() -> None:
    sim = _simulation(_gate("release-manager", "confirm-promotion"))
    _tick(sim, _says(yes=False))
    _tick(sim, _says(yes=False), request=ManualAction.PROMOTE_FULL)
    for _ in range(5):
        _tick(sim, _says(yes=False))
    assert not promoted(sim.rollout) and sim.rollout.status.reason == Reason.WAITING_FOR_GATE
    _tick(sim, _says(yes=False), request=ManualAction.ABORT)
    assert sim.rollout.status.phase is Phase.DEGRADED and sim.rollout.status.candidate_revision is None
