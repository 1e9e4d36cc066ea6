"""The `ModelRollout` spec: what the user (or their GitOps tool) owns."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, model_validator

from controller.api.base import ApiModel, Duration, FieldIssue, Percent
from controller.api.gates import MAX_GATES, WebhookGate
from controller.api.metrics import AnalysisSpec, AnalysisStep
from controller.api.monitoring import MonitoringSpec
from controller.api.notifications import MAX_NOTIFICATIONS, Notification

__all__ = [
    "ServicePort",
    "ServiceSpec",
    "StickyKey",
    "LabelSpec",
    "PredictionSpec",
    "RouterMode",
    "RouterSpec",
    "PauseStep",
    "HeaderRouteStep",
    "CanaryStep",
    "ShadowStrategy",
    "CanaryStrategy",
    "BlueGreenStrategy",
    "Strategy",
    "ModelRolloutSpec",
]


class ServicePort(ApiModel):
    """A port clients call on the user-facing Service, and the model server's port behind it."""

    name: str = Field(default="http", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=15)
    port: int = Field(default=80, ge=1, le=65535, description="Port of the user-facing Service.")
    target_port: int = Field(default=8080, ge=1, le=65535, description="Port the model server container listens on.")


class ServiceSpec(ApiModel):
    """The user-facing Service `<name>`, which sends every call through the router."""

    ports: list[ServicePort] = Field(
        default_factory=lambda: [ServicePort()],
        min_length=1,
        description="The one port clients call: the router carries one HTTP port (HTTP/1.1), so one entry only.",
    )

    @model_validator(mode="after")
    def _one_port(self) -> ServiceSpec:
        # The router listens on one port and forwards to one targetPort: a second Service port
        # would end at that same router port, never at its own targetPort, so it is refused.
        if len(self.ports) > 1:
            extra = self.ports[1]
            raise FieldIssue(
                f"{extra.name} (port {extra.port}) is a second port; the router carries one HTTP port (HTTP/1.1),"
                " so every port after the first would end at the router's single port: list one port",
                at=("ports", 1),
            )
        return self


class StickyKey(ApiModel):
    """Hash this header or cookie to keep a user on one variant as the weight grows."""

    header: str | None = Field(default=None, min_length=1)
    cookie: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> StickyKey:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("set exactly one of header or cookie")
        return self


class LabelSpec(ApiModel):
    """How a delayed label judges a prediction: within a tolerance, exactly, by a threshold on a score, or by argmax."""

    match: Literal["tolerance", "exact", "threshold", "argmax"] = Field(
        default="tolerance",
        description=(
            "tolerance: a number within `tolerance` of its label (regression); exact: equal values (class names);"
            " threshold: a score >= `threshold` is class 1, else 0; argmax: the largest position of each score vector."
        ),
    )
    tolerance: float | None = Field(default=None, ge=0, description="tolerance: the error allowed; unset, predictions.tolerance.")
    threshold: float = Field(default=0.5, description="threshold: a score at or above it is class 1, below it class 0.")
    classes: list[str] | None = Field(
        default=None, min_length=2, max_length=1000, description="argmax: the class each position names, so labels may give names."
    )


class PredictionSpec(ApiModel):
    """How the router finds a prediction in a response, and when two predictions agree."""

    protocol: Literal["auto", "kserve-v1", "oip-v2", "jsonpath"] = Field(
        default="auto", description="Where predictions are in a response; auto recognises KServe v1 and OIP v2."
    )
    json_path: str | None = Field(default=None, description="JSON path to the predictions; only with protocol jsonpath.")
    tolerance: float = Field(default=1e-6, ge=0, description="Two numeric predictions closer than this agree.")
    labels: LabelSpec = Field(default_factory=LabelSpec)

    @model_validator(mode="after")
    def _path_with_jsonpath(self) -> PredictionSpec:
        if (self.protocol == "jsonpath") != (self.json_path is not None):
            raise ValueError("jsonPath is required with protocol jsonpath and only then")
        return self


class RouterMode(StrEnum):
    DEPLOYMENT = "deployment"
    SIDECAR = "sidecar"


class RouterSpec(ApiModel):
    """The traffic-splitting router in front of the model revisions."""

    mode: RouterMode = Field(
        default=RouterMode.DEPLOYMENT,
        description="deployment: a router Deployment behind the Service; sidecar: a router beside each caller.",
    )
    replicas: int = Field(default=2, ge=1, le=100, description="Router replicas in deployment mode.")
    image: str | None = Field(default=None, description="Router image; the operator's own version when unset.")
    resources: dict[Literal["limits", "requests"], dict[str, str | int]] | None = Field(
        default=None, description="Compute resources of the router container, as in a Pod."
    )
    sticky: StickyKey | None = None
    header_routing: bool = Field(
        default=True, description="Honour header routes such as x-model-variant: candidate; false ignores them."
    )
    predictions: PredictionSpec = Field(default_factory=PredictionSpec)
    feedback_retention: Duration = Field(
        default=3600.0,
        description="How long a router keeps a prediction for its delayed label; a label after it is counted late.",
    )
    feature_sample_percent: float = Field(
        default=5.0, ge=0, le=100, description="Percent of requests whose input features the router counts; 0 counts none."
    )
    timeout: Duration = Field(default=30.0, description="Upstream timeout; a slower model server answers 504.")
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description="Larger request bodies are refused with 413.")
    mirror_max_in_flight: int = Field(
        default=64, ge=1, description="Mirrored calls in flight at most; excess mirrors are dropped and counted."
    )
    retry_candidate_on_stable: bool = Field(
        default=False, description="Retry a failed candidate call on stable; the failure still counts against the candidate."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="The router's log lines: text, or json (one JSON object a line) for log pipelines."
    )
    access_log_sample: float = Field(
        default=0.0, ge=0, le=1, description="Share of answered requests the router logs (0.01: one in a hundred); 0 logs none."
    )


