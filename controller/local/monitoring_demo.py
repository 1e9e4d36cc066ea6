"""The pieces of the drift-after-promotion demo: a retraining receiver, the webhook URL put in, and the judge.

A good candidate is promoted; spec.monitoring captures its reference; the demo then drifts the
traffic (`DriftSwitch`) and waits until the conditions it planted (`EXPECTED`) have opened their
episodes and the receiver has got each episode's POST. `problems` says, as data, what did not
happen as it should: the demo exits 0 only when it returns nothing.

`RetrainingReceiver` is a real HTTP server on 127.0.0.1: it answers every POST 200 and keeps its
`Idempotency-Key` header and JSON body, so the demo can show what a retraining pipeline receives
and count the POSTs per episode.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from controller.analysis.drift_tests import PREDICTIONS
from controller.api.monitoring import MonitoringCondition, RetrainingEpisode
from controller.api.resource import ModelRollout
from controller.api.status import ConditionStatus
from controller.engine.conditions import find_condition
from controller.errors import SpecError
from controller.local.drifted_traffic import InputDrift
from controller.local.processes import free_port

__all__ = [
    "SCENARIO",
    "EXPECTED",
    "DEMO_DRIFT",
    "RECEIVED_NAME",
    "ReceivedCall",
    "RetrainingReceiver",
    "with_retraining_url",
    "reference_captured",
    "expected_fired",
    "problems",
    "payload_lines",
]

SCENARIO = "drift-after-promotion"
EXPECTED = (MonitoringCondition.DATA_DRIFT, MonitoringCondition.QUALITY_DEGRADED)
# Mean area doubles and mean symmetry grows by half (an upstream unit or sensor change): both leave
# their usual bins, yet move the model's scores little. A quarter of the labels flip (the relation
# between inputs and truth changed), so accuracy falls with the inputs still looking familiar.
DEMO_DRIFT = InputDrift(scale={3: 2.0, 8: 1.5}, flip_labels=0.25)
RECEIVED_NAME = "retraining-webhook.json"
_PATH = "/retrain"


class ReceivedCall(BaseModel):
    model_config = ConfigDict(frozen=True)

    idempotency_key: str | None = Field(alias="idempotencyKey")
    body: dict[str, Any]


class RetrainingReceiver:
    """An HTTP receiver on a free loopback port; `async with` starts and stops it."""

    def __init__(self) -> None:
        self.calls: list[ReceivedCall] = []
        self._port = free_port()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}{_PATH}"

    async def _receive(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "expected a JSON body"}, status=400)
        self.calls.append(ReceivedCall(idempotencyKey=request.headers.get("Idempotency-Key"), body=body if isinstance(body, dict) else {}))
        return web.json_response({"accepted": True})

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post(_PATH, self._receive)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self._port).start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def with_retraining_url(rollout: ModelRollout, url: str) -> ModelRollout:
    """The rollout with its retraining webhook sent to `url`; a SpecError when it has none to redirect."""
    monitoring = rollout.spec.monitoring
    retraining = monitoring.retraining if monitoring is not None else None
    if monitoring is None or retraining is None or retraining.webhook is None:
        raise SpecError(".spec.monitoring.retraining.webhook", f"the {SCENARIO} scenario needs a retraining webhook to call; none is set")
    webhook = retraining.webhook.model_copy(update={"url": url})
    monitoring = monitoring.model_copy(update={"retraining": retraining.model_copy(update={"webhook": webhook})})
    return rollout.model_copy(update={"spec": rollout.spec.model_copy(update={"monitoring": monitoring})})


def reference_captured(rollout: ModelRollout) -> bool:
    """The stable model's reference is in place, so what comes next is judged against it."""
    monitoring = rollout.status.monitoring
    return monitoring is not None and monitoring.reference is not None


def expected_fired(rollout: ModelRollout, calls: Sequence[ReceivedCall], expected: Sequence[MonitoringCondition] = EXPECTED) -> bool:
    """Every expected condition has a fired episode, and the receiver has got its POST: the demo can end."""
    episodes = _fired(rollout)
    received = {call.idempotency_key for call in calls}
    return all(kind in episodes and episodes[kind].id in received for kind in expected)


def _fired(rollout: ModelRollout) -> dict[MonitoringCondition, RetrainingEpisode]:
    monitoring = rollout.status.monitoring
    return {e.condition: e for e in (monitoring.episodes if monitoring else []) if e.fired}


def problems(
    rollout: ModelRollout,
    calls: Sequence[ReceivedCall],
    drifted_features: Sequence[str],
    expected: Sequence[MonitoringCondition] = EXPECTED,
) -> list[str]:
    """What did not go as the scenario should; empty when it did."""
    found: list[str] = []
    if not reference_captured(rollout):
        return ["no reference was captured, so nothing was judged"]
    for kind in expected:
        condition = find_condition(rollout.status.conditions, kind.value)
        if condition is None or condition.status != ConditionStatus.TRUE:
            found.append(f"{kind.value} is {condition.status.value if condition else 'unset'}, expected True")
    episodes = _fired(rollout)
    posts = Counter(call.idempotency_key for call in calls)
    for kind in expected:
        if kind not in episodes:
            found.append(f"no {kind.value} episode fired retraining")
        elif (count := posts[episodes[kind].id]) != 1:
            found.append(f"the {kind.value} episode was POSTed {count} times, expected once")
    if strays := set(posts) - {e.id for e in episodes.values()}:
        found.append(f"POSTs for no fired episode: {sorted(map(str, strays))}")
    flagged = sorted(_flagged_features(calls))
    if MonitoringCondition.DATA_DRIFT in expected and flagged != sorted(drifted_features):
        found.append(f"DataDrift named features {flagged}, expected exactly {sorted(drifted_features)}")
    return found


def _flagged_features(calls: Sequence[ReceivedCall]) -> set[str]:
    """The features the DataDrift webhook's evidence names as drifted."""
    for call in calls:
        if call.body.get("condition") == MonitoringCondition.DATA_DRIFT.value:
            findings = call.body.get("evidence", {}).get("findings", [])
            # The predictions' own test may ride along in the evidence: it is no input feature.
            return {f["feature"] for f in findings if isinstance(f, dict) and f.get("drifted") and f.get("feature") != PREDICTIONS}
    return set()


def payload_lines(calls: Sequence[ReceivedCall]) -> list[str]:
    """A few lines per POST: the episode, the condition, what the evidence says."""
    lines: list[str] = []
    for call in calls:
        body = call.body
        evidence = body.get("evidence") or {}
        check = evidence.get("check") or {}
        lines.append(f"POST {body.get('condition')} for {body.get('rollout')} revision {body.get('revision')}")
        lines.append(f"  Idempotency-Key: {call.idempotency_key}")
        lines.append(f"  {evidence.get('message', '')}")
        accuracy = check.get("accuracy")
        window = evidence.get("window") or {}
        lines.append(
            f"  window {_clock(window.get('start'))}–{_clock(window.get('end'))}: {check.get('requests')} requests,"
            f" {check.get('labelled')} labelled, accuracy {'–' if accuracy is None else f'{accuracy:.3f}'}"
        )
    return lines


def _clock(stamp: object) -> str:
    try:
        return datetime.fromisoformat(str(stamp)).strftime("%H:%M:%S")
    except ValueError:
        return "?"
