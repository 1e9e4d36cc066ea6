"""A whole local rollout (real router process, real model servers) that notifies real receivers.

A receiver that never answers and one that answers 500 are named too: the rollout must reach
its end all the same, which it could not if an Event waited on a delivery (the silent one holds
each call for a minute, over many tries).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from controller.api.resource import ModelRollout, revision_of
from controller.local.runner import LocalTarget, run_local
from controller.local.session import SessionOutcome
from controller.notify.config import NotificationsConfig
from tests.integration.gates.gatekit import model_server
from tests.integration.notify.receivers import receivers

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

ROLLOUT = {
    "apiVersion": "modelrollout.io/v1alpha1",
    "kind": "ModelRollout",
    "metadata": {"name": "fraud-model"},
    "spec": {
        "template": {"spec": {"containers": [{"name": "model", "image": "model:v2"}]}},
        "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "2s"}}, {"setWeight": 100}]}},
        "notifications": [{"target": "hook"}, {"target": "chat", "events": ["promoted"]}, {"target": "broken"}],
    },
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_local_rollout_notifies_every_transition_and_is_not_held_by_broken_receivers(tmp_path: Path) -> None:
    rollout = ModelRollout.model_validate(ROLLOUT)
    async with receivers() as r, model_server() as stable, model_server() as candidate:
        config = NotificationsConfig.model_validate({
            "targets": [
                {"name": "hook", "url": r.url("ok/json")},
                {"name": "chat", "format": "slack", "url": r.url("ok/slack")},
                {"name": "broken", "url": r.url("fail")},
                {"name": "silent", "url": r.url("hang"), "timeoutSeconds": 60},
            ],
            "everyRollout": [{"target": "silent"}],
            "attempts": 20,
            "backoffSeconds": 0.05,
        })
        target = LocalTarget(rollout, stable, candidate, speed=20, tick_s=0.5, deadline_s=600, report_dir=tmp_path / "report",
                             log_dir=tmp_path / "logs", notifications=config)
        result, _report = await run_local(target, Console(file=io.StringIO()))
        held = r.hanging
    assert result.outcome is SessionOutcome.PROMOTED, result.reason
    assert held >= 1, "the silent receiver was never called"
    events = [body["event"] for body in r.bodies("json")]
    # Each of the three steps completes, then the candidate is promoted; in order, since a target has one worker.
    assert events == ["started", "stepCompleted", "stepCompleted", "stepCompleted", "promoted"]
    assert [body["step"] for body in r.bodies("json")][1:4] == [0, 1, 2]
    candidate_revision = revision_of(rollout.spec.template)
    assert {body["candidate_revision"] for body in r.bodies("json")} == {candidate_revision}
    assert {body["rollout"] for body in r.bodies("json")} == {"fraud-model"}
    [promoted] = r.bodies("slack")
    assert "fraud-model" in promoted["text"] and "Promoted" in promoted["text"]
    assert r.failed_tries >= 1
