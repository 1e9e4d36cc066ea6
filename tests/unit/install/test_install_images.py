"""The Dockerfiles: lint-clean, non-root, and built around commands the package really has.

No Docker engine is needed: hadolint (packaged on PyPI) lints them, and the commands, flags and
environment variables the images run with are checked against the real CLI and a real process.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
from pathlib import Path

import httpx
import pytest
from chartkit import REPO_ROOT
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from controller.api.resource import ModelRollout
from controller.cli import COMMANDS
from controller.kube.objects import router_deployment

__all__: list[str] = []

DOCKERFILES = {
    "controller": REPO_ROOT / "Dockerfile",
    "router": REPO_ROOT / "router" / "Dockerfile",
    "model-server": REPO_ROOT / "examples" / "model-server" / "Dockerfile",
}
ROUTER_REQUIREMENTS = REPO_ROOT / "router" / "requirements.txt"
HADOLINT = Path(sys.executable).with_name("hadolint")

Instruction = tuple[str, str]


def instructions(path: Path) -> list[Instruction]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.strip().partition(" ") for line in text.splitlines())
        if word
    ]


def final_stage(path: Path) -> list[Instruction]:
    steps = instructions(path)
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def exec_form(steps: list[Instruction], keyword: str) -> list[str]:
    return json.loads(next(args for key, args in steps if key == keyword))


def env_of(steps: list[Instruction], build_args: dict[str, str]) -> dict[str, str]:
    pairs = [pair for key, args in steps if key == "ENV" for pair in shlex.split(args)]
    values = dict(pair.split("=", 1) for pair in pairs)
    return {key: re.sub(r"\$\{(\w+)\}", lambda m: build_args[m.group(1)], value) for key, value in values.items()}


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_hadolint_finds_nothing(image: str) -> None:
    done = subprocess.run([str(HADOLINT), str(DOCKERFILES[image])], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_images_run_as_a_numeric_non_root_user(image: str) -> None:
    users = [args for key, args in final_stage(DOCKERFILES[image]) if key == "USER"]
    assert users, "the final stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "runAsNonRoot needs a numeric uid other than 0"


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_images_are_multi_stage_from_python_3_11_slim(image: str) -> None:
    steps = instructions(DOCKERFILES[image])
    assert sum(key == "FROM" for key, _ in steps) == 2
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm") in steps


@pytest.mark.parametrize("image", ["controller", "router"])
def test_operator_images_run_the_console_script(image: str) -> None:
    scripts = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    entrypoint = exec_form(final_stage(DOCKERFILES[image]), "ENTRYPOINT")
    assert entrypoint == ["modelrollout"] and "modelrollout" in scripts


def test_routers_the_controller_creates_run_on_the_router_image() -> None:
    rollout = ModelRollout.model_validate(
        {
            "apiVersion": "modelrollout.io/v1alpha1",
            "kind": "ModelRollout",
            "metadata": {"name": "iris", "namespace": "models"},
            "spec": {
                "template": {"spec": {"containers": [{"name": "model", "image": "model:1"}]}},
                "service": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
                "strategy": {"canary": {"steps": [{"setWeight": 100}]}},
            },
        }
    )
    args = router_deployment(rollout)["spec"]["template"]["spec"]["containers"][0]["args"]
    cmd = exec_form(final_stage(DOCKERFILES["router"]), "CMD")
    assert args[0] == cmd[0] == "router" and "router" in COMMANDS


@pytest.mark.parametrize("image", ["controller", "router"])
def test_the_default_command_of_each_operator_image_is_accepted(image: str) -> None:
    steps = final_stage(DOCKERFILES[image])
    command = exec_form(steps, "ENTRYPOINT") + exec_form(steps, "CMD")
    script = Path(sys.executable).with_name(command[0])
    if command[-1] != "--help":
        command.append("--help")
    done = subprocess.run([str(script), *command[1:]], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_the_build_context_lets_in_everything_the_dockerfiles_copy() -> None:
    patterns = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    included = {line[1:].rstrip("/") for line in patterns if line.startswith("!")}
    for path in DOCKERFILES.values():
        for key, args in instructions(path):
            if key == "COPY" and not args.startswith("--from"):
                sources = args.split()[:-1]
                assert all(source.split("/")[0] in included for source in sources), f"{path.name}: COPY {args}"


def _distributions_needed(requirements: list[Requirement]) -> set[str]:
    """The requirements and everything they pull in on this platform, by canonical name."""
    seen: set[str] = set()
    pending = [(req, frozenset(req.extras)) for req in requirements]
    while pending:
        req, extras = pending.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            dependencies = [Requirement(text) for text in requires(req.name) or []]
        except PackageNotFoundError:
            continue
        for dep in dependencies:
            if dep.marker is None or any(dep.marker.evaluate({"extra": extra}) for extra in extras | {""}):
                pending.append((Requirement(str(dep).split(";")[0]), frozenset(dep.extras)))
    return seen


def _router_imports() -> set[str]:
    modules: set[str] = set()
    for path in (REPO_ROOT / "router").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "router"}


def router_requirements() -> list[Requirement]:
    lines = ROUTER_REQUIREMENTS.read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


def test_the_router_image_installs_every_package_the_router_imports() -> None:
    needed = _distributions_needed(router_requirements())
    owners = packages_distributions()
    missing = {m for m in _router_imports() if not {canonicalize_name(d) for d in owners.get(m, [m])} & needed}
    assert missing == set(), f"router/requirements.txt does not bring in {sorted(missing)}"


def test_every_package_the_router_imports_is_a_direct_dependency_of_both_installs() -> None:
    """Not merely pulled in by another package: an import that rides on someone else's extra
    (httptools through uvicorn[standard]) breaks the day that package drops it."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    owners = packages_distributions()
    for declared_in, requirements in [
        ("pyproject.toml", [Requirement(t) for t in project["dependencies"]]),
        ("router/requirements.txt", router_requirements()),
    ]:
        direct = {canonicalize_name(r.name) for r in requirements}
        undeclared = {m for m in _router_imports() if not {canonicalize_name(d) for d in owners.get(m, [m])} & direct}
        assert undeclared == set(), f"{declared_in} does not name {sorted(undeclared)}, which the router imports"


def test_router_requirements_keep_the_bounds_of_pyproject() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {canonicalize_name(Requirement(text).name): Requirement(text) for text in project["dependencies"]}
    for requirement in router_requirements():
        assert str(requirement) == str(declared[canonicalize_name(requirement.name)])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_model_server_image_environment_configures_the_demo_model() -> None:
    steps = final_stage(DOCKERFILES["model-server"])
    entrypoint = exec_form(steps, "ENTRYPOINT")
    env = env_of(steps, {"VARIANT": "candidate", "SCENARIO": "errors"})
    port = _free_port()
    env |= {"MODELROLLOUT_DEMO_HOST": "127.0.0.1", "MODELROLLOUT_DEMO_PORT": str(port), "PATH": os.environ["PATH"]}
    process = subprocess.Popen([sys.executable, *entrypoint[1:]], env=env, cwd=REPO_ROOT)
    try:
        metadata = _poll_json(f"http://127.0.0.1:{port}/v1/models/demo/metadata", process, timeout_s=60)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert (metadata["variant"], metadata["scenario"]) == ("candidate", "errors")


def _poll_json(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the demo model exited with {process.returncode}")
        try:
            return httpx.get(url, timeout=2).raise_for_status().json()
        except httpx.HTTPError:
            time.sleep(0.2)
    pytest.fail(f"no answer from {url} within {timeout_s} s")
