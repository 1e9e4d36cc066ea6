"""Mirroring through the real router: never in the client's way, bounded, and compared exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from router_harness import DISAGREE_BELOW, Backend, RouterFactory, RouterProcess, free_port, p99, send_many, wait_until

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"


@pytest.fixture(scope="module")
def slow_candidate() -> Iterator[Backend]:
    backend = Backend.start("slow-candidate", "--delay-ms", "500")
    yield backend
    backend.stop()


def shadow_of(stats: dict[str, Any]) -> dict[str, Any]:
    return dict(stats["shadowComparison"])


def test_planted_disagreements_give_the_exact_agreement_rate(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    module_router.reconfigure({**base_config, "mirrorPercent": 100, "mirrorMaxInFlight": 10_000})
    before = module_router.stats()
    planted = [{"instances": [[DISAGREE_BELOW / 2]]}] * 37
    agreeing = [{"instances": [[0.3 + (n % 60) / 100]]} for n in range(263)]
    answers = send_many(module_router.url + PREDICT, planted + agreeing, concurrency=8)
    assert all(a.status == 200 and a.variant == "stable" for a in answers)
    wait_until(lambda: shadow_of(module_router.stats())["compared"] - shadow_of(before)["compared"] == 300, what="300 comparisons")
    after = module_router.stats()
    compared = shadow_of(after)["compared"] - shadow_of(before)["compared"]
    agreed = shadow_of(after)["agreed"] - shadow_of(before)["agreed"]
    assert (compared, agreed) == (300, 263)
    edges = shadow_of(after)["absDiff"]["edges"]
    gaps = [x - y for x, y in zip(shadow_of(after)["absDiff"]["counts"], shadow_of(before)["absDiff"]["counts"])]
    assert gaps[edges.index(1e-6)] == 263  # the 1e-9 offset: inside the tolerance
    assert gaps[edges.index(1.0)] == 37  # the planted 0.5 gaps
    assert after["shadow"]["requests"] - before["shadow"]["requests"] == 300


def test_a_slow_candidate_under_full_mirroring_leaves_the_primary_latency_alone(
    start_router: RouterFactory, stable_backend: Backend, slow_candidate: Backend
) -> None:
    upstreams = {"stable": stable_backend.url, "candidate": slow_candidate.url}
    mirror = {"upstreams": upstreams, "mirrorPercent": 100, "mirrorMaxInFlight": 10_000, "maxUpstreamConnectionsPerVariant": 10_000}
    router = start_router({**mirror, "generation": 1})
    bodies = [{"instances": [[0.5]]}] * 400
    send_many(router.url + PREDICT, bodies, concurrency=8)  # warm: connections to both variants open
    wait_until(lambda: router.stats()["shadow"]["requests"] == 400, timeout_s=30, what="warm-up shadow answers")
    alone: list[float] = []
    mirrored: list[float] = []
    for _ in range(2):  # interleaved, so drift on a shared machine hits both alike
        router.reconfigure({**mirror, "mirrorPercent": 0})
        alone += [a.latency_s for a in send_many(router.url + PREDICT, bodies, concurrency=8)]
        router.reconfigure(mirror)
        answers = send_many(router.url + PREDICT, bodies, concurrency=8)
        assert all(a.status == 200 and a.backend == "stable" for a in answers)
        mirrored += [a.latency_s for a in answers]
    assert max(mirrored) < 0.5  # no client ever waited for the 500 ms shadow
    assert p99(mirrored) < max(2 * p99(alone), p99(alone) + 0.02), (
        f"p99 {p99(mirrored) * 1000:.1f} ms mirrored vs {p99(alone) * 1000:.1f} ms"
    )
    wait_until(lambda: router.stats()["shadow"]["requests"] == 1200, timeout_s=30, what="1200 shadow answers")
    shadow = router.stats()["shadow"]
    slow_bucket = shadow["latencyS"]["edges"].index(1.0)  # (0.5 s, 1 s]
    assert shadow["latencyS"]["counts"][slow_bucket] == 1200
    assert shadow_of(router.stats())["dropped"] == 0


def test_shadow_calls_beyond_the_in_flight_cap_are_dropped_and_counted(
    start_router: RouterFactory, stable_backend: Backend, slow_candidate: Backend
) -> None:
    upstreams = {"stable": stable_backend.url, "candidate": slow_candidate.url}
    router = start_router({"generation": 1, "upstreams": upstreams, "mirrorPercent": 100, "mirrorMaxInFlight": 5})
    answers = send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 200, concurrency=8)
    assert all(a.status == 200 and a.backend == "stable" for a in answers)
    assert max(a.latency_s for a in answers) < 0.5
    shadow = shadow_of(router.stats())
    assert shadow["mirrored"] + shadow["dropped"] == 200
    assert shadow["dropped"] > 100 and 5 <= shadow["mirrored"] < 100


def test_a_candidate_that_is_down_shows_as_shadow_errors_only(start_router: RouterFactory, stable_backend: Backend) -> None:
    upstreams = {"stable": stable_backend.url, "candidate": f"http://127.0.0.1:{free_port()}"}
    router = start_router({"generation": 1, "upstreams": upstreams, "mirrorPercent": 100})
    answers = send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 50)
    assert all(a.status == 200 for a in answers)
    wait_until(lambda: router.stats()["shadow"]["errors"]["connect"] == 50, what="50 shadow connect errors")
    stats = router.stats()
    assert stats["stable"]["errors"] == {"status5xx": 0, "connect": 0, "timeout": 0, "protocol": 0}
    assert stats["shadowComparison"]["compared"] == 0


def test_a_shadow_answering_500_is_counted_once_as_an_error_not_as_unanalysed(start_router: RouterFactory, stable_backend: Backend) -> None:
    failing = Backend.start("failing-candidate", "--fail-status", "500")
    try:
        router = start_router(
            {"generation": 1, "upstreams": {"stable": stable_backend.url, "candidate": failing.url}, "mirrorPercent": 100}
        )
        answers = send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 40)
        assert all(a.status == 200 for a in answers)
        wait_until(lambda: router.stats()["shadow"]["requests"] == 40, what="40 shadow answers")
        shadow = router.stats()["shadow"]
        assert (shadow["errors"]["status5xx"], shadow["notAnalysed"]) == (40, 0)
    finally:
        failing.stop()


def test_open_inference_protocol_answers_are_compared_too(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    module_router.reconfigure({**base_config, "mirrorPercent": 100, "mirrorMaxInFlight": 10_000})
    before = shadow_of(module_router.stats())

    def infer(values: list[float]) -> dict[str, Any]:
        return {"inputs": [{"name": "x", "shape": [len(values)], "datatype": "FP64", "data": values}]}

    bodies = [infer([0.5, 0.6])] * 12 + [infer([0.5, DISAGREE_BELOW / 2])] * 8
    answers = send_many(module_router.url + "/v2/models/iris/infer", bodies)
    assert all(a.status == 200 for a in answers)
    wait_until(lambda: shadow_of(module_router.stats())["compared"] - before["compared"] == 20, what="20 comparisons")
    assert shadow_of(module_router.stats())["agreed"] - before["agreed"] == 12
