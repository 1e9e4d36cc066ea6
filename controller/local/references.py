"""References in local mode: the live one in a file beside the report, a baseline from the file it names.

A baseline file holds what `modelrollout baseline` writes: the reference as JSON, or (with
`--name`) a ConfigMap manifest in YAML or JSON whose `reference.json` key holds it; both are read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from controller.api.monitoring import ModelReference
from controller.api.resource import ModelRollout
from controller.routing.monitoring import ReferenceUnavailable

__all__ = ["FileReferenceStore", "REFERENCE_KEY", "read_baseline"]

REFERENCE_KEY = "reference.json"


def read_baseline(path: Path) -> ModelReference:
    """The reference in a baseline file; ReferenceUnavailable naming the file and the problem otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReferenceUnavailable(f"baseline file {path}: {exc.strerror or exc}") from exc
    try:
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ReferenceUnavailable(f"baseline file {path} is neither JSON nor YAML: {exc}") from exc
    if isinstance(document, dict) and document.get("kind") == "ConfigMap":
        data = document.get("data") or {}
        if REFERENCE_KEY not in data:
            raise ReferenceUnavailable(f"baseline file {path}: the ConfigMap has no {REFERENCE_KEY} key")
        text = data[REFERENCE_KEY]
    try:
        return ModelReference.model_validate_json(text)
    except ValidationError as exc:
        why = exc.errors()[0]["msg"]
        raise ReferenceUnavailable(f"baseline file {path} is not a reference written by `modelrollout baseline`: {why}") from exc


class FileReferenceStore:
    """`<directory>/<rollout>.reference.json`, written atomically; baselines are paths relative to the working directory."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def path(self, rollout: ModelRollout) -> Path:
        return self._directory / f"{rollout.name}.reference.json"

    async def load(self, rollout: ModelRollout) -> ModelReference | None:
        path = self.path(rollout)
        try:
            return ModelReference.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError):
            # A torn or foreign file is no reference: a new capture replaces it.
            return None

    async def load_baseline(self, rollout: ModelRollout, name: str) -> ModelReference:
        return read_baseline(Path(name))

    async def save(self, rollout: ModelRollout, reference: ModelReference) -> None:
        path = self.path(rollout)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(reference.model_dump_json(by_alias=True, exclude_none=True))
        os.replace(temporary, path)
