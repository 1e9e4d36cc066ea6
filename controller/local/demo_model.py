"""A small real model behind a KServe v1 HTTP server, with knobs that make a candidate go bad.

The model is a logistic regression trained at start-up on scikit-learn's bundled breast cancer
data set (no download, deterministic, a few milliseconds to fit). It answers

    POST /v1/models/<name>:predict   {"instances": [[30 features], ...]} -> {"predictions": [p, ...]}

with `p` the positive-class probability rounded to 4 decimals, plus `GET /v1/models/<name>`
(readiness), `GET /v1/models/<name>/metadata` (variant, scenario, injected faults) and
`GET /healthz`.

Scenarios change only the candidate; explicit `--error-rate` / `--extra-latency-ms` apply to
whichever variant they are given to:

    good      another regularisation strength: > 97% of scores within 0.1 of stable's, PSI < 0.1
    errors    15% of predictions answer 500
    latency   every request waits 120 ms more
    disagree  trained on shuffled labels: scores bear no relation to stable's
    drift     scores squashed towards 0.5, each within 0.095 of stable's, PSI well above 0.25

Run it as a process: `python -m controller.local.demo_model --port 8081 --variant candidate
--scenario drift`. Every flag also reads a `MODELROLLOUT_DEMO_*` environment variable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import uvicorn
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = [
    "Variant",
    "Scenario",
    "DemoModelConfig",
    "DemoData",
    "DemoScorer",
    "load_demo_data",
    "train_scorer",
    "create_app",
    "main",
    "DEFAULT_ERROR_RATE",
    "DEFAULT_EXTRA_LATENCY_MS",
    "DRIFT_SQUASH",
]

DEFAULT_ERROR_RATE = 0.15
DEFAULT_EXTRA_LATENCY_MS = 120.0
# Scores move towards 0.5 by (1 - DRIFT_SQUASH) * |p - 0.5| <= 0.095: within a 0.1 agreement
# tolerance, yet the confident scores at both ends leave their outer histogram bins.
DRIFT_SQUASH = 0.81
_STABLE_C = 0.1
_GOOD_C = 0.2
_ENV_PREFIX = "MODELROLLOUT_DEMO_"

Matrix = npt.NDArray[np.float64]


class Variant(StrEnum):
    STABLE = "stable"
    CANDIDATE = "candidate"


class Scenario(StrEnum):
    GOOD = "good"
    ERRORS = "errors"
    LATENCY = "latency"
    DISAGREE = "disagree"
    DRIFT = "drift"


class DemoModelConfig(BaseModel):
    """What one server process is: its variant, scenario and any explicitly tuned faults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    variant: Variant
    scenario: Scenario = Scenario.GOOD
    model_name: str = Field(default="demo", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    extra_latency_ms: float | None = Field(default=None, ge=0.0, le=60_000.0)
    seed: int = 0

    @property
    def behaves_as(self) -> Scenario:
        """The scenario in force: the stable variant always behaves as a good model."""
        return self.scenario if self.variant is Variant.CANDIDATE else Scenario.GOOD

    @property
    def error_rate_in_force(self) -> float:
        if self.error_rate is not None:
            return self.error_rate
        return DEFAULT_ERROR_RATE if self.behaves_as is Scenario.ERRORS else 0.0

    @property
    def extra_latency_ms_in_force(self) -> float:
        if self.extra_latency_ms is not None:
            return self.extra_latency_ms
        return DEFAULT_EXTRA_LATENCY_MS if self.behaves_as is Scenario.LATENCY else 0.0


@dataclass(frozen=True)
class DemoData:
    features: Matrix
    labels: npt.NDArray[np.int64]

    @property
    def feature_count(self) -> int:
        return int(self.features.shape[1])


def load_demo_data() -> DemoData:
    """The bundled breast cancer data: 569 rows of 30 features; label 1 is benign."""
    features, labels = load_breast_cancer(return_X_y=True)
    return DemoData(np.asarray(features, dtype=np.float64), np.asarray(labels, dtype=np.int64))


@dataclass(frozen=True)
class DemoScorer:
    """A fitted pipeline and the squash applied to its scores (1.0 leaves them as they are)."""

    pipeline: Pipeline
    squash: float = 1.0

    def score(self, rows: Matrix) -> list[float]:
        probabilities = self.pipeline.predict_proba(rows)[:, 1]
        squashed = 0.5 + (probabilities - 0.5) * self.squash
        return [float(p) for p in np.round(squashed, 4)]


def train_scorer(config: DemoModelConfig, data: DemoData) -> DemoScorer:
    """Fit the model the config's variant and scenario call for; the same config fits the same model."""
    scenario = config.behaves_as
    labels = data.labels
    if scenario is Scenario.DISAGREE:
        labels = np.random.default_rng(config.seed).permutation(labels)
    strength = _GOOD_C if config.variant is Variant.CANDIDATE and scenario is Scenario.GOOD else _STABLE_C
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=1000))
    pipeline.fit(data.features, labels)
    return DemoScorer(pipeline, DRIFT_SQUASH if scenario is Scenario.DRIFT else 1.0)


