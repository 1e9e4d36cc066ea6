"""Dashboard benchmark: 200 rollouts through the Kubernetes API stand-in, the list page's render time, and what
the page's live updates cost the controller beside its idle cost.

It starts the API stand-in and simulated routers on one CPU and `modelrollout controller` on the
other, applies N canary rollouts and moves every one to a paused 10% step with background
analysis every `--interval` seconds (so statuses keep changing), then:

1. measures the controller's CPU over `--observe` seconds with no dashboard (idle cost);
2. starts `kubectl-modelrollout dashboard` and times the list: the server's answer to `GET /` and
   `GET /api/rollouts`, and headless chromium from navigation until all N rows are in the table;
3. with that page open (live), plus `--streams` more list streams and as many rollout streams
   read by plain HTTP clients, measures the controller's CPU again over `--observe` seconds, and
   the dashboard's own and the API stand-in's.

It prints the figures, the controller's cost with the page open minus its idle cost, and the
targets (list under 1 s; live updates under 5% of a core of the controller):

    python bench/dashboard.py [--rollouts 200] [--interval 10] [--observe 30] [--streams 5]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

import httpx  # noqa: E402  (after the sys.path fix above, as in bench/controller.py)

from bench.controller import Processes, cpu_seconds, endpoint_slice, rollout_document  # noqa: E402
from controller.kube.client import ENDPOINT_SLICE, MODELROLLOUT, KubeClient, load_configuration  # noqa: E402
from controller.local.processes import free_port, wait_http_ok  # noqa: E402

NAMESPACE = "default"
TARGET_LIST_S, TARGET_CPU = 1.0, 0.05


async def _each(client: KubeClient, documents: list[dict], kind: object) -> None:
    for start in range(0, len(documents), 16):
        await asyncio.gather(*(client.create(kind, NAMESPACE, d) for d in documents[start : start + 16]))  # type: ignore[arg-type]


async def _until_all(client: KubeClient, what: str, check: object, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        items, _version = await client.list(MODELROLLOUT, NAMESPACE)
        if items and all(check(item.get("status") or {}) for item in items):  # type: ignore[operator]
            return
        await asyncio.sleep(1.0)
    raise TimeoutError(f"{what} not reached by every rollout within {timeout_s:.0f}s")


def _paused(status: dict) -> bool:
    return status.get("currentStep") == 1 and any(
        c.get("type") == "TrafficApplied" and c.get("status") == "True" for c in status.get("conditions") or []
    )


async def setup(kubeconfig: Path, control: str, size: int, interval_s: float, timeout_s: float) -> None:
    client = KubeClient(load_configuration(str(kubeconfig)), threads=8)
    names = [f"bench-{i}" for i in range(size)]
    try:
        async with httpx.AsyncClient(base_url=control, timeout=30) as sim:
            ports = (await sim.get("/ports")).json()
        await _each(client, [endpoint_slice(n, ports[n]) for n in names], ENDPOINT_SLICE)
        await _each(client, [rollout_document(n, "bench:v1", interval_s) for n in names], MODELROLLOUT)
        await _until_all(client, "Healthy", lambda s: s.get("phase") == "Healthy", timeout_s)
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "model", "image": "bench:v2"}]}}}}
        for start in range(0, size, 16):
            await asyncio.gather(*(client.patch(MODELROLLOUT, NAMESPACE, n, patch) for n in names[start : start + 16]))
        await _until_all(client, "the paused 10% step", _paused, timeout_s)
    finally:
        client.close()


def _listening(log: Path, process: object, timeout_s: float) -> str:
    """The URL the dashboard prints once it listens (it picks a free port itself)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("dashboard on "):
                return line.split()[2]
        if process.poll() is not None:  # type: ignore[attr-defined]
            raise RuntimeError(f"the dashboard exited: see {log}")
        time.sleep(0.1)
    raise TimeoutError(f"the dashboard did not listen within {timeout_s:g}s: see {log}")


def cpu_share(pids: list[int], seconds: float) -> list[float]:
    before, started = [cpu_seconds(p) for p in pids], time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    return [(cpu_seconds(p) - b) / elapsed for p, b in zip(pids, before)]


def server_times(base: str, repeat: int = 5) -> tuple[float, float]:
    """Best of `repeat` for GET / and GET /api/rollouts, in seconds."""
    with httpx.Client(base_url=base, timeout=30) as http:
        page, data = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            http.get("/").raise_for_status()
            t1 = time.perf_counter()
            http.get("/api/rollouts").raise_for_status()
            data.append(time.perf_counter() - t1)
            page.append(t1 - t0)
    return min(page), min(data)


