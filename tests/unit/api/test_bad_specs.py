"""Bad specs, each caught where it should be and reported with the field that is wrong.

Four levels: the API server's own checks before the CRD's (metadata, JSON decoding), the
CRD's OpenAPI schema (the API server refuses the object), its CEL rules (refused too, with the
rule's message), and `validate_spec` (accepted by the API server, then reported as InvalidSpec).
At every level the models' loader names the same field. tests/integration/realkube runs every
case through the real API server too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import yaml

from controller.api import ModelRollout
from controller.api.validation import InvalidRollouts, load_rollouts, validate_spec
from controller.errors import SpecError

STEPS = ".spec.strategy.canary.steps"
METRIC = f"{STEPS}[1].analysis.metrics[0]"


def good() -> dict[str, Any]:
    """A sound canary: shadow first, then 20% and 100%."""
    return {
        "apiVersion": "modelrollout.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": "iris"},
        "spec": {
            "template": {"spec": {"containers": [{"name": "model", "image": "kserve/sklearnserver:v0.13.0"}]}},
            "strategy": {
                "canary": {
                    "steps": [
                        {"setMirror": 100},
                        {
                            "analysis": {
                                "metrics": [{"name": "agreement", "router": {"metric": "shadowAgreement"}, "min": 0.95}]
                            }
                        },
                        {"setMirror": 0},
                        {"setWeight": 20},
                        {"pause": {"duration": "1m"}},
                        {"setWeight": 100},
                    ]
                }
            },
        },
    }


DELETE = object()
Edit = Callable[[Any], Any] | object


def apply(doc: dict[str, Any], path: str, value: Edit) -> None:
    """Set the field at `.a.b[2].c` to `value`, remove it (DELETE), or replace it with `value(old)`."""
    keys = [int(index) if index else name for name, index in re.findall(r"\.([A-Za-z]+)|\[(\d+)\]", path)]
    node: Any = doc
    for key in keys[:-1]:
        node = node[key]
    last = keys[-1]
    if value is DELETE:
        del node[last]
    elif callable(value):
        node[last] = value(node[last])
    else:
        node[last] = value


@dataclass(frozen=True)
class Case:
    name: str
    level: Literal["server", "schema", "cel", "semantic"]
    edits: dict[str, Edit]
    path: str
    message: str
    # Where the API server reports it, when not at `path` (unknown and missing fields: the parent object).
    apiserver_path: str | None = None


PROMETHEUS = {"address": "http://prometheus:9090", "query": "sum(rate(errors_total[5m]))"}
PER_VARIANT = {"address": "http://prometheus:9090", "query": 'sum(rate(errors_total{variant="{{variant}}"}[5m]))'}
CASES = [
    Case(
        "unnamed",
        "server",
        {".metadata": {}},
        ".metadata.name",
        "is required",
    ),
    Case(
        "name with capitals",
        "server",
        {".metadata.name": "Iris"},
        ".metadata.name",
        "'Iris' is not a valid name",
    ),
    Case(
        "integer beyond 64 bits",
        "server",
        {f"{METRIC}.failureLimit": 2**63},
        f"{METRIC}.failureLimit",
        "the API server reads integers as 64-bit",
    ),
    Case(
        "weight above 100", "schema", {f"{STEPS}[3].setWeight": 140}, f"{STEPS}[3].setWeight", "140 is outside 0..100"
    ),
    Case(
        "misspelt field",
        "schema",
        {f"{STEPS}[3]": {"setWeigth": 20}},
        f"{STEPS}[3].setWeigth",
        "did you mean setWeight?",
        apiserver_path=f"{STEPS}[3]",
    ),
    Case(
        "bad duration",
        "schema",
        {f"{STEPS}[4].pause.duration": "5 minutes"},
        f"{STEPS}[4].pause.duration",
        "not a duration",
    ),
    Case(
        "unknown router metric",
        "schema",
        {f"{METRIC}.router.metric": "accurracy"},
        f"{METRIC}.router.metric",
        "expected one of",
    ),
    Case(
        "metric name", "schema", {f"{METRIC}.name": "Shadow_Agreement"}, f"{METRIC}.name", "does not match the pattern"
    ),
    Case("replicas not a number", "schema", {".spec.replicas": "three"}, ".spec.replicas", "'three' is not an integer"),
    Case("replicas as text", "schema", {".spec.replicas": "3"}, ".spec.replicas", "'3' is not an integer"),
    Case("replicas as a float", "schema", {".spec.replicas": 3.0}, ".spec.replicas", "3.0 is not an integer"),
    Case(
        "duration as a bare number",
        "schema",
        {f"{STEPS}[4].pause.duration": 60},
        f"{STEPS}[4].pause.duration",
        "60 is a number, not a duration; write it with a unit, e.g. 60s",
    ),
    Case(
        "duration with a space",
        "schema",
        {f"{STEPS}[4].pause.duration": " 1m"},
        f"{STEPS}[4].pause.duration",
        "' 1m' is not a duration",
    ),
    Case(
        "boolean as text",
        "schema",
        {".spec.router": {"headerRouting": "false"}},
        ".spec.router.headerRouting",
        "'false' is not true or false",
    ),
    Case(
        "threshold as text",
        "schema",
        {f"{METRIC}.min": "0.95"},
        f"{METRIC}.min",
        "'0.95' is not a number",
    ),
    Case(
        "prometheus address without a scheme",
        "schema",
        {f"{METRIC}.router": DELETE, f"{METRIC}.prometheus": {**PROMETHEUS, "address": "prometheus:9090"}},
        f"{METRIC}.prometheus.address",
        "is not an http(s) URL",
    ),
    Case(
        "webhook on another scheme",
        "schema",
        {f"{METRIC}.router": DELETE, f"{METRIC}.min": DELETE, f"{METRIC}.webhook": {"url": "ftp://judge/verdict"}},
        f"{METRIC}.webhook.url",
        "'ftp://judge/verdict' is not an http(s) URL",
    ),
    Case(
        "missing strategy",
        "schema",
        {".spec.strategy": DELETE},
        ".spec.strategy",
        "is required",
        apiserver_path=".spec",
    ),
    Case(
        "confidence of 1",
        "schema",
        {f"{METRIC}.min": DELETE, f"{METRIC}.compare": {"confidence": 1.0}},
        f"{METRIC}.compare.confidence",
        "expected a number less than 1",
    ),
    Case("two strategies", "cel", {".spec.strategy.blueGreen": {}}, ".spec.strategy", "exactly one strategy"),
    Case("step with two actions", "cel", {f"{STEPS}[4].setWeight": 50}, f"{STEPS}[4]", "exactly one of setWeight"),
    Case("metric with two sources", "cel", {f"{METRIC}.prometheus": PROMETHEUS}, METRIC, "exactly one source"),
    Case("metric without judgement", "cel", {f"{METRIC}.min": DELETE}, METRIC, "exactly one judgement"),
    Case("min above max", "cel", {f"{METRIC}.max": 0.5}, METRIC, "min 0.95 is greater than max 0.5"),
    Case(
        "compare on prometheus",
        "cel",
        {f"{METRIC}.router": DELETE, f"{METRIC}.min": DELETE, f"{METRIC}.prometheus": PER_VARIANT, f"{METRIC}.compare": {}},
        f"{METRIC}.compare",
        "needs a router source",
    ),
    Case(
        "compare on a webhook",
        "cel",
        {
            f"{METRIC}.router": DELETE,
            f"{METRIC}.min": DELETE,
            f"{METRIC}.webhook": {"url": "http://judge/value"},
            f"{METRIC}.compare": {},
        },
        f"{METRIC}.compare",
        "a webhook answers a value or a verdict",
    ),
    Case(
        "compare on requestRate",
        "cel",
        {f"{STEPS}[0].setMirror": 0, f"{METRIC}.router.metric": "requestRate", f"{METRIC}.min": DELETE, f"{METRIC}.compare": {}},
        f"{METRIC}.compare",
        "cannot test requestRate",
    ),
    Case(
        "minSamples without samplesQuery",
        "cel",
        {f"{METRIC}.router": DELETE, f"{METRIC}.prometheus": PROMETHEUS, f"{METRIC}.minSamples": 100},
        f"{METRIC}.minSamples",
        "nothing counts the samples",
    ),
    Case(
        "a second service port",
        "cel",
        {".spec.service": {"ports": [{"port": 80}, {"name": "grpc", "port": 9000, "targetPort": 9000}]}},
        ".spec.service.ports[1]",
        "the router carries one HTTP port",
        apiserver_path=".spec.service.ports",
    ),
    Case(
        "maxIncrease both ways",
        "cel",
        {f"{METRIC}.min": DELETE, f"{METRIC}.maxIncrease": {"absolute": 0.01, "percent": 5}},
        f"{METRIC}.maxIncrease",
        "exactly one of absolute or percent",
    ),
    Case(
        "sticky by header and cookie",
        "cel",
        {".spec.router": {"sticky": {"header": "x-user", "cookie": "sid"}}},
        ".spec.router.sticky",
        "exactly one of header or cookie",
    ),
    Case(
        "jsonPath without jsonpath",
        "cel",
        {".spec.router": {"predictions": {"jsonPath": "$.y"}}},
        ".spec.router.predictions",
        "jsonPath is required",
    ),
    Case("weights never reach 100", "semantic", {f"{STEPS}[5].setWeight": 60}, STEPS, "must reach setWeight 100"),
    Case(
        "analysis step without metrics",
        "semantic",
        {f"{STEPS}[1].analysis.metrics": DELETE},
        f"{STEPS}[1].analysis.metrics",
        "spec.analysis is absent",
    ),
    Case(
        "duplicate metric names",
        "semantic",
        {
            f"{STEPS}[1].analysis.metrics": lambda metrics: [
                *metrics,
                {**metrics[0], "router": {"metric": "shadowErrorRate"}},
            ]
        },
        f"{STEPS}[1].analysis.metrics[1].name",
        "already the name of metrics[0]",
    ),
    Case(
        "prometheus maxIncrease without {{variant}}",
        "semantic",
        {
            f"{METRIC}.router": DELETE,
            f"{METRIC}.min": DELETE,
            f"{METRIC}.prometheus": PROMETHEUS,
            f"{METRIC}.maxIncrease": {"absolute": 0.01},
        },
        f"{METRIC}.prometheus.query",
        "cannot tell stable from candidate",
    ),
    Case(
        "shadow metric without mirroring",
        "semantic",
        {f"{STEPS}[0].setMirror": 0},
        f"{METRIC}.router.metric",
        "needs mirrored traffic",
    ),
    Case(
        "predictionDrift with maxIncrease",
        "semantic",
        {
            f"{METRIC}.min": DELETE,
            f"{METRIC}.router.metric": "predictionDrift",
            f"{METRIC}.maxIncrease": {"percent": 10},
        },
        f"{METRIC}.maxIncrease",
        "bound it with min or max",
    ),
    Case(
        "template without containers",
        "semantic",
        {".spec.template": {"spec": {}}},
        ".spec.template.spec.containers",
        "at least one container",
    ),
    Case(
        "mirror after full weight",
        "semantic",
        {STEPS: lambda steps: [*steps, {"setMirror": 10}]},
        f"{STEPS}[6].setMirror",
        "already serves all traffic",
    ),
    Case(
        "weight going down",
        "semantic",
        {STEPS: lambda steps: [*steps[:4], {"setWeight": 10}, *steps[4:]]},
        f"{STEPS}[4].setWeight",
        "must not decrease",
    ),
    Case(
        "header route with header routing off",
        "semantic",
        {
            ".spec.router": {"headerRouting": False},
            STEPS: lambda steps: [*steps[:3], {"setHeaderRoute": {}}, *steps[3:]],
        },
        f"{STEPS}[3].setHeaderRoute",
        "headerRouting",
    ),
    Case(
        "zero interval",
        "semantic",
        {f"{STEPS}[1].analysis.interval": "0s"},
        f"{STEPS}[1].analysis.interval",
        "above 0s",
    ),
]


def broken(case: Case) -> dict[str, Any]:
    doc = good()
    for path, value in case.edits.items():
        apply(doc, path, value)
    return doc


def test_the_base_spec_is_good(apiserver: Any) -> None:
    doc = good()
    assert apiserver.errors(doc) == []
    assert validate_spec(ModelRollout.model_validate(doc).spec) == []


def test_cases_are_distinct_and_cover_every_level() -> None:
    assert len({case.path + case.message for case in CASES}) == len(CASES) >= 10
    assert {case.level for case in CASES} == {"server", "schema", "cel", "semantic"}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_loader_names_the_field(case: Case) -> None:
    with pytest.raises(InvalidRollouts) as raised:
        load_rollouts(yaml.safe_dump(broken(case)), source="rollout.yaml")
    found = {str(issue) for issue in raised.value.issues}
    assert any(text.startswith(f"{case.path}: ") and case.message in text for text in found), found
    assert f"{case.path}: " in str(raised.value)
    assert isinstance(raised.value, SpecError)


# The stand-in checks the CRD only; the real server's own checks run in tests/integration/realkube.
@pytest.mark.parametrize("case", [c for c in CASES if c.level != "server"], ids=lambda c: c.name)
def test_the_api_server_refuses_exactly_schema_and_cel_problems(case: Case, apiserver: Any) -> None:
    errors = apiserver.errors(broken(case))
    if case.level == "semantic":
        assert errors == [], "semantic problems pass the CRD and are reported as InvalidSpec"
        return
    where = case.apiserver_path or case.path
    assert any(error.startswith(f"{where}: ") for error in errors), errors


@pytest.mark.parametrize("case", [c for c in CASES if c.level == "cel"], ids=lambda c: c.name)
def test_cel_problems_get_the_rules_sentence(case: Case, apiserver: Any) -> None:
    errors = apiserver.errors(broken(case))
    where = case.apiserver_path or case.path
    assert len(errors) == 1 and errors[0].startswith(f"{where}: ") and errors[0].endswith("."), errors


@pytest.mark.parametrize("case", [c for c in CASES if c.level == "semantic"], ids=lambda c: c.name)
def test_semantic_problems_come_from_validate_spec(case: Case) -> None:
    issues = validate_spec(ModelRollout.model_validate(broken(case)).spec)
    assert [issue.path for issue in issues] == [case.path]
