"""Router benchmark: the router against nginx and against a direct call, in one run.

    python bench/router.py            (or: make bench-router)

Layout (two cores): the proxy under test (nginx or the router) alone on `--proxy-core`; wrk
and the nginx model backends on `--load-core`. wrk POSTs a tiny KServe v1 JSON body over
`--connections` kept-alive connections for `--duration` seconds per scenario. Scenarios:

    direct             wrk -> stable backend
    nginx 90/10        wrk -> nginx split proxy -> backends
    router 90/10       wrk -> router (every measurement on) -> backends
    router +mirror     the same with 10% (and 100%) of requests mirrored to the candidate
    router no log      router 90/10 with `feedbackCapacity: 0`: no prediction log for labels to join
    router no features router 90/10 with `featureSamplePercent: 0`: no input features read
                       (these two only in the cost A/Bs, below)
    paced direct / nginx / router (+mirror): ~1,000 req/s over 10 connections, each pausing an
                       exponentially drawn gap between requests, so arrivals are spread as
                       independent clients' are: the latency each proxy adds (the target)
    burst direct / nginx / router (+mirror): the same rate, but every connection pauses exactly
                       10 ms, so the 10 requests arrive together: what a proxy adds when it must
                       work through a burst (reported, no target)

With `--rounds N` every scenario runs N times, interleaved. Within a round the saturated router
scenarios run in the order A B C B A and A and B count as the mean of their two runs, so drift
during the round cancels out of the comparisons. Each ratio is computed within a round and the
median over rounds is reported, so a burst of load from elsewhere on a shared machine skews one
round, not all.

The prediction log and feature extraction at the default 5% sampling are each priced against the
same router without it (target: each costs < 5% of throughput). A few percent is far less than
what a shared machine moves a run by between runs a minute apart, so four routers (router 90/10,
no log, no features, and router 90/10 again) run side by side on the proxy core, each warmed up
for `LOG_WARMUP_S` (which fills the log to its bound), and are then loaded in turn for
`--cost-slice-s` seconds, `--cost-groups` times, the order rotated by one each time (A B C D,
B C D A, ...): each figure is taken within a group, whose slices are seconds apart. Two processes
of the same router also differ by a few percent, so this is done `--cost-rounds` times with fresh
routers, and the median over all groups is reported with its standard error. Each cost is priced
three ways: the throughput A/B (judged); the A/B of the router's CPU time per request served, read
from /proc (time spent waiting for the core does not count); and the time one record, or one
request's feature work at 5%, takes in a tight loop on the proxy core (bench/prediction_log.py)
times the router's throughput (a lower bound: in place, the caches are colder). The A/B of the
two identical routers shows how much of such a figure the machine alone makes. `--only-costs`
runs only this part.

Targets: router throughput >= 15% of nginx's, p50 added latency < 1 ms at ~1,000 req/s,
mirroring costs the primary path < 10% throughput. That last one is judged on the price of one
shadow copy, read off 100% mirroring (about a third of the throughput, far above the noise),
times the copies 10% mirroring makes; the direct 0%-vs-10% difference is a few percent, less than
a shared machine's run-to-run noise, so it is printed with its spread but judged only when it
stands clear of that noise. Everything binds to 127.0.0.1 and lives in a temporary directory;
every process started here is stopped here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nginx_servers import (
    Ports,
    backends_config,
    nginx_binary,
    split_proxy_config,
    start_nginx,
)
from processes import free_port, running
from wrk import Result, post_script, run_wrk

REPO_ROOT = Path(__file__).resolve().parents[1]

# How wrk sends: as fast as it can, at ~1,000 req/s with spread arrivals, or at that rate in bursts.
Pace = Literal["saturated", "paced", "burst"]
UNSATURATED: tuple[Pace, ...] = ("paced", "burst")


def _router_config(workdir: Path, ports: Ports, mirror_percent: int, changes: dict[str, object]) -> Path:
    """The router's config: 90/10, `mirror_percent` mirrored, defaults but for `changes`."""
    config: dict[str, object] = {
        "generation": 1,
        "upstreams": {"stable": f"http://127.0.0.1:{ports.stable}", "candidate": f"http://127.0.0.1:{ports.candidate}"},
        "weights": {"stable": 90, "candidate": 10},
        "mirrorPercent": mirror_percent,
        **changes,
    }
    suffix = "".join(f"-{key}{value}" for key, value in sorted(changes.items()))
    path = workdir / f"router-mirror{mirror_percent}{suffix}.json"
    path.write_text(json.dumps(config))
    return path


