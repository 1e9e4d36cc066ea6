"""Calling webhook gates: POST the rollout's context, retry what got no answer, read 2xx as yes.

A try that gets no answer (refused, timed out) or a 5xx is retried `retries` times with a short
doubling backoff; any other answer is final. The answer comes back as data, never as an
exception: no answer after the retries is `GateAnswer.error`, which holds like a no and is
recorded as an Error. Post-rollout gates are told in the background: nothing waits on them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from controller.api.gates import WebhookGate
from controller.api.resource import ModelRollout
from controller.engine.actions import TellGate
from controller.engine.inputs import GateAnswer, GateRequest
from controller.runtime.background import Background

__all__ = ["WebhookGateCaller", "gate_payload"]

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
_FIRST_BACKOFF_S = 0.5
_DETAIL_CHARS = 300


def gate_payload(rollout: ModelRollout, gate: WebhookGate, **extra: Any) -> dict[str, Any]:
    """What a gate is sent: who asks, about which rollout, where it stands."""
    status = rollout.status
    return {
        "name": gate.name,
        "type": gate.type.value,
        "namespace": rollout.namespace,
        "rollout": rollout.name,
        "phase": status.phase.value if status.phase else None,
        "stableRevision": status.stable_revision,
        "candidateRevision": status.candidate_revision,
        "step": status.current_step,
        "stepCount": status.step_count,
        "metadata": gate.metadata,
        **extra,
    }


class WebhookGateCaller:
    def __init__(self, client: httpx.AsyncClient, sleep: Sleep = asyncio.sleep) -> None:
        self._client = client
        self._sleep = sleep
        self._telling = Background()

    async def ask(self, rollout: ModelRollout, request: GateRequest) -> GateAnswer:
        return await self._call(request.gate, gate_payload(rollout, request.gate))

    def tell(self, rollout: ModelRollout, action: TellGate) -> None:
        payload = gate_payload(rollout, action.gate, revision=action.revision, outcome=action.outcome)
        task = self._telling.start(self._call(action.gate, payload), name=f"post-rollout-{action.gate.name}")
        task.add_done_callback(self._told)

    async def close(self, drain_s: float = 5.0) -> None:
        """Give post-rollout gates still being told up to `drain_s`, then stop telling them."""
        await self._telling.close(drain_s)

    def _told(self, task: asyncio.Task[GateAnswer]) -> None:
        if task.cancelled():
            return
        answer = task.result()
        if answer.error is not None or not answer.yes:
            log.warning("post-rollout gate %s: %s", answer.gate, answer.error or f"no: {answer.detail}")

    async def _call(self, gate: WebhookGate, payload: dict[str, Any]) -> GateAnswer:
        delay = _FIRST_BACKOFF_S
        for attempt in range(gate.retries + 1):
            last = attempt == gate.retries
            try:
                response = await self._client.post(gate.url, json=payload, timeout=gate.timeout)
            except httpx.HTTPError as exc:
                if last:
                    tries = f"{attempt + 1} tr{'y' if attempt == 0 else 'ies'}"
                    return GateAnswer(gate=gate.name, yes=False, error=f"no answer from {gate.url} after {tries}: {_describe(exc)}")
            else:
                if response.status_code < 500 or last:
                    return _answer(gate, response)
            await self._sleep(delay)
            delay *= 2
        raise AssertionError("unreachable: the last try always returns")


def _answer(gate: WebhookGate, response: httpx.Response) -> GateAnswer:
    body = " ".join(response.text.split())[:_DETAIL_CHARS]
    detail = f"HTTP {response.status_code}" + (f": {body}" if body else "")
    return GateAnswer(gate=gate.name, yes=response.is_success, detail=detail)


def _describe(exc: httpx.HTTPError) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
