"""The kind end-to-end test's cluster, images and installed operator.

Opt-in: the tests marked `e2e` are skipped unless MODELROLLOUT_E2E=1 and a Docker engine and
kind are there (`make e2e-kind` sets the variable). `kind.sh up` creates the cluster and builds
and loads the images; the chart is installed with Helm's Go SDK (`helm-python-sdk`), so no
`helm` binary is needed. The cluster is deleted at the end unless MODELROLLOUT_E2E_KEEP=1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__: list[str] = []

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parents[1]
KIND_SH = E2E_DIR / "kind.sh"
CHART_DIR = REPO_ROOT / "charts" / "modelrollout"
OPERATOR_NAMESPACE = "modelrollout-system"
RELEASE = "modelrollout"


def skip_reason() -> str | None:
    """Why the end-to-end tests cannot run here, or None when they can."""
    if os.environ.get("MODELROLLOUT_E2E") != "1":
        return "opt-in: set MODELROLLOUT_E2E=1 (needs a Docker engine and kind), e.g. `make e2e-kind`"
    for tool in ("docker", "kind"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not on PATH; the kind end-to-end test needs it"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "no Docker engine answers `docker info`"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    e2e = [item for item in items if item.get_closest_marker("e2e") is not None]
    reason = skip_reason() if e2e else None
    for item in e2e if reason else []:
        item.add_marker(pytest.mark.skip(reason=reason))


def _kind(*args: str, timeout_s: float) -> str:
    done = subprocess.run(["bash", str(KIND_SH), *args], capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"kind.sh {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """role -> image reference, as kind.sh builds and loads them."""
    lines = _kind("images", timeout_s=30).split()
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture(scope="session")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kind") / "kubeconfig"
    _kind("up", str(path), timeout_s=1800)
    yield path
    if os.environ.get("MODELROLLOUT_E2E_KEEP") != "1":
        _kind("down", timeout_s=300)


@pytest.fixture(scope="session")
def api_client(kubeconfig: Path) -> Iterator[object]:
    from kubernetes import config

    client = config.new_client_from_config(config_file=str(kubeconfig))
    yield client
    client.close()


@pytest.fixture(scope="session")
def operator(kubeconfig: Path, images: dict[str, str]) -> dict[str, object]:
    """The chart installed with the controller image built from the repository; its release summary."""
    import helm_python

    repository, tag = images["controller"].rsplit(":", 1)
    values = {"image": {"repository": repository, "tag": tag, "pullPolicy": "Never"}, "logLevel": "debug"}
    with helm_python.Config(kubeconfig_path=str(kubeconfig), namespace=OPERATOR_NAMESPACE) as helm:
        # A cluster kept from an earlier run (MODELROLLOUT_E2E_KEEP=1) has the release already.
        if any(release["name"] == RELEASE for release in helm.list()):
            return helm.upgrade(
                str(CHART_DIR), RELEASE, values, namespace=OPERATOR_NAMESPACE, wait="watcher", timeout=300
            )
        return helm.install(
            str(CHART_DIR),
            RELEASE,
            values,
            namespace=OPERATOR_NAMESPACE,
            create_namespace=True,
            wait="watcher",
            timeout=300,
        )
