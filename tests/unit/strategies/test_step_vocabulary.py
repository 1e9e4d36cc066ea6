"""The steps validate themselves on creation and describe themselves in the user's words."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from strategy_specs import ERROR_RATE

from controller.api.metrics import MetricSpec
from controller.api.spec import HeaderRouteStep
from controller.strategies import (
    Analysis,
    Pause,
    Promote,
    ReportVerdict,
    SetHeaderRoute,
    SetMirror,
    SetWeight,
    Step,
    describe,
)

METRIC = MetricSpec.model_validate(ERROR_RATE)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SetWeight(140), "SetWeight.percent 140 is outside 0..100"),
        (lambda: SetMirror(-1), "SetMirror.percent -1 is outside 0..100"),
        (lambda: Pause(duration_s=-5), "Pause.duration_s -5 is negative"),
        (lambda: Analysis("step 1", (), 30.0, 1), "has no metrics"),
        (lambda: Analysis("step 1", (METRIC,), 0.0, 1), "interval_s 0.0 must be > 0"),
        (lambda: Analysis("step 1", (METRIC,), 30.0, 0), "count 0 must be >= 1"),
        (lambda: Promote(scale_down_delay_s=-1), "scale_down_delay_s -1 is negative"),
    ],
)
def test_a_step_out_of_range_is_refused_with_the_field_and_value(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    ("step", "text"),
    [
        (SetWeight(25), "setWeight 25"),
        (SetMirror(100), "setMirror 100"),
        (SetHeaderRoute(HeaderRouteStep()), "setHeaderRoute x-model-variant: candidate"),
        (SetHeaderRoute(None), "clear header route"),
        (Pause(duration_s=90.0), "pause 90s"),
        (Pause(duration_s=None), "pause until promoted"),
        (Pause(duration_s=None, kind="preview"), "preview until promoted"),
        (Analysis("step 4", (METRIC,), 30.0, 2), "analysis (2 x 30s)"),
        (Analysis("postPromotion", (METRIC,), 60.0, 3), "postPromotion analysis (3 x 60s)"),
        (Promote(scale_down_delay_s=0), "promote"),
        (ReportVerdict(), "report verdict"),
    ],
)
def test_describe_uses_the_spec_vocabulary(step: Step, text: str) -> None:
    assert describe(step) == text
