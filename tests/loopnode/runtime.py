"""A `PodRuntime` that runs each container of a Pod as a local process on the Pod's IP.

The kubelet's part for one container, as far as a rollout needs it:

- the program comes from the image (`tests.loopnode.images`), with the Pod's env, a scratch
  working directory, `HOSTNAME` set to the Pod's name, and `KUBECONFIG` pointing at a kubeconfig
  holding a token for the Pod's ServiceAccount from the TokenRequest API, which is what the
  kubelet's projected token mount gives a real pod (none when `automountServiceAccountToken` is
  false). `KUBERNETES_SERVICE_HOST` is not set: the API server listens on loopback, reached
  through the kubeconfig;
- readiness: the container's readinessProbe (httpGet path and port, by number or by name, or
  tcpSocket), otherwise a TCP connect to its first containerPort, otherwise a running process.
  Probes run every `probe_interval_s` whatever `periodSeconds` says, since the rollouts these
  tests drive are compressed in time. Liveness probes are not run;
- a process that exits is started again after a back-off (restartPolicy Always), and its Pod is
  not ready meanwhile;
- stopping sends SIGTERM and SIGKILL after the Pod's `terminationGracePeriodSeconds` (at most
  `max_grace_s`), without blocking the node: `close()` waits for every process.

Each container's output goes to `<workdir>/logs/<namespace>_<pod>_<container>.log`.
Only processes this runtime started are signalled, by their pid.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.loopnode.images import ContainerProgram, ImageError, container_program
from tests.loopnode.node import pod_key

__all__ = ["ProcessRuntime", "Credentials"]

log = logging.getLogger(__name__)

# (kubeconfig path to write, namespace, ServiceAccount) -> the path written; ControlPlane.token_kubeconfig.
Credentials = Callable[[Path, str, str], Path]


@dataclass
class _Container:
    name: str
    program: ContainerProgram
    probe: dict[str, Any] | None  # {"http": path, "port": n} | {"tcp": n} | None: running is ready
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    restart_at: float = 0.0
    ready: bool = False


@dataclass
class _Pod:
    key: str
    ip: str
    workdir: Path
    containers: list[_Container]
    grace_s: float
    stop_deadline: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _port_number(port: int | str, container: dict[str, Any]) -> int:
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    raise ImageError(f"container {container['name']}: probe port {port!r} is not a named containerPort")


def _probe_of(container: dict[str, Any]) -> dict[str, Any] | None:
    probe = container.get("readinessProbe") or {}
    if "httpGet" in probe:
        return {"http": probe["httpGet"].get("path", "/"), "port": _port_number(probe["httpGet"]["port"], container)}
    if "tcpSocket" in probe:
        return {"tcp": _port_number(probe["tcpSocket"]["port"], container)}
    ports = container.get("ports") or []
    return {"tcp": int(ports[0]["containerPort"])} if ports else None


class ProcessRuntime:
    """Runs Pods' containers as processes; `credentials` makes the ServiceAccount kubeconfigs."""

    def __init__(
        self, workdir: Path, credentials: Credentials, *, probe_interval_s: float = 0.3,
        restart_backoff_s: float = 1.0, max_grace_s: float = 15.0,
    ) -> None:  # fmt: skip
        self._workdir = workdir
        self._credentials = credentials
        self._probe_interval_s = probe_interval_s
        self._backoff_s = restart_backoff_s
        self._max_grace_s = max_grace_s
        self._pods: dict[str, _Pod] = {}
        self._stopping: dict[str, _Pod] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._http = httpx.Client(timeout=1.0)
        self._thread = threading.Thread(target=self._supervise, name="loopnode-runtime", daemon=True)
        self._thread.start()

    # --- PodRuntime -----------------------------------------------------------------------

    def start(self, pod: dict[str, Any], ip: str) -> None:
        key = pod_key(pod)
        meta, spec = pod["metadata"], pod["spec"]
        workdir = self._workdir / "pods" / f"{meta['namespace']}_{meta['name']}"
        (workdir / "tmp").mkdir(parents=True, exist_ok=True)
        base = self._base_env(pod, workdir)
        containers = []
        for container in spec.get("containers") or []:
            program = container_program(container, pod, ip)
            program.env.update({k: v for k, v in base.items() if k not in program.env})
            log_path = self._workdir / "logs" / f"{meta['namespace']}_{meta['name']}_{container['name']}.log"
            containers.append(_Container(container["name"], program, _probe_of(container), log_path))
        grace = float(spec.get("terminationGracePeriodSeconds", 30))
        entry = _Pod(key, ip, workdir, containers, min(grace, self._max_grace_s))
        with entry.lock:
            for container in containers:
                self._spawn(entry, container)
        with self._lock:
            self._pods[key] = entry

    def ready(self, key: str) -> bool:
        with self._lock:
            entry = self._pods.get(key)
        return entry is not None and all(c.ready for c in entry.containers)

    def stop(self, key: str) -> None:
        with self._lock:
            entry = self._pods.pop(key, None)
            if entry is None:
                return
            self._stopping[key] = entry
        with entry.lock:
            entry.stop_deadline = time.monotonic() + entry.grace_s
            for container in entry.containers:
                container.ready = False
                self._signal(container, signal.SIGTERM)

    # --- for tests ------------------------------------------------------------------------

    def pids(self, key: str) -> dict[str, int]:
        """The running process of each container of a Pod, by container name."""
        with self._lock:
            entry = self._pods.get(key)
        if entry is None:
            return {}
        with entry.lock:
            return {c.name: c.process.pid for c in entry.containers if c.process is not None and c.process.poll() is None}

    def crash(self, key: str, container: str) -> int | None:
        """SIGKILL one container's process, as a crash or an OOM kill would; the pid killed, if any.
        The container is started again after the back-off, like any container that exits."""
        with self._lock:
            entry = self._pods.get(key)
        if entry is None:
            return None
        with entry.lock:
            found = next((c for c in entry.containers if c.name == container), None)
            if found is None or found.process is None or found.process.poll() is not None:
                return None
            self._signal(found, signal.SIGKILL)
            return found.process.pid

    def restarts(self, key: str) -> dict[str, int]:
        with self._lock:
            entry = self._pods.get(key)
        return {c.name: c.restarts for c in entry.containers} if entry is not None else {}

    def close(self, timeout_s: float = 20.0) -> None:
        """Stop every Pod and wait until every process this runtime started has ended."""
        with self._lock:
            keys = list(self._pods)
        for key in keys:
            self.stop(key)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if not self._stopping:
                    break
            time.sleep(0.05)
        self._closed.set()
        self._thread.join(5)
        with self._lock:
            left = [c for entry in self._stopping.values() for c in entry.containers]
        for container in left:  # past every grace period: nothing may outlive the harness
            self._signal(container, signal.SIGKILL)
            if container.process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    container.process.wait(5)
        self._http.close()

    # --- processes ------------------------------------------------------------------------

    def _base_env(self, pod: dict[str, Any], workdir: Path) -> dict[str, str]:
        meta, spec = pod["metadata"], pod["spec"]
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(workdir), "TMPDIR": str(workdir / "tmp"), "HOSTNAME": meta["name"],
            "PYTHONUNBUFFERED": "1", "LANG": "C.UTF-8",
        }  # fmt: skip
        if spec.get("automountServiceAccountToken", True):
            account = spec.get("serviceAccountName") or "default"
            env["KUBECONFIG"] = str(self._credentials(workdir / "kubeconfig", meta["namespace"], account))
        return env

    def _spawn(self, entry: _Pod, container: _Container) -> None:
        container.log_path.parent.mkdir(parents=True, exist_ok=True)
        with container.log_path.open("ab") as output:
            output.write(f"--- start {container.restarts}: {' '.join(container.program.argv)}\n".encode())
            output.flush()
            container.process = subprocess.Popen(
                container.program.argv, env=container.program.env, cwd=entry.workdir,
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

    @staticmethod
    def _signal(container: _Container, signum: int) -> None:
        process = container.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    def _supervise(self) -> None:
        while not self._closed.wait(self._probe_interval_s):
            with self._lock:
                running, stopping = list(self._pods.values()), list(self._stopping.values())
            for entry in running:
                self._tend(entry)
            for entry in stopping:
                self._reap(entry)

    def _tend(self, entry: _Pod) -> None:
        now = time.monotonic()
        for container in entry.containers:
            with entry.lock:
                if entry.stop_deadline is not None:
                    return
                process = container.process
                if process is not None and process.poll() is not None:
                    log.info("loopback node: %s/%s exited with %s; restarting", entry.key, container.name, process.returncode)
                    container.process, container.ready = None, False
                    container.restart_at = now + min(self._backoff_s * 2**container.restarts, 10.0)
                    container.restarts += 1
                if container.process is None:
                    if now >= container.restart_at:
                        self._spawn(entry, container)
                    continue
            container.ready = self._probe(entry.ip, container.probe)

    def _probe(self, ip: str, probe: dict[str, Any] | None) -> bool:
        if probe is None:
            return True
        if "tcp" in probe:
            try:
                with socket.create_connection((ip, probe["tcp"]), timeout=1.0):
                    return True
            except OSError:
                return False
        try:
            return 200 <= self._http.get(f"http://{ip}:{probe['port']}{probe['http']}", headers={"connection": "close"}).status_code < 400
        except httpx.HTTPError:
            return False

    def _reap(self, entry: _Pod) -> None:
        with entry.lock:
            overdue = entry.stop_deadline is not None and time.monotonic() >= entry.stop_deadline
            for container in entry.containers:
                if overdue:
                    self._signal(container, signal.SIGKILL)
            done = all(c.process is None or c.process.poll() is not None for c in entry.containers)
        if done:
            with self._lock:
                self._stopping.pop(entry.key, None)
