"""`modelrollout run` exit codes: 0 promoted, 1 rolled back or no outcome, 2 invalid input."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from controller.local.processes import free_port

pytestmark = pytest.mark.integration

EXAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "examples"


def _model(variant: str, scenario: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "controller.local.demo_model", "--port", str(port), "--variant", variant, "--scenario", scenario],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, str]]:
    started = [("stable", _model("stable", "good")), ("bad", _model("candidate", "errors"))]
    import time

    deadline = time.monotonic() + 120
    for _name, (_process, url) in started:
        while True:
            try:
                if httpx.get(f"{url}/v1/models/demo").is_success:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"{url} never became ready"
            time.sleep(0.3)
    try:
        yield {name: url for name, (_process, url) in started}
    finally:
        for _name, (process, _url) in started:
            process.terminate()
            process.wait(timeout=10)


def _run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller", "run", *args], capture_output=True, text=True, timeout=timeout)


def _replay_file(tmp_path: Path, count: int = 50) -> Path:
    from controller.local.loadgen import dataset_requests

    lines = []
    for request, _ in zip(dataset_requests("demo"), range(count)):
        lines.append(json.dumps({"path": request.path, "body": request.body}))
    path = tmp_path / "traffic.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bad_candidate_is_rolled_back_with_exit_1(tmp_path: Path, servers: dict[str, str]) -> None:
    result = _run(
        str(EXAMPLES / "canary.yaml"), "--stable", servers["stable"], "--candidate", servers["bad"],
        "--traffic-from", str(_replay_file(tmp_path)), "--rate", "150", "--speed", "20", "--report", str(tmp_path / "r"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert json.loads((tmp_path / "r" / "report.json").read_text())["outcome"] == "rolled_back"


def test_no_traffic_holds_as_inconclusive_and_never_fails(tmp_path: Path, servers: dict[str, str]) -> None:
    result = _run(
        str(EXAMPLES / "canary.yaml"), "--stable", servers["stable"], "--candidate", servers["bad"],
        "--no-traffic", "--speed", "20", "--timeout", "200", "--report", str(tmp_path / "r"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["outcome"] == "timed_out"
    verdicts = {record["verdict"] for record in report["analysis"]}
    assert verdicts == {"Inconclusive"}


@pytest.mark.parametrize(
    "content, words",
    [
        ("spec: [unclosed", "line"),
        (
            "apiVersion: modelrollout.io/v1alpha1\nkind: ModelRollout\nmetadata: {name: x}\nspec:\n"
            "  template: {spec: {containers: [{name: m, image: m}]}}\n  strategy: {canary: {steps: [{setWeight: 140}]}}\n",
            "setWeight",
        ),
        (
            "apiVersion: modelrollout.io/v1alpha1\nkind: ModelRollout\nmetadata: {name: x}\nspec:\n"
            "  template: {spec: {containers: [{name: m, image: m}]}}\n  strategy: {canary: {steps: [{setWeight: 50}]}}\n",
            "100",
        ),
    ],
)
def test_bad_rollout_files_exit_2_naming_the_problem(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "rollout.yaml"
    path.write_text(content)
    result = _run(str(path), "--stable", "http://127.0.0.1:1", "--candidate", "http://127.0.0.1:1", timeout=60)
    assert result.returncode == 2
    assert words in result.stdout


def test_missing_file_and_bad_urls_exit_2(tmp_path: Path, servers: dict[str, str]) -> None:
    canary = str(EXAMPLES / "canary.yaml")
    missing = _run(str(tmp_path / "nope.yaml"), "--stable", servers["stable"], "--candidate", servers["bad"], timeout=60)
    assert missing.returncode == 2 and "cannot be read" in missing.stdout
    not_url = _run(canary, "--stable", "ftp://x", "--candidate", servers["bad"], timeout=60)
    assert not_url.returncode == 2 and "--stable" in not_url.stdout
    dead = f"http://127.0.0.1:{free_port()}"
    unreachable = _run(canary, "--stable", servers["stable"], "--candidate", dead, timeout=60)
    assert unreachable.returncode == 2 and "unreachable" in unreachable.stdout


def test_bad_replay_file_exit_2_naming_the_line(tmp_path: Path, servers: dict[str, str]) -> None:
    traffic = tmp_path / "t.jsonl"
    traffic.write_text('{"path": "/v1/models/demo:predict", "body": {}}\nnot json\n')
    result = _run(str(EXAMPLES / "canary.yaml"), "--stable", servers["stable"], "--candidate", servers["bad"],
                  "--traffic-from", str(traffic), timeout=60)
    assert result.returncode == 2
    assert "2" in result.stdout and "line" in result.stdout
