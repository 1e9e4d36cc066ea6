"""Run one rollout locally: a router process in front of two model servers, driven by the engine.

Shared by `modelrollout demo` and `modelrollout run`: the router's config is a file the
engine's SetTraffic actions rewrite (the router reloads it), its `/stats` feed the built-in
metrics, and every tick feeds the live view and the report's time series.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import aiohttp
import httpx
from rich.console import Console

from controller.api.resource import ModelRollout, revision_of
from controller.api.status import AnalysisRecord, ModelRolloutStatus, Phase, TrafficSplit
from controller.engine.actions import SetTraffic
from controller.local.cluster import EventLog, LocalCluster
from controller.local.processes import ProcessGroup, free_port, wait_http_ok
from controller.local.references import FileReferenceStore
from controller.local.report import RolloutReport, SeriesPoint, StepRecord, monitoring_summary, write_report
from controller.local.session import SessionResult, run_session
from controller.local.view import LiveSnapshot, live_view, render
from controller.notify.config import NotificationsConfig
from controller.notify.delivery import Notifier
from controller.notify.sink import NotifyingEventSink
from controller.providers.gates import WebhookGateCaller
from controller.providers.prometheus import PrometheusProvider
from controller.providers.retraining import RetrainingDispatcher
from controller.providers.router_stats import observe_router_metric, quantile
from controller.providers.secrets import SecretFiles
from controller.providers.webhook import WebhookProvider
from controller.routing.config import build_config, same_routing
from controller.routing.measure import MetricRouter, RouterStatsSource
from controller.routing.monitoring import RouterMonitor
from controller.routing.polling import RouterEndpoint, RouterPoller
from controller.runtime.clock import ScaledClock
from controller.runtime.driver import Ports, Reconciled
from controller.runtime.ports import EventSink
from controller.strategies.expand import expand
from controller.strategies.steps import describe
from router.config import RouterConfig
from router.stats import RouterStats, VariantStats, delta

__all__ = ["LocalTarget", "FileTrafficControl", "OnReady", "StopTraffic", "seed_rollout", "run_local"]

StopTraffic = Callable[[], Awaitable[object]]
"""Stops what `OnReady` started; awaited once the rollout has ended, before the final numbers are read."""
OnReady = Callable[[str, str], Awaitable[StopTraffic | None]]
"""Awaited with (router URL, admin URL) once the router serves; returns how to stop the traffic it started."""


@dataclass(frozen=True)
class LocalTarget:
    """What a local run rolls out: the rollout (its template is the candidate) and the two servers."""

    rollout: ModelRollout
    stable_url: str
    candidate_url: str
    scenario: str | None = None
    speed: float = 10.0
    tick_s: float = 2.0
    deadline_s: float = 3600.0
    report_dir: Path = Path("modelrollout-report")
    log_dir: Path = Path("modelrollout-report/logs")
    router_listen: tuple[str, int] | None = None
    # Targets the rollout's spec.notifications and the global subscriptions name; None: no notifications.
    notifications: NotificationsConfig | None = None
    # Secrets metric sources name, as files `<dir>/<secret>/<key>`; None: none.
    provider_secrets_dir: Path | None = None
    # After a promotion, keep reconciling this long (rollout time) so spec.monitoring watches the new
    # stable; `stop_monitoring` ends it early.
    monitor_s: float = 0.0
    stop_monitoring: Callable[[ModelRollout], bool] | None = None
    # Called with the rollout after every reconcile, e.g. to change the traffic once a reference is captured.
    on_reconciled: Callable[[ModelRollout], None] | None = None


class FileTrafficControl:
    """Writes the router's config file (atomically); applied once the router reports its generation.

    As with the ConfigMap in a cluster, a write with the routing already in force writes nothing,
    unless the file no longer holds what was written (deleted or edited by hand): then it is
    written again, with the next generation, so the router reloads it.
    """

    def __init__(self, path: Path, poller: RouterPoller, upstreams: dict[str, str]) -> None:
        self._path = path
        self._poller = poller
        self._upstreams = upstreams
        self._generation = 0
        self._written: RouterConfig | None = None

    def write_initial(self, rollout: ModelRollout, stable_revision: str) -> None:
        self._write(rollout, SetTraffic(stable_revision=stable_revision, candidate_revision=None, split=TrafficSplit()))

    def _write(self, rollout: ModelRollout, action: SetTraffic) -> None:
        config = build_config(rollout, action, self._generation + 1, lambda _r, revision: self._upstreams[revision])
        if self._written is not None and same_routing(self._written, config) and self._on_disk() == self._written:
            return
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(config.model_dump_json(by_alias=True, indent=2))
        os.replace(temporary, self._path)
        self._generation, self._written = config.generation, config

    def _on_disk(self) -> RouterConfig | None:
        try:
            return RouterConfig.model_validate_json(self._path.read_bytes())
        except (OSError, ValueError):
            return None

    async def set_traffic(self, rollout: ModelRollout, action: SetTraffic) -> None:
        self._write(rollout, action)

    async def traffic_applied(self, rollout: ModelRollout) -> bool:
        readings = await self._poller.read(rollout)
        return bool(readings) and all(r.stats is not None and r.stats.generation == self._generation for r in readings)


def seed_rollout(rollout: ModelRollout, stable_revision: str) -> ModelRollout:
    """The rollout as if `stable_revision` were already serving, so the template starts a rollout."""
    status = ModelRolloutStatus(phase=Phase.HEALTHY, stable_revision=stable_revision, traffic=TrafficSplit())
    metadata = {"namespace": "local", "generation": 1, "uid": "local", **rollout.metadata}
    return rollout.model_copy(update={"status": status, "metadata": metadata})


@dataclass
class _Recorder:
    """Turns each tick into series points, step records and the live snapshot."""

    rollout_name: str
    scenario: str | None
    clock: ScaledClock
    series: list[SeriesPoint] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    last_stats: RouterStats | None = None
    last_at: float | None = None
    last_snapshot: LiveSnapshot | None = None
    # Every judged measurement; the status keeps only the most recent ones.
    analysis: dict[tuple[str, str, datetime], AnalysisRecord] = field(default_factory=dict)

    def tick(self, reconciled: Reconciled, stats: RouterStats | None) -> LiveSnapshot:
        rollout = reconciled.rollout
        now = self.clock.now()
        for record in rollout.status.evidence:
            self.analysis.setdefault((record.metric, record.scope, record.time), record)
        self._track_step(rollout, now)
        points = self._points(stats, now)
        self.series.extend(points)
        evidence = rollout.status.evidence
        agreement = next((p.agreement for p in points if p.agreement is not None), None)
        drift = next((r.candidate_value for r in reversed(evidence) if "drift" in r.metric), None)
        step_index = rollout.status.current_step
        steps = expand(rollout.spec)
        self.last_snapshot = LiveSnapshot(
            rollout=self.rollout_name,
            scenario=self.scenario,
            phase=rollout.status.phase,
            step_index=step_index,
            step_count=len(steps),
            step_description=describe(steps[step_index]) if step_index is not None and step_index < len(steps) else "",
            traffic=rollout.status.traffic,
            variants=[p for p in points if p.variant != "shadow" or p.request_rate],
            agreement=agreement,
            drift_psi=drift,
            verdicts=list(evidence[-8:]),
            monitoring=monitoring_summary(rollout.status),
        )
        return self.last_snapshot

    def _track_step(self, rollout: ModelRollout, now: datetime) -> None:
        index = rollout.status.current_step
        if index is None:
            if self.steps and self.steps[-1].finished_at is None:
                self.steps[-1] = self.steps[-1].model_copy(update={"finished_at": now})
            return
        if self.steps and self.steps[-1].index == index and self.steps[-1].finished_at is None:
            return
        if self.steps and self.steps[-1].finished_at is None:
            self.steps[-1] = self.steps[-1].model_copy(update={"finished_at": now})
        steps = expand(rollout.spec)
        step = steps[index] if index < len(steps) else None
        kind = type(step).__name__ if step is not None else "step"
        self.steps.append(StepRecord(index=index, kind=kind, description=describe(step) if step else "", started_at=now))

    def _points(self, stats: RouterStats | None, now: datetime) -> list[SeriesPoint]:
        loop_now = asyncio.get_running_loop().time()
        # A reading reused from the poller's short cache is no new interval: skip it, or rates zig-zag.
        if stats is None or stats == self.last_stats:
            return []
        before, elapsed = self.last_stats, (loop_now - self.last_at) if self.last_at else None
        self.last_stats, self.last_at = stats, loop_now
        if before is None or not elapsed or before.instance_id != stats.instance_id:
            return []
        window = delta(before, stats)
        comparison = window.shadow_comparison
        agreement = comparison.agreed / comparison.compared if comparison.compared > 0 else None
        return [
            _variant_point(name, getattr(window, name), elapsed, now, agreement if name == "shadow" else None)
            for name in ("stable", "candidate", "shadow")
        ]


def _variant_point(name: str, window: VariantStats, elapsed_s: float, now: datetime, agreement: float | None) -> SeriesPoint:
    """One variant's numbers over the interval `window` covers (already a difference of two readings)."""
    requests = window.requests

    def milliseconds(q: float) -> float | None:
        seconds = quantile(window.latency_s, q)
        return None if seconds is None else seconds * 1000

    return SeriesPoint(
        t=now,
        variant=name,
        request_rate=requests / elapsed_s,
        error_rate=window.errors.total / requests if requests > 0 else None,
        p50_ms=milliseconds(0.5),
        p99_ms=milliseconds(0.99),
        agreement=agreement,
    )


