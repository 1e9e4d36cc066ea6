"""The controller's notifications config: targets (where to send) and what every rollout sends.

Read once at start-up from the file named by `--notifications-config` (JSON or YAML; the chart
renders it into a ConfigMap). A target's URL and token are read from files at each delivery
(the chart mounts them from Secrets), so a rotated Secret takes effect without a restart and
the controller needs no permission to read Secrets.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from controller.api.base import HttpAddress
from controller.api.notifications import TARGET_NAME_PATTERN, NotificationEvent

__all__ = ["TargetFormat", "Target", "Subscription", "NotificationsConfig", "NotificationsConfigError", "load_notifications_config"]


class NotificationsConfigError(ValueError):
    """The notifications config cannot be used; the message names the file and the field."""


class _Config(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class TargetFormat(StrEnum):
    JSON = "json"  # the whole notification as a JSON object
    SLACK = "slack"  # {"text": ..., "blocks": [...]}, what Slack, Mattermost and Rocket.Chat incoming webhooks take


class Target(_Config):
    name: str = Field(pattern=TARGET_NAME_PATTERN, max_length=63)
    format: TargetFormat = TargetFormat.JSON
    url: HttpAddress | None = None
    url_file: Path | None = None
    # Sent as `Authorization: Bearer <token>`; Slack's URLs carry their own secret and need none.
    token_file: Path | None = None
    timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _one_url(self) -> Target:
        if (self.url is None) == (self.url_file is None):
            raise ValueError(f"target {self.name}: set exactly one of url or urlFile (a file mounted from a Secret)")
        return self


class Subscription(_Config):
    target: str = Field(pattern=TARGET_NAME_PATTERN, max_length=63)
    events: list[NotificationEvent] | None = Field(default=None, min_length=1)


class NotificationsConfig(_Config):
    targets: list[Target] = Field(default_factory=list)
    # Sent for every rollout the controller manages, beside each rollout's own spec.notifications.
    every_rollout: list[Subscription] = Field(default_factory=list)
    attempts: int = Field(default=5, ge=1, le=20, description="Tries per notification before it counts as failed.")
    backoff_seconds: float = Field(default=1.0, gt=0, le=60, description="Wait before the second try; doubled each time.")
    max_backoff_seconds: float = Field(default=60.0, gt=0, le=3600)
    queue_size: int = Field(default=1000, ge=1, description="Notifications waiting per target; more are dropped and counted.")

    @model_validator(mode="after")
    def _known_targets(self) -> NotificationsConfig:
        names = [target.name for target in self.targets]
        if len(set(names)) != len(names):
            raise ValueError(f"target names must be unique, got {names}")
        unknown = sorted({s.target for s in self.every_rollout} - set(names))
        if unknown:
            raise ValueError(f"everyRollout names targets that are not in targets: {', '.join(unknown)}")
        return self

    def target(self, name: str) -> Target | None:
        return next((target for target in self.targets if target.name == name), None)


def load_notifications_config(path: Path) -> NotificationsConfig:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise NotificationsConfigError(f"notifications config {path}: {exc}") from exc
    try:
        return NotificationsConfig.model_validate(raw or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}" for err in exc.errors())
        raise NotificationsConfigError(f"notifications config {path}: {problems}") from exc
