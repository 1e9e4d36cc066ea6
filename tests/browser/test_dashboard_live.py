"""The dashboard in headless chromium on a live rollout: a real controller on the real control plane, real routers.

The page is watched as the rollout moves (phase, step and charts change with no reload), Promote
and Abort are pressed through their confirmation and their effect read back from the resource,
and actions without credentials or from another site are refused. Screenshots are kept under
`artifacts/dashboard/<test>/` (git ignores it), or `$MODELROLLOUT_ARTIFACTS/dashboard/<test>/`.
"""

from __future__ import annotations

import asyncio
import http.server
import os
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from controller.api.resource import revision_of
from controller.dashboard.app import DashboardSettings
from controller.dashboard.security import Guard
from controller.dashboard.server import serve
from controller.kube.client import KubeClient, load_configuration
from controller.local.processes import free_port
from tests.browser.dashboard_browser import Browser, open_browser
from tests.integration.kube.backends import Real
from tests.integration.kube.conftest import BAD, GOOD, REAL_ONLY, STABLE, anyio_backend, backend, models, real_cluster, scene
from tests.integration.kube.listing import reach_router
from tests.integration.kube.scene import Scene, canary_document, template

__all__ = ["anyio_backend", "backend", "models", "real_cluster", "scene"]

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.anyio]

PAUSING: list[dict[str, Any]] = [{"setWeight": 30}, {"pause": {}}, {"setWeight": 100}]
# Measured every second for the charts, never failing: the test, not the metric, decides when it ends.
LENIENT = {"interval": "1s", "metrics": [{"name": "error-rate", "router": {"metric": "errorRate"}, "max": 0.9, "minSamples": 5}]}


def _document(image: str) -> dict[str, Any]:
    return canary_document("demo", image, PAUSING, analysis=LENIENT)


@asynccontextmanager
async def running_dashboard(scene: Scene, guard: Guard) -> AsyncIterator[str]:
    """The dashboard on this event loop, reading as the cluster's admin; its URL on loopback."""
    assert isinstance(scene.backend, Real)
    client = KubeClient(load_configuration(str(scene.backend.cluster.plane.kubeconfig_path)), threads=4)
    stop, urls = asyncio.Event(), list[str]()
    settings = DashboardSettings(guard, "tester")
    task = asyncio.create_task(
        serve(client, (scene.namespace,), guard.address, 0, settings, stop=stop, reach=reach_router, on_listening=urls.append)
    )
    try:
        while not urls:
            if task.done():
                await task
            await asyncio.sleep(0.05)
        yield urls[0].replace("0.0.0.0", "127.0.0.1")
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        client.close()


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Browser]:
    artifacts = Path(os.environ.get("MODELROLLOUT_ARTIFACTS") or Path(__file__).resolve().parents[2] / "artifacts")
    opened = open_browser(artifacts / "dashboard" / request.node.name.replace("[", "-").rstrip("]"))
    try:
        yield opened
    finally:
        opened.close()


def _row_phase(driver: WebDriver) -> str | None:
    return driver.execute_script(
        "const r = document.querySelector('#rollouts tbody tr[data-key$=\"/demo\"]'); return r ? r.children[2].textContent : null;"
    )


def _current_step(driver: WebDriver) -> str | None:
    return driver.execute_script("const s = document.querySelector('#steps li.current'); return s ? s.textContent : null;")


def _chart_latest(driver: WebDriver) -> str | None:
    """The time of the chart's newest point: the evidence trail is bounded, so points move on rather than pile up."""
    return driver.execute_script(
        "const c = document.getElementById('chart-error-rate'); return c && c.data && c.data[0].x.length ? c.data[0].x.at(-1) : null;"
    )


async def _confirm(browser: Browser, action: str, says: str) -> None:
    await browser.until(f"{action} enabled", lambda d: d.execute_script(f"return !document.getElementById('action-{action}').disabled;"))
    await browser.script(f"document.getElementById('action-{action}').click();")
    text = await browser.until("the confirmation", lambda d: d.execute_script(
        "const d = document.getElementById('confirm');"
        " return d.open ? document.getElementById('confirm-text').textContent : null;"))  # fmt: skip
    assert says in text, text
    await browser.script("document.getElementById('confirm-ok').click();")


