"""`modelrollout validate` and the real API server give every document the same verdict.

Each example, each bad-spec case of tests/unit/api/test_bad_specs.py and each edge below goes
through the loader `modelrollout validate` uses and through a server-side dry run of a create
(strict field validation, as `kubectl apply` asks) with the working tree's CRD installed. Where
the server can judge, the verdicts must match. What only the controller can judge (a spec the
schema and CEL rules cannot see is wrong) is listed in CONTROLLER_ONLY: the server stores it
and the engine's own check finds the problem, which it reports as InvalidSpec.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from controller.api import ModelRollout
from controller.api.resource import GROUP, PLURAL, VERSION
from controller.api.validation import InvalidRollouts, load_rollouts
from controller.engine.validity import checked_steps
from tests.controlplane import ControlPlane
from tests.integration.realkube.realkit import REPO_ROOT
from tests.unit.api.test_bad_specs import CASES, DELETE, METRIC, STEPS, Case, apply, broken, good

pytestmark = pytest.mark.integration

EXAMPLES = sorted((REPO_ROOT / "manifests" / "examples").glob("*.yaml"))

# Accepted by the API server, refused by the controller with InvalidSpec: the schema and CEL
# rules cannot follow weights across steps, names across a list, or where mirroring flows.
CONTROLLER_ONLY = {
    "weights never reach 100",
    "analysis step without metrics",
    "duplicate metric names",
    "prometheus maxIncrease without {{variant}}",
    "shadow metric without mirroring",
    "predictionDrift with maxIncrease",
    "template without containers",
    "mirror after full weight",
    "weight going down",
    "header route with header routing off",
    "zero interval",
}

WEBHOOK = {"url": "http://judge.ml:8080/value"}
# Documents near an edge of what is allowed: (name, edits to the good spec, accepted by both?).
EDGES: list[tuple[str, dict[str, Any], bool]] = [
    ("null for an optional field is absent", {".spec.replicas": None, ".spec.router": {"sticky": None}}, True),
    ("null map value is absent", {f"{METRIC}.router": DELETE, f"{METRIC}.webhook": {**WEBHOOK, "headers": {"x": None}}}, True),
    ("null required field is missing", {".spec.strategy": None}, False),
    ("null list item", {STEPS: lambda steps: [*steps, None]}, False),
    ("status is ignored on create", {".status": {"phase": "Bogus"}}, True),
    ("largest 64-bit integer", {f"{METRIC}.failureLimit": 2**63 - 1}, True),
    ("integer-valued float for an integer", {f"{STEPS}[3].setWeight": 20.0}, False),
    ("integer for a number", {f"{METRIC}.min": 1}, True),
    ("float for a quantity", {".spec.router": {"resources": {"limits": {"cpu": 0.5}}}}, False),
    ("integer for a quantity", {".spec.router": {"resources": {"limits": {"cpu": 1}}}}, True),
    ("number for a boolean", {".spec.router": {"headerRouting": 0}}, False),
    ("number for a text field", {".spec.router": {"image": 7}}, False),
    ("duration with a trailing newline", {f"{STEPS}[4].pause.duration": "1m\n"}, False),
    ("duration in other digits", {f"{STEPS}[4].pause.duration": "\uff11m"}, False),
    ("duration of every unit", {f"{STEPS}[4].pause.duration": "1h2m3s400ms"}, True),
    ("bare-number timeout", {".spec.router": {"timeout": 30}}, False),
    ("url with IPv6 host and port", {f"{METRIC}.router": DELETE, f"{METRIC}.webhook": {"url": "http://[::1]:8080/v"}}, True),
    ("url with a query and no path", {f"{METRIC}.router": DELETE, f"{METRIC}.webhook": {"url": "https://judge?x=1"}}, True),
    ("url with a port past 65535", {f"{METRIC}.router": DELETE, f"{METRIC}.webhook": {"url": "http://judge:65536/"}}, False),
    ("url with credentials", {f"{METRIC}.router": DELETE, f"{METRIC}.webhook": {"url": "http://u:p@judge/"}}, False),
    ("url with a space", {f"{METRIC}.router": DELETE, f"{METRIC}.webhook": {"url": "http://judge/a b"}}, False),
    ("one service port", {".spec.service": {"ports": [{"name": "http", "port": 8080, "targetPort": 9000}]}}, True),
    ("no service port", {".spec.service": {"ports": []}}, False),
    ("compare on a router distribution", {f"{METRIC}.router.metric": "latency", f"{METRIC}.min": DELETE, f"{METRIC}.compare": {}}, True),
    (
        "minSamples with a samples query",
        {
            f"{METRIC}.router": DELETE,
            f"{METRIC}.prometheus": {"address": "http://prom:9090", "query": "q", "samplesQuery": "c"},
            f"{METRIC}.minSamples": 10,
        },
        True,
    ),
    ("minSamples on a webhook", {f"{METRIC}.router": DELETE, f"{METRIC}.webhook": WEBHOOK, f"{METRIC}.minSamples": 10}, True),
    ("generateName instead of a name", {".metadata": {"generateName": "iris-"}}, True),
    ("name of 253 characters", {".metadata.name": "a" * 253}, True),
    ("name of 254 characters", {".metadata.name": "a" * 254}, False),
    ("generateName with capitals", {".metadata": {"generateName": "Iris-"}}, False),
    ("labels of every allowed shape", {".metadata.labels": {"app.kubernetes.io/name": "iris", "tier": "", "v": "1.2_rc-3"}}, True),
    ("label value as a number", {".metadata.labels": {"version": 2}}, False),
    ("label key with a space", {".metadata.labels": {"a b": "x"}}, False),
    ("label value of 64 characters", {".metadata.labels": {"a": "x" * 64}}, False),
    ("annotation of any text", {".metadata.annotations": {"example.com/note": "any text\nat all"}}, True),
    ("annotation key starting with '-'", {".metadata.annotations": {"-a": "x"}}, False),
    ("misspelt metadata field", {".metadata.lables": {"a": "b"}}, False),
]


@pytest.fixture
def dry_run(control_plane: ControlPlane, crd: None, real_namespace: str) -> Any:
    """The real API server's verdict on creating a document: None when accepted, else its message."""
    with control_plane.api_client() as api_client:
        api = k8s.CustomObjectsApi(api_client)

        def verdict(document: dict[str, Any]) -> str | None:
            try:
                api.create_namespaced_custom_object(
                    GROUP, VERSION, real_namespace, PLURAL, document, dry_run="All", field_validation="Strict"
                )
            except ApiException as exc:
                if exc.status not in (400, 422):
                    raise
                return str(json.loads(exc.body).get("message", exc.body))
            return None

        yield verdict


