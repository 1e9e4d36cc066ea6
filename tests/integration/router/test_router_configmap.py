"""ConfigMap mode: the router lists and watches its ConfigMap through the Kubernetes API stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from router_harness import RouterFactory, RouterProcess, send_many, wait_until

from tests.fakekube import FakeKube
from tests.fakekube.errors import NotFound
from tests.fakekube.server import SeenRequest

pytestmark = pytest.mark.integration

PREDICT = "/v1/models/m:predict"
NAMESPACE, NAME = "models", "iris-router"
CONFIGMAPS = f"/api/v1/namespaces/{NAMESPACE}/configmaps"


class ConfigMapApi:
    """The stand-in holding the router's ConfigMap, and what the router asked of it."""

    def __init__(self, data: dict[str, str] | None) -> None:
        self.kube = FakeKube(namespaces=(NAMESPACE,)).start()
        if data is not None:
            self.set_data(data)

    def set_data(self, data: dict[str, str]) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": NAME, "namespace": NAMESPACE}, "data": data}
        try:
            live = self.kube.store.get("configmaps", NAMESPACE, NAME)
        except NotFound:  # the first version
            self.kube.store.create("configmaps", NAMESPACE, body)
            return
        self.kube.store.replace("configmaps", NAMESPACE, NAME, {**live, "data": data})

    def requests(self, *, watch: bool) -> list[SeenRequest]:
        return [r for r in self.kube.requests if r.path == CONFIGMAPS and r.watch is watch]

    def args(self) -> list[str]:
        return ["--configmap", f"{NAMESPACE}/{NAME}", "--kubeconfig", str(self.kube.kubeconfig_path)]

    def stop(self) -> None:
        self.kube.stop()


@pytest.fixture
def kube(base_config: dict[str, Any]) -> Iterator[ConfigMapApi]:
    api = ConfigMapApi({"router.json": json.dumps(base_config)})
    yield api
    api.stop()


@pytest.fixture
def router(kube: ConfigMapApi, start_router: RouterFactory) -> RouterProcess:
    return start_router(None, args=kube.args())


def generation(router: RouterProcess) -> int | None:
    return router.stats()["generation"]


def test_the_listed_config_is_in_force(router: RouterProcess, kube: ConfigMapApi) -> None:
    assert generation(router) == 1
    answers = send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 20)
    assert {a.backend for a in answers} == {"stable"}
    (listed,) = kube.requests(watch=False)
    assert listed.query["fieldSelector"] == f"metadata.name={NAME}"  # its own ConfigMap, by name


def test_a_watched_change_is_applied_without_listing_again(
    kube: ConfigMapApi, start_router: RouterFactory, base_config: dict[str, Any]
) -> None:
    listed_version = kube.kube.store.resource_version  # nothing is written between here and the router's list
    router = start_router(None, args=kube.args())
    wait_until(lambda: kube.requests(watch=True), what="a watch")
    kube.set_data({"router.json": json.dumps({**base_config, "generation": 2, "weights": {"stable": 0, "candidate": 100}})})
    wait_until(lambda: generation(router) == 2, what="generation 2")
    assert {a.backend for a in send_many(router.url + PREDICT, [{"instances": [[0.5]]}] * 20)} == {"candidate"}
    assert kube.requests(watch=True)[0].query["resourceVersion"] == listed_version
    assert len(kube.requests(watch=False)) == 1


def test_an_invalid_config_is_counted_and_the_last_good_one_kept(
    router: RouterProcess, kube: ConfigMapApi, base_config: dict[str, Any]
) -> None:
    wait_until(lambda: kube.requests(watch=True), what="a watch")
    kube.set_data({"router.json": json.dumps({**base_config, "generation": 2, "mirrorPercent": 250})})
    wait_until(lambda: router.stats()["configErrors"] == 1, what="a config error")
    assert generation(router) == 1
    assert "mirrorPercent" in router.client.get(f"{router.admin}/readyz").json()["lastConfigError"]
    kube.set_data({"other-key": "x"})
    wait_until(lambda: router.stats()["configErrors"] == 2, what="a second config error")
    assert "modelrollout_router_config_errors_total 2.0" in router.metrics()
    kube.set_data({"router.yaml": yaml.safe_dump({**base_config, "generation": 3})})
    wait_until(lambda: generation(router) == 3, what="generation 3 from YAML")


def test_an_expired_watch_lists_again_and_catches_up(router: RouterProcess, kube: ConfigMapApi, base_config: dict[str, Any]) -> None:
    wait_until(lambda: kube.kube.store.watcher_count() == 1, what="the router's watch")
    # A write the router's watch does not select moves the version on; then the API server
    # drops the history and tells the open watch 410 Expired: only a new list catches up.
    kube.kube.store.create("configmaps", NAMESPACE, {"metadata": {"name": "unrelated"}, "data": {}})
    kube.kube.store.expire_watches()
    kube.set_data({"router.json": json.dumps({**base_config, "generation": 5, "weights": {"stable": 50, "candidate": 50}})})
    wait_until(lambda: generation(router) == 5, what="generation 5 after a re-list")
    assert len(kube.requests(watch=False)) >= 2


def test_without_a_config_the_router_is_not_ready_and_answers_503(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    empty = ConfigMapApi(None)
    try:
        router = start_router(None, args=empty.args(), ready=False)
        assert router.client.get(f"{router.admin}/readyz").status_code == 503
        waiting = router.client.post(router.url + PREDICT, json={"instances": [[0.5]]})
        assert waiting.status_code == 503 and "no valid config" in waiting.json()["error"]
        assert waiting.headers["x-request-id"]
        empty.set_data({"router.json": json.dumps(base_config)})
        wait_until(router.ready, what="ready once the ConfigMap appears")
        assert router.client.post(router.url + PREDICT, json={"instances": [[0.5]]}).status_code == 200
    finally:
        empty.stop()


def test_api_errors_are_retried_with_backoff(start_router: RouterFactory, base_config: dict[str, Any]) -> None:
    flaky = ConfigMapApi({"router.json": json.dumps(base_config)})
    flaky.kube.faults.fail(CONFIGMAPS, status=500, count=2)  # an API server having a bad moment
    try:
        router = start_router(None, args=flaky.args())
        assert generation(router) == 1
        assert len(flaky.requests(watch=False)) == 3
        assert "retrying in 0.5s" in router.process.output() and "retrying in 1.0s" in router.process.output()
    finally:
        flaky.stop()


def test_unusable_credentials_stop_the_router_at_start(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "router", "--configmap", "models/iris-router", "--kubeconfig", str(tmp_path / "missing")]
    done = subprocess.run(
        [*command, "--listen", "127.0.0.1:1", "--admin-listen", "127.0.0.1:2"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "ConfigMap models/iris-router: cannot load Kubernetes credentials" in done.stderr