class _PredictRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    instances: list[list[float]] = Field(min_length=1)


class _BadRequest(Exception):
    """A predict body this server cannot score; the message names the field and what was expected."""


@dataclass
class _Faults:
    """Injected failures and delay; owns the random stream that picks which requests fail."""

    error_rate: float
    extra_latency_ms: float
    draw: random.Random

    async def delay(self) -> None:
        if self.extra_latency_ms > 0:
            await asyncio.sleep(self.extra_latency_ms / 1000)

    def should_fail(self) -> bool:
        return self.error_rate > 0 and self.draw.random() < self.error_rate


def _parse_rows(raw: bytes, feature_count: int) -> Matrix:
    try:
        body = _PredictRequest.model_validate(orjson.loads(raw))
    except orjson.JSONDecodeError as exc:
        raise _BadRequest(f"body is not JSON: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise _BadRequest(f"{where}: {first['msg']}; expected {{\"instances\": [[{feature_count} numbers], ...]}}") from exc
    for index, row in enumerate(body.instances):
        if len(row) != feature_count:
            raise _BadRequest(f"instances[{index}] has {len(row)} values; expected {feature_count}")
    return np.asarray(body.instances, dtype=np.float64)


def _json(payload: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"error": message}, status)


def create_app(config: DemoModelConfig, scorer: DemoScorer, feature_count: int) -> FastAPI:
    """The ASGI app serving `scorer` under `config.model_name` with `config`'s faults injected."""
    faults = _Faults(config.error_rate_in_force, config.extra_latency_ms_in_force, random.Random(config.seed))
    app = FastAPI(title="modelrollout demo model", docs_url=None, redoc_url=None, openapi_url=None)

    def unknown(name: str) -> Response | None:
        if name == config.model_name:
            return None
        return _error(404, f"model {name!r} is not served here; this server serves {config.model_name!r}")

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/v1/models/{name}")
    async def ready(name: str) -> Response:
        return unknown(name) or _json({"name": name, "ready": True})

    @app.get("/v1/models/{name}/metadata")
    async def metadata(name: str) -> Response:
        return unknown(name) or _json(_metadata(config, feature_count))

    @app.post("/v1/models/{name}:predict")
    async def predict(name: str, request: Request) -> Response:
        if (missing := unknown(name)) is not None:
            return missing
        await faults.delay()
        try:
            rows = _parse_rows(await request.body(), feature_count)
        except _BadRequest as exc:
            return _error(400, str(exc))
        if faults.should_fail():
            return _error(500, f"injected failure ({config.behaves_as} scenario, error rate {faults.error_rate:g})")
        return _json({"predictions": scorer.score(rows)})

    return app


def _metadata(config: DemoModelConfig, feature_count: int) -> dict[str, Any]:
    return {
        "name": config.model_name,
        "variant": config.variant.value,
        "scenario": config.scenario.value,
        "behavesAs": config.behaves_as.value,
        "errorRate": config.error_rate_in_force,
        "extraLatencyMs": config.extra_latency_ms_in_force,
        "inputs": {"shape": [-1, feature_count], "datatype": "FP64"},
        "outputs": {"description": "positive-class probability, 4 decimals"},
    }


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    env = os.environ
    parser.add_argument("--host", default=env.get(f"{_ENV_PREFIX}HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=env.get(f"{_ENV_PREFIX}PORT"), required=f"{_ENV_PREFIX}PORT" not in env)
    parser.add_argument("--variant", choices=[v.value for v in Variant], default=env.get(f"{_ENV_PREFIX}VARIANT", "stable"))
    parser.add_argument("--scenario", choices=[s.value for s in Scenario], default=env.get(f"{_ENV_PREFIX}SCENARIO", "good"))
    parser.add_argument("--model-name", default=env.get(f"{_ENV_PREFIX}MODEL_NAME", "demo"))
    parser.add_argument(
        "--error-rate", type=float, default=env.get(f"{_ENV_PREFIX}ERROR_RATE"), help="share of requests answering 500, 0..1"
    )
    parser.add_argument(
        "--extra-latency-ms", type=float, default=env.get(f"{_ENV_PREFIX}EXTRA_LATENCY_MS"), help="delay added to every request"
    )
    parser.add_argument(
        "--seed", type=int, default=env.get(f"{_ENV_PREFIX}SEED", "0"), help="seeds the injected failures and shuffled labels"
    )


def _config_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> DemoModelConfig:
    fields = {key: getattr(args, key) for key in ("variant", "scenario", "model_name", "error_rate", "extra_latency_ms", "seed")}
    try:
        return DemoModelConfig.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        flag = "--" + str(first["loc"][0]).replace("_", "-")
        parser.error(f"{flag} {first['input']!r}: {first['msg']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m controller.local.demo_model", description="Serve the demo model over KServe v1.")
    _add_arguments(parser)
    args = parser.parse_args(argv)
    config = _config_from(args, parser)
    data = load_demo_data()
    app = create_app(config, train_scorer(config, data), data.feature_count)
    uvicorn.run(app, host=args.host, port=int(args.port), log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
