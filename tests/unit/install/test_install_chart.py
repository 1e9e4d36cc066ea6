"""The Helm chart: each value does what values.yaml says, bad values are refused, every render is valid."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import helm_python
import pytest
import yaml
from chartkit import (
    ALL_FEATURES,
    KUBE_VERSIONS,
    REPO_ROOT,
    VALUE_SETS,
    Docs,
    controller_container,
    find,
    one,
    schema_errors,
)

from controller.cli import COMMANDS, operator
from controller.kube.objects import ADMIN_PORT_NAME, LABEL_ROUTER

__all__: list[str] = []

Render = Callable[[dict[str, Any]], Docs]
CHART_DIR = REPO_ROOT / "charts" / "modelrollout"
# Prometheus Operator kinds: kubernetes-validate has no schema for them; checked by shape below.
OPERATOR_KINDS = {"ServiceMonitor", "PodMonitor"}


def args_of(docs: Docs) -> list[str]:
    return controller_container(docs)["args"]


def flag_values(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


def test_defaults_run_two_leader_elected_replicas_of_the_app_version(render: Render) -> None:
    docs = render({})
    app_version = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text(encoding="utf-8"))["appVersion"]
    assert one(docs, "Deployment")["spec"]["replicas"] == 2
    assert controller_container(docs)["image"] == f"ghcr.io/modelrollout/modelrollout:{app_version}"
    args = args_of(docs)
    assert args[0] in COMMANDS and args[0] == "controller"
    assert "--leader-elect" in args and flag_values(args, "--log-level") == ["info"]
    assert flag_values(args, "--metrics-listen") == ["0.0.0.0:8080"] and "--namespace" not in args
    assert one(docs, "PodDisruptionBudget")["spec"]["minAvailable"] == 1


@pytest.mark.parametrize("values", [{}, ALL_FEATURES, {"replicas": 1, "leaderElection": {"enabled": False}}])
def test_the_controller_command_accepts_every_argument_the_chart_passes(render: Render, values: dict[str, Any]) -> None:
    args = args_of(render(values))
    parser = argparse.ArgumentParser(prog="modelrollout controller", exit_on_error=False)
    operator.add_arguments(parser)
    parsed = parser.parse_args(args[1:])
    config = operator.config_from(parsed)
    assert list(config.namespaces) == values.get("watchNamespaces", [])
    assert (config.leader_election is not None) == values.get("leaderElection", {}).get("enabled", True)
    assert config.metrics_listen == ("0.0.0.0", 8080)


def test_image_replicas_resources_and_log_level_come_from_values(render: Render) -> None:
    resources = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    docs = render(
        {
            "image": {"repository": "registry.example/mr", "tag": "9.9.9", "pullPolicy": "Always"},
            "replicas": 3,
            "resources": resources,
            "logLevel": "debug",
        }
    )
    container = controller_container(docs)
    assert container["image"] == "registry.example/mr:9.9.9" and container["imagePullPolicy"] == "Always"
    assert container["resources"] == resources and flag_values(container["args"], "--log-level") == ["debug"]
    assert one(docs, "Deployment")["spec"]["replicas"] == 3


def test_metrics_port_moves_the_listener_the_container_port_and_the_service(render: Render) -> None:
    docs = render({"metrics": {"port": 9100}})
    assert flag_values(args_of(docs), "--metrics-listen") == ["0.0.0.0:9100"]
    metrics = [port for port in controller_container(docs)["ports"] if port["name"] == "metrics"]
    assert metrics == [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]
    assert one(docs, "Service", "modelrollout-controller-metrics")["spec"]["ports"][0]["port"] == 9100


def test_one_replica_without_leader_election_has_no_lease_access(render: Render) -> None:
    docs = render({"replicas": 1, "leaderElection": {"enabled": False}})
    assert "--leader-elect" not in args_of(docs)
    assert find(docs, "Role") == [] and find(docs, "PodDisruptionBudget") == []


def test_two_replicas_without_leader_election_are_refused() -> None:
    with (
        helm_python.Chart.load(str(CHART_DIR)) as chart,
        pytest.raises(helm_python.HelmRenderError, match="leaderElection.enabled"),
    ):
        chart.render({"replicas": 2, "leaderElection": {"enabled": False}}, name="modelrollout", namespace="mr")


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"logLevel": "verbose"}, "/logLevel"),
        ({"replicas": 0}, "/replicas"),
        ({"watchNamespaces": ["Not_A_Namespace"]}, "/watchNamespaces/0"),
        ({"replica": 2}, "replica"),
        ({"serviceMonitor": {"interval": "soon"}}, "/serviceMonitor/interval"),
    ],
)
def test_values_outside_the_schema_are_refused_naming_the_field(values: dict[str, Any], complaint: str) -> None:
    with helm_python.Chart.load(str(CHART_DIR)) as chart, pytest.raises(helm_python.HelmValuesError, match=complaint):
        chart.render(values, name="modelrollout", namespace="mr")


def test_watched_namespaces_are_passed_and_bound_one_by_one(render: Render) -> None:
    docs = render({"watchNamespaces": ["models", "staging"]})
    assert flag_values(args_of(docs), "--namespace") == ["models", "staging"]
    # Cluster-wide, only the sidecar injector's binding, whose role names cluster-scoped resources alone.
    assert [b["metadata"]["name"] for b in find(docs, "ClusterRoleBinding")] == ["modelrollout-controller-webhook"]
    bindings = find(docs, "RoleBinding", "modelrollout-controller")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["models", "staging"]
    assert all(
        b["roleRef"]
        == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "modelrollout-controller"}
        for b in bindings
    )


def test_dashboard_is_off_by_default_and_complete_when_on(render: Render) -> None:
    assert find(render({}), "Deployment", "modelrollout-dashboard") == []
    docs = render({"dashboard": {"enabled": True, "port": 8095}})
    pod = one(docs, "Deployment", "modelrollout-dashboard")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "modelrollout-dashboard"
    assert pod["containers"][0]["ports"][0]["containerPort"] == 8095
    assert one(docs, "Service", "modelrollout-dashboard")["spec"]["ports"][0]["port"] == 8095


@pytest.mark.parametrize(
    ("allow", "verbs"), [(False, ["get", "list", "watch"]), (True, ["get", "list", "watch", "patch"])]
)
def test_dashboard_writes_only_when_actions_are_allowed(render: Render, allow: bool, verbs: list[str]) -> None:
    role = one(render({"dashboard": {"enabled": True, "allowActions": allow}}), "ClusterRole", "modelrollout-dashboard")
    assert next(r["verbs"] for r in role["rules"] if r["resources"] == ["modelrollouts"]) == verbs


def test_service_monitor_scrapes_the_metrics_service_and_every_router(render: Render) -> None:
    assert find(render({}), "ServiceMonitor") == []
    docs = render({"serviceMonitor": {"enabled": True, "interval": "15s", "labels": {"release": "prom"}}})
    monitor, service = one(docs, "ServiceMonitor"), one(docs, "Service", "modelrollout-controller-metrics")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] in {port["name"] for port in service["spec"]["ports"]}
    routers = one(docs, "PodMonitor")["spec"]
    assert routers["selector"]["matchExpressions"] == [{"key": LABEL_ROUTER, "operator": "Exists"}]
    assert routers["podMetricsEndpoints"][0]["port"] == ADMIN_PORT_NAME
    assert routers["namespaceSelector"] == {"any": True}


def test_router_monitor_follows_watched_namespaces(render: Render) -> None:
    docs = render({"serviceMonitor": {"enabled": True}, "watchNamespaces": ["models"]})
    assert one(docs, "PodMonitor")["spec"]["namespaceSelector"] == {"matchNames": ["models"]}


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_service_selects_the_pods_of_a_deployment(render: Render, value_set: str) -> None:
    docs = render(VALUE_SETS[value_set])
    pod_labels = [d["spec"]["template"]["metadata"]["labels"] for d in find(docs, "Deployment")]
    for service in find(docs, "Service"):
        selector = service["spec"]["selector"].items()
        assert any(selector <= labels.items() for labels in pod_labels), service["metadata"]["name"]
    for deployment in find(docs, "Deployment"):
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        )


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_pod_meets_the_restricted_pod_security_standard(render: Render, value_set: str) -> None:
    for deployment in find(render(VALUE_SETS[value_set]), "Deployment"):
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]


def test_probes_use_a_port_the_container_declares(render: Render) -> None:
    container = controller_container(render({}))
    names = {port["name"] for port in container["ports"]}
    assert {container[p]["httpGet"]["port"] for p in ("readinessProbe", "livenessProbe")} <= names


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_every_rendered_object_passes_the_kubernetes_schemas(render: Render, value_set: str, kube_version: str) -> None:
    docs = [doc for doc in render(VALUE_SETS[value_set]) if doc["kind"] not in OPERATOR_KINDS]
    assert [error for doc in docs for error in schema_errors(doc, kube_version)] == []


@pytest.mark.parametrize("value_set", sorted(VALUE_SETS))
def test_helm_lint_finds_nothing_to_warn_about(value_set: str) -> None:
    report = helm_python.lint(str(CHART_DIR), VALUE_SETS[value_set], strict=True, namespace="modelrollout-system")
    warnings = [m for m in report["messages"] if m["severity"] >= 2]
    assert report["errors"] == [] and warnings == []