@REAL_ONLY
async def test_the_page_follows_a_live_rollout_and_promote_and_abort_act_through_the_confirmation(scene: Scene, browser: Browser) -> None:
    await scene.start_controller()
    scene.apply(_document(STABLE))
    await scene.wait_for("demo Healthy", lambda: scene.status("demo").get("phase") == "Healthy")
    await scene.start_router("demo", 0)
    scene.start_traffic()

    async with running_dashboard(scene, Guard("127.0.0.1")) as url:
        await browser.get(url)
        await browser.until("the list shows demo Healthy", lambda d: _row_phase(d) == "Healthy")
        await browser.script("window.stillTheSamePage = true;")
        scene.apply(_document(GOOD))
        await browser.until("the list shows demo Paused, live", lambda d: _row_phase(d) == "Paused")
        assert await browser.script("return window.stillTheSamePage === true;"), "the list reloaded instead of patching itself"
        await browser.shot("list")

        await browser.get(f"{url}rollouts/{scene.namespace}/demo")
        await browser.script("window.stillTheSamePage = true;")
        assert "pause until promoted" in await browser.until("the current step", _current_step)
        first = await browser.until("a chart with points", _chart_latest)
        await browser.until("the chart drawing newer points as analysis goes on", lambda d: (_chart_latest(d) or "") > first)
        assert await browser.text("#d-split") == "70/30"
        await browser.shot("rollout-paused")

        await _confirm(browser, "promote", "Complete the current step of demo")
        await scene.wait_for("the promote handled", lambda: (scene.status("demo").get("lastRequest") or {}).get("action") == "promote", 60)
        assert scene.status("demo")["lastRequest"]["handled"] is True
        await browser.until("the page showing Healthy", lambda d: d.find_element("id", "d-phase").text == "Healthy")
        assert scene.status("demo")["stableRevision"] == revision_of(template(GOOD))
        asked = [e for e in scene.events("demo") if e.get("reason") == "ActionRequested"]
        assert any("promote requested by tester from the dashboard" in e["message"] for e in asked), asked
        assert await browser.script("return window.stillTheSamePage === true;"), "the rollout page reloaded"

        scene.apply(_document(BAD))
        await browser.until("the page showing the new rollout paused", lambda d: "pause until promoted" in (_current_step(d) or ""))
        await _confirm(browser, "abort", "Roll demo back now")
        await scene.wait_for("demo aborted", lambda: scene.status("demo").get("phase") == "Degraded", 60)
        assert scene.status("demo")["reason"] == "Aborted" and scene.status("demo")["stableRevision"] == revision_of(template(GOOD))
        await browser.until("the page showing Degraded", lambda d: d.find_element("id", "d-phase").text == "Degraded")
        await browser.until(
            "abort disabled once Degraded", lambda d: d.execute_script("return document.getElementById('action-abort').disabled;")
        )
        await browser.shot("rollout-aborted")


@contextmanager
def cross_site_page(target: str) -> Iterator[str]:
    """Another site on loopback whose page posts a form to `target` as soon as it loads."""
    submit = '<script>document.getElementById("f").submit()</script>'
    page = f'<html><body><form id="f" method="POST" action="{target}"></form>{submit}</body></html>'

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


_POST = """
const done = arguments[arguments.length - 1];
const headers = arguments[1] ? {"X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content} : {};
if (arguments[2]) headers.Authorization = "Bearer " + arguments[2];
fetch(arguments[0], {method: "POST", headers}).then(async (r) => done([r.status, (await r.json()).error || ""]));
"""


async def _post(browser: Browser, url: str, csrf: bool, token: str = "") -> tuple[int, str]:
    status, message = await browser.run(lambda d: d.execute_async_script(_POST, url, csrf, token))
    return int(status), str(message)


