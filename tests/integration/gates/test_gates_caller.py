"""The gate caller against real HTTP gates: yes, no, retried 5xx, and a gate that never answers."""

from __future__ import annotations

import httpx
import pytest

from controller.api.gates import WebhookGate
from controller.api.resource import ModelRollout
from controller.engine.inputs import GateRequest
from controller.providers.gates import WebhookGateCaller
from tests.integration.gates.gatekit import GateServer, gate_server

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ROLLOUT = ModelRollout.model_validate({
    "metadata": {"name": "fraud", "namespace": "models"},
    "spec": {
        "template": {"spec": {"containers": [{"name": "m", "image": "m:2"}]}},
        "strategy": {"canary": {"steps": [{"setWeight": 100}]}},
    },
    "status": {"phase": "Progressing", "stableRevision": "aaaaaaaaaa", "candidateRevision": "bbbbbbbbbb", "currentStep": 0, "stepCount": 2},
})  # fmt: skip


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _request(server: GateServer, path: str, **fields: object) -> GateRequest:
    gate = {"name": f"gate-{path}", "type": "confirm-rollout", "url": server.url(path), "metadata": {"team": "fraud"}, **fields}
    return GateRequest(gate=WebhookGate.model_validate(gate))


async def _no_wait(seconds: float) -> None:
    return None


async def test_a_2xx_is_a_yes_and_the_gate_gets_the_rollout_context() -> None:
    async with gate_server() as server, httpx.AsyncClient() as http:
        answer = await WebhookGateCaller(http).ask(ROLLOUT, _request(server, "yes"))
    assert (answer.yes, answer.error, answer.detail) == (True, None, "HTTP 200: ok")
    [sent] = server.bodies["yes"]
    assert sent == {
        "name": "gate-yes", "type": "confirm-rollout", "namespace": "models", "rollout": "fraud", "phase": "Progressing",
        "stableRevision": "aaaaaaaaaa", "candidateRevision": "bbbbbbbbbb", "step": 0, "stepCount": 2, "metadata": {"team": "fraud"},
    }  # fmt: skip


async def test_a_4xx_is_a_no_with_its_reason_and_is_not_retried() -> None:
    async with gate_server() as server, httpx.AsyncClient() as http:
        answer = await WebhookGateCaller(http, sleep=_no_wait).ask(ROLLOUT, _request(server, "no", retries=3))
    assert (answer.yes, answer.error, answer.detail) == (False, None, "HTTP 403: change freeze until 14:00")
    assert server.calls["no"] == 1


async def test_a_gate_answering_500_is_retried_then_counts_as_a_no() -> None:
    async with gate_server() as server, httpx.AsyncClient() as http:
        answer = await WebhookGateCaller(http, sleep=_no_wait).ask(ROLLOUT, _request(server, "fail", retries=2))
    assert (answer.yes, answer.error, answer.detail) == (False, None, "HTTP 500: gate is broken")
    assert server.calls["fail"] == 3


async def test_a_gate_that_never_answers_is_an_error_after_its_timeout_and_retries() -> None:
    async with gate_server() as server, httpx.AsyncClient() as http:
        answer = await WebhookGateCaller(http, sleep=_no_wait).ask(ROLLOUT, _request(server, "hang", timeout="200ms", retries=1))
    assert answer.yes is False and answer.error is not None
    assert answer.error.startswith(f"no answer from {server.url('hang')} after 2 tries: ReadTimeout")
    assert server.calls["hang"] == 2
