"""Synthetic traffic for the decision bench: what the routers would count, window by window.

Each rollout gets a `Stream`: requests arrive at `rps` and split as the engine's traffic split
says; every variant's errors, latency, predictions and labels are drawn from its `Behaviour`.
A window's counts accumulate from the moment its split came into force, as the routers' deltas
do, so a later look at the same window sees what the earlier one saw plus what came since.

Arrivals are drawn at every look; what the requests did only when a measurement reads it, for
all the requests that came since it was last read. A sum of binomial (multinomial) draws at one
rate is one draw over the summed requests, so the counts have the distribution that drawing them
look by look gives, and a window pays only for what its metrics read.

Router metrics are read as the controller's router-stats adapter
(`controller.providers.router_stats`) reads the routers' `/stats`; `Window.router_stats` gives
those stats, and a test checks that every reading here equals the adapter's on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache

import numpy as np
from scipy import optimize, stats

from controller.analysis.observations import BinCounts, MetricObservation, VariantSample
from controller.api.metrics import RouterMetric
from controller.api.status import TrafficSplit, Verdict
from controller.engine.inputs import MeasurementRequest
from controller.providers.router_stats import to_bins
from router.config import DEFAULT_PREDICTION_BINS
from router.stats import LATENCY_BUCKETS_S, ErrorCounts, Histogram, RouterStats, ShadowComparison, VariantStats

__all__ = ["BASE", "Behaviour", "Stream", "Window", "PROMETHEUS_SIGNALS", "ROUTER_METRICS"]

# A healthy model server: 0.5% errors, latency log-normal around 50 ms (p99 about 160 ms), a retrained
# model agreeing with the old one on 99% of answers, scores Beta(2, 5), 90% right where labels come back.
LATENCY_MEDIAN_S = 0.05
LATENCY_SIGMA = 0.5
SCORES = stats.beta(2, 5)
LABELLED_SHARE = 0.2
FLAG_SCORE = 0.7  # a score above this flags the request: about 1% of them (the drift-gated example's fraud-flag-rate)
_START = datetime(2024, 6, 1, tzinfo=UTC)
# The adapter's closed bins around the routers' histograms: the same edges at every look.
_LATENCY_BINS = to_bins(Histogram.empty(LATENCY_BUCKETS_S)).edges
_SCORE_BINS = to_bins(Histogram.empty(DEFAULT_PREDICTION_BINS), floor=None).edges
_LATENCY_MIDDLES = [(a + b) / 2 for a, b in zip(_LATENCY_BINS, _LATENCY_BINS[1:])]
_QUANTILES = {RouterMetric.LATENCY_P50: 0.5, RouterMetric.LATENCY_P90: 0.9, RouterMetric.LATENCY_P99: 0.99}


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
def _latency_shares(factor: float) -> np.ndarray:
    """P(latency in each router bucket) for latencies scaled by `factor`, overflow last."""
    cdf = stats.lognorm(s=LATENCY_SIGMA, scale=LATENCY_MEDIAN_S * factor).cdf(np.asarray(LATENCY_BUCKETS_S))
    return np.diff(np.concatenate([[0.0], cdf, [1.0]]))


def _psi(candidate: np.ndarray, stable: np.ndarray) -> float:
    kept = (candidate > 0) & (stable > 0)
    return float(np.sum((candidate[kept] - stable[kept]) * np.log(candidate[kept] / stable[kept])))


@cache
def _score_shares(psi: float) -> np.ndarray:
    """P(score in each prediction bin), tilted towards high scores until its PSI against stable is `psi`."""
    edges = np.asarray(DEFAULT_PREDICTION_BINS)
    stable = np.diff(np.concatenate([[0.0], SCORES.cdf(edges), [1.0]]))
    if psi <= 0:
        return stable
    middles = np.concatenate([[edges[0]], (edges[:-1] + edges[1:]) / 2, [edges[-1]]])

    def tilted(strength: float) -> np.ndarray:
        weights = stable * np.exp(strength * middles)
        return weights / weights.sum()

    strength = optimize.brentq(lambda s: _psi(tilted(s), stable) - psi, 0.0, 50.0)
    return tilted(strength)


@dataclass
class _Counts:
    """One variant's counts in one window; each kind drawn up to date only when read (see the module doc)."""

    rng: np.random.Generator
    behaviour: Behaviour
    requests: int = 0
    _errors: int = 0
    _errors_of: int = 0  # requests whose errors are drawn
    _latency: np.ndarray = field(default_factory=lambda: np.zeros(len(LATENCY_BUCKETS_S) + 1, dtype=np.int64))
    _latency_of: int = 0
    _scores: np.ndarray = field(default_factory=lambda: np.zeros(len(DEFAULT_PREDICTION_BINS) + 1, dtype=np.int64))
    _scores_of: int = 0  # answers whose scores are drawn
    _labelled: int = 0
    _correct: int = 0
    _labels_of: int = 0
    _agreed: int = 0
    _compared: int = 0

    def errors(self) -> int:
        if self.requests > self._errors_of:
            self._errors += int(self.rng.binomial(self.requests - self._errors_of, self.behaviour.error_rate))
            self._errors_of = self.requests
        return self._errors

    def answered(self) -> int:
        return self.requests - self.errors()

    def latency(self) -> np.ndarray:
        if self.requests > self._latency_of:
            self._latency += self.rng.multinomial(self.requests - self._latency_of, _latency_shares(self.behaviour.latency_factor))
            self._latency_of = self.requests
        return self._latency

    def scores(self) -> np.ndarray:
        answered = self.answered()
        if answered > self._scores_of:
            self._scores += self.rng.multinomial(answered - self._scores_of, _score_shares(self.behaviour.drift_psi))
            self._scores_of = answered
        return self._scores

    def labels(self) -> tuple[int, int]:
        """(correct, labelled): the answers whose label came back, and how many of them were right."""
        answered = self.answered()
        if answered > self._labels_of:
            labelled = int(self.rng.binomial(answered - self._labels_of, LABELLED_SHARE))
            self._labelled += labelled
            self._correct += int(self.rng.binomial(labelled, self.behaviour.accuracy))
            self._labels_of = answered
        return self._correct, self._labelled

    def agreement(self) -> tuple[int, int]:
        """(agreed, compared): mirrored answers compared with stable's, and how many matched."""
        answered = self.answered()
        if answered > self._compared:
            self._agreed += int(self.rng.binomial(answered - self._compared, self.behaviour.agreement))
            self._compared = answered
        return self._agreed, self._compared

    def flags(self) -> tuple[int, int]:
        """(flagged, scored): answers whose score is above FLAG_SCORE."""
        scores = self.scores()
        above = np.asarray(DEFAULT_PREDICTION_BINS) >= FLAG_SCORE
        return int(scores[1:][above].sum()), int(scores.sum())  # scores[i + 1] holds (edges[i], edges[i + 1]]

    def stats(self) -> VariantStats:
        """This variant's counts as the routers' /stats report them (every kind drawn up to date)."""
        correct, labelled = self.labels()
        return VariantStats(
            requests=self.requests,
            errors=ErrorCounts(status_5xx=self.errors()),
            latency_s=Histogram(edges=LATENCY_BUCKETS_S, counts=tuple(self.latency().tolist())),
            predictions=Histogram(edges=DEFAULT_PREDICTION_BINS, counts=tuple(self.scores().tolist())),
            labelled=labelled,
            correct=correct,
        )


