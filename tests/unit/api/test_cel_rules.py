"""The CRD's CEL rules accept exactly what the models accept.

Each rule is evaluated with cel-python on every combination of the fields it constrains; the
API server's verdict (schema plus CEL) must equal the model's, so a spec never passes
`kubectl apply` only to be refused by the controller, or the other way round.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from itertools import combinations, product
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

import controller.api as api
from controller.api.base import ApiModel
from controller.api.crd import CEL_RULES, structural_schema


def subsets(options: dict[str, Any]) -> Iterator[dict[str, Any]]:
    keys = list(options)
    for size in range(len(keys) + 1):
        for chosen in combinations(keys, size):
            yield {key: options[key] for key in chosen}


def model_accepts(model: type[ApiModel], value: dict[str, Any]) -> bool:
    try:
        model.model_validate(value)
    except ValidationError:
        return False
    return True


STRATEGIES = list(subsets({"shadow": {}, "canary": {"steps": [{"setWeight": 100}]}, "blueGreen": {}}))
STEPS = list(subsets({"setWeight": 10, "setMirror": 0, "pause": {}, "analysis": {"count": 2}, "setHeaderRoute": {}}))
SOURCES = list(
    subsets(
        {
            "router": {"metric": "errorRate"},
            "prometheus": {"address": "http://prometheus:9090", "query": "up"},
            "webhook": {"url": "http://judge/verdict"},
        }
    )
)
JUDGEMENTS = [
    {**bounds, **others}
    for bounds in ({}, {"min": 0.5}, {"max": 2}, {"min": 0.5, "max": 2}, {"min": 3, "max": 2}, {"min": 1, "max": 1})
    for others in subsets({"maxIncrease": {"percent": 10}, "compare": {"confidence": 0.9}})
]
METRICS = [{"name": "m", **source, **judgement} for source, judgement in product(SOURCES, JUDGEMENTS)]
# What compare can test and what minSamples can count depend on the one source.
ONE_SOURCE = [
    {"router": {"metric": "errorRate"}},
    {"router": {"metric": "requestRate"}},
    {"prometheus": {"address": "http://prometheus:9090", "query": 'up{v="{{variant}}"}'}},
    {"prometheus": {"address": "http://prometheus:9090", "query": "up", "samplesQuery": "count(up)"}},
    {"webhook": {"url": "http://judge/value"}},
]
SAMPLED = [
    {"name": "m", **source, **judgement, **samples}
    for source in ONE_SOURCE
    for judgement in ({"max": 1}, {"compare": {}})
    for samples in ({}, {"minSamples": 0}, {"minSamples": 100})
]
PORTS = [[{"port": 80 + index} for index in range(count)] for count in range(4)]
CASES: list[tuple[type[ApiModel], dict[str, Any]]] = [
    *((api.Strategy, value) for value in STRATEGIES),
    *((api.CanaryStep, value) for value in STEPS),
    *((api.MetricSpec, value) for value in METRICS),
    *((api.MetricSpec, value) for value in SAMPLED),
    *((api.ServiceSpec, {"ports": ports}) for ports in PORTS),
    (api.ServiceSpec, {}),
    *((api.MaxIncrease, value) for value in subsets({"absolute": 0.1, "percent": 5})),
    *((api.StickyKey, value) for value in subsets({"header": "x-user", "cookie": "session"})),
    *(
        (api.PrometheusSource, {"address": "https://prometheus:9090", "query": "up", **credentials})
        for credentials in subsets({
            "bearerToken": {"name": "prom", "key": "token"},
            "basicAuth": {"username": {"name": "prom", "key": "user"}, "password": {"name": "prom", "key": "pass"}},
        })
    ),
    *(
        (api.PredictionSpec, {**protocol, **path})
        for protocol in (
            {},
            {"protocol": "auto"},
            {"protocol": "kserve-v1"},
            {"protocol": "oip-v2"},
            {"protocol": "jsonpath"},
        )
        for path in ({}, {"jsonPath": "$.scores"})
    ),
]


@pytest.mark.parametrize(("model", "value"), CASES, ids=[f"{m.__name__}-{sorted(v)}" for m, v in CASES])
def test_cel_rules_agree_with_the_model(model: type[ApiModel], value: dict[str, Any], check_against: Any) -> None:
    check = check_against(structural_schema(model))
    assert (check.errors(value) == []) == model_accepts(model, value)


def test_the_cases_include_both_verdicts_for_every_ruled_model() -> None:
    for model in CEL_RULES:
        if model is api.TrafficSplit:
            continue  # covered by the property test below
        verdicts = {model_accepts(model, value) for case_model, value in CASES if case_model is model}
        assert verdicts == {True, False}, model.__name__


@given(
    stable=st.one_of(st.none(), st.integers(0, 100)),
    candidate=st.one_of(st.none(), st.integers(0, 100)),
)
def test_traffic_split_rule_agrees_with_the_model(
    stable: int | None, candidate: int | None, check_against: Any
) -> None:
    value = {key: weight for key, weight in (("stable", stable), ("candidate", candidate)) if weight is not None}
    check = check_against(structural_schema(api.TrafficSplit))
    assert (check.errors(value) == []) == model_accepts(api.TrafficSplit, value)


def test_every_model_with_a_cross_field_validator_has_cel_rules() -> None:
    ruled = {
        model
        for _name, model in inspect.getmembers(api, inspect.isclass)
        if issubclass(model, ApiModel) and model.__pydantic_decorators__.model_validators
    }
    assert ruled, "expected models with cross-field validators"
    assert ruled <= set(CEL_RULES), sorted(model.__name__ for model in ruled - set(CEL_RULES))


def test_cel_messages_are_one_sentence_naming_fields() -> None:
    for model, rules in CEL_RULES.items():
        fields = {field.alias or name for name, field in model.model_fields.items()}
        for rule in rules:
            assert rule.message.endswith(".") and ". " not in rule.message, rule.message
            assert any(field in rule.message for field in fields), rule.message


def test_rules_sit_on_the_objects_they_constrain(openapi: dict[str, Any]) -> None:
    strategy = openapi["properties"]["spec"]["properties"]["strategy"]
    assert "Exactly one strategy" in strategy["x-kubernetes-validations"][0]["message"]
    step = strategy["properties"]["canary"]["properties"]["steps"]["items"]
    assert "exactly one of setWeight" in step["x-kubernetes-validations"][0]["message"]
    traffic = openapi["properties"]["status"]["properties"]["traffic"]
    assert "sum to 100" in traffic["x-kubernetes-validations"][0]["message"]


def rules_in(node: dict[str, Any]) -> Iterator[str]:
    yield from (rule["rule"] for rule in node.get("x-kubernetes-validations", []))
    for child in node.get("properties", {}).values():
        yield from rules_in(child)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from rules_in(node[key])


def test_every_rule_reaches_the_resource_schema(openapi: dict[str, Any]) -> None:
    present = set(rules_in(openapi))
    missing = [rule.rule for rules in CEL_RULES.values() for rule in rules if rule.rule not in present]
    assert missing == []
