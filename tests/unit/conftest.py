"""Shared builders for the unit tests of the adapters (kube, routing); async tests run on asyncio through anyio."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from controller.api.resource import ModelRollout

RolloutFactory = Callable[..., ModelRollout]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def rollout_document(name: str = "fraud", namespace: str = "ml", image: str = "model:1", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "modelrollout.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "generation": 1},
        "spec": {
            "replicas": 2,
            "template": {"spec": {"containers": [{"name": "model", "image": image}]}},
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {"duration": "30s"}}, {"setWeight": 100}]}},
            **spec,
        },
    }


@pytest.fixture
def make_rollout() -> RolloutFactory:
    """`make_rollout(router={"mode": "sidecar"}, status={...})`: a canary ModelRollout in namespace ml."""

    def build(status: dict[str, Any] | None = None, **kwargs: Any) -> ModelRollout:
        document = rollout_document(**kwargs)
        if status is not None:
            document["status"] = status
        return ModelRollout.model_validate(document)

    return build
