"""A protocol setting that reads nothing is said on `/readyz` (still 200) and in `/metrics`, and clears."""

from __future__ import annotations

from typing import Any

import pytest
from router_harness import RouterFactory, send_many, wait_until
from test_router_metrics import samples

pytestmark = pytest.mark.integration

OIP_REQUEST = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP64", "data": [0.42]}]}
RATIO = "modelrollout_router_predictions_unreadable_ratio"


def test_kserve_v1_over_oip_answers_is_reported_then_clears(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    router = start_router({**base_config, "predictions": {"protocol": "kserve-v1"}})
    answers = send_many(router.url + "/v2/models/iris/infer", [OIP_REQUEST] * 30)
    assert {a.status for a in answers} == {200}
    # Answers are analysed just after they are sent: wait for the last of them.
    wait_until(lambda: router.stats()["stable"]["notAnalysed"] == 30, what="30 answers analysed")

    ready = router.client.get(f"{router.admin}/readyz")
    assert ready.status_code == 200 and ready.json()["ready"] is True  # it still routes
    detail = ready.json()["predictionsUnreadable"]
    assert "30 of 30 stable answers" in detail and "predictions.protocol: kserve-v1" in detail
    assert 'answers look like {"model_name": ..., "outputs": ...}' in detail
    assert "0.42" not in detail and "score" not in detail  # keys only, never a value
    stats = router.stats()
    assert stats["stable"]["notAnalysed"] == 30 and stats["stable"]["analysed"] == 0
    assert stats["unreadableSample"] == '{"model_name": ..., "outputs": ...}'
    assert samples(router.metrics())[(RATIO, (("variant", "stable"),))] == 1.0

    router.reconfigure({**base_config, "predictions": {"protocol": "oip-v2"}})
    send_many(router.url + "/v2/models/iris/infer", [OIP_REQUEST] * 30)
    wait_until(lambda: router.stats()["stable"]["analysed"] == 30, what="30 answers read")
    ready = router.client.get(f"{router.admin}/readyz")
    assert ready.status_code == 200 and "predictionsUnreadable" not in ready.json()
    assert router.stats()["unreadableSample"] is None
    assert samples(router.metrics())[(RATIO, (("variant", "stable"),))] == 0.0


def test_readable_answers_say_nothing(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    router = start_router({**base_config, "predictions": {"protocol": "auto"}})
    send_many(router.url + "/v2/models/iris/infer", [OIP_REQUEST] * 20)
    wait_until(lambda: router.stats()["stable"]["analysed"] == 20, what="20 answers read")
    assert "predictionsUnreadable" not in router.client.get(f"{router.admin}/readyz").json()
