"""Weighted split through the real router: exact shares, variant headers, request ids, counts."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from router_harness import RouterProcess, send_many

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"


def test_a_90_10_split_holds_over_thousands_of_requests(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    module_router.reconfigure({**base_config, "weights": {"stable": 90, "candidate": 10}})
    before = module_router.stats()
    answers = send_many(module_router.url + PREDICT, [{"instances": [[0.5]]}] * 4000)
    assert all(a.status == 200 for a in answers)
    served = Counter(a.variant for a in answers)
    # Unkeyed requests walk every bucket once per 10,000: the share is exact to within a few.
    assert abs(served["candidate"] - 400) <= 15
    assert served["stable"] + served["candidate"] == 4000
    assert all(a.variant == a.backend for a in answers)
    assert len({a.request_id for a in answers}) == 4000
    after = module_router.stats()
    assert after["candidate"]["requests"] - before["candidate"]["requests"] == served["candidate"]
    assert after["stable"]["requests"] - before["stable"]["requests"] == served["stable"]


@pytest.mark.parametrize(("stable", "candidate"), [(100, 0), (0, 100)])
def test_all_or_nothing_weights_are_exact(module_router: RouterProcess, base_config: dict[str, Any], stable: int, candidate: int) -> None:
    module_router.reconfigure({**base_config, "weights": {"stable": stable, "candidate": candidate}})
    answers = send_many(module_router.url + PREDICT, [{"instances": [[0.5]]}] * 300)
    served = Counter(a.variant for a in answers)
    assert (served["stable"], served["candidate"]) == (3 * stable, 3 * candidate)


def test_the_client_request_id_is_kept_and_forwarded(module_router: RouterProcess, base_config: dict[str, Any]) -> None:
    module_router.reconfigure(base_config)
    answer = module_router.client.get(module_router.url + "/echo?q=1", headers={"x-request-id": "trace-42", "x-custom": "kept"})
    assert answer.headers["x-request-id"] == "trace-42"
    assert answer.headers["x-model-variant"] == "stable"
    echoed = answer.json()
    sent = dict(echoed["headers"])
    assert sent["x-request-id"] == "trace-42" and sent["x-custom"] == "kept"
    assert (echoed["method"], echoed["path"], echoed["query"]) == ("GET", "/echo", "q=1")
