"""The bench's reference judges every value as read: a bound crossed by chance fails there, not here."""

from __future__ import annotations

from bench.decision_cases import as_read, load_example, reference_spec
from controller.analysis.judge import judge
from controller.analysis.observations import BinCounts, MetricObservation, VariantSample
from controller.api.metrics import MetricSpec
from controller.api.status import Verdict

EDGES = [0.0, 0.25, 0.5, 0.75, 1.0]


def _histogram(counts: list[int]) -> VariantSample:
    return VariantSample(count=sum(counts), histogram=BinCounts(edges=EDGES, counts=counts))


def test_a_psi_past_its_max_on_few_predictions_fails_as_read() -> None:
    metric = MetricSpec.model_validate({"name": "drift", "router": {"metric": "predictionDrift"}, "max": 0.25, "minSamples": 20})
    # PSI about 0.6 on 20 predictions a side: past the max, but not beyond chance for the judge.
    observation = MetricObservation(metric="drift", candidate=_histogram([2, 4, 6, 8]), stable=_histogram([8, 6, 4, 2]))
    assert judge(metric, observation).verdict is Verdict.INCONCLUSIVE
    read = as_read(metric, observation)
    assert judge(metric, read).verdict is Verdict.FAILED
    assert read.candidate is not None and read.candidate.count == 20  # what minSamples checks is untouched


def test_a_counted_rate_past_its_bound_fails_as_read() -> None:
    metric = MetricSpec.model_validate({"name": "errors", "router": {"metric": "errorRate"}, "max": 0.01})
    observation = MetricObservation(metric="errors", candidate=VariantSample(count=100, successes=2, value=0.02))
    assert judge(metric, observation).verdict is Verdict.INCONCLUSIVE
    assert judge(metric, as_read(metric, observation)).verdict is Verdict.FAILED


def test_the_reference_turns_each_comparison_into_a_fixed_bound() -> None:
    steps = reference_spec(load_example("canary.yaml"))["spec"]["strategy"]["canary"]["steps"]
    metrics = [metric for step in steps if "analysis" in step for metric in step["analysis"]["metrics"]]
    assert not any("compare" in metric for metric in metrics)
    latency = next(metric for metric in metrics if metric["name"] == "latency")
    assert latency["router"] == {"metric": "latencyP99"} and latency["max"] == 0.5
