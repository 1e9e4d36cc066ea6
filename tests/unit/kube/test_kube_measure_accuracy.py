"""Accuracy from delayed labels: the live candidate's verdicts, or its shadow's while it takes no traffic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.api.metrics import MetricSpec
from controller.providers.router_stats import observe_router_metric
from router.stats import RouterStats, VariantStats

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ACCURACY = MetricSpec.model_validate({"name": "accuracy", "router": {"metric": "accuracy"}, "compare": {"worseIf": "lower"}})


def _observed(stats: RouterStats) -> tuple[tuple[int, int | None], tuple[int, int | None]]:
    observation = observe_router_metric(ACCURACY, stats, T0, T0 + timedelta(minutes=1))
    assert observation.candidate is not None and observation.stable is not None
    return (observation.candidate.count, observation.candidate.successes), (observation.stable.count, observation.stable.successes)


def test_during_a_shadow_the_candidate_is_judged_by_its_shadow_answers() -> None:
    stats = RouterStats(
        instance_id="a", started_at=T0, generation=1,
        stable=VariantStats(labelled=200, correct=180), shadow=VariantStats(labelled=150, correct=120),
    )  # fmt: skip
    assert _observed(stats) == ((150, 120), (200, 180))


def test_once_the_candidate_serves_its_live_answers_are_judged() -> None:
    stats = RouterStats(
        instance_id="a", started_at=T0, generation=1, stable=VariantStats(labelled=200, correct=180),
        candidate=VariantStats(labelled=40, correct=39), shadow=VariantStats(labelled=150, correct=120),
    )  # fmt: skip
    assert _observed(stats) == ((40, 39), (200, 180))
