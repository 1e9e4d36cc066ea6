"""Builders shared by the analysis tests: metric specs from their wire form, observations from samples."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.metrics import MetricSpec
from controller.api.status import Verdict

MetricFactory = Callable[..., MetricSpec]
ObservationFactory = Callable[..., MetricObservation]


@pytest.fixture
def metric() -> MetricFactory:
    """`metric(router="errorRate", max=0.05)`: a spec named after its router metric, minSamples 10."""

    def build(router: str = "errorRate", **fields: object) -> MetricSpec:
        wire = {"name": "m", "router": {"metric": router}, "minSamples": 10, **fields}
        return MetricSpec.model_validate(wire)

    return build


@pytest.fixture
def observe() -> ObservationFactory:
    """`observe(candidate=VariantSample(...), stable=..., error=..., verdict=...)`: an observation of "m"."""

    def build(
        candidate: VariantSample | None = None,
        stable: VariantSample | None = None,
        error: str | None = None,
        verdict: Verdict | None = None,
    ) -> MetricObservation:
        return MetricObservation(metric="m", candidate=candidate, stable=stable, error=error, verdict=verdict)

    return build
