"""What the decision bench runs: the examples, the candidates planted in them, and the reference judge.

Good candidates behave exactly as stable, at a few traffic levels. Bad ones carry one planted
regression of a stated size at the middle level. A case whose signal none of an example's metrics
watches is listed as not watched rather than run: nothing in that rollout could catch it.

The reference is a fixed-threshold judge of the kind Flagger uses, run through the same engine on
the same streams: every `compare` becomes a fixed bound (error rates under 1%, latency p99 under
500 ms, PSI under 0.25, agreement and accuracy at most 2 points below the healthy level), and
every measured value is held against its bound as read, with no statistics on the counts behind it
(`as_read`). The examples' other settings (minSamples, counts, intervals) apply to both.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench.decision_streams import BASE, PROMETHEUS_SIGNALS, Behaviour, regressed
from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.metrics import MetricSpec, RouterMetric

__all__ = ["Case", "EXAMPLES", "TRAFFIC_RPS", "as_read", "cases", "load_example", "reference_spec", "watched_signals"]

EXAMPLES = Path(__file__).resolve().parents[1] / "manifests" / "examples"
# Requests a second reaching the model: a quiet, a typical and a busy service.
TRAFFIC_RPS = (5.0, 20.0, 100.0)
BAD_AT_RPS = 20.0


@dataclass(frozen=True)
class Case:
    name: str
    signal: str | None  # None for a good candidate
    rps: float
    candidate: Behaviour

    @property
    def good(self) -> bool:
        return self.signal is None


def _bad() -> Iterator[Case]:
    planted = [
        ("errors", "error rate +1 pt", regressed(error_rate=BASE.error_rate + 0.01)),
        ("errors", "error rate +3 pt", regressed(error_rate=BASE.error_rate + 0.03)),
        ("latency", "latency +10%", regressed(latency_factor=1.10)),
        ("latency", "latency +30%", regressed(latency_factor=1.30)),
        ("agreement", "agreement -2 pt", regressed(agreement=BASE.agreement - 0.02)),
        ("agreement", "agreement -5 pt", regressed(agreement=BASE.agreement - 0.05)),
        ("drift", "drift PSI 0.15", regressed(drift_psi=0.15)),
        ("drift", "drift PSI 0.3", regressed(drift_psi=0.30)),
        ("accuracy", "accuracy -2 pt", regressed(accuracy=BASE.accuracy - 0.02)),
        ("accuracy", "accuracy -5 pt", regressed(accuracy=BASE.accuracy - 0.05)),
    ]
    for signal, name, behaviour in planted:
        yield Case(name, signal, BAD_AT_RPS, behaviour)


def cases() -> list[Case]:
    good = [Case(f"good at {rps:g} rps", None, rps, BASE) for rps in TRAFFIC_RPS]
    return good + list(_bad())


def load_example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return document


_SIGNALS = {
    RouterMetric.ERROR_RATE: "errors",
    RouterMetric.SHADOW_ERROR_RATE: "errors",
    RouterMetric.LATENCY_P50: "latency",
    RouterMetric.LATENCY_P90: "latency",
    RouterMetric.LATENCY_P99: "latency",
    RouterMetric.LATENCY: "latency",
    RouterMetric.SHADOW_LATENCY_P99: "latency",
    RouterMetric.SHADOW_AGREEMENT: "agreement",
    RouterMetric.PREDICTION_DRIFT: "drift",
    RouterMetric.ACCURACY: "accuracy",
}


def _signal(metric: MetricSpec) -> str | None:
    if metric.router is not None:
        return _SIGNALS.get(metric.router.metric)
    if metric.prometheus is not None:
        return {"errors": "errors", "flags": "drift"}.get(PROMETHEUS_SIGNALS.get(metric.name, ""))
    return None


def watched_signals(metrics: list[MetricSpec]) -> set[str]:
    return {signal for metric in metrics if (signal := _signal(metric)) is not None}


def _fixed(metric: dict[str, Any]) -> dict[str, Any]:
    """A compare judgement as the fixed bound a Flagger user would write for the same metric."""
    if "compare" not in metric:
        return metric
    kind = metric["router"]["metric"]
    bound: dict[str, float] = {
        "errorRate": {"max": 0.01},
        "shadowErrorRate": {"max": 0.01},
        "latency": {"max": 0.5},
        "predictionDrift": {"max": 0.25},
        "shadowAgreement": {"min": BASE.agreement - 0.02},
        "accuracy": {"min": BASE.accuracy - 0.02},
    }[kind]
    router = {"metric": "latencyP99"} if kind == "latency" else metric["router"]
    fixed = {key: value for key, value in metric.items() if key != "compare"}
    return {**fixed, "router": router, **bound}


def reference_spec(document: dict[str, Any]) -> dict[str, Any]:
    """The example with every compare turned into a fixed bound, wherever metrics are listed."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: [_fixed(walk(m)) for m in value] if key == "metrics" else walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result: dict[str, Any] = walk(document)
    return result


# Enough to put any PSI on either side of a bound beyond chance, however few predictions stand behind it.
_AS_READ_SCALE = 10**6


def as_read(metric: MetricSpec, observation: MetricObservation) -> MetricObservation:
    """The observation as the reference judges it: each value as it is read.

    The counts behind a proportion are dropped, so a rate past its bound fails and one within passes.
    The drift judge fails a PSI past its max, and passes one under it, only once the counts show it
    there beyond chance, so the reference's predictions are counted a million times over: the same
    shares and PSI, and tests that always find them on the side they read. Each sample's `count`,
    which minSamples checks, stays as measured.
    """
    drift = metric.router is not None and metric.router.metric is RouterMetric.PREDICTION_DRIFT

    def read(sample: VariantSample | None) -> VariantSample | None:
        if sample is None:
            return None
        if drift and sample.histogram is not None:
            counts = [count * _AS_READ_SCALE for count in sample.histogram.counts]
            return sample.model_copy(update={"histogram": sample.histogram.model_copy(update={"counts": counts})})
        return sample.model_copy(update={"successes": None})

    return observation.model_copy(update={"candidate": read(observation.candidate), "stable": read(observation.stable)})
