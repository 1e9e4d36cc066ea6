"""Synthetic traffic for the decision bench: what the routers would count, window by window.

Each rollout gets a `Stream`: requests arrive at `rps` and split as the engine's traffic split
says; every variant's errors, latency, predictions and labels are drawn from its `Behaviour`.
A window's counts accumulate from the moment its split came into force, as the routers' deltas
do, so a later look at the same window sees what the earlier one saw plus what came since.
Router metrics are read out of a `RouterStats` by the controller's own adapter
(`controller.providers.router_stats`), the same code the driver runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache

import numpy as np
from scipy import optimize, stats

from controller.analysis.observations import MetricObservation, VariantSample
from controller.api.status import TrafficSplit, Verdict
from controller.engine.inputs import MeasurementRequest
from controller.providers.router_stats import observe_router_metric
from router.config import DEFAULT_PREDICTION_BINS
from router.stats import LATENCY_BUCKETS_S, ErrorCounts, Histogram, RouterStats, ShadowComparison, VariantStats

__all__ = ["BASE", "Behaviour", "Stream", "PROMETHEUS_SIGNALS"]

# A healthy model server: 0.5% errors, latency log-normal around 50 ms (p99 about 160 ms), a retrained
# model agreeing with the old one on 99% of answers, scores Beta(2, 5), 90% right where labels come back.
LATENCY_MEDIAN_S = 0.05
LATENCY_SIGMA = 0.5
SCORES = stats.beta(2, 5)
LABELLED_SHARE = 0.2
FLAG_SCORE = 0.7  # a score above this flags the request: about 1% of them (the drift-gated example's fraud-flag-rate)
_START = datetime(2024, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Behaviour:
    """How a variant behaves; a planted regression is one field moved from BASE."""

    error_rate: float = 0.005
    latency_factor: float = 1.0
    agreement: float = 0.99
    drift_psi: float = 0.0
    accuracy: float = 0.90


BASE = Behaviour()

# Prometheus queries of the examples, by metric name: what each measures in these streams.
PROMETHEUS_SIGNALS = {"http-5xx-ratio": "errors", "fraud-flag-rate": "flags"}


@cache
def _latency_shares(factor: float) -> tuple[float, ...]:
    """P(latency in each router bucket) for latencies scaled by `factor`, overflow last."""
    cdf = stats.lognorm(s=LATENCY_SIGMA, scale=LATENCY_MEDIAN_S * factor).cdf(np.asarray(LATENCY_BUCKETS_S))
    return tuple(np.diff(np.concatenate([[0.0], cdf, [1.0]])).tolist())


def _psi(candidate: np.ndarray, stable: np.ndarray) -> float:
    kept = (candidate > 0) & (stable > 0)
    return float(np.sum((candidate[kept] - stable[kept]) * np.log(candidate[kept] / stable[kept])))


@cache
def _score_shares(psi: float) -> tuple[float, ...]:
    """P(score in each prediction bin), tilted towards high scores until its PSI against stable is `psi`."""
    edges = np.asarray(DEFAULT_PREDICTION_BINS)
    stable = np.diff(np.concatenate([[0.0], SCORES.cdf(edges), [1.0]]))
    if psi <= 0:
        return tuple(stable.tolist())
    middles = np.concatenate([[edges[0]], (edges[:-1] + edges[1:]) / 2, [edges[-1]]])

    def tilted(strength: float) -> np.ndarray:
        weights = stable * np.exp(strength * middles)
        return weights / weights.sum()

    strength = optimize.brentq(lambda s: _psi(tilted(s), stable) - psi, 0.0, 50.0)
    return tuple(tilted(strength).tolist())


@dataclass
class _Counts:
    """One variant's counts in one window."""

    requests: int = 0
    errors: int = 0
    latency: np.ndarray = field(default_factory=lambda: np.zeros(len(LATENCY_BUCKETS_S) + 1, dtype=np.int64))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(len(DEFAULT_PREDICTION_BINS) + 1, dtype=np.int64))
    labelled: int = 0
    correct: int = 0
    compared: int = 0
    agreed: int = 0

    def add(self, rng: np.random.Generator, requests: int, behaviour: Behaviour) -> None:
        errors = int(rng.binomial(requests, behaviour.error_rate))
        answered = requests - errors
        labelled = int(rng.binomial(answered, LABELLED_SHARE))
        self.requests += requests
        self.errors += errors
        self.latency += rng.multinomial(requests, _latency_shares(behaviour.latency_factor))
        self.scores += rng.multinomial(answered, _score_shares(behaviour.drift_psi))
        self.labelled += labelled
        self.correct += int(rng.binomial(labelled, behaviour.accuracy))
        self.compared += answered
        self.agreed += int(rng.binomial(answered, behaviour.agreement))

    def stats(self) -> VariantStats:
        return VariantStats(
            requests=self.requests,
            errors=ErrorCounts(status_5xx=self.errors),
            latency_s=Histogram(edges=LATENCY_BUCKETS_S, counts=tuple(self.latency.tolist())),
            predictions=Histogram(edges=DEFAULT_PREDICTION_BINS, counts=tuple(self.scores.tolist())),
            labelled=self.labelled,
            correct=self.correct,
        )

    def flags(self) -> tuple[int, int]:
        """(flagged, scored): answers whose score is above FLAG_SCORE."""
        above = np.asarray(DEFAULT_PREDICTION_BINS) >= FLAG_SCORE
        flagged = int(self.scores[1:][above].sum())  # scores[i + 1] holds (edges[i], edges[i + 1]]
        return flagged, int(self.scores.sum())


