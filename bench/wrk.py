"""Running wrk for the router benchmark and reading its report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["REQUEST_BODY", "Result", "parse_report", "post_script", "run_wrk"]

REQUEST_BODY = '{"instances": [[0.1, 0.2, 0.3, 0.4]]}'

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class Result:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx answers plus socket errors
    # The same errors by kind: non-2xx, connect, read, write, timeout (only kinds that occurred).
    error_kinds: dict[str, int] = field(default_factory=dict)


def post_script(path: Path, gap_ms: int | None = None, *, lockstep: bool = False) -> Path:
    """A wrk Lua script that POSTs the JSON body; with `gap_ms`, each connection pauses between requests.

    The pauses are drawn from an exponential distribution with mean `gap_ms`, so the requests of
    all connections together arrive about as a Poisson stream does, the way independent clients'
    requests arrive. With `lockstep`, every pause is exactly `gap_ms`: wrk opens all connections at
    once, so they then fire together, and each proxy meets a burst of one request per connection
    every `gap_ms`.
    """
    lines = ['wrk.method = "POST"', f"wrk.body = '{REQUEST_BODY}'", 'wrk.headers["Content-Type"] = "application/json"']
    if gap_ms is not None and lockstep:
        lines.append(f"function delay() return {gap_ms} end")
    elif gap_ms is not None:  # wrk takes whole milliseconds; rounding keeps the mean at gap_ms
        lines.append(f"function delay() return math.floor(-{gap_ms} * math.log(1 - math.random()) + 0.5) end")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(url: str, script: Path, *, core: int, connections: int, duration_s: int) -> Result:
    command = [
        "taskset", "-c", str(core), "wrk", "-t1", f"-c{connections}", f"-d{duration_s}s",
        "--latency", "--timeout", "5s", "-s", str(script), url,
    ]  # fmt: skip
    report = subprocess.run(command, capture_output=True, text=True, check=True, timeout=duration_s + 30).stdout
    return parse_report(report)


def parse_report(report: str) -> Result:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", report)
    total = re.search(r"(\d+) requests in", report)
    if rate is None or total is None:
        raise RuntimeError(f"wrk printed no throughput; its report was:\n{report}")
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", report)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", report)
    kinds = {"non-2xx": int(non_2xx.group(1)) if non_2xx else 0}
    if sockets:
        kinds.update(zip(("connect", "read", "write", "timeout"), (int(g) for g in sockets.groups()), strict=True))
    kinds = {kind: count for kind, count in kinds.items() if count}
    p50, p99 = _percentile(report, "50%"), _percentile(report, "99%")
    return Result(float(rate.group(1)), p50, p99, int(total.group(1)), sum(kinds.values()), kinds)


def _percentile(report: str, label: str) -> float:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\s*$", report, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no {label} latency; its report was:\n{report}")
    return float(match.group(1)) * _UNITS[match.group(2)]
