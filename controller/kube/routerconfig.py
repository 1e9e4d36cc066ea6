"""The `<name>-router` ConfigMap: where a revision's model servers are in a cluster, and the config a ConfigMap holds."""

from __future__ import annotations

import json
from typing import Any

from controller.api.resource import ModelRollout
from controller.kube.objects import ROUTER_CONFIG_KEY, revision_name
from router.config import RouterConfig

__all__ = ["service_upstream", "config_of", "generation_of"]


def service_upstream(rollout: ModelRollout, revision: str) -> str:
    """In a cluster: the revision's own Service, on the first port of `spec.service`."""
    port = rollout.spec.service.ports[0].port
    return f"http://{revision_name(rollout, revision)}.{rollout.namespace}.svc:{port}"


def config_of(configmap: dict[str, Any] | None) -> RouterConfig | None:
    """The config a ConfigMap holds; None when it is missing or not a valid config."""
    text = ((configmap or {}).get("data") or {}).get(ROUTER_CONFIG_KEY)
    if not text:
        return None
    try:
        return RouterConfig.model_validate_json(text)
    except ValueError:
        return None


def generation_of(configmap: dict[str, Any] | None) -> int:
    """The generation a ConfigMap holds, even when the rest of its config is broken."""
    text = ((configmap or {}).get("data") or {}).get(ROUTER_CONFIG_KEY)
    try:
        value = json.loads(text).get("generation", 0) if text else 0
        return int(value) if isinstance(value, int) else 0
    except (ValueError, AttributeError):
        return 0
