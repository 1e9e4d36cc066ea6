"""The generated CRD: committed as generated, structural, and carrying the resource's identity."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from controller.api.crd import PRINTER_COLUMNS, build_crd, structural_schema
from controller.cli.crd import render

CRD_PATH = Path(__file__).resolve().parents[3] / "manifests" / "crd" / "modelrollouts.yaml"
FORBIDDEN = {"$ref", "$defs", "oneOf", "allOf", "not", "title", "default", "nullable", "const", "propertyNames"}

Schema = dict[str, Any]


def structural_problems(node: Schema, path: str = "") -> Iterator[str]:
    """Why `node` is not a Kubernetes structural schema; nothing when it is."""
    for keyword in sorted(FORBIDDEN & set(node)):
        yield f"{path or '.'}: uses {keyword}"
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    if "anyOf" in node and not int_or_string:
        yield f"{path or '.'}: anyOf outside an int-or-string node"
    if "type" not in node and not int_or_string:
        yield f"{path or '.'}: has no type"
    if "properties" in node and "additionalProperties" in node:
        yield f"{path or '.'}: sets both properties and additionalProperties"
    if isinstance(node.get("additionalProperties"), bool):
        yield f"{path or '.'}: additionalProperties is a bool"
    for name in node.get("required", []):
        if name not in node.get("properties", {}):
            yield f"{path or '.'}: requires {name}, which is not a property"
    for key, child in node.get("properties", {}).items():
        yield from structural_problems(child, f"{path}.{key}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from structural_problems(node[key], f"{path}[*]" if key == "items" else f"{path}.*")


def nodes_with(node: Schema, keyword: str, path: str = "") -> Iterator[str]:
    if keyword in node:
        yield path
    for key, child in node.get("properties", {}).items():
        yield from nodes_with(child, keyword, f"{path}.{key}")
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            yield from nodes_with(node[key], keyword, f"{path}[*]" if key == "items" else f"{path}.*")


def test_committed_crd_is_the_generated_one() -> None:
    committed = CRD_PATH.read_text(encoding="utf-8")
    assert committed == render(), "manifests/crd/modelrollouts.yaml is stale: run `modelrollout crd` to regenerate it"


def test_rendering_is_deterministic_and_parses_back_to_the_crd() -> None:
    assert render() == render()
    assert yaml.safe_load(render()) == build_crd()


def test_schema_is_structural(openapi: Schema) -> None:
    assert list(structural_problems(openapi)) == []


def test_structural_checker_catches_what_pydantic_emits_raw() -> None:
    class Raw(BaseModel):
        count: int | None = None

    problems = list(structural_problems(Raw.model_json_schema()))
    assert ".: uses title" in problems
    assert ".count: anyOf outside an int-or-string node" in problems
    assert ".count: has no type" in problems


def test_only_the_pod_and_job_templates_keep_unknown_fields(openapi: Schema) -> None:
    # Kubernetes validates both where they land: on the Deployment and on the retraining Job.
    kept = list(nodes_with(openapi, "x-kubernetes-preserve-unknown-fields"))
    assert kept == [".spec.template", ".spec.monitoring.retraining.job"]
    assert openapi["properties"]["metadata"] == {"type": "object"}


def test_free_form_maps_are_typed_maps(openapi: Schema) -> None:
    spec = openapi["properties"]["spec"]["properties"]
    webhook = spec["analysis"]["properties"]["metrics"]["items"]["properties"]["webhook"]
    assert webhook["properties"]["headers"] == {"type": "object", "additionalProperties": {"type": "string"}}
    resources = spec["router"]["properties"]["resources"]
    assert sorted(resources["properties"]) == ["limits", "requests"]
    quantity = resources["properties"]["limits"]["additionalProperties"]
    assert quantity["x-kubernetes-int-or-string"] is True


def test_durations_are_strings_with_a_pattern(openapi: Schema) -> None:
    pause = openapi["properties"]["spec"]["properties"]["strategy"]["properties"]["canary"]["properties"]["steps"][
        "items"
    ]["properties"]["pause"]["properties"]["duration"]
    assert pause["type"] == "string"
    assert pause["minLength"] == 1
    assert pause["pattern"].startswith("^") and pause["pattern"].endswith("$")


def test_exclusive_bounds_use_the_openapi_v3_0_form(openapi: Schema) -> None:
    metric = openapi["properties"]["spec"]["properties"]["analysis"]["properties"]["metrics"]["items"]
    confidence = metric["properties"]["compare"]["properties"]["confidence"]
    assert confidence == {
        "type": "number",
        "minimum": 0.5,
        "exclusiveMinimum": True,
        "maximum": 1.0,
        "exclusiveMaximum": True,
    }


def test_weights_are_bounded_percents(openapi: Schema) -> None:
    step = openapi["properties"]["spec"]["properties"]["strategy"]["properties"]["canary"]["properties"]["steps"][
        "items"
    ]
    for field in ("setWeight", "setMirror"):
        node = step["properties"][field]
        assert (node["type"], node["minimum"], node["maximum"]) == ("integer", 0, 100)


def test_resource_identity(crd: Schema) -> None:
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "modelrollouts.modelrollout.io"
    assert (spec["group"], spec["scope"]) == ("modelrollout.io", "Namespaced")
    assert spec["names"]["kind"] == "ModelRollout"
    assert spec["names"]["plural"] == "modelrollouts"
    assert spec["names"]["shortNames"] == ["mr"]
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }


def test_scale_subresource_paths_are_fields_of_the_schema(crd: Schema, openapi: Schema) -> None:
    """An HPA reads and writes these paths: each must be a field the schema types as it expects."""
    scale = crd["spec"]["versions"][0]["subresources"]["scale"]
    expected = {"specReplicasPath": "integer", "statusReplicasPath": "integer", "labelSelectorPath": "string"}
    for key, kind in expected.items():
        _, top, field = scale[key].split(".")
        assert openapi["properties"][top]["properties"][field]["type"] == kind, key


def test_printer_columns_point_at_fields_the_schema_has(crd: Schema, openapi: Schema) -> None:
    columns = crd["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [column["name"] for column in columns] == ["Phase", "Step", "Traffic", "Stable", "Candidate", "Replicas", "Ready", "Age"]
    for column in columns[:-1]:
        _, top, field = column["jsonPath"].split(".")
        node = openapi["properties"][top]["properties"][field]
        assert column["type"] == node["type"], column["name"]
    assert columns[-1] == dict(PRINTER_COLUMNS[-1]) and columns[-1]["jsonPath"] == ".metadata.creationTimestamp"


def test_descriptions_are_kept_and_titles_dropped(openapi: Schema) -> None:
    spec = openapi["properties"]["spec"]
    assert "pod template" in spec["properties"]["template"]["description"].lower()
    assert "title" not in spec and "default" not in spec["properties"]["replicas"]


def test_a_union_with_no_structural_form_is_refused() -> None:
    class Ambiguous(BaseModel):
        threshold: float | str

    with pytest.raises(ValueError, match="no structural form for the union"):
        structural_schema(Ambiguous)


def test_an_untyped_field_is_refused() -> None:
    class Loose(BaseModel):
        anything: Any

    with pytest.raises(ValueError, match="no type in"):
        structural_schema(Loose)


def test_an_unknown_json_schema_keyword_is_refused() -> None:
    class Tuple(BaseModel):
        pair: tuple[int, int]

    with pytest.raises(ValueError, match="prefixItems"):
        structural_schema(Tuple)
