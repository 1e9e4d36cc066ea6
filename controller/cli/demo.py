"""`modelrollout demo`: a whole model rollout on this machine, good or bad candidate by scenario.

`--scenario drift-after-promotion` goes on past the promotion: the promoted model is watched by
spec.monitoring (manifests/examples/monitored.yaml), its traffic drifts once its reference is
captured, and the demo ends when monitoring has flagged it and fired the retraining webhook, whose
URL the demo replaces with a receiver of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from controller.api.resource import ModelRollout
from controller.errors import ModelRolloutError, SpecError
from controller.local.drifted_traffic import DriftSwitch
from controller.local.inputs import read_rollout
from controller.local.loadgen import TrafficConfig, TrafficGenerator, TrafficRequest, dataset_requests
from controller.local.monitoring_demo import (
    DEMO_DRIFT,
    RECEIVED_NAME,
    SCENARIO,
    RetrainingReceiver,
    expected_fired,
    payload_lines,
    problems,
    reference_captured,
    with_retraining_url,
)
from controller.local.processes import ProcessGroup, free_port, wait_http_ok
from controller.local.runner import LocalTarget, StopTraffic, run_local
from controller.local.session import SessionOutcome, SessionResult

__all__ = ["add_arguments", "run", "SCENARIOS", "EXAMPLE", "MONITORED_EXAMPLE"]

SCENARIOS = ("good", "errors", "latency", "disagree", "drift", SCENARIO)
_EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"
EXAMPLE = _EXAMPLES / "canary.yaml"
MONITORED_EXAMPLE = _EXAMPLES / "monitored.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenario", choices=SCENARIOS, default="good", help="what is wrong with the candidate (default good)")
    parser.add_argument("--speed", type=float, default=20.0, help="rollout time runs this many times faster (default 20)")
    parser.add_argument("--report", type=Path, default=Path("modelrollout-report"), help="report directory")
    parser.add_argument(
        "--rollout",
        type=Path,
        default=None,
        help=f"ModelRollout YAML (default: the canary example; monitored.yaml for {SCENARIO})",
    )
    parser.add_argument("--rate", type=float, default=120.0, help="requests per second of generated traffic")
    parser.add_argument(
        "--watch-for",
        type=float,
        default=90.0,
        help=f"{SCENARIO}: seconds (wall clock) monitoring may take after the promotion to flag the drift (default 90)",
    )


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


async def _rollout(args: argparse.Namespace, console: Console, target: LocalTarget, requests: Iterator[TrafficRequest]) -> SessionResult:
    """Start the model servers, then drive `target`'s rollout with `requests` as its traffic."""

    async def start_traffic(router_url: str, admin_url: str) -> StopTraffic:
        generator = TrafficGenerator(
            TrafficConfig(target_url=router_url, rate_per_s=args.rate, feedback_url=f"{admin_url}/feedback"), requests
        )
        generator.start()
        return generator.stop

    result, _report = await run_local(target, console, on_ready=start_traffic)
    return result


def _target(args: argparse.Namespace, rollout: ModelRollout, urls: tuple[str, str]) -> LocalTarget:
    return LocalTarget(
        rollout, *urls, scenario=args.scenario, speed=args.speed, report_dir=args.report, log_dir=args.report / "logs", deadline_s=3600
    )


async def _demo(args: argparse.Namespace, console: Console) -> bool:
    """A rollout scenario; True when it ended as it should (good: promoted; any other: rolled back)."""
    rollout = _candidate_of(read_rollout(args.rollout or EXAMPLE), args.scenario)
    group = ProcessGroup(args.report / "logs")
    try:
        console.print(f"[bold]ModelRollout demo[/]: scenario [cyan]{args.scenario}[/], time x{args.speed:g}; starting model servers…")
        urls = await _start_models(group, args.scenario)
        result = await _rollout(args, console, _target(args, rollout, urls), dataset_requests("demo"))
    finally:
        group.stop_all()
    _print_outcome(console, args, result)
    expected = SessionOutcome.PROMOTED if args.scenario == "good" else SessionOutcome.ROLLED_BACK
    return result.outcome is expected


def _print_outcome(console: Console, args: argparse.Namespace, result: SessionResult) -> None:
    style = "green" if result.outcome is SessionOutcome.PROMOTED else "red"
    console.print(f"\n[bold {style}]{args.scenario}: {result.outcome.value.replace('_', ' ').upper()}[/] — {escape(result.reason)}")
    console.print(f"report: {args.report / 'report.html'} and {args.report / 'report.json'}")


async def _monitoring_demo(args: argparse.Namespace, console: Console) -> bool:
    """Promote a good candidate, drift its traffic once its reference is captured, and wait for the retraining webhook."""
    rollout = _candidate_of(read_rollout(args.rollout or MONITORED_EXAMPLE), args.scenario)
    if rollout.spec.monitoring is None:
        raise SpecError(".spec.monitoring", f"the {SCENARIO} scenario watches the promoted model, but the rollout has no spec.monitoring")
    requests = DriftSwitch(dataset_requests("demo"), DEMO_DRIFT)

    def drift_once_captured(current: ModelRollout) -> None:
        # The reference is the undrifted traffic; everything after it is drifted.
        if not requests.drifting and reference_captured(current):
            requests.start()
            console.print(f"reference captured: drifting features {', '.join(DEMO_DRIFT.features)} and flipping a share of labels")

    group = ProcessGroup(args.report / "logs")
    async with RetrainingReceiver() as receiver:
        rollout = with_retraining_url(rollout, receiver.url)
        try:
            console.print(f"[bold]ModelRollout demo[/]: scenario [cyan]{SCENARIO}[/], time x{args.speed:g}; starting model servers…")
            # The candidate is a good model: what goes wrong comes after its promotion.
            urls = await _start_models(group, "good")
            target = dataclasses.replace(
                _target(args, rollout, urls),
                monitor_s=args.watch_for * args.speed,
                on_reconciled=drift_once_captured,
                stop_monitoring=lambda current: expected_fired(current, receiver.calls),
            )
            result = await _rollout(args, console, target, requests)
        finally:
            group.stop_all()
    calls = [call.model_dump(mode="json", by_alias=True) for call in receiver.calls]
    (args.report / RECEIVED_NAME).write_text(json.dumps(calls, indent=2) + "\n", encoding="utf-8")
    _print_outcome(console, args, result)
    posts = f"{len(receiver.calls)} POST{'' if len(receiver.calls) == 1 else 's'}"
    console.print(f"\n[bold]Retraining webhook[/]: {posts} received (all in {args.report / RECEIVED_NAME})")
    for line in payload_lines(receiver.calls):
        console.print(escape(line))
    found = ["the candidate was not promoted"] if result.outcome is not SessionOutcome.PROMOTED else []
    found += problems(result.rollout, receiver.calls, DEMO_DRIFT.features) if not found else []
    for problem in found:
        console.print(f"[red]not as expected:[/] {escape(problem)}")
    if not found:
        console.print(f"[bold green]{SCENARIO}: drift flagged and retraining triggered once per episode[/]")
    return not found


def run(args: argparse.Namespace) -> int:
    console = Console()
    try:
        ended_well = asyncio.run(_monitoring_demo(args, console) if args.scenario == SCENARIO else _demo(args, console))
    except ModelRolloutError as exc:
        console.print(f"[red]error:[/] {exc}")
        return 2
    return 0 if ended_well else 1
