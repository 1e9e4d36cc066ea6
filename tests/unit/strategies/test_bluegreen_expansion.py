"""Blue-green: preview by header, pre-promotion analysis, pause, switch, post-promotion analysis, promote."""

from __future__ import annotations

from fractions import Fraction

from strategy_specs import ERROR_RATE, spec

from controller.api.spec import HeaderRouteStep
from controller.strategies import Analysis, Pause, Promote, SetHeaderRoute, SetWeight, candidate_replicas, expand


def test_full_blue_green_runs_preview_checks_switch_and_keeps_the_old_revision_warm() -> None:
    steps = expand(
        spec(
            {
                "blueGreen": {
                    "previewHeader": {"header": "x-preview", "value": "1"},
                    "prePromotionAnalysis": {"metrics": [ERROR_RATE]},
                    "autoPromotionSeconds": 120,
                    "postPromotionAnalysis": {"interval": "1m", "count": 3, "metrics": [ERROR_RATE]},
                    "scaleDownDelaySeconds": 300,
                }
            }
        )
    )

    assert steps[0] == SetHeaderRoute(HeaderRouteStep(header="x-preview", value="1"))
    assert isinstance(steps[1], Analysis) and steps[1].scope == "prePromotion"
    assert steps[2:5] == [Pause(duration_s=120.0, kind="preview"), SetWeight(100), SetHeaderRoute(None)]
    assert isinstance(steps[5], Analysis) and (steps[5].scope, steps[5].count) == ("postPromotion", 3)
    assert steps[6] == Promote(scale_down_delay_s=300.0)


def test_minimal_blue_green_waits_for_a_promote_on_the_preview() -> None:
    steps = expand(spec({"blueGreen": {}}))

    assert steps == [
        SetHeaderRoute(HeaderRouteStep()),
        Pause(duration_s=None, kind="preview"),
        SetWeight(100),
        SetHeaderRoute(None),
        Promote(scale_down_delay_s=30.0),
    ]


def test_the_preview_runs_at_preview_size_or_full_size_and_at_full_size_once_it_takes_traffic() -> None:
    assert candidate_replicas(spec({"blueGreen": {"previewReplicas": 2}}, replicas=6), Fraction(0)) == 2
    assert candidate_replicas(spec({"blueGreen": {}}, replicas=6), Fraction(0)) == 6
    assert candidate_replicas(spec({"blueGreen": {"previewReplicas": 2}}, replicas=6), Fraction(100)) == 6