def _proportion(successes: int, count: int) -> VariantSample:
    return VariantSample(count=count, successes=min(successes, count), value=successes / count if count else None)


def _errors(counts: _Counts) -> VariantSample:
    return _proportion(counts.errors(), counts.requests)


def _latency(counts: _Counts, q: float | None) -> VariantSample:
    """As the adapter reads a latency histogram: a quantile's bucket edge, or the mean of the bin middles."""
    latency = counts.latency().tolist()
    total = counts.requests
    if total == 0:
        value = None
    elif q is not None:
        value = _quantile(latency, total, q)
    else:
        value = sum(m * c for m, c in zip(_LATENCY_MIDDLES, latency)) / total
    return _with_bins(total, value, _LATENCY_BINS, latency)


def _with_bins(count: int, value: float | None, edges: list[float], counts: list[int]) -> VariantSample:
    """A sample with its histogram, unchecked: pydantic would run the bins' validator at every look, and
    these bins are right by construction (the test against the adapter compares them)."""
    bins = BinCounts.model_construct(edges=edges, counts=counts)
    return VariantSample.model_construct(count=count, value=value, histogram=bins)


def _quantile(counts: list[int], total: int, q: float) -> float:
    """`controller.providers.router_stats.quantile` on the latency buckets: the edge of the bin holding it."""
    rank, running = q * total, 0
    for index, count in enumerate(counts):
        running += count
        if running >= rank and count:
            return LATENCY_BUCKETS_S[min(index, len(LATENCY_BUCKETS_S) - 1)]
    return LATENCY_BUCKETS_S[-1]


def _predictions(counts: _Counts) -> VariantSample:
    scores = counts.scores()
    total = int(scores.sum())
    return _with_bins(total, None, _SCORE_BINS, scores.tolist()) if total else VariantSample(count=0)


