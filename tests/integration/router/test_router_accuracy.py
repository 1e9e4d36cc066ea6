"""Accuracy from delayed labels: `/feedback` joined by request id to what each variant predicted."""

from __future__ import annotations

from typing import Any

import pytest
from router_harness import DISAGREE_BELOW, RouterProcess, send_many, wait_until

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"


def predicted(variant: str, x: float) -> float:
    """What the test backends answer (see router_harness): the candidate is off by 0.5 below 0.2."""
    if variant == "stable":
        return x
    return x + 1e-9 + (0.5 if x < DISAGREE_BELOW else 0.0)


def accuracy_counts(stats: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {v: (stats[v]["labelled"], stats[v]["correct"]) for v in ("stable", "candidate", "shadow")}


def test_feedback_gives_the_exact_accuracy_per_variant(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    module_router.reconfigure({**base_config, "weights": {"stable": 50, "candidate": 50}})
    xs = [round(0.05 + (n % 19) / 20, 3) for n in range(240)]
    ids = [f"req-{n}" for n in range(240)]
    answers = send_many(module_router.url + PREDICT, [{"instances": [[x]]} for x in xs], headers=[{"x-request-id": i} for i in ids])
    assert [a.request_id for a in answers] == ids
    # The truth is the stable's answer for even requests and 0.3 off for odd ones.
    labels = [x if n % 2 == 0 else x + 0.3 for n, x in enumerate(xs)]
    expected = {"stable": [0, 0], "candidate": [0, 0]}
    for answer, x, label in zip(answers, xs, labels):
        expected[answer.variant][0] += 1
        expected[answer.variant][1] += abs(predicted(answer.variant, x) - label) <= 1e-6
    before = accuracy_counts(module_router.stats())
    singles = [module_router.feedback({"requestId": i, "label": [y]}) for i, y in zip(ids[:40], labels[:40])]
    assert all(r.status_code == 200 and r.json() == {"matched": 1, "late": 0, "unmatched": 0} for r in singles)
    batch = module_router.feedback(
        [{"requestId": i, "label": y} for i, y in zip(ids[40:], labels[40:])] + [{"requestId": "nope", "label": 1}]
    )
    assert batch.status_code == 200 and batch.json() == {"matched": 200, "late": 0, "unmatched": 1}
    after = accuracy_counts(module_router.stats())
    for variant in ("stable", "candidate"):
        labelled = after[variant][0] - before[variant][0]
        correct = after[variant][1] - before[variant][1]
        assert (labelled, correct) == tuple(expected[variant])
    assert expected["stable"][0] > 60 and expected["candidate"][0] > 60


def test_unknown_and_repeated_ids_are_404_and_counted_unmatched(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    module_router.reconfigure(base_config)
    answer = module_router.client.post(module_router.url + PREDICT, json={"instances": [[0.5]]}, headers={"x-request-id": "once"})
    assert answer.status_code == 200
    before = module_router.stats()["feedbackUnmatched"]
    assert module_router.feedback({"requestId": "once", "label": 0.5}).status_code == 200
    again = module_router.feedback({"requestId": "once", "label": 0.5})
    unknown = module_router.feedback({"requestId": "never-seen", "label": 1})
    assert again.status_code == 404 and unknown.status_code == 404
    assert unknown.json()["requestId"] == "never-seen" and "never-seen" in unknown.json()["error"]
    assert module_router.stats()["feedbackUnmatched"] - before == 2


def test_mirrored_requests_judge_the_shadow_too(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    module_router.reconfigure({**base_config, "mirrorPercent": 100, "mirrorMaxInFlight": 10_000})
    xs = [0.1] * 10 + [0.6] * 30
    ids = [f"shadowed-{n}" for n in range(40)]
    before = module_router.stats()
    send_many(module_router.url + PREDICT, [{"instances": [[x]]} for x in xs], headers=[{"x-request-id": i} for i in ids])
    wait_until(
        lambda: module_router.stats()["shadowComparison"]["compared"] - before["shadowComparison"]["compared"] == 40, what="40 comparisons"
    )
    reply = module_router.feedback([{"requestId": i, "label": x} for i, x in zip(ids, xs)])
    assert reply.json() == {"matched": 40, "late": 0, "unmatched": 0}
    after = accuracy_counts(module_router.stats())
    old = accuracy_counts(before)
    assert (after["stable"][0] - old["stable"][0], after["stable"][1] - old["stable"][1]) == (40, 40)
    assert (after["shadow"][0] - old["shadow"][0], after["shadow"][1] - old["shadow"][1]) == (40, 30)


@pytest.mark.parametrize(
    ("body", "words"),
    [(b"not json", "not JSON"), (b'{"label": 1}', "requestId"), (b'[{"requestId": "", "label": 1}]', "[0].requestId"), (b"42", "list")],
)
def test_malformed_feedback_is_400_naming_the_field(module_router: RouterProcess, body: bytes, words: str) -> None:
    reply = module_router.client.post(f"{module_router.admin}/feedback", content=body)
    assert reply.status_code == 400
    assert words in reply.json()["error"]
