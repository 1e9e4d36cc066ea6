"""`modelrollout replay ROLLOUT.yaml --traffic-from RECORDED.jsonl [--labels LABELS.jsonl] --stable URL --candidate URL`.

Sends every recorded request exactly once through a router (served by the stable, mirrored to the
candidate), posts the labels, judges each router metric of the rollout once over the whole
recording with the engine's judge (controller.local.replay), prints the verdicts and writes the
report the rollout would have produced. Exit codes: 0 it would have passed, 1 failed, 2 invalid
input, 3 inconclusive (too few samples for some metric).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from controller.api.status import Verdict
from controller.errors import ModelRolloutError, SpecError
from controller.local.inputs import check_reachable, check_url, read_rollout
from controller.local.loadgen import read_replay_file
from controller.local.replay import ReplayOptions, ReplayResult, read_labels, replay, verdict_of
from controller.local.report import RolloutReport, write_report
from controller.local.session import SessionOutcome

__all__ = ["EXIT_FAILED", "EXIT_INCONCLUSIVE", "EXIT_INVALID", "EXIT_PASSED", "add_arguments", "run"]

EXIT_PASSED, EXIT_FAILED, EXIT_INVALID, EXIT_INCONCLUSIVE = 0, 1, 2, 3
_OUTCOMES = {Verdict.PASSED: SessionOutcome.PROMOTED, Verdict.FAILED: SessionOutcome.ROLLED_BACK}
_EXITS = {Verdict.PASSED: EXIT_PASSED, Verdict.FAILED: EXIT_FAILED, Verdict.INCONCLUSIVE: EXIT_INCONCLUSIVE}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rollout", type=Path, help="ModelRollout YAML whose analysis judges the recording")
    parser.add_argument("--traffic-from", type=Path, required=True, metavar="FILE", help="recorded requests (JSON lines), each sent once")
    parser.add_argument("--labels", type=Path, metavar="FILE", help='true labels, {"requestId": ..., "label": ...} per line')
    parser.add_argument("--stable", required=True, help="URL of the stable model server")
    parser.add_argument("--candidate", required=True, help="URL of the candidate model server")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default 200)")
    parser.add_argument("--report", type=Path, default=Path("modelrollout-replay"), help="report directory")


async def _replay(args: argparse.Namespace, console: Console) -> int:
    rollout = read_rollout(args.rollout)
    stable, candidate = check_url("--stable", args.stable), check_url("--candidate", args.candidate)
    if not 0 < args.rate <= 10_000:
        raise SpecError("--rate", f"{args.rate} must be in (0, 10000]")
    requests = read_replay_file(args.traffic_from)
    labels = read_labels(args.labels) if args.labels else {}
    async with httpx.AsyncClient() as client:
        await check_reachable("--stable", stable, client)
        await check_reachable("--candidate", candidate, client)
    console.print(f"{rollout.name}: replaying {len(requests)} recorded requests once, served by the stable, mirrored to the candidate")
    options = ReplayOptions(rollout, stable, candidate, requests, labels, rate_per_s=args.rate, log_dir=args.report / "logs")
    result = await replay(options)
    verdict = verdict_of(rollout, result.records)
    _print(console, result, verdict)
    reason = f"replay of {len(requests)} recorded requests: the rollout would have {_would(verdict)}"
    report = RolloutReport(
        rollout=rollout.name, scenario="replay", outcome=_OUTCOMES.get(verdict, SessionOutcome.VERDICT), verdict=verdict,
        reason=reason, started_at=result.started_at, finished_at=result.finished_at, analysis=result.records,
        router_stats=result.stats.model_dump(mode="json", by_alias=True),
    )  # fmt: skip
    json_path, html_path = write_report(report, args.report)
    console.print(f"{reason}\nreport: {html_path} ({json_path.name} beside it)")
    return _EXITS[verdict]


def _would(verdict: Verdict) -> str:
    if verdict is Verdict.PASSED:
        return "passed the candidate"
    if verdict is Verdict.FAILED:
        return "rolled the candidate back"
    return "held: some metric had too few samples to judge"


def _print(console: Console, result: ReplayResult, verdict: Verdict) -> None:
    table = Table(title=f"verdicts over the recording: {verdict.value}")
    for column in ("metric", "scope", "verdict", "candidate", "stable", "samples", "reason"):
        table.add_column(column)
    for record in result.records:
        samples = f"{record.candidate_samples}/{record.stable_samples}"
        values = [_number(record.candidate_value), _number(record.stable_value)]
        table.add_row(record.metric, record.scope, record.verdict.value, *values, samples, record.reason)
    console.print(table)
    if result.labels_sent:
        console.print(f"labels: {result.labels_sent} posted, {result.labels_unmatched} matched no recorded request")
    if result.not_replayed:
        console.print(f"not replayed (they read live systems, not the recording): {', '.join(result.not_replayed)}")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=False, soft_wrap=True)
    try:
        return asyncio.run(_replay(args, console))
    except SpecError as exc:
        console.print(f"[red]invalid input:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_INVALID
    except ModelRolloutError as exc:
        console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return EXIT_INVALID
