"""The Prometheus provider against a real Prometheus server scraping a real exporter."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from controller.analysis.judge import judge
from controller.api import MetricSpec, ModelRollout, ModelRolloutSpec, Verdict
from controller.engine.inputs import MeasurementRequest
from controller.providers.prometheus import PrometheusProvider

pytestmark = pytest.mark.integration

PROMETHEUS = shutil.which("prometheus")

EXPORTER = textwrap.dedent(
    """
    import sys, time
    from prometheus_client import Counter, start_http_server
    requests = Counter("model_requests", "requests", ["variant"])
    errors = Counter("model_errors", "errors", ["variant"])
    requests.labels("stable").inc(1000); errors.labels("stable").inc(10)
    requests.labels("candidate").inc(1000); errors.labels("candidate").inc(150)
    start_http_server(int(sys.argv[1]), addr="127.0.0.1")
    while True:
        time.sleep(1)
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout_s}s")


def _query_result(address: str, query: dict[str, str]) -> list[object]:
    response = httpx.get(f"{address}/api/v1/query", params=query)
    return response.json()["data"]["result"] if response.status_code == 200 else []


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if PROMETHEUS is None:
        pytest.skip("Debian's prometheus package is not installed (.ci/run installs it)")
    workdir: Path = tmp_path_factory.mktemp("prometheus")
    exporter_port, prom_port = _free_port(), _free_port()
    exporter = subprocess.Popen([sys.executable, "-c", EXPORTER, str(exporter_port)])
    (workdir / "prometheus.yml").write_text(
        f"global: {{scrape_interval: 1s}}\n"
        f"scrape_configs:\n- job_name: model\n  static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
    )
    server = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    address = f"http://127.0.0.1:{prom_port}"
    try:
        # Until its storage is open Prometheus answers every path with a plain-text 503, so
        # wait for /-/ready before reading query results as JSON.
        _wait_until(lambda: httpx.get(f"{address}/-/ready").status_code == 200, 60, "prometheus readiness")
        query = {"query": 'model_requests_total{variant="stable"}'}
        _wait_until(lambda: _query_result(address, query), 60, "prometheus scrape")
        yield address
    finally:
        for process in (server, exporter):
            process.terminate()
            process.wait(timeout=10)


def _rollout() -> ModelRollout:
    spec = ModelRolloutSpec.model_validate(
        {"template": {"spec": {"containers": [{"name": "m", "image": "m:1"}]}}, "strategy": {"canary": {"steps": [{"setWeight": 100}]}}}
    )
    return ModelRollout(metadata={"name": "demo", "namespace": "ml"}, spec=spec)


def _measure(metric: MetricSpec) -> tuple[object, object]:
    now = datetime.now(UTC)
    request = MeasurementRequest(scope="background", metric=metric, window_start=now - timedelta(minutes=5))

    async def go():
        async with httpx.AsyncClient() as client:
            return await PrometheusProvider(client).measure(_rollout(), request, now)

    observation = asyncio.run(go())
    return observation, judge(metric, observation)


def test_error_ratio_per_variant_is_measured_and_judged(prometheus: str) -> None:
    metric = MetricSpec.model_validate(
        {
            "name": "error-ratio",
            "prometheus": {
                "address": prometheus,
                "query": 'sum(model_errors_total{variant="{{variant}}"}) / sum(model_requests_total{variant="{{variant}}"})',
                "samplesQuery": 'sum(model_requests_total{variant="{{variant}}"})',
            },
            "maxIncrease": {"absolute": 0.05},
            "minSamples": 100,
        }
    )
    observation, result = _measure(metric)
    assert observation.error is None
    assert observation.candidate.value == pytest.approx(0.15)
    assert observation.stable.value == pytest.approx(0.01)
    assert observation.candidate.count == 1000
    assert result.verdict is Verdict.FAILED


def test_a_value_without_samples_query_claims_no_sample_count(prometheus: str) -> None:
    metric = MetricSpec.model_validate(
        {
            "name": "error-ratio",
            "prometheus": {
                "address": prometheus,
                "query": 'sum(model_errors_total{variant="candidate"}) / sum(model_requests_total{variant="candidate"})',
            },
            "max": 0.05,
        }
    )
    observation, result = _measure(metric)
    assert observation.error is None
    assert (observation.candidate.count, observation.candidate.counted) == (1, False)
    assert result.verdict is Verdict.FAILED and result.candidate_samples == 1  # 15% errors, judged as it is


def test_samples_query_holds_the_count_to_the_default_minimum(prometheus: str) -> None:
    metric = MetricSpec.model_validate(
        {
            "name": "error-ratio",
            "prometheus": {
                "address": prometheus,
                "query": 'sum(model_errors_total{variant="{{variant}}"}) / sum(model_requests_total{variant="{{variant}}"})',
                # Counts only the errors: 10 behind stable's value, below the default minimum of 50.
                "samplesQuery": 'sum(model_errors_total{variant="{{variant}}"})',
            },
            "maxIncrease": {"absolute": 0.05},
        }
    )
    observation, result = _measure(metric)
    assert observation.stable.count == 10 and observation.stable.counted
    assert result.verdict is Verdict.INCONCLUSIVE and "stable has 10 of 50 samples needed" in result.reason


def test_query_with_no_data_is_inconclusive(prometheus: str) -> None:
    metric = MetricSpec.model_validate(
        {"name": "absent", "prometheus": {"address": prometheus, "query": "nothing_like_this_metric"}, "max": 1}
    )
    observation, result = _measure(metric)
    assert observation.error is None and observation.candidate.count == 0
    assert result.verdict is Verdict.INCONCLUSIVE


def test_bad_promql_is_an_error_naming_the_query(prometheus: str) -> None:
    metric = MetricSpec.model_validate({"name": "broken", "prometheus": {"address": prometheus, "query": "sum(("}, "max": 1})
    observation, result = _measure(metric)
    assert "sum((" in (observation.error or "")
    assert result.verdict is Verdict.ERROR


def test_unreachable_prometheus_is_an_error_not_a_failure() -> None:
    address = f"http://127.0.0.1:{_free_port()}"
    metric = MetricSpec.model_validate({"name": "down", "prometheus": {"address": address, "query": "up", "timeout": "2s"}, "max": 1})
    observation, result = _measure(metric)
    assert "unreachable" in (observation.error or "")
    assert result.verdict is Verdict.ERROR
