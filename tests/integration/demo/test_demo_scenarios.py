"""`modelrollout demo` end to end, as a user runs it: real model servers, router, traffic and engine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

SPEED, RATE = "20", "150"


def _demo(scenario: str, report: Path) -> tuple[int, dict[str, Any], str]:
    completed = subprocess.run(
        [sys.executable, "-m", "controller", "demo", "--scenario", scenario, "--speed", SPEED, "--rate", RATE, "--report", str(report)],
        capture_output=True,
        text=True,
        timeout=420,
    )
    document = json.loads((report / "report.json").read_text()) if (report / "report.json").exists() else {}
    return completed.returncode, document, completed.stdout + completed.stderr


def _failed_metrics(document: dict[str, Any]) -> set[str]:
    return {record["metric"] for record in document["analysis"] if record["verdict"] == "Failed"}


def test_good_candidate_is_promoted(tmp_path: Path) -> None:
    code, document, output = _demo("good", tmp_path)
    assert code == 0, output
    assert document["outcome"] == "promoted"
    assert "PROMOTED" in output
    assert _failed_metrics(document) == set()
    # Every analysis step was judged on real samples, from both variants where it compares them.
    assert all(r["candidateSamples"] > 0 for r in document["analysis"] if r["verdict"] == "Passed")


@pytest.mark.parametrize(
    "scenario, culprits",
    [
        ("errors", {"shadow-errors", "error-rate"}),
        ("latency", {"shadow-latency-p99", "latency-p99", "latency"}),
    ],
)
def test_errors_and_latency_are_rolled_back_by_relative_or_statistical_checks(
    tmp_path: Path, scenario: str, culprits: set[str]
) -> None:
    code, document, output = _demo(scenario, tmp_path)
    assert code == 0, output  # 0: the demo ended as the scenario should
    assert document["outcome"] == "rolled_back"
    failed = _failed_metrics(document)
    assert failed and failed <= culprits, failed
    assert any(name in document["reason"] for name in failed)


def test_disagreeing_candidate_is_rolled_back_on_its_mirrored_answers_before_live_traffic(tmp_path: Path) -> None:
    code, document, output = _demo("disagree", tmp_path)
    assert code == 0, output
    assert document["outcome"] == "rolled_back"
    # Both checks of the shadow step see a model unrelated to stable: whichever has its samples first
    # (prediction drift waits for 1000 mirrored answers, agreement for 3000) rolls it back.
    failed = _failed_metrics(document)
    assert failed and failed <= {"shadow-agreement", "prediction-drift"}, failed
    assert any(name in document["reason"] for name in failed)
    comparison = document["routerStats"]["shadowComparison"]
    assert comparison["compared"] > 0 and comparison["agreed"] / comparison["compared"] < 0.9, comparison
    # The candidate answered mirrored copies only: no client ever got its answer.
    assert document["routerStats"]["candidate"]["requests"] == 0
    assert document["routerStats"]["shadow"]["requests"] > 0


def test_drifting_candidate_is_rolled_back_by_the_drift_check(tmp_path: Path) -> None:
    code, document, output = _demo("drift", tmp_path)
    assert code == 0, output
    assert document["outcome"] == "rolled_back"
    assert "prediction-drift" in _failed_metrics(document)
    assert "shadow-agreement" not in _failed_metrics(document)
    drift = [r for r in document["analysis"] if r["metric"] == "prediction-drift" and r["verdict"] == "Failed"]
    assert drift[0]["candidateValue"] > 0.25


def test_report_numbers_match_the_routers_stats(tmp_path: Path) -> None:
    code, document, output = _demo("disagree", tmp_path)
    assert code == 0, output
    stats = document["routerStats"]
    comparison = stats["shadowComparison"]
    assert comparison["compared"] <= comparison["mirrored"]
    # Each judged agreement window is part of what the router compared in total.
    agreement = [r for r in document["analysis"] if r["metric"] == "shadow-agreement"]
    assert agreement and all(r["candidateSamples"] <= comparison["compared"] for r in agreement)
    served = sum(point["requestRate"] or 0 for point in document["series"] if point["variant"] == "stable")
    assert served > 0 and stats["stable"]["requests"] > 0
    config = json.loads((tmp_path / "router-config.json").read_text())
    assert stats["generation"] == config["generation"]
