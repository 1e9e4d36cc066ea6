"""The demo model in-process: which knobs apply to which variant, and what the app says to bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from controller.local.demo_model import (
    DEFAULT_ERROR_RATE,
    DEFAULT_EXTRA_LATENCY_MS,
    DemoModelConfig,
    Scenario,
    Variant,
    create_app,
    load_demo_data,
    main,
    train_scorer,
)


@pytest.mark.parametrize("scenario", list(Scenario))
def test_stable_ignores_every_scenario(scenario: Scenario) -> None:
    config = DemoModelConfig(variant=Variant.STABLE, scenario=scenario)

    assert config.behaves_as is Scenario.GOOD
    assert (config.error_rate_in_force, config.extra_latency_ms_in_force) == (0.0, 0.0)


def test_candidate_scenarios_set_their_faults() -> None:
    errors = DemoModelConfig(variant=Variant.CANDIDATE, scenario=Scenario.ERRORS)
    latency = DemoModelConfig(variant=Variant.CANDIDATE, scenario=Scenario.LATENCY)

    assert (errors.error_rate_in_force, errors.extra_latency_ms_in_force) == (DEFAULT_ERROR_RATE, 0.0)
    assert (latency.error_rate_in_force, latency.extra_latency_ms_in_force) == (0.0, DEFAULT_EXTRA_LATENCY_MS)


def test_explicit_numbers_override_the_scenario_for_any_variant() -> None:
    config = DemoModelConfig(variant=Variant.STABLE, scenario=Scenario.ERRORS, error_rate=0.3, extra_latency_ms=5)

    assert (config.error_rate_in_force, config.extra_latency_ms_in_force) == (0.3, 5.0)


@pytest.mark.parametrize(("field", "value"), [("error_rate", 1.2), ("extra_latency_ms", -1), ("model_name", "a/b")])
def test_config_rejects_bad_knobs(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        DemoModelConfig(variant=Variant.CANDIDATE, **{field: value})


def test_the_same_config_trains_the_same_model() -> None:
    data = load_demo_data()
    config = DemoModelConfig(variant=Variant.CANDIDATE, scenario=Scenario.DISAGREE, seed=4)

    assert train_scorer(config, data).score(data.features[:50]) == train_scorer(config, data).score(data.features[:50])


class _Client:
    """Calls the ASGI app in-process, one request per event loop."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    async def _request(self, method: str, path: str, **options: Any) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self._app), base_url="http://model") as client:
            return await client.request(method, path, **options)

    def get(self, path: str) -> httpx.Response:
        return asyncio.run(self._request("GET", path))

    def post(self, path: str, **options: Any) -> httpx.Response:
        return asyncio.run(self._request("POST", path, **options))


@pytest.fixture(scope="module")
def client() -> _Client:
    data = load_demo_data()
    config = DemoModelConfig(variant=Variant.STABLE, model_name="scorer")
    return _Client(create_app(config, train_scorer(config, data), data.feature_count))


def test_predict_scores_each_instance(client: _Client) -> None:
    rows = load_demo_data().features[:3].tolist()
    reply = client.post("/v1/models/scorer:predict", json={"instances": rows})

    assert reply.status_code == 200
    predictions = reply.json()["predictions"]
    assert len(predictions) == 3 and all(0.0 <= p <= 1.0 and round(p, 4) == p for p in predictions)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{nope", "body is not JSON"),
        (b'{"inputs": []}', "instances: Field required"),
        (b'{"instances": []}', "instances: List should have at least 1 item"),
        (b'{"instances": [["a"]]}', "instances.0.0: Input should be a valid number"),
        (b'{"instances": [[1, 2]]}', "instances[0] has 2 values; expected 30"),
    ],
)
def test_bad_bodies_get_400_naming_the_problem(client: _Client, body: bytes, message: str) -> None:
    reply = client.post("/v1/models/scorer:predict", content=body)

    assert reply.status_code == 400
    assert reply.json()["error"].startswith(message)


def test_unknown_model_name_is_404(client: _Client) -> None:
    reply = client.get("/v1/models/other")

    assert reply.status_code == 404
    assert reply.json() == {"error": "model 'other' is not served here; this server serves 'scorer'"}


def test_cli_names_the_bad_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--port", "1", "--variant", "candidate", "--error-rate", "2"])

    assert exited.value.code == 2
    assert "--error-rate 2.0: Input should be less than or equal to 1" in capsys.readouterr().err
