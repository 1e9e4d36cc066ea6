"""Properties of judging and the verdict policy over generated observations."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.analysis.judge import judge
from controller.analysis.observations import AnalysisResult, BinCounts, MetricObservation, VariantSample
from controller.analysis.policy import TallyOutcome, apply_result
from controller.api.metrics import MetricSpec, ProviderErrorPolicy
from controller.api.status import MetricTally, Verdict

EDGES = [0.0, 0.01, 0.05, 0.1, 0.5, 1.0, math.inf]
LABELS = ["cat", "dog", "bird", "fish"]
T0 = datetime(2024, 5, 1, tzinfo=UTC)

counts = st.integers(min_value=0, max_value=400)
histograms = st.lists(counts, min_size=len(EDGES) - 1, max_size=len(EDGES) - 1).map(
    lambda bins: BinCounts(edges=EDGES, counts=bins)
)
categories = st.dictionaries(st.sampled_from(LABELS), counts, max_size=len(LABELS))


@st.composite
def samples(draw: st.DrawFn) -> VariantSample:
    count = draw(counts)
    return VariantSample(
        count=count,
        value=draw(st.none() | st.floats(allow_nan=True, allow_infinity=True)),
        successes=draw(st.none() | st.integers(min_value=0, max_value=count + 5)),
        histogram=draw(st.none() | histograms),
        categories=draw(st.none() | categories),
    )


judgements = st.one_of(
    st.fixed_dictionaries({"max": st.floats(-1, 10)}),
    st.fixed_dictionaries({"min": st.floats(-1, 10)}),
    st.fixed_dictionaries({"min": st.just(0.0), "max": st.floats(0, 10)}),
    st.fixed_dictionaries({"maxIncrease": st.sampled_from([{"absolute": 0.01}, {"percent": 10.0}])}),
    st.fixed_dictionaries(
        {
            "compare": st.fixed_dictionaries(
                {
                    "confidence": st.floats(0.51, 0.999),
                    "worseIf": st.sampled_from(["higher", "lower"]),
                    "tolerance": st.floats(0, 1),
                }
            )
        }
    ),
)
router_metrics = st.sampled_from(["errorRate", "latency", "latencyP99", "accuracy", "predictionDrift"])


def _spec(router: str, judgement: dict[str, Any], min_samples: int, **policy: object) -> MetricSpec:
    return MetricSpec.model_validate(
        {"name": "m", "router": {"metric": router}, "minSamples": min_samples, **judgement, **policy}
    )


@settings(max_examples=400, deadline=None)
@given(
    router=router_metrics,
    judgement=judgements,
    min_samples=st.integers(0, 50),
    candidate=st.none() | samples(),
    stable=st.none() | samples(),
    error=st.none() | st.just("connection refused"),
    verdict=st.none() | st.sampled_from(list(Verdict)),
)
def test_judge_never_raises_and_reports_finite_numbers(
    router: str,
    judgement: dict[str, Any],
    min_samples: int,
    candidate: VariantSample | None,
    stable: VariantSample | None,
    error: str | None,
    verdict: Verdict | None,
) -> None:
    observation = MetricObservation(metric="m", candidate=candidate, stable=stable, error=error, verdict=verdict)
    result = judge(_spec(router, judgement, min_samples), observation)
    assert isinstance(result.verdict, Verdict)
    assert result.reason.startswith("m")
    assert result.candidate_samples == (candidate.count if candidate else 0)
    for number in (result.candidate_value, result.stable_value, result.statistic_value, result.threshold):
        assert number is None or math.isfinite(number)
    if error is not None:
        assert result.verdict is Verdict.ERROR


@st.composite
def comparable_samples(draw: st.DrawFn) -> tuple[str, VariantSample]:
    """A router metric and one sample a compare judgement can test: a proportion, latencies or predictions."""
    shape = draw(st.sampled_from(["proportion", "latency", "numeric", "categorical"]))
    if shape == "proportion":
        count = draw(st.integers(1, 5000))
        return "errorRate", VariantSample(count=count, successes=draw(st.integers(0, count)))
    if shape == "categorical":
        cats = draw(categories.filter(lambda c: sum(c.values()) > 0))
        return "predictionDrift", VariantSample(count=sum(cats.values()), categories=cats)
    histogram = draw(histograms.filter(lambda h: h.total > 0))
    return ("latency" if shape == "latency" else "predictionDrift"), VariantSample(
        count=histogram.total, histogram=histogram
    )


@settings(max_examples=300, deadline=None)
@given(
    drawn=comparable_samples(),
    confidence=st.floats(0.51, 0.999),
    worse_if=st.sampled_from(["higher", "lower"]),
)
def test_identical_variants_never_fail_a_comparison(
    drawn: tuple[str, VariantSample], confidence: float, worse_if: str
) -> None:
    router, sample = drawn
    spec = _spec(router, {"compare": {"confidence": confidence, "worseIf": worse_if}}, 0)
    result = judge(spec, MetricObservation(metric="m", candidate=sample, stable=sample))
    assert result.verdict is Verdict.PASSED


@settings(max_examples=300, deadline=None)
@given(
    router=router_metrics,
    judgement=judgements,
    min_samples=st.integers(1, 400),
    candidate=samples(),
    stable=st.none() | samples(),
    data=st.data(),
)
def test_too_few_samples_is_always_inconclusive(
    router: str,
    judgement: dict[str, Any],
    min_samples: int,
    candidate: VariantSample,
    stable: VariantSample | None,
    data: st.DataObject,
) -> None:
    short = candidate.model_copy(update={"count": data.draw(st.integers(0, min_samples - 1))})
    result = judge(_spec(router, judgement, min_samples), MetricObservation(metric="m", candidate=short, stable=stable))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert f"of {min_samples} samples" in result.reason


@settings(max_examples=300, deadline=None)
@given(
    verdicts=st.lists(st.sampled_from(list(Verdict)), max_size=30),
    failure_limit=st.integers(0, 5),
    inconclusive_limit=st.none() | st.integers(0, 5),
    on_error=st.sampled_from(list(ProviderErrorPolicy)),
)
def test_policy_fails_only_once_failures_exceed_the_limit(
    verdicts: list[Verdict], failure_limit: int, inconclusive_limit: int | None, on_error: ProviderErrorPolicy
) -> None:
    policy = {"failureLimit": failure_limit, "inconclusiveLimit": inconclusive_limit, "onProviderError": on_error.value}
    spec = _spec("errorRate", {"max": 0.05}, 10, **policy)
    tally, failures = MetricTally(metric="m", scope="background"), 0
    for minute, verdict in enumerate(verdicts):
        tally, outcome = apply_result(
            spec, tally, AnalysisResult(verdict=verdict, reason="r"), T0 + timedelta(minutes=minute)
        )
        counts_as_failure = verdict is Verdict.FAILED or (
            verdict is Verdict.ERROR and on_error is ProviderErrorPolicy.FAIL
        )
        failures += counts_as_failure
        assert tally.failed == failures
        assert (outcome is TallyOutcome.FAILED) == (counts_as_failure and failures > failure_limit)
        if outcome is TallyOutcome.STALLED:
            assert verdict is Verdict.INCONCLUSIVE and inconclusive_limit is not None
            assert tally.consecutive_inconclusive > inconclusive_limit