def validate(document: dict[str, Any]) -> list[str]:
    """What `modelrollout validate` reports for the document: nothing when it is sound."""
    try:
        load_rollouts(yaml.safe_dump(document), source="rollout.yaml")
    except InvalidRollouts as exc:
        return [str(issue) for issue in exc.issues]
    return []


def edited(edits: dict[str, Any]) -> dict[str, Any]:
    doc = good()
    for path, value in edits.items():
        apply(doc, path, value)
    return doc


def test_controller_only_cases_are_exactly_the_semantic_ones() -> None:
    assert CONTROLLER_ONLY == {case.name for case in CASES if case.level == "semantic"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.name for path in EXAMPLES])
def test_every_example_passes_both(path: Path, dry_run: Callable[[dict[str, Any]], str | None]) -> None:
    text = path.read_text(encoding="utf-8")
    assert [rollout.name for rollout in load_rollouts(text, source=path.name)]
    for document in yaml.safe_load_all(text):
        assert dry_run(document) is None


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_bad_spec_gets_the_same_verdict(case: Case, dry_run: Callable[[dict[str, Any]], str | None]) -> None:
    document = broken(case)
    found = validate(document)
    assert any(text.startswith(f"{case.path}: ") and case.message in text for text in found), found
    refusal = dry_run(copy.deepcopy(document))
    if case.name in CONTROLLER_ONLY:
        assert refusal is None, f"the API server now judges {case.name!r}: move it out of CONTROLLER_ONLY"
        _steps, issues = checked_steps(ModelRollout.model_validate(document).spec)
        assert [issue.path for issue in issues] == [case.path], "the engine reports it as InvalidSpec"
    else:
        assert refusal is not None, f"validate refuses {case.name!r} ({found}) but the API server accepts it"


@pytest.mark.parametrize(("name", "edits", "accepted"), EDGES, ids=[name for name, _edits, _accepted in EDGES])
def test_edge_documents_get_the_same_verdict(
    name: str, edits: dict[str, Any], accepted: bool, dry_run: Callable[[dict[str, Any]], str | None]
) -> None:
    document = edited(edits)
    refusal, found = dry_run(copy.deepcopy(document)), validate(document)
    assert (refusal is None, found == []) == (accepted, accepted), f"server: {refusal}; validate: {found}"
