"""The rollout page's router charts from a real Prometheus (Debian's) scraping a real router before real model servers.

The router splits 50/50 between a good stable and a candidate answering 15% of predictions with
500; Prometheus scrapes its admin port labelled as the chart's PodMonitor labels routers. The
charts must show both variants' request rates and the candidate's error rate above the stable's.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from controller.dashboard.prometheus import HistoryError, PrometheusHistory
from controller.local.loadgen import TrafficConfig, TrafficGenerator, dataset_requests
from controller.local.processes import ProcessGroup, free_port, wait_http_ok

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

PROMETHEUS = shutil.which("prometheus")
T = TypeVar("T")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _model(processes: ProcessGroup, variant: str, scenario: str) -> str:
    port = free_port()
    argv = [sys.executable, "-m", "controller.local.demo_model", "--port", str(port), "--variant", variant, "--scenario", scenario]
    member = processes.start(f"model-{variant}", argv)
    await wait_http_ok(f"http://127.0.0.1:{port}/healthz", 60, member.process)
    return f"http://127.0.0.1:{port}"


async def _router(processes: ProcessGroup, workdir: Path, stable: str, candidate: str) -> tuple[str, int]:
    config = {"generation": 1, "upstreams": {"stable": stable, "candidate": candidate}, "weights": {"stable": 50, "candidate": 50}}
    (workdir / "router.json").write_text(json.dumps(config))
    data, admin = free_port(), free_port()
    argv = [sys.executable, "-m", "router", "--config", str(workdir / "router.json"), "--listen", f"127.0.0.1:{data}",
            "--admin-listen", f"127.0.0.1:{admin}", "--log-level", "warning"]  # fmt: skip
    member = processes.start("router", argv)
    await wait_http_ok(f"http://127.0.0.1:{admin}/readyz", 60, member.process)
    return f"http://127.0.0.1:{data}", admin


async def _prometheus(processes: ProcessGroup, workdir: Path, admin_port: int) -> str:
    if PROMETHEUS is None:
        pytest.skip("Debian's prometheus package is not installed (.ci/run installs it)")
    port = free_port()
    target = f"{{targets: ['127.0.0.1:{admin_port}'], labels: {{namespace: ml, rollout: iris}}}}"
    (workdir / "prometheus.yml").write_text(
        f"global: {{scrape_interval: 1s}}\nscrape_configs:\n- job_name: routers\n  static_configs: [{target}]\n"
    )
    argv = [PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}"]  # fmt: skip
    member = processes.start("prometheus", argv)
    await wait_http_ok(f"http://127.0.0.1:{port}/-/ready", 60, member.process)
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def traffic_through_a_router(processes: ProcessGroup, tmp_path: Path) -> AsyncIterator[str]:
    """Prometheus's address, once a router with a good stable and a failing candidate is being called."""
    stable, candidate = await _model(processes, "stable", "good"), await _model(processes, "candidate", "errors")
    data_url, admin_port = await _router(processes, tmp_path, stable, candidate)
    prometheus = await _prometheus(processes, tmp_path, admin_port)
    generator = TrafficGenerator(TrafficConfig(target_url=data_url, rate_per_s=40.0, timeout_s=5.0), dataset_requests())
    generator.start()
    try:
        yield prometheus
    finally:
        await generator.stop()


async def _until(what: str, check: Callable[[], Awaitable[T | None]], timeout_s: float) -> T:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while (answer := await check()) is None:
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g}s waiting for {what}")
        await asyncio.sleep(0.5)
    return answer


def _by_metric(charts: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {c["metric"]: c["points"] for c in charts}


async def test_router_charts_show_each_variants_traffic_and_the_candidates_errors(traffic_through_a_router: str) -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    async with httpx.AsyncClient(timeout=10) as http:
        history = PrometheusHistory(traffic_through_a_router, http, rate_window_s=5, least_step_s=1)

        async def charted() -> dict[str, list[dict[str, Any]]] | None:
            charts = _by_metric(await history.charts("ml", "iris", start, datetime.now(UTC)))
            rates = [p for p in charts.get("request rate", []) if p["candidate"] and p["stable"]]
            errors = [p for p in charts.get("error rate", []) if p["candidate"] is not None and p["stable"] is not None]
            return charts if len(rates) >= 3 and len(errors) >= 3 else None

        charts = await _until("three points of both variants' rates and error rates", charted, timeout_s=90)
        assert {"request rate", "error rate", "p99 latency"} <= set(charts)
        errors = [p for p in charts["error rate"] if p["candidate"] is not None and p["stable"] is not None]
        assert sum(p["candidate"] for p in errors) > sum(p["stable"] for p in errors)
        assert all(p["stable"] == 0 for p in errors), "the good stable answered errors"
        assert all(p["candidate"] > 0 and p["stable"] > 0 for p in charts["p99 latency"] if p["candidate"] and p["stable"])
        assert _by_metric(await history.charts("ml", "another", start, datetime.now(UTC))) == {}


async def test_an_unreachable_prometheus_is_said_with_its_address() -> None:
    address = f"http://127.0.0.1:{free_port()}"
    async with httpx.AsyncClient(timeout=2) as http:
        with pytest.raises(HistoryError, match=f"Prometheus at {address} did not answer"):
            await PrometheusHistory(address, http).charts("ml", "iris", datetime.now(UTC) - timedelta(minutes=5), datetime.now(UTC))
