"""The demo model server over real HTTP: KServe v1 protocol and each scenario's effect, measured."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time

import httpx
import numpy as np
import pytest

from controller.analysis.judges.drift import population_stability_index
from controller.local.loadgen import dataset_requests

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

PREDICT = "/v1/models/demo:predict"
TOLERANCE = 0.1
BINS = np.linspace(0.0, 1.0, 11)


def _rows(count: int, seed: int = 11) -> list[list[float]]:
    return [r.body["instances"][0] for r in itertools.islice(dataset_requests(seed=seed), count)]


async def _scores(url: str, rows: list[list[float]], batch: int = 50) -> np.ndarray:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        replies = [await client.post(PREDICT, json={"instances": rows[i : i + batch]}) for i in range(0, len(rows), batch)]
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies if r.status_code != 200]
    return np.array([p for r in replies for p in r.json()["predictions"]])


async def _statuses(url: str, count: int, concurrency: int = 16) -> list[httpx.Response]:
    row = _rows(1)
    slots = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def one() -> httpx.Response:
            async with slots:
                return await client.post(PREDICT, json={"instances": row})

        return list(await asyncio.gather(*(one() for _ in range(count))))


async def _latencies_ms(url: str, count: int) -> list[float]:
    row = _rows(1)
    latencies = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for _ in range(count):
            started = time.perf_counter()
            await client.post(PREDICT, json={"instances": row})  # injected 500s are delayed too
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def _agreement(candidate: np.ndarray, stable: np.ndarray) -> float:
    return float(np.mean(np.abs(candidate - stable) <= TOLERANCE))


def _psi(candidate: np.ndarray, stable: np.ndarray) -> float:
    return population_stability_index(np.histogram(candidate, BINS)[0], np.histogram(stable, BINS)[0])


async def test_predict_answers_kserve_v1(demo_servers: dict[str, str]) -> None:
    rows = _rows(7)
    async with httpx.AsyncClient(base_url=demo_servers["stable"]) as client:
        reply = await client.post(PREDICT, json={"instances": rows})
        ready = await client.get("/v1/models/demo")
        health = await client.get("/healthz")

    assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
    predictions = reply.json()["predictions"]
    assert len(predictions) == 7 and all(isinstance(p, float) and 0 <= p <= 1 and round(p, 4) == p for p in predictions)
    assert ready.json() == {"name": "demo", "ready": True}
    assert health.status_code == 200


async def test_bad_requests_get_clear_errors(demo_servers: dict[str, str]) -> None:
    async with httpx.AsyncClient(base_url=demo_servers["stable"]) as client:
        short_row = await client.post(PREDICT, json={"instances": [_rows(1)[0], [1.0, 2.0]]})
        other_model = await client.post("/v1/models/other:predict", json={"instances": _rows(1)})

    assert (short_row.status_code, short_row.json()) == (400, {"error": "instances[1] has 2 values; expected 30"})
    assert other_model.status_code == 404 and "serves 'demo'" in other_model.json()["error"]


@pytest.mark.parametrize("name", ["stable", "errors", "tuned"])
async def test_metadata_tells_variant_scenario_and_faults(demo_servers: dict[str, str], name: str) -> None:
    async with httpx.AsyncClient(base_url=demo_servers[name]) as client:
        meta = (await client.get("/v1/models/demo/metadata")).json()

    expected = {
        "stable": ("stable", "errors", "good", 0.0, 0.0),
        "errors": ("candidate", "errors", "errors", 0.15, 0.0),
        "tuned": ("candidate", "good", "good", 0.4, 60.0),
    }[name]
    assert (meta["variant"], meta["scenario"], meta["behavesAs"], meta["errorRate"], meta["extraLatencyMs"]) == expected


async def test_stable_told_errors_scenario_still_never_fails(demo_servers: dict[str, str]) -> None:
    replies = await _statuses(demo_servers["stable"], 200)

    assert {r.status_code for r in replies} == {200}


async def test_errors_scenario_fails_about_15_percent(demo_servers: dict[str, str]) -> None:
    replies = await _statuses(demo_servers["errors"], 400)
    failed = [r for r in replies if r.status_code == 500]

    assert 0.10 <= len(failed) / len(replies) <= 0.20
    assert {r.status_code for r in replies} == {200, 500}
    assert failed[0].json() == {"error": "injected failure (errors scenario, error rate 0.15)"}


async def test_error_rate_from_the_environment_is_honoured(demo_servers: dict[str, str]) -> None:
    replies = await _statuses(demo_servers["tuned"], 300)

    assert 0.32 <= sum(r.status_code == 500 for r in replies) / len(replies) <= 0.48


@pytest.mark.parametrize(("name", "added_ms"), [("latency", 120.0), ("tuned", 60.0)])
async def test_latency_is_added_to_every_request(demo_servers: dict[str, str], name: str, added_ms: float) -> None:
    stable = await _latencies_ms(demo_servers["stable"], 15)
    slow = await _latencies_ms(demo_servers[name], 15)

    assert min(slow) >= added_ms
    assert added_ms - 5 <= statistics.median(slow) - statistics.median(stable) <= added_ms + 80


async def test_good_candidate_agrees_and_does_not_drift(demo_servers: dict[str, str]) -> None:
    rows = _rows(600)
    stable, candidate = await _scores(demo_servers["stable"], rows), await _scores(demo_servers["good"], rows)

    assert _agreement(candidate, stable) > 0.97
    assert _psi(candidate, stable) < 0.1
    assert np.any(candidate != stable)  # a different model, not a copy


async def test_disagreeing_candidate_falls_far_below_90_percent_agreement(demo_servers: dict[str, str]) -> None:
    rows = _rows(600)
    stable, candidate = await _scores(demo_servers["stable"], rows), await _scores(demo_servers["disagree"], rows)

    assert _agreement(candidate, stable) < 0.5


async def test_drifted_candidate_agrees_within_tolerance_yet_shifts_the_distribution(demo_servers: dict[str, str]) -> None:
    rows = _rows(600)
    stable, candidate = await _scores(demo_servers["stable"], rows), await _scores(demo_servers["drift"], rows)

    assert np.max(np.abs(candidate - stable)) < TOLERANCE
    assert _agreement(candidate, stable) == 1.0
    assert _psi(candidate, stable) > 0.25


@pytest.mark.parametrize("name", ["errors", "latency"])
async def test_fault_scenarios_keep_the_stable_model(demo_servers: dict[str, str], name: str) -> None:
    rows = _rows(40)
    stable = await _scores(demo_servers["stable"], rows, batch=40)
    async with httpx.AsyncClient(base_url=demo_servers[name], timeout=10) as client:
        replies = [await client.post(PREDICT, json={"instances": rows}) for _ in range(10)]
    answered = [np.array(r.json()["predictions"]) for r in replies if r.status_code == 200]

    assert answered and all(np.array_equal(a, stable) for a in answered)