def _start_router(config: Path, core: int) -> tuple[subprocess.Popen[bytes], str, str]:
    data, admin = free_port(), free_port()
    command = [
        "taskset", "-c", str(core), sys.executable, "-m", "router", "--config", str(config),
        "--listen", f"127.0.0.1:{data}", "--admin-listen", f"127.0.0.1:{admin}", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO_ROOT)
    return process, f"http://127.0.0.1:{data}/v1/models/bench:predict", f"http://127.0.0.1:{admin}"


def _router_counts(admin: str) -> str:
    with urllib.request.urlopen(f"{admin}/stats", timeout=5) as response:
        stats = json.load(response)
    shadow = stats["shadowComparison"]
    served = stats["stable"]["requests"] + stats["candidate"]["requests"]
    return f"router counted {served} served, {shadow['mirrored']} mirrored, {shadow['dropped']} dropped, {shadow['compared']} compared"


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        gap_ms = args.paced_connections * 1000 // args.paced_rate
        self.scripts: dict[Pace, Path] = {
            "saturated": post_script(workdir / "post.lua"),
            "paced": post_script(workdir / "paced.lua", gap_ms),
            "burst": post_script(workdir / "burst.lua", gap_ms, lockstep=True),
        }
        self.rounds: dict[str, list[Result]] = {}  # scenario -> one result per round
        self._this_round: dict[str, list[Result]] = {}

    def end_round(self) -> None:
        """A scenario run more than once in a round counts once, as the mean of its runs."""
        for name, results in self._this_round.items():
            self.rounds.setdefault(name, []).append(_combine(results, statistics.fmean))
        self._this_round = {}

    def load(self, name: str, url: str, pace: Pace = "saturated", warmup_s: int = 2) -> Result:
        self.warm_up(url, pace, warmup_s)
        return self.measure(name, url, pace)

    def warm_up(self, url: str, pace: Pace, seconds: int) -> None:
        """Load whose figures are discarded."""
        args = self.args
        connections = args.connections if pace == "saturated" else args.paced_connections
        run_wrk(url, self.scripts[pace], core=args.load_core, connections=connections, duration_s=seconds)

    def measure(self, name: str, url: str, pace: Pace) -> Result:
        args = self.args
        connections = args.connections if pace == "saturated" else args.paced_connections
        result = run_wrk(url, self.scripts[pace], core=args.load_core, connections=connections, duration_s=args.duration)
        self._this_round.setdefault(name, []).append(result)
        print(f"  {name:<24} {_row(result)}")
        return result

    def router(self, name: str, ports: Ports, mirror_percent: int, pace: Pace = "saturated", warmup_s: int = 2) -> None:
        """One router run; its CPU per request is read over the measured run only, not the warm-up."""
        config = _router_config(self.workdir, ports, mirror_percent, {})
        process, url, admin = _start_router(config, self.args.proxy_core)
        with running(process, f"{admin}/readyz"):
            self.warm_up(url, pace, warmup_s)
            cpu_before, served_before = _cpu_s(process.pid), _served(admin)
            self.measure(name, url, pace)
            cpu_s, served = _cpu_s(process.pid) - cpu_before, _served(admin) - served_before
            print(f"  {'':<24} {_router_counts(admin)}; {cpu_s / max(served, 1) * 1e6:.1f} us of CPU per request")


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used: what a request costs it, whatever else runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _served(admin: str) -> int:
    with urllib.request.urlopen(f"{admin}/stats", timeout=5) as response:
        stats = json.load(response)
    return int(stats["stable"]["requests"] + stats["candidate"]["requests"])


def _row(result: Result) -> str:
    return f"{result.requests_per_s:>10,.0f} req/s  p50 {result.p50_ms:7.3f} ms  p99 {result.p99_ms:8.3f} ms  errors {result.errors}"


