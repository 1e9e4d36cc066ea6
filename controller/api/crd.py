"""The ModelRollout CustomResourceDefinition, generated from the API models.

pydantic's JSON Schema is turned into a Kubernetes *structural* schema: references inlined,
`X | None` reduced to X, titles and defaults dropped (the models apply defaults, so GitOps
diffs stay clean), free-form maps marked as such, and every cross-field rule the models
enforce added as a CEL `x-kubernetes-validations` rule on the object it constrains.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from controller.api.base import ApiModel
from controller.api.metrics import UNCOMPARABLE_METRICS, MaxIncrease, MetricSpec, PrometheusSource
from controller.api.resource import GROUP, KIND, PLURAL, SHORT_NAME, VERSION, ModelRollout
from controller.api.spec import CanaryStep, PredictionSpec, ServiceSpec, StickyKey, Strategy
from controller.api.status import TrafficSplit

__all__ = ["CelRule", "CEL_RULES", "PRINTER_COLUMNS", "build_crd", "openapi_schema", "structural_schema"]

Schema = dict[str, Any]


class CelRule(BaseModel):
    """One `x-kubernetes-validations` entry: a CEL expression over `self` and the sentence shown when it fails."""

    model_config = ConfigDict(frozen=True)

    rule: str
    message: str
    # Where the API server reports a failure, below the object the rule sits on (".compare").
    field_path: str | None = None

    def to_schema(self) -> Schema:
        located = {"fieldPath": self.field_path} if self.field_path else {}
        return {"rule": self.rule, "message": self.message, **located}


def _count(*fields: str) -> str:
    return " + ".join(f"(has(self.{field}) ? 1 : 0)" for field in fields)


_JUDGEMENTS = "(has(self.min) || has(self.max) ? 1 : 0) + " + _count("maxIncrease", "compare")
_UNCOMPARABLE = ", ".join(f"'{metric.value}'" for metric in sorted(UNCOMPARABLE_METRICS))

# Keyed by model: each model validator has its CEL twin here, so the API server rejects what the models reject.
CEL_RULES: dict[type[ApiModel], tuple[CelRule, ...]] = {
    Strategy: (
        CelRule(
            rule=f"{_count('shadow', 'canary', 'blueGreen')} == 1",
            message="Exactly one strategy of shadow, canary or blueGreen must be set.",
        ),
    ),
    CanaryStep: (
        CelRule(
            rule=f"{_count('setWeight', 'setMirror', 'pause', 'analysis', 'setHeaderRoute')} == 1",
            message="A canary step must set exactly one of setWeight, setMirror, pause, analysis or setHeaderRoute.",
        ),
    ),
    MetricSpec: (
        CelRule(
            rule=f"{_count('router', 'prometheus', 'webhook')} == 1",
            message="A metric must set exactly one source of router, prometheus or webhook.",
        ),
        CelRule(
            rule=f"{_JUDGEMENTS} <= 1",
            message="A metric may set only one judgement kind of min/max, maxIncrease or compare.",
        ),
        CelRule(
            rule=f"{_JUDGEMENTS} == 1 || has(self.webhook)",
            message=(
                "A metric must set a judgement of min/max, maxIncrease or compare unless its webhook returns a verdict."
            ),
        ),
        CelRule(
            rule="!has(self.min) || !has(self.max) || self.min <= self.max",
            message="A metric's min must not be greater than its max.",
        ),
        CelRule(
            rule="!has(self.compare) || has(self.router)",
            message=(
                "compare needs a router source: a statistical test needs events out of a count or a distribution"
                " per variant, which prometheus and webhook do not give, so use maxIncrease or min/max."
            ),
            field_path=".compare",
        ),
        CelRule(
            rule=f"!has(self.compare) || !has(self.router) || !(self.router.metric in [{_UNCOMPARABLE}])",
            message=(
                f"compare cannot test {_UNCOMPARABLE.replace(chr(39), '')}, one number per variant with no events"
                " or distribution, so use maxIncrease or min/max."
            ),
            field_path=".compare",
        ),
        CelRule(
            rule="!has(self.minSamples) || !has(self.prometheus) || has(self.prometheus.samplesQuery)",
            message=(
                "minSamples on a prometheus source needs prometheus.samplesQuery, which counts the samples"
                " behind the value."
            ),
            field_path=".minSamples",
        ),
    ),
    PrometheusSource: (
        CelRule(
            rule="!has(self.bearerToken) || !has(self.basicAuth)",
            message="prometheus sets one of bearerToken or basicAuth, not both: a request carries one Authorization header.",
            field_path=".basicAuth",
        ),
    ),
    ServiceSpec: (
        CelRule(
            rule="!has(self.ports) || size(self.ports) <= 1",
            message=(
                "ports holds one port: the router carries one HTTP port (HTTP/1.1), so a second port would end at"
                " the router's single port."
            ),
            field_path=".ports",
        ),
    ),
    MaxIncrease: (
        CelRule(
            rule=f"{_count('absolute', 'percent')} == 1",
            message="maxIncrease must set exactly one of absolute or percent.",
        ),
    ),
    StickyKey: (
        CelRule(
            rule=f"{_count('header', 'cookie')} == 1",
            message="sticky must set exactly one of header or cookie.",
        ),
    ),
    PredictionSpec: (
        CelRule(
            rule="(has(self.protocol) && self.protocol == 'jsonpath') == has(self.jsonPath)",
            message="predictions.jsonPath must be set when protocol is jsonpath, and only then.",
        ),
    ),
    TrafficSplit: (
        CelRule(
            rule="(has(self.stable) ? self.stable : 100) + (has(self.candidate) ? self.candidate : 0) == 100",
            message="traffic stable and candidate weights must sum to 100.",
        ),
    ),
}

PRINTER_COLUMNS: tuple[Schema, ...] = (
    {
        "name": "Phase",
        "type": "string",
        "jsonPath": ".status.phase",
        "description": "Progressing, Paused, Healthy or Degraded.",
    },
    {
        "name": "Step",
        "type": "integer",
        "jsonPath": ".status.currentStep",
        "description": "Index of the current rollout step.",
    },
    {
        "name": "Traffic",
        "type": "string",
        "jsonPath": ".status.trafficSummary",
        "description": "Stable/candidate weights and mirror percent.",
    },
    {
        "name": "Stable",
        "type": "string",
        "jsonPath": ".status.stableRevision",
        "description": "Revision serving live traffic.",
    },
    {
        "name": "Candidate",
        "type": "string",
        "jsonPath": ".status.candidateRevision",
        "description": "Revision being rolled out.",
    },
    {
        "name": "Replicas",
        "type": "integer",
        "jsonPath": ".status.replicas",
        "description": "Model pods of every revision (the scale subresource's status).",
    },
    {
        "name": "Ready",
        "type": "integer",
        "jsonPath": ".status.readyReplicas",
        "description": "Ready model pods of every revision.",
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
)

# JSON Schema keywords that carry over to a structural schema unchanged.
_KEPT = (
    "description",
    "enum",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
)
# Handled by the converter, or dropped on purpose: titles are noise and defaults are applied by the models.
_HANDLED = frozenset(
    {"type", "properties", "required", "items", "additionalProperties", "propertyNames", "const"}
    | {"exclusiveMinimum", "exclusiveMaximum", "title", "default"}
)
_ROOT_FIELDS: dict[str, Schema] = {
    "apiVersion": {"type": "string", "description": f"Always {GROUP}/{VERSION}."},
    "kind": {"type": "string", "description": f"Always {KIND}."},
    "metadata": {"type": "object"},
}


class _Converter:
    """Inlines pydantic's `$defs` into one structural schema, attaching CEL rules by model name."""

    def __init__(self, defs: dict[str, Schema]) -> None:
        self._defs = defs
        self._rules = {model.__name__: rules for model, rules in CEL_RULES.items()}

    def convert(self, node: Schema) -> Schema:
        node, rules = self._unwrap(node)
        if _is_int_or_string(node):
            return {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}
        out = self._keywords(node)
        out.update(self._shape(node))
        if rules:
            out["x-kubernetes-validations"] = [rule.to_schema() for rule in rules]
        return out

    def _unwrap(self, node: Schema) -> tuple[Schema, tuple[CelRule, ...]]:
        """Inline `$ref`s and reduce `X | None` to X, keeping sibling keywords such as a field description."""
        rules: tuple[CelRule, ...] = ()
        while "$ref" in node or "anyOf" in node:
            siblings = {key: value for key, value in node.items() if key not in ("$ref", "anyOf")}
            if "$ref" in node:
                name = node["$ref"].rsplit("/", 1)[-1]
                rules += self._rules.get(name, ())
                node = {**self._defs[name], **siblings}
                continue
            options = [option for option in node["anyOf"] if option.get("type") != "null"]
            if _is_int_or_string({"anyOf": options}):
                return {"anyOf": options, **siblings}, rules
            if len(options) != 1:
                raise ValueError(f"no structural form for the union {node['anyOf']!r}; use one type or X | None")
            node = {**options[0], **siblings}
        return node, rules

    def _keywords(self, node: Schema) -> Schema:
        unknown = set(node) - set(_KEPT) - _HANDLED
        if unknown:
            raise ValueError(f"no structural form for the JSON Schema keywords {sorted(unknown)} in {node!r}")
        if "type" not in node:
            raise ValueError(f"no type in {node!r}; a structural schema types every field (free-form: dict[str, Any])")
        out: Schema = {"type": node["type"]}
        out.update({key: node[key] for key in _KEPT if key in node})
        if "const" in node:
            out["enum"] = [node["const"]]
        for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if flag in node:  # OpenAPI v3.0 writes an exclusive bound as the bound plus a flag
                out[bound] = node[flag]
                out[flag] = True
        return out

    def _shape(self, node: Schema) -> Schema:
        if node["type"] == "array":
            return {"items": self.convert(node["items"])}
        if node["type"] != "object":
            return {}
        if "properties" in node:
            required = {"required": node["required"]} if node.get("required") else {}
            return {"properties": {key: self.convert(value) for key, value in node["properties"].items()}, **required}
        extra = node.get("additionalProperties", True)
        if extra is True or extra == {}:
            return {"x-kubernetes-preserve-unknown-fields": True}
        if "propertyNames" in node:  # a map with a fixed key set is an object with those properties
            return {"properties": {key: self.convert(extra) for key in node["propertyNames"]["enum"]}}
        return {"additionalProperties": self.convert(extra)}


