"""Semantic checks of a ModelRollout spec that the schema and CEL rules cannot express.

A spec that passes the CRD schema can still be wrong: canary steps that never reach 100, a
relative judgement on a Prometheus query that cannot tell stable from candidate, a shadow
metric in a rollout that never mirrors. `validate_spec` names each such problem with the
full field path; the engine reports the first one as `InvalidSpec`.

`load_rollouts` reads ModelRollout YAML the way the CLI gets it, judges each document as the
API server would (`admission.server_view`, then the models with strict types), and turns every
problem, from a YAML syntax error to a semantic one, into one `InvalidRollouts` error listing
them all. So `modelrollout validate` accepts exactly what `kubectl apply` gets past the server,
plus these semantic checks, which the controller reports as InvalidSpec.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from controller.api.admission import server_view
from controller.api.crd import openapi_schema
from controller.api.messages import describe_errors
from controller.api.metrics import AnalysisSpec, AnalysisStep, MetricSpec, PrometheusSource, RouterMetric
from controller.api.resource import ModelRollout
from controller.api.spec import CanaryStrategy, ModelRolloutSpec
from controller.errors import SpecError

__all__ = [
    "SpecIssue",
    "InvalidRollouts",
    "validate_spec",
    "load_rollouts",
    "SHADOW_METRICS",
    "PAIRWISE_METRICS",
    "VARIANT_PLACEHOLDER",
]

# Measured only on mirrored requests: without mirroring they never get a sample.
SHADOW_METRICS = frozenset(
    {RouterMetric.SHADOW_AGREEMENT, RouterMetric.SHADOW_ERROR_RATE, RouterMetric.SHADOW_LATENCY_P99}
)
# Already a comparison of candidate with stable: only absolute bounds make sense on them.
PAIRWISE_METRICS = frozenset({RouterMetric.SHADOW_AGREEMENT, RouterMetric.PREDICTION_DRIFT})
VARIANT_PLACEHOLDER = "{{variant}}"


class SpecIssue(BaseModel):
    """One problem in a spec: where it is (`.spec.strategy...`) and what is wrong there."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


@dataclass(frozen=True)
class _Scope:
    """Metrics measured at one point of the rollout, and whether mirrored traffic flows there."""

    path: str
    interval_s: float
    metrics: tuple[MetricSpec, ...] | None
    mirrored: bool


def validate_spec(spec: ModelRolloutSpec) -> list[SpecIssue]:
    """Every semantic problem in `spec`, in field order; an empty list means the spec is sound."""
    issues = list(_template_issues(spec.template))
    issues += _strategy_issues(spec)
    for scope in _scopes(spec):
        issues += _scope_issues(scope, background=spec.analysis)
    return issues


def _template_issues(template: dict[str, object]) -> Iterator[SpecIssue]:
    pod_spec = template.get("spec")
    containers = pod_spec.get("containers") if isinstance(pod_spec, dict) else None
    if not isinstance(containers, list) or not containers:
        yield SpecIssue(
            path=".spec.template.spec.containers",
            message="is missing or empty; the model server needs at least one container",
        )
        return
    for index, container in enumerate(containers):
        if not isinstance(container, dict) or not container.get("image"):
            yield SpecIssue(path=f".spec.template.spec.containers[{index}].image", message="is missing")


def _strategy_issues(spec: ModelRolloutSpec) -> Iterator[SpecIssue]:
    strategy = spec.strategy
    if strategy.shadow is not None and strategy.shadow.percent == 0:
        yield SpecIssue(path=".spec.strategy.shadow.percent", message="is 0, so the candidate would see no traffic")
    if strategy.canary is not None:
        yield from _canary_issues(strategy.canary, header_routing=spec.router.header_routing)


