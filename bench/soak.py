"""Router soak: minutes of load near saturation while the candidate turns slow, then refuses connections.

    python bench/soak.py [--minutes 10] [--fraction 0.8]        (or: make bench-soak)

Layout (two cores): the router alone on core 0; nginx (the stable model), the candidate model
(tests/integration/router/backend_app.py, so it can be made slow) and the load on core 1. Steps:

    saturation   wrk as fast as it can, 10 s: the router's req/s with every feature on (R)
    unloaded     a stable-only probe, ~200 req/s, alone: stable's p99 with nothing else going on
    healthy      the main load at `fraction` x R (95/5 split, 5% mirrored) plus the probe
    slow         the same with a candidate that answers after 2 s; half-way, 5,000 idle
                 connections are opened at once and held for 20 s
    refusing     the same with the candidate gone (connections refused); meanwhile bodies over
                 the size limit are sent, declared and chunked
    cool-down    30 s with no load, then the router's memory is read again

The probe sends `x-model-variant: stable` (a header route) so its latency is stable's alone.
Printed: req/s and p99 per phase, the router's peak RSS and open descriptors, its memory cold,
after the healthy phase (the steady state of normal traffic: the prediction log full, buffers for
2,000 clients) and after the cool-down, every error (by kind) and shed count by reason, and the
targets: peak RSS under 200 MB and back within 10% of that steady state after the hostile phases,
stable's p99 while the candidate is slow within 2x its p99 while the candidate was healthy (same
load), and no request to the stable failing.
Every process started here is stopped here; everything binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from nginx_servers import Ports, backends_config, nginx_binary, start_nginx
from processes import free_port, running, stop, wait_http
from wrk import Result, post_script, run_wrk

REPO_ROOT = Path(__file__).resolve().parents[1]
CANDIDATE_APP = REPO_ROOT / "tests" / "integration" / "router" / "backend_app.py"
ROUTER_CORE, LOAD_CORE = 0, 1
PROBE_CONNECTIONS, PROBE_GAP_MS = 10, 50  # ~200 req/s
SATURATION_CONNECTIONS = 64
# Open-loop enough: a candidate answering after 2 s ties up connections, and the rest keep the rate.
MAIN_CONNECTIONS = 2_000
IDLE_BURST, IDLE_HOLD_S = 5_000, 20.0
MB = 1024 * 1024


def _get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.load(response))


def _process(command: list[str], ready_url: str | None = None) -> AbstractContextManager[subprocess.Popen[bytes]]:
    return running(subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), ready_url)


@dataclass
class Usage:
    """The router's resident memory and open descriptors, sampled twice a second."""  # noqa: D401

    pid: int
    peak_rss_mb: float = 0.0
    peak_fds: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def run(self) -> None:
        while not self._stop.wait(0.5):
            self.peak_rss_mb = max(self.peak_rss_mb, self.rss_mb())
            self.peak_fds = max(self.peak_fds, self.fds())

    @contextmanager
    def sampling(self) -> Iterator[Usage]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join()


