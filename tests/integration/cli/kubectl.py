"""`kubectl modelrollout` run as a pipeline runs it: its own process, its exit code, its stdout and stderr."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.integration.kube.backends import Real
from tests.integration.kube.scene import Scene

__all__ = ["Run", "kubectl", "start_kubectl", "finish"]

_PLUGIN = Path(sys.executable).parent / "kubectl-modelrollout"


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def _argv(scene: Scene, args: tuple[str, ...]) -> list[str]:
    assert isinstance(scene.backend, Real), "the CLI tests run on the real control plane"
    kubeconfig = [] if "--kubeconfig" in args else ["--kubeconfig", str(scene.backend.cluster.plane.kubeconfig_path)]
    return [str(_PLUGIN), *args, "-n", scene.namespace, *kubeconfig]


async def start_kubectl(scene: Scene, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(*_argv(scene, args), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def finish(process: asyncio.subprocess.Process, timeout_s: float = 240.0) -> Run:
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    finally:
        if process.returncode is None:  # timed out, or the test was cancelled: stop what it started
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def kubectl(scene: Scene, *args: str, timeout_s: float = 240.0) -> Run:
    """Run one verb to its end (the controller goes on meanwhile, on this event loop)."""
    return await finish(await start_kubectl(scene, *args), timeout_s)