def _canary_issues(canary: CanaryStrategy, header_routing: bool) -> Iterator[SpecIssue]:
    steps_path = ".spec.strategy.canary.steps"
    weight = 0
    for index, step in enumerate(canary.steps):
        path = f"{steps_path}[{index}]"
        if step.set_weight is not None and step.set_weight < weight:
            yield SpecIssue(
                path=f"{path}.setWeight",
                message=f"{step.set_weight} lowers the weight from {weight}; weights must not decrease",
            )
        if step.set_mirror and weight == 100:
            yield SpecIssue(
                path=f"{path}.setMirror",
                message="mirrors after the candidate already serves all traffic; no stable answer is left to compare",
            )
        if step.set_header_route is not None and not header_routing:
            yield SpecIssue(path=f"{path}.setHeaderRoute", message="needs spec.router.headerRouting, which is false")
        weight = max(weight, step.set_weight or 0)
    if weight != 100:
        yield SpecIssue(
            path=steps_path,
            message=f"the highest setWeight is {weight}; the steps must reach setWeight 100 to promote",
        )


def _scopes(spec: ModelRolloutSpec) -> Iterator[_Scope]:
    """Each place metrics are measured, in field order, with whether mirrored traffic flows there."""
    strategy = spec.strategy
    if spec.analysis is not None:
        analysis = spec.analysis
        yield _Scope(".spec.analysis", analysis.interval, tuple(analysis.metrics), _mirrors_anywhere(spec))
    if strategy.shadow is not None and strategy.shadow.analysis is not None:
        yield _step_scope(".spec.strategy.shadow.analysis", strategy.shadow.analysis, mirrored=True)
    if strategy.canary is not None:
        yield from _canary_scopes(strategy.canary)
    if strategy.blue_green is not None:
        for field, step in (
            ("prePromotionAnalysis", strategy.blue_green.pre_promotion_analysis),
            ("postPromotionAnalysis", strategy.blue_green.post_promotion_analysis),
        ):
            if step is not None:
                yield _step_scope(f".spec.strategy.blueGreen.{field}", step, mirrored=False)


def _canary_scopes(canary: CanaryStrategy) -> Iterator[_Scope]:
    mirror = 0
    for index, step in enumerate(canary.steps):
        mirror = step.set_mirror if step.set_mirror is not None else mirror
        if step.analysis is not None:
            path = f".spec.strategy.canary.steps[{index}].analysis"
            yield _step_scope(path, step.analysis, mirrored=mirror > 0)


def _step_scope(path: str, step: AnalysisStep, mirrored: bool) -> _Scope:
    metrics = tuple(step.metrics) if step.metrics is not None else None
    return _Scope(path, step.interval, metrics, mirrored)


def _mirrors_anywhere(spec: ModelRolloutSpec) -> bool:
    strategy = spec.strategy
    if strategy.shadow is not None:
        return strategy.shadow.percent > 0
    if strategy.canary is not None:
        return any(step.set_mirror for step in strategy.canary.steps)
    return False


def _scope_issues(scope: _Scope, background: AnalysisSpec | None) -> Iterator[SpecIssue]:
    if scope.interval_s <= 0:
        yield SpecIssue(path=f"{scope.path}.interval", message="is 0s; measurements need an interval above 0s")
    if scope.metrics is None:
        if background is None:
            yield SpecIssue(
                path=f"{scope.path}.metrics",
                message="is not set and spec.analysis is absent, so this step has no metrics to measure",
            )
        return
    yield from _duplicate_name_issues(scope)
    for index, metric in enumerate(scope.metrics):
        yield from _metric_issues(metric, f"{scope.path}.metrics[{index}]", scope.mirrored)


def _placeholder_issues(source: PrometheusSource, path: str, judgement: str) -> Iterator[SpecIssue]:
    for field, query in (("query", source.query), ("samplesQuery", source.samples_query)):
        if query is not None and VARIANT_PLACEHOLDER not in query:
            yield SpecIssue(
                path=f"{path}.{field}",
                message=f"lacks {VARIANT_PLACEHOLDER}, so {judgement} cannot tell stable from candidate",
            )


def _duplicate_name_issues(scope: _Scope) -> Iterator[SpecIssue]:
    first_index: dict[str, int] = {}
    for index, metric in enumerate(scope.metrics or ()):
        first = first_index.setdefault(metric.name, index)
        if first != index:
            yield SpecIssue(
                path=f"{scope.path}.metrics[{index}].name",
                message=f"{metric.name!r} is already the name of metrics[{first}]; names must be unique",
            )


