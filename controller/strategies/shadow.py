"""Shadow: mirror live traffic to the candidate for a duration, judge it, then promote or only report.

The shadow analysis runs over the whole duration: it needs `count` passes and at least as
many as fit in the duration (`ceil(duration / interval)`), so the mirror lasts the duration
even when few passes are asked for. Without a shadow analysis the mirror lasts the duration
as a pause, with the background analysis (if any) guarding it.
"""

from __future__ import annotations

import math

from controller.api.spec import ModelRolloutSpec, ShadowStrategy
from controller.strategies.analysis_step import analysis_step
from controller.strategies.steps import (
    DEFAULT_SCALE_DOWN_DELAY_S,
    Pause,
    Promote,
    ReportVerdict,
    SetMirror,
    SetWeight,
    Step,
)

__all__ = ["SHADOW_SCOPE", "expand_shadow"]

SHADOW_SCOPE = "shadow"
_PATH = ".spec.strategy.shadow"


def expand_shadow(shadow: ShadowStrategy, spec: ModelRolloutSpec) -> list[Step]:
    steps: list[Step] = [SetMirror(shadow.percent), _observe(shadow, spec), SetMirror(0)]
    if not shadow.promote:
        return [*steps, ReportVerdict()]
    return [*steps, SetWeight(100), Promote(scale_down_delay_s=DEFAULT_SCALE_DOWN_DELAY_S)]


def _observe(shadow: ShadowStrategy, spec: ModelRolloutSpec) -> Step:
    if shadow.analysis is None:
        return Pause(duration_s=shadow.duration)
    count = max(shadow.analysis.count, math.ceil(shadow.duration / shadow.analysis.interval))
    return analysis_step(SHADOW_SCOPE, shadow.analysis, spec, f"{_PATH}.analysis", count=count)
