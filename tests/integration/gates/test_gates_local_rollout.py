"""Whole local rollouts (real router process, real model servers) through real HTTP gates."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from controller.api.resource import ModelRollout, revision_of
from controller.api.status import Verdict
from controller.local.runner import LocalTarget, run_local
from controller.local.session import SessionOutcome, SessionResult
from tests.integration.gates.gatekit import GateServer, gate_server, model_server

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

TEMPLATE = {"spec": {"containers": [{"name": "model", "image": "model:v2"}]}}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _rollout(server: GateServer, *gates: dict[str, Any]) -> ModelRollout:
    webhooks = [{key: value for key, value in gate.items() if key != "path"} | {"url": server.url(gate["path"])} for gate in gates]
    return ModelRollout.model_validate({
        "metadata": {"name": "fraud-model"},
        "spec": {
            "template": TEMPLATE,
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "2s"}}, {"setWeight": 100}]}},
            "webhooks": webhooks,
        },
    })  # fmt: skip


async def _run(rollout: ModelRollout, tmp_path: Path, deadline_s: float = 600) -> SessionResult:
    async with model_server() as stable, model_server() as candidate:
        target = LocalTarget(rollout, stable, candidate, speed=20, tick_s=0.5, deadline_s=deadline_s,
                             report_dir=tmp_path / "report", log_dir=tmp_path / "logs")  # fmt: skip
        result, _report = await run_local(target, Console(file=io.StringIO()))
    return result


def _gate_evidence(result: SessionResult) -> list[tuple[str, Verdict, str]]:
    return [(r.metric, r.verdict, r.reason) for r in result.rollout.status.evidence if r.scope == "gate"]


async def test_gates_hold_until_they_say_yes_and_post_rollout_hears_the_promotion(tmp_path: Path) -> None:
    async with gate_server() as server:
        rollout = _rollout(
            server,
            {"name": "approve", "type": "confirm-rollout", "path": "flaky", "retries": 0},
            {"name": "smoke-test", "type": "pre-rollout", "path": "smoke"},
            {"name": "release", "type": "confirm-promotion", "path": "yes"},
            {"name": "broken-incidents", "type": "rollback", "path": "fail", "retries": 1, "interval": "1s"},
            {"name": "announce", "type": "post-rollout", "path": "announce"},
        )
        result = await _run(rollout, tmp_path)
        told = server.bodies.get("announce", [])
    assert result.outcome is SessionOutcome.PROMOTED, result.reason
    evidence = _gate_evidence(result)
    no = "confirm-rollout gate no: HTTP 403: change freeze until 14:00"
    assert [e for e in evidence if e[0] == "approve"] == [("approve", Verdict.FAILED, no)] * 2 + [
        ("approve", Verdict.PASSED, "confirm-rollout gate yes: HTTP 200: ok")
    ]
    assert server.calls["flaky"] == 3 and server.calls["yes"] == 1
    # pre-rollout is asked once confirm-rollout said yes, and once it says yes itself.
    assert server.calls["smoke"] == 1 and ("smoke-test", Verdict.PASSED, "pre-rollout gate yes: HTTP 200: ok") in evidence
    assert [e[0] for e in evidence if e[0] in ("approve", "smoke-test")] == ["approve"] * 3 + ["smoke-test"]
    # A rollback gate answering 500 says no: it was retried, recorded, and never rolled back.
    assert ("broken-incidents", Verdict.PASSED, "rollback gate no: HTTP 500: gate is broken") in evidence
    assert server.calls["fail"] >= 2
    [post] = told
    assert (post["type"], post["outcome"], post["revision"]) == ("post-rollout", "Promoted", revision_of(TEMPLATE))


async def test_a_rollback_gate_that_says_yes_rolls_the_candidate_back(tmp_path: Path) -> None:
    async with gate_server() as server:
        rollout = _rollout(
            server,
            {"name": "incidents", "type": "rollback", "path": "incident", "interval": "1s"},
            {"name": "announce", "type": "post-rollout", "path": "announce"},
        )
        result = await _run(rollout, tmp_path)
        told = server.bodies.get("announce", [])
    assert result.outcome is SessionOutcome.ROLLED_BACK
    assert "rollback gate incidents said yes: HTTP 200: open incident INC-42" in result.rollout.status.message
    assert ("incidents", Verdict.FAILED, "rollback gate yes: HTTP 200: open incident INC-42") in _gate_evidence(result)
    assert [(p["outcome"], p["revision"]) for p in told] == [("RollbackGate", revision_of(TEMPLATE))]


async def test_a_gate_that_never_answers_holds_the_rollout_with_the_error_in_the_evidence(tmp_path: Path) -> None:
    async with gate_server() as server:
        rollout = _rollout(server, {"name": "approve", "type": "confirm-rollout", "path": "hang", "timeout": "300ms", "retries": 0})
        result = await _run(rollout, tmp_path, deadline_s=60)
    assert result.outcome is SessionOutcome.TIMED_OUT
    status = result.rollout.status
    assert status.reason == "WaitingForGate" and status.traffic.candidate == 0
    errors = [reason for name, verdict, reason in _gate_evidence(result) if verdict is Verdict.ERROR]
    assert errors and all(f"no answer from {server.url('hang')} after 1 try: ReadTimeout" in e for e in errors)
