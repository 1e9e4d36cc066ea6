"""A whole rollout without Docker, on the real control plane and the loopback node (`make e2e-local`).

Runs `tests.integration.e2e_local.scenario` in fresh network, mount and PID namespaces and
asserts on its report: a good candidate promoted, a bad one rolled back unseen by clients, a
good one promoted exactly once through two controller kills (SIGKILL during its analysis step,
after the bad candidate, and a Pod deletion during its setWeight step), and no request of the
controller's or the routers' ServiceAccounts refused. Needs root (CI is root) and the control
plane's binaries through KUBEBUILDER_ASSETS; skips in one line without them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.controlplane import ASSETS_HINT, find_assets
from tests.integration.e2e_local.scenario import EXIT_OK
from tests.loopnode.netns import isolation_problem, run_isolated

pytestmark = [pytest.mark.integration, pytest.mark.timeout(480)]

__all__: list[str] = []

ROOT = Path(__file__).resolve().parents[3]
# About 120 s here on 2 cores; the limit leaves room for a slow CI runner and a busy core.
SCENARIO_TIMEOUT_S = 360


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    problem = isolation_problem()
    if problem:
        pytest.skip(f"loopback-node end-to-end: {problem}")
    if find_assets() is None:
        if os.environ.get("MODELROLLOUT_REQUIRE_CONTROL_PLANE") == "1":
            pytest.fail(f"MODELROLLOUT_REQUIRE_CONTROL_PLANE=1 but no control plane: {ASSETS_HINT}")
        pytest.skip(f"no real Kubernetes control plane: {ASSETS_HINT}")
    workdir = tmp_path_factory.mktemp("e2e-local")
    result = workdir / "result.json"
    argv = [sys.executable, "-m", "tests.integration.e2e_local.scenario", "--workdir", str(workdir / "run"), "--result", str(result)]
    code = run_isolated(argv, ROOT, timeout_s=SCENARIO_TIMEOUT_S)
    assert result.exists(), f"the scenario wrote no report (exit code {code}); its logs are in {workdir / 'run' / 'logs'}"
    document: dict[str, Any] = json.loads(result.read_text())
    document["exit_code"] = code
    return document


def _explain(report: dict[str, Any]) -> str:
    return (
        "\n".join(report["failures"]) + f"\nlogs: {report['workdir']}/logs\n" + json.dumps(report["phases"], indent=1, default=str)[:6000]
    )


def test_the_whole_end_to_end_holds(report: dict[str, Any]) -> None:
    assert report["ok"] and report["exit_code"] == EXIT_OK, _explain(report)


def test_a_good_candidate_is_promoted(report: dict[str, Any]) -> None:
    phase = report["phases"].get("a_good_promoted")
    assert phase is not None, _explain(report)
    assert ["shadow-agreement", "Passed"] in phase["verdicts"] and ["error-rate", "Passed"] in phase["verdicts"]
    assert phase["clients"]["by_variant"].get("candidate", 0) > 0


def test_a_bad_candidate_is_rolled_back_before_any_client_sees_it(report: dict[str, Any]) -> None:
    phase = report["phases"].get("b_bad_rolled_back")
    assert phase is not None, _explain(report)
    assert ["shadow-errors", "Failed"] in phase["verdicts"]
    assert phase["clients"]["failed"] == 0 and "candidate" not in phase["clients"]["by_variant"]


def test_controller_kills_mid_rollout_promote_exactly_once_with_no_failed_measurement(report: dict[str, Any]) -> None:
    phase = report["phases"].get("c_controller_killed")
    assert phase is not None and "promotions" in phase, _explain(report)
    assert phase["killed during analysis"]["currentStep"] == 1 and phase["killed during analysis"]["stepMeasurements"] == 0
    assert phase["pod deleted during setWeight"]["currentStep"] == 3
    assert len(set(phase["leaders"])) == 3, phase["leaders"]
    assert phase["promotions"] == 1 and len(phase["promoted events"]) == 1
    assert not [v for v in phase["verdicts"] if v[1] == "Failed"], _explain(report)


def test_no_request_of_the_controller_or_the_routers_is_refused(report: dict[str, Any]) -> None:
    audit = report["phases"].get("audit")
    assert audit is not None, _explain(report)
    assert audit["refused_count"] == 0, audit["refused"]
    assert audit["router configmap watches"] > 0 and audit["controller endpointslice watches"] > 0


def test_monitoring_flags_the_drifted_features_and_retrains_once_per_episode(report: dict[str, Any]) -> None:
    phase = report["phases"].get("d_monitoring")
    assert phase is not None and "posts" in phase, _explain(report)
    assert phase["reference"]["revision"] == phase["revision"] and phase["reference"]["samples"] >= 150
    assert {"0", "3"} <= set(phase["drifted features"]), phase
    assert sorted(key for key, _condition in phase["posts"]) == sorted(phase["episodes"]), phase
