"""The sidecar injector in the chart and install.yaml, rendered with and without cert-manager.

What the API server is told (the MutatingWebhookConfiguration), how it reaches the controller
(the Service, the container port, the certificate's name), and what the controller may do for
it (a ClusterRole of its own: SubjectAccessReviews, and this one configuration's caBundle).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import celpy
import helm_python
import pytest
from chartkit import KUBE_VERSIONS, REPO_ROOT, Docs, controller_container, find, one, schema_errors

from controller.cli import operator
from controller.kube.webhook_inject import INJECT_KEY
from controller.kube.webhook_server import DEFAULT_CONFIGURATION, MUTATE_PATH

Render = Callable[[dict[str, Any]], Docs]

CERT_MANAGER = {"webhook": {"certManager": {"enabled": True}}}
OWN_ISSUER = {"webhook": {"certManager": {"enabled": True, "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}}}}
CERT_MANAGER_KINDS = {"Issuer", "Certificate"}
SERVICE = "modelrollout-controller-webhook"


def _webhook(docs: Docs) -> dict[str, Any]:
    webhooks = one(docs, "MutatingWebhookConfiguration", DEFAULT_CONFIGURATION)["webhooks"]
    assert len(webhooks) == 1
    return dict(webhooks[0])


def _args(docs: Docs) -> list[str]:
    return list(controller_container(docs)["args"])


def _flag(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


def _grants(docs: Docs) -> set[tuple[str, str, str, tuple[str, ...]]]:
    rules = one(docs, "ClusterRole", "modelrollout-controller-webhook")["rules"]
    return {
        (group, resource, verb, tuple(rule.get("resourceNames", ())))
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_by_default_the_webhook_admits_on_failure_skips_its_own_namespace_and_answers_in_seconds(render: Render) -> None:
    webhook = _webhook(render({}))
    assert webhook["failurePolicy"] == "Ignore" and webhook["sideEffects"] == "None" and webhook["admissionReviewVersions"] == ["v1"]
    assert 1 <= webhook["timeoutSeconds"] <= 10
    pods = {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Namespaced"}
    assert webhook["rules"] == [pods]
    assert webhook["namespaceSelector"] == {
        "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["modelrollout-system", "kube-system"]}]
    }
    assert webhook["clientConfig"] == {"service": {"name": SERVICE, "namespace": "modelrollout-system", "path": MUTATE_PATH, "port": 443}}


def test_the_service_reaches_the_controllers_webhook_port_and_the_certificate_names_the_service(render: Render) -> None:
    docs = render({})
    service = one(docs, "Service", SERVICE)
    container = controller_container(docs)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert service["spec"]["ports"] == [{"name": "webhook", "port": 443, "targetPort": "webhook", "protocol": "TCP"}]
    assert service["spec"]["selector"].items() <= one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"].items()
    args = _args(docs)
    assert _flag(args, "--webhook-listen") == [f"0.0.0.0:{ports['webhook']}"]
    assert _flag(args, "--webhook-host") == [f"{SERVICE}.modelrollout-system.svc"], "the name the API server checks the certificate for"
    assert _flag(args, "--webhook-configuration") == [DEFAULT_CONFIGURATION]
    assert "caBundle" not in _webhook(docs)["clientConfig"], "the controller's own: an upgrade must not blank it"


@pytest.mark.parametrize("values", [{}, CERT_MANAGER, OWN_ISSUER], ids=["own-certificate", "cert-manager", "own-issuer"])
def test_the_controller_command_accepts_the_webhook_arguments(render: Render, values: dict[str, Any]) -> None:
    args = _args(render(values))
    parser = argparse.ArgumentParser(exit_on_error=False)
    operator.add_arguments(parser)
    config = operator.webhook_from(parser.parse_args(args[1:]), "replica-a")
    assert config is not None and config.listen == ("0.0.0.0", 9443) and config.configuration == DEFAULT_CONFIGURATION
    assert (config.cert_dir is not None) == bool(values)


def test_without_cert_manager_the_controller_may_patch_that_one_configuration_and_ask_access_reviews(render: Render) -> None:
    docs = render({})
    assert _grants(docs) == {
        ("authorization.k8s.io", "subjectaccessreviews", "create", ()),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "get", (DEFAULT_CONFIGURATION,)),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", "patch", (DEFAULT_CONFIGURATION,)),
    }
    binding = one(docs, "ClusterRoleBinding", "modelrollout-controller-webhook")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "modelrollout-controller", "namespace": "modelrollout-system"}]
    assert not find(docs, "Certificate") and not find(docs, "Issuer")


def test_with_cert_manager_its_certificate_is_mounted_and_its_ca_injected(render: Render) -> None:
    docs = render(CERT_MANAGER)
    certificate = one(docs, "Certificate", "modelrollout-webhook")
    assert f"{SERVICE}.modelrollout-system.svc" in certificate["spec"]["dnsNames"]
    assert certificate["spec"]["issuerRef"] == {"name": "modelrollout-webhook-selfsigned", "kind": "Issuer", "group": "cert-manager.io"}
    assert one(docs, "Issuer", "modelrollout-webhook-selfsigned")["spec"] == {"selfSigned": {}}
    configuration = one(docs, "MutatingWebhookConfiguration", DEFAULT_CONFIGURATION)
    assert configuration["metadata"]["annotations"] == {"cert-manager.io/inject-ca-from": "modelrollout-system/modelrollout-webhook"}
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "webhook-tls")
    assert volume["secret"]["secretName"] == certificate["spec"]["secretName"]
    mount = next(m for m in controller_container(docs)["volumeMounts"] if m["name"] == "webhook-tls")
    args = _args(docs)
    assert _flag(args, "--webhook-cert-dir") == [mount["mountPath"]] and "--webhook-host" not in args
    assert _grants(docs) == {("authorization.k8s.io", "subjectaccessreviews", "create", ())}, "cert-manager keeps the caBundle"


def test_an_issuer_of_your_own_replaces_the_self_signed_one(render: Render) -> None:
    docs = render(OWN_ISSUER)
    assert not find(docs, "Issuer")
    assert one(docs, "Certificate")["spec"]["issuerRef"] == {"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}


def test_with_watched_namespaces_the_webhook_serves_those_only(render: Render) -> None:
    webhook = _webhook(render({"watchNamespaces": ["models", "staging"]}))
    (expression,) = webhook["namespaceSelector"]["matchExpressions"]
    assert expression == {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["models", "staging"]}


def test_turned_off_nothing_of_the_webhook_is_rendered(render: Render) -> None:
    docs = render({"webhook": {"enabled": False}})
    assert not find(docs, "MutatingWebhookConfiguration") and not find(docs, "Service", SERVICE)
    assert not find(docs, "ClusterRole", "modelrollout-controller-webhook")
    assert not [arg for arg in _args(docs) if arg.startswith("--webhook")]


@pytest.mark.parametrize(
    ("pod_metadata", "sent"),
    [
        ({"labels": {INJECT_KEY: "iris"}}, True),
        ({"annotations": {INJECT_KEY: "iris"}}, True),
        ({"labels": {"app": "x"}, "annotations": {"note": "y"}}, False),
        ({}, False),
    ],
)
def test_only_pods_that_ask_for_a_router_are_sent(render: Render, pod_metadata: dict[str, Any], sent: bool) -> None:
    """The matchCondition, evaluated by a CEL interpreter as the API server evaluates it."""
    (condition,) = _webhook(render({}))["matchConditions"]
    environment = celpy.Environment()
    program = environment.program(environment.compile(condition["expression"]))
    assert bool(program.evaluate({"object": celpy.json_to_cel({"metadata": {"name": "p", **pod_metadata}})})) is sent


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("values", [{}, CERT_MANAGER, {"watchNamespaces": ["models"]}], ids=["defaults", "cert-manager", "watched"])
def test_the_webhook_objects_pass_the_kubernetes_schemas(render: Render, values: dict[str, Any], kube_version: str) -> None:
    docs = [d for d in render(values) if d["kind"] not in CERT_MANAGER_KINDS]
    assert [error for doc in docs for error in schema_errors(doc, kube_version)] == []


def test_install_yaml_carries_the_webhook_as_the_chart_renders_it(render: Render, install_docs: Docs) -> None:
    rendered = render({})
    role = "modelrollout-controller-webhook"
    objects = [("MutatingWebhookConfiguration", DEFAULT_CONFIGURATION), ("Service", SERVICE)]
    objects += [("ClusterRole", role), ("ClusterRoleBinding", role)]
    for kind, name in objects:
        assert one(install_docs, kind, name) == one(rendered, kind, name)


@pytest.mark.parametrize("values", [{}, {"image": {"repository": "mirror.example/mr", "tag": "7"}}], ids=["defaults", "mirror"])
def test_routers_managed_or_injected_run_the_release_image(render: Render, values: dict[str, Any]) -> None:
    docs = render(values)
    image = controller_container(docs)["image"]
    args = _args(docs)
    assert _flag(args, "--router-image") == [image]
    parser = argparse.ArgumentParser(exit_on_error=False)
    operator.add_arguments(parser)
    parsed = parser.parse_args(args[1:])
    webhook = operator.webhook_from(parsed, "replica-a")
    assert operator.config_from(parsed).router_image == image and webhook is not None and webhook.router_image == image


@pytest.mark.parametrize("values", [CERT_MANAGER, OWN_ISSUER, {"webhook": {"enabled": False}}], ids=["cert-manager", "own-issuer", "off"])
def test_helm_lint_finds_nothing_to_warn_about_in_the_webhook_value_sets(values: dict[str, Any]) -> None:
    report = helm_python.lint(str(REPO_ROOT / "charts" / "modelrollout"), values, strict=True, namespace="modelrollout-system")
    assert report["errors"] == [] and [m for m in report["messages"] if m["severity"] >= 2] == []


@pytest.mark.parametrize(
    ("values", "complaint"),
    [({"webhook": {"timeoutSeconds": 60}}, "timeoutSeconds"), ({"webhook": {"certManager": {"issuerRef": {"kind": "Vault"}}}}, "kind")],
)
def test_webhook_values_outside_the_schema_are_refused_naming_the_field(render: Render, values: dict[str, Any], complaint: str) -> None:
    with pytest.raises(helm_python.HelmError, match=complaint):
        render(values)
