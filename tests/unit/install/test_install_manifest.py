"""install.yaml: generated from the chart's default render and the CRD, and valid for every supported Kubernetes."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
import yaml
from chartkit import KUBE_VERSIONS, REPO_ROOT, Docs, schema_errors

__all__: list[str] = []

CRD_PATH = REPO_ROOT / "manifests" / "crd" / "modelrollouts.yaml"
CHART_CRD_PATH = REPO_ROOT / "charts" / "modelrollout" / "crds" / "modelrollouts.yaml"
INSTALL_PATH = REPO_ROOT / "manifests" / "install.yaml"
NAMESPACE = "modelrollout-system"


def test_install_yaml_is_what_the_generator_writes(generator: ModuleType) -> None:
    expected = generator.install_yaml(CRD_PATH.read_text(encoding="utf-8"), generator.render_chart())
    assert INSTALL_PATH.read_text(encoding="utf-8") == expected, "install.yaml is stale: run `make install-yaml`"


def test_the_chart_carries_the_generated_crd_byte_for_byte() -> None:
    assert CHART_CRD_PATH.read_bytes() == CRD_PATH.read_bytes(), (
        "charts/modelrollout/crds is stale: run `make install-yaml`"
    )


def test_install_yaml_embeds_exactly_the_generated_crd(install_docs: Docs) -> None:
    crds = [doc for doc in install_docs if doc["kind"] == "CustomResourceDefinition"]
    assert crds == [yaml.safe_load(CRD_PATH.read_text(encoding="utf-8"))]


def test_install_yaml_is_the_default_render_after_namespace_and_crd(
    install_docs: Docs, render: Callable[[dict[str, Any]], Docs]
) -> None:
    assert [doc["kind"] for doc in install_docs[:2]] == ["Namespace", "CustomResourceDefinition"]
    assert install_docs[0]["metadata"]["name"] == NAMESPACE
    assert install_docs[2:] == render({})


def test_every_namespaced_object_lands_in_the_namespace_it_creates(install_docs: Docs) -> None:
    cluster_scoped = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration"}
    namespaces = {doc["metadata"].get("namespace") for doc in install_docs if doc["kind"] not in cluster_scoped}
    assert namespaces == {NAMESPACE}
    assert all("namespace" not in doc["metadata"] for doc in install_docs if doc["kind"] in cluster_scoped)


def test_no_object_is_declared_twice(install_docs: Docs) -> None:
    keys = [(doc["kind"], doc["metadata"].get("namespace"), doc["metadata"]["name"]) for doc in install_docs]
    assert len(keys) == len(set(keys))


def test_install_yaml_has_what_the_operator_needs(install_docs: Docs) -> None:
    kinds = sorted(doc["kind"] for doc in install_docs)
    assert kinds == sorted(
        [
            "Namespace",
            "CustomResourceDefinition",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment",
            "PodDisruptionBudget",
            # The sidecar injector: its configuration, its Service, and its own ClusterRole and binding.
            "MutatingWebhookConfiguration",
            "Service",
            "ClusterRole",
            "ClusterRoleBinding",
        ]
    )


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_install_yaml_passes_the_kubernetes_schemas(install_docs: Docs, kube_version: str) -> None:
    assert [error for doc in install_docs for error in schema_errors(doc, kube_version)] == []


def test_the_schema_check_catches_a_broken_object(install_docs: Docs) -> None:
    deployment = next(doc for doc in install_docs if doc["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "two"
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    assert schema_errors(broken, KUBE_VERSIONS[-1])
