"""The chart's providerSecrets: each Secret mounted where the controller looks for `<secret>/<key>`, with no Secret permission."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

import pytest
from chartkit import KUBE_VERSIONS, Docs, controller_container, find, one, schema_errors

from controller.cli import operator

__all__: list[str] = []

Render = Callable[[dict[str, Any]], Docs]
VALUES = {"providerSecrets": ["prom-basic", "prom-ca"]}


def test_each_secret_is_mounted_under_the_directory_the_controller_is_given(render: Render) -> None:
    docs = render(VALUES)
    container = controller_container(docs)
    parser = argparse.ArgumentParser(exit_on_error=False)
    operator.add_arguments(parser)
    directory = operator.config_from(parser.parse_args(container["args"][1:])).provider_secrets_dir
    assert directory is not None
    pod = one(docs, "Deployment", "modelrollout-controller")["spec"]["template"]["spec"]
    secrets = {v["name"]: v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    mounted = {secrets[m["name"]]: PurePosixPath(m["mountPath"]) for m in container["volumeMounts"] if m["name"] in secrets}
    assert mounted == {name: PurePosixPath(str(directory)) / name for name in VALUES["providerSecrets"]}
    assert all(m["readOnly"] for m in container["volumeMounts"] if m["name"] in secrets)


def test_none_listed_mounts_nothing_and_passes_no_directory(render: Render) -> None:
    assert "--provider-secrets-dir" not in controller_container(render({}))["args"]


def test_mounting_them_needs_no_secret_permission(render: Render) -> None:
    docs = render(VALUES)
    for role in find(docs, "ClusterRole") + find(docs, "Role"):
        for rule in role.get("rules", []):
            assert "secrets" not in rule.get("resources", []), role["metadata"]["name"]


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_the_render_passes_the_kubernetes_schemas(render: Render, kube_version: str) -> None:
    errors = [error for doc in render(VALUES) if doc["kind"] not in {"ServiceMonitor", "PodMonitor"}
              for error in schema_errors(doc, kube_version)]
    assert errors == []