class PauseStep(ApiModel):
    """Wait `duration`, or with none, until someone promotes."""

    duration: Duration | None = None


class HeaderRouteStep(ApiModel):
    """Send requests whose `header` equals `value` to the candidate (testers, smoke tests)."""

    header: str = Field(default="x-model-variant", min_length=1)
    value: str = Field(default="candidate", min_length=1)


_STEP_ACTIONS = ("set_weight", "set_mirror", "pause", "analysis", "set_header_route")


class CanaryStep(ApiModel):
    """One action, Argo Rollouts style: exactly one field set."""

    set_weight: Percent | None = Field(default=None, description="Percent of live traffic the candidate serves.")
    set_mirror: Percent | None = Field(
        default=None, description="Percent of all requests copied to the candidate; its answers are compared, never returned."
    )
    pause: PauseStep | None = None
    analysis: AnalysisStep | None = None
    set_header_route: HeaderRouteStep | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CanaryStep:
        chosen = [n for n in _STEP_ACTIONS if getattr(self, n) is not None]
        if len(chosen) != 1:
            raise ValueError("a step sets exactly one of setWeight, setMirror, pause, analysis, setHeaderRoute")
        return self

    @property
    def kind(self) -> str:
        return next(n for n in _STEP_ACTIONS if getattr(self, n) is not None)


class ShadowStrategy(ApiModel):
    """Mirror `percent` of live traffic to the candidate for `duration`; answers are compared, never returned."""

    percent: Percent = Field(default=100, description="Percent of live requests mirrored to the candidate.")
    duration: Duration = Field(default=300.0, description="How long to mirror before judging.")
    analysis: AnalysisStep | None = None
    promote: bool = Field(default=True, description="Switch all traffic to a passing candidate; false only reports a verdict.")


class CanaryStrategy(ApiModel):
    """Ordered steps; the rollout promotes once the last step is done."""

    steps: list[CanaryStep] = Field(min_length=1, max_length=100)
    candidate_replicas: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description=(
            "Fixed candidate size; by default it follows the traffic share: ceil(share x replicas), at least 1."
        ),
    )


class BlueGreenStrategy(ApiModel):
    """A full-size preview with no live traffic, then an instant switch with an instant way back."""

    preview_replicas: int | None = Field(default=None, ge=1, description="Preview size; spec.replicas when unset.")
    pre_promotion_analysis: AnalysisStep | None = None
    # None: wait on the preview until someone promotes.
    auto_promotion_seconds: int | None = Field(
        default=None, ge=0, description="Switch this long after the preview is ready; unset waits for a promote."
    )
    post_promotion_analysis: AnalysisStep | None = None
    scale_down_delay_seconds: int = Field(
        default=30, ge=0, description="Keep the old revision warm this long after the switch for an instant rollback."
    )
    preview_header: HeaderRouteStep = Field(default_factory=HeaderRouteStep)


_STRATEGIES = (("shadow", "shadow"), ("canary", "canary"), ("blue_green", "blueGreen"))


class Strategy(ApiModel):
    """How the candidate is brought in: exactly one of shadow, canary or blueGreen."""

    shadow: ShadowStrategy | None = None
    canary: CanaryStrategy | None = None
    blue_green: BlueGreenStrategy | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Strategy:
        chosen = [alias for name, alias in _STRATEGIES if getattr(self, name) is not None]
        if len(chosen) != 1:
            raise ValueError(f"set exactly one strategy of shadow, canary, blueGreen (got {chosen or 'none'})")
        return self

    @property
    def kind(self) -> Literal["shadow", "canary", "blueGreen"]:
        return "shadow" if self.shadow else "canary" if self.canary else "blueGreen"


class ModelRolloutSpec(ApiModel):
    """What the user (or their GitOps tool) owns: the model server and how a new version is brought in."""

    # A pod template as in a Deployment; free-form on purpose (Kubernetes validates it on the Deployment).
    template: dict[str, Any] = Field(
        description="Pod template of the model server, as in a Deployment; a change to it is a new revision."
    )
    replicas: int = Field(
        default=1,
        ge=0,
        le=1000,
        description=(
            "Total size, the scale subresource's spec: the stable runs this many, a candidate its share of it."
        ),
    )
    service: ServiceSpec = Field(default_factory=ServiceSpec)
    router: RouterSpec = Field(default_factory=RouterSpec)
    strategy: Strategy
    analysis: AnalysisSpec | None = None
    notifications: list[Notification] | None = Field(
        default=None,
        max_length=MAX_NOTIFICATIONS,
        description="Targets told about this rollout's transitions, beside those every rollout notifies.",
    )
    webhooks: list[WebhookGate] | None = Field(
        default=None,
        max_length=MAX_GATES,
        description="Gates asked at points of the rollout: confirm-rollout, pre-rollout, confirm-promotion, rollback, post-rollout.",
    )
    monitoring: MonitoringSpec | None = Field(
        default=None,
        description="Watch the stable model while the rollout is Healthy: input drift, prediction drift, quality; retraining on a finding.",
    )
