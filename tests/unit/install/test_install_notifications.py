"""The chart's notifications: targets become a config the controller reads and Secret keys mounted as files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

import pytest
import yaml
from chartkit import KUBE_VERSIONS, Docs, controller_container, find, one, schema_errors

from controller.notify.config import NotificationsConfig

__all__: list[str] = []

Render = Callable[[dict[str, Any]], Docs]

NOTIFICATIONS: dict[str, Any] = {
    "notifications": {
        "targets": [
            {"name": "team-slack", "format": "slack", "secretName": "slack-webhook"},
            {"name": "audit", "secretName": "audit-hook", "urlKey": "endpoint", "tokenKey": "bearer"},
        ],
        "everyRollout": [{"target": "team-slack", "events": ["rolledBack", "stalled"]}],
    }
}


def _volume(docs: Docs) -> dict[str, Any]:
    pod = one(docs, "Deployment", "modelrollout-controller")["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if v["name"] == "notifications"]
    return volume


def _mount(docs: Docs) -> PurePosixPath:
    [mount] = [m for m in controller_container(docs)["volumeMounts"] if m["name"] == "notifications"]
    assert mount["readOnly"] is True
    return PurePosixPath(mount["mountPath"])


def test_no_targets_render_no_config_no_flag_and_no_volume(render: Render) -> None:
    docs = render({})
    assert "--notifications-config" not in controller_container(docs)["args"]
    assert find(docs, "ConfigMap") == []
    assert all(m["name"] != "notifications" for m in controller_container(docs)["volumeMounts"])


def test_the_config_names_files_the_projected_volume_holds(render: Render) -> None:
    docs = render(NOTIFICATIONS)
    args = controller_container(docs)["args"]
    config_path = PurePosixPath(args[args.index("--notifications-config") + 1])
    mount = _mount(docs)
    sources = _volume(docs)["projected"]["sources"]
    files = {mount / item["path"]: (source["secret"]["name"], item["key"]) for source in sources if "secret" in source
             for item in source["secret"]["items"]}
    [config_map_source] = [s["configMap"] for s in sources if "configMap" in s]
    config_map = one(docs, "ConfigMap", config_map_source["name"])
    assert config_path.parent == mount and config_path.name in config_map["data"]

    config = NotificationsConfig.model_validate(yaml.safe_load(config_map["data"][config_path.name]))
    slack, audit = config.targets
    assert (slack.format.value, audit.format.value) == ("slack", "json")
    assert files[PurePosixPath(str(slack.url_file))] == ("slack-webhook", "url")
    assert files[PurePosixPath(str(audit.url_file))] == ("audit-hook", "endpoint")
    assert files[PurePosixPath(str(audit.token_file))] == ("audit-hook", "bearer")
    assert slack.token_file is None
    assert [(s.target, [e.value for e in s.events or []]) for s in config.every_rollout] == [("team-slack", ["rolledBack", "stalled"])]


def test_mounting_secrets_needs_no_secret_permission(render: Render) -> None:
    docs = render(NOTIFICATIONS)
    for role in find(docs, "ClusterRole") + find(docs, "Role"):
        for rule in role.get("rules", []):
            assert "secrets" not in rule.get("resources", []), role["metadata"]["name"]


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_the_render_with_targets_passes_the_kubernetes_schemas(render: Render, kube_version: str) -> None:
    errors = [error for doc in render(NOTIFICATIONS) if doc["kind"] not in {"ServiceMonitor", "PodMonitor"}
              for error in schema_errors(doc, kube_version)]
    assert errors == []
