"""The whole `ModelRollout` object, its identity on the API server, and revision naming."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field

from controller.api.base import ApiModel
from controller.api.spec import ModelRolloutSpec
from controller.api.status import ModelRolloutStatus

__all__ = ["GROUP", "VERSION", "KIND", "PLURAL", "SHORT_NAME", "API_VERSION", "ModelRollout", "revision_of"]

GROUP = "modelrollout.io"
VERSION = "v1alpha1"
KIND = "ModelRollout"
PLURAL = "modelrollouts"
SHORT_NAME = "mr"
API_VERSION = f"{GROUP}/{VERSION}"


class ModelRollout(ApiModel):
    """A model server brought to a new version progressively: shadow, canary or blue-green, judged by metrics."""

    api_version: Literal["modelrollout.io/v1alpha1"] = "modelrollout.io/v1alpha1"
    kind: Literal["ModelRollout"] = "ModelRollout"
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: ModelRolloutSpec
    status: ModelRolloutStatus = Field(default_factory=ModelRolloutStatus)

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace", "default"))

    @property
    def generation(self) -> int:
        return int(self.metadata.get("generation", 1))


def revision_of(template: dict[str, Any]) -> str:
    """A stable 10-hex-digit name for a pod template: key order and whitespace do not matter."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:10]
