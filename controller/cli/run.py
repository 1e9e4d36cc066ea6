"""`modelrollout run ROLLOUT.yaml --stable URL --candidate URL`: gate a candidate you already run.

Exit codes (for CI pipelines): 0 promoted, 1 rolled back (or no outcome in time), 2 invalid input.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from rich.console import Console

from controller.api.status import Verdict
from controller.errors import ModelRolloutError, SpecError
from controller.local.inputs import check_reachable, check_url, read_rollout
from controller.local.loadgen import TrafficConfig, TrafficGenerator, TrafficRequest, read_replay_file
from controller.local.runner import LocalTarget, StopTraffic, run_local
from controller.local.session import SessionOutcome
from controller.notify.config import NotificationsConfigError, load_notifications_config

__all__ = ["add_arguments", "run", "EXIT_PROMOTED", "EXIT_ROLLED_BACK", "EXIT_INVALID"]

EXIT_PROMOTED, EXIT_ROLLED_BACK, EXIT_INVALID = 0, 1, 2


def _listen_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:8080`) for the router's data port; argparse shows the error."""
    try:
        parts = urlsplit(f"//{text}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT with a port in 1..65535")
    return host, port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rollout", type=Path, help="ModelRollout YAML; its template stands for the candidate")
    parser.add_argument("--stable", required=True, help="URL of the stable model server")
    parser.add_argument("--candidate", required=True, help="URL of the candidate model server")
    traffic = parser.add_mutually_exclusive_group()
    traffic.add_argument("--traffic-from", type=Path, metavar="FILE", help="replay recorded requests (JSON lines)")
    traffic.add_argument("--no-traffic", action="store_true", help="send nothing; route live traffic sent to --listen")
    parser.add_argument(
        "--listen", type=_listen_address, default=None, metavar="HOST:PORT", help="router data port (default: a free loopback port)"
    )
    parser.add_argument("--rate", type=float, default=50.0, help="replay rate in requests per second (default 50)")
    parser.add_argument("--speed", type=float, default=1.0, help="run rollout timers this many times faster (default 1)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds of rollout time")
    parser.add_argument("--report", type=Path, default=Path("modelrollout-report"), help="report directory")
    parser.add_argument(
        "--notifications-config", type=Path, metavar="FILE", help="notification targets, as the controller takes them"
    )
    parser.add_argument(
        "--provider-secrets-dir", type=Path, metavar="DIR", help="Secrets that metric sources name, as files DIR/<secret>/<key>"
    )


async def _run(args: argparse.Namespace, console: Console) -> int:
    rollout = read_rollout(args.rollout)
    stable = check_url("--stable", args.stable)
    candidate = check_url("--candidate", args.candidate)
    if args.speed <= 0:
        raise SpecError("--speed", f"{args.speed} must be > 0")
    requests = read_replay_file(args.traffic_from) if args.traffic_from else None
    try:
        notifications = load_notifications_config(args.notifications_config) if args.notifications_config else None
    except NotificationsConfigError as exc:
        raise SpecError("--notifications-config", str(exc)) from exc
    if requests is not None and not requests:
        raise SpecError("--traffic-from", f"{args.traffic_from} holds no requests")
    async with httpx.AsyncClient() as client:
        await check_reachable("--stable", stable, client)
        await check_reachable("--candidate", candidate, client)
    target = LocalTarget(rollout, stable, candidate, speed=args.speed, deadline_s=args.timeout,
                         report_dir=args.report, log_dir=args.report / "logs", router_listen=args.listen,
                         notifications=notifications, provider_secrets_dir=args.provider_secrets_dir)

    async def start_replay(router_url: str, admin_url: str) -> StopTraffic | None:
        if requests is None:
            console.print(f"routing live traffic sent to [bold]{router_url}[/]")
            return None
        generator = TrafficGenerator(TrafficConfig(target_url=router_url, rate_per_s=args.rate), _cycle(requests))
        generator.start()
        return generator.stop

    result, _report = await run_local(target, console, on_ready=start_replay)
    console.print(f"{result.outcome.value}: {result.reason}")
    console.print(f"report: {args.report / 'report.html'}")
    return _exit_code(result.outcome, result.rollout.status.shadow_verdict)


def _exit_code(outcome: SessionOutcome, verdict: Verdict | None) -> int:
    if outcome is SessionOutcome.INVALID:
        return EXIT_INVALID
    if outcome is SessionOutcome.PROMOTED or (outcome is SessionOutcome.VERDICT and verdict is Verdict.PASSED):
        return EXIT_PROMOTED
    return EXIT_ROLLED_BACK


def _cycle(items: Sequence[TrafficRequest]) -> Iterator[TrafficRequest]:
    while True:
        yield from items


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=False)
    try:
        return asyncio.run(_run(args, console))
    except SpecError as exc:
        console.print(f"[red]invalid input:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_INVALID
    except ModelRolloutError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_INVALID
