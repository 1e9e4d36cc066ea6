"""`kubectl modelrollout` as a pipeline uses it, against the real control plane with a real controller and routers.

Every verb is run as its own process; each test checks exit codes, what goes to stdout and what
to stderr: `wait` ending 0 on promotion, 1 on rollback, 2 on timeout; actions waiting for the
controller's answer, refused when the controller refuses or when an earlier request is unhandled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from controller.api.resource import revision_of
from tests.integration.cli.kubectl import finish, kubectl, start_kubectl
from tests.integration.kube.conftest import BAD, GOOD, REAL_ONLY, STABLE
from tests.integration.kube.scene import Scene, canary_document, template

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

# A pause with no duration waits for a promote: the rollout holds there until asked.
PAUSING: list[dict[str, Any]] = [{"setWeight": 30}, {"pause": {}}, {"setWeight": 100}]
ANALYSED: list[dict[str, Any]] = [{"setWeight": 30}, {"analysis": {"interval": "1s", "count": 2}}, {"setWeight": 100}]


async def _stable_with_traffic(scene: Scene, steps: list[dict[str, Any]]) -> None:
    await scene.start_controller()
    scene.apply(canary_document("demo", STABLE, steps))
    await scene.wait_for("demo Healthy", lambda: scene.status("demo").get("phase") == "Healthy")
    await scene.start_router("demo", 0)
    scene.start_traffic()


@REAL_ONLY
async def test_wait_ends_0_on_promotion_printing_each_step_and_actions_print_the_controllers_answer(scene: Scene, tmp_path: Path) -> None:
    await _stable_with_traffic(scene, PAUSING)
    scene.apply(canary_document("demo", GOOD, PAUSING))
    waiting = await start_kubectl(scene, "wait", "demo", "--for=promoted", "--timeout", "4m")
    await scene.wait_for(
        "the pause step", lambda: scene.status("demo").get("currentStep") == 1 and scene.status("demo").get("phase") == "Paused"
    )

    timed_out = await kubectl(scene, "wait", "demo", "--for", "promoted", "--timeout", "2s")
    assert timed_out.code == 2, timed_out
    assert "timed out after 2s waiting for" in timed_out.err and "step 2/4 (pause until promoted)" in timed_out.err

    paused = await kubectl(scene, "pause", "demo")
    assert paused.code == 0, paused
    assert "pause requested" in paused.out and "pause done: paused by request" in paused.out
    again = await kubectl(scene, "pause", "demo")
    assert again.code == 1 and "the controller refused pause" in again.err and "already paused by request" in again.err, again
    resumed = await kubectl(scene, "resume", "demo")
    assert resumed.code == 0 and "resume done: resumed by request" in resumed.out, resumed

    promoted = await kubectl(scene, "promote", "demo")
    assert promoted.code == 0 and "promote done" in promoted.out, promoted
    waited = await finish(waiting)
    assert waited.code == 0, waited
    # Started once the new spec was applied, the wait sees the rollout from its pause on, every step after it.
    assert "step 2/4 (pause until promoted)" in waited.out and "step 3/4 (setWeight 100)" in waited.out
    assert "demo is promoted" in waited.out and waited.err == ""

    refused = await kubectl(scene, "abort", "demo")
    assert refused.code == 1 and "the controller refused abort" in refused.err and "ignored in phase Healthy" in refused.err, refused
    healthy = await kubectl(scene, "status", "demo", "--timeout", "30s")
    assert healthy.code == 0 and "demo is healthy" in healthy.out, healthy

    previous = scene.status("demo")["previousStableRevision"]
    wrong = await kubectl(scene, "undo", "demo", "--to-revision", "0000000000")
    assert wrong.code == 2 and f"only the previous stable revision {previous} is kept" in wrong.err, wrong

    listed = await kubectl(scene, "get", "-o", "json")
    assert listed.code == 0 and [i["metadata"]["name"] for i in json.loads(listed.out)["items"]] == ["demo"]
    one = await kubectl(scene, "get", "demo", "-o", "yaml")
    assert yaml.safe_load(one.out)["status"]["stableRevision"] == revision_of(template(GOOD))
    wide = await kubectl(scene, "get", "-o", "wide")
    assert wide.out.split("\n")[0].split() == [
        "NAME",
        "PHASE",
        "STEP",
        "TRAFFIC",
        "STABLE",
        "CANDIDATE",
        "REASON",
        "HEALTH",
        "REPLICAS",
        "READY",
        "AGE",
        "MESSAGE",
    ]

    report = await kubectl(scene, "report", "demo", "--out", str(tmp_path / "report"))
    assert report.code == 0, report
    page = (tmp_path / "report" / "report.html").read_text()
    assert "promoted" in page and "setWeight 30" in page
    assert json.loads((tmp_path / "report" / "report.json").read_text())["outcome"] == "promoted"


@REAL_ONLY
async def test_wait_ends_1_on_rollback_and_retry_promote_full_and_undo_act(scene: Scene) -> None:
    await _stable_with_traffic(scene, ANALYSED)
    scene.apply(canary_document("demo", BAD, ANALYSED))
    degraded = await start_kubectl(scene, "wait", "demo", "--for=degraded", "--timeout", "4m")
    waited = await kubectl(scene, "wait", "demo", "--for=promoted", "--timeout", "4m")
    assert waited.code == 1, waited
    assert "step 2/4 (analysis (2 x 1s))" in waited.out  # the step it failed in
    assert "ended without being promoted: Degraded (AnalysisFailed)" in waited.err and "rolled back" in waited.err
    assert (await finish(degraded)).code == 0
    settled = await kubectl(scene, "status", "demo", "--timeout", "10s")
    assert settled.code == 1 and "ended without being healthy" in settled.err, settled

    # The rejected revision again, straight to the end, then back to the stable before it.
    retried = await kubectl(scene, "retry", "demo")
    assert retried.code == 0 and "retry done: retry requested" in retried.out, retried
    full = await kubectl(scene, "promote", "demo", "--full")
    assert full.code == 0 and "promote-full done" in full.out, full
    promoted = await kubectl(scene, "wait", "demo", "--for=promoted", "--timeout", "2m")
    assert promoted.code == 0, promoted
    undone = await kubectl(scene, "undo", "demo", "--to-revision", revision_of(template(STABLE)))
    assert undone.code == 0 and "undo done" in undone.out, undone
    back = await kubectl(scene, "wait", "demo", "--for=degraded", "--timeout", "2m")
    assert back.code == 0 and "Degraded (Undone)" in back.out, back
    assert scene.status("demo")["stableRevision"] == revision_of(template(STABLE))


@REAL_ONLY
async def test_an_unhandled_request_is_never_overwritten_and_usage_errors_exit_2(scene: Scene, tmp_path: Path) -> None:
    scene.apply(canary_document("demo", STABLE, PAUSING))  # no controller: nothing answers
    unanswered = await kubectl(scene, "promote", "demo", "--timeout", "1s")
    assert unanswered.code == 2 and "has not handled promote request" in unanswered.err, unanswered
    request = json.loads(scene.rollout("demo")["metadata"]["annotations"]["modelrollout.io/request"])

    second = await kubectl(scene, "abort", "demo", "--no-wait")
    assert second.code == 1 and f"still has an unhandled promote request ({request['id']}" in second.err, second
    still = json.loads(scene.rollout("demo")["metadata"]["annotations"]["modelrollout.io/request"])
    assert still == request

    missing = await kubectl(scene, "wait", "nope", "--timeout", "1s")
    assert missing.code == 1 and f"modelrollout {scene.namespace}/nope not found" in missing.err and missing.out == ""
    bad_duration = await kubectl(scene, "wait", "demo", "--timeout", "5")
    assert bad_duration.code == 2 and "argument --timeout: '5' is not a duration" in bad_duration.err, bad_duration
    no_kubeconfig = await kubectl(scene, "get", "--kubeconfig", str(tmp_path / "missing"))
    assert no_kubeconfig.code == 2 and "cannot be used" in no_kubeconfig.err, no_kubeconfig
    (tmp_path / "a-file").write_text("")
    into_file = await kubectl(scene, "report", "demo", "--out", str(tmp_path / "a-file"))
    assert into_file.code == 2 and "is a file, not a directory" in into_file.err, into_file
    bad_state = await kubectl(scene, "wait", "demo", "--for=finished")
    assert bad_state.code == 2 and "argument --for: invalid choice: 'finished'" in bad_state.err, bad_state

    await scene.start_controller()
    await scene.wait_for("the pending promote handled", lambda: scene.status("demo").get("lastRequestId") == request["id"])
    answer = scene.status("demo")["lastRequest"]
    assert answer["id"] == request["id"] and answer["handled"] is False and "promote ignored in phase Healthy" in answer["message"]