@dataclass
class Window:
    """Every variant's counts since one split came into force."""

    rng: np.random.Generator
    candidate_behaviour: Behaviour
    seen_until: datetime
    stable: _Counts = field(init=False)
    candidate: _Counts = field(init=False)
    shadow: _Counts = field(init=False)

    def __post_init__(self) -> None:
        self.stable = _Counts(self.rng, BASE)
        self.candidate = _Counts(self.rng, self.candidate_behaviour)
        self.shadow = _Counts(self.rng, self.candidate_behaviour)

    def read(self, metric: RouterMetric) -> tuple[VariantSample | None, VariantSample | None]:
        """(candidate, stable) as the controller's adapter reads them from `router_stats()`."""
        match metric:
            case RouterMetric.ERROR_RATE:
                return _errors(self.candidate), _errors(self.stable)
            case RouterMetric.LATENCY_P50 | RouterMetric.LATENCY_P90 | RouterMetric.LATENCY_P99 | RouterMetric.LATENCY:
                q = _QUANTILES.get(metric)
                return _latency(self.candidate, q), _latency(self.stable, q)
            case RouterMetric.SHADOW_AGREEMENT:
                return _proportion(*self.shadow.agreement()), None
            case RouterMetric.SHADOW_ERROR_RATE:
                return _errors(self.shadow), _errors(self.stable)
            case RouterMetric.SHADOW_LATENCY_P99:
                return _latency(self.shadow, 0.99), _latency(self.stable, 0.99)
            case RouterMetric.PREDICTION_DRIFT:
                live = self.candidate if self.candidate.answered() else self.shadow
                return _predictions(live), _predictions(self.stable)
            case RouterMetric.ACCURACY:
                # The adapter judges the shadow's answers while the candidate has no labelled live ones.
                judged = self.candidate if self.candidate.labels()[1] else self.shadow
                return _proportion(*judged.labels()), _proportion(*self.stable.labels())
        raise ValueError(f"no synthetic reading for router metric {metric}; add it to Window.read")

    def router_stats(self) -> RouterStats:
        """The window as the routers' merged /stats delta would report it."""
        agreed, compared = self.shadow.agreement()
        return RouterStats(
            instance_id="bench",
            started_at=_START,
            generation=1,
            stable=self.stable.stats(),
            candidate=self.candidate.stats(),
            shadow=self.shadow.stats(),
            shadow_comparison=ShadowComparison(compared=compared, agreed=agreed),
        )


ROUTER_METRICS = frozenset(RouterMetric) - {RouterMetric.REQUEST_RATE}


@dataclass
class Stream:
    """One rollout's traffic: `rps` requests a second, the candidate behaving as `candidate`."""

    rng: np.random.Generator
    rps: float
    candidate: Behaviour
    windows: dict[datetime | None, Window] = field(default_factory=dict)
    candidate_samples: int = 0  # the candidate's answers drawn so far, live and mirrored

    def observe(self, requests: list[MeasurementRequest], split: TrafficSplit, now: datetime) -> list[MetricObservation]:
        """Each request's observation at `now`: every window grows to `now` once, then is read as the routers' stats."""
        observed = []
        for request in requests:
            window = self._advance(request.window_start, split, now)
            metric = request.metric
            if metric.webhook is not None:  # the blue-green smoke tests: they pass for every candidate here
                observed.append(MetricObservation(metric=metric.name, verdict=Verdict.PASSED))
            elif metric.prometheus is not None:
                observed.append(self._prometheus(request, window, now))
            elif metric.router is not None:
                candidate, stable = window.read(metric.router.metric)
                bounds = {"window_start": request.window_start, "window_end": now}
                observed.append(MetricObservation(metric=metric.name, candidate=candidate, stable=stable, **bounds))
        return observed

    def _advance(self, start: datetime | None, split: TrafficSplit, now: datetime) -> Window:
        window = self.windows.get(start)
        if window is None:
            window = self.windows[start] = Window(self.rng, self.candidate, seen_until=start or now)
        seconds = (now - window.seen_until).total_seconds()
        if seconds <= 0:
            return window
        window.seen_until = now
        live = int(self.rng.poisson(self.rps * split.candidate / 100 * seconds)) if split.candidate else 0
        served = int(self.rng.poisson(self.rps * split.stable / 100 * seconds))
        mirrored = int(self.rng.binomial(served, split.mirror / 100)) if split.mirror else 0
        window.stable.requests += served
        window.candidate.requests += live
        window.shadow.requests += mirrored
        self.candidate_samples += live + mirrored
        return window

    def _prometheus(self, request: MeasurementRequest, window: Window, now: datetime) -> MetricObservation:
        """The examples' PromQL over the window: an error ratio or a flag rate per variant, as the query reads them."""
        metric, query = request.metric, request.metric.prometheus
        assert query is not None
        signal = PROMETHEUS_SIGNALS.get(metric.name)
        if signal is None:
            raise ValueError(f"no synthetic signal for Prometheus metric {metric.name!r}; add it to PROMETHEUS_SIGNALS")

        def sample(counts: _Counts) -> VariantSample:
            hits, total = (counts.errors(), counts.requests) if signal == "errors" else counts.flags()
            value = hits / total if total else None
            if query.samples_query is None:
                return VariantSample(count=0 if value is None else 1, value=value, counted=False)
            return VariantSample(count=total, value=value)

        live = window.candidate if window.candidate.requests else window.shadow
        stable = sample(window.stable) if "{{variant}}" in query.query else None
        window_bounds = {"window_start": request.window_start, "window_end": now}
        return MetricObservation(metric=metric.name, candidate=sample(live), stable=stable, **window_bounds)


def regressed(**change: float) -> Behaviour:
    """BASE with some fields moved: `regressed(error_rate=BASE.error_rate + 0.03)`."""
    return replace(BASE, **change)


def latency_p99_s(factor: float = 1.0) -> float:
    return LATENCY_MEDIAN_S * factor * math.exp(LATENCY_SIGMA * float(stats.norm.ppf(0.99)))
