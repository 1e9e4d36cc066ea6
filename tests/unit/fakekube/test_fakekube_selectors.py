"""Label and field selectors: the parser on its own, then through list calls of the official client."""

from __future__ import annotations

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.fakekube.errors import BadRequest
from tests.fakekube.selectors import ObjectFilter, parse_label_selector
from tests.unit.fakekube.sample_objects import configmap

LABELS = {"app": "model", "tier": "canary", "team": "ml"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=model", True),
        ("app==model", True),
        ("app=router", False),
        ("app=", False),
        ("app!=router", True),
        ("app!=model", False),
        ("absent!=x", True),
        ("team", True),
        ("absent", False),
        ("!absent", True),
        ("!team", False),
        ("tier in (stable, canary)", True),
        ("tier in (stable)", False),
        ("tier notin (stable,preview)", True),
        ("absent notin (x)", True),
        ("app=model,tier in (canary,stable),!absent", True),
        ("app=model, team=web", False),
        ("", True),
    ],
)
def test_label_selector_grammar(selector: str, expected: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is expected


@pytest.mark.parametrize("selector", ["=model", "app in stable", "app>1", "a=b,,c=d"])
def test_malformed_label_selectors_are_rejected_naming_the_term(selector: str) -> None:
    with pytest.raises(BadRequest, match="label selector"):
        parse_label_selector(selector)


def test_field_selectors_read_dotted_paths() -> None:
    obj = {"metadata": {"name": "cfg", "namespace": "default"}, "involvedObject": {"kind": "ModelRollout"}}
    assert ObjectFilter.parse(None, None, "metadata.name=cfg,involvedObject.kind=ModelRollout").matches(obj)
    assert not ObjectFilter.parse(None, None, "metadata.name!=cfg").matches(obj)
    assert not ObjectFilter.parse("other", None, None).matches(obj)
    with pytest.raises(BadRequest, match="field selector"):
        ObjectFilter.parse(None, None, "metadata.name")


def test_list_with_selectors_through_the_client(core: k8s.CoreV1Api) -> None:
    core.create_namespaced_config_map("default", configmap("stable", labels={"variant": "stable", "app": "m"}))
    core.create_namespaced_config_map("default", configmap("canary", labels={"variant": "canary", "app": "m"}))
    core.create_namespaced_config_map("default", configmap("plain"))

    def names(**selectors: str) -> list[str]:
        return [item.metadata.name for item in core.list_namespaced_config_map("default", **selectors).items]

    assert names(label_selector="app=m") == ["canary", "stable"]
    assert names(label_selector="app=m,variant!=canary") == ["stable"]
    assert names(label_selector="!app") == ["plain"]
    assert names(label_selector="variant in (canary,preview)") == ["canary"]
    assert names(field_selector="metadata.name=plain") == ["plain"]
    assert names(label_selector="app", field_selector="metadata.name!=stable") == ["canary"]
    with pytest.raises(ApiException) as caught:
        names(label_selector="app in stable")
    assert caught.value.status == 400
