"""Spec builders for the strategy tests: a valid ModelRolloutSpec around any strategy."""

from __future__ import annotations

from typing import Any

from controller.api.spec import ModelRolloutSpec

ERROR_RATE: dict[str, Any] = {"name": "error-rate", "router": {"metric": "errorRate"}, "max": 0.05}
LATENCY: dict[str, Any] = {"name": "latency-p99", "router": {"metric": "latencyP99"}, "maxIncrease": {"percent": 20}}
SHADOW_ERRORS: dict[str, Any] = {"name": "shadow-errors", "router": {"metric": "shadowErrorRate"}, "max": 0.02}


def spec(strategy: dict[str, Any], **fields: Any) -> ModelRolloutSpec:
    """`spec({"canary": {...}}, analysis={...}, replicas=4)`: a spec as a user would write it."""
    template = {"spec": {"containers": [{"name": "model", "image": "registry.example/iris:2"}]}}
    return ModelRolloutSpec.model_validate({"template": template, "strategy": strategy, **fields})
