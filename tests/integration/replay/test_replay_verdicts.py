"""`modelrollout replay` gives the verdicts a live run gives over the same traffic.

Real model servers (tests/integration/router/backend_app.py: the candidate is 0.5 off on inputs
below 0.2), a recorded file of 400 labelled requests, and one shadow rollout judging agreement,
accuracy from the labels, shadow errors and, as a dry run, prediction drift. The live run
(`run_local`: router process, engine, analysis every minute of rollout time) gets each recorded
request once, with its label, before its first measurement; `replay` (the command, as a process)
gets the same file. Each metric's verdict and sample counts must agree.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiohttp import web
from rich.console import Console

from controller.api.resource import ModelRollout
from controller.api.status import AnalysisRecord, Verdict
from controller.local.loadgen import TrafficConfig, TrafficGenerator, read_replay_file
from controller.local.processes import ProcessGroup, free_port
from controller.local.runner import LocalTarget, StopTraffic, run_local
from controller.local.session import SessionOutcome
from controller.notify.config import NotificationsConfig

pytestmark = pytest.mark.integration

BACKEND = Path(__file__).resolve().parents[1] / "router" / "backend_app.py"
REPO_ROOT = Path(__file__).resolve().parents[3]
REQUESTS = 400

ROLLOUT: dict[str, Any] = {
    "apiVersion": "modelrollout.io/v1alpha1",
    "kind": "ModelRollout",
    "metadata": {"name": "churn-model"},
    "spec": {
        "template": {"spec": {"containers": [{"name": "model", "image": "model:v2"}]}},
        "router": {"predictions": {"protocol": "kserve-v1", "labels": {"match": "threshold", "threshold": 0.5}}},
        "strategy": {
            "shadow": {
                "percent": 100, "duration": "5m", "promote": False,
                "analysis": {"interval": "1m", "count": 1, "metrics": [
                    {"name": "agreement", "router": {"metric": "shadowAgreement"}, "min": 0.95, "minSamples": 100},
                    {"name": "accuracy", "router": {"metric": "accuracy"}, "compare": {"worseIf": "lower"}, "minSamples": 100},
                    {"name": "shadow-errors", "router": {"metric": "shadowErrorRate"}, "max": 0.05, "minSamples": 100},
                    {"name": "drift", "router": {"metric": "predictionDrift"}, "max": 0.1, "minSamples": 100, "dryRun": True},
                ]},
            }
        },
    },
}  # fmt: skip


def _recording(path: Path) -> Path:
    lines = []
    for n in range(REQUESTS):
        x = round((n * 37 % 100) / 100 + 0.005, 3)
        label = int((x >= 0.5) != (n % 9 == 0))  # the truth, wrong for the threshold rule on every ninth
        body = {"instances": [[x]]}
        lines.append({"path": "/v1/models/m:predict", "body": body, "headers": {"x-request-id": f"rec-{n}"}, "label": label})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.fixture
def servers(processes: ProcessGroup) -> tuple[str, str]:
    urls = []
    for name, options in (("stable", []), ("candidate", ["--offset", "1e-9", "--flip-below", "0.2"])):
        port = free_port()
        processes.start(name, [sys.executable, str(BACKEND), "--port", str(port), "--name", name, *options])
        urls.append(f"http://127.0.0.1:{port}")
    for url in urls:
        _wait(lambda url=url: httpx.get(f"{url}/text", timeout=1).status_code == 200)
    return urls[0], urls[1]


def _wait(check: Any, timeout_s: float = 30.0) -> None:
    async def poll() -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
        raise TimeoutError(f"not ready within {timeout_s:g}s")

    asyncio.run(poll())


async def _live(rollout: ModelRollout, stable: str, candidate: str, recording: Path, workdir: Path) -> list[AnalysisRecord]:
    """A live shadow rollout that gets each recorded request once, all inside its analysis window.

    The window opens when the routers confirm the mirror; the rollout's own notification that its
    first step (the mirror) completed says so, so the traffic starts on it. Ticks are half
    the interval apart: the measurement's baseline is a reading kept from the window's start, and
    only the last few rounds of readings are kept.
    """
    requests = read_replay_file(recording)
    mirrored = asyncio.Event()

    async def notified(request: web.Request) -> web.Response:
        body = await request.json()
        if body.get("event") == "stepCompleted":  # the first step, the mirror, is in force
            mirrored.set()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/events", notified)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    notifications = NotificationsConfig.model_validate(
        {"targets": [{"name": "test", "url": f"http://127.0.0.1:{port}/events"}], "everyRollout": [{"target": "test"}]}
    )

    async def start_traffic(router_url: str, admin_url: str) -> StopTraffic:
        async def send() -> None:
            await mirrored.wait()
            await TrafficGenerator(TrafficConfig(target_url=router_url, rate_per_s=400), iter(requests)).run()
            labels = [{"requestId": r.headers["x-request-id"], "label": r.label} for r in requests]
            async with httpx.AsyncClient() as client:
                await client.post(f"{admin_url}/feedback", json=labels, timeout=30)

        task = asyncio.create_task(send())
        return lambda: task

    target = LocalTarget(
        rollout, stable, candidate, speed=5, tick_s=30.0, deadline_s=900, report_dir=workdir / "live", log_dir=workdir / "live-logs",
        notifications=notifications,
    )  # fmt: skip
    try:
        result, _report = await run_local(target, Console(file=io.StringIO()), on_ready=start_traffic)
    finally:
        await runner.cleanup()
    status = result.rollout.status
    assert result.outcome is SessionOutcome.VERDICT, (result.reason, [(r.metric, r.verdict, r.reason) for r in status.evidence])
    last: dict[str, AnalysisRecord] = {}
    for record in status.evidence:
        last[record.metric] = record
    return list(last.values())


def test_replay_gives_the_verdicts_a_live_run_gives_over_the_same_traffic(servers: tuple[str, str], tmp_path: Path) -> None:
    stable, candidate = servers
    recording = _recording(tmp_path / "recorded.jsonl")
    rollout_file = tmp_path / "rollout.yaml"
    rollout_file.write_text(yaml.safe_dump(ROLLOUT))
    live = {r.metric: r for r in asyncio.run(_live(ModelRollout.model_validate(ROLLOUT), stable, candidate, recording, tmp_path))}

    command = [sys.executable, "-m", "controller", "replay", str(rollout_file), "--traffic-from", str(recording),
               "--stable", stable, "--candidate", candidate, "--report", str(tmp_path / "replay")]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr  # it would have failed the candidate
    report = json.loads((tmp_path / "replay" / "report.json").read_text())
    replayed = {r["metric"]: AnalysisRecord.model_validate(r) for r in report["analysis"]}

    assert set(replayed) == set(live) == {"agreement", "accuracy", "shadow-errors", "drift"}
    for name, record in replayed.items():
        assert (record.verdict, record.candidate_samples) == (live[name].verdict, live[name].candidate_samples), name
    assert live["agreement"].candidate_samples == REQUESTS, "the live run measured before all the traffic was in"
    assert replayed["agreement"].verdict is Verdict.FAILED and replayed["shadow-errors"].verdict is Verdict.PASSED
    assert replayed["accuracy"].verdict is Verdict.FAILED and replayed["accuracy"].candidate_samples == REQUESTS
    said = " ".join(done.stdout.split())
    assert "churn-model" in said and "rolled the candidate back" in said


def test_replay_sends_each_recorded_request_exactly_once(servers: tuple[str, str], tmp_path: Path) -> None:
    stable, candidate = servers
    recording = _recording(tmp_path / "recorded.jsonl")
    rollout_file = tmp_path / "rollout.yaml"
    rollout_file.write_text(yaml.safe_dump(ROLLOUT))
    command = [sys.executable, "-m", "controller", "replay", str(rollout_file), "--traffic-from", str(recording),
               "--stable", stable, "--candidate", candidate, "--report", str(tmp_path / "replay")]  # fmt: skip
    subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False)
    stats = json.loads((tmp_path / "replay" / "report.json").read_text())["routerStats"]
    assert stats["stable"]["requests"] == REQUESTS and stats["candidate"]["requests"] == REQUESTS
    assert stats["stable"]["labelled"] == REQUESTS and stats["candidate"]["labelled"] == REQUESTS


def test_a_label_file_that_is_not_labels_is_refused_naming_the_line(tmp_path: Path) -> None:
    rollout_file = tmp_path / "rollout.yaml"
    rollout_file.write_text(yaml.safe_dump(ROLLOUT))
    recording = _recording(tmp_path / "recorded.jsonl")
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"requestId": "rec-1", "label": 1}\n{"label": 0}\n')
    command = [sys.executable, "-m", "controller", "replay", str(rollout_file), "--traffic-from", str(recording), "--labels", str(labels),
               "--stable", "http://127.0.0.1:9", "--candidate", "http://127.0.0.1:9"]  # fmt: skip
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "line 2" in done.stdout and "requestId" in done.stdout
