"""Processes for the benchmarks: free loopback ports, waiting for a server to answer, stopping what was started."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["free_port", "running", "stop", "wait_http"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout_s: float = 20.0, answer_s: float = 1.0) -> None:
    """Until `url` answers below 500 (each try given `answer_s`), at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=answer_s) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout_s:g}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s: only the process given, by its own pid."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def running(process: subprocess.Popen[bytes], ready_url: str | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """`process`, once `ready_url` answers; stopped on the way out, whatever happened."""
    try:
        if ready_url:
            wait_http(ready_url)
        yield process
    finally:
        stop(process)
