"""The report models and the page written from them: round trip, content, escaping, no network."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from controller.api.status import Verdict
from controller.local.report import (
    HTML_NAME,
    JSON_NAME,
    RolloutReport,
    SeriesPoint,
    StepRecord,
    render_html,
    write_report,
)
from controller.local.session import SessionOutcome

HOSTILE = '</script><script>alert("x")</script><img src=x onerror=alert(1)>'


def test_write_report_writes_json_that_reads_back_equal(report: RolloutReport, tmp_path: Path) -> None:
    json_path, html_path = write_report(report, tmp_path / "nested" / "out")

    assert (json_path.name, html_path.name) == (JSON_NAME, HTML_NAME)
    assert RolloutReport.model_validate_json(json_path.read_text()) == report
    wire = json.loads(json_path.read_text())
    assert wire["outcome"] == "rolled_back"
    assert wire["steps"][3]["startedAt"].startswith("2024-05-01T12:00:31")
    assert wire["analysis"][2]["candidateValue"] == 0.18
    assert wire["series"][1] == {
        "t": "2024-05-01T12:00:00Z", "variant": "candidate", "requestRate": 5.0, "errorRate": 0.0,
        "p50Ms": 9.0, "p99Ms": 24.0, "agreement": None, "driftPsi": None,
    }
    assert wire["routerStats"]["variants"]["candidate"]["errors"] == 70


def test_headline_states_outcome_reason_and_scenario(report: RolloutReport) -> None:
    page = render_html(report)

    assert re.search(r'id="outcome">\s*rolled back\s*<', page)
    assert 'id="reason">error-rate failed 1 time (failureLimit 0): error rate 0.18 is above max 0.05<' in page
    assert "Scenario <strong>errors</strong>" in page
    assert "took 1m 00s" in page


def test_step_table_lists_every_step_and_marks_the_unfinished_one(report: RolloutReport) -> None:
    page = render_html(report)
    rows = re.findall(r"<tr><td class=\"num\">(\d+)</td><td>(\w+)</td><td>([^<]+)</td>", page)

    assert rows == [(str(s.index), s.kind, s.description) for s in report.steps]
    assert "still running" in page
    assert page.count("still running") == 1


def test_evidence_rows_are_coloured_by_verdict(report: RolloutReport) -> None:
    page = render_html(report)

    assert re.findall(r'<tr class="verdict-(\w+)">', page) == ["Passed", "Inconclusive", "Failed"]
    failed_row = page.split('<tr class="verdict-Failed">')[1].split("</tr>")[0]
    assert "0.18" in failed_row and "450 / 1050" in failed_row and "fisher = 0.0004" in failed_row
    assert "window 12:00:40–12:00:55" in failed_row


def test_charts_are_drawn_only_for_recorded_metrics(report: RolloutReport) -> None:
    page = render_html(report)

    for field in ("request_rate", "error_rate", "p99_ms"):
        assert f'id="chart-{field}"' in page
    for field, title in (("agreement", "shadow agreement"), ("drift_psi", "prediction drift")):
        assert f'id="chart-{field}"' not in page
        assert f"No {title} was recorded in this rollout." in page
    assert 'id="chart-timeline"' in page


def test_error_rate_chart_plots_candidate_in_percent(report: RolloutReport) -> None:
    page = render_html(report)
    chart = page.split('id="chart-error_rate"')[1].split("</script>")[0]
    traces = json.loads(re.search(r"Plotly\.newPlot\(\s*\"chart-error_rate\",\s*(\[.*?\]),\s*\{", chart, re.DOTALL).group(1))

    candidate = next(t for t in traces if t["name"] == "candidate")
    assert candidate["y"] == pytest.approx([2 * tick for tick in range(12)])
    assert next(t for t in traces if t["name"] == "stable")["y"] == [0.0] * 12


def test_page_is_self_contained(report: RolloutReport) -> None:
    page = render_html(report)

    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=", page)
    assert "Plotly.newPlot" in page
    assert len(page) > 1_000_000  # plotly.js itself is inline


@pytest.mark.parametrize("field", ["rollout", "reason", "scenario"])
def test_text_from_the_rollout_is_escaped(report: RolloutReport, field: str) -> None:
    page = render_html(report.model_copy(update={field: HOSTILE}))

    assert HOSTILE not in page
    assert "<script>alert" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(&#34;x&#34;)" in page


def test_step_and_evidence_text_is_escaped_in_tables_and_charts(report: RolloutReport) -> None:
    step = report.steps[0].model_copy(update={"description": HOSTILE, "kind": "<b>bold</b>"})
    record = report.analysis[0].model_copy(update={"reason": HOSTILE, "metric": "<i>m</i>"})
    point = report.series[0].model_copy(update={"variant": "<svg onload=alert(2)>"})
    page = render_html(report.model_copy(update={"steps": [step, *report.steps[1:]], "analysis": [record], "series": [point]}))

    assert "<script>alert" not in page and "<img src=x" not in page
    assert "<svg onload" not in page and "<b>bold</b>" not in page and "<i>m</i>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_empty_report_still_renders_with_explanations(report: RolloutReport) -> None:
    empty = report.model_copy(update={"steps": [], "analysis": [], "series": [], "outcome": SessionOutcome.INVALID, "router_stats": {}})
    page = render_html(empty)

    assert "No step was started." in page and "No analysis ran." in page
    assert "chart-" not in page.replace('id="card-', "")


def test_shadow_verdict_outcome_shows_the_verdict(report: RolloutReport) -> None:
    shadow = report.model_copy(update={"outcome": SessionOutcome.VERDICT, "verdict": Verdict.PASSED})

    assert re.search(r'id="outcome">\s*verdict: Passed\s*<', render_html(shadow))


def test_finish_before_start_is_rejected(report: RolloutReport) -> None:
    wire = report.model_dump(by_alias=True)
    wire["finishedAt"] = report.started_at - timedelta(seconds=1)

    with pytest.raises(ValidationError, match="finishedAt .* is before startedAt"):
        RolloutReport.model_validate(wire)


def test_step_that_ends_before_it_starts_is_rejected(report: RolloutReport) -> None:
    with pytest.raises(ValidationError, match="step 2: finishedAt .* is before startedAt"):
        StepRecord(index=2, kind="pause", description="wait", started_at=report.finished_at, finished_at=report.started_at)


@pytest.mark.parametrize(("field", "value"), [("error_rate", 1.5), ("agreement", -0.1), ("p99_ms", -3.0)])
def test_series_point_rejects_impossible_numbers(report: RolloutReport, field: str, value: float) -> None:
    with pytest.raises(ValidationError, match=field.split("_")[0]):
        SeriesPoint(t=report.started_at, variant="candidate", **{field: value})


def test_unknown_outcome_is_rejected(report: RolloutReport) -> None:
    wire = report.model_dump(mode="json", by_alias=True)
    wire["outcome"] = "exploded"

    with pytest.raises(ValidationError, match="outcome"):
        RolloutReport.model_validate(wire)
