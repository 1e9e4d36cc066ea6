"""status.lastRequest: what the controller did with a request, read back by its id (the CLI waits on it)."""

from __future__ import annotations

from engine_harness import Simulation, canary, rollout_of

from controller.engine.inputs import ManualAction, ManualRequest

STEPS = canary({"setWeight": 10}, {"pause": {}}, {"setWeight": 100})


def _paused() -> Simulation:
    sim = Simulation(rollout_of(STEPS))
    sim.tick()
    sim.apply("2")
    sim.run(lambda r: r.status.current_step == 1)
    return sim


def test_an_acted_on_request_is_answered_with_what_the_rollout_now_says() -> None:
    decision = _paused().tick(request=ManualRequest(id="pause-1", action=ManualAction.PAUSE))
    answer = decision.status.last_request
    assert answer is not None and (answer.id, answer.action, answer.handled) == ("pause-1", "pause", True)
    assert answer.message == decision.status.message and "paused by request pause-1" in answer.message


def test_a_refused_request_is_answered_with_the_reason_and_leaves_the_rollout_as_it_was() -> None:
    sim = _paused()
    sim.tick(request=ManualRequest(id="pause-1", action=ManualAction.PAUSE))
    before = sim.rollout.status.message
    decision = sim.tick(request=ManualRequest(id="pause-2", action=ManualAction.PAUSE))
    answer = decision.status.last_request
    assert answer is not None and (answer.id, answer.handled) == ("pause-2", False)
    assert answer.message == "pause ignored in phase Paused: the rollout is already paused by request"
    assert decision.status.message == before and decision.status.last_request_id == "pause-2"


def test_a_request_handled_before_is_not_answered_again() -> None:
    sim = _paused()
    request = ManualRequest(id="pause-1", action=ManualAction.PAUSE)
    first = sim.tick(request=request).status.last_request
    assert sim.tick(request=request).status.last_request == first
