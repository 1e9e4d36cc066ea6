"""The loopback node's image convention: which program a container runs, with which env, on which address."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tests.loopnode.images import ImageError, container_program, split_image

__all__: list[str] = []

POD: dict[str, Any] = {"metadata": {"name": "p-1", "namespace": "models"}, "spec": {"serviceAccountName": "runner", "nodeName": "loopback"}}
IP = "10.244.0.7"


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    (tmp_path / "modelrollout").write_text("#!/bin/sh\n")
    return tmp_path


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("demo-model:v2", ("demo-model", "v2")),
        ("registry.local:5000/team/demo-model:v3-errors", ("registry.local:5000/team/demo-model", "v3-errors")),
        ("ghcr.io/modelrollout/modelrollout", ("ghcr.io/modelrollout/modelrollout", "latest")),
        ("demo-model:v1@sha256:abc", ("demo-model", "v1")),
    ],
)
def test_an_image_reference_splits_into_repository_and_tag(image: str, expected: tuple[str, str]) -> None:
    assert split_image(image) == expected


@pytest.mark.parametrize(
    ("tag", "variant", "scenario"),
    [("v1", "stable", "good"), ("v2", "candidate", "good"), ("v3-errors", "candidate", "errors"), ("v9-drift", "candidate", "drift")],
)
def test_the_demo_model_tag_names_the_model_and_its_scenario(tag: str, variant: str, scenario: str, bin_dir: Path) -> None:
    container = {"name": "model", "image": f"registry.local/demo-model:{tag}", "ports": [{"containerPort": 8080}]}
    program = container_program(container, POD, IP, bin_dir)
    assert program.argv == [sys.executable, "-m", "controller.local.demo_model"]
    assert program.env["MODELROLLOUT_DEMO_VARIANT"] == variant and program.env["MODELROLLOUT_DEMO_SCENARIO"] == scenario
    assert program.env["MODELROLLOUT_DEMO_HOST"] == IP  # the image's 0.0.0.0, on the Pod's own address


def test_the_project_image_runs_its_console_script_with_the_pods_args_on_the_pod_ip(bin_dir: Path) -> None:
    container = {
        "name": "router", "image": "ghcr.io/modelrollout/modelrollout:0.1.0",
        "args": ["router", "--listen", "0.0.0.0:8080", "--admin-listen", "0.0.0.0:9090"],
        "env": [{"name": "A", "value": "1"}, {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
    }  # fmt: skip
    program = container_program(container, POD, IP, bin_dir)
    assert program.argv == [str(bin_dir / "modelrollout"), "router", "--listen", f"{IP}:8080", "--admin-listen", f"{IP}:9090"]
    assert program.env == {"A": "1", "POD": "p-1"}


def test_without_args_the_image_default_command_runs(bin_dir: Path) -> None:
    program = container_program({"name": "c", "image": "ghcr.io/modelrollout/modelrollout:1.2.3"}, POD, IP, bin_dir)
    assert program.argv == [str(bin_dir / "modelrollout"), "controller", "--metrics-listen", f"{IP}:8080"]


def test_a_command_replaces_the_entrypoint_and_python_is_this_interpreter(bin_dir: Path) -> None:
    container = {"name": "c", "image": "demo-model:v1", "command": ["python", "-c"], "args": ["print(1)"]}
    assert container_program(container, POD, IP, bin_dir).argv == [sys.executable, "-c", "print(1)"]


@pytest.mark.parametrize(
    ("container", "message"),
    [
        ({"name": "c", "image": "docker.io/kserve/sklearnserver:v0.13.0"}, "not one the loopback node can run"),
        ({"name": "c", "image": "demo-model:v2-broken"}, "scenario 'broken'"),
        ({"name": "c", "image": "demo-model:v2", "command": ["/bin/sh"]}, "no program '/bin/sh'"),
        (
            {"name": "c", "image": "demo-model:v2", "env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]},
            "only value and fieldRef",
        ),
    ],
)
def test_what_the_node_cannot_run_is_refused_with_the_reason(container: dict[str, Any], message: str, bin_dir: Path) -> None:
    with pytest.raises(ImageError, match=message):
        container_program(container, POD, IP, bin_dir)
