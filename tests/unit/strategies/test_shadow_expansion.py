"""Shadow: mirror for the duration under analysis, then promote or only report a verdict."""

from __future__ import annotations

from fractions import Fraction

import pytest
from strategy_specs import ERROR_RATE, SHADOW_ERRORS, spec

from controller.strategies import (
    Analysis,
    Pause,
    Promote,
    ReportVerdict,
    SetMirror,
    SetWeight,
    candidate_replicas,
    ends_in_verdict,
    expand,
)


def test_promoting_shadow_mirrors_judges_then_switches() -> None:
    steps = expand(
        spec({"shadow": {"percent": 30, "duration": "5m", "analysis": {"interval": "1m", "metrics": [SHADOW_ERRORS]}}})
    )

    assert steps[0] == SetMirror(30)
    assert isinstance(steps[1], Analysis) and steps[1].scope == "shadow"
    assert steps[2:4] == [SetMirror(0), SetWeight(100)]
    assert isinstance(steps[4], Promote)
    assert not ends_in_verdict(steps)


@pytest.mark.parametrize(
    ("duration", "interval", "count", "expected"),
    [("10m", "1m", 5, 10), ("10m", "1m", 12, 12), ("95s", "30s", 1, 4)],
)
def test_the_shadow_analysis_lasts_at_least_the_duration(
    duration: str, interval: str, count: int, expected: int
) -> None:
    analysis = {"interval": interval, "count": count, "metrics": [SHADOW_ERRORS]}
    steps = expand(spec({"shadow": {"duration": duration, "analysis": analysis}}))

    assert isinstance(steps[1], Analysis)
    assert steps[1].count == expected


def test_without_a_shadow_analysis_the_mirror_lasts_the_duration_as_a_pause() -> None:
    steps = expand(spec({"shadow": {"duration": "3m"}}, analysis={"metrics": [ERROR_RATE]}))

    assert steps[1] == Pause(duration_s=180.0)


def test_shadow_with_promote_false_ends_in_a_verdict_and_never_takes_live_traffic() -> None:
    steps = expand(spec({"shadow": {"promote": False, "analysis": {"metrics": [SHADOW_ERRORS]}}}, replicas=2))

    assert steps[-1] == ReportVerdict()
    assert ends_in_verdict(steps)
    assert not any(isinstance(step, (SetWeight, Promote)) for step in steps)
    assert candidate_replicas(spec({"shadow": {}}, replicas=2), Fraction(100)) == 2  # mirroring 100%: full size
    assert candidate_replicas(spec({"shadow": {}}, replicas=10), Fraction(30)) == 3
