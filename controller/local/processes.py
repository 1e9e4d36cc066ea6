"""Child processes for local mode: start, wait until they answer, stop exactly what we started."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from controller.errors import DependencyError

__all__ = ["free_port", "ManagedProcess", "ProcessGroup", "wait_http_ok"]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


async def wait_http_ok(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers 2xx; fail early if the process behind it died."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while loop.time() < deadline:
            if process is not None and process.poll() is not None:
                raise DependencyError(f"{url}: the process exited with code {process.returncode} before answering")
            try:
                if (await client.get(url)).is_success:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise DependencyError(f"{url} did not answer within {timeout_s:.0f}s")


@dataclass
class ManagedProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path | None = None

    def stop(self, timeout_s: float = 5.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=timeout_s)


@dataclass
class ProcessGroup:
    """Every process a local run starts; `stop_all` ends them (by their own pid) in reverse order."""

    log_dir: Path
    members: list[ManagedProcess] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None, inherit: bool = True) -> ManagedProcess:
        """Start `argv` with its output in `<log_dir>/<name>.log`; `env` adds to this process's
        environment, or replaces it when `inherit` is false."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                list(argv), stdout=log, stderr=subprocess.STDOUT, env={**(os.environ if inherit else {}), **(env or {})}
            )
        member = ManagedProcess(name, process, log_path)
        self.members.append(member)
        return member

    def stop_all(self) -> None:
        for member in reversed(self.members):
            member.stop()
        self.members.clear()
