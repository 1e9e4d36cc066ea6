"""`kubectl modelrollout` verbs against the API stand-in: what they print and what they write."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from controller.cli import kubectl_main
from controller.engine.inputs import ManualAction
from controller.kube.manual import REQUEST_ANNOTATION, read_request
from tests.fakekube import FakeKube
from tests.integration.kube.scene import canary_document

pytestmark = pytest.mark.integration

STATUS = {
    "phase": "Progressing",
    "reason": "Analyzing",
    "message": "step 1 (analysis): error-rate 1/2 passed",
    "stableRevision": "aaaaaaaaaa",
    "candidateRevision": "bbbbbbbbbb",
    "currentStep": 1,
    "stepCount": 3,
    "trafficSummary": "70/30",
    "evidence": [{"metric": "error-rate", "scope": "step 1", "revision": "bbbbbbbbbb", "verdict": "Passed",
                  "reason": "error rate 0.01 <= 0.05", "time": "2025-03-01T12:00:00Z"}],
}  # fmt: skip


@pytest.fixture
def cluster() -> Iterator[FakeKube]:
    with FakeKube() as kube:
        created = kube.store.create("modelrollouts", "default", canary_document("demo", "model:v1", [{"setWeight": 100}]))
        kube.store.replace("modelrollouts", "default", "demo", {**created, "status": STATUS}, status=True)
        yield kube


def _run(cluster: FakeKube, *argv: str) -> int:
    return kubectl_main([*argv, "--kubeconfig", str(cluster.kubeconfig_path)])


def test_get_lists_phase_step_split_and_revisions(cluster: FakeKube, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(cluster, "get") == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    assert header.split() == ["NAME", "PHASE", "STEP", "TRAFFIC", "STABLE", "CANDIDATE", "REASON"]
    assert row.split() == ["demo", "Progressing", "2/3", "70/30", "aaaaaaaaaa", "bbbbbbbbbb", "Analyzing"]


def test_status_shows_the_message_and_the_evidence(cluster: FakeKube, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(cluster, "status", "demo", "-n", "default") == 0
    out = capsys.readouterr().out
    assert "default/demo: Progressing (Analyzing)" in out
    assert "error-rate 1/2 passed" in out
    assert "error-rate [step 1] Passed: error rate 0.01 <= 0.05" in out


@pytest.mark.parametrize("argv, action", [
    (["promote", "demo"], ManualAction.PROMOTE),
    (["promote", "demo", "--full"], ManualAction.PROMOTE_FULL),
    (["abort", "demo"], ManualAction.ABORT),
    (["pause", "demo"], ManualAction.PAUSE),
    (["resume", "demo"], ManualAction.RESUME),
    (["retry", "demo"], ManualAction.RETRY),
    (["undo", "demo"], ManualAction.UNDO),
])  # fmt: skip
def test_each_action_writes_one_request_and_leaves_the_spec_alone(cluster: FakeKube, argv: list[str], action: ManualAction) -> None:
    before = cluster.store.get("modelrollouts", "default", "demo")
    assert _run(cluster, *argv, "--no-wait") == 0
    after = cluster.store.get("modelrollouts", "default", "demo")
    request = read_request(after["metadata"])
    assert request is not None and request.action is action
    assert json.loads(after["metadata"]["annotations"][REQUEST_ANNOTATION])["id"] == request.id
    assert after["spec"] == before["spec"] and after["metadata"]["generation"] == before["metadata"]["generation"]


def test_an_unknown_rollout_is_named(cluster: FakeKube, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(cluster, "abort", "nope", "-n", "default") == 1
    assert "modelrollout default/nope not found" in capsys.readouterr().err
