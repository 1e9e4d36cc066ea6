"""`modelrollout controller --log-format json` on the real control plane: every line is JSON, and
the lines about a rollout carry its namespace, name, revision and step."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from controller.api.resource import GROUP, PLURAL, VERSION, revision_of
from controller.local.processes import ManagedProcess, ProcessGroup, free_port
from tests.controlplane import ControlPlane
from tests.integration.realkube.realkit import apply_crd, wait_until

pytestmark = pytest.mark.integration

NAME = "churn"


def _template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": NAME}}, "spec": {"containers": [{"name": "model", "image": image}]}}


def _lines(controller: ManagedProcess) -> list[dict[str, Any]]:
    assert controller.log_path is not None
    return [json.loads(line) for line in controller.log_path.read_text().splitlines() if line.strip()]


def _with_reason(controller: ManagedProcess, reason: str) -> dict[str, Any] | None:
    return next((line for line in _lines(controller) if line.get("reason") == reason), None)


def test_json_lines_name_the_rollout_its_revision_and_step(
    control_plane: ControlPlane, real_namespace: str, processes: ProcessGroup, tmp_path: Path
) -> None:
    with control_plane.api_client() as api_client:
        apply_crd(api_client)
        controller = processes.start("controller", [
            sys.executable, "-m", "controller", "controller", "--kubeconfig", str(control_plane.kubeconfig_path),
            "--namespace", real_namespace, "--metrics-listen", f"127.0.0.1:{free_port()}", "--log-format", "json",
        ])  # fmt: skip
        api = k8s.CustomObjectsApi(api_client)
        document = {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ModelRollout", "metadata": {"name": NAME},
            "spec": {"template": _template("model:v1"), "strategy": {"canary": {"steps": [{"setWeight": 50}, {"setWeight": 100}]}}},
        }  # fmt: skip
        api.create_namespaced_custom_object(GROUP, VERSION, real_namespace, PLURAL, document)
        initialized = wait_until("the Initialized line", lambda: _with_reason(controller, "Initialized"))

        def patch_template(image: str) -> None:
            api.patch_namespaced_custom_object(GROUP, VERSION, real_namespace, PLURAL, NAME, {"spec": {"template": _template(image)}})

        def status() -> dict[str, Any]:
            return api.get_namespaced_custom_object(GROUP, VERSION, real_namespace, PLURAL, NAME).get("status") or {}

        wait_until("the first stable stored", lambda: status().get("stableRevision") == revision_of(_template("model:v1")))
        patch_template("model:v2")
        wait_until("the rollout at step 0", lambda: status().get("currentStep") == 0)
        # A new template mid-rollout replaces the candidate: an Event about a rollout at a step.
        patch_template("model:v3")
        replaced = wait_until("the CandidateReplaced line", lambda: _with_reason(controller, "CandidateReplaced"))
        controller.stop(timeout_s=20)

    assert (initialized["namespace"], initialized["rollout"]) == (real_namespace, NAME)
    assert initialized["revision"] == revision_of(_template("model:v1"))
    assert {"time", "level", "logger", "message"} <= initialized.keys()
    assert (replaced["namespace"], replaced["rollout"], replaced["step"]) == (real_namespace, NAME, 0)
    assert replaced["revision"] == revision_of(_template("model:v2"))
    assert _lines(controller)  # each line parsed as JSON
