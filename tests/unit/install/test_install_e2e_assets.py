"""The kind end-to-end assets, checked where no Docker engine runs: script syntax, manifests, opt-in skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from chartkit import KUBE_VERSIONS, REPO_ROOT, schema_errors

from controller.api.validation import load_rollouts, validate_spec

__all__: list[str] = []

E2E_DIR = REPO_ROOT / "tests" / "e2e"
KIND_SH = E2E_DIR / "kind.sh"
SHELLCHECK = Path(sys.executable).with_name("shellcheck")
CRD_PATH = REPO_ROOT / "manifests" / "crd" / "modelrollouts.yaml"


def run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=env, cwd=REPO_ROOT)


def test_kind_script_parses_in_bash() -> None:
    done = run(["bash", "-n", str(KIND_SH)])
    assert done.returncode == 0, done.stderr


def test_kind_script_is_shellcheck_clean() -> None:
    done = run([str(SHELLCHECK), "--shell=bash", "--severity=style", str(KIND_SH)])
    assert done.returncode == 0, done.stdout


def test_kind_script_names_an_image_per_dockerfile_it_builds() -> None:
    done = run(["bash", str(KIND_SH), "images"])
    roles = dict(line.split("=", 1) for line in done.stdout.split())
    assert sorted(roles) == ["controller", "model-v1", "model-v2", "model-v2-bad", "router"]
    text = KIND_SH.read_text(encoding="utf-8")
    for dockerfile in ("Dockerfile", "router/Dockerfile", "examples/model-server/Dockerfile"):
        assert f" {dockerfile}" in text and (REPO_ROOT / dockerfile).is_file()


def test_kind_script_refuses_an_unknown_command_with_its_usage() -> None:
    done = run(["bash", str(KIND_SH), "launch"])
    assert done.returncode == 1 and "usage: kind.sh" in done.stderr


def test_make_e2e_kind_runs_the_e2e_tests_opted_in() -> None:
    done = run(["make", "--dry-run", "--always-make", "e2e-kind"])
    assert done.returncode == 0, done.stderr
    assert "MODELROLLOUT_E2E=1" in done.stdout and "pytest tests/e2e -m e2e" in done.stdout


@pytest.mark.parametrize(
    ("extra_env", "reason"),
    [({}, "opt-in: set MODELROLLOUT_E2E=1"), ({"MODELROLLOUT_E2E": "1", "PATH": "/nonexistent"}, "is not on PATH")],
)
def test_e2e_tests_skip_themselves_without_opt_in_or_tools(extra_env: dict[str, str], reason: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MODELROLLOUT_E2E"} | extra_env
    done = run([sys.executable, "-m", "pytest", str(E2E_DIR), "-q", "-rs", "-p", "no:cacheprovider"], env=env)
    assert done.returncode == 0, done.stdout
    assert " passed" not in done.stdout and " skipped" in done.stdout and reason in done.stdout


def rollout_manifest() -> dict[str, Any]:
    return yaml.safe_load((E2E_DIR / "manifests" / "rollout.yaml").read_text(encoding="utf-8"))


def test_e2e_rollout_passes_the_crd_schema() -> None:
    crd = yaml.safe_load(CRD_PATH.read_text(encoding="utf-8"))
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    jsonschema.Draft4Validator(schema).validate(rollout_manifest())


def test_e2e_rollout_is_a_sound_canary_that_shadows_first() -> None:
    (rollout,) = load_rollouts(
        (E2E_DIR / "manifests" / "rollout.yaml").read_text(encoding="utf-8"), source="rollout.yaml"
    )
    assert validate_spec(rollout.spec) == []
    steps = rollout.spec.strategy.canary.steps
    assert steps[0].set_mirror == 100 and steps[-1].set_weight == 100
    assert rollout.spec.router.image and rollout.spec.router.predictions.protocol == "kserve-v1"


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_e2e_traffic_deployment_passes_the_kubernetes_schemas(kube_version: str) -> None:
    deployment = yaml.safe_load((E2E_DIR / "manifests" / "traffic.yaml").read_text(encoding="utf-8"))
    assert schema_errors(deployment, kube_version) == []


def test_e2e_traffic_script_starts_and_explains_itself() -> None:
    done = run([sys.executable, str(E2E_DIR / "load_clients.py"), "--help"])
    assert done.returncode == 0 and "--target" in done.stdout
