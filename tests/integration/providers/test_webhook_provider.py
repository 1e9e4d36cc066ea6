"""The webhook provider against a real HTTP server that answers each reply shape."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from controller.analysis.judge import judge
from controller.api import MetricSpec, ModelRollout, ModelRolloutSpec, Verdict
from controller.engine.inputs import MeasurementRequest
from controller.providers.webhook import WebhookProvider

pytestmark = pytest.mark.integration

# Each path answers one shape; /echo returns the context it was sent as the value's proof.
SERVER = textwrap.dedent(
    """
    import sys, json
    from aiohttp import web
    async def verdict(request):
        body = await request.json()
        return web.json_response({"verdict": "Failed" if body["candidateRevision"] == "bad" else "Passed"})
    async def both(request):
        return web.json_response({"candidate": 0.91, "stable": 0.95, "samples": 400})
    async def value(request):
        return web.json_response({"value": 0.93})
    async def garbage(request):
        return web.Response(text="not json")
    async def boom(request):
        return web.json_response({"error": "db down"}, status=503)
    app = web.Application()
    app.add_routes([web.post("/verdict", verdict), web.post("/both", both), web.post("/value", value),
                    web.post("/garbage", garbage), web.post("/boom", boom)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.post(f"{base}/both")
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def _measure(metric_doc: dict, candidate_revision: str = "good") -> tuple[object, object]:
    metric = MetricSpec.model_validate(metric_doc)
    spec = ModelRolloutSpec.model_validate(
        {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}, "strategy": {"canary": {"steps": [{"setWeight": 100}]}}}
    )
    rollout = ModelRollout(metadata={"name": "demo"}, spec=spec)
    rollout = rollout.model_copy(update={"status": rollout.status.model_copy(update={"candidate_revision": candidate_revision})})
    now = datetime.now(UTC)
    request = MeasurementRequest(scope="step 1", metric=metric, window_start=now - timedelta(seconds=30))

    async def go():
        async with httpx.AsyncClient() as client:
            return await WebhookProvider(client).measure(rollout, request, now)

    observation = asyncio.run(go())
    return observation, judge(metric, observation)


def test_webhook_verdict_is_taken_as_given(webhook: str) -> None:
    doc = {"name": "smoke", "webhook": {"url": f"{webhook}/verdict"}}
    assert _measure(doc, "good")[1].verdict is Verdict.PASSED
    assert _measure(doc, "bad")[1].verdict is Verdict.FAILED


def test_webhook_values_are_judged_against_stable(webhook: str) -> None:
    doc = {"name": "accuracy", "webhook": {"url": f"{webhook}/both"}, "min": 0.9, "minSamples": 100}
    observation, result = _measure(doc)
    assert observation.candidate.value == 0.91 and observation.stable.value == 0.95
    assert observation.candidate.count == 400
    assert result.verdict is Verdict.PASSED


@pytest.mark.parametrize("path, words", [("garbage", "unusable reply"), ("boom", "503")])
def test_bad_webhook_replies_are_errors_that_say_why(webhook: str, path: str, words: str) -> None:
    observation, result = _measure({"name": "w", "webhook": {"url": f"{webhook}/{path}"}, "max": 1})
    assert words in (observation.error or "")
    assert result.verdict is Verdict.ERROR


def test_a_reply_without_samples_is_judged_as_it_is_and_claims_no_count(webhook: str) -> None:
    observation, result = _measure({"name": "accuracy", "webhook": {"url": f"{webhook}/value"}, "min": 0.9})
    assert observation.error is None
    assert (observation.candidate.value, observation.candidate.count, observation.candidate.counted) == (0.93, 1, False)
    assert result.verdict is Verdict.PASSED and result.candidate_samples == 1


def test_min_samples_with_a_reply_that_counts_none_is_an_error_not_a_pass(webhook: str) -> None:
    doc = {"name": "accuracy", "webhook": {"url": f"{webhook}/value"}, "min": 0.9, "minSamples": 100}
    observation, result = _measure(doc)
    assert "answered no samples, but minSamples is 100" in (observation.error or "")
    assert result.verdict is Verdict.ERROR


def test_max_increase_with_only_a_candidate_value_is_an_error_not_a_hold(webhook: str) -> None:
    doc = {"name": "accuracy", "webhook": {"url": f"{webhook}/value"}, "maxIncrease": {"absolute": 0.01}}
    observation, result = _measure(doc)
    assert "maxIncrease needs both" in (observation.error or "")
    assert result.verdict is Verdict.ERROR


def test_max_increase_with_both_values_is_judged(webhook: str) -> None:
    doc = {"name": "error-rate", "webhook": {"url": f"{webhook}/both"}, "maxIncrease": {"absolute": 0.01}}
    observation, result = _measure(doc)
    assert observation.error is None
    assert result.verdict is Verdict.PASSED  # 0.91 is below stable's 0.95: no increase
