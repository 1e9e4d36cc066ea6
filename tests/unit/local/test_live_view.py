"""The live view rendered into a recording console: what a person watching the terminal reads."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from rich.console import Console

from controller.api.status import AnalysisRecord, Phase, TrafficSplit, Verdict
from controller.local.report import SeriesPoint
from controller.local.session import SessionOutcome
from controller.local.view import LiveSnapshot, live_view, render

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _text(snapshot: LiveSnapshot, **options: int) -> str:
    console = Console(record=True, width=140, color_system=None)
    console.print(render(snapshot, **options))
    return console.export_text()


def _verdict(minute: int, verdict: Verdict, reason: str) -> AnalysisRecord:
    return AnalysisRecord(
        metric="error-rate", scope="step 3", revision="abc", verdict=verdict, reason=reason, time=NOW + timedelta(minutes=minute)
    )


@pytest.fixture
def snapshot() -> LiveSnapshot:
    return LiveSnapshot(
        rollout="fraud-scorer",
        scenario="errors",
        phase=Phase.PROGRESSING,
        step_index=2,
        step_count=7,
        step_description="analysis: error-rate, latency-p99",
        traffic=TrafficSplit(stable=75, candidate=25, mirror=10),
        variants=[
            SeriesPoint(t=NOW, variant="stable", request_rate=37.5, error_rate=0.0, p99_ms=21.4),
            SeriesPoint(t=NOW, variant="candidate", request_rate=12.5, error_rate=0.04, p99_ms=250.2),
        ],
        agreement=0.962,
        drift_psi=0.31,
        verdicts=[_verdict(i, Verdict.PASSED, f"check {i} passed") for i in range(8)]
        + [_verdict(9, Verdict.FAILED, "error rate 0.18 is above max 0.05")],
        elapsed_s=42.4,
    )


def test_shows_step_split_and_per_variant_numbers(snapshot: LiveSnapshot) -> None:
    text = _text(snapshot)

    assert "ModelRollout fraud-scorer" in text and "scenario errors" in text and "Progressing" in text and "42s" in text
    assert "Step 3/7  analysis: error-rate, latency-p99" in text
    assert "stable 75%" in text and "candidate 25%" in text and "mirror 10%" in text
    rows = {
        line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[2:5]]
        for line in text.splitlines()
        if line.count("│") >= 5 and ("stable" in line or "candidate" in line)
    }
    assert rows == {"stable": ["37.5", "0.0", "21"], "candidate": ["12.5", "4.0", "250"]}
    assert "Shadow agreement 96.2%" in text and "Drift PSI 0.310" in text


def test_split_bar_is_proportional_to_weights(snapshot: LiveSnapshot) -> None:
    console = Console(record=True, width=140, color_system="256")
    console.print(render(snapshot))
    line = next(line for line in console.export_text(styles=True).splitlines() if "Traffic" in line)

    stable_blocks = re.search(r"\x1b\[[0-9;]*34m(█+)", line)
    candidate_blocks = re.search(r"\x1b\[[0-9;]*208m(█+)", line)
    assert stable_blocks and candidate_blocks
    assert (len(stable_blocks.group(1)), len(candidate_blocks.group(1))) == (30, 10)


def test_lists_only_the_latest_verdicts(snapshot: LiveSnapshot) -> None:
    text = _text(snapshot, verdict_limit=3)

    assert "error rate 0.18 is above max 0.05" in text and "Failed" in text
    assert "check 7 passed" in text and "check 6 passed" in text
    assert "check 5 passed" not in text


def test_outcome_panel_appears_only_when_done(snapshot: LiveSnapshot) -> None:
    assert "ROLLED BACK" not in _text(snapshot)

    done = snapshot.model_copy(
        update={"outcome": SessionOutcome.ROLLED_BACK, "reason": "error-rate failed: 0.18 > 0.05", "phase": Phase.DEGRADED}
    )
    text = _text(done)

    assert "ROLLED BACK" in text and "error-rate failed: 0.18 > 0.05" in text and "Degraded" in text


def test_before_any_traffic_or_analysis_says_so() -> None:
    text = _text(LiveSnapshot(rollout="fresh"))

    assert "Step not started" in text
    assert "no traffic yet" in text and "no analysis yet" in text
    assert "Shadow agreement –" in text and "Drift PSI –" in text
    assert "stable 100%" in text and "candidate 0%" in text and "mirror" not in text


def test_rollout_text_is_shown_literally_not_as_markup() -> None:
    text = _text(LiveSnapshot(rollout="[bold]x[/bold]", step_description="[red]boom", outcome=SessionOutcome.PROMOTED, reason="[link=x]y"))

    assert "[bold]x[/bold]" in text and "[red]boom" in text and "[link=x]y" in text


def test_a_live_view_on_a_console_that_is_not_a_terminal_ends_on_its_own_line() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=60)
    with live_view(console) as live:
        live.update(render(LiveSnapshot(rollout="demo")))
    console.print("closing line")
    lines = out.getvalue().splitlines()
    assert lines[-1] == "closing line"  # not glued to the border of the view's last box