def _combine(results: list[Result], average: Callable[[Iterable[float]], float]) -> Result:
    """One result for several runs: rates and latencies averaged by `average`, counts summed."""
    return Result(
        requests_per_s=average(r.requests_per_s for r in results),
        p50_ms=average(r.p50_ms for r in results),
        p99_ms=average(r.p99_ms for r in results),
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
    )


# Long enough for ~2x the default feedbackCapacity of requests: the log has grown to its bound and
# recycles its memory, as it does in steady state (while it grows, first-touched pages cost the kernel).
LOG_WARMUP_S = 15

STABLE_SHARE = 0.9  # mirroring copies only what the stable serves: 90% of requests at 90/10


def _per_round(rounds: dict[str, list[Result]], figure: Callable[[dict[str, Result]], float]) -> list[float]:
    count = min(len(results) for results in rounds.values())
    return [figure({name: results[i] for name, results in rounds.items()}) for i in range(count)]


def _paired(rounds: dict[str, list[Result]], figure: Callable[[dict[str, Result]], float]) -> float:
    """The median over rounds of a figure computed within each round.

    Scenarios of one round run minutes apart at most, so comparing them inside the round
    cancels most of the drift a shared machine shows between rounds; a ratio of medians taken
    from different rounds would not.
    """
    return statistics.median(_per_round(rounds, figure))


def _spread(rounds: dict[str, list[Result]], name: str) -> float:
    """How far the same scenario's throughput moved between rounds: (max - min) / median."""
    rates = [r.requests_per_s for r in rounds[name]]
    return (max(rates) - min(rates)) / statistics.median(rates)


def _share(r: dict[str, Result]) -> float:
    return r["router 90/10 +mirror 10%"].requests_per_s / r["nginx 90/10"].requests_per_s


def _plain_share(r: dict[str, Result]) -> float:
    return r["router 90/10"].requests_per_s / r["nginx 90/10"].requests_per_s


def _direct_share(r: dict[str, Result]) -> float:
    return r["router 90/10 +mirror 10%"].requests_per_s / r["direct"].requests_per_s


def _mirror_cost(r: dict[str, Result]) -> float:
    return 1 - r["router 90/10 +mirror 10%"].requests_per_s / r["router 90/10"].requests_per_s


def _shadow_share(r: dict[str, Result]) -> float:
    """What one shadow copy costs the router, as a share of what serving one request costs.

    Read off full mirroring, where the effect is several times the machine's noise: per request
    served, the router then also makes `STABLE_SHARE` shadow calls.
    """
    return (r["router 90/10"].requests_per_s / r["router 90/10 +mirror 100%"].requests_per_s - 1) / STABLE_SHARE


def _implied_mirror_cost(r: dict[str, Result]) -> float:
    """The throughput 10% mirroring costs, from the measured price of one shadow copy."""
    return 1 - 1 / (1 + 0.10 * STABLE_SHARE * _shadow_share(r))


def _router_added(r: dict[str, Result]) -> float:
    return r["paced router +mirror"].p50_ms - r["paced direct"].p50_ms


def _nginx_added(r: dict[str, Result]) -> float:
    return r["paced nginx 90/10"].p50_ms - r["paced direct"].p50_ms


def _router_added_burst(r: dict[str, Result]) -> float:
    return r["burst router +mirror"].p50_ms - r["burst direct"].p50_ms


def _nginx_added_burst(r: dict[str, Result]) -> float:
    return r["burst nginx 90/10"].p50_ms - r["burst direct"].p50_ms


def _noise_note(costs: list[float], target: float = 0.10) -> str:
    """How far the direct 0% vs 10% figure can be trusted: its spread over rounds.

    The effect is a few percent, and on a shared machine the same scenario moves by more than
    that from one run to the next, so this figure is judged only when its median stands more
    than two standard deviations from zero; the target itself is judged on the price read off
    100% mirroring, where the effect is many times the noise.
    """
    if len(costs) < 2:
        return "(one round: no spread to judge it by)"
    middle, sd = statistics.median(costs), statistics.stdev(costs)
    spread = f"rounds {min(costs):.1%} to {max(costs):.1%}, sd {sd:.1%}"
    if abs(middle) <= 2 * sd:
        return f"({spread}: within the noise, not judged)"
    return f"({spread}: {f'MISSED, above {target:.0%} beyond the noise' if middle >= target else f'under {target:.0%} beyond the noise'})"