async def _start_router(group: ProcessGroup, config_path: Path, listen: tuple[str, int] | None) -> tuple[str, str]:
    host, port = listen or ("127.0.0.1", free_port())
    admin_port = free_port()
    member = group.start(
        "router",
        [
            sys.executable,
            "-m",
            "router",
            "--config",
            str(config_path),
            "--listen",
            f"{host}:{port}",
            "--admin-listen",
            f"127.0.0.1:{admin_port}",
        ],
    )
    admin = f"http://127.0.0.1:{admin_port}"
    await wait_http_ok(f"{admin}/readyz", 60, member.process)
    return f"http://{host}:{port}", admin


async def run_local(target: LocalTarget, console: Console, *, on_ready: OnReady | None = None) -> tuple[SessionResult, RolloutReport]:
    """Start the router, drive the rollout to its end with a live view, and write the report.

    `on_ready(router_url, admin_url)` is awaited once the router serves, e.g. to start traffic.
    """
    rollout = target.rollout
    candidate_revision = revision_of(rollout.spec.template)
    # Revisions are hex hashes, so this name can never collide with the candidate's.
    stable_revision = "baseline"
    upstreams = {stable_revision: target.stable_url, candidate_revision: target.candidate_url}
    rollout = seed_rollout(rollout, stable_revision)
    group = ProcessGroup(target.log_dir)
    clock = ScaledClock(target.speed)
    target.report_dir.mkdir(parents=True, exist_ok=True)
    config_path = target.report_dir / "router-config.json"
    started = clock.now()
    async with aiohttp.ClientSession() as session, httpx.AsyncClient() as client:
        admin_box: dict[str, str] = {}
        poller = RouterPoller(lambda _r: [RouterEndpoint("router", admin_box["url"])], session, clock.now)
        traffic = FileTrafficControl(config_path, poller, upstreams)
        traffic.write_initial(rollout, stable_revision)
        notifier = Notifier(target.notifications, client) if target.notifications else None
        gate_caller = WebhookGateCaller(client)
        # No cluster here: a retraining webhook fires, a retraining Job is only warned of.
        retraining = RetrainingDispatcher(client, now=clock.now)
        try:
            router_url, admin_url = await _start_router(group, config_path, target.router_listen)
            admin_box["url"] = admin_url
            metrics = MetricRouter(
                RouterStatsSource(poller, observe_router_metric),
                PrometheusProvider(client, SecretFiles(target.provider_secrets_dir)),
                WebhookProvider(client),
            )
            events = EventLog(clock)
            sink: EventSink = NotifyingEventSink(events, notifier, clock.now) if notifier else events
            cluster = LocalCluster(upstreams, {}, client)
            # The live reference is kept beside the report; a baseline is a path the spec names.
            monitor = RouterMonitor(poller, FileReferenceStore(target.report_dir))
            ports = Ports(
                cluster=cluster,
                traffic=traffic,
                metrics=metrics,
                events=sink,
                clock=clock,
                gates=gate_caller,
                monitoring=monitor,
                retraining=retraining,
            )
            recorder = _Recorder(rollout.name, target.scenario, clock)
            traffic_task = await on_ready(router_url, admin_url) if on_ready else None
            with live_view(console) as live:

                async def on_tick(reconciled: Reconciled) -> None:
                    if target.on_reconciled is not None:
                        target.on_reconciled(reconciled.rollout)
                    readings = await poller.read(reconciled.rollout)
                    stats = readings[0].stats if readings else None
                    live.update(render(recorder.tick(reconciled, stats)))

                result = await run_session(
                    ports,
                    rollout,
                    tick_s=target.tick_s,
                    deadline_s=target.deadline_s,
                    on_tick=on_tick,
                    monitor_s=target.monitor_s,
                    stop_monitoring=target.stop_monitoring,
                )
                final = (recorder.last_snapshot or LiveSnapshot(rollout=rollout.name)).model_copy(
                    update={"outcome": result.outcome, "reason": result.reason, "phase": result.rollout.status.phase}
                )
                live.update(render(final))
            if traffic_task is not None:
                await traffic_task()
            # The last split (e.g. the rollback) is in force before the final numbers are read.
            for _ in range(50):
                if await traffic.traffic_applied(result.rollout):
                    break
                await asyncio.sleep(0.1)
            readings = await poller.read(result.rollout)
            final_stats = readings[0].stats if readings and readings[0].stats else None
        finally:
            if notifier is not None:
                await notifier.close()
            await gate_caller.close()
            await retraining.close()
            group.stop_all()
    report = RolloutReport(
        rollout=rollout.name,
        scenario=target.scenario,
        outcome=result.outcome,
        verdict=result.rollout.status.shadow_verdict,
        reason=result.reason,
        started_at=started,
        finished_at=clock.now(),
        steps=recorder.steps,
        analysis=sorted(recorder.analysis.values(), key=lambda r: r.time),
        series=recorder.series,
        router_stats=final_stats.model_dump(mode="json", by_alias=True) if final_stats else {},
        monitoring=monitoring_summary(result.rollout.status),
    )
    with contextlib.suppress(OSError):
        (target.report_dir / "events.log").write_text("\n".join(f"{e.time} {e.type} {e.reason}: {e.message}" for e in events.events))
    write_report(report, target.report_dir)
    return result, report
