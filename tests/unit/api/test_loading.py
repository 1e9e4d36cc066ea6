"""load_rollouts: YAML in, ModelRollouts out, or one error naming every problem; it never crashes."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.api.validation import InvalidRollouts, load_rollouts
from controller.errors import SpecError


def problems(text: str) -> list[str]:
    with pytest.raises(InvalidRollouts) as raised:
        load_rollouts(text, source="input.yaml")
    return [f"{label}{issue}" for label, issue in raised.value.problems]


def test_loads_every_document(example: Callable[[str], Any]) -> None:
    text = yaml.safe_dump_all([example("canary.yaml"), None, example("shadow.yaml")])
    assert [rollout.name for rollout in load_rollouts(text)] == ["iris-classifier", "churn-model"]


def test_yaml_syntax_error_names_line_and_column() -> None:
    assert problems("spec:\n  replicas: [1\n") == [
        "line 3, column 1: is not valid YAML: expected ',' or ']', but got '<stream end>'"
    ]


def test_empty_input_is_a_problem() -> None:
    assert problems("# nothing here\n") == ["the input holds no ModelRollout"]


def test_a_document_that_is_not_a_mapping() -> None:
    assert problems("- 1\n- 2\n") == ["the document is a list, expected a ModelRollout object (a mapping)"]


def test_another_kind_is_named() -> None:
    found = problems(yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {}}))
    assert ".kind: 'Deployment' is not allowed; expected 'ModelRollout'" in found
    assert ".apiVersion: 'apps/v1' is not allowed; expected 'modelrollout.io/v1alpha1'" in found


def test_problems_of_several_documents_are_labelled(example: Callable[[str], Any]) -> None:
    bad = example("canary.yaml")
    bad["spec"]["replicas"] = -1
    text = yaml.safe_dump_all([example("shadow.yaml"), bad, {"metadata": {}}])
    assert problems(text) == [
        "document 2 (iris-classifier): .spec.replicas: -1 is outside 0..1000",
        "document 3: .metadata.name: is required; the API server needs a name (or generateName) for the object",
        "document 3: .spec: is required",
    ]


@pytest.mark.parametrize("metadata", [["a"], "name", None, {"name": 7}])
def test_odd_metadata_in_a_multi_document_file_is_reported(metadata: Any) -> None:
    text = yaml.safe_dump_all([{"metadata": metadata}, {"metadata": {"name": "b"}}])
    found = problems(text)
    assert found[0].startswith("document 1: ") and found[-1] == "document 2 (b): .spec: is required"


def test_a_null_field_is_absent_as_the_api_server_prunes_it(example: Callable[[str], Any]) -> None:
    doc = example("canary.yaml")
    doc["spec"]["replicas"] = None
    doc["spec"]["router"] = {"sticky": None, "resources": {"limits": None}}
    (rollout,) = load_rollouts(yaml.safe_dump(doc))
    assert rollout.spec.replicas == 1 and rollout.spec.router.sticky is None


def test_a_null_list_item_is_refused_as_the_api_server_refuses_it(example: Callable[[str], Any]) -> None:
    doc = example("canary.yaml")
    doc["spec"]["strategy"]["canary"]["steps"].append(None)
    assert any(".spec.strategy.canary.steps[" in found and "null is not a mapping" in found for found in problems(yaml.safe_dump(doc)))


def test_status_in_a_manifest_is_ignored_as_on_create(example: Callable[[str], Any]) -> None:
    doc = example("canary.yaml")
    doc["status"] = {"phase": "Bogus"}
    (rollout,) = load_rollouts(yaml.safe_dump(doc))
    assert rollout.status.phase is None


def test_yaml_values_are_read_as_json_carries_them(example: Callable[[str], Any]) -> None:
    # An unquoted date is text once the document is JSON, as kubectl sends it to the API server.
    doc = example("canary.yaml")
    doc["spec"]["router"] = {"image": datetime.date(2024, 5, 1)}
    assert "image: 2024-05-01\n" in yaml.safe_dump(doc)
    (rollout,) = load_rollouts(yaml.safe_dump(doc))
    assert rollout.spec.router.image == "2024-05-01"


def test_the_error_reads_as_a_report(example: Callable[[str], Any]) -> None:
    bad = example("canary.yaml")
    bad["spec"]["strategy"]["canary"]["steps"][3]["setWeight"] = 140
    with pytest.raises(SpecError) as raised:
        load_rollouts(yaml.safe_dump(bad), source="canary.yaml")
    assert (
        str(raised.value) == "canary.yaml: 1 problem\n  .spec.strategy.canary.steps[3].setWeight: 140 is outside 0..100"
    )
    assert (raised.value.path, raised.value.message) == (
        ".spec.strategy.canary.steps[3].setWeight",
        "140 is outside 0..100",
    )


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


# No deadline: what is tested is that nothing crashes, and a loaded machine makes a YAML round trip slow.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.lists(st.integers(0, 8), min_size=1, max_size=6), value=JSON)
def test_any_change_to_a_good_spec_loads_or_is_reported(
    example: Callable[[str], Any], path: list[int], value: Any
) -> None:
    doc = example("drift-gated.yaml")
    node = doc
    for choice in path[:-1]:
        children = (
            list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(node, list) else []
        )
        containers = [(key, child) for key, child in children if isinstance(child, (dict, list))]
        if not containers:
            break
        node = containers[choice % len(containers)][1]
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    if keys:
        node[keys[path[-1] % len(keys)]] = value
    try:
        load_rollouts(yaml.safe_dump(doc))
    except SpecError as exc:
        assert str(exc).startswith("<input>: ") and exc.path is not None


@settings(deadline=None)
@given(st.text(max_size=200))
def test_any_text_loads_or_is_reported(text: str) -> None:
    try:
        load_rollouts(text)
    except SpecError as exc:
        assert str(exc)