def _report(rounds: dict[str, list[Result]]) -> None:
    count = min(len(results) for results in rounds.values())
    medians = {name: _combine(results, statistics.median) for name, results in rounds.items()}
    if count > 1:
        print(f"\nmedians of {count} rounds")
        for name, result in medians.items():
            print(f"  {name:<24} {_row(result)}")
    share, cost, added = _paired(rounds, _share), _paired(rounds, _implied_mirror_cost), _paired(rounds, _router_added)
    direct_costs = _per_round(rounds, _mirror_cost)
    print("\nratios (each the median over rounds of the figure within a round)")
    print(f"  router / nginx throughput (everything on)   {share:6.1%}   target >= 15%   {'met' if share >= 0.15 else 'MISSED'}")
    print(f"  router (no mirror) / nginx throughput       {_paired(rounds, _plain_share):6.1%}")
    print(f"  router / direct throughput                  {_paired(rounds, _direct_share):6.1%}")
    print(f"  one shadow copy / one served request        {_paired(rounds, _shadow_share):6.1%}   (CPU price, read off 100% mirroring)")
    print(
        f"  mirroring cost to the primary path at 10%   {cost:6.1%}   target < 10%    {'met' if cost < 0.10 else 'MISSED'}"
        f"   (that price x 10% x {STABLE_SHARE:.0%} stable)"
    )
    print(f"  the same, as 0% vs 10% throughput directly  {statistics.median(direct_costs):6.1%}   {_noise_note(direct_costs)}")
    print(
        f"  p50 added at ~{medians['paced direct'].requests_per_s:,.0f} req/s, spread arrivals {added:6.3f} ms"
        f"   target < 1 ms   {'met' if added < 1 else 'MISSED'}"
    )
    print(f"  p50 nginx adds at the same rate             {_paired(rounds, _nginx_added):6.3f} ms")
    print(
        f"  p50 added, 10 requests at once every 10 ms  {_paired(rounds, _router_added_burst):6.3f} ms"
        f"   (nginx adds {_paired(rounds, _nginx_added_burst):.3f} ms)"
    )
    if count > 1:
        priced = ", ".join(f"{c:.1%}" for c in _per_round(rounds, _implied_mirror_cost))
        direct = ", ".join(f"{c:.1%}" for c in direct_costs)
        added_each = ", ".join(f"{a:.3f}" for a in _per_round(rounds, _router_added))
        print(f"\nper round: mirroring cost {priced} (directly {direct}); p50 added {added_each} ms")
        print(
            f"noise: router 90/10 throughput moved {_spread(rounds, 'router 90/10'):.1%} between rounds,"
            f" nginx 90/10 {_spread(rounds, 'nginx 90/10'):.1%}"
        )


@dataclass(frozen=True)
class Cost:
    """Something the router does per request on top of routing, priced against the same router without it."""

    name: str
    without: str  # the scenario without it
    changes: dict[str, object]  # the config that turns it off
    per: str  # what bench/prediction_log.py times
    options: tuple[str, ...]  # bench/prediction_log.py's options that time it


WITH_ALL = "router 90/10"
COSTS = (
    Cost("prediction log", "router 90/10 no log", {"feedbackCapacity": 0}, "record", ()),
    Cost("features at 5%", "router 90/10 no features", {"featureSamplePercent": 0}, "request", ("--features",)),
)
COST_TARGET = 0.05
SAME_AGAIN = "router 90/10 again"  # a second router 90/10, the A/B that should read zero