def _metric_issues(metric: MetricSpec, path: str, mirrored: bool) -> Iterator[SpecIssue]:
    judgement = "maxIncrease" if metric.max_increase is not None else "compare" if metric.compare else None
    if metric.prometheus is not None and judgement:
        yield from _placeholder_issues(metric.prometheus, f"{path}.prometheus", judgement)
    if metric.router is None:
        return
    router_metric = metric.router.metric
    if router_metric in SHADOW_METRICS and not mirrored:
        yield SpecIssue(
            path=f"{path}.router.metric",
            message=f"{router_metric.value} needs mirrored traffic, but none is mirrored here; add a setMirror step",
        )
    # A drift test (compare: chi-squared / KS at a confidence) is meaningful; a drift "increase" is not.
    drift_test = router_metric is RouterMetric.PREDICTION_DRIFT and judgement == "compare"
    if router_metric in PAIRWISE_METRICS and judgement and not drift_test:
        yield SpecIssue(
            path=f"{path}.{judgement}",
            message=f"{router_metric.value} already compares candidate with stable; bound it with min or max instead",
        )


# Loading YAML: every problem of every document, gathered into one error.

# Built once: the loader only reads it, and building it costs more than loading a document.
_resource_schema = cache(openapi_schema)

_YAML_KINDS = {"list": "a list", "str": "a string", "int": "a number", "float": "a number", "bool": "a boolean"}


class InvalidRollouts(SpecError):
    """ModelRollout input with problems: every one, each labelled with its document when there are several."""

    def __init__(self, source: str, problems: Sequence[tuple[str, SpecIssue]]) -> None:
        first = problems[0][1]
        super().__init__(first.path, first.message)
        self.source = source
        self.problems = tuple(problems)

    @property
    def issues(self) -> tuple[SpecIssue, ...]:
        return tuple(issue for _label, issue in self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        lines = [f"{label}{issue}" for label, issue in self.problems]
        return "\n  ".join([f"{self.source}: {count} problem{'s' if count > 1 else ''}", *lines])


def load_rollouts(text: str, source: str = "<input>") -> list[ModelRollout]:
    """Every ModelRollout in a (multi-document) YAML text; raises `InvalidRollouts` naming each problem."""
    documents = _parse_yaml(text, source)
    if not documents:
        raise InvalidRollouts(source, [("", SpecIssue(path="", message="the input holds no ModelRollout"))])
    rollouts: list[ModelRollout] = []
    problems: list[tuple[str, SpecIssue]] = []
    for number, document in enumerate(documents, start=1):
        label = _document_label(number, document) if len(documents) > 1 else ""
        rollout, issues = _load_document(document)
        problems += [(label, issue) for issue in issues]
        if rollout is not None:
            rollouts.append(rollout)
    if problems:
        raise InvalidRollouts(source, problems)
    return rollouts


def _parse_yaml(text: str, source: str) -> list[Any]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        issue = SpecIssue(path=where, message=f"is not valid YAML: {problem}")
        raise InvalidRollouts(source, [("", issue)]) from exc
    return [document for document in documents if document is not None]


def _document_label(number: int, document: Any) -> str:
    metadata = document.get("metadata") if isinstance(document, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"document {number} ({name}): " if isinstance(name, str) else f"document {number}: "


def _load_document(document: Any) -> tuple[ModelRollout | None, list[SpecIssue]]:
    if not isinstance(document, dict):
        kind = _YAML_KINDS.get(type(document).__name__, type(document).__name__)
        return None, [SpecIssue(path="", message=f"the document is {kind}, expected a ModelRollout object (a mapping)")]
    schema = _resource_schema()
    # Judge what the API server would: the document as it decodes it, with types checked as strictly.
    view, decoded = server_view(document, schema)
    issues = [SpecIssue(path=path, message=message) for path, message in decoded]
    try:
        rollout = ModelRollout.model_validate_json(json.dumps(view), strict=True)
    except ValidationError as exc:
        # The structural schema knows what pydantic's errors leave out: both bounds, enum values, field names.
        described = describe_errors(exc.errors(), schema)
        told = {issue.path for issue in issues}
        return None, issues + [SpecIssue(path=path, message=message) for path, message in described if path not in told]
    if issues:
        return None, issues
    issues = validate_spec(rollout.spec)
    return (None if issues else rollout), issues