def _is_int_or_string(node: Schema) -> bool:
    """`int | str` (a quantity such as 2 or "500m") has a structural form of its own."""
    return sorted(option.get("type", "") for option in node.get("anyOf", ())) == ["integer", "string"]


def structural_schema(model: type[BaseModel]) -> Schema:
    """The structural OpenAPI v3 schema of one API model, as the CRD carries it."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    defs = schema.pop("$defs", {})
    # The model itself becomes a definition too, so its own CEL rules attach like any referenced model's.
    return _Converter({**defs, model.__name__: schema}).convert({"$ref": f"#/$defs/{model.__name__}"})


def openapi_schema() -> Schema:
    """The whole resource's schema: spec and status from the models, the usual object envelope."""
    schema = structural_schema(ModelRollout)
    schema["properties"].update(_ROOT_FIELDS)
    schema["properties"] = {
        key: schema["properties"][key] for key in ("apiVersion", "kind", "metadata", "spec", "status")
    }
    return schema


def build_crd() -> Schema:
    """The apiextensions.k8s.io/v1 CustomResourceDefinition for ModelRollout, in a stable key order."""
    version = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": openapi_schema()},
        # scale: an HPA (or kubectl scale) sets spec.replicas; the controller splits it over the revisions.
        "subresources": {
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".status.selector",
            },
        },
        "additionalPrinterColumns": [dict(column) for column in PRINTER_COLUMNS],
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}", "labels": {"app.kubernetes.io/part-of": "modelrollout"}},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": [SHORT_NAME],
                # A workload like a Deployment, so `kubectl get all` lists it.
                "categories": ["all"],
            },
            "scope": "Namespaced",
            "versions": [version],
        },
    }
