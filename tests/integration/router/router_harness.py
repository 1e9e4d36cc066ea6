"""Real processes for the router tests: model backends and routers on free loopback ports.

Every process is started here with its output in a temp file and stopped by its owner; a
test reads a router's stderr to prove nothing leaked (no traceback) after abuse.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

__all__ = [
    "BACKEND_SCRIPT",
    "DISAGREE_BELOW",
    "Answer",
    "Backend",
    "Process",
    "RouterFactory",
    "RouterProcess",
    "free_port",
    "p99",
    "send_many",
    "wait_until",
]

BACKEND_SCRIPT = Path(__file__).with_name("backend_app.py")
REPO_ROOT = Path(__file__).resolve().parents[3]
# The candidate backend of these tests predicts 0.5 off the stable for instances whose first
# value is below this: a planted disagreement.
DISAGREE_BELOW = 0.2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout_s: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} not reached within {timeout_s:g}s")


class Process:
    """A child process with stdout and stderr captured in a temp file."""

    def __init__(self, command: Sequence[str], env: dict[str, str] | None = None) -> None:
        self._log = tempfile.NamedTemporaryFile(prefix="router-test-", suffix=".log", delete=False)  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            list(command), stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env={**os.environ, **(env or {})}
        )

    def output(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._log.close()
        return self.popen.returncode

    def remove_log(self) -> None:
        Path(self._log.name).unlink(missing_ok=True)


@dataclass
class Backend:
    name: str
    port: int
    process: Process

    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, name: str, *options: str, ca_file: str | None = None) -> Backend:
        """A backend process; with `--tls-cert`, it serves HTTPS and `ca_file` verifies it."""
        port = free_port()
        process = Process([sys.executable, str(BACKEND_SCRIPT), "--port", str(port), "--name", name, *options])
        backend = cls(name, port, process, "https" if "--tls-cert" in options else "http")
        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
        wait_until(lambda: httpx.get(f"{backend.url}/text", timeout=1, verify=verify).status_code == 200, what=f"backend {name}")
        return backend

    def stop(self) -> None:
        self.process.stop()
        self.process.remove_log()


@dataclass
class RouterProcess:
    """`python -m router` with a config file that tests rewrite to reconfigure it."""

    config_path: Path
    port: int
    admin_port: int
    process: Process
    generation: int = 0
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=10))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @classmethod
    def start(
        cls,
        workdir: Path,
        config: dict[str, Any] | None = None,
        *,
        args: Sequence[str] = (),
        env: dict[str, str] | None = None,
        ready: bool = True,
    ) -> RouterProcess:
        port, admin_port = free_port(), free_port()
        path = workdir / f"router-{port}.json"
        source = ["--config", str(path)] if config is not None else []
        if config is not None:
            path.write_text(json.dumps(config))
        command = [
            sys.executable,
            "-m",
            "router",
            *source,
            *args,
            "--listen",
            f"127.0.0.1:{port}",
            "--admin-listen",
            f"127.0.0.1:{admin_port}",
        ]
        router = cls(path, port, admin_port, Process(command, env), generation=(config or {}).get("generation", 0))
        wait_until(router.ready if ready else router.listening, what="router /readyz" if ready else "router admin port")
        return router

    def ready(self) -> bool:
        if self.process.popen.poll() is not None:
            raise RuntimeError(f"router exited with {self.process.popen.returncode}:\n{self.process.output()}")
        return self.client.get(f"{self.admin}/readyz").status_code == 200

    def listening(self) -> bool:
        self.ready()
        return True

    def reconfigure(self, config: dict[str, Any]) -> None:
        """Write `config` with the next generation and wait until it is in force."""
        self.generation += 1
        self.write_config(json.dumps({**config, "generation": self.generation}))
        wait_until(lambda: self.stats()["generation"] == self.generation, what=f"generation {self.generation}")

    def write_config(self, text: str) -> None:
        """Replace the config file atomically, as a ConfigMap volume or an editor would."""
        temporary = self.config_path.with_suffix(".tmp")
        temporary.write_text(text)
        os.replace(temporary, self.config_path)

    def stats(self) -> dict[str, Any]:
        return dict(self.client.get(f"{self.admin}/stats").json())

    def metrics(self) -> str:
        return self.client.get(f"{self.admin}/metrics").text

    def feedback(self, body: Any) -> httpx.Response:
        return self.client.post(f"{self.admin}/feedback", json=body)

    def stop(self) -> int:
        self.client.close()
        code = self.process.stop()
        self.process.remove_log()
        return code


@dataclass(frozen=True)
class Answer:
    status: int
    variant: str
    backend: str
    request_id: str
    body: bytes
    latency_s: float


def send_many(
    url: str, bodies: Sequence[Any], *, concurrency: int = 16, headers: Sequence[dict[str, str]] | None = None
) -> list[Answer]:
    """POST each body as JSON (with the matching headers), `concurrency` at a time, in order.

    The client's garbage collector is paused meanwhile: its pauses would be measured as the
    router's latency.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return asyncio.run(_send_many(url, bodies, concurrency, headers))
    finally:
        if collecting:
            gc.enable()


async def _send_many(url: str, bodies: Sequence[Any], concurrency: int, headers: Sequence[dict[str, str]] | None) -> list[Answer]:
    gate = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def one(index: int) -> Answer:
            async with gate:
                started = time.perf_counter()
                extra = headers[index] if headers else {}
                async with session.post(
                    url, data=json.dumps(bodies[index]), headers={"content-type": "application/json", **extra}
                ) as response:
                    body = await response.read()
                    h = response.headers
                    return Answer(
                        response.status,
                        h.get("x-model-variant", ""),
                        h.get("x-backend", ""),
                        h.get("x-request-id", ""),
                        body,
                        time.perf_counter() - started,
                    )

        return list(await asyncio.gather(*(one(i) for i in range(len(bodies)))))


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


# What the `start_router` fixture hands a test: call it with a config (or None and args) for a router.
RouterFactory = Callable[..., RouterProcess]
