"""The end-of-rollout report: `report.json` for machines and a self-contained `report.html` for people.

The page needs no network and no terminal: a headline with the outcome and its reason, the
step timeline, plotly charts of stable vs candidate (and shadow) over time — request rate,
error rate, p99 latency, shadow agreement, prediction drift — and the analysis evidence with
each verdict coloured, and — when spec.monitoring watched the promoted model — what monitoring
found (`MonitoringSummary`). plotly.js is inlined once; text from the rollout reaches the page only
through Jinja2's autoescaping or plotly's escaped JSON.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, StrictUndefined
from plotly.offline import get_plotlyjs
from pydantic import Field, model_validator

from controller.analysis.drift_tests import PREDICTIONS
from controller.analysis.judges.drift import MODERATE_SHIFT, SIGNIFICANT_SHIFT
from controller.api.base import ApiModel
from controller.api.monitoring import FeatureFinding, MonitoringCheck, MonitoringCondition, ReferenceInfo, RetrainingEpisode
from controller.api.status import AnalysisRecord, Condition, ModelRolloutStatus, Verdict
from controller.local.session import SessionOutcome

__all__ = [
    "StepRecord",
    "SeriesPoint",
    "MonitoringSummary",
    "monitoring_summary",
    "RolloutReport",
    "render_html",
    "write_report",
    "JSON_NAME",
    "HTML_NAME",
]

JSON_NAME = "report.json"
HTML_NAME = "report.html"

_VARIANT_COLOURS = {"stable": "#2563eb", "candidate": "#ea580c", "shadow": "#7c3aed"}
_VERDICT_COLOURS = {Verdict.PASSED: "#16a34a", Verdict.FAILED: "#dc2626", Verdict.INCONCLUSIVE: "#ca8a04", Verdict.ERROR: "#6b7280"}


class StepRecord(ApiModel):
    index: int = Field(ge=0)
    kind: str  # setWeight, setMirror, pause, analysis, setHeaderRoute, ...
    description: str
    started_at: datetime
    finished_at: datetime | None = None  # None: the step was still running when the rollout ended

    @model_validator(mode="after")
    def _ordered(self) -> StepRecord:
        if self.finished_at is not None and self.finished_at < self.started_at:
            raise ValueError(f"step {self.index}: finishedAt {self.finished_at} is before startedAt {self.started_at}")
        return self


class SeriesPoint(ApiModel):
    """One variant's numbers at time `t` (None where the variant had nothing to measure)."""

    t: datetime
    variant: str
    request_rate: float | None = Field(default=None, ge=0)
    error_rate: float | None = Field(default=None, ge=0, le=1)
    p50_ms: float | None = Field(default=None, ge=0)
    p99_ms: float | None = Field(default=None, ge=0)
    agreement: float | None = Field(default=None, ge=0, le=1)
    drift_psi: float | None = Field(default=None, ge=0)


class MonitoringSummary(ApiModel):
    """What spec.monitoring found about the stable model: its reference, the last check, the conditions, episodes."""

    revision: str
    reference: ReferenceInfo | None = None
    last_check: MonitoringCheck | None = None
    conditions: list[Condition] = Field(default_factory=list, description="DataDrift, PredictionDrift, QualityDegraded as set")
    findings: list[FeatureFinding] = Field(default_factory=list, description="the last check's tests, predictions first")
    episodes: list[RetrainingEpisode] = Field(default_factory=list)

    @property
    def drifted(self) -> list[FeatureFinding]:
        """The drifted input features (the predictions' own test is not one of them)."""
        return [f for f in self.findings if f.drifted and f.feature != PREDICTIONS]


def monitoring_summary(status: ModelRolloutStatus) -> MonitoringSummary | None:
    """The monitoring part of a rollout's status; None while nothing is monitored."""
    monitoring = status.monitoring
    if monitoring is None:
        return None
    kinds = [kind.value for kind in MonitoringCondition]
    return MonitoringSummary(
        revision=monitoring.revision,
        reference=monitoring.reference,
        last_check=monitoring.last_check,
        conditions=sorted((c for c in status.conditions if c.type in kinds), key=lambda c: kinds.index(c.type)),
        findings=monitoring.findings,
        episodes=monitoring.episodes,
    )


class RolloutReport(ApiModel):
    rollout: str
    scenario: str | None = None
    outcome: SessionOutcome
    verdict: Verdict | None = None  # the shadow verdict when outcome is `verdict`
    reason: str
    started_at: datetime
    finished_at: datetime
    steps: list[StepRecord] = Field(default_factory=list)
    analysis: list[AnalysisRecord] = Field(default_factory=list)
    series: list[SeriesPoint] = Field(default_factory=list)
    router_stats: dict[str, Any] = Field(default_factory=dict)
    monitoring: MonitoringSummary | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RolloutReport:
        if self.finished_at < self.started_at:
            raise ValueError(f"finishedAt {self.finished_at} is before startedAt {self.started_at}")
        return self


@dataclass(frozen=True)
class _Chart:
    field: str
    title: str
    unit: str
    explain: str
    scale: Callable[[float], float] = float


_CHARTS = (
    _Chart("request_rate", "Request rate", "req/s", "Requests each variant answered per second."),
    _Chart("error_rate", "Error rate", "%", "Share of requests answered 5xx, refused or timed out.", lambda v: v * 100),
    _Chart("p99_ms", "p99 latency", "ms", "99th percentile of response time: the slowest 1% take at least this long."),
    _Chart(
        "agreement",
        "Shadow agreement",
        "%",
        "Share of mirrored requests whose candidate prediction matched stable's within the tolerance.",
        lambda v: v * 100,
    ),
    _Chart(
        "drift_psi",
        "Prediction drift",
        "PSI",
        f"Population stability index of candidate vs stable predictions: < {MODERATE_SHIFT:g} stable,"
        f" > {SIGNIFICANT_SHIFT:g} significant shift.",
    ),
)


