"""`modelrollout demo`: a whole model rollout on this machine, good or bad candidate by scenario."""

from __future__ import annotations

import argparse
import asyncio
import copy
import sys
from pathlib import Path

from rich.console import Console

from controller.api.resource import ModelRollout
from controller.errors import ModelRolloutError
from controller.local.inputs import read_rollout
from controller.local.loadgen import TrafficConfig, TrafficGenerator, dataset_requests
from controller.local.processes import ProcessGroup, free_port, wait_http_ok
from controller.local.runner import LocalTarget, StopTraffic, run_local
from controller.local.session import SessionOutcome

__all__ = ["add_arguments", "run", "SCENARIOS", "EXAMPLE"]

SCENARIOS = ("good", "errors", "latency", "disagree", "drift")
EXAMPLE = Path(__file__).resolve().parents[2] / "manifests" / "examples" / "canary.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", choices=SCENARIOS, default="good", help="what is wrong with the candidate (default good)")
    parser.add_argument("--speed", type=float, default=20.0, help="rollout time runs this many times faster (default 20)")
    parser.add_argument("--report", type=Path, default=Path("modelrollout-report"), help="report directory")
    parser.add_argument("--rollout", type=Path, default=EXAMPLE, help="ModelRollout YAML (default: the canary example)")
    parser.add_argument("--rate", type=float, default=120.0, help="requests per second of generated traffic")


def _candidate_of(rollout: ModelRollout, scenario: str) -> ModelRollout:
    """The example's template marked with the scenario, so each scenario is its own revision."""
    template = copy.deepcopy(rollout.spec.template)
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    labels["modelrollout.io/demo-scenario"] = scenario
    return rollout.model_copy(update={"spec": rollout.spec.model_copy(update={"template": template})})


async def _start_models(group: ProcessGroup, scenario: str) -> tuple[str, str]:
    urls = []
    for variant in ("stable", "candidate"):
        port = free_port()
        argv = [sys.executable, "-m", "controller.local.demo_model", "--port", str(port), "--variant", variant, "--scenario", scenario]
        member = group.start(f"model-{variant}", argv)
        urls.append((f"http://127.0.0.1:{port}", member))
    for url, member in urls:
        await wait_http_ok(f"{url}/v1/models/demo", 120, member.process)
    return urls[0][0], urls[1][0]


async def _demo(args: argparse.Namespace, console: Console) -> SessionOutcome:
    rollout = _candidate_of(read_rollout(args.rollout), args.scenario)
    group = ProcessGroup(args.report / "logs")
    try:
        console.print(f"[bold]ModelRollout demo[/]: scenario [cyan]{args.scenario}[/], time x{args.speed:g}; starting model servers…")
        stable_url, candidate_url = await _start_models(group, args.scenario)
        target = LocalTarget(rollout, stable_url, candidate_url, scenario=args.scenario, speed=args.speed,
                             report_dir=args.report, log_dir=args.report / "logs", deadline_s=3600)

        async def start_traffic(router_url: str, admin_url: str) -> StopTraffic:
            generator = TrafficGenerator(
                TrafficConfig(target_url=router_url, rate_per_s=args.rate, feedback_url=f"{admin_url}/feedback"),
                dataset_requests("demo"),
            )
            generator.start()
            return generator.stop

        result, _report = await run_local(target, console, on_ready=start_traffic)
    finally:
        group.stop_all()
    style = "green" if result.outcome is SessionOutcome.PROMOTED else "red"
    console.print(f"\n[bold {style}]{args.scenario}: {result.outcome.value.replace('_', ' ').upper()}[/] — {result.reason}")
    console.print(f"report: {args.report / 'report.html'} and {args.report / 'report.json'}")
    return result.outcome


def run(args: argparse.Namespace) -> int:
    console = Console()
    try:
        outcome = asyncio.run(_demo(args, console))
    except ModelRolloutError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    expected = SessionOutcome.PROMOTED if args.scenario == "good" else SessionOutcome.ROLLED_BACK
    return 0 if outcome is expected else 1
