"""What the sidecar injector's tests share: a rollout, a webhook configuration on loopback, the server running, reviews sent.

The webhook runs in the test's event loop against the session's real control plane; its
MutatingWebhookConfiguration selects only the test's namespace, so Pods of other tests on the
same control plane never reach it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import importlib.util
import ssl
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client as k8s

from controller.cli import operator
from controller.kube.client import KubeClient
from controller.kube.webhook_server import MUTATE_PATH, WebhookConfig, WebhookServer

__all__ = [
    "rollout_document",
    "pod_document",
    "admission_review",
    "webhook_configuration",
    "running_webhook",
    "published_bundle",
    "trusting",
    "send_review",
    "chart_webhook_config",
]


def rollout_document(name: str, namespace: str, router: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "modelrollout.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": {"spec": {"containers": [{"name": "model", "image": "model:1"}]}},
            "service": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
            "router": {"mode": "sidecar", **(router or {})},
            "strategy": {"canary": {"steps": [{"setWeight": 100}]}},
        },
    }


def pod_document(name: str, *, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None,
                 account: str | None = None) -> dict[str, Any]:  # fmt: skip
    metadata: dict[str, Any] = {"name": name}
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    spec: dict[str, Any] = {"containers": [{"name": "caller", "image": "caller:1", "args": ["--model", "http://127.0.0.1:15080"]}]}
    if account:
        spec["serviceAccountName"] = account
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def admission_review(pod: dict[str, Any], namespace: str, *, dry_run: bool = False) -> dict[str, Any]:
    """An `admission.k8s.io/v1` AdmissionReview as the API server sends it for a Pod CREATE."""
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": pod["metadata"].get("name", ""),
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "admin", "groups": ["system:masters"]},
            "object": pod,
            "oldObject": None,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def webhook_configuration(name: str, namespace: str, url: str, timeout_s: int = 5) -> dict[str, Any]:
    """The chart's webhook, pointed at a loopback URL and at `namespace` only; no caBundle (the webhook adds its own)."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "sidecar.modelrollout.io",
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "failurePolicy": "Ignore",
                "timeoutSeconds": timeout_s,
                "clientConfig": {"url": url},
                "rules": [
                    {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Namespaced"}
                ],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
                "matchConditions": [
                    {
                        "name": "asks-for-a-router",
                        "expression": "('labels' in object.metadata && 'modelrollout.io/inject' in object.metadata.labels) || "
                        "('annotations' in object.metadata && 'modelrollout.io/inject' in object.metadata.annotations)",
                    }
                ],
            }
        ],
    }


def published_bundle(admin: k8s.ApiClient, name: str) -> bytes:
    """The caBundle the API server trusts the webhook with now."""
    live = k8s.AdmissionregistrationV1Api(admin).read_mutating_webhook_configuration(name)
    return base64.b64decode(live.webhooks[0].client_config.ca_bundle or "")


def trusting(bundle: bytes) -> ssl.SSLContext:
    """A client context that trusts exactly `bundle`, as the API server does."""
    return ssl.create_default_context(cadata=bundle.decode())


@contextlib.asynccontextmanager
async def running_webhook(client: KubeClient, config: WebhookConfig) -> AsyncIterator[WebhookServer]:
    """The webhook serving on loopback (its refresh loop running) until the block ends."""
    server = WebhookServer(client, config)
    stop = asyncio.Event()
    task = asyncio.create_task(server.run(stop))
    try:
        while server.port == 0:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.02)
        yield server
    finally:
        stop.set()
        await task


async def send_review(server: WebhookServer, verify: ssl.SSLContext, body: bytes | dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(verify=verify, timeout=10) as http:
        url = f"https://127.0.0.1:{server.port}{MUTATE_PATH}"
        if isinstance(body, bytes):
            return await http.post(url, content=body, headers={"content-type": "application/json"})
        return await http.post(url, json=body)


def chart_webhook_config(configuration: str, refresh_every_s: float = 0.5) -> WebhookConfig:
    """The webhook as the chart's default values configure the controller, moved to loopback for the test.

    The controller's arguments come from the chart rendered by Helm's engine (as install.yaml is),
    parsed by the controller's own parser; only where it listens, the name it is called by and the
    configuration it keeps are the test's.
    """
    generator_path = Path(__file__).resolve().parents[3] / "manifests" / "generate_install.py"
    spec = importlib.util.spec_from_file_location("generate_install", generator_path)
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, generator)
    spec.loader.exec_module(generator)
    rendered = generator.render_chart({})
    (deployment,) = [doc.body for doc in rendered if doc.kind == "Deployment" and "controller" in doc.body["metadata"]["name"]]
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    parser = argparse.ArgumentParser(exit_on_error=False)
    operator.add_arguments(parser)
    config = operator.webhook_from(parser.parse_args(args[1:]), "test-replica")
    assert config is not None, "the chart turns the webhook on by default"
    return dataclasses.replace(
        config, listen=("127.0.0.1", 0), hosts=("127.0.0.1",), configuration=configuration, refresh_every_s=refresh_every_s
    )