_PLOTLY_CONFIG = {"displayModeBar": False, "responsive": True}


def _figure_html(figure: go.Figure, div_id: str, height: int = 320) -> str:
    figure.update_layout(template="plotly_white", margin={"l": 60, "r": 20, "t": 30, "b": 40}, height=height)
    return str(figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=_PLOTLY_CONFIG))


def _step_marks(figure: go.Figure, steps: Sequence[StepRecord]) -> None:
    for step in steps:
        at = step.started_at
        figure.add_shape(
            type="line", xref="x", yref="paper", x0=at, x1=at, y0=0, y1=1, line={"color": "#9ca3af", "dash": "dot", "width": 1}
        )
        figure.add_annotation(
            x=at,
            y=1,
            xref="x",
            yref="paper",
            text=f"#{step.index}",
            showarrow=False,
            yanchor="bottom",
            font={"size": 10, "color": "#6b7280"},
        )


def _variant_trace(chart: _Chart, variant: str, points: Sequence[SeriesPoint]) -> go.Scatter | None:
    values = [(p.t, getattr(p, chart.field)) for p in points if p.variant == variant and getattr(p, chart.field) is not None]
    if not values:
        return None
    return go.Scatter(
        x=[t for t, _ in values],
        y=[chart.scale(v) for _, v in values],
        name=html.escape(variant),
        mode="lines+markers",
        line={"color": _VARIANT_COLOURS.get(variant, "#111827")},
        marker={"size": 4},
    )


def _metric_chart(chart: _Chart, report: RolloutReport) -> str | None:
    """The chart's HTML, or None when no variant reported this metric."""
    variants = dict.fromkeys(point.variant for point in report.series)
    traces = [trace for variant in variants if (trace := _variant_trace(chart, variant, report.series)) is not None]
    if not traces:
        return None
    figure = go.Figure(traces)
    if chart.field == "drift_psi":
        for level, colour in ((MODERATE_SHIFT, "#ca8a04"), (SIGNIFICANT_SHIFT, "#dc2626")):
            figure.add_hline(y=level, line={"color": colour, "dash": "dash", "width": 1})
    _step_marks(figure, report.steps)
    figure.update_layout(yaxis_title=chart.unit, showlegend=True, legend={"orientation": "h", "y": -0.2})
    return _figure_html(figure, f"chart-{chart.field}")


def _step_bar(step: StepRecord, row: str, rollout_end: datetime) -> go.Bar:
    """A horizontal bar from the step's start to its end: plotly reads `x` as milliseconds on a date axis."""
    took_ms = ((step.finished_at or rollout_end) - step.started_at).total_seconds() * 1000
    return go.Bar(
        y=[row], x=[max(took_ms, 1.0)], base=[step.started_at.isoformat()], orientation="h", showlegend=False,
        hovertext=html.escape(step.description), hoverinfo="text", marker={"color": "#93c5fd"},
    )


def _verdict_markers(verdict: Verdict, records: Sequence[AnalysisRecord]) -> go.Scatter:
    return go.Scatter(
        x=[r.time for r in records], y=["verdicts"] * len(records), mode="markers", name=verdict.value,
        marker={"color": _VERDICT_COLOURS[verdict], "size": 11, "symbol": "diamond"},
        hovertext=[html.escape(f"{r.metric} ({r.scope}): {r.reason}") for r in records], hoverinfo="text",
    )


def _timeline_chart(report: RolloutReport) -> str | None:
    """Steps as bars over wall-clock time, with every verdict as a marker in its own row."""
    if not report.steps:
        return None
    rows = [f"#{step.index} {html.escape(step.kind)}" for step in report.steps]
    figure = go.Figure([_step_bar(step, row, report.finished_at) for step, row in zip(report.steps, rows, strict=False)])
    for verdict in Verdict:
        if records := [r for r in report.analysis if r.verdict is verdict]:
            figure.add_trace(_verdict_markers(verdict, records))
    figure.update_layout(
        xaxis={"type": "date"},
        yaxis={"autorange": "reversed", "type": "category", "tickmode": "array", "tickvals": [*rows, "verdicts"], "automargin": True},
        barmode="overlay",
        legend={"orientation": "h", "y": -0.25},
    )
    return _figure_html(figure, "chart-timeline", height=110 + 36 * (len(rows) + 1))


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("controller.local", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def render_html(report: RolloutReport) -> str:
    """The whole page as one string: CSS, plotly.js and every chart inline."""
    charts = [(chart, _metric_chart(chart, report)) for chart in _CHARTS]
    tally = {verdict.value: sum(r.verdict is verdict for r in report.analysis) for verdict in Verdict}
    return _environment().get_template("report.html.j2").render(
        report=report,
        duration=_duration((report.finished_at - report.started_at).total_seconds()),
        step_duration=lambda step: _duration(((step.finished_at or report.finished_at) - step.started_at).total_seconds()),
        timeline=_timeline_chart(report),
        charts=charts,
        tally=tally,
        verdict_colours={v.value: c for v, c in _VERDICT_COLOURS.items()},
        router_stats=json.dumps(report.router_stats, indent=2, sort_keys=True, default=str),
        plotly_js=get_plotlyjs(),
    )


def write_report(report: RolloutReport, directory: Path) -> tuple[Path, Path]:
    """Write report.json and report.html into `directory` (created if missing); returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path, html_path = directory / JSON_NAME, directory / HTML_NAME
    json_path.write_text(report.model_dump_json(by_alias=True, indent=2) + "\n", encoding="utf-8")
    html_path.write_text(render_html(report), encoding="utf-8")
    return json_path, html_path
