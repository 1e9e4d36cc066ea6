"""Hot config: changes under load lose no request; an invalid file is refused and counted."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from router_harness import Answer, RouterFactory, send_many, wait_until

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"


def test_weight_changes_and_reloads_under_load_lose_no_request(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    router = start_router(base_config)
    stable_url = base_config["upstreams"]["stable"]
    changes: list[dict[str, Any]] = [
        {**base_config, "weights": {"stable": 90, "candidate": 10}},
        {**base_config, "weights": {"stable": 50, "candidate": 50}, "mirrorPercent": 20},
        # the candidate's URL changes: its old pool is retired while calls on it are in flight
        {**base_config, "upstreams": {"stable": stable_url, "candidate": stable_url}, "weights": {"stable": 0, "candidate": 100}},
        {**base_config, "weights": {"stable": 0, "candidate": 100}, "sticky": {"header": "x-user"}},
        {**base_config, "weights": {"stable": 100, "candidate": 0}},
    ]
    answers: list[Answer] = []
    load = threading.Thread(target=lambda: answers.extend(send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 4000, concurrency=16)))
    before = router.stats()
    load.start()
    for config in changes:
        router.reconfigure(config)
    load.join(timeout=120)
    assert len(answers) == 4000
    assert Counter(a.status for a in answers) == Counter({200: 4000})
    assert {a.variant for a in answers} == {"stable", "candidate"}
    after = router.stats()
    served = sum(after[v]["requests"] - before[v]["requests"] for v in ("stable", "candidate"))
    errors = sum(sum(after[v]["errors"].values()) for v in ("stable", "candidate"))
    assert (served, errors, after["generation"]) == (4000, 0, 1 + len(changes))


def test_an_invalid_file_is_refused_and_the_last_good_config_stays(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    router = start_router({**base_config, "weights": {"stable": 0, "candidate": 100}})
    router.write_config('{"generation": 2, "upstreams": {"stable": "http://x"}, "weights": {"stable": 10, "candidate": 90}}')
    wait_until(lambda: router.stats()["configErrors"] == 1, what="a config error")
    router.write_config("generation: [unclosed")
    wait_until(lambda: router.stats()["configErrors"] == 2, what="a second config error")
    ready = router.client.get(f"{router.admin}/readyz").json()
    assert ready["ready"] is True and ready["generation"] == 1
    assert "neither JSON nor YAML" in ready["lastConfigError"]
    assert {a.backend for a in send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 20)} == {"candidate"}
    metrics = router.metrics()
    assert "modelrollout_router_config_errors_total 2.0" in metrics
    assert "modelrollout_router_config_generation 1.0" in metrics
    router.config_path.write_text(json.dumps({**base_config, "generation": 7}))  # not atomic: read once it settles
    wait_until(lambda: router.stats()["generation"] == 7, what="generation 7")
    assert router.stats()["configErrors"] == 2
    assert router.client.get(f"{router.admin}/readyz").json()["lastConfigError"] is None


def test_a_router_with_an_invalid_file_at_start_exits_naming_the_field(tmp_path: Path, base_config: dict[str, Any]) -> None:
    path = tmp_path / "router.json"
    path.write_text(json.dumps({**base_config, "weights": {"stable": 60, "candidate": 60}}))
    command = [
        sys.executable,
        "-m",
        "controller",
        "router",
        "--config",
        str(path),
        "--listen",
        "127.0.0.1:1",
        "--admin-listen",
        "127.0.0.1:2",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "weights: stable 60 + candidate 60 is 120; expected 100" in done.stderr


def test_the_cli_explains_its_arguments() -> None:
    done = subprocess.run([sys.executable, "-m", "router", "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    assert all(flag in done.stdout for flag in ("--config", "--configmap", "--listen", "--admin-listen"))
    bad = subprocess.run(
        [sys.executable, "-m", "router", "--configmap", "no-slash"], capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode == 2 and "NAMESPACE/NAME" in bad.stderr


def test_sigterm_stops_the_router_cleanly(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    router = start_router({**base_config, "mirrorPercent": 50})
    assert all(a.status == 200 for a in send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 50))
    assert router.process.stop() == 0
    output = router.process.output()
    assert "stopping" in output and "Traceback" not in output