@dataclass
class _Window:
    seen_until: datetime
    stable: _Counts = field(default_factory=_Counts)
    candidate: _Counts = field(default_factory=_Counts)
    shadow: _Counts = field(default_factory=_Counts)


@dataclass
class Stream:
    """One rollout's traffic: `rps` requests a second, the candidate behaving as `candidate`."""

    rng: np.random.Generator
    rps: float
    candidate: Behaviour
    windows: dict[datetime | None, _Window] = field(default_factory=dict)
    candidate_samples: int = 0  # the candidate's answers drawn so far, live and mirrored

    def observe(self, requests: list[MeasurementRequest], split: TrafficSplit, now: datetime) -> list[MetricObservation]:
        """Each request's observation at `now`: every window grows to `now` once, then is read as the routers' stats."""
        routers: dict[datetime | None, RouterStats] = {}
        observed = []
        for request in requests:
            window = self._advance(request.window_start, split, now)
            metric = request.metric
            if metric.webhook is not None:  # the blue-green smoke tests: they pass for every candidate here
                observed.append(MetricObservation(metric=metric.name, verdict=Verdict.PASSED))
            elif metric.prometheus is not None:
                observed.append(self._prometheus(request, window, now))
            else:
                if request.window_start not in routers:
                    routers[request.window_start] = _router_stats(window)
                observed.append(observe_router_metric(metric, routers[request.window_start], request.window_start, now))
        return observed

    def _advance(self, start: datetime | None, split: TrafficSplit, now: datetime) -> _Window:
        window = self.windows.setdefault(start, _Window(seen_until=start or now))
        seconds = (now - window.seen_until).total_seconds()
        if seconds <= 0:
            return window
        window.seen_until = now
        stable_rate = self.rps * split.stable / 100
        live = int(self.rng.poisson(self.rps * split.candidate / 100 * seconds))
        served = int(self.rng.poisson(stable_rate * seconds))
        mirrored = int(self.rng.binomial(served, split.mirror / 100))
        window.stable.add(self.rng, served, BASE)
        window.candidate.add(self.rng, live, self.candidate)
        window.shadow.add(self.rng, mirrored, self.candidate)
        self.candidate_samples += live + mirrored
        return window

    def _prometheus(self, request: MeasurementRequest, window: _Window, now: datetime) -> MetricObservation:
        """The examples' PromQL over the window: an error ratio or a flag rate per variant, as the query reads them."""
        metric, query = request.metric, request.metric.prometheus
        assert query is not None
        signal = PROMETHEUS_SIGNALS.get(metric.name)
        if signal is None:
            raise ValueError(f"no synthetic signal for Prometheus metric {metric.name!r}; add it to PROMETHEUS_SIGNALS")

        def sample(counts: _Counts) -> VariantSample:
            hits, total = (counts.errors, counts.requests) if signal == "errors" else counts.flags()
            value = hits / total if total else None
            if query.samples_query is None:
                return VariantSample(count=0 if value is None else 1, value=value, counted=False)
            return VariantSample(count=total, value=value)

        live = window.candidate if window.candidate.requests else window.shadow
        stable = sample(window.stable) if "{{variant}}" in query.query else None
        window_bounds = {"window_start": request.window_start, "window_end": now}
        return MetricObservation(metric=metric.name, candidate=sample(live), stable=stable, **window_bounds)


def _router_stats(window: _Window) -> RouterStats:
    return RouterStats(
        instance_id="bench",
        started_at=_START,
        generation=1,
        stable=window.stable.stats(),
        candidate=window.candidate.stats(),
        shadow=window.shadow.stats(),
        shadow_comparison=ShadowComparison(compared=window.shadow.compared, agreed=window.shadow.agreed),
    )


def regressed(**change: float) -> Behaviour:
    """BASE with some fields moved: `regressed(error_rate=BASE.error_rate + 0.03)`."""
    return replace(BASE, **change)


def latency_p99_s(factor: float = 1.0) -> float:
    return LATENCY_MEDIAN_S * factor * math.exp(LATENCY_SIGMA * float(stats.norm.ppf(0.99)))
