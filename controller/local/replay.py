"""Replay: recorded traffic through a router once, judged with the rollout's analysis, nothing switched.

A router process in front of the two model servers serves every recorded request from the stable
and mirrors every one to the candidate, so both answer exactly the recorded requests, each once
(`run --traffic-from` cycles its file instead, to keep a live rollout fed). Labels (a recorded
line's own `label`, or the `--labels` file's by request id) are posted to the router's
`/feedback` once every answer is in. The router's stats then stand for the whole recording, with
the candidate's answers (mirrored) read as the candidate's, and each router metric of the
rollout (its background analysis and every analysis step) is judged once over them by the same
judge the engine uses. A metric read from Prometheus or a webhook measures live systems, not the
recording, so it is listed as not replayed.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from controller.analysis.judge import judge
from controller.api.metrics import MetricSpec
from controller.api.resource import ModelRollout
from controller.api.status import AnalysisRecord, TrafficSplit, Verdict
from controller.engine.actions import SetTraffic
from controller.errors import SpecError
from controller.local.loadgen import Label, LineProblem, TrafficConfig, TrafficFileError, TrafficGenerator, TrafficRequest
from controller.local.processes import ProcessGroup, free_port, wait_http_ok
from controller.providers.router_stats import observe_router_metric
from controller.routing.config import build_config
from controller.strategies.expand import expand
from controller.strategies.steps import Analysis
from router.stats import RouterStats

__all__ = ["BACKGROUND", "ReplayOptions", "ReplayResult", "read_labels", "replay", "judge_recording", "verdict_of"]

BACKGROUND = "background"
_LABELS_PER_POST = 1_000
_SETTLE_TIMEOUT_S = 60.0


class _LabelLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    request_id: str = Field(alias="requestId", min_length=1, max_length=256)
    label: Label


def read_labels(path: Path) -> dict[str, Label]:
    """`{"requestId": ..., "label": ...}` per line; raises TrafficFileError naming every bad line."""
    labels: dict[str, Label] = {}
    problems: list[LineProblem] = []
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                line = _LabelLine.model_validate(orjson.loads(text))
            except orjson.JSONDecodeError as exc:
                problems.append(LineProblem(line=number, message=f"not JSON ({exc})"))
                continue
            except ValidationError as exc:
                first = exc.errors()[0]
                problems.append(LineProblem(line=number, message=f"{'.'.join(map(str, first['loc'])) or 'line'}: {first['msg']}"))
                continue
            labels[line.request_id] = line.label
    if problems:
        raise TrafficFileError(path, problems)
    return labels


@dataclass(frozen=True)
class ReplayOptions:
    rollout: ModelRollout
    stable_url: str
    candidate_url: str
    requests: list[TrafficRequest]
    labels: dict[str, Label]
    rate_per_s: float = 200.0
    log_dir: Path = Path("modelrollout-replay/logs")


@dataclass(frozen=True)
class ReplayResult:
    records: list[AnalysisRecord]
    not_replayed: list[str]  # metrics read from live systems, named with their source
    stats: RouterStats  # the candidate's mirrored answers read as the candidate's
    labels_sent: int
    labels_unmatched: int
    started_at: datetime
    finished_at: datetime


async def replay(options: ReplayOptions) -> ReplayResult:
    """Send every recorded request once through a router, post the labels, judge what came back."""
    for index, request in enumerate(options.requests):
        request_id = request.headers.get("x-request-id")
        if request.label is None and options.labels and request_id is None:
            raise SpecError("--labels", f"recorded request {index + 1} has no x-request-id header, so no label can name it")
    group = ProcessGroup(options.log_dir)
    started = datetime.now(UTC)
    try:
        router_url, admin_url = await _start_router(group, options)
        async with aiohttp.ClientSession() as session:
            await _send_once(router_url, options)
            stats = await _settled(session, admin_url, len(options.requests))
            sent, unmatched = await _post_labels(session, admin_url, _labels_for(options))
            stats = await _stats(session, admin_url)
    finally:
        group.stop_all()
    finished = datetime.now(UTC)
    as_candidate = stats.model_copy(update={"candidate": stats.shadow})
    records, not_replayed = judge_recording(options.rollout, as_candidate, started, finished)
    return ReplayResult(records, not_replayed, as_candidate, sent, unmatched, started, finished)


def judge_recording(
    rollout: ModelRollout, stats: RouterStats, started: datetime, finished: datetime
) -> tuple[list[AnalysisRecord], list[str]]:
    """One record per router metric of the rollout (each scope's metric once), judged over `stats`."""
    records: list[AnalysisRecord] = []
    not_replayed: list[str] = []
    for scope, metric in _metrics(rollout):
        if metric.router is None:
            not_replayed.append(f"{metric.name} ({metric.source_kind})")
            continue
        observation = observe_router_metric(metric, stats, started, finished)
        result = judge(metric, observation)
        records.append(
            AnalysisRecord(
                metric=metric.name, scope=scope, revision="candidate", verdict=result.verdict, reason=result.reason,
                time=finished, window_start=started, window_end=finished, candidate_samples=result.candidate_samples,
                stable_samples=result.stable_samples, candidate_value=result.candidate_value, stable_value=result.stable_value,
                statistic=result.statistic, statistic_value=result.statistic_value, threshold=result.threshold,
            )  # fmt: skip
        )
    return records, not_replayed


def verdict_of(rollout: ModelRollout, records: Iterable[AnalysisRecord]) -> Verdict:
    """What the rollout would have done: Failed on any failure, Passed when all passed, else Inconclusive.

    Dry-run metrics are recorded, never acted on, so they count for neither.
    """
    dry = {metric.name for _, metric in _metrics(rollout) if metric.dry_run}
    acted = [r.verdict for r in records if r.metric not in dry]
    if any(v is Verdict.FAILED for v in acted):
        return Verdict.FAILED
    if acted and all(v is Verdict.PASSED for v in acted):
        return Verdict.PASSED
    return Verdict.INCONCLUSIVE


def _metrics(rollout: ModelRollout) -> list[tuple[str, MetricSpec]]:
    found: list[tuple[str, MetricSpec]] = []
    if rollout.spec.analysis is not None:
        found += [(BACKGROUND, metric) for metric in rollout.spec.analysis.metrics]
    for step in expand(rollout.spec):
        if isinstance(step, Analysis):
            found += [(step.scope, metric) for metric in step.metrics]
    return found


async def _start_router(group: ProcessGroup, options: ReplayOptions) -> tuple[str, str]:
    """A router serving everything from the stable and mirroring everything to the candidate."""
    upstreams = {"stable": options.stable_url, "candidate": options.candidate_url}
    action = SetTraffic(stable_revision="stable", candidate_revision="candidate", split=TrafficSplit(stable=100, candidate=0, mirror=100))
    config = build_config(options.rollout, action, 1, lambda _rollout, revision: upstreams[revision]).model_copy(
        update={"mirror_max_in_flight": 100_000, "feedback_capacity": max(100_000, 2 * len(options.requests))}
    )
    options.log_dir.mkdir(parents=True, exist_ok=True)
    path = options.log_dir.parent / "replay-router.json"
    path.write_text(config.model_dump_json(by_alias=True, indent=2))
    port, admin_port = free_port(), free_port()
    argv = [
        sys.executable, "-m", "router", "--config", str(path), "--listen", f"127.0.0.1:{port}", "--admin-listen", f"127.0.0.1:{admin_port}",
    ]  # fmt: skip
    member = group.start("router", argv)
    admin = f"http://127.0.0.1:{admin_port}"
    await wait_http_ok(f"{admin}/readyz", 60, member.process)
    return f"http://127.0.0.1:{port}", admin


async def _send_once(router_url: str, options: ReplayOptions) -> None:
    """Every recorded request exactly once (labels are posted later, all together)."""
    unlabelled = (request.model_copy(update={"label": None}) for request in options.requests)
    await TrafficGenerator(TrafficConfig(target_url=router_url, rate_per_s=options.rate_per_s), unlabelled).run()


def _labels_for(options: ReplayOptions) -> list[dict[str, object]]:
    labels: list[dict[str, object]] = []
    for request in options.requests:
        request_id = request.headers.get("x-request-id")
        label = request.label if request.label is not None else options.labels.get(request_id or "")
        if label is not None and request_id is not None:
            labels.append({"requestId": request_id, "label": label})
    return labels


async def _stats(session: aiohttp.ClientSession, admin_url: str) -> RouterStats:
    async with session.get(f"{admin_url}/stats") as response:
        return RouterStats.model_validate_json(await response.read())


async def _settled(session: aiohttp.ClientSession, admin_url: str, sent: int) -> RouterStats:
    """The stats once the stable answered all `sent` and the candidate every mirrored copy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SETTLE_TIMEOUT_S
    while True:
        stats = await _stats(session, admin_url)
        if stats.stable.requests >= sent and stats.shadow.requests >= stats.shadow_comparison.mirrored:
            return stats
        if loop.time() > deadline:
            answered = f"{stats.shadow.requests} of {stats.shadow_comparison.mirrored}"
            raise SpecError("--candidate", f"answered {answered} mirrored requests within {_SETTLE_TIMEOUT_S:g}s; expected all")
        await asyncio.sleep(0.05)


async def _post_labels(session: aiohttp.ClientSession, admin_url: str, labels: list[dict[str, object]]) -> tuple[int, int]:
    """(labels posted, labels the router could not join); a label the router refuses is the file's error."""
    unmatched = 0
    for start in range(0, len(labels), _LABELS_PER_POST):
        batch = labels[start : start + _LABELS_PER_POST]
        body = orjson.dumps(batch)
        async with session.post(f"{admin_url}/feedback", data=body, headers={"content-type": "application/json"}) as response:
            answer = await response.json(content_type=None)
            if response.status != 200:
                raise SpecError("--labels", f"the router refused labels {start + 1}-{start + len(batch)}: {answer.get('error', answer)}")
            unmatched += int(answer.get("unmatched", 0)) + int(answer.get("late", 0))
    return len(labels), unmatched
