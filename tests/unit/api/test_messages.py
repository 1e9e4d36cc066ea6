"""pydantic errors as sentences: the full field path, the bad value, what was expected."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from controller.api import ModelRollout
from controller.api.crd import openapi_schema
from controller.api.messages import describe_errors, show_value

TEMPLATE = {"spec": {"containers": [{"name": "model", "image": "m:1"}]}}


def described(spec: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        ModelRollout.model_validate({"spec": {"template": TEMPLATE, "strategy": {"blueGreen": {}}, **spec}})
    return [f"{path}: {sentence}" for path, sentence in describe_errors(raised.value.errors(), openapi_schema())]


def test_a_value_no_union_member_takes_gets_one_sentence() -> None:
    assert described({"router": {"resources": {"limits": {"cpu": [1]}}}}) == [
        ".spec.router.resources.limits.cpu: [1] is not a string or an integer"
    ]


def test_an_unknown_map_key_is_named_with_the_allowed_ones() -> None:
    assert described({"router": {"resources": {"limitz": {"cpu": 1}}}}) == [
        ".spec.router.resources.limitz: 'limitz' is not an allowed key here; expected 'limits' or 'requests'"
    ]


def test_an_unknown_field_far_from_any_lists_the_known_ones() -> None:
    assert described({"service": {"ports": [{"port": 80, "protocol": "TCP"}]}}) == [
        ".spec.service.ports[0].protocol: protocol is not a known field here; expected one of name, port, targetPort"
    ]


def test_a_one_sided_bound_says_which_side() -> None:
    assert described({"router": {"replicas": 0, "maxBodyBytes": 0}}) == [
        ".spec.router.replicas: 0 is outside 1..100",
        ".spec.router.maxBodyBytes: 0 is not allowed; expected a number at least 1",
    ]


def test_map_values_are_checked_by_key() -> None:
    webhook = {"url": "http://judge/verdict", "headers": {"x-token": 7}}
    found = described({"analysis": {"metrics": [{"name": "judge", "webhook": webhook}]}})
    assert found == [".spec.analysis.metrics[0].webhook.headers.x-token: 7 is not a string"]


def test_a_wrong_shape_names_what_was_expected() -> None:
    assert described({"service": "http"}) == [".spec.service: 'http' is not a mapping of fields"]
    assert described({"router": {"headerRouting": "maybe"}}) == [
        ".spec.router.headerRouting: 'maybe' is not true or false"
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [("text", "'text'"), (None, "null"), (3, "3"), (True, "true"), (False, "false"), ("x" * 100, "'" + "x" * 56 + "...")],
)
def test_values_are_shown_as_written_and_cut_short(value: object, shown: str) -> None:
    assert show_value(value) == shown


def test_a_model_validators_finding_is_placed_at_the_field_it_names() -> None:
    ports = [{"port": 80}, {"name": "grpc", "port": 9000, "targetPort": 9000}]
    (found,) = described({"service": {"ports": ports}})
    assert found.startswith(".spec.service.ports[1]: grpc (port 9000) is a second port; the router carries one HTTP port")
