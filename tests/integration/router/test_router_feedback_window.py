"""The prediction log's bound through a real router: labels past it come back late (410), then unknown (404)."""

from __future__ import annotations

from typing import Any

import pytest
from router_harness import RouterFactory, send_many

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"


def test_labels_after_the_log_moved_on_are_late_then_unknown(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    # Capacity 10: generations of 5 requests. After 12, w10-w11 (current) and w5-w9 (previous) are
    # joinable, w0-w4 (retired before) are late.
    router = start_router({**base_config, "feedbackCapacity": 10})
    ids = [f"w{n}" for n in range(12)]
    send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 12, concurrency=1, headers=[{"x-request-id": i} for i in ids])

    late = router.feedback({"requestId": "w0", "label": 0.5})
    assert late.status_code == 410 and "w0" in late.json()["error"]
    assert router.feedback({"requestId": "w10", "label": 0.5}).status_code == 200
    batch = router.feedback([{"requestId": i, "label": 0.5} for i in ["w1", "w2", "w3", "w5", "w6", "w7", "w8", "w9"]])
    assert batch.json() == {"matched": 5, "late": 3, "unmatched": 0}
    stats = router.stats()
    assert (stats["feedbackLate"], stats["feedbackUnmatched"], stats["stable"]["labelled"]) == (4, 0, 6)

    # w11 and four more fill the current generation: it retires, and the one holding w4 is freed.
    send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 4, concurrency=1)
    assert router.feedback({"requestId": "w4", "label": 0.5}).status_code == 404
    assert router.stats()["feedbackUnmatched"] == 1
