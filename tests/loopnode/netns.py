"""The end-to-end's own network and mount namespace: where pod and service addresses are local.

`isolated(argv)` is the command line that runs `argv` in fresh namespaces (`unshare --net
--mount --pid`, as root; `run_isolated` runs it and stops it on a timeout); inside them,
`configure_network()` brings `lo` up with the pod range and the service range on it, so every
address of both ranges is local to the namespace and no packet leaves it, and the mount
namespace lets `tests.loopnode.hosts` bind a hosts file over `/etc/hosts` without touching the
machine's own. Both refuse to act outside a namespace of their own. `isolation_problem()` says in
one line why this machine cannot do it, or None.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "POD_CIDR",
    "SERVICE_CIDR",
    "INSIDE_ENV",
    "isolated",
    "isolated_env",
    "run_isolated",
    "isolation_problem",
    "inside",
    "configure_network",
]

POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"  # the control plane's --service-cluster-ip-range
# Set for the process started in the fresh namespaces: the namespaces of the process that started
# it, so it knows it is in others, which it may configure.
INSIDE_ENV = "MODELROLLOUT_LOOPNET"
_TOOLS = ("unshare", "ip", "mount")


def isolated(argv: Sequence[str]) -> list[str]:
    """`argv` in fresh network, mount and PID namespaces. `argv` is PID 1 of the last: when it ends,
    or unshare is killed (`--kill-child`), the kernel ends every process left in it, so nothing
    the end-to-end started outlives it. /proc stays the machine's, so pids read there are too."""
    return ["unshare", "--net", "--mount", "--pid", "--fork", "--kill-child=SIGTERM", "--", *argv]


def run_isolated(argv: Sequence[str], cwd: Path, timeout_s: float | None = None, grace_s: float = 45.0) -> int:
    """Run `argv` in fresh namespaces and return its exit code.

    It runs in a session of its own. On a timeout or an interrupt, SIGTERM goes to that session's
    process group (unshare passes no signal on; `argv`, PID 1 of its namespace, stops
    everything it started and reports), and SIGKILL after `grace_s`: once PID 1 is gone the
    kernel ends whatever is left in its namespace. Then the timeout or interrupt is raised.
    """
    process = subprocess.Popen(isolated(argv), cwd=cwd, env=isolated_env(os.environ), start_new_session=True)
    try:
        return process.wait(timeout=timeout_s)
    except BaseException:
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)  # the group of the unshare process started above
            try:
                process.wait(timeout=grace_s)
                break
            except subprocess.TimeoutExpired:
                continue
        raise


def isolation_problem() -> str | None:
    """Why fresh network and mount namespaces cannot be made here (None when they can)."""
    if os.geteuid() != 0:
        return "needs root for unshare --net --mount (CI runs as root)"
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        return f"needs {', '.join(missing)} on PATH (util-linux, iproute2)"
    trial = subprocess.run(isolated(["ip", "link", "set", "lo", "up"]), capture_output=True, text=True, timeout=10)
    if trial.returncode != 0:
        return f"unshare --net --mount is refused here: {trial.stderr.strip() or trial.returncode}"
    return None


def _namespaces() -> str:
    """This process's network and mount namespaces, as `net:[inode],mnt:[inode]`."""
    return ",".join(os.readlink(f"/proc/self/ns/{kind}") for kind in ("net", "mnt"))


def isolated_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` for the process `isolated` starts: it names the namespaces it was started from."""
    return {**env, INSIDE_ENV: _namespaces()}


def inside() -> bool:
    """True in the namespaces `isolated` made: both differ from those of the process that started it."""
    started_from = os.environ.get(INSIDE_ENV, "")
    if not started_from:
        return False
    return all(kind not in started_from.split(",") for kind in _namespaces().split(","))


def configure_network() -> None:
    if not inside():
        raise RuntimeError("refusing to change a network namespace this harness did not make")
    first_pod, first_service = POD_CIDR.replace(".0/", ".1/"), SERVICE_CIDR.replace(".0/", ".1/")
    for command in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "addr", "add", first_pod, "dev", "lo"],
        ["ip", "addr", "add", first_service, "dev", "lo"],
    ):
        subprocess.run(command, check=True, capture_output=True, timeout=10)