def _in_background(target: object, *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def hold_idle_connections(port: int, delay_s: float) -> None:
    """After `delay_s`, open IDLE_BURST connections at once, send nothing, hold them, close them."""
    time.sleep(delay_s)
    held: list[socket.socket] = []
    try:
        for _ in range(IDLE_BURST):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(IDLE_HOLD_S)
    finally:
        for connection in held:
            connection.close()


def send_oversized(port: int, path: str, seconds: float) -> int:
    """Bodies over the 10 MiB limit for `seconds`, alternately declared and chunked; the 413s counted."""
    refused, deadline, chunk = 0, time.monotonic() + seconds, b"x" * 65536
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            if refused % 2 == 0:
                connection.sendall(f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-length: {11 * MB}\r\n\r\n".encode() + chunk)
            else:
                connection.sendall(f"POST {path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n".encode())
                try:
                    for _ in range(11 * MB // len(chunk) + 1):
                        connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                except OSError:
                    pass  # the router answered 413 and closed mid-body, as it should
            try:
                refused += connection.recv(64).startswith(b"HTTP/1.1 413")
            except OSError:
                pass
        time.sleep(0.05)
    return refused


class Soak:
    def __init__(self, args: argparse.Namespace, workdir: Path, stack: ExitStack) -> None:
        self.args = args
        self.workdir = workdir
        self.stack = stack
        # nginx serves `ports.stable` (and a second port nobody calls); the candidate is ours to slow down and stop.
        self.ports = Ports(stable=free_port(), candidate=free_port(), split_proxy=free_port())
        self.candidate_port = free_port()
        self.data_port, self.admin_port = free_port(), free_port()
        self.path = "/v1/models/bench:predict"
        self.candidate: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.data_port}{self.path}"

    def start(self) -> Usage:
        binary = nginx_binary()
        if binary is None:
            sys.exit("nginx is needed (Debian package nginx)")
        nginx = start_nginx(binary, self.workdir / "nginx", backends_config(self.workdir / "nginx", self.ports), LOAD_CORE)
        self.stack.callback(nginx.terminate)
        wait_http(f"http://127.0.0.1:{self.ports.stable}/")
        self.start_candidate(delay_ms=0)
        config = {
            "generation": 1,
            "upstreams": {"stable": f"http://127.0.0.1:{self.ports.stable}", "candidate": f"http://127.0.0.1:{self.candidate_port}"},
            "weights": {"stable": 95, "candidate": 5}, "mirrorPercent": 5, "timeoutSeconds": 5,
            "headerRoutes": [{"header": "x-model-variant", "value": "stable", "variant": "stable"}],
        }  # fmt: skip
        config_path = self.workdir / "router.json"
        config_path.write_text(json.dumps(config))
        command = [
            "taskset", "-c", str(ROUTER_CORE), sys.executable, "-m", "router", "--config", str(config_path),
            "--listen", f"127.0.0.1:{self.data_port}", "--admin-listen", f"127.0.0.1:{self.admin_port}", "--log-level", "error",
        ]  # fmt: skip
        router = self.stack.enter_context(_process(command, f"http://127.0.0.1:{self.admin_port}/readyz"))
        return Usage(router.pid)

    def start_candidate(self, delay_ms: int) -> None:
        self.stop_candidate()
        command = [
            "taskset", "-c", str(LOAD_CORE), sys.executable, str(CANDIDATE_APP), "--port", str(self.candidate_port),
            "--name", "candidate", "--delay-ms", str(delay_ms),
        ]  # fmt: skip
        self.candidate = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{self.candidate_port}/text", answer_s=1 + delay_ms / 1000)

    def stop_candidate(self) -> None:
        if self.candidate is not None:
            stop(self.candidate)
        self.candidate = None

    def wrk(self, script: Path, connections: int, seconds: int) -> Result:
        return run_wrk(self.url, script, core=LOAD_CORE, connections=connections, duration_s=seconds)

    def phase(self, name: str, main: Path | None, seconds: int) -> tuple[str, Result | None, Result]:
        """The probe alone, or with the main load beside it, for `seconds`."""
        probe_script = self.workdir / "probe.lua"
        main_result: list[Result] = []
        thread = _in_background(lambda: main_result.append(self.wrk(main, MAIN_CONNECTIONS, seconds))) if main else None
        probe = self.wrk(probe_script, PROBE_CONNECTIONS, seconds)
        if thread is not None:
            thread.join()
        return name, (main_result[0] if main_result else None), probe


def _probe_script(path: Path) -> Path:
    post_script(path, PROBE_GAP_MS)
    path.write_text(path.read_text() + 'wrk.headers["x-model-variant"] = "stable"\n')
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the loaded phases together")
    parser.add_argument("--fraction", type=float, default=0.8, help="the load as a share of the router's saturation rate")
    args = parser.parse_args()
    loaded_s = args.minutes * 60
    with tempfile.TemporaryDirectory(prefix="modelrollout-soak-") as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        soak = Soak(args, workdir, stack)
        stack.callback(soak.stop_candidate)
        usage = soak.start()
        probe = _probe_script(workdir / "probe.lua")
        soak.wrk(probe, PROBE_CONNECTIONS, 2)  # warm: the code paths run once, the pools hold connections
        start_rss = usage.rss_mb()
        saturation = soak.wrk(post_script(workdir / "post.lua"), SATURATION_CONNECTIONS, 10)
        rate = saturation.requests_per_s * args.fraction
        main_script = post_script(workdir / "main.lua", max(1, round(MAIN_CONNECTIONS * 1000 / rate)))
        print(f"saturation: {saturation.requests_per_s:,.0f} req/s; main load aimed at {rate:,.0f} req/s ({args.fraction:.0%})")
        phases = []
        with usage.sampling():
            phases.append(soak.phase("unloaded", None, 10))
            phases.append(soak.phase("healthy", main_script, round(loaded_s * 0.3)))
            # Normal traffic fills what the router keeps by design (the prediction log that labels
            # join, up to 2 x feedbackCapacity entries; per-connection buffers for 2,000 clients):
            # memory after the hostile phases is judged against this steady state, idle as the
            # cool-down is; the cold figure is printed beside it.
            time.sleep(5)
            steady_rss = usage.rss_mb()
            soak.start_candidate(delay_ms=2000)
            slow_s = round(loaded_s * 0.35)
            burst = _in_background(hold_idle_connections, soak.data_port, slow_s / 2 - IDLE_HOLD_S / 2)
            phases.append(soak.phase("slow", main_script, slow_s))
            burst.join()
            soak.stop_candidate()
            refused: list[int] = []
            refusing_s = round(loaded_s * 0.35)
            oversized = _in_background(lambda: refused.append(send_oversized(soak.data_port, soak.path, refusing_s * 0.8)))
            phases.append(soak.phase("refusing", main_script, refusing_s))
            oversized.join()
            time.sleep(30)
        end_rss = usage.rss_mb()
        stats = _get_json(f"http://127.0.0.1:{soak.admin_port}/stats")
    return report(phases, usage, (start_rss, steady_rss), end_rss, stats, refused[0] if refused else 0)


def report(
    phases: list[tuple[str, Result | None, Result]],
    usage: Usage,
    start: tuple[float, float],
    end_rss: float,
    stats: dict[str, object],
    refused: int,
) -> int:
    print(f"\n{'phase':<10} {'main req/s':>11} {'main p99 ms':>12} {'main errors':>12} {'stable p99 ms':>14} {'stable errors':>14}")
    for name, main, probe in phases:
        main_cells = f"{main.requests_per_s:>11,.0f} {main.p99_ms:>12.1f} {main.errors:>12,}" if main else f"{'-':>11} {'-':>12} {'-':>12}"
        print(f"{name:<10} {main_cells} {probe.p99_ms:>14.2f} {probe.errors:>14,}")
        for who, result in (("main", main), ("stable", probe)):
            if result is not None and result.error_kinds:
                print(f"{'':<10} {who} errors by kind: {result.error_kinds}")
    stable, candidate = stats["stable"], stats["candidate"]  # type: ignore[index]
    cold_rss, start_rss = start
    print(
        f"\nrouter RSS: cold {cold_rss:.1f} MB, after the healthy phase {start_rss:.1f} MB, peak {usage.peak_rss_mb:.1f} MB,"
        f" after cool-down {end_rss:.1f} MB; peak open descriptors {usage.peak_fds:,}"
    )
    shadow = stats["shadow"]
    for name, variant in (("stable", stable), ("candidate", candidate), ("shadow", shadow)):
        print(f"{name}: {variant['requests']:,} calls, errors {variant['errors']}")  # type: ignore[index]
    mirror = stats["shadowComparison"]  # type: ignore[index]
    print(f"shed {stats['shed']}; mirror {mirror['mirrored']:,} sent, {mirror['dropped']:,} dropped")  # type: ignore[index]
    print(
        f"client disconnects {stats['clientDisconnects']:,}; upstream retries {stats['upstreamRetries']:,};"
        f" oversized bodies answered 413: {refused:,}"
    )
    by_name = {name: probe for name, _main, probe in phases}
    stable_failed = sum(stable["errors"].values()) + sum(probe.errors for _n, _m, probe in phases)  # type: ignore[index]
    targets = [
        (f"peak RSS {usage.peak_rss_mb:.0f} MB < 200 MB", usage.peak_rss_mb < 200),
        (
            f"RSS after the hostile load {end_rss:.0f} MB within 10% of the steady state before it {start_rss:.0f} MB",
            end_rss <= start_rss * 1.1,
        ),
        (
            f"stable p99 while the candidate is slow {by_name['slow'].p99_ms:.2f} ms"
            f" <= 2 x {by_name['healthy'].p99_ms:.2f} ms (healthy candidate, same load)",
            by_name["slow"].p99_ms <= 2 * by_name["healthy"].p99_ms,
        ),
        (f"requests to the stable that failed: {stable_failed}", stable_failed == 0),
    ]
    print()
    for text, met in targets:
        print(f"{'PASS' if met else 'MISS'}  {text}")
    return 0 if all(met for _t, met in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
