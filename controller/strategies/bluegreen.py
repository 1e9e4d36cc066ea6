"""Blue-green: a full-size preview reached by a header, then an instant switch with the old revision warm.

Steps: preview header route (once the candidate is ready at full size), pre-promotion analysis,
a pause of `autoPromotionSeconds` (or until promoted), the switch (all live traffic, then the
header route cleared), post-promotion analysis, and the promotion that keeps the old revision
warm for `scaleDownDelaySeconds`. The old revision serves nothing after the switch but keeps its
full size until then, so a failed post-promotion analysis rolls back instantly.
"""

from __future__ import annotations

from fractions import Fraction

from controller.api.spec import BlueGreenStrategy, ModelRolloutSpec
from controller.strategies.analysis_step import analysis_step
from controller.strategies.steps import Pause, Promote, SetHeaderRoute, SetWeight, Step, share_of

__all__ = ["POST_PROMOTION_SCOPE", "PRE_PROMOTION_SCOPE", "blue_green_replicas", "expand_blue_green"]

PRE_PROMOTION_SCOPE = "prePromotion"
POST_PROMOTION_SCOPE = "postPromotion"
_PATH = ".spec.strategy.blueGreen"


def expand_blue_green(blue_green: BlueGreenStrategy, spec: ModelRolloutSpec) -> list[Step]:
    steps: list[Step] = [SetHeaderRoute(blue_green.preview_header)]
    if blue_green.pre_promotion_analysis is not None:
        path = f"{_PATH}.prePromotionAnalysis"
        steps.append(analysis_step(PRE_PROMOTION_SCOPE, blue_green.pre_promotion_analysis, spec, path))
    steps += [Pause(duration_s=_seconds(blue_green.auto_promotion_seconds), kind="preview")]
    steps += [SetWeight(100), SetHeaderRoute(None)]
    if blue_green.post_promotion_analysis is not None:
        path = f"{_PATH}.postPromotionAnalysis"
        steps.append(analysis_step(POST_PROMOTION_SCOPE, blue_green.post_promotion_analysis, spec, path))
    return [*steps, Promote(scale_down_delay_s=float(blue_green.scale_down_delay_seconds))]


def blue_green_replicas(blue_green: BlueGreenStrategy, spec: ModelRolloutSpec, share: Fraction) -> int:
    """The preview at `previewReplicas` (full size when unset); full size before it takes live traffic."""
    if blue_green.preview_replicas is None or share >= 100:
        return share_of(spec.replicas, Fraction(100))
    return blue_green.preview_replicas


def _seconds(value: int | None) -> float | None:
    return None if value is None else float(value)
