"""What monitoring found, as the live view and the report show it: reference, last check, conditions, drifted features, episodes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from controller.analysis.drift_tests import PREDICTIONS
from controller.api.monitoring import (
    FeatureFinding,
    MonitoringCheck,
    MonitoringCondition,
    MonitoringStatus,
    ReferenceInfo,
    RetrainingEpisode,
)
from controller.api.status import Condition, ConditionStatus, ModelRolloutStatus, Phase
from controller.local.report import MonitoringSummary, RolloutReport, monitoring_summary, render_html
from controller.local.view import LiveSnapshot, render

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def _finding(feature: str, psi: float, p: float, drifted: bool) -> FeatureFinding:
    return FeatureFinding(
        feature=feature, test="chi-squared", p_value=p, adjusted_p_value=min(1.0, p * 30), psi=psi, samples=600,
        reference_samples=640, drifted=drifted,
    )  # fmt: skip


def _condition(kind: MonitoringCondition, status: ConditionStatus, message: str) -> Condition:
    return Condition(type=kind.value, status=status, reason="Checked", message=message, last_transition_time=_at(40))


@pytest.fixture
def status() -> ModelRolloutStatus:
    monitoring = MonitoringStatus(
        revision="599d4beccb",
        since=_at(0),
        reference=ReferenceInfo(
            source="live", revision="599d4beccb", captured_from=_at(0), captured_to=_at(30), samples=640, accuracy=0.984
        ),
        last_check=MonitoringCheck(
            at=_at(45), window_start=_at(30), requests=612, sampled=600, features_tested=30, error_rate=0.0, labelled=590, accuracy=0.712,
            prediction_psi=0.164,
        ),
        findings=[
            _finding(PREDICTIONS, 0.164, 1e-4, True), _finding("3", 1.82, 1e-40, True), _finding("0", 0.01, 0.4, False),
            _finding("8", 3.9, 1e-60, True),
        ],
        episodes=[
            RetrainingEpisode(
                id="local.demo.599d4beccb.DataDrift.1714564840", condition=MonitoringCondition.DATA_DRIFT, since=_at(40), fired=True
            ),
            RetrainingEpisode(
                id="local.demo.599d4beccb.PredictionDrift.1714564800", condition=MonitoringCondition.PREDICTION_DRIFT,
                since=_at(0), ended=_at(20), fired=False,
            ),
        ],
    )  # fmt: skip
    conditions = [
        _condition(MonitoringCondition.QUALITY_DEGRADED, ConditionStatus.TRUE, "accuracy 0.712 is 0.272 below the reference's 0.984"),
        Condition(type="Progressing", status=ConditionStatus.FALSE, reason="Promoted", last_transition_time=_at(0)),
        _condition(MonitoringCondition.DATA_DRIFT, ConditionStatus.TRUE, "2 of 30 drifted: 3 (PSI 1.820), 8 (PSI 3.900)"),
        _condition(MonitoringCondition.PREDICTION_DRIFT, ConditionStatus.FALSE, "predictions PSI 0.031"),
    ]
    return ModelRolloutStatus(phase=Phase.HEALTHY, stable_revision="599d4beccb", monitoring=monitoring, conditions=conditions)


def test_summary_keeps_only_the_monitoring_conditions_in_a_fixed_order(status: ModelRolloutStatus) -> None:
    summary = monitoring_summary(status)

    assert summary is not None
    assert [c.type for c in summary.conditions] == ["DataDrift", "PredictionDrift", "QualityDegraded"]
    assert [f.feature for f in summary.drifted] == ["3", "8"]
    assert monitoring_summary(status.model_copy(update={"monitoring": None})) is None


def _text(snapshot: LiveSnapshot) -> str:
    console = Console(record=True, width=160, color_system=None)
    console.print(render(snapshot))
    return console.export_text()


def test_live_view_shows_reference_last_check_conditions_drifted_features_and_episodes(status: ModelRolloutStatus) -> None:
    text = _text(LiveSnapshot(rollout="demo", monitoring=monitoring_summary(status)))

    assert "Monitoring revision 599d4beccb  reference live, 640 samples, accuracy 0.984" in text
    assert "Last check 12:00:45  window 15s  612 requests  accuracy 0.712  error rate 0.0000  predictions PSI 0.164" in text
    assert re.search(r"DataDrift True\s+PredictionDrift False\s+QualityDegraded True", text)
    drifted = next(line for line in text.splitlines() if line.startswith("Drifted features"))
    assert "3 (PSI 1.82" in drifted and "8 (PSI 3.90" in drifted and "0 (PSI" not in drifted and PREDICTIONS not in drifted
    assert "Episode DataDrift since 12:00:40: fired retraining" in text
    assert "Episode PredictionDrift since 12:00:00, ended 12:00:20: recorded, retraining not fired" in text


def test_live_view_while_capturing_and_without_monitoring() -> None:
    capturing = MonitoringSummary(revision="abc")

    assert "Monitoring revision abc  capturing a reference" in _text(LiveSnapshot(rollout="demo", monitoring=capturing))
    assert "Monitoring" not in _text(LiveSnapshot(rollout="demo"))


def _report(summary: MonitoringSummary | None) -> RolloutReport:
    return RolloutReport(
        rollout="demo", outcome="promoted", reason="promoted", started_at=NOW, finished_at=_at(60), monitoring=summary
    )  # fmt: skip


def test_report_shows_monitoring_tables(status: ModelRolloutStatus) -> None:
    page = render_html(_report(monitoring_summary(status)))

    section = page[page.index('<section id="monitoring">') :]
    assert "Reference: <strong>live</strong> of 599d4beccb, 640 samples, accuracy 0.984, captured 12:00:00–12:00:30" in section
    assert "612 requests, 600 sampled, 590 labelled, accuracy 0.712, error rate 0.0000" in section
    conditions = re.findall(r'<tr class="condition-(\w+)"><td>(\w+)</td>', section)
    assert conditions == [("True", "DataDrift"), ("False", "PredictionDrift"), ("True", "QualityDegraded")]
    findings = re.findall(r'<tr class="(drifted)?"><td>(\w+)</td><td>(yes|no)</td>', section)
    assert [(feature, drifted) for _c, feature, drifted in findings] == [(PREDICTIONS, "yes"), ("3", "yes"), ("8", "yes"), ("0", "no")]
    assert "local.demo.599d4beccb.DataDrift.1714564840" in section and "fired" in section and "not fired" in section


def test_report_without_monitoring_has_no_section_and_round_trips(status: ModelRolloutStatus) -> None:
    assert 'id="monitoring"' not in render_html(_report(None))
    report = _report(monitoring_summary(status))
    assert RolloutReport.model_validate_json(report.model_dump_json(by_alias=True)) == report


def test_live_view_lists_only_the_latest_episodes(status: ModelRolloutStatus) -> None:
    summary = monitoring_summary(status)
    assert summary is not None
    flapping = [
        RetrainingEpisode(id=f"e{i}", condition=MonitoringCondition.PREDICTION_DRIFT, since=_at(i), ended=_at(i + 0.5)) for i in range(7)
    ]
    text = _text(LiveSnapshot(rollout="demo", monitoring=summary.model_copy(update={"episodes": flapping})))

    assert "3 earlier episodes not shown" in text
    assert text.count("Episode PredictionDrift") == 4 and "since 12:00:06" in text and "since 12:00:02" not in text
