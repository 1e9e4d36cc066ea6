"""metadata is checked as the API server checks ObjectMeta, so validate refuses what kubectl apply would."""

from __future__ import annotations

from typing import Any

import pytest

from controller.api.objectmeta import metadata_problems


@pytest.mark.parametrize(
    "metadata",
    [
        {"name": "iris"},
        {"name": "a" * 253},
        {"name": "iris.v2-canary"},
        {"generateName": "iris-"},
        {"name": "iris", "namespace": "ml-prod"},
        {"name": "iris", "labels": {"app.kubernetes.io/name": "iris", "tier": "", "v": "1.2_rc-3"}},
        {"name": "iris", "annotations": {"example.com/note": "any text\nat all", "x": ""}},
        {"name": "iris", "uid": "1", "resourceVersion": "7", "generation": 2, "finalizers": []},
        "not a mapping: the model says so",
    ],
)
def test_what_the_api_server_accepts_passes(metadata: Any) -> None:
    assert metadata_problems(metadata) == []


@pytest.mark.parametrize(
    ("metadata", "path", "words"),
    [
        ({}, ".metadata.name", "is required"),
        ({"name": "Iris"}, ".metadata.name", "'Iris' is not a valid name"),
        ({"name": "a" * 254}, ".metadata.name", "at most 253 characters"),
        ({"name": 7}, ".metadata.name", "7 is not a string"),
        ({"generateName": "Iris-"}, ".metadata.generateName", "'Iris-' is not a valid name"),
        ({"name": "iris", "namespace": "ML"}, ".metadata.namespace", "'ML' is not a valid namespace"),
        ({"name": "iris", "labels": {"a": 1}}, ".metadata.labels.a", "1 is not a string; quote it"),
        ({"name": "iris", "labels": {"a b": "x"}}, ".metadata.labels.a b", "'a b' is not a valid key"),
        ({"name": "iris", "labels": {"a": "x" * 64}}, ".metadata.labels.a", "is not a valid label value"),
        ({"name": "iris", "labels": ["a"]}, ".metadata.labels", "is not a mapping"),
        ({"name": "iris", "annotations": {"-a": "x"}}, ".metadata.annotations.-a", "is not a valid key"),
        ({"name": "iris", "annotations": {"a": "x" * 300_000}}, ".metadata.annotations", "at most 262144"),
        ({"name": "iris", "lables": {}}, ".metadata.lables", "lables is not a known field here"),
    ],
)
def test_what_the_api_server_refuses_is_named(metadata: Any, path: str, words: str) -> None:
    found = metadata_problems(metadata)
    assert any(where == path and words in message for where, message in found), found
