"""report.html opened in headless Chromium: every chart is drawn with its traces, and the page shows them."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from controller.api.status import AnalysisRecord, Verdict
from controller.local.report import RolloutReport, SeriesPoint, StepRecord, write_report
from controller.local.session import SessionOutcome

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
START = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
CHARTS = ("chart-request_rate", "chart-error_rate", "chart-p99_ms", "chart-agreement", "chart-drift_psi")
STABLE_BLUE, CANDIDATE_ORANGE = (0x25, 0x63, 0xEB), (0xEA, 0x58, 0x0C)


def _at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def _series() -> list[SeriesPoint]:
    points = []
    for tick in range(20):
        drifting = tick >= 10
        points.append(SeriesPoint(t=_at(3 * tick), variant="stable", request_rate=45.0, error_rate=0.002, p50_ms=9, p99_ms=22 + tick % 3))
        points.append(
            SeriesPoint(
                t=_at(3 * tick), variant="candidate", request_rate=5.0 + tick, error_rate=0.004, p50_ms=10, p99_ms=26 + tick % 4,
                agreement=0.99 if not drifting else 0.93, drift_psi=0.03 if not drifting else 0.05 * tick,
            )
        )
    return points


def _report() -> RolloutReport:
    steps = [
        StepRecord(index=0, kind="setMirror", description="mirror 50% to the candidate", started_at=_at(0), finished_at=_at(1)),
        StepRecord(index=1, kind="analysis", description='<b id="pwned">agreement</b> and drift', started_at=_at(1), finished_at=_at(30)),
        StepRecord(index=2, kind="setWeight", description="send 20% of traffic to the candidate", started_at=_at(30), finished_at=_at(31)),
        StepRecord(index=3, kind="analysis", description="drift again", started_at=_at(31), finished_at=_at(58)),
    ]
    analysis = [
        AnalysisRecord(
            metric="agreement",
            scope="step 1",
            revision="c0ffee",
            verdict=Verdict.PASSED,
            reason="agreement 0.99 >= 0.9",
            time=_at(30),
            candidate_samples=600,
            candidate_value=0.99,
            threshold=0.9,
        ),
        AnalysisRecord(
            metric="drift",
            scope="step 3",
            revision="c0ffee",
            verdict=Verdict.FAILED,
            reason="drift PSI 0.95 (significant shift, > 0.25) is above max 0.25",
            time=_at(57),
            candidate_samples=700,
            stable_samples=2900,
            candidate_value=0.95,
            statistic="psi",
            statistic_value=0.95,
            threshold=0.25,
        ),
    ]
    return RolloutReport(
        rollout="churn-model", scenario="drift", outcome=SessionOutcome.ROLLED_BACK, reason="drift failed: PSI 0.95 is above max 0.25",
        started_at=START, finished_at=_at(60), steps=steps, analysis=analysis, series=_series(),
        router_stats={"generation": 7, "variants": {"stable": {"requests": 2700}}},
    )


def _chromium(html_path: Path, profile: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--window-size=1400,2400", "--virtual-time-budget=5000",
    ]
    return subprocess.run([str(CHROMIUM), *flags, *mode, html_path.as_uri()], capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def html_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian package `chromium`); the report rendering test needs it")
    return write_report(_report(), tmp_path_factory.mktemp("report"))[1]


def test_every_chart_is_drawn_with_both_variants(html_path: Path, tmp_path: Path) -> None:
    dom = _chromium(html_path, tmp_path / "profile", "--dump-dom").stdout

    for chart in CHARTS:
        section = dom.split(f'id="{chart}"')[1].split('class="card"')[0]
        assert 'class="main-svg"' in section, f"{chart} has no SVG"
        variants = (STABLE_BLUE, CANDIDATE_ORANGE) if chart in CHARTS[:3] else (CANDIDATE_ORANGE,)  # shadow metrics: candidate only
        assert len(re.findall(r'<g class="trace scatter', section)) == len(variants), chart
        assert len(re.findall(r'<path class="point"', section)) == 20 * len(variants), chart
        for red, green, blue in variants:
            assert re.search(rf'class="js-line" d="M[^"]+"[^>]*stroke: rgb\({red}, {green}, {blue}\)', section), (chart, red, green, blue)
    timeline = dom.split('id="chart-timeline"')[1].split("</table>")[0]
    assert 'class="main-svg"' in timeline and len(re.findall(r'class="point"', timeline)) >= 4
    assert '<b id="pwned">' not in dom and "&lt;b id=" in dom


def test_screenshot_shows_the_charts(html_path: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    _chromium(html_path, tmp_path / "profile", f"--screenshot={png}")

    image = Image.open(png).convert("RGB")
    assert image.size == (1400, 2400)
    colours = image.getcolors(maxcolors=image.width * image.height) or []
    assert len(colours) > 200  # text, colours and antialiased lines, not a blank page
    for colour in (STABLE_BLUE, CANDIDATE_ORANGE):
        near = sum(count for count, pixel in colours if sum(abs(a - b) for a, b in zip(pixel, colour, strict=False)) < 40)
        assert near > 500, f"too few pixels of the line colour {colour}"
