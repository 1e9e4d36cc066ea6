"""ConfigMap mode: the router lists and watches its ConfigMap through a fake Kubernetes API."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import RouterFactory
from fake_kube_api import FakeKubeApi
from router_harness import RouterProcess, send_many, wait_until

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"


@pytest.fixture
def kube(base_config: dict[str, Any]) -> Iterator[FakeKubeApi]:
    api = FakeKubeApi("models", "iris-router", {"router.json": json.dumps(base_config)}).start()
    yield api
    api.stop()


@pytest.fixture
def router(kube: FakeKubeApi, start_router: RouterFactory, tmp_path: Path) -> RouterProcess:
    args = ["--configmap", "models/iris-router", "--kubeconfig", str(kube.kubeconfig(tmp_path))]
    return start_router(None, args=args)


def generation(router: RouterProcess) -> int | None:
    return router.stats()["generation"]


def test_the_listed_config_is_in_force(router: RouterProcess, kube: FakeKubeApi) -> None:
    assert generation(router) == 1
    answers = send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 20)
    assert {a.backend for a in answers} == {"stable"}
    listed = kube.requests[0]
    assert listed["fieldSelector"] == "metadata.name=iris-router" and "watch" not in listed


def test_a_watched_change_is_applied_without_listing_again(router: RouterProcess, kube: FakeKubeApi, base_config: dict[str, Any]) -> None:
    wait_until(lambda: any(r.get("watch") for r in kube.requests), what="a watch")
    kube.set_data({"router.json": json.dumps({**base_config, "generation": 2, "weights": {"stable": 0, "candidate": 100}})})
    wait_until(lambda: generation(router) == 2, what="generation 2")
    assert {a.backend for a in send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 20)} == {"candidate"}
    watches = [r for r in kube.requests if r.get("watch")]
    assert watches[0]["resourceVersion"] == "100"
    assert sum(1 for r in kube.requests if not r.get("watch")) == 1


def test_an_invalid_config_is_counted_and_the_last_good_one_kept(router: RouterProcess, kube: FakeKubeApi, base_config: dict[str, Any]) -> None:
    wait_until(lambda: any(r.get("watch") for r in kube.requests), what="a watch")
    kube.set_data({"router.json": json.dumps({**base_config, "generation": 2, "mirrorPercent": 250})})
    wait_until(lambda: router.stats()["configErrors"] == 1, what="a config error")
    assert generation(router) == 1
    assert "mirrorPercent" in router.client.get(f"{router.admin}/readyz").json()["lastConfigError"]
    kube.set_data({"other-key": "x"})
    wait_until(lambda: router.stats()["configErrors"] == 2, what="a second config error")
    assert "modelrollout_router_config_errors_total 2.0" in router.metrics()
    kube.set_data({"router.yaml": yaml.safe_dump({**base_config, "generation": 3})})
    wait_until(lambda: generation(router) == 3, what="generation 3 from YAML")


def test_an_expired_watch_lists_again_and_catches_up(router: RouterProcess, kube: FakeKubeApi, base_config: dict[str, Any]) -> None:
    wait_until(lambda: any(r.get("watch") for r in kube.requests), what="a watch")
    kube.expire()
    kube.set_data({"router.json": json.dumps({**base_config, "generation": 5, "weights": {"stable": 50, "candidate": 50}})})
    wait_until(lambda: generation(router) == 5, what="generation 5 after a re-list")
    assert sum(1 for r in kube.requests if not r.get("watch")) >= 2


def test_without_a_config_the_router_is_not_ready_and_answers_503(start_router: RouterFactory, tmp_path: Path, base_config: dict[str, Any]) -> None:
    empty = FakeKubeApi("models", "iris-router", None).start()
    try:
        args = ["--configmap", "models/iris-router", "--kubeconfig", str(empty.kubeconfig(tmp_path))]
        router = start_router(None, args=args, ready=False)
        assert router.client.get(f"{router.admin}/readyz").status_code == 503
        waiting = router.client.post(router.url + PREDICT, json={"instances": [[0.5]]})
        assert waiting.status_code == 503 and "no valid config" in waiting.json()["error"]
        assert waiting.headers["x-request-id"]
        empty.set_data({"router.json": json.dumps(base_config)})
        wait_until(router.ready, what="ready once the ConfigMap appears")
        assert router.client.post(router.url + PREDICT, json={"instances": [[0.5]]}).status_code == 200
    finally:
        empty.stop()


def test_api_errors_are_retried_with_backoff(start_router: RouterFactory, tmp_path: Path, base_config: dict[str, Any]) -> None:
    flaky = FakeKubeApi("models", "iris-router", {"router.json": json.dumps(base_config)}, failing_calls=2).start()
    try:
        args = ["--configmap", "models/iris-router", "--kubeconfig", str(flaky.kubeconfig(tmp_path))]
        router = start_router(None, args=args)
        assert generation(router) == 1
        assert len([r for r in flaky.requests if not r.get("watch")]) == 3
        assert "retrying in 0.5s" in router.process.output() and "retrying in 1.0s" in router.process.output()
    finally:
        flaky.stop()


def test_unusable_credentials_stop_the_router_at_start(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "router", "--configmap", "models/iris-router", "--kubeconfig", str(tmp_path / "missing")]
    done = subprocess.run([*command, "--listen", "127.0.0.1:1", "--admin-listen", "127.0.0.1:2"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "ConfigMap models/iris-router: cannot load Kubernetes credentials" in done.stderr