@REAL_ONLY
async def test_actions_without_credentials_or_from_another_site_are_refused(scene: Scene, browser: Browser) -> None:
    scene.apply(_document(STABLE))  # no controller: a request written would stay on the resource
    written = lambda: "modelrollout.io/request" in (scene.rollout("demo")["metadata"].get("annotations") or {})  # noqa: E731

    async with running_dashboard(scene, Guard("0.0.0.0", token="s3cret-token")) as url:
        action = f"{url}api/rollouts/{scene.namespace}/demo/actions/promote"
        await browser.get(f"{url}rollouts/{scene.namespace}/demo")
        assert "s3cret-token" not in await browser.run(lambda d: d.page_source)
        assert await _post(browser, action, csrf=True) == (401, "this action needs the dashboard's bearer token")
        assert await _post(browser, action, csrf=True, token="wrong") == (401, "this action needs the dashboard's bearer token")
        assert (await _post(browser, action, csrf=False, token="s3cret-token"))[0] == 403
        assert not written()

        with cross_site_page(action) as evil:
            await browser.get(evil)
            refused = await browser.until(
                "the forged POST answered", lambda d: "cross-site request refused" in d.page_source and d.page_source
            )
            assert f"Origin {evil.rstrip('/')} is not this dashboard" in refused
        assert not written()

        await browser.get(f"{url}rollouts/{scene.namespace}/demo")
        assert (await _post(browser, action, csrf=True, token="s3cret-token"))[0] == 202
        assert written()

    async with running_dashboard(scene, Guard("0.0.0.0")) as url:
        await browser.get(f"{url}rollouts/{scene.namespace}/demo")
        assert "read-only" in await browser.text("#read-only")
        status, message = await _post(browser, f"{url}api/rollouts/{scene.namespace}/demo/actions/abort", csrf=True)
        assert status == 403 and "read-only" in message


# Every request's features counted, and checks a second apart: the panel fills within seconds.
MONITORING = {
    "interval": "1s",
    "window": "3s",
    "reference": {"captureWindow": "2s", "minSamples": 20},
    "dataDrift": {"minSamples": 20},
}


@REAL_ONLY
async def test_the_page_shows_what_monitoring_found_on_a_live_stable_model(scene: Scene, browser: Browser) -> None:
    await scene.start_controller()
    document = _document(STABLE)
    document["spec"]["monitoring"] = MONITORING
    document["spec"]["router"] = {"featureSamplePercent": 100}
    scene.apply(document)
    await scene.wait_for("demo Healthy", lambda: scene.status("demo").get("phase") == "Healthy")
    await scene.start_router("demo", 0)
    scene.start_traffic()

    def tested_features() -> dict[str, Any] | None:
        monitoring = scene.status("demo").get("monitoring") or {}
        return monitoring if monitoring.get("reference") and (monitoring.get("lastCheck") or {}).get("featuresTested") else None

    tested = await scene.wait_for("a check after the reference was captured", tested_features, 60)

    async with running_dashboard(scene, Guard("127.0.0.1")) as url:
        await browser.get(f"{url}rollouts/{scene.namespace}/demo")
        summary = await browser.until("the monitoring panel", lambda d: d.execute_script(
            "const p = document.getElementById('monitoring-panel');"
            " return p && !p.hidden ? document.getElementById('monitoring-summary').textContent : null;"))  # fmt: skip
        assert f"revision {tested['revision']}" in summary and "reference: live" in summary, summary
        features = await browser.until("the features' tests", lambda d: d.execute_script(
            "const rows = document.querySelectorAll('#findings tr');"
            " return rows.length ? [...rows].map((r) => r.children[0].textContent) : null;"))  # fmt: skip
        assert set(features) <= {f"{i}" for i in range(30)} and len(features) >= 1, features
        conditions = await browser.until("the monitoring conditions", lambda d: d.execute_script(
            "return [...document.querySelectorAll('#conditions tr')].map((r) => r.children[0].textContent)"
            ".filter((t) => ['DataDrift', 'PredictionDrift', 'QualityDegraded'].includes(t));") or None)  # fmt: skip
        assert sorted(conditions) == ["DataDrift", "PredictionDrift", "QualityDegraded"]
        await browser.shot("monitoring")