def browser_list_time(base: str, size: int) -> tuple[float | None, object | None]:
    """Seconds from navigation until the table holds every row, in headless chromium; the driver stays open (live)."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        return None, None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.get("about:blank")
    rows = "return document.querySelectorAll('#rollouts tbody tr').length"
    t0 = time.perf_counter()
    driver.get(base)
    WebDriverWait(driver, 30, poll_frequency=0.01).until(lambda d: d.execute_script(rows) >= size)
    return time.perf_counter() - t0, driver


async def _read_stream(url: str, stop: asyncio.Event) -> int:
    pushes = 0
    async with httpx.AsyncClient(timeout=None) as http, http.stream("GET", url) as response:
        async for line in response.aiter_lines():
            pushes += line.startswith("data:")
            if stop.is_set():
                break
    return pushes


def with_streams(base: str, count: int, pids: list[int], seconds: float) -> tuple[list[float], int]:
    """CPU shares of `pids` over `seconds` while `count` list streams and `count` rollout streams are read."""

    async def run() -> tuple[list[float], int]:
        stop = asyncio.Event()
        urls = [f"{base}api/stream"] * count + [f"{base}api/stream/{NAMESPACE}/bench-{i}" for i in range(count)]
        readers = [asyncio.create_task(_read_stream(u, stop)) for u in urls]
        shares = await asyncio.to_thread(cpu_share, pids, seconds)
        stop.set()
        done, pending = await asyncio.wait(readers, timeout=20)
        for task in pending:
            task.cancel()
        return shares, sum(t.result() for t in done if not t.exception())

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=200, help="rollouts (default 200)")
    parser.add_argument("--interval", type=float, default=10.0, help="analysis interval in seconds: how often statuses change (default 10)")
    parser.add_argument("--observe", type=float, default=30.0, help="seconds each CPU measurement lasts (default 30)")
    parser.add_argument("--streams", type=int, default=5, help="extra list streams, and as many rollout streams (default 5)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed for each setup phase (default 300)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    kubeconfig = workdir / "kubeconfig"
    api_port, control_port, metrics_port = free_port(), free_port(), free_port()
    processes = Processes(workdir)
    driver = None
    try:
        api = processes.start("fakekube", [sys.executable, "-m", "tests.fakekube", "--port", str(api_port), "--kubeconfig", str(kubeconfig),
                                           "--ready-after", "0.2", "--history", "200000"], cpu=1)  # fmt: skip
        asyncio.run(wait_http_ok(f"http://127.0.0.1:{api_port}/version", 30, api))
        sim = processes.start("sim-routers", [sys.executable, "-m", "bench.sim_routers", "--api", f"http://127.0.0.1:{api_port}",
                                              "--count", str(args.rollouts), "--control-port", str(control_port)], cpu=1)  # fmt: skip
        asyncio.run(wait_http_ok(f"http://127.0.0.1:{control_port}/ports", 60, sim))
        controller = processes.start("controller", [sys.executable, "-m", "controller", "controller", "--kubeconfig", str(kubeconfig),
                                                    "--metrics-listen", f"127.0.0.1:{metrics_port}", "--log-level", "warning"],
                                     cpu=0)  # fmt: skip
        asyncio.run(wait_http_ok(f"http://127.0.0.1:{metrics_port}/metrics", 30, controller))
        print(f"setting up {args.rollouts} rollouts ...", flush=True)
        asyncio.run(setup(kubeconfig, f"http://127.0.0.1:{control_port}", args.rollouts, args.interval, args.timeout))

        print(f"controller idle for {args.observe:.0f}s ...", flush=True)
        idle_controller, idle_api = cpu_share([controller.pid, api.pid], args.observe)

        plugin = Path(sys.executable).parent / "kubectl-modelrollout"
        dashboard = processes.start("dashboard", [str(plugin), "dashboard", "--port", "0", "--kubeconfig", str(kubeconfig)], cpu=1)
        base = _listening(workdir / "dashboard.log", dashboard, 60)
        page_s, data_s = server_times(base)
        browser_s, driver = browser_list_time(base, args.rollouts)

        print(f"controller with the page open and {2 * args.streams} more live streams for {args.observe:.0f}s ...", flush=True)
        (live_controller, live_api, live_dashboard), pushes = with_streams(
            base, args.streams, [controller.pid, api.pid, dashboard.pid], args.observe
        )
    except BaseException:
        print(f"logs of the failed run are in {workdir}", file=sys.stderr)
        raise
    finally:
        if driver is not None:
            driver.quit()  # type: ignore[attr-defined]
        processes.stop_all()

    shown = "n/a (no chromium)" if browser_s is None else f"{browser_s * 1000:.0f} ms"
    print(f"\n{args.rollouts} rollouts, statuses changing every {args.interval:g}s")
    print(
        f"list page: server GET / {page_s * 1000:.1f} ms, GET /api/rollouts {data_s * 1000:.1f} ms;"
        f" chromium until every row is shown {shown}"
    )
    print(f"{'CPU of one core':<34} {'idle':>8} {'page open':>10} {'difference':>11}")
    print(f"{'controller':<34} {idle_controller:>8.1%} {live_controller:>10.1%} {live_controller - idle_controller:>+11.1%}")
    print(f"{'API stand-in':<34} {idle_api:>8.1%} {live_api:>10.1%} {live_api - idle_api:>+11.1%}")
    print(f"{'dashboard':<34} {'-':>8} {live_dashboard:>10.1%}")
    print(f"live pushes received over {args.observe:.0f}s by {2 * args.streams} streams: {pushes}")
    list_s = browser_s if browser_s is not None else page_s
    cost = live_controller - idle_controller
    print(f"\ntargets: list under {TARGET_LIST_S:g} s: {'met' if list_s < TARGET_LIST_S else 'MISSED'} ({list_s:.2f} s); "
          f"live updates under {TARGET_CPU:.0%} of a core of the controller: "
          f"{'met' if cost < TARGET_CPU else 'MISSED'} ({cost:+.1%})")  # fmt: skip
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
