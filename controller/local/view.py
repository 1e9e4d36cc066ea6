"""The live terminal view of a local rollout: a pure `render(snapshot)` the caller shows with rich.live.Live.

`LiveSnapshot` is everything on screen at one moment — step, split, per-variant load, shadow
agreement, drift, the latest verdicts, what monitoring of a promoted model found and, once it is
over, the outcome and its reason.
`render` only reads it, so a test renders a snapshot into a recording Console and reads the text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from controller.analysis.judges.drift import MODERATE_SHIFT, SIGNIFICANT_SHIFT
from controller.api.status import AnalysisRecord, ConditionStatus, Phase, TrafficSplit, Verdict
from controller.local.report import MonitoringSummary, SeriesPoint
from controller.local.session import SessionOutcome

__all__ = ["LiveSnapshot", "render", "live_view", "DEFAULT_VERDICT_LIMIT"]

DEFAULT_VERDICT_LIMIT = 6
_BAR_WIDTH = 40
_VERDICT_STYLES = {
    Verdict.PASSED: "bold green",
    Verdict.FAILED: "bold red",
    Verdict.INCONCLUSIVE: "bold yellow",
    Verdict.ERROR: "bold magenta",
}
_OUTCOME_STYLES = {
    SessionOutcome.PROMOTED: "green",
    SessionOutcome.ROLLED_BACK: "red",
    SessionOutcome.VERDICT: "blue",
    SessionOutcome.INVALID: "red",
    SessionOutcome.TIMED_OUT: "yellow",
}
_PHASE_STYLES = {Phase.PROGRESSING: "cyan", Phase.PAUSED: "yellow", Phase.HEALTHY: "green", Phase.DEGRADED: "red"}
_CONDITION_STYLES = {ConditionStatus.TRUE: "bold red", ConditionStatus.FALSE: "green", ConditionStatus.UNKNOWN: "yellow"}
_SHOWN_FINDINGS = 5
_SHOWN_EPISODES = 4


class LiveSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rollout: str
    scenario: str | None = None
    phase: Phase | None = None
    step_index: int | None = Field(default=None, ge=0, description="0-based index of the running step")
    step_count: int = Field(default=0, ge=0)
    step_description: str = ""
    traffic: TrafficSplit = Field(default_factory=TrafficSplit)
    variants: list[SeriesPoint] = Field(default_factory=list, description="latest numbers, one point per variant")
    agreement: float | None = Field(default=None, ge=0, le=1)
    drift_psi: float | None = Field(default=None, ge=0)
    verdicts: list[AnalysisRecord] = Field(default_factory=list, description="oldest first")
    monitoring: MonitoringSummary | None = None
    elapsed_s: float | None = Field(default=None, ge=0)
    outcome: SessionOutcome | None = None
    reason: str = ""


def _header(snapshot: LiveSnapshot) -> Text:
    text = Text.assemble(("ModelRollout ", "bold"), (snapshot.rollout, "bold cyan"))
    if snapshot.scenario:
        text.append(f"  scenario {snapshot.scenario}", "dim")
    if snapshot.phase is not None:
        text.append("  ").append(snapshot.phase.value, _PHASE_STYLES[snapshot.phase])
    if snapshot.elapsed_s is not None:
        text.append(f"  {snapshot.elapsed_s:.0f}s", "dim")
    step = "not started" if snapshot.step_index is None else f"{snapshot.step_index + 1}/{snapshot.step_count}"
    text.append(f"\nStep {step}", "bold")
    if snapshot.step_description:
        text.append(f"  {snapshot.step_description}")
    return text


def _split(traffic: TrafficSplit) -> Text:
    filled = round(_BAR_WIDTH * traffic.candidate / 100)
    text = Text.assemble(("Traffic ", "bold"))
    text.append(f"stable {traffic.stable}% ", "blue").append("█" * (_BAR_WIDTH - filled), "blue")
    text.append("█" * filled, "dark_orange").append(f" candidate {traffic.candidate}%", "dark_orange")
    if traffic.mirror:
        text.append(f"  mirror {traffic.mirror}%", "magenta")
    if traffic.header_route is not None:
        text.append("  header route on", "dim")
    return text


def _number(value: float | None, template: str) -> str:
    return "–" if value is None else template.format(value)


def _variants(points: Sequence[SeriesPoint]) -> Table:
    table = Table(title="Per variant", title_justify="left", expand=False)
    for name in ("variant", "req/s", "error %", "p99 ms"):
        table.add_column(name, justify="left" if name == "variant" else "right")
    for point in points:
        error = None if point.error_rate is None else point.error_rate * 100
        table.add_row(point.variant, _number(point.request_rate, "{:.1f}"), _number(error, "{:.1f}"), _number(point.p99_ms, "{:.0f}"))
    if not points:
        table.add_row("no traffic yet", "–", "–", "–")
    return table


def _model_quality(snapshot: LiveSnapshot) -> Text:
    text = Text.assemble(("Shadow agreement ", "bold"))
    text.append(_number(None if snapshot.agreement is None else snapshot.agreement * 100, "{:.1f}%"))
    text.append("   Drift PSI ", style="bold")
    psi = snapshot.drift_psi
    style = "" if psi is None else "green" if psi < MODERATE_SHIFT else "yellow" if psi <= SIGNIFICANT_SHIFT else "red"
    return text.append(_number(psi, "{:.3f}"), style)


def _verdicts(records: Sequence[AnalysisRecord], limit: int) -> Table:
    table = Table(title="Latest verdicts", title_justify="left", expand=True)
    for name in ("time", "scope", "metric", "verdict", "reason"):
        table.add_column(name, overflow="fold", ratio=4 if name == "reason" else None)
    for record in list(records)[-limit:] if limit > 0 else []:
        verdict = Text(record.verdict.value, _VERDICT_STYLES[record.verdict])
        table.add_row(record.time.strftime("%H:%M:%S"), record.scope, record.metric, verdict, record.reason)
    if not records:
        table.add_row("–", "", "", "", "no analysis yet")
    return table


def _monitoring(summary: MonitoringSummary) -> Text:
    """A few lines: the reference, the last check, the conditions, the drifted features and the episodes."""
    text = Text.assemble(("Monitoring ", "bold"), f"revision {summary.revision}  ")
    reference = summary.reference
    if reference is None:
        text.append("capturing a reference", "yellow")
    else:
        accuracy = f", accuracy {reference.accuracy:.3f}" if reference.accuracy is not None else ""
        text.append(f"reference {reference.source}, {reference.samples} samples{accuracy}")
    if (check := summary.last_check) is not None:
        window = f"{(check.at - check.window_start).total_seconds():.0f}s" if check.window_start else "–"
        text.append(f"\nLast check {check.at:%H:%M:%S}  window {window}  {check.requests} requests  ")
        text.append(f"accuracy {_number(check.accuracy, '{:.3f}')}  error rate {_number(check.error_rate, '{:.4f}')}")
        text.append(f"  predictions PSI {_number(check.prediction_psi, '{:.3f}')}")
    if summary.conditions:
        text.append("\n")
        for condition in summary.conditions:
            text.append(f"{condition.type} ").append(condition.status.value, _CONDITION_STYLES[condition.status]).append("  ")
    if drifted := summary.drifted:
        shown = ", ".join(f"{f.feature} (PSI {f.psi:.2f}, p={f.adjusted_p_value:.1g})" for f in drifted[:_SHOWN_FINDINGS])
        more = f" and {len(drifted) - _SHOWN_FINDINGS} more" if len(drifted) > _SHOWN_FINDINGS else ""
        text.append("\nDrifted features ", "bold").append(shown + more, "red")
    if len(summary.episodes) > _SHOWN_EPISODES:
        text.append(f"\n{len(summary.episodes) - _SHOWN_EPISODES} earlier episodes not shown", "dim")
    for episode in summary.episodes[-_SHOWN_EPISODES:]:
        state = "fired retraining" if episode.fired else "recorded, retraining not fired"
        ended = f", ended {episode.ended:%H:%M:%S}" if episode.ended else ""
        text.append(f"\nEpisode {episode.condition.value} since {episode.since:%H:%M:%S}{ended}: {state}")
    return text


def _outcome(snapshot: LiveSnapshot) -> Panel | None:
    if snapshot.outcome is None:
        return None
    style = _OUTCOME_STYLES.get(snapshot.outcome, "white")
    title = snapshot.outcome.value.replace("_", " ").upper()
    return Panel(Text(snapshot.reason or "no reason given"), title=Text(title, f"bold {style}"), border_style=style)


def render(snapshot: LiveSnapshot, verdict_limit: int = DEFAULT_VERDICT_LIMIT) -> RenderableType:
    """The whole screen for one snapshot; the last `verdict_limit` verdicts are listed."""
    parts: list[RenderableType] = [
        Panel(_header(snapshot), border_style="cyan"),
        _split(snapshot.traffic),
        _variants(snapshot.variants),
        _model_quality(snapshot),
        _verdicts(snapshot.verdicts, verdict_limit),
    ]
    if snapshot.monitoring is not None:
        parts.append(_monitoring(snapshot.monitoring))
    if (outcome := _outcome(snapshot)) is not None:
        parts.append(outcome)
    return Group(*parts)


@contextlib.contextmanager
def live_view(console: Console) -> Iterator[Live]:
    """rich's Live display, left on a line of its own when it ends.

    On a console that is not a terminal (output piped to a file or a CI log), Live leaves the
    cursor just after the last box's border, so the next print would join that line.
    """
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        yield live
    if not console.is_terminal:
        console.line()
