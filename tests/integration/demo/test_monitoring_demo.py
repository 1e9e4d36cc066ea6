"""`modelrollout demo --scenario drift-after-promotion` end to end: real model servers, router, traffic, engine and receiver.

The promoted model's traffic drifts in two features (positions 3 and 8) and a quarter of its labels
flip once its reference is captured; monitoring must flag exactly those features and the lost
accuracy, and the demo's receiver must get one POST per fired episode.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from controller.analysis.drift_tests import PREDICTIONS

pytestmark = pytest.mark.integration

DRIFTED = {"3", "8"}
# The demo's exit code, report.json, what its receiver got, and its output.
Run = tuple[int, dict[str, Any], list[dict[str, Any]], str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Run:
    report = tmp_path_factory.mktemp("monitoring-demo")
    # Generous: on a loaded machine the checks come late, never wrongly; --watch-for only bounds a failure.
    command = [sys.executable, "-m", "controller", "demo", "--scenario", "drift-after-promotion", "--report", str(report)]
    command += ["--watch-for", "300"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=600)
    document = json.loads((report / "report.json").read_text()) if (report / "report.json").exists() else {}
    received_path = report / "retraining-webhook.json"
    received = json.loads(received_path.read_text()) if received_path.exists() else []
    return completed.returncode, document, received, completed.stdout + completed.stderr


def _condition(document: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in document["monitoring"]["conditions"] if c["type"] == kind)


def test_promoted_then_drift_and_lost_accuracy_are_flagged(demo: Run) -> None:
    code, document, _received, output = demo

    assert code == 0, output
    assert document["outcome"] == "promoted"
    monitoring = document["monitoring"]
    assert monitoring["reference"]["source"] == "live" and monitoring["reference"]["revision"] == monitoring["revision"]
    data_drift = _condition(document, "DataDrift")
    assert data_drift["status"] == "True"
    # The message names the drifted features and no other: "2 of 30 drifted: 8 (PSI ...), 3 (PSI ...)".
    assert data_drift["message"].startswith("2 of 30 drifted:"), data_drift["message"]
    flagged = {f["feature"] for f in monitoring["findings"] if f["drifted"] and f["feature"] != PREDICTIONS}
    assert flagged == DRIFTED
    tested = {f["feature"] for f in monitoring["findings"] if f["feature"] != PREDICTIONS}
    assert len(tested - DRIFTED) > 0  # undrifted features were tested too, and cleared
    quality = _condition(document, "QualityDegraded")
    assert quality["status"] == "True" and "accuracy" in quality["message"]
    assert monitoring["lastCheck"]["accuracy"] < monitoring["reference"]["accuracy"] - 0.1


def test_the_receiver_got_one_post_per_fired_episode_with_its_key_and_evidence(demo: Run) -> None:
    code, document, received, output = demo
    assert code == 0, output

    fired = {e["id"]: e["condition"] for e in document["monitoring"]["episodes"] if e["fired"]}
    assert sorted(fired.values()) == ["DataDrift", "QualityDegraded"]
    keys = [call["idempotencyKey"] for call in received]
    assert sorted(keys) == sorted(fired)  # exactly one POST per fired episode, none for another
    for call in received:
        body = call["body"]
        assert body["episode"] == call["idempotencyKey"] and body["condition"] == fired[body["episode"]]
        assert body["rollout"] == "cancer-classifier" and body["revision"] == document["monitoring"]["revision"]
        evidence = body["evidence"]
        assert evidence["reference"]["source"] == "live" and evidence["check"]["requests"] > 0 and evidence["window"]["end"]
    drift = next(call["body"]["evidence"] for call in received if call["body"]["condition"] == "DataDrift")
    assert {f["feature"] for f in drift["findings"] if f["drifted"] and f["feature"] != PREDICTIONS} == DRIFTED
    assert all(f["psi"] >= 0.1 and f["adjustedPValue"] < 0.01 for f in drift["findings"] if f["feature"] in DRIFTED)
    assert "Retraining webhook: 2 POSTs received" in output
