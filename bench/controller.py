"""Controller benchmark: N ModelRollouts through the Kubernetes API stand-in with simulated routers.

For each N (default 100, 500, 1000) it starts the API stand-in and the simulated routers on one
CPU and `modelrollout controller` on the other, then:

1. applies N canary rollouts (`setWeight 10`, a long pause, background error-rate analysis every
   `--interval` seconds) and waits until every one has its first stable revision;
2. changes every template, and waits until every candidate takes its 10% with the routers confirmed;
3. counts the controller's reconciles and CPU time over `--observe` seconds of steady analysis;
4. breaches the error rate of `--breach-share` of the rollouts at random moments and records,
   per rollout, the time from the breach to the rollback config reaching the routers' ConfigMap;
5. reads the controller's peak resident memory (VmHWM).

It prints one row per N, the ratios against the smallest N run in the same invocation, and the
targets (1,000 rollouts on one core at a 30 s interval, rollback under 2 s beyond the interval,
under 300 MB):

    python bench/controller.py [--sizes 100,500,1000] [--interval 30] [--observe 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Run as `python bench/controller.py`, this file's own directory comes first on sys.path, where
# the file itself would shadow the `controller` package: the repository root goes there instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [str(_HERE.parent), *(p for p in sys.path if Path(p or ".").resolve() != _HERE)]

import httpx
import numpy as np

from controller.kube.client import (
    ENDPOINT_SLICE,
    MODELROLLOUT,
    KubeClient,
    load_configuration,
)
from controller.kube.objects import LABEL_ROLLOUT
from controller.local.processes import free_port, wait_http_ok

ROOT = _HERE.parent
NAMESPACE = "default"
TARGET_ROLLOUTS, TARGET_EXTRA_S, TARGET_MB = 1000, 2.0, 300.0


@dataclass(frozen=True)
class Result:
    size: int
    reconciles_per_s: float
    cpu_share: float
    rollback_p50_s: float
    rollback_p99_s: float
    rolled_back: int
    breached: int
    peak_mb: float
    setup_s: float


def rollout_document(name: str, image: str, interval_s: float) -> dict[str, Any]:
    metric = {"name": "error-rate", "router": {"metric": "errorRate"}, "max": 0.05, "minSamples": 20}
    return {
        "apiVersion": "modelrollout.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "replicas": 1,
            "template": {"spec": {"containers": [{"name": "model", "image": image}]}},
            "strategy": {"canary": {"steps": [{"setWeight": 10}, {"pause": {"duration": "1h"}}, {"setWeight": 100}]}},
            "analysis": {"interval": f"{int(interval_s)}s", "metrics": [metric]},
        },
    }


def endpoint_slice(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{name}-router-sim", "labels": {"kubernetes.io/service-name": f"{name}-router", LABEL_ROLLOUT: name}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}, "targetRef": {"kind": "Pod", "name": f"{name}-router"}}],
        "ports": [{"name": "admin", "port": port, "protocol": "TCP"}],
    }


class Processes:
    """Child processes of one run, pinned to a CPU each, stopped by their own pid."""

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._children: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, argv: list[str], cpu: int) -> subprocess.Popen[bytes]:
        log = (self._workdir / f"{name}.log").open("wb")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
        if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
            os.sched_setaffinity(child.pid, {cpu})
        self._children.append(child)
        return child

    def stop_all(self) -> None:
        for child in reversed(self._children):
            child.terminate()
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(10)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _reconciles(metrics_url: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(metrics_url)).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith("modelrollout_reconciles_total{"))


async def _wait_all(client: KubeClient, what: str, check: Any, timeout_s: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        items, _version = await client.list(MODELROLLOUT, NAMESPACE)
        done = sum(1 for item in items if check(item.get("status") or {}))
        if done == len(items):
            return time.monotonic() - started
        await asyncio.sleep(1.0)
    raise TimeoutError(f"{what}: only {done} of {len(items)} after {timeout_s:.0f}s")


def _at_pause(status: dict[str, Any]) -> bool:
    applied = any(c.get("type") == "TrafficApplied" and c.get("status") == "True" for c in status.get("conditions") or [])
    return status.get("currentStep") == 1 and applied


async def _create_all(client: KubeClient, documents: list[dict[str, Any]], kind: Any = MODELROLLOUT) -> None:
    batch = 16
    for start in range(0, len(documents), batch):
        await asyncio.gather(*(client.create(kind, NAMESPACE, d) for d in documents[start : start + batch]))


async def _patch_all(client: KubeClient, names: list[str], image: str) -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "model", "image": image}]}}}}
    for start in range(0, len(names), 16):
        await asyncio.gather(*(client.patch(MODELROLLOUT, NAMESPACE, n, patch) for n in names[start : start + 16]))


async def drive(size: int, args: argparse.Namespace, kubeconfig: Path, control: str, metrics_url: str, controller_pid: int) -> Result:
    client = KubeClient(load_configuration(str(kubeconfig)), threads=8)
    names = [f"bench-{i}" for i in range(size)]
    try:
        started = time.monotonic()
        async with httpx.AsyncClient(base_url=control, timeout=30) as sim:
            ports = (await sim.get("/ports")).json()
            await _create_all(client, [endpoint_slice(n, ports[n]) for n in names], ENDPOINT_SLICE)
            await _create_all(client, [rollout_document(n, "bench:v1", args.interval) for n in names])
            await _wait_all(client, "first stable", lambda s: s.get("phase") == "Healthy", args.timeout)
            await _patch_all(client, names, "bench:v2")
            await _wait_all(client, "candidates at 10%", _at_pause, args.timeout)
            setup_s = time.monotonic() - started

            before, t0, cpu0 = await _reconciles(metrics_url), time.monotonic(), cpu_seconds(controller_pid)
            await asyncio.sleep(args.observe)
            elapsed = time.monotonic() - t0
            rate = (await _reconciles(metrics_url) - before) / elapsed
            cpu_share = (cpu_seconds(controller_pid) - cpu0) / elapsed

            breached = random.Random(size).sample(names, max(1, int(size * args.breach_share)))
            await _breach_spread(sim, breached, args.interval)
            await asyncio.sleep(args.interval + 10)
            results = (await sim.get("/results")).json()
    finally:
        client.close()
    latencies = np.array(results["latencies_s"] or [float("nan")])
    return Result(
        size, rate, cpu_share, float(np.percentile(latencies, 50)), float(np.percentile(latencies, 99)),
        len(results["latencies_s"]), results["breached"], peak_mb(controller_pid), setup_s,
    )  # fmt: skip


async def _breach_spread(sim: httpx.AsyncClient, names: list[str], interval_s: float) -> None:
    """Breaches at random moments over one interval, so they land anywhere in the analysis cycle."""
    moments = sorted((random.uniform(0, interval_s), n) for n in names)
    origin = time.monotonic()
    for moment, name in moments:
        await asyncio.sleep(max(0.0, moment - (time.monotonic() - origin)))
        await sim.post("/breach", json={"names": [name]})


def run_size(size: int, args: argparse.Namespace) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-controller-{size}-"))
    kubeconfig = workdir / "kubeconfig"
    api_port, control_port, metrics_port = free_port(), free_port(), free_port()
    processes = Processes(workdir)
    try:
        api = processes.start("fakekube", [sys.executable, "-m", "tests.fakekube", "--port", str(api_port),
                                           "--kubeconfig", str(kubeconfig), "--ready-after", "0.2", "--history", "200000"],
                              cpu=1)  # fmt: skip
        asyncio.run(wait_http_ok(f"http://127.0.0.1:{api_port}/version", 30, api))
        sim = processes.start("sim-routers", [sys.executable, "-m", "bench.sim_routers", "--api", f"http://127.0.0.1:{api_port}",
                                              "--count", str(size), "--control-port", str(control_port)], cpu=1)  # fmt: skip
        asyncio.run(wait_http_ok(f"http://127.0.0.1:{control_port}/ports", 60, sim))
        controller = processes.start("controller", [sys.executable, "-m", "controller", "controller", "--kubeconfig", str(kubeconfig),
                                                    "--metrics-listen", f"127.0.0.1:{metrics_port}", "--workers", str(args.workers),
                                                    "--log-level", "warning"], cpu=0)  # fmt: skip
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        asyncio.run(wait_http_ok(metrics_url, 30, controller))
        control = f"http://127.0.0.1:{control_port}"
        result = asyncio.run(drive(size, args, kubeconfig, control, metrics_url, controller.pid))
    except BaseException:
        processes.stop_all()
        print(f"logs of the failed run are in {workdir}", file=sys.stderr)
        raise
    processes.stop_all()
    shutil.rmtree(workdir, ignore_errors=True)
    return result


def report(results: list[Result], interval_s: float) -> None:
    base = results[0]
    print(f"{'rollouts':>8} {'setup s':>8} {'reconciles/s':>13} {'per rollout/min':>16} {'CPU of 1 core':>14} {'rollback p50 s':>15} "
          f"{'p99 s':>7} {'p99 - interval':>15} {'rolled back':>12} {'peak MB':>8} {'MB vs ' + str(base.size):>10}")  # fmt: skip
    for r in results:
        per_min = r.reconciles_per_s / r.size * 60
        print(f"{r.size:>8} {r.setup_s:>8.1f} {r.reconciles_per_s:>13.1f} {per_min:>16.2f} {r.cpu_share:>14.0%} {r.rollback_p50_s:>15.2f} "
              f"{r.rollback_p99_s:>7.2f} {r.rollback_p99_s - interval_s:>15.2f} {f'{r.rolled_back}/{r.breached}':>12} "
              f"{r.peak_mb:>8.0f} {r.peak_mb / base.peak_mb:>10.2f}")  # fmt: skip
    largest = results[-1]
    print(f"\ntargets at {largest.size} rollouts, {interval_s:.0f}s interval: "
          f"rollback p99 {largest.rollback_p99_s - interval_s:+.2f}s beyond the interval (target < {TARGET_EXTRA_S}s): "
          f"{'met' if largest.rollback_p99_s - interval_s < TARGET_EXTRA_S else 'MISSED'}; "
          f"peak {largest.peak_mb:.0f} MB (target < {TARGET_MB:.0f}): {'met' if largest.peak_mb < TARGET_MB else 'MISSED'}; "
          f"every breach rolled back: {'yes' if largest.rolled_back == largest.breached else 'NO'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,500,1000", help="rollout counts, comma-separated (default 100,500,1000)")
    parser.add_argument("--interval", type=float, default=30.0, help="analysis interval in seconds (default 30)")
    parser.add_argument("--observe", type=float, default=60.0, help="seconds of steady state to count reconciles (default 60)")
    parser.add_argument("--breach-share", type=float, default=0.1, help="share of rollouts whose error rate is breached (default 0.1)")
    parser.add_argument("--workers", type=int, default=8, help="controller workers (default 8)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds allowed for each setup phase (default 600)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for size in sizes:
        print(f"running {size} rollouts ...", flush=True)
        results.append(run_size(size, args))
    report(results, args.interval)


if __name__ == "__main__":
    main()