def _report_costs(groups: dict[str, list[Result]], proxy_core: int, cpu: dict[str, list[float]]) -> None:
    """Each cost three ways (see the module doc), judged on the throughput A/B, the target's own terms;
    then the same figures for two identical routers: how far apart this machine puts them."""
    served = statistics.median(r.requests_per_s for r in groups[WITH_ALL])
    print(f"  (each the median over {len(groups[WITH_ALL])} groups of the figure within a group, +- its standard error)")
    for cost in COSTS:
        throughput, cpu_costs = _ab(groups, cpu, cost.without)
        middle, error = _median_error(throughput)
        verdict = "met" if middle < COST_TARGET else "MISSED"
        close = " (within two standard errors of it)" if abs(middle - COST_TARGET) < 2 * error else ""
        print(f"  {cost.name + ', throughput A/B':<43} {middle:6.1%} +- {error:.1%}   target < {COST_TARGET:.0%}   {verdict}{close}")
        print(f"  {cost.name + ', router CPU per request':<43} {_with_error(cpu_costs)}")
        each_us = _priced_us(proxy_core, *cost.options)
        print(
            f"  {cost.name + ', priced in a tight loop':<43} {each_us * served / 1e6:6.1%}"
            f"             ({each_us:.3f} us per {cost.per} x {served:,.0f} req/s; a lower bound)"
        )
    throughput, cpu_costs = _ab(groups, cpu, SAME_AGAIN)
    print(f"  {'two identical routers, throughput A/B':<43} {_with_error(throughput)}   (what the machine alone makes of an A/B)")
    print(f"  {'two identical routers, CPU per request':<43} {_with_error(cpu_costs)}")


def _ab(groups: dict[str, list[Result]], cpu: dict[str, list[float]], without: str) -> tuple[list[float], list[float]]:
    """Per group, what router 90/10 loses against `without`: in throughput, and in CPU per request
    as the throughput it costs a router bound by its core (1 - without / with)."""
    throughput = [1 - a.requests_per_s / b.requests_per_s for a, b in zip(groups[WITH_ALL], groups[without])]
    return throughput, [1 - b / a for a, b in zip(cpu[WITH_ALL], cpu[without])]


def _median_error(values: list[float]) -> tuple[float, float]:
    """The median and its standard error (1.25 sd / sqrt(n), for a roughly normal spread)."""
    error = 1.2533 * statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return statistics.median(values), error


def _with_error(values: list[float]) -> str:
    middle, error = _median_error(values)
    return f"{middle:6.1%} +- {error:.1%}"


def _costs(bench: Bench, ports: Ports) -> tuple[dict[str, list[Result]], dict[str, list[float]]]:
    """The cost A/Bs: warm routers side by side, loaded in turn (see the module doc).

    Results and CPU seconds per request, by scenario, one per group of every round.
    """
    configs = [(WITH_ALL, {}), *((cost.without, cost.changes) for cost in COSTS), (SAME_AGAIN, {})]
    results: dict[str, list[Result]] = {name: [] for name, _ in configs}
    cpu: dict[str, list[float]] = {name: [] for name, _ in configs}
    for round_number in range(1, bench.args.cost_rounds + 1):
        print(f"costs, round {round_number} of {bench.args.cost_rounds}: {len(configs)} routers side by side, {LOG_WARMUP_S}s warm-up each")
        with ExitStack() as stack:
            routers: dict[str, tuple[int, str, str]] = {}
            for name, changes in configs:
                process, url, admin = _start_router(_router_config(bench.workdir, ports, 0, changes), bench.args.proxy_core)
                stack.enter_context(running(process, f"{admin}/readyz"))
                routers[name] = (process.pid, url, admin)
            _cost_groups(bench, routers, results, cpu)
    return results, cpu


def _cost_groups(
    bench: Bench, routers: dict[str, tuple[int, str, str]], results: dict[str, list[Result]], cpu: dict[str, list[float]]
) -> None:
    args = bench.args
    for _, url, _ in routers.values():
        bench.warm_up(url, "saturated", LOG_WARMUP_S)
    order = list(routers)
    for group in range(args.cost_groups):
        # Rotated, so each router takes each place in turn and none runs twice in a row (a router
        # loaded again straight away starts with its memory still in the caches).
        shift = group % len(order)
        for name in order[shift:] + order[:shift]:
            pid, url, admin = routers[name]
            cpu_before, served_before = _cpu_s(pid), _served(admin)
            result = run_wrk(
                url, bench.scripts["saturated"], core=args.load_core, connections=args.connections, duration_s=args.cost_slice_s
            )
            cpu_s, served = _cpu_s(pid) - cpu_before, _served(admin) - served_before
            results[name].append(result)
            cpu[name].append(cpu_s / max(served, 1))
        row = ", ".join(f"{name} {results[name][-1].requests_per_s:,.0f} ({cpu[name][-1] * 1e6:.1f} us)" for name in order)
        print(f"  group {group + 1:>2}: {row}")


