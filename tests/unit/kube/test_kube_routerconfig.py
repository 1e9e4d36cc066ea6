"""The router config in a cluster: each revision's Service as its upstream, and the ConfigMap that carries the config."""

from __future__ import annotations

from collections.abc import Callable

from controller.api.resource import ModelRollout
from controller.api.status import TrafficSplit
from controller.engine.actions import SetTraffic
from controller.kube.objects import router_configmap
from controller.kube.routerconfig import config_of, generation_of, service_upstream
from controller.routing.config import build_config

RolloutFactory = Callable[..., ModelRollout]


def _urls(rollout: ModelRollout, revision: str) -> str:
    return f"http://127.0.0.1:1/{revision}"


def test_in_a_cluster_a_revision_is_reached_through_its_service(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout(service={"ports": [{"port": 8000, "targetPort": 9000}]})
    assert service_upstream(rollout, "abc") == "http://fraud-abc.ml.svc:8000"


def test_the_configmap_round_trips_and_broken_content_reads_as_none(make_rollout: RolloutFactory) -> None:
    rollout = make_rollout()
    config = build_config(rollout, SetTraffic(stable_revision="s1", candidate_revision=None, split=TrafficSplit()), 4, _urls)
    configmap = router_configmap(rollout, config.model_dump_json(by_alias=True))
    assert config_of(configmap) == config
    assert generation_of(configmap) == 4
    broken = router_configmap(rollout, '{"generation": 9, "upstreams": {}}')
    assert config_of(broken) is None
    assert generation_of(broken) == 9
    assert config_of(None) is None and generation_of(None) == 0
