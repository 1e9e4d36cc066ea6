"""The traffic generator against real HTTP servers: pacing, stopping, outcomes, concurrency, feedback."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from controller.local.loadgen import (
    TrafficConfig,
    TrafficGenerator,
    TrafficRequest,
    dataset_requests,
    read_replay_file,
)
from controller.local.processes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def _generator(url: str, **fields: object) -> TrafficGenerator:
    return TrafficGenerator(TrafficConfig.model_validate({"target_url": url, **fields}), dataset_requests(seed=2))


async def test_rate_is_honoured_and_it_stops_on_time(demo_servers: dict[str, str]) -> None:
    generator = _generator(demo_servers["stable"], rate_per_s=40, duration_s=2.0)

    summary = await generator.run()

    assert 2.0 <= summary.elapsed_s < 2.8
    assert 64 <= summary.sent <= 82 and summary.by_status == {"200": summary.sent}
    outcomes = generator.outcomes
    assert len(outcomes) == summary.sent and max(o.sent_at_s for o in outcomes) < 2.0
    gaps = sorted(b - a for a, b in itertools.pairwise(sorted(o.sent_at_s for o in outcomes)))
    assert 0.018 <= gaps[len(gaps) // 2] <= 0.032  # median spacing near 1/40 s: paced, not bursty
    assert all(o.request_id and len(o.request_id) == 32 and o.latency_ms > 0 and o.variant is None for o in outcomes)
    assert summary.by_variant == {"unknown": summary.sent}


async def test_until_event_stops_an_open_ended_run(demo_servers: dict[str, str]) -> None:
    until = asyncio.Event()
    generator = _generator(demo_servers["stable"], rate_per_s=50)
    asyncio.get_running_loop().call_later(0.6, until.set)

    summary = await asyncio.wait_for(generator.run(until), timeout=5)

    assert 0.6 <= summary.elapsed_s < 1.3
    assert 20 <= summary.sent <= 40


async def test_start_and_stop_and_no_second_run(demo_servers: dict[str, str]) -> None:
    generator = _generator(demo_servers["stable"], rate_per_s=30, duration_s=30)
    generator.start()
    await asyncio.sleep(0.5)

    summary = await asyncio.wait_for(generator.stop(), timeout=5)

    assert summary.elapsed_s < 1.5 and 8 <= summary.sent <= 20
    with pytest.raises(RuntimeError, match="already run"):
        await generator.run()


async def test_server_errors_are_recorded_as_failures(demo_servers: dict[str, str]) -> None:
    summary = await _generator(demo_servers["errors"], rate_per_s=120, duration_s=2.0).run()

    assert summary.sent >= 150
    assert 0.08 <= summary.failed / summary.sent <= 0.24
    assert summary.by_status["500"] == summary.failed


async def test_concurrency_bound_holds_against_a_slow_model(demo_servers: dict[str, str]) -> None:
    generator = _generator(demo_servers["latency"], rate_per_s=100, concurrency=4, duration_s=1.5)

    summary = await generator.run()

    spans = [(o.sent_at_s, o.sent_at_s + o.latency_ms / 1000) for o in generator.outcomes]
    most_in_flight = max(sum(start <= t < end for start, end in spans) for t, _ in spans)
    assert most_in_flight <= 4
    assert 25 <= summary.sent <= 4 * 1.5 / 0.12 + 4  # far below 150: the slow model throttles the open loop
    assert min(o.latency_ms for o in generator.outcomes) >= 120


async def test_unreachable_target_is_recorded_not_raised() -> None:
    generator = _generator(f"http://127.0.0.1:{free_port()}", rate_per_s=20, duration_s=0.5, timeout_s=1)

    summary = await generator.run()

    assert summary.sent >= 5 and summary.failed == summary.sent and summary.by_status == {"no answer": summary.sent}
    assert all(o.status is None and o.error and o.error.startswith("ClientConnector") for o in generator.outcomes)


async def test_finite_replay_ends_when_its_requests_run_out(demo_servers: dict[str, str], tmp_path: Path) -> None:
    row = next(dataset_requests()).body
    path = tmp_path / "replay.jsonl"
    path.write_text("\n".join(json.dumps({"path": "/v1/models/demo:predict", "body": row}) for _ in range(5)) + "\n")
    generator = TrafficGenerator(TrafficConfig(target_url=demo_servers["stable"], rate_per_s=50), iter(read_replay_file(path)))

    summary = await asyncio.wait_for(generator.run(), timeout=5)

    assert summary.sent == 5 and summary.by_status == {"200": 5}


@dataclass
class _FakeRouter:
    """Stands where the router would: names a variant and a request id, and collects feedback."""

    answered: dict[str, float] = field(default_factory=dict)
    feedback: list[tuple[float, dict[str, object]]] = field(default_factory=list)

    async def predict(self, request: web.Request) -> web.Response:
        sequence = int(request.headers["x-seq"])
        request_id = f"r-{sequence}"
        self.answered[request_id] = asyncio.get_running_loop().time()
        headers = {"x-model-variant": "candidate" if sequence % 4 == 0 else "stable", "x-request-id": request_id}
        return web.json_response({"predictions": [0.5]}, headers=headers)

    async def collect(self, request: web.Request) -> web.Response:
        self.feedback.append((asyncio.get_running_loop().time(), await request.json()))
        return web.json_response({"accepted": True})


@pytest.fixture
async def fake_router() -> AsyncIterator[tuple[_FakeRouter, str]]:
    router = _FakeRouter()
    app = web.Application()
    app.add_routes([web.post("/v1/models/demo:predict", router.predict), web.post("/feedback", router.collect)])
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield router, f"http://{host}:{port}"
    await runner.cleanup()


async def test_variant_and_request_id_come_from_the_answer_and_labels_follow_later(fake_router: tuple[_FakeRouter, str]) -> None:
    router, url = fake_router
    requests = (
        TrafficRequest(path="/v1/models/demo:predict", body={"instances": [[1.0]]}, headers={"x-seq": str(i)}, label=i % 2)
        for i in itertools.count()
    )
    config = TrafficConfig(target_url=url, rate_per_s=30, duration_s=1.5, feedback_url=f"{url}/feedback", feedback_delay_s=0.4)
    generator = TrafficGenerator(config, requests)

    summary = await generator.run()

    outcomes = generator.outcomes
    assert {o.request_id for o in outcomes} == set(router.answered)
    assert all(o.variant == ("candidate" if int(o.request_id[2:]) % 4 == 0 else "stable") for o in outcomes if o.request_id)
    assert summary.by_variant["candidate"] == sum(int(o.request_id[2:]) % 4 == 0 for o in outcomes if o.request_id)
    assert summary.feedback_sent == len(router.feedback) >= 25
    assert summary.feedback_sent + summary.feedback_dropped == summary.sent and summary.feedback_dropped >= 5
    for arrived, body in router.feedback:
        request_id = str(body["requestId"])
        assert body["label"] == int(request_id[2:]) % 2
        assert arrived - router.answered[request_id] >= 0.4
