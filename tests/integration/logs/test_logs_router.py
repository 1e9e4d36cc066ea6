"""The router's JSON log lines and its access log, read from a real router process."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from controller.local.processes import ManagedProcess, ProcessGroup, free_port, wait_http_ok

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def _model_server() -> AsyncIterator[str]:
    async def predict(request: web.Request) -> web.Response:
        return web.json_response({"predictions": [1]})

    app = web.Application()
    app.router.add_post("/v1/models/m:predict", predict)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def _router(processes: ProcessGroup, tmp_path: Path, upstream: str, *flags: str) -> tuple[ManagedProcess, str]:
    config = tmp_path / "router.json"
    config.write_text(json.dumps({"generation": 7, "upstreams": {"stable": upstream}}))
    port, admin = free_port(), free_port()
    router = processes.start("router", [
        sys.executable, "-m", "router", "--config", str(config), "--listen", f"127.0.0.1:{port}",
        "--admin-listen", f"127.0.0.1:{admin}", "--log-format", "json", *flags,
    ])  # fmt: skip
    await wait_http_ok(f"http://127.0.0.1:{admin}/readyz", 60, router.process)
    return router, f"http://127.0.0.1:{port}"


def _lines(router: ManagedProcess) -> list[dict[str, Any]]:
    assert router.log_path is not None
    # Every line the router wrote must be one JSON object; a text line fails here, naming itself.
    return [json.loads(line) for line in router.log_path.read_text().splitlines() if line.strip()]


def _stop(router: ManagedProcess) -> None:
    router.process.send_signal(signal.SIGTERM)
    router.process.wait(timeout=30)


async def _send(url: str, ids: list[str]) -> None:
    async with httpx.AsyncClient() as client:
        for request_id in ids:
            answer = await client.post(f"{url}/v1/models/m:predict", json={"instances": [[1]]}, headers={"x-request-id": request_id})
            assert answer.status_code == 200


async def test_a_sampled_access_log_line_carries_the_request_id_variant_status_and_generation(
    processes: ProcessGroup, tmp_path: Path
) -> None:
    async with _model_server() as upstream:
        router, url = await _router(processes, tmp_path, upstream, "--access-log-sample", "1")
        ids = [f"req-{i}" for i in range(5)]
        await _send(url, ids)
        deadline = time.monotonic() + 30
        while len([line for line in _lines(router) if "request_id" in line]) < len(ids):
            assert time.monotonic() < deadline, "the access log never had a line per request"
            await asyncio.sleep(0.05)
        _stop(router)
    lines = _lines(router)
    access = [line for line in lines if line.get("logger") == "modelrollout.router.access"]
    assert [line["request_id"] for line in access] == ids
    for line in access:
        assert (line["variant"], line["status"], line["generation"], line["method"]) == ("stable", 200, 7, "POST")
        assert line["path"] == "/v1/models/m:predict" and line["duration_ms"] >= 0
        assert {"time", "level", "message"} <= line.keys()


async def test_the_access_log_is_off_by_default(processes: ProcessGroup, tmp_path: Path) -> None:
    async with _model_server() as upstream:
        router, url = await _router(processes, tmp_path, upstream)
        await _send(url, [f"quiet-{i}" for i in range(20)])
        # Stopping logs a line after every request was answered, so the log is complete when it is there.
        _stop(router)
    lines = _lines(router)
    assert any("stopping" in line["message"] for line in lines)
    assert [line for line in lines if "request_id" in line] == []


@pytest.mark.parametrize("share", ["-0.1", "1.5", "often"])
def test_an_access_log_share_outside_0_to_1_is_refused_naming_it(share: str) -> None:
    result = subprocess.run([sys.executable, "-m", "router", "--config", "x.json", "--access-log-sample", share],
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 2 and f"{share!r} is not a share between 0 and 1" in result.stderr
