"""The ModelRollout API: pydantic models for spec and status, the single source of the CRD schema."""

from controller.api.base import ApiModel, Duration, Percent, format_duration, parse_duration
from controller.api.metrics import (
    AnalysisSpec,
    AnalysisStep,
    Comparison,
    MaxIncrease,
    MetricSpec,
    PrometheusSource,
    ProviderErrorPolicy,
    RouterMetric,
    RouterSource,
    WebhookSource,
)
from controller.api.resource import API_VERSION, GROUP, KIND, PLURAL, SHORT_NAME, VERSION, ModelRollout, revision_of
from controller.api.spec import (
    BlueGreenStrategy,
    CanaryStep,
    CanaryStrategy,
    HeaderRouteStep,
    ModelRolloutSpec,
    PauseStep,
    PredictionSpec,
    RouterMode,
    RouterSpec,
    ServicePort,
    ServiceSpec,
    ShadowStrategy,
    StickyKey,
    Strategy,
)
from controller.api.status import (
    EVIDENCE_LIMIT,
    AnalysisRecord,
    Condition,
    ConditionStatus,
    MetricTally,
    ModelRolloutStatus,
    PauseState,
    Phase,
    ScaleDown,
    TrafficSplit,
    Verdict,
)

__all__ = [
    "API_VERSION", "GROUP", "KIND", "PLURAL", "SHORT_NAME", "VERSION", "EVIDENCE_LIMIT",
    "AnalysisRecord", "AnalysisSpec", "AnalysisStep", "ApiModel", "BlueGreenStrategy", "CanaryStep",
    "CanaryStrategy", "Comparison", "Condition", "ConditionStatus", "Duration", "HeaderRouteStep",
    "MaxIncrease", "MetricSpec", "MetricTally", "ModelRollout", "ModelRolloutSpec", "ModelRolloutStatus",
    "PauseState", "PauseStep", "Percent", "Phase", "PredictionSpec", "PrometheusSource",
    "ProviderErrorPolicy", "RouterMetric", "RouterMode", "RouterSource", "RouterSpec", "ScaleDown",
    "ServicePort", "ServiceSpec", "ShadowStrategy", "StickyKey", "Strategy", "TrafficSplit", "Verdict",
    "WebhookSource", "format_duration", "parse_duration", "revision_of",
]