def _priced_us(core: int, *options: str) -> float:
    """Microseconds per request measured on the proxy's core by bench/prediction_log.py."""
    command = ["taskset", "-c", str(core), sys.executable, str(Path(__file__).with_name("prediction_log.py")), *options]
    return float(subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark the router against nginx and a direct call.")
    parser.add_argument("--duration", type=int, default=6, help="seconds per scenario run (default 6)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--proxy-core", type=int, default=0)
    parser.add_argument("--load-core", type=int, default=1)
    parser.add_argument("--paced-rate", type=int, default=1000, help="target req/s of the latency scenarios")
    parser.add_argument("--paced-connections", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="run every scenario this many times, interleaved; report medians (default 3)")
    parser.add_argument("--cost-rounds", type=int, default=3, help="fresh routers for the cost A/Bs this many times (default 3)")
    parser.add_argument("--cost-groups", type=int, default=8, help="slices of load per router and round in the cost A/Bs (default 8)")
    parser.add_argument("--cost-slice-s", type=int, default=2, help="seconds each slice of the cost A/Bs lasts (default 2)")
    parser.add_argument("--only-costs", action="store_true", help="only the prediction log's and feature extraction's prices")
    args = parser.parse_args()
    binary = nginx_binary()
    missing = [name for name, found in (("nginx", binary), ("wrk", shutil.which("wrk")), ("taskset", shutil.which("taskset"))) if not found]
    if missing or binary is None:
        print(f"missing {', '.join(missing)}; install with: apt-get install -y nginx-light wrk util-linux", file=sys.stderr)
        return 2
    ports = Ports(free_port(), free_port(), free_port())
    with tempfile.TemporaryDirectory(prefix="router-bench-") as tmp:
        workdir = Path(tmp)
        bench = Bench(args, workdir)
        backends = start_nginx(binary, workdir / "backends", backends_config(workdir / "backends", ports), args.load_core)
        with running(backends, f"http://127.0.0.1:{ports.stable}/"):
            print(
                f"proxy on core {args.proxy_core}; wrk and nginx backends on core {args.load_core};"
                f" {args.connections} connections, {args.duration}s each"
            )
            print(f"paced scenarios: {args.paced_connections} connections, ~{args.paced_rate} req/s")
            for round_number in range(1, 0 if args.only_costs else args.rounds + 1):
                print(f"round {round_number} of {args.rounds}")
                _one_round(bench, binary, workdir, ports)
                bench.end_round()
            costs, cpu = _costs(bench, ports)
        if not args.only_costs:
            _report(bench.rounds)
        print("\ncosts of the prediction log and of feature extraction")
        _report_costs(costs, args.proxy_core, cpu)
    return 0


def _one_round(bench: Bench, binary: str, workdir: Path, ports: Ports) -> None:
    direct = f"http://127.0.0.1:{ports.stable}/v1/models/bench:predict"
    bench.load("direct", direct)
    split = start_nginx(binary, workdir / "split", split_proxy_config(workdir / "split", ports), bench.args.proxy_core)
    with running(split, f"http://127.0.0.1:{ports.split_proxy}/"):
        bench.load("nginx 90/10", f"http://127.0.0.1:{ports.split_proxy}/v1/models/bench:predict")
        for pace in UNSATURATED:
            bench.load(f"{pace} nginx 90/10", f"http://127.0.0.1:{ports.split_proxy}/v1/models/bench:predict", pace)
    # Mirrored in time (A B C B A): throughput drifts within a round on a shared machine (whichever
    # runs first tends to be fastest), and each scenario's mean then sits at the same midpoint.
    routers = [(WITH_ALL, 0), ("router 90/10 +mirror 10%", 10), ("router 90/10 +mirror 100%", 100)]
    for name, mirror_percent in [*routers, *reversed(routers[:-1])]:
        bench.router(name, ports, mirror_percent, warmup_s=LOG_WARMUP_S)
    for pace in UNSATURATED:
        bench.load(f"{pace} direct", direct, pace)
        bench.router(f"{pace} router +mirror", ports, 10, pace)


if __name__ == "__main__":
    sys.exit(main())
